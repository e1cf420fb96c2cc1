/**
 * Tags as intervals: a row is (repository, name, manifest, start, end). The live row of a name has no end or
 * an end in the future (an expiry). Moving a tag ends the live row and starts a new one; deleting ends it.
 */
import type { Db, Queryable } from '../db/index.js';

/** SQL condition for "this tag row is live at $now" (the caller binds now in ms). */
export const LIVE = (alias: string, nowParam: string) => `(${alias}.end_ms IS NULL OR ${alias}.end_ms > ${nowParam})`;

export interface TagRow {
  id: number;
  repository_id: number;
  name: string;
  manifest_id: number;
  start_ms: number;
  end_ms: number | null;
  reversion: boolean;
}

export class Tags {
  constructor(private readonly db: Db) {}

  async live(repoId: number, name: string, q: Queryable = this.db, now = Date.now()): Promise<TagRow | null> {
    const r = await q.query<TagRow>(
      `SELECT * FROM tag t WHERE t.repository_id = $1 AND t.name = $2 AND ${LIVE('t', '$3')} ORDER BY t.start_ms DESC LIMIT 1`,
      [repoId, name, now],
    );
    return r.rows[0] ?? null;
  }

  /** Serialise writers of one tag name for the rest of the transaction. */
  private async lock(q: Queryable, repoId: number, name: string): Promise<void> {
    await q.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [repoId % 2147483647, name]);
  }

  /** Point a tag at a manifest. Re-pointing at the same manifest changes nothing. */
  async set(q: Queryable, repoId: number, name: string, manifestId: number, opts: { reversion?: boolean } = {}): Promise<'created' | 'moved' | 'unchanged'> {
    await this.lock(q, repoId, name);
    const now = Date.now();
    const current = await this.live(repoId, name, q, now);
    if (current && current.manifest_id === manifestId && !opts.reversion) return 'unchanged';
    if (current) await q.query('UPDATE tag SET end_ms = GREATEST($2::bigint, start_ms) WHERE id = $1', [current.id, now]);
    await q.query('INSERT INTO tag (repository_id, name, manifest_id, start_ms, reversion) VALUES ($1, $2, $3, $4, $5)', [
      repoId,
      name,
      manifestId,
      now,
      opts.reversion ?? false,
    ]);
    return current ? 'moved' : 'created';
  }

  /** End the live row of a tag; false when there is none. */
  async delete(repoId: number, name: string): Promise<boolean> {
    return this.db.tx(async (q) => {
      await this.lock(q, repoId, name);
      const now = Date.now();
      const r = await q.query(`UPDATE tag t SET end_ms = GREATEST($3::bigint, t.start_ms) WHERE t.repository_id = $1 AND t.name = $2 AND ${LIVE('t', '$3')}`, [
        repoId,
        name,
        now,
      ]);
      return r.rowCount > 0;
    });
  }

  /** End every live tag that points at a manifest; returns their names. */
  async endForManifest(q: Queryable, manifestId: number): Promise<string[]> {
    const now = Date.now();
    const r = await q.query<{ name: string }>(
      `UPDATE tag t SET end_ms = GREATEST($2::bigint, t.start_ms) WHERE t.manifest_id = $1 AND ${LIVE('t', '$2')} RETURNING t.name`,
      [manifestId, now],
    );
    return r.rows.map((x) => x.name);
  }

  /** Live tag names in byte order after `last`, at most `limit`. */
  async names(repoId: number, last: string, limit: number): Promise<string[]> {
    const r = await this.db.query<{ name: string }>(
      `SELECT DISTINCT t.name COLLATE "C" AS name FROM tag t
        WHERE t.repository_id = $1 AND ${LIVE('t', '$2')} AND t.name COLLATE "C" > $3
        ORDER BY 1 LIMIT $4`,
      [repoId, Date.now(), last, limit],
    );
    return r.rows.map((x) => x.name);
  }
}
