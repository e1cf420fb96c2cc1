/**
 * Reading usage logs: newest first, by time range (the table is partitioned by time and may be huge, so
 * never by offset), continued from a (datetime, id) cursor, and counted per kind and day.
 */
import type { Db } from '../db/index.js';

export interface LogFilter {
  start: Date;
  end: Date;
  namespaceId?: number;
  repositoryId?: number;
  performerId?: number;
  /** Case-insensitive text matched against kind, performer name and metadata. */
  text?: string;
  excludeKinds?: readonly string[];
}

/** Where the previous page ended: exact to the microsecond, as stored. */
export interface LogCursor {
  at: string;
  id: number;
}

export interface LogRow {
  id: number;
  kind: string;
  at: string;
  datetime: Date;
  ip: string | null;
  metadata: Record<string, unknown>;
  performer_name: string | null;
  performer_kind: 'user' | 'org' | 'robot' | null;
  performer_email: string | null;
  account_name: string | null;
  account_kind: 'user' | 'org' | 'robot' | null;
  account_email: string | null;
}

function conditions(f: LogFilter, params: unknown[]): string {
  const add = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where = [`l.datetime >= ${add(f.start)}`, `l.datetime < ${add(f.end)}`];
  if (f.namespaceId !== undefined) where.push(`l.account_id = ${add(f.namespaceId)}`);
  if (f.repositoryId !== undefined) where.push(`l.repository_id = ${add(f.repositoryId)}`);
  if (f.performerId !== undefined) where.push(`l.performer_id = ${add(f.performerId)}`);
  if (f.excludeKinds?.length) where.push(`l.kind <> ALL(${add(f.excludeKinds)}::text[])`);
  if (f.text) {
    const like = add(`%${f.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`(l.kind ILIKE ${like} OR p.name ILIKE ${like} OR l.metadata::text ILIKE ${like})`);
  }
  return where.join(' AND ');
}

export class LogReader {
  constructor(
    private readonly db: Db,
    /** Flushes this process's pending writes first, so a reader sees what was logged before it asked. */
    private readonly flush: () => Promise<void>,
  ) {}

  async page(f: LogFilter, after: LogCursor | null, limit: number): Promise<{ rows: LogRow[]; next: LogCursor | null }> {
    await this.flush();
    const params: unknown[] = [];
    let where = conditions(f, params);
    if (after) {
      params.push(after.at, after.id);
      where += ` AND (l.datetime, l.id) < ($${params.length - 1}::timestamptz, $${params.length})`;
    }
    params.push(limit + 1);
    const r = await this.db.query<LogRow>(
      `SELECT l.id, l.kind, to_char(l.datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, l.datetime, l.ip, l.metadata,
              p.name AS performer_name, p.kind AS performer_kind, p.email AS performer_email, a.name AS account_name, a.kind AS account_kind, a.email AS account_email
         FROM log_entry l LEFT JOIN namespace p ON p.id = l.performer_id LEFT JOIN namespace a ON a.id = l.account_id
        WHERE ${where}
        ORDER BY l.datetime DESC, l.id DESC LIMIT $${params.length}`,
      params,
    );
    const rows = r.rows.slice(0, limit);
    const last = rows[rows.length - 1];
    return { rows, next: r.rows.length > limit && last ? { at: last.at, id: last.id } : null };
  }

  /** Counts per kind and UTC day. */
  async aggregate(f: LogFilter): Promise<{ kind: string; count: number; day: Date }[]> {
    await this.flush();
    const params: unknown[] = [];
    const where = conditions(f, params);
    const r = await this.db.query<{ kind: string; count: number; day: Date }>(
      `SELECT l.kind, count(*)::int AS count, date_trunc('day', l.datetime AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day
         FROM log_entry l LEFT JOIN namespace p ON p.id = l.performer_id
        WHERE ${where} GROUP BY 1, 3 ORDER BY 3, 1`,
      params,
    );
    return r.rows;
  }
}
