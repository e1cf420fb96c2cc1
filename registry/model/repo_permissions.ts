/**
 * Repository permissions (users, robots, teams), default permissions of organizations (prototypes), and
 * repository creation with both: the creating user becomes admin and the organization's defaults apply,
 * in the transaction that creates the repository.
 */
import type { Db, Queryable } from '../db/index.js';
import type { Principal } from '../auth/principal.js';
import type { Role } from '../auth/permissions.js';
import type { NamespaceRow } from './namespaces.js';
import type { Repositories, RepositoryRow } from './repositories.js';
import type { TeamRow } from './teams.js';
import { invalid, missing } from './orgs.js';

export interface UserPermission {
  name: string;
  kind: 'user' | 'robot';
  email: string | null;
  role: Role;
  is_org_member: boolean;
}

/** A user or robot named by a default permission, with whether it belongs to a team of the organization. */
export interface PrototypeUser {
  name: string;
  kind: 'user' | 'robot';
  email: string | null;
  in_org: boolean;
}

export interface PrototypeRow {
  id: string;
  role: Role;
  activating_user: PrototypeUser | null;
  /** Exactly one of the two. */
  delegate_user: PrototypeUser | null;
  delegate_team: string | null;
}

export class RepositoryPermissions {
  constructor(
    private readonly db: Db,
    private readonly repositories: Repositories,
  ) {}

  /** Direct permissions of users and robots on a repository. */
  async users(repo: RepositoryRow): Promise<UserPermission[]> {
    const r = await this.db.query<UserPermission>(
      `SELECT n.name, n.kind, n.email, p.role,
              EXISTS (SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $2 AND m.member_id = n.id) AS is_org_member
         FROM repository_permission p JOIN namespace n ON n.id = p.user_id WHERE p.repository_id = $1 ORDER BY n.name`,
      [repo.id, repo.namespace_id],
    );
    return r.rows;
  }

  async teams(repo: RepositoryRow): Promise<{ name: string; role: Role }[]> {
    const r = await this.db.query<{ name: string; role: Role }>(
      'SELECT t.name, p.role FROM repository_permission p JOIN team t ON t.id = p.team_id WHERE p.repository_id = $1 ORDER BY t.name',
      [repo.id],
    );
    return r.rows;
  }

  async userRole(repo: RepositoryRow, subject: NamespaceRow): Promise<Role | null> {
    const r = await this.db.query<{ role: Role }>('SELECT role FROM repository_permission WHERE repository_id = $1 AND user_id = $2', [repo.id, subject.id]);
    return r.rows[0]?.role ?? null;
  }

  async teamRole(repo: RepositoryRow, team: TeamRow): Promise<Role | null> {
    const r = await this.db.query<{ role: Role }>('SELECT role FROM repository_permission WHERE repository_id = $1 AND team_id = $2', [repo.id, team.id]);
    return r.rows[0]?.role ?? null;
  }

  /** Roles a user holds on a repository directly and through teams (the "transitive" view). */
  async transitive(repo: RepositoryRow, subject: NamespaceRow): Promise<Role[]> {
    const r = await this.db.query<{ role: Role }>(
      `SELECT p.role FROM repository_permission p
        WHERE p.repository_id = $1 AND (p.user_id = $2 OR p.team_id IN (SELECT team_id FROM team_member WHERE member_id = $2))`,
      [repo.id, subject.id],
    );
    return r.rows.map((x) => x.role);
  }

  async setUser(repo: RepositoryRow, subject: Pick<NamespaceRow, 'id'>, role: Role, q: Queryable = this.db): Promise<void> {
    await q.query(
      `INSERT INTO repository_permission (repository_id, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (repository_id, user_id) WHERE user_id IS NOT NULL DO UPDATE SET role = EXCLUDED.role`,
      [repo.id, subject.id, role],
    );
  }

  async setTeam(repo: RepositoryRow, team: TeamRow, role: Role, q: Queryable = this.db): Promise<void> {
    if (team.org_id !== repo.namespace_id) throw invalid(`Team ${team.name} does not belong to the repository's organization`);
    await q.query(
      `INSERT INTO repository_permission (repository_id, team_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (repository_id, team_id) WHERE team_id IS NOT NULL DO UPDATE SET role = EXCLUDED.role`,
      [repo.id, team.id, role],
    );
  }

  async deleteUser(repo: RepositoryRow, subject: NamespaceRow): Promise<void> {
    const r = await this.db.query('DELETE FROM repository_permission WHERE repository_id = $1 AND user_id = $2', [repo.id, subject.id]);
    if (r.rowCount === 0) throw missing(`${subject.name} has no permission on this repository`);
  }

  async deleteTeam(repo: RepositoryRow, team: TeamRow): Promise<void> {
    const r = await this.db.query('DELETE FROM repository_permission WHERE repository_id = $1 AND team_id = $2', [repo.id, team.id]);
    if (r.rowCount === 0) throw missing(`Team ${team.name} has no permission on this repository`);
  }

  /**
   * Create a repository (API or first push). A creating user or robot becomes its admin; in an organization,
   * the default permissions that apply to the creator are added. All in one transaction.
   */
  async createRepository(
    ns: NamespaceRow,
    name: string,
    opts: { visibility: 'public' | 'private'; description?: string },
    creator: Principal,
  ): Promise<{ repo: RepositoryRow; created: boolean }> {
    return this.db.tx(async (q) => {
      const res = await this.repositories.create(ns.id, name, opts, q);
      if (!res.created) return res;
      if (creator.kind === 'user' || creator.kind === 'robot') {
        await this.setUser(res.repo, creator, 'admin', q);
        if (ns.kind === 'org') await this.applyPrototypes(q, ns, res.repo, creator.id);
      }
      return res;
    });
  }

  private async applyPrototypes(q: Queryable, org: NamespaceRow, repo: RepositoryRow, creatorId: number): Promise<void> {
    // The strongest role wins when several defaults name the same delegate; the creator keeps admin.
    await q.query(
      `INSERT INTO repository_permission (repository_id, user_id, role)
       SELECT $1, p.delegate_user_id, (array_agg(p.role ORDER BY CASE p.role WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END DESC))[1]
         FROM permission_prototype p
        WHERE p.org_id = $2 AND p.delegate_user_id IS NOT NULL AND p.delegate_user_id <> $3
          AND (p.activating_user_id IS NULL OR p.activating_user_id = $3)
        GROUP BY p.delegate_user_id
       ON CONFLICT (repository_id, user_id) WHERE user_id IS NOT NULL DO NOTHING`,
      [repo.id, org.id, creatorId],
    );
    await q.query(
      `INSERT INTO repository_permission (repository_id, team_id, role)
       SELECT $1, p.delegate_team_id, (array_agg(p.role ORDER BY CASE p.role WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END DESC))[1]
         FROM permission_prototype p
        WHERE p.org_id = $2 AND p.delegate_team_id IS NOT NULL AND (p.activating_user_id IS NULL OR p.activating_user_id = $3)
        GROUP BY p.delegate_team_id
       ON CONFLICT (repository_id, team_id) WHERE team_id IS NOT NULL DO NOTHING`,
      [repo.id, org.id, creatorId],
    );
  }

  async prototypes(org: NamespaceRow): Promise<PrototypeRow[]> {
    type Row = { uuid: string; role: Role; team_name: string | null } & Record<`${'a' | 'd'}_${'name' | 'kind' | 'email'}`, string | null> & Record<`${'a' | 'd'}_in_org`, boolean>;
    const inOrg = (alias: string) => `EXISTS (SELECT 1 FROM team t2 JOIN team_member m ON m.team_id = t2.id WHERE t2.org_id = p.org_id AND m.member_id = ${alias}.id)`;
    const r = await this.db.query<Row>(
      `SELECT p.uuid, p.role, t.name AS team_name,
              a.name AS a_name, a.kind AS a_kind, a.email AS a_email, ${inOrg('a')} AS a_in_org,
              du.name AS d_name, du.kind AS d_kind, du.email AS d_email, ${inOrg('du')} AS d_in_org
         FROM permission_prototype p
         LEFT JOIN namespace a ON a.id = p.activating_user_id
         LEFT JOIN namespace du ON du.id = p.delegate_user_id
         LEFT JOIN team t ON t.id = p.delegate_team_id
        WHERE p.org_id = $1 ORDER BY p.id`,
      [org.id],
    );
    const user = (x: Row, k: 'a' | 'd'): PrototypeUser | null =>
      x[`${k}_name`] ? { name: x[`${k}_name`]!, kind: x[`${k}_kind`] === 'robot' ? 'robot' : 'user', email: x[`${k}_email`], in_org: x[`${k}_in_org`] } : null;
    return r.rows.map((x) => ({ id: x.uuid, role: x.role, activating_user: user(x, 'a'), delegate_user: user(x, 'd'), delegate_team: x.team_name }));
  }

  async createPrototype(org: NamespaceRow, input: { role: Role; delegateUser?: NamespaceRow; delegateTeam?: TeamRow; activatingUser?: NamespaceRow }): Promise<PrototypeRow> {
    if (input.delegateUser?.kind === 'robot' && input.delegateUser.robot_owner_id !== org.id) {
      throw invalid(`Cannot add robot ${input.delegateUser.name} under namespace ${org.name}`);
    }
    if (input.delegateUser?.kind === 'org') throw invalid('The delegate must be a user, a robot or a team');
    if (input.activatingUser && input.activatingUser.kind !== 'user') throw invalid('The activating user must be a user');
    const r = await this.db.query<{ uuid: string }>(
      `INSERT INTO permission_prototype (org_id, activating_user_id, delegate_user_id, delegate_team_id, role) VALUES ($1, $2, $3, $4, $5) RETURNING uuid`,
      [org.id, input.activatingUser?.id ?? null, input.delegateUser?.id ?? null, input.delegateTeam?.id ?? null, input.role],
    );
    return (await this.prototypes(org)).find((p) => p.id === r.rows[0].uuid)!;
  }

  async updatePrototype(org: NamespaceRow, id: string, role: Role): Promise<PrototypeRow> {
    const r = await this.db.query('UPDATE permission_prototype SET role = $3 WHERE org_id = $1 AND uuid::text = $2', [org.id, id, role]);
    if (r.rowCount === 0) throw missing('Unknown permission prototype');
    return (await this.prototypes(org)).find((p) => p.id === id)!;
  }

  async deletePrototype(org: NamespaceRow, id: string): Promise<void> {
    const r = await this.db.query('DELETE FROM permission_prototype WHERE org_id = $1 AND uuid::text = $2', [org.id, id]);
    if (r.rowCount === 0) throw missing('Unknown permission prototype');
  }
}
