/**
 * Search as Quay 3.8 does it (data/model/repository.py get_filtered_matching_repositories, data/model/user.py
 * get_matching_robots / get_matching_user_namespaces, data/model/team.py get_matching_*_teams): case-insensitive
 * substring matches on repository names and descriptions, prefix matches on namespaces, robots and teams
 * (Quay's ILIKE with escaped wildcards: plain string functions here), only what the caller may see. Repositories rank by Quay's score: the repository's
 * activity (its usage-log entries of the last 30 days, what Quay's RepositorySearchScore counts), a
 * hundredfold when the name matches rather than only the description; ties in creation order.
 */
import type { Db } from '../db/index.js';
import type { Principal } from '../auth/principal.js';
import type { Permissions } from '../auth/permissions.js';
import type { NamespaceRow } from './namespaces.js';
import { popularitySql } from './repo_views.js';

/** Days of activity counted into a repository's search score. */
const SCORE_DAYS = 30;

export interface RepoHit {
  id: number;
  name: string;
  description: string | null;
  visibility: 'public' | 'private';
  namespace: NamespaceRow;
}

export interface TeamHit {
  id: number;
  name: string;
  org: NamespaceRow;
}

/** A namespace row read through a `n_*` column prefix (joined queries). */
function namespaceOf(row: Record<string, unknown>, prefix: string): NamespaceRow {
  const ns: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (k.startsWith(prefix)) ns[k.slice(prefix.length)] = v;
  return ns as unknown as NamespaceRow;
}

export class Search {
  constructor(
    private readonly db: Db,
    private readonly permissions: Permissions,
  ) {}

  /** Repositories whose name or description contains `query`, visible to `p`, in Quay's score order. */
  async repositories(p: Principal, query: string, offset: number, limit: number): Promise<RepoHit[]> {
    const params: unknown[] = [];
    const visible = this.permissions.visibleRepositories(p, params, true);
    params.push(query.toLowerCase());
    const q = `$${params.length}`;
    const inName = `strpos(lower(r.name), ${q}) > 0`;
    params.push(limit, offset);
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT r.id, r.name, r.description, r.visibility, n.id AS n_id, n.name AS n_name, n.kind AS n_kind, n.email AS n_email
         FROM repository r JOIN namespace n ON n.id = r.namespace_id
         CROSS JOIN LATERAL (SELECT count(*) AS activity FROM log_entry l
                              WHERE l.repository_id = r.id AND l.datetime > now() - interval '${SCORE_DAYS} days') a
        WHERE ${visible} AND (${inName} OR strpos(lower(r.description), ${q}) > 0)
        ORDER BY CASE WHEN ${inName} THEN 100 * a.activity ELSE a.activity END DESC, r.id
        LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return r.rows.map((row) => ({
      id: Number(row.id),
      name: String(row.name),
      description: row.description === null ? null : String(row.description),
      visibility: row.visibility as 'public' | 'private',
      namespace: namespaceOf(row, 'n_'),
    }));
  }

  /** Users and organizations named `prefix…` that own a repository `p` can see (robots never). */
  async namespaces(p: Principal, prefix: string, limit: number): Promise<NamespaceRow[]> {
    const params: unknown[] = [];
    const visible = this.permissions.visibleRepositories(p, params, true);
    params.push(prefix.toLowerCase(), limit);
    const r = await this.db.query<NamespaceRow>(
      `SELECT n.* FROM namespace n
        WHERE n.kind IN ('user', 'org') AND starts_with(lower(n.name), $${params.length - 1})
          AND EXISTS (SELECT 1 FROM repository r WHERE r.namespace_id = n.id AND ${visible})
        ORDER BY n.name LIMIT $${params.length}`,
      params,
    );
    return r.rows;
  }

  /** Robots named `prefix…` of the user's own namespace and of the organizations it administers. */
  async robots(user: NamespaceRow, prefix: string, limit: number): Promise<NamespaceRow[]> {
    const r = await this.db.query<NamespaceRow>(
      `SELECT b.* FROM namespace b
        WHERE b.kind = 'robot' AND starts_with(lower(b.name), lower((SELECT o.name FROM namespace o WHERE o.id = b.robot_owner_id) || '+' || $2))
          AND (b.robot_owner_id = $1 OR b.robot_owner_id IN (SELECT t.org_id FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.role = 'admin' AND m.member_id = $1))
        ORDER BY b.name LIMIT $3`,
      [user.id, prefix, limit],
    );
    return r.rows;
  }

  /** Teams named `prefix…` the user belongs to, then those of organizations it administers. */
  async teams(user: NamespaceRow, prefix: string, limit: number): Promise<TeamHit[]> {
    const select = `SELECT t.id, t.name, o.id AS o_id, o.name AS o_name, o.kind AS o_kind, o.email AS o_email FROM team t JOIN namespace o ON o.id = t.org_id`;
    const pattern = prefix.toLowerCase();
    const member = await this.db.query<Record<string, unknown>>(
      `${select} WHERE starts_with(lower(t.name), $2) AND EXISTS (SELECT 1 FROM team_member m WHERE m.team_id = t.id AND m.member_id = $1) ORDER BY o.name, t.name LIMIT $3`,
      [user.id, pattern, limit],
    );
    const admined = await this.db.query<Record<string, unknown>>(
      `${select} WHERE starts_with(lower(t.name), $2)
          AND t.org_id IN (SELECT a.org_id FROM team a JOIN team_member m ON m.team_id = a.id WHERE a.role = 'admin' AND m.member_id = $1)
        ORDER BY o.name, t.name LIMIT $3`,
      [user.id, pattern, limit],
    );
    const seen = new Set<number>();
    const hits: TeamHit[] = [];
    for (const row of [...member.rows, ...admined.rows]) {
      const id = Number(row.id);
      if (seen.has(id)) continue;
      seen.add(id);
      hits.push({ id, name: String(row.name), org: namespaceOf(row, 'o_') });
    }
    return hits;
  }
}

export interface RepoUsage {
  last_modified: number | null;
  stars: number;
  popularity: number;
}

/** What `includeUsage` adds to repository results: newest live tag start (epoch s), stars, recent activity. */
export async function repositoryUsage(db: Db, ids: number[]): Promise<Map<number, RepoUsage>> {
  const now = Date.now();
  const r = await db.query<{ id: string; last_modified: string | null; stars: number; popularity: number }>(
    `SELECT r.id,
            (SELECT max(t.start_ms) / 1000 FROM tag t WHERE t.repository_id = r.id AND t.start_ms <= $2 AND (t.end_ms IS NULL OR t.end_ms > $2)) AS last_modified,
            (SELECT count(*) FROM star s WHERE s.repository_id = r.id)::int AS stars,
            ${popularitySql('r.id')} AS popularity
       FROM repository r WHERE r.id = ANY($1::bigint[])`,
    [ids, now],
  );
  return new Map(
    r.rows.map((row) => [Number(row.id), { last_modified: row.last_modified === null ? null : Number(row.last_modified), stars: row.stars, popularity: row.popularity }]),
  );
}
