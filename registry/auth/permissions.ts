/**
 * THE permission resolver. Every decision about what a principal may do with a repository, a namespace, a
 * team or the registry as a whole is made here, for the distribution API, the token service and the REST
 * API alike. Routes ask; they never decide.
 *
 * The rules (Quay's):
 * - a user is admin of their own namespace and of every repository in it;
 * - in an organization, members of a team with role `admin` are org admins and admins of every repository;
 *   `creator` teams may create repositories; `member` teams get nothing implicit;
 * - explicit repository permissions (read/write/admin) go to users, robots and teams;
 * - a robot only ever holds permissions inside its owner's namespace;
 * - public repositories are readable by everyone (anonymous too, with FEATURE_ANONYMOUS_ACCESS);
 * - OAuth scopes cap the effective roles: repo:read/write/admin cap repository roles, repo:create and
 *   org:admin cap team roles (creator/admin), user:read/user:admin cap rights over one's own account,
 *   super:user is needed to act as superuser;
 * - superusers administer users and read everything in the superuser API; with
 *   FEATURE_SUPERUSERS_FULL_ACCESS they also act as admin on every namespace and repository;
 * - global read-only superusers (GLOBAL_READONLY_SUPER_USERS) read every repository and what the superuser
 *   API shows, and change nothing through it;
 * - with FEATURE_RESTRICTED_USERS, users not in RESTRICTED_USERS_WHITELIST (and not superusers) are
 *   restricted: in their own namespace they (and their robots) only read, and they create no organizations.
 */
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Principal, Scope } from './principal.js';
import type { RepoTarget } from '../model/repositories.js';
import type { NamespaceRow } from '../model/namespaces.js';
import type { WriteGate } from '../model/write_gate.js';

export type Role = 'read' | 'write' | 'admin';
export type TeamRole = 'member' | 'creator' | 'admin';
const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };
const ROLES: (Role | null)[] = [null, 'read', 'write', 'admin'];
const TEAM_RANK: Record<TeamRole, number> = { member: 1, creator: 2, admin: 3 };
const TEAM_ROLES: (TeamRole | null)[] = [null, 'member', 'creator', 'admin'];

export function atLeast(role: Role | null, needed: Role): boolean {
  return role !== null && RANK[role] >= RANK[needed];
}

function maxRole(a: Role | null, b: Role | null): Role | null {
  if (a === null) return b;
  if (b === null) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

function minRole(a: Role | null, b: Role | null): Role | null {
  if (a === null || b === null) return null;
  return RANK[a] <= RANK[b] ? a : b;
}

/** Registry actions a scope may ask for. `*` is Quay's "admin"; `delete` is the distribution spec's. */
export type RegistryAction = 'pull' | 'push' | 'delete' | '*';

/** The highest repository role a set of OAuth scopes allows; undefined scopes = no cap. */
function repoCap(scopes: ReadonlySet<Scope> | undefined): Role | null {
  if (!scopes) return 'admin';
  if (scopes.has('repo:admin')) return 'admin';
  if (scopes.has('repo:write')) return 'write';
  if (scopes.has('repo:read')) return 'read';
  return null;
}

/** The highest team role a set of OAuth scopes allows. */
function teamCap(scopes: ReadonlySet<Scope> | undefined): TeamRole | null {
  if (!scopes || scopes.has('org:admin')) return 'admin';
  if (scopes.has('repo:create')) return 'creator';
  return null;
}

function capTeam(role: TeamRole | null, cap: TeamRole | null): TeamRole | null {
  if (role === null || cap === null) return null;
  return TEAM_RANK[role] <= TEAM_RANK[cap] ? role : cap;
}

export class Permissions {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    /** The repository-state rule: push, delete and `*` are withheld where the state refuses writes. */
    private readonly writeGate: WriteGate,
  ) {}

  /** May this principal act as a superuser (superuser API)? OAuth tokens need the super:user scope. */
  isSuperuser(p: Principal): boolean {
    return this.config.FEATURE_SUPER_USERS && p.kind === 'user' && p.superuser && (!p.scopes || p.scopes.has('super:user'));
  }

  /** Is the principal a global read-only superuser (listed in GLOBAL_READONLY_SUPER_USERS)? */
  private globalReader(p: Principal): boolean {
    return this.config.FEATURE_SUPER_USERS && p.kind === 'user' && this.config.GLOBAL_READONLY_SUPER_USERS.includes(p.name);
  }

  /** May the principal read what the superuser API shows (users, organizations, every usage log)? */
  canReadAsSuperuser(p: Principal): boolean {
    return this.isSuperuser(p) || (this.globalReader(p) && this.hasScope(p, 'super:user'));
  }

  /**
   * Quay's allow_if_global_readonly_superuser: reads that Quay opens to global read-only superusers beyond
   * repositories (an organization's proxy cache configuration, a repository's mirror configuration).
   */
  isGlobalReadonlySuperuser(p: Principal): boolean {
    return this.globalRead(p) !== null;
  }

  /** Read on every repository for global read-only superusers, within their token's repo scopes. */
  private globalRead(p: Principal): Role | null {
    return this.globalReader(p) && p.kind === 'user' ? minRole('read', repoCap(p.scopes)) : null;
  }

  /**
   * FEATURE_RESTRICTED_USERS (Quay's is_restricted_user): a user is restricted unless listed in
   * RESTRICTED_USERS_WHITELIST (absent: every user is) or a superuser named in SUPER_USERS.
   */
  isRestrictedUserName(name: string): boolean {
    if (!this.config.FEATURE_RESTRICTED_USERS) return false;
    if (this.config.FEATURE_SUPER_USERS && this.config.SUPER_USERS.includes(name)) return false;
    return !(this.config.RESTRICTED_USERS_WHITELIST ?? []).includes(name);
  }

  /** Is `ns` the own namespace of a restricted user acting in it (the user, or one of their robots)? */
  private restrictedIn(p: Principal, ns: NamespaceRow): boolean {
    if (ns.kind !== 'user') return false;
    const own = (p.kind === 'user' && p.id === ns.id) || (p.kind === 'robot' && p.ownerId === ns.id);
    return own && this.isRestrictedUserName(ns.name);
  }

  /**
   * May the principal create an organization (the REST API, or a push with CREATE_NAMESPACE_ON_PUSH)? Users
   * only; not restricted users; with FEATURE_SUPERUSERS_ORG_CREATION_ONLY, superusers only.
   */
  mayCreateOrganization(p: Principal): boolean {
    if (p.kind !== 'user') return false;
    if (this.config.FEATURE_SUPERUSERS_ORG_CREATION_ONLY && !this.isSuperuser(p)) return false;
    return !this.isRestrictedUserName(p.name);
  }

  /** May the principal create, change or delete robots of this namespace (its admins; not a restricted user's own)? */
  async canManageRobots(p: Principal, ns: NamespaceRow): Promise<boolean> {
    return !this.restrictedIn(p, ns) && (await this.canAdminNamespace(p, ns));
  }

  /** Superusers with FEATURE_SUPERUSERS_FULL_ACCESS act as admin of every namespace and repository. */
  fullAccessSuperuser(p: Principal): boolean {
    return this.isSuperuser(p) && this.config.FEATURE_SUPERUSERS_FULL_ACCESS;
  }

  /** Does the principal's token carry `scope` (or one that implies it)? Full logins carry every scope. */
  hasScope(p: Principal, scope: Scope): boolean {
    if (p.kind !== 'user') return false;
    if (!p.scopes) return true;
    if (p.scopes.has(scope)) return true;
    if (scope === 'repo:read') return p.scopes.has('repo:write') || p.scopes.has('repo:admin');
    if (scope === 'repo:write') return p.scopes.has('repo:admin');
    if (scope === 'user:read') return p.scopes.has('user:admin');
    return false;
  }

  /** The team role a principal holds in an organization (its highest team), capped by its scopes. */
  async orgRole(p: Principal, org: NamespaceRow | null, q: Queryable = this.db): Promise<TeamRole | null> {
    if (!org || org.kind !== 'org') return null;
    if (p.kind !== 'user' && p.kind !== 'robot') return null;
    if (p.kind === 'robot' && p.ownerId !== org.id) return null;
    const r = await q.query<{ rank: number | null }>(
      `SELECT max(CASE t.role WHEN 'admin' THEN 3 WHEN 'creator' THEN 2 ELSE 1 END) AS rank
         FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $1 AND m.member_id = $2`,
      [org.id, p.id],
    );
    const raw = TEAM_ROLES[r.rows[0]?.rank ?? 0] ?? null;
    return capTeam(raw, p.kind === 'user' ? teamCap(p.scopes) : 'admin');
  }

  /**
   * May the principal administer this namespace (its teams, robots, applications, default permissions,
   * logs)? A user administers their own namespace (user:admin scope); an organization is administered by
   * its admin teams (org:admin scope) and by full-access superusers. Robots never administer anything.
   */
  async canAdminNamespace(p: Principal, ns: NamespaceRow | null, q: Queryable = this.db): Promise<boolean> {
    if (!ns || p.kind !== 'user') return false;
    if (this.fullAccessSuperuser(p) && ns.kind !== 'robot') return true;
    if (ns.kind === 'user') return ns.id === p.id && this.hasScope(p, 'user:admin');
    if (ns.kind === 'org') return (await this.orgRole(p, ns, q)) === 'admin';
    return false;
  }

  /** Is the principal in any team of the organization (or an admin of it)? */
  async isOrgMember(p: Principal, org: NamespaceRow | null, q: Queryable = this.db): Promise<boolean> {
    if (this.fullAccessSuperuser(p) && org?.kind === 'org') return true;
    return (await this.orgRole(p, org, q)) !== null;
  }

  /** May the principal see a team's members? Org admins see every team; members see their own teams. */
  async canViewTeam(p: Principal, org: NamespaceRow, teamId: number, q: Queryable = this.db): Promise<boolean> {
    if (await this.canAdminNamespace(p, org, q)) return true;
    if (p.kind !== 'user' || teamCap(p.scopes) === null) return false;
    const r = await q.query('SELECT 1 FROM team_member WHERE team_id = $1 AND member_id = $2', [teamId, p.id]);
    return r.rows.length > 0;
  }

  /**
   * The role a principal holds on a repository; null when it holds none. For a repository that does not exist
   * yet, the role it would hold there by virtue of the namespace (its owner and org admins would be admin), so
   * that a first push may check for blobs before anything exists.
   */
  async repositoryRole(p: Principal, target: RepoTarget, q: Queryable = this.db): Promise<Role | null> {
    const { repo, namespace } = target;
    if (!namespace) return null;
    const publicRead: Role | null = repo?.visibility === 'public' && (p.kind !== 'anonymous' || this.config.FEATURE_ANONYMOUS_ACCESS) ? 'read' : null;
    if (p.kind === 'anonymous') return publicRead;
    if (p.kind === 'token') return maxRole(repo && repo.id === p.repositoryId ? p.role : null, publicRead);
    if (this.fullAccessSuperuser(p)) return 'admin';
    if (p.kind === 'robot' && p.ownerId !== namespace.id) return publicRead;
    let raw: Role | null = p.kind === 'user' && namespace.id === p.id ? 'admin' : null;
    if (raw === null) {
      const r = await q.query<{ rank: number | null }>(
        `SELECT max(rank) AS rank FROM (
           SELECT CASE rp.role WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END AS rank
             FROM repository_permission rp
            WHERE rp.repository_id = $2 AND (rp.user_id = $1 OR rp.team_id IN (SELECT team_id FROM team_member WHERE member_id = $1))
           UNION ALL
           SELECT 3 FROM team t JOIN team_member m ON m.team_id = t.id
            WHERE t.org_id = $3 AND t.role = 'admin' AND m.member_id = $1
         ) x`,
        [p.id, repo?.id ?? -1, namespace.id],
      );
      raw = ROLES[r.rows[0]?.rank ?? 0] ?? null;
    }
    const scoped = p.kind === 'user' ? minRole(raw, repoCap(p.scopes)) : raw;
    const capped = this.restrictedIn(p, namespace) ? minRole(scoped, 'read') : scoped;
    return maxRole(maxRole(capped, publicRead), this.globalRead(p));
  }

  /**
   * Quay's pull-through right: in a proxy cache organization (FEATURE_PROXY_CACHE), its members (and its
   * robots) may pull any repository, including one the pull is about to create from the upstream.
   */
  async canPullThrough(p: Principal, target: RepoTarget, q: Queryable = this.db): Promise<boolean> {
    const ns = target.namespace;
    if (!this.config.FEATURE_PROXY_CACHE || !ns || ns.kind !== 'org' || (p.kind !== 'user' && p.kind !== 'robot')) return false;
    if (p.kind === 'user' && repoCap(p.scopes) === null) return false;
    const proxy = await q.query('SELECT 1 FROM proxy_cache_config WHERE namespace_id = $1', [ns.id]);
    if (proxy.rows.length === 0) return false;
    return p.kind === 'robot' ? p.ownerId === ns.id : this.isOrgMember(p, ns, q);
  }

  /**
   * May the principal create repositories in this namespace? Its owner (with repo:create), org admins and
   * members of creator teams (robots too, in their own organization), full-access superusers.
   */
  async canCreateIn(p: Principal, namespace: NamespaceRow | null, q: Queryable = this.db): Promise<boolean> {
    if (!namespace || namespace.kind === 'robot') return false;
    if (p.kind !== 'user' && p.kind !== 'robot') return false;
    if (this.fullAccessSuperuser(p)) return true;
    if (this.restrictedIn(p, namespace)) return false;
    if (p.kind === 'user' && namespace.id === p.id) return teamCap(p.scopes) !== null;
    const role = await this.orgRole(p, namespace, q);
    return role === 'creator' || role === 'admin';
  }

  /**
   * May `p` give `subject` (a user or robot) a role on a repository of `namespace`? Callers must already be
   * repository admins; this adds the rules about who may receive permissions: robots only in their own
   * namespace, never the namespace owner (always admin), no organizations.
   */
  grantProblem(subject: NamespaceRow, namespace: NamespaceRow): string | null {
    if (subject.kind === 'org') return 'Cannot grant permissions to an organization';
    if (subject.kind === 'robot' && subject.robot_owner_id !== namespace.id) {
      return `Cannot add robot ${subject.name} under namespace ${namespace.name}`;
    }
    if (subject.id === namespace.id) return 'Namespace owner must always be admin.';
    return null;
  }

  /**
   * The registry actions granted out of `requested` (the token service's downscoping): pull needs read,
   * push and delete need write (push may also create the repository), `*` needs admin.
   */
  async registryActions(p: Principal, target: RepoTarget, requested: readonly string[]): Promise<RegistryAction[]> {
    const role = await this.repositoryRole(p, target);
    const writable = await this.writeGate.stateAllows(p, target.repo, 'v2');
    const granted: RegistryAction[] = [];
    for (const action of new Set(requested)) {
      switch (action) {
        case 'pull':
          if (atLeast(role, 'read') || (await this.canPullThrough(p, target))) granted.push('pull');
          break;
        case 'push':
          if (target.repo ? atLeast(role, 'write') && writable : await this.canCreateIn(p, target.namespace)) granted.push('push');
          break;
        case 'delete':
          if (atLeast(role, 'write') && writable) granted.push('delete');
          break;
        case '*':
          if (atLeast(role, 'admin') && writable) granted.push('*');
          break;
      }
    }
    return granted;
  }

  /**
   * A SQL condition true for the repositories (alias `r`) the principal may read, for listings. Mirrors
   * repositoryRole: public ones (when `includePublic`), own namespace, explicit user/team permissions,
   * org admin teams; robots only in their namespace; everything for full-access and global read-only superusers.
   */
  visibleRepositories(p: Principal, params: unknown[], includePublic: boolean): string {
    const pub = includePublic && (p.kind !== 'anonymous' || this.config.FEATURE_ANONYMOUS_ACCESS) ? "r.visibility = 'public'" : 'false';
    if (p.kind === 'anonymous') return pub;
    if (p.kind === 'token') {
      params.push(p.repositoryId);
      return `(${pub} OR r.id = $${params.length})`;
    }
    if (this.fullAccessSuperuser(p) || this.globalRead(p)) return 'true';
    if (p.kind === 'user' && repoCap(p.scopes) === null) return pub;
    params.push(p.id);
    const me = `$${params.length}`;
    const granted = `(r.namespace_id = ${me}
      OR EXISTS (SELECT 1 FROM repository_permission rp WHERE rp.repository_id = r.id
                  AND (rp.user_id = ${me} OR rp.team_id IN (SELECT team_id FROM team_member WHERE member_id = ${me})))
      OR EXISTS (SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id
                  WHERE t.org_id = r.namespace_id AND t.role = 'admin' AND m.member_id = ${me}))`;
    if (p.kind === 'robot') {
      params.push(p.ownerId);
      return `(${pub} OR (r.namespace_id = $${params.length} AND ${granted}))`;
    }
    return `(${pub} OR ${granted})`;
  }

  /** `namespace/name` of the repositories a principal may see, in byte order, after `last`, at most `limit`. */
  async catalog(p: Principal, last: string, limit: number): Promise<string[]> {
    const params: unknown[] = [];
    const visible = this.visibleRepositories(p, params, this.config.FEATURE_PUBLIC_CATALOG);
    params.push(last, limit);
    const r = await this.db.query<{ full: string }>(
      `SELECT (n.name || '/' || r.name) COLLATE "C" AS full
         FROM repository r JOIN namespace n ON n.id = r.namespace_id
        WHERE ${visible} AND (n.name || '/' || r.name) COLLATE "C" > $${params.length - 1}
        ORDER BY 1 LIMIT $${params.length}`,
      params,
    );
    return r.rows.map((x) => x.full);
  }
}
