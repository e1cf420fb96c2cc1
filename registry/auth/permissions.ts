/**
 * THE permission resolver. Every decision about what a principal may do with a repository or namespace is
 * made here, for the distribution API, the token service and the REST API alike.
 */
import type { Db } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Principal } from './principal.js';
import type { RepoTarget } from '../model/repositories.js';
import type { NamespaceRow } from '../model/namespaces.js';

export type Role = 'read' | 'write' | 'admin';
const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

export function atLeast(role: Role | null, needed: Role): boolean {
  return role !== null && RANK[role] >= RANK[needed];
}

/** Registry actions a scope may ask for. `*` is Quay's "admin"; `delete` is the distribution spec's. */
export type RegistryAction = 'pull' | 'push' | 'delete' | '*';

export class Permissions {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
  ) {}

  private fullAccessSuperuser(p: Principal): boolean {
    return p.kind === 'user' && p.superuser && this.config.FEATURE_SUPERUSERS_FULL_ACCESS;
  }

  /**
   * The role a principal holds on a repository; null when it holds none. For a repository that does not exist
   * yet, the role it would hold there by virtue of the namespace (its owner would be admin), so that a first
   * push may check for blobs before anything exists.
   */
  async repositoryRole(p: Principal, target: RepoTarget): Promise<Role | null> {
    const { repo, namespace } = target;
    if (!namespace) return null;
    let role: Role | null = null;
    if (p.kind === 'user' && (namespace.id === p.id || this.fullAccessSuperuser(p))) role = 'admin';
    if (role === null && repo?.visibility === 'public' && (p.kind !== 'anonymous' || this.config.FEATURE_ANONYMOUS_ACCESS)) role = 'read';
    return role;
  }

  /** May the principal create repositories in this namespace? */
  async canCreateIn(p: Principal, namespace: NamespaceRow | null): Promise<boolean> {
    if (!namespace || p.kind === 'anonymous') return false;
    if (p.kind === 'user' && namespace.id === p.id) return true;
    return this.fullAccessSuperuser(p) && namespace.kind !== 'robot';
  }

  /**
   * The registry actions granted out of `requested` (the token service's downscoping): pull needs read,
   * push and delete need write (push may also create the repository), `*` needs admin.
   */
  async registryActions(p: Principal, target: RepoTarget, requested: readonly string[]): Promise<RegistryAction[]> {
    const role = await this.repositoryRole(p, target);
    // A repository that does not exist yet is created in the NORMAL state by the push.
    const normal = (target.repo?.state ?? 'NORMAL') === 'NORMAL';
    const granted: RegistryAction[] = [];
    for (const action of new Set(requested)) {
      switch (action) {
        case 'pull':
          if (atLeast(role, 'read')) granted.push('pull');
          break;
        case 'push':
          if (target.repo ? atLeast(role, 'write') && normal : await this.canCreateIn(p, target.namespace)) granted.push('push');
          break;
        case 'delete':
          if (atLeast(role, 'write') && normal) granted.push('delete');
          break;
        case '*':
          if (atLeast(role, 'admin') && normal) granted.push('*');
          break;
      }
    }
    return granted;
  }

  /** `namespace/name` of the repositories a principal may see, in byte order, after `last`, at most `limit`. */
  async catalog(p: Principal, last: string, limit: number): Promise<string[]> {
    const userId = p.kind === 'user' ? p.id : -1;
    const all = this.fullAccessSuperuser(p);
    const publicToo = this.config.FEATURE_PUBLIC_CATALOG && (p.kind !== 'anonymous' || this.config.FEATURE_ANONYMOUS_ACCESS);
    const r = await this.db.query<{ full: string }>(
      `SELECT n.name || '/' || r.name AS full
         FROM repository r JOIN namespace n ON n.id = r.namespace_id
        WHERE (r.namespace_id = $1 OR $2 OR ($3 AND r.visibility = 'public'))
          AND (n.name || '/' || r.name) COLLATE "C" > $4
        ORDER BY full COLLATE "C" LIMIT $5`,
      [userId, all, publicToo, last, limit],
    );
    return r.rows.map((x) => x.full);
  }
}
