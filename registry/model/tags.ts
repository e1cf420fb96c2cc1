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
  expiry_state: 'scheduled' | 'done' | null;
}

/** A tag row with what the REST API shows of its manifest. */
export interface TagHistoryRow extends TagRow {
  manifest_digest: string;
  media_type: string;
  layers_size: number;
}

export interface TagListOptions {
  onlyActive: boolean;
  /** exact name */
  name?: string;
  /** SQL LIKE-free substring filter (`like:<s>`) or exact (`eq:<s>`) */
  filter?: { op: 'like' | 'eq'; value: string };
  page: number;
  limit: number;
}

export interface TagPage {
  json: string;
  more: boolean;
  last: string | null;
}

interface CachedPage {
  /** The repository's tag_version the page was built at. */
  version: number;
  /** When the first of the page's tags (or the one after it) expires, in ms. */
  validUntil: number;
  page: TagPage;
}

/** Tag pages kept in memory, least recently used first out, bounded by the size of their JSON. */
class TagPageCache {
  private readonly entries = new Map<string, CachedPage>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string, version: number, now: number): TagPage | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.delete(key);
    if (e.version !== version || now >= e.validUntil) return undefined;
    this.entries.set(key, e);
    this.bytes += e.page.json.length;
    return e.page;
  }

  set(key: string, e: CachedPage): void {
    this.delete(key);
    if (e.page.json.length > this.maxBytes) return;
    this.entries.set(key, e);
    this.bytes += e.page.json.length;
    for (const [k, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= old.page.json.length;
    }
  }

  private delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.page.json.length;
  }
}

/** Memory for cached tag pages (JSON characters): a 1000-tag page is about 7 KB. */
const TAG_PAGE_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * SQL taking the transaction-scoped lock that serialises writers of one tag name (`Tags.lock`), for a
 * repository id and a tag name given as SQL expressions. Whoever writes a tag row holds it first, in a
 * statement before the one that reads the tag, so that the reader's snapshot sees every writer it waited for.
 */
export function tagLock(repoId: string, name: string): string {
  return `pg_advisory_xact_lock((${repoId}::bigint % 2147483647)::int, hashtext(${name}))`;
}

export class Tags {
  private readonly pages = new TagPageCache(TAG_PAGE_CACHE_BYTES);

  constructor(private readonly db: Db) {}

  async live(repoId: number, name: string, q: Queryable = this.db, now = Date.now()): Promise<TagRow | null> {
    const r = await q.query<TagRow>(`SELECT * FROM tag t WHERE t.repository_id = $1 AND t.name = $2 AND ${LIVE('t', '$3')} ORDER BY t.start_ms DESC LIMIT 1`, [repoId, name, now]);
    return r.rows[0] ?? null;
  }

  /** Serialise writers of one tag name for the rest of the transaction. */
  async lock(q: Queryable, repoId: number, name: string): Promise<void> {
    await q.query(`SELECT ${tagLock('$1', '$2')}`, [repoId, name]);
  }

  /**
   * Point a tag at a manifest. Re-pointing at the same manifest changes nothing. After the lock, one statement
   * reads the live row, ends it and inserts the new one (a round trip per push instead of three); the lock's
   * statement comes first so that this one's snapshot sees every writer the lock waited for.
   */
  async set(q: Queryable, repoId: number, name: string, manifestId: number, opts: { reversion?: boolean; locked?: boolean } = {}): Promise<'created' | 'moved' | 'unchanged'> {
    if (!opts.locked) await this.lock(q, repoId, name);
    const r = await q.query<{ current: number | null; inserted: boolean }>(
      `WITH cur AS (
         SELECT t.id, t.manifest_id FROM tag t WHERE t.repository_id = $1 AND t.name = $2 AND ${LIVE('t', '$4')} ORDER BY t.start_ms DESC LIMIT 1),
       change AS (SELECT NOT EXISTS (SELECT 1 FROM cur WHERE cur.manifest_id = $3) OR $5 AS yes),
       ended AS (
         UPDATE tag SET end_ms = GREATEST($4::bigint, tag.start_ms), expiry_state = NULL
           FROM cur, change WHERE tag.id = cur.id AND change.yes RETURNING tag.id),
       ins AS (
         INSERT INTO tag (repository_id, name, manifest_id, start_ms, reversion)
         SELECT $1, $2, $3, $4, $5 FROM change WHERE change.yes RETURNING id)
       SELECT (SELECT manifest_id FROM cur) AS current, EXISTS (SELECT 1 FROM ins) AS inserted`,
      [repoId, name, manifestId, Date.now(), opts.reversion ?? false],
      { prepare: 'tag_set' },
    );
    const { current, inserted } = r.rows[0];
    if (!inserted) return 'unchanged';
    return current === null ? 'created' : 'moved';
  }

  /** End the live row of a tag; false when there is none. */
  async delete(repoId: number, name: string): Promise<boolean> {
    return this.db.tx(async (q) => {
      await this.lock(q, repoId, name);
      const now = Date.now();
      const r = await q.query(`UPDATE tag t SET end_ms = GREATEST($3::bigint, t.start_ms), expiry_state = NULL WHERE t.repository_id = $1 AND t.name = $2 AND ${LIVE('t', '$3')}`, [
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
      `UPDATE tag t SET end_ms = GREATEST($2::bigint, t.start_ms), expiry_state = NULL WHERE t.manifest_id = $1 AND ${LIVE('t', '$2')} RETURNING t.name`,
      [manifestId, now],
    );
    return r.rows.map((x) => x.name);
  }

  /**
   * One page of live tag names in byte order after `last`: at most `limit` names as a JSON array (built by
   * Postgres, so a long list is not parsed and re-serialised row by row), whether more follow, and the last name.
   * Served from memory while the repository's `tag_version` is the one the page was built at and none of the
   * page's tags, nor the one after it, has expired since. The version is read from the database on every
   * request (a primary-key lookup), not from the hot caches: a push that only creates tags answers without
   * waiting for the other processes (cache/coherence.ts), and a listing is where a new tag's absence would show.
   */
  async page(repoId: number, last: string, limit: number): Promise<TagPage> {
    const key = `${repoId}|${limit}|${last}`;
    const now = Date.now();
    const v = await this.db.query<{ tag_version: number }>('SELECT tag_version FROM repository WHERE id = $1', [repoId], { prepare: 'repository_tag_version' });
    if (!v.rows[0]) return { json: '[]', more: false, last: null };
    const version = v.rows[0].tag_version;
    const cached = this.pages.get(key, version, now);
    if (cached) return cached;
    const r = await this.db.query<{ json: string; more: boolean; last: string | null; valid_until: string | null }>(
      `SELECT coalesce(json_agg(name ORDER BY rn) FILTER (WHERE rn <= $4), '[]')::text AS json,
              count(*) > $4 AS more,
              max(name) FILTER (WHERE rn <= $4) AS last,
              min(end_ms) AS valid_until
         FROM (SELECT name, end_ms, row_number() OVER () AS rn FROM (
                 SELECT t.name COLLATE "C" AS name, min(t.end_ms) AS end_ms FROM tag t
                  WHERE t.repository_id = $1 AND ${LIVE('t', '$2')} AND t.name COLLATE "C" > $3
                  GROUP BY 1 ORDER BY 1 LIMIT $4 + 1) s) x`,
      [repoId, now, last, limit],
      { prepare: 'tag_page' },
    );
    const { json, more, last: pageLast, valid_until } = r.rows[0];
    const page = { json, more, last: pageLast };
    this.pages.set(key, { version, validUntil: valid_until === null ? Infinity : Number(valid_until), page });
    return page;
  }

  /**
   * Tag rows with their manifests for the REST API, newest first: every row (history) or only live ones.
   * Returns one page and whether more follow.
   */
  async list(repoId: number, o: TagListOptions, now = Date.now()): Promise<{ rows: TagHistoryRow[]; more: boolean }> {
    const where = ['t.repository_id = $1'];
    const params: unknown[] = [repoId];
    if (o.onlyActive) {
      params.push(now);
      where.push(LIVE('t', `$${params.length}`));
    }
    if (o.name !== undefined) {
      params.push(o.name);
      where.push(`t.name = $${params.length}`);
    }
    if (o.filter) {
      params.push(o.filter.value);
      where.push(o.filter.op === 'eq' ? `t.name = $${params.length}` : `strpos(t.name, $${params.length}) > 0`);
    }
    params.push(o.limit + 1, (o.page - 1) * o.limit);
    const r = await this.db.query<TagHistoryRow>(
      `SELECT t.*, m.digest AS manifest_digest, m.media_type, m.layers_size FROM tag t JOIN manifest m ON m.id = t.manifest_id
        WHERE ${where.join(' AND ')}
        ORDER BY t.start_ms DESC, t.id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return { rows: r.rows.slice(0, o.limit), more: r.rows.length > o.limit };
  }

  /**
   * Set or clear the expiry of a tag's live row: `endMs` in the future, or null for none. Returns the
   * previous expiry (ms or null), or undefined when the tag has no live row.
   */
  /**
   * Sets (or with null clears) when the live tag expires. With `bounds` (Quay's change_tag_expiration), the
   * time is clamped to [tag start + minS, tag start + maxS]. Returns the previous and the stored end.
   */
  async setExpiration(
    repoId: number,
    name: string,
    endMs: number | null,
    bounds?: { minS: number; maxS: number },
  ): Promise<{ previous: number | null; end: number | null } | undefined> {
    return this.db.tx(async (q) => {
      await this.lock(q, repoId, name);
      const current = await this.live(repoId, name, q);
      if (!current) return undefined;
      const start = Number(current.start_ms);
      const end = endMs !== null && bounds ? Math.min(Math.max(endMs, start + bounds.minS * 1000), start + bounds.maxS * 1000) : endMs;
      await q.query('UPDATE tag SET end_ms = $2, expiry_state = $3 WHERE id = $1', [current.id, end, end === null ? null : 'scheduled']);
      return { previous: current.end_ms, end };
    });
  }

  /**
   * Expiries that have passed and were not yet recorded: marks them done and returns them, so the caller
   * logs each exactly once (the rows are claimed with SKIP LOCKED; every replica may run this).
   */
  async claimPassedExpiries(now = Date.now(), limit = 500): Promise<Array<{ repository_id: number; name: string; end_ms: number; manifest_digest: string }>> {
    const r = await this.db.query<{ repository_id: number; name: string; end_ms: number; manifest_id: number }>(
      `UPDATE tag SET expiry_state = 'done' WHERE id IN (
         SELECT id FROM tag WHERE expiry_state = 'scheduled' AND end_ms <= $1 ORDER BY end_ms LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING repository_id, name, end_ms, manifest_id`,
      [now, limit],
    );
    if (r.rows.length === 0) return [];
    const digests = await this.db.query<{ id: number; digest: string }>('SELECT id, digest FROM manifest WHERE id = ANY($1::bigint[])', [r.rows.map((x) => x.manifest_id)]);
    const byId = new Map(digests.rows.map((d) => [d.id, d.digest]));
    return r.rows.map((x) => ({ repository_id: x.repository_id, name: x.name, end_ms: x.end_ms, manifest_digest: byId.get(x.manifest_id) ?? '' }));
  }

  /**
   * Point a tag at a manifest of the repository, by digest (the REST API's create and move). The manifest
   * row is locked first, so a concurrent GC either finished deleting it (null) or sees the new tag. A
   * manifest hidden by a v2 DELETE becomes visible again.
   */
  async assign(repoId: number, name: string, digest: string): Promise<'created' | 'moved' | 'unchanged' | null> {
    return this.db.tx(async (q) => {
      const m = await q.query<{ id: number }>('UPDATE manifest SET deleted_at = NULL WHERE repository_id = $1 AND digest = $2 RETURNING id', [repoId, digest]);
      if (!m.rows[0]) return null;
      return this.set(q, repoId, name, m.rows[0].id);
    });
  }

  /**
   * PERMANENTLY_DELETE_TAGS (Quay's remove_tag_from_timemachine): take a tag out of the time machine, so it can
   * no longer be restored and the garbage collector may reclaim its manifest. `alive`: the live row, which must
   * point at `manifestId`; otherwise every ended row of the name that pointed at `manifestId`. The rows are
   * deleted (what the collector does to rows once the window has passed). Returns the number of rows removed.
   */
  async removeFromTimeMachine(repoId: number, name: string, manifestId: number, alive: boolean): Promise<number> {
    return this.db.tx(async (q) => {
      await this.lock(q, repoId, name);
      const now = Date.now();
      const r = await q.query(
        `DELETE FROM tag t WHERE t.repository_id = $1 AND t.name = $2 AND t.manifest_id = $3 AND ${alive ? LIVE('t', '$4') : 't.end_ms IS NOT NULL AND t.end_ms <= $4'}`,
        [repoId, name, manifestId, now],
      );
      return r.rowCount;
    });
  }

  /**
   * Restore a tag to a manifest it pointed at before, if that row ended inside the time machine window
   * (`windowSeconds`). The new row is marked as a reversion.
   */
  async restore(repoId: number, name: string, digest: string, windowSeconds: number): Promise<'restored' | 'unknown_manifest' | 'not_in_history' | 'outside_window'> {
    return this.db.tx(async (q) => {
      const m = await q.query<{ id: number }>('SELECT id FROM manifest WHERE repository_id = $1 AND digest = $2 FOR UPDATE', [repoId, digest]);
      if (!m.rows[0]) return 'unknown_manifest';
      const manifestId = m.rows[0].id;
      const now = Date.now();
      const h = await q.query<{ last_end: number | null; rows: number }>(
        `SELECT count(*)::int AS rows, max(coalesce(end_ms, $4::bigint)) AS last_end FROM tag WHERE repository_id = $1 AND name = $2 AND manifest_id = $3`,
        [repoId, name, manifestId, now],
      );
      if (h.rows[0].rows === 0) return 'not_in_history';
      if (h.rows[0].last_end! <= now - windowSeconds * 1000) return 'outside_window';
      await q.query('UPDATE manifest SET deleted_at = NULL WHERE id = $1', [manifestId]);
      await this.set(q, repoId, name, manifestId, { reversion: true });
      return 'restored';
    });
  }
}
