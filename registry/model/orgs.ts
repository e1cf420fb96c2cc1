/** Organizations: a namespace of kind `org`, created with an `owners` admin team holding its creator. */
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Principal } from '../auth/principal.js';
import type { Permissions } from '../auth/permissions.js';
import { validNamespaceName } from '../oci/names.js';
import { Invalid, NotFound } from './errors.js';
import { durationSeconds, type NamespaceRow } from './namespaces.js';

export const OWNERS_TEAM = 'owners';

export function invalid(message: string): Invalid {
  return new Invalid('request', message);
}

export function missing(message: string): NotFound {
  return new NotFound('resource', message);
}

export const NAME_RULE = 'use 2-255 characters: lowercase letters and digits, separated by single ".", "_" or "-"';

/** One row of the organizations list; member and robot counts only where the caller administers the org. */
export interface OrgSummary {
  id: number;
  repo_count: number;
  team_count: number;
  member_count: number | null;
  robot_count: number | null;
  /** Newest start of a live tag in the repositories counted, epoch seconds (Quay's `last_modified`). */
  last_modified: number | null;
}

export class Organizations {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    private readonly permissions: Permissions,
  ) {}

  /**
   * The counts of the organizations list in one query, so the list costs no request per row: repositories
   * the principal can see, teams, and for organizations in `administered`, human members and robots.
   */
  async summaries(p: Principal, orgIds: number[], administered: Set<number>): Promise<Map<number, OrgSummary>> {
    if (orgIds.length === 0) return new Map();
    const params: unknown[] = [];
    const visible = this.permissions.visibleRepositories(p, params, true);
    params.push(orgIds, [...administered], Date.now());
    const [ids, admins, now] = [params.length - 2, params.length - 1, params.length].map((i) => `$${i}`);
    const r = await this.db.query<OrgSummary>(
      `SELECT o.id,
              (SELECT count(*) FROM repository r WHERE r.namespace_id = o.id AND ${visible})::int AS repo_count,
              (SELECT max(t.start_ms) / 1000 FROM tag t JOIN repository r ON r.id = t.repository_id
                WHERE r.namespace_id = o.id AND ${visible} AND t.start_ms <= ${now} AND (t.end_ms IS NULL OR t.end_ms > ${now}))::bigint AS last_modified,
              (SELECT count(*) FROM team t WHERE t.org_id = o.id)::int AS team_count,
              CASE WHEN o.id = ANY(${admins}::bigint[]) THEN
                (SELECT count(DISTINCT m.member_id) FROM team t JOIN team_member m ON m.team_id = t.id JOIN namespace u ON u.id = m.member_id
                  WHERE t.org_id = o.id AND u.kind = 'user')::int END AS member_count,
              CASE WHEN o.id = ANY(${admins}::bigint[]) THEN (SELECT count(*) FROM namespace b WHERE b.robot_owner_id = o.id)::int END AS robot_count
         FROM namespace o WHERE o.id = ANY(${ids}::bigint[])`,
      params,
    );
    return new Map(r.rows.map((x) => [Number(x.id), { ...x, last_modified: x.last_modified === null ? null : Number(x.last_modified) }]));
  }

  /** Create the organization, its owners team and the creator's membership: all or nothing. */
  async create(input: { name: string; email: string | null; creator: NamespaceRow }): Promise<NamespaceRow> {
    if (!validNamespaceName(input.name)) throw invalid(`Invalid organization name "${input.name}": ${NAME_RULE}`);
    return this.db.tx(async (q) => {
      const r = await q.query<NamespaceRow>(
        `INSERT INTO namespace (name, kind, email, removed_tag_expiration_s) VALUES ($1, 'org', $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING *`,
        [input.name, input.email, durationSeconds(this.config.DEFAULT_TAG_EXPIRATION)],
      );
      const org = r.rows[0];
      if (!org) throw invalid('A user or organization with this name already exists');
      const team = await q.query<{ id: number }>(`INSERT INTO team (org_id, name, role, description) VALUES ($1, $2, 'admin', 'Organization owners') RETURNING id`, [
        org.id,
        OWNERS_TEAM,
      ]);
      await q.query('INSERT INTO team_member (team_id, member_id) VALUES ($1, $2)', [team.rows[0].id, input.creator.id]);
      return org;
    });
  }

  /**
   * CREATE_NAMESPACE_ON_PUSH (Quay's v2 auth): a user pushing into a namespace that does not exist gets an
   * organization of that name, owned by them, with the e-mail `local+namespace@domain` derived from theirs.
   * Only callers who may create organizations at all (not robots, anonymous or restricted users). Returns the
   * namespace now under that name, or null.
   */
  async createOnPush(name: string, p: Principal): Promise<NamespaceRow | null> {
    if (!this.config.CREATE_NAMESPACE_ON_PUSH || p.kind !== 'user' || !this.permissions.mayCreateOrganization(p)) return null;
    const user = (await this.db.query<NamespaceRow>("SELECT * FROM namespace WHERE id = $1 AND kind = 'user'", [p.id])).rows[0];
    if (!user) return null;
    const at = user.email?.lastIndexOf('@') ?? -1;
    const email = user.email && at > 0 ? `${user.email.slice(0, at)}+${name}@${user.email.slice(at + 1)}` : null;
    try {
      return await this.create({ name, email, creator: user });
    } catch (err) {
      // A concurrent push created it first (or the name is not a valid organization name).
      if (!(err instanceof Invalid)) throw err;
      return (await this.db.query<NamespaceRow>('SELECT * FROM namespace WHERE name = $1', [name])).rows[0] ?? null;
    }
  }

  /** Change an organization's e-mail, or a user's or organization's time machine window. */
  async update(org: NamespaceRow, changes: { email?: string | null; tagExpirationS?: number }): Promise<NamespaceRow> {
    const r = await this.db.query<NamespaceRow>(
      `UPDATE namespace SET email = CASE WHEN $2 THEN $3 ELSE email END,
                            removed_tag_expiration_s = COALESCE($4, removed_tag_expiration_s)
        WHERE id = $1 RETURNING *`,
      [org.id, changes.email !== undefined, changes.email ?? null, changes.tagExpirationS ?? null],
    );
    return r.rows[0];
  }

  /** Rename an organization; its robots (`org+short`) follow. */
  async rename(org: NamespaceRow, newName: string): Promise<NamespaceRow> {
    if (!validNamespaceName(newName)) throw invalid(`Invalid organization name "${newName}": ${NAME_RULE}`);
    return this.db.tx(async (q) => {
      const r = await q.query<NamespaceRow>(`UPDATE namespace SET name = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM namespace WHERE name = $2) RETURNING *`, [org.id, newName]);
      if (!r.rows[0]) throw invalid('A user or organization with this name already exists');
      await q.query(`UPDATE namespace SET name = $2 || '+' || split_part(name, '+', 2) WHERE robot_owner_id = $1`, [org.id, newName]);
      return r.rows[0];
    });
  }

  /**
   * A superuser takes a namespace over (Quay's take_ownership): joins an organization's owners team, or turns
   * a user into an organization owned by the superuser. The former user's sign-ins, tokens, memberships and
   * grants end with it; its repositories and robots stay. Returns whether the namespace was a user.
   */
  async takeOwnership(ns: NamespaceRow, superuser: NamespaceRow): Promise<{ wasUser: boolean }> {
    return this.db.tx(async (q) => {
      const wasUser = ns.kind === 'user';
      if (wasUser) {
        await q.query(`UPDATE namespace SET kind = 'org', password_hash = NULL, superuser = false WHERE id = $1`, [ns.id]);
        for (const sql of [
          'DELETE FROM team_member WHERE member_id = $1',
          'DELETE FROM team_invite WHERE user_id = $1',
          'DELETE FROM repository_permission WHERE user_id = $1',
          'DELETE FROM permission_prototype WHERE activating_user_id = $1 OR delegate_user_id = $1',
          'DELETE FROM oauth_access_token WHERE user_id = $1',
          'DELETE FROM app_token WHERE user_id = $1',
          'DELETE FROM star WHERE user_id = $1',
          'DELETE FROM web_session WHERE user_id = $1',
          'DELETE FROM notification WHERE target_id = $1',
        ]) {
          await q.query(sql, [ns.id]);
        }
      }
      // The organization's first admin team, or an owners team made for the purpose.
      const admins = await q.query<{ id: number }>(`SELECT id FROM team WHERE org_id = $1 AND role = 'admin' ORDER BY id LIMIT 1`, [ns.id]);
      const teamId =
        admins.rows[0]?.id ??
        (
          await q.query<{ id: number }>(
            `INSERT INTO team (org_id, name, role, description) VALUES ($1, $2, 'admin', 'Organization owners')
             ON CONFLICT (org_id, name) DO UPDATE SET role = 'admin' RETURNING id`,
            [ns.id, OWNERS_TEAM],
          )
        ).rows[0].id;
      await q.query('INSERT INTO team_member (team_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [teamId, superuser.id]);
      return { wasUser };
    });
  }

  /**
   * Delete a user or organization with everything in it (repositories, robots, teams, permissions, tokens):
   * one statement, cascading. Blob bytes no longer referenced are left to garbage collection.
   */
  async deleteNamespace(ns: NamespaceRow, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM namespace WHERE id = $1', [ns.id]);
  }

  /** Every user and robot in any team of the organization, with their teams. */
  async members(org: NamespaceRow): Promise<{ name: string; kind: 'user' | 'robot'; email: string | null; teams: string[] }[]> {
    const r = await this.db.query<{ name: string; kind: 'user' | 'robot'; email: string | null; teams: string[] }>(
      `SELECT n.name, n.kind, n.email, array_agg(t.name ORDER BY t.name) AS teams
         FROM team t JOIN team_member m ON m.team_id = t.id JOIN namespace n ON n.id = m.member_id
        WHERE t.org_id = $1 GROUP BY n.name, n.kind, n.email ORDER BY n.name`,
      [org.id],
    );
    return r.rows;
  }

  /** Direct (not team) permissions of users and robots on the organization's repositories, by holder name. */
  async directPermissions(org: NamespaceRow, holderId?: number): Promise<Map<string, string[]>> {
    const r = await this.db.query<{ name: string; repository: string }>(
      `SELECT n.name, r.name AS repository FROM repository_permission p
         JOIN repository r ON r.id = p.repository_id JOIN namespace n ON n.id = p.user_id
        WHERE r.namespace_id = $1 AND ($2::bigint IS NULL OR p.user_id = $2) ORDER BY n.name, r.name`,
      [org.id, holderId ?? null],
    );
    const byName = new Map<string, string[]>();
    for (const x of r.rows) byName.set(x.name, [...(byName.get(x.name) ?? []), x.repository]);
    return byName;
  }

  /** Outside collaborators: users in no team of the organization holding a direct permission on one of its repositories. */
  async collaborators(org: NamespaceRow): Promise<{ name: string; email: string | null; repositories: string[] }[]> {
    const r = await this.db.query<{ name: string; email: string | null; repositories: string[] }>(
      `SELECT n.name, n.email, array_agg(r.name ORDER BY r.name) AS repositories
         FROM repository_permission p JOIN repository r ON r.id = p.repository_id JOIN namespace n ON n.id = p.user_id
        WHERE r.namespace_id = $1 AND n.kind = 'user'
          AND NOT EXISTS (SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $1 AND m.member_id = n.id)
        GROUP BY n.name, n.email ORDER BY n.name`,
      [org.id],
    );
    return r.rows;
  }

  /** Remove a member from every team of the organization. */
  async removeMember(org: NamespaceRow, member: NamespaceRow): Promise<void> {
    await this.db.tx(async (q) => {
      await q.query('DELETE FROM team_member WHERE member_id = $2 AND team_id IN (SELECT id FROM team WHERE org_id = $1)', [org.id, member.id]);
      await assertHasAdmin(q, org, 'Cannot remove user as they are the only organization admin');
    });
  }

  /** Organizations a user belongs to (any team), with whether they administer it. */
  async ofUser(userId: number): Promise<{ org: NamespaceRow; admin: boolean; creator: boolean }[]> {
    const r = await this.db.query<NamespaceRow & { is_admin: boolean; is_creator: boolean }>(
      `SELECT o.*, bool_or(t.role = 'admin') AS is_admin, bool_or(t.role IN ('admin', 'creator')) AS is_creator
         FROM team t JOIN team_member m ON m.team_id = t.id JOIN namespace o ON o.id = t.org_id
        WHERE m.member_id = $1 GROUP BY o.id ORDER BY o.name`,
      [userId],
    );
    return r.rows.map(({ is_admin, is_creator, ...org }) => ({ org: org as NamespaceRow, admin: is_admin, creator: is_creator }));
  }

  async list(afterName: string, limit: number): Promise<NamespaceRow[]> {
    const r = await this.db.query<NamespaceRow>('SELECT * FROM namespace WHERE kind = \'org\' AND name COLLATE "C" > $1 ORDER BY name COLLATE "C" LIMIT $2', [afterName, limit]);
    return r.rows;
  }
}

/**
 * An organization must keep at least one user in an admin team; checked inside the changing transaction.
 * `message` is the refusal's text where Quay has its own (removing the only admin from the organization).
 */
export async function assertHasAdmin(q: Queryable, org: NamespaceRow, message = `Organization ${org.name} must keep at least one admin`): Promise<void> {
  const r = await q.query(
    `SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id JOIN namespace n ON n.id = m.member_id
      WHERE t.org_id = $1 AND t.role = 'admin' AND n.kind = 'user' LIMIT 1`,
    [org.id],
  );
  if (r.rows.length === 0) throw invalid(message);
}
