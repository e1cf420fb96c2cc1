/** Repositories as the REST API shows and changes them: listings (visibility from the resolver), stars, details. */
import type { Db } from '../db/index.js';
import type { Principal } from '../auth/principal.js';
import type { Permissions } from '../auth/permissions.js';
import type { RepositoryRow } from './repositories.js';

export interface RepoListRow extends RepositoryRow {
  namespace: string;
  is_starred: boolean;
  last_modified: number | null;
  popularity: number | null;
}

export interface RepoListQuery {
  namespaceId?: number;
  starredBy?: number;
  includePublic: boolean;
  lastModified: boolean;
  popularity: boolean;
  afterId: number;
  limit: number;
}

/** `last_modified`: the newest start of a live tag, in epoch seconds, as Quay counts it. */
const lastModified = (now: string) =>
  `(SELECT max(t.start_ms) / 1000 FROM tag t WHERE t.repository_id = r.id AND t.start_ms <= ${now} AND (t.end_ms IS NULL OR t.end_ms > ${now}))`;

/**
 * `popularity` as Quay 3.8 computes it (data/model/log.py get_repositories_action_sums): the repository's usage-log
 * actions of the days that start within the last week, as its repositoryactioncounter worker counts them, one
 * whole UTC day after it has ended; so today's actions are not counted yet (a repository pushed today shows 0).
 */
export const popularitySql = (repoId: string) =>
  `(SELECT count(*) FROM log_entry l WHERE l.repository_id = ${repoId}
      AND l.datetime >= date_trunc('day', now() - interval '7 days' - interval '1 microsecond', 'UTC') + interval '1 day'
      AND l.datetime < date_trunc('day', now(), 'UTC'))::int`;

export class RepoViews {
  constructor(
    private readonly db: Db,
    private readonly permissions: Permissions,
  ) {}

  /** Visible repositories in id order after `afterId` (one more than `limit` tells whether a next page exists). */
  async list(p: Principal, query: RepoListQuery): Promise<RepoListRow[]> {
    const params: unknown[] = [];
    const visible = this.permissions.visibleRepositories(p, params, query.includePublic || query.namespaceId !== undefined || query.starredBy !== undefined);
    const add = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const me = add(p.kind === 'user' ? p.id : -1);
    const where = [visible, `r.id > ${add(query.afterId)}`];
    if (query.namespaceId !== undefined) where.push(`r.namespace_id = ${add(query.namespaceId)}`);
    if (query.starredBy !== undefined) where.push(`EXISTS (SELECT 1 FROM star s WHERE s.repository_id = r.id AND s.user_id = ${add(query.starredBy)})`);
    const r = await this.db.query<RepoListRow>(
      `SELECT r.*, n.name AS namespace,
              EXISTS (SELECT 1 FROM star s WHERE s.repository_id = r.id AND s.user_id = ${me}) AS is_starred,
              ${query.lastModified ? lastModified(add(Date.now())) : 'NULL::bigint'} AS last_modified,
              ${query.popularity ? popularitySql('r.id') : 'NULL::int'} AS popularity
         FROM repository r JOIN namespace n ON n.id = r.namespace_id
        WHERE ${where.join(' AND ')}
        ORDER BY r.id LIMIT ${add(query.limit + 1)}`,
      params,
    );
    return r.rows;
  }

  async isStarred(userId: number, repoId: number): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM star WHERE user_id = $1 AND repository_id = $2', [userId, repoId])).rows.length > 0;
  }

  async star(userId: number, repoId: number): Promise<void> {
    await this.db.query('INSERT INTO star (user_id, repository_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, repoId]);
  }

  async unstar(userId: number, repoId: number): Promise<void> {
    await this.db.query('DELETE FROM star WHERE user_id = $1 AND repository_id = $2', [userId, repoId]);
  }

  /** Live tags, newest first. */
  async liveTags(repoId: number, limit: number): Promise<{ name: string; digest: string; size: number; start_ms: number; end_ms: number | null }[]> {
    const r = await this.db.query<{ name: string; digest: string; size: number; start_ms: number; end_ms: number | null }>(
      `SELECT t.name, m.digest, m.layers_size AS size, t.start_ms, t.end_ms FROM tag t JOIN manifest m ON m.id = t.manifest_id
        WHERE t.repository_id = $1 AND t.start_ms <= $2 AND (t.end_ms IS NULL OR t.end_ms > $2) ORDER BY t.start_ms DESC LIMIT $3`,
      [repoId, Date.now(), limit],
    );
    return r.rows;
  }

  /** Usage log entries of a repository per UTC day over the last `days` days (today included), every day present. */
  async dailyActions(repoId: number, days: number): Promise<{ date: string; count: number }[]> {
    const r = await this.db.query<{ date: string; count: number }>(
      `SELECT to_char(d, 'YYYY-MM-DD') AS date,
              (SELECT count(*) FROM log_entry l WHERE l.repository_id = $1 AND l.datetime >= d AT TIME ZONE 'UTC' AND l.datetime < (d + interval '1 day') AT TIME ZONE 'UTC')::int AS count
         FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($2::int - 1), (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
        ORDER BY d`,
      [repoId, days],
    );
    return r.rows;
  }

  async setDescription(repoId: number, description: string): Promise<void> {
    await this.db.query('UPDATE repository SET description = $2 WHERE id = $1', [repoId, description]);
  }

  async setVisibility(repoId: number, visibility: 'public' | 'private'): Promise<void> {
    await this.db.query('UPDATE repository SET visibility = $2 WHERE id = $1', [repoId, visibility]);
  }

  /** Deletes the repository with its tags, manifests and permissions; unreferenced blobs are left to GC. */
  async deleteRepository(repoId: number): Promise<void> {
    await this.db.query('DELETE FROM repository WHERE id = $1', [repoId]);
  }
}
