/**
 * Usage logs: append-only, written in batches so that busy pulls do not pay one INSERT each. Readers in this
 * process call flush() first so that they see everything logged before them.
 */
import type { Db } from '../db/index.js';
import { performerId, type Principal } from '../auth/principal.js';
import { sanitizeLogString, sanitizeLogValue } from '../input.js';

export interface LogInput {
  kind: string;
  performer: Principal;
  namespaceId: number | null;
  repositoryId?: number | null;
  ip?: string | null;
  metadata?: Record<string, unknown>;
}

interface PendingRow {
  kind: string;
  account_id: number | null;
  performer_id: number | null;
  repository_id: number | null;
  datetime: Date;
  ip: string | null;
  metadata: string;
}

const FLUSH_INTERVAL_MS = 250;
const FLUSH_BATCH = 500;

/**
 * What Quay's auth context adds to `push_repo`/`pull_repo` entries (auth/context_entity.py
 * analytics_id_and_public_metadata): the acting user or robot, and the app token or OAuth token it used.
 */
export function authContextMetadata(p: Principal): Record<string, unknown> {
  if (p.kind === 'robot') return { username: p.name, is_robot: true };
  if (p.kind !== 'user') return {};
  if (p.via === 'app_token' && p.credentialId) return { app_specific_token: p.credentialId, username: p.name };
  if (p.via === 'oauth' && p.credentialId) return { oauth_token_id: p.credentialId, username: p.name };
  return { username: p.name };
}

/** The `username` Quay's tag and label handlers record: the authenticated user's or robot's name. */
export function performerUsername(p: Principal): Record<string, unknown> {
  return p.kind === 'user' || p.kind === 'robot' ? { username: p.name } : {};
}

export class UsageLogs {
  private pending: PendingRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Strings in the entry may come from clients (names, user agents): they are sanitised and capped here. */
  log(entry: LogInput): void {
    this.pending.push({
      kind: sanitizeLogString(entry.kind),
      account_id: entry.namespaceId,
      performer_id: performerId(entry.performer),
      repository_id: entry.repositoryId ?? null,
      datetime: new Date(),
      ip: entry.ip == null ? null : sanitizeLogString(entry.ip),
      metadata: JSON.stringify(sanitizeLogValue(entry.metadata ?? {})),
    });
    if (this.pending.length >= FLUSH_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** An action on a repository: its namespace and repository, with `repo` and `namespace` names in the metadata as Quay writes them. */
  repoAction(
    kind: string,
    performer: Principal,
    ip: string | null,
    repo: { id: number; namespace_id: number; name: string },
    namespace: string,
    metadata: Record<string, unknown> = {},
  ): void {
    this.log({ kind, performer, namespaceId: repo.namespace_id, repositoryId: repo.id, ip, metadata: { repo: repo.name, namespace, ...metadata } });
  }

  /**
   * Write everything logged so far. Concurrent callers share one ordered chain of writes. When the batch
   * insert fails, its rows are written one by one, so that one bad row loses only itself.
   */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.insert(batch);
      } catch {
        for (const row of batch) {
          try {
            await this.insert([row]);
          } catch (err) {
            this.onError(Object.assign(err as Error, { logKind: row.kind }));
          }
        }
      }
    });
    return this.flushing;
  }

  private async insert(rows: PendingRow[]): Promise<void> {
    await this.db.query(
      `INSERT INTO log_entry (kind, account_id, performer_id, repository_id, datetime, ip, metadata)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::text[], $7::jsonb[])`,
      [
        rows.map((r) => r.kind),
        rows.map((r) => r.account_id),
        rows.map((r) => r.performer_id),
        rows.map((r) => r.repository_id),
        rows.map((r) => r.datetime.toISOString()),
        rows.map((r) => r.ip),
        rows.map((r) => r.metadata),
      ],
    );
  }
}
