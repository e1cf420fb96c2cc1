/**
 * The write gate: the ONE rule deciding whether a write may happen at all, whoever is allowed to make it.
 * Both protocols ask it on every write path (the permission resolver decides who may write; this decides
 * whether anything may be written now):
 *   - `REGISTRY_STATE: readonly` refuses every write of /v2 and /api/v1 (sign-in and the like excepted);
 *   - `DISABLE_PUSHES` refuses every write of /v2 (pushes and deletes), as Quay's check_pushes_disabled;
 *   - a repository's state: NORMAL takes writes; READ_ONLY none; MIRROR only pushes by the robot its
 *     mirror configuration names (`mirrorRobot`, supplied by the mirroring feature). On the REST API a
 *     repository that is not NORMAL takes no tag or label change at all, as Quay's
 *     disallow_for_non_normal_repositories.
 */
import type { Db, Queryable } from '../db/index.js';
import type { Principal } from '../auth/principal.js';
import { ReadOnly } from './errors.js';
import type { RepositoryRow } from './repositories.js';

export const REPOSITORY_STATES = ['NORMAL', 'READ_ONLY', 'MIRROR'] as const;
export type RepositoryState = (typeof REPOSITORY_STATES)[number];

/** Which protocol asks: the rules differ (DISABLE_PUSHES and mirror robots concern /v2 only); each protocol's error mapper words the refusal. */
export type WritePath = 'v2' | 'api';

/** The robot allowed to push into a repository in the MIRROR state, or null when it has no mirror. */
export type MirrorRobotLookup = (repositoryId: number, q: Queryable) => Promise<number | null>;

/** The text Quay answers with in read-only mode, on both protocols. */
export const READ_ONLY_MESSAGE = 'System is currently read-only. Pulls will succeed but all write operations are currently suspended.';
export const PUSHES_DISABLED_MESSAGE = 'Pushes to the registry are currently disabled. Please contact the administrator for more information.';

export class WriteGate {
  constructor(
    private readonly db: Db,
    private readonly config: { REGISTRY_STATE: 'normal' | 'readonly'; DISABLE_PUSHES: boolean },
    /** Replaced by the mirroring feature; without it no robot may push into a MIRROR repository. */
    private readonly mirrorRobot: MirrorRobotLookup = async () => null,
  ) {}

  /** The registry-wide refusal for a write on `path`, or null when the registry takes writes. */
  registryRefusal(path: WritePath): ReadOnly | null {
    if (this.config.REGISTRY_STATE === 'readonly') return new ReadOnly('registry_readonly', READ_ONLY_MESSAGE);
    if (path === 'v2' && this.config.DISABLE_PUSHES) return new ReadOnly('pushes_disabled', PUSHES_DISABLED_MESSAGE);
    return null;
  }

  /** Does the repository's state let this principal write into it (a repository about to be created is NORMAL)? */
  async stateAllows(p: Principal, repo: Pick<RepositoryRow, 'id' | 'state'> | null, path: WritePath, q: Queryable = this.db): Promise<boolean> {
    const state = repo?.state ?? 'NORMAL';
    if (state === 'NORMAL') return true;
    if (state === 'MIRROR' && path === 'v2' && p.kind === 'robot') return (await this.mirrorRobot(repo!.id, q)) === p.id;
    return false;
  }

  /** Throws ReadOnly unless `p` may write into `repo` (null: a repository the write creates) now. */
  async check(p: Principal, repo: Pick<RepositoryRow, 'id' | 'state' | 'name'> | null, path: WritePath, q: Queryable = this.db): Promise<void> {
    const refusal = this.registryRefusal(path);
    if (refusal) throw refusal;
    if (await this.stateAllows(p, repo, path, q)) return;
    const { name, state } = repo!;
    throw new ReadOnly('repository_state', state === 'MIRROR' ? `repository ${name} is mirrored: only its mirror robot may push` : `repository ${name} is in read-only mode`, {
      name,
      state,
    });
  }

  /** Sets a repository's state; returns false when the repository is gone. */
  async setState(repositoryId: number, state: RepositoryState, q: Queryable = this.db): Promise<boolean> {
    const r = await q.query('UPDATE repository SET state = $2 WHERE id = $1', [repositoryId, state]);
    return (r.rowCount ?? 0) > 0;
  }
}
