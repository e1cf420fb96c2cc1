/** Repositories: lookup by path, creation (by API or on first push). */
import type { Db, Queryable } from '../db/index.js';
import type { RepoRef } from '../oci/names.js';
import type { NamespaceRow } from './namespaces.js';
import type { HotCaches } from '../cache/hot.js';

export interface RepositoryRow {
  id: number;
  namespace_id: number;
  name: string;
  visibility: 'public' | 'private';
  /** null when nobody gave one (created by a push, a mirror or the proxy cache), as in Quay. */
  description: string | null;
  state: string;
  kind: string;
  /** Changes with every change to the repository's tags (migration 006). */
  tag_version: number;
  created_at: Date;
  /** The secret of the build-status badge of a private repository (Quay's badge_token, migration 043). */
  badge_token: string;
}

/** A repository path resolved against the database: either part may be missing. */
export interface RepoTarget {
  ref: RepoRef;
  namespace: NamespaceRow | null;
  repo: RepositoryRow | null;
}

export class Repositories {
  constructor(
    private readonly db: Db,
    private readonly cache?: HotCaches,
  ) {}

  /**
   * Namespace and repository in one query; outside a transaction from the hot caches when both exist (kept
   * coherent by notifications, see cache/coherence.ts).
   */
  async lookup(ref: RepoRef, q: Queryable = this.db): Promise<RepoTarget> {
    const cached = q === this.db ? this.cache?.target(ref.namespace, ref.name) : undefined;
    if (cached) return { ...cached, ref };
    const startGen = this.cache?.coherence.generation ?? 0;
    const target = await this.query(ref, q);
    if (q === this.db) this.cache?.keepTarget(target, startGen);
    return target;
  }

  /**
   * This process changed the repository's tags or row and committed: its own next lookup must not be older
   * than the notification that is on its way, nor any other process's (see CacheCoherence.changed). A change
   * that only created tags (`onlyCreatedTags`) needs neither: no cache holds a tag that did not exist, and the
   * database sends no notification for it (migration 081), so every process keeps its cached repository row;
   * the tag_version in it is then older than the database's, which only means that tags cached later are kept
   * under the older version, and that version is dropped by the next change to an existing tag like any other.
   */
  async changed(ref: RepoRef, onlyCreatedTags = false): Promise<void> {
    if (onlyCreatedTags) return;
    await this.cache?.coherence.changed({ kind: 'r', key: `${ref.namespace}/${ref.name}` });
  }

  private async query(ref: RepoRef, q: Queryable): Promise<RepoTarget> {
    const r = await q.query<{ ns: NamespaceRow; repo: RepositoryRow | null }>(
      `SELECT row_to_json(n.*) AS ns, row_to_json(r.*) AS repo
         FROM namespace n LEFT JOIN repository r ON r.namespace_id = n.id AND r.name = $2
        WHERE n.name = $1`,
      [ref.namespace, ref.name],
      { prepare: 'repository_lookup' },
    );
    const row = r.rows[0];
    if (!row) return { ref, namespace: null, repo: null };
    return { ref, namespace: reviveDates(row.ns), repo: row.repo ? reviveDates(row.repo) : null };
  }

  async byId(id: number, q: Queryable = this.db): Promise<RepositoryRow | null> {
    return (await q.query<RepositoryRow>('SELECT * FROM repository WHERE id = $1', [id])).rows[0] ?? null;
  }

  /** Create the repository unless it exists; returns the row and whether this call created it. */
  async create(
    namespaceId: number,
    name: string,
    opts: { visibility: 'public' | 'private'; description?: string },
    q: Queryable = this.db,
  ): Promise<{ repo: RepositoryRow; created: boolean }> {
    const ins = await q.query<RepositoryRow>(
      `INSERT INTO repository (namespace_id, name, visibility, description) VALUES ($1, $2, $3, $4)
       ON CONFLICT (namespace_id, name) DO NOTHING RETURNING *`,
      [namespaceId, name, opts.visibility, opts.description ?? null],
    );
    if (ins.rows[0]) return { repo: ins.rows[0], created: true };
    const existing = await q.query<RepositoryRow>('SELECT * FROM repository WHERE namespace_id = $1 AND name = $2', [namespaceId, name]);
    return { repo: existing.rows[0], created: false };
  }
}

/** row_to_json turns timestamps into strings; callers expect Dates like every other query returns. */
function reviveDates<T>(row: T): T {
  const r = row as Record<string, unknown>;
  for (const k of ['created_at', 'updated_at']) if (typeof r[k] === 'string') r[k] = new Date(r[k] as string);
  return row;
}
