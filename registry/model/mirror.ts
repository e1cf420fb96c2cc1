/**
 * Repository mirroring configuration and sync state (user guide 17.4.9; Quay's RepoMirrorConfig): the
 * validated configuration, its API view, sync-now/cancel, and the lease that keeps two workers from
 * syncing one repository at once.
 *
 * Lease: a worker claims a due configuration by moving it to SYNCING with a short expiry and a new
 * transaction id, and renews the expiry while it works. A dead worker's claim lapses and another worker
 * takes it over (Quay leaves such a row stuck). Releases and renewals are conditional on the transaction
 * id, so a sync-cancel (which rolls the id) always wins.
 */
import type { Db, Queryable } from '../db/index.js';
import type { SecretBox } from '../auth/secrets.js';
import type { NamespaceRow } from './namespaces.js';
import type { RepositoryRow } from './repositories.js';
import type { WriteGate } from './write_gate.js';
import type { Events } from './events.js';
import type { QuayConfig } from '../../config/index.js';

export const MIRROR_ARCHITECTURES = ['amd64', 'arm64', 'ppc64le', 's390x'] as const;
export const MIRROR_RETRIES = 3;
/** How long a claim lives without renewal; a worker renews it every third of that. */
export const MIRROR_LEASE_SECONDS = 30;
/**
 * NOTIFY channel woken when a configuration is created or changed and at sync-now, so idle mirror workers
 * look for due work at once instead of at their next REPO_MIRROR_INTERVAL pass.
 */
export const MIRROR_CHANNEL = 'repo_mirror_changed';

export type MirrorStatus = 'CANCEL' | 'FAIL' | 'NEVER_RUN' | 'SUCCESS' | 'SYNCING' | 'SYNC_NOW';

export interface MirrorRow {
  repository_id: number;
  is_enabled: boolean;
  external_reference: string;
  username_enc: string | null;
  password_enc: string | null;
  verify_tls: boolean;
  unsigned_images: boolean;
  http_proxy: string | null;
  https_proxy: string | null;
  no_proxy: string | null;
  robot_id: number;
  tag_rules: string[];
  architecture_filter: string[];
  sync_interval: number;
  sync_start_date: Date | null;
  sync_expiration_date: Date | null;
  sync_retries_remaining: number;
  sync_status: MirrorStatus;
  sync_transaction_id: string;
  skopeo_timeout_interval: number;
  sync_worker: string | null;
}

/** A mirror configuration problem; the API answers 400 with the message (Quay's texts). */
export class MirrorConfigError extends Error {}

/** `host[:port]/path/repo`: no scheme, no tag or digest, at least one path segment. */
export function parseExternalReference(value: unknown): { host: string; repository: string } {
  if (typeof value !== 'string' || !value.trim()) throw new MirrorConfigError('External registry reference must include a repository path');
  const v = value.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new MirrorConfigError('External registry reference must not include a URL scheme');
  if (/[\s\0@]/.test(v)) throw new MirrorConfigError('The provided registry location is not allowed');
  const slash = v.indexOf('/');
  if (slash < 0 || slash === v.length - 1) throw new MirrorConfigError('External registry reference must include a repository path');
  const host = v.slice(0, slash).toLowerCase();
  const repository = v.slice(slash + 1);
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    throw new MirrorConfigError('The provided registry location is not allowed');
  }
  if (url.host !== host) throw new MirrorConfigError('The provided registry location is not allowed');
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new MirrorConfigError('External registry reference must be host[:port]/repository without a tag or digest');
  }
  return { host, repository };
}

/** Quay's date format for sync_start_date: `%Y-%m-%dT%H:%M:%SZ`, UTC. */
export function parseMirrorDate(value: unknown): Date {
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(value) : null;
  const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
  if (!m || !d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 19) + 'Z' !== value) throw new MirrorConfigError('Incorrect DateTime format for sync_start_date.');
  return d;
}

export function formatMirrorDate(d: Date | null): string | null {
  return d ? `${d.toISOString().slice(0, 19)}Z` : null;
}

/** A shell-style glob (Python's fnmatch: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive) matched against a whole tag. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        else if (body.startsWith('^')) body = `\\${body}`;
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** The message of a sync's events and log entries (Quay's): `'<external_reference>' with tag pattern '<p1,p2>'`. */
export function syncMessage(row: Pick<MirrorRow, 'external_reference' | 'tag_rules'>): string {
  return `'${row.external_reference}' with tag pattern '${row.tag_rules.join(',')}'`;
}

/** The repository notification a sync outcome fires (Quay spawns these with `{message}` only). */
export interface SyncEvent {
  kind: 'repo_mirror_sync_success' | 'repo_mirror_sync_failed';
  message: string;
}

export function matchingTags(tags: string[], rules: string[]): string[] {
  const res = rules.map(globToRegExp);
  return [...new Set(tags.filter((t) => res.some((r) => r.test(t))))].sort();
}

/** The write gate's question: which robot may push into a MIRROR repository (FEATURE_REPO_MIRROR on)? */
export async function mirrorRobot(config: Pick<QuayConfig, 'FEATURE_REPO_MIRROR'>, repositoryId: number, q: Queryable): Promise<number | null> {
  if (!config.FEATURE_REPO_MIRROR) return null;
  const r = await q.query<{ robot_id: number }>('SELECT robot_id FROM repo_mirror_config WHERE repository_id = $1', [repositoryId]);
  return r.rows[0]?.robot_id ?? null;
}

export class RepoMirrors {
  constructor(
    private readonly db: Db,
    readonly box: SecretBox,
    private readonly writeGate: WriteGate,
    private readonly events: Events,
  ) {}

  /** Emit a sync event for the mirrored repository in the transaction `q` (so it exists exactly when the state change commits). */
  private async emit(q: Queryable, repositoryId: number, kind: string, message: string): Promise<void> {
    const r = await q.query<{ name: string; namespace: string }>('SELECT r.name, n.name AS namespace FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.id = $1', [
      repositoryId,
    ]);
    if (r.rows[0]) await this.events.emitRepository(q, kind, { id: repositoryId, ...r.rows[0] }, { message });
  }

  async get(repositoryId: number, q: Queryable = this.db): Promise<MirrorRow | null> {
    return (await q.query<MirrorRow>('SELECT * FROM repo_mirror_config WHERE repository_id = $1', [repositoryId])).rows[0] ?? null;
  }

  /** Quay's view: credentials never returned (the username is, as Quay does), dates in Quay's format. */
  async view(row: MirrorRow): Promise<Record<string, unknown>> {
    const robot = await this.db.query<{ name: string }>('SELECT name FROM namespace WHERE id = $1', [row.robot_id]);
    const username = row.username_enc ? (this.box.open(row.username_enc) ?? '(invalid. please re-enter)') : null;
    const proxy: Record<string, string | null> = {};
    if (row.http_proxy !== null || row.https_proxy !== null || row.no_proxy !== null) {
      Object.assign(proxy, { http_proxy: row.http_proxy, https_proxy: row.https_proxy, no_proxy: row.no_proxy });
    }
    return {
      is_enabled: row.is_enabled,
      mirror_type: 'PULL',
      external_reference: row.external_reference,
      external_registry_username: username,
      external_registry_config: { verify_tls: row.verify_tls, unsigned_images: row.unsigned_images, proxy },
      sync_interval: row.sync_interval,
      sync_start_date: formatMirrorDate(row.sync_start_date),
      sync_expiration_date: formatMirrorDate(row.sync_expiration_date),
      sync_retries_remaining: row.sync_retries_remaining,
      sync_status: row.sync_status,
      root_rule: { rule_kind: 'tag_glob_csv', rule_value: row.tag_rules },
      robot_username: robot.rows[0]?.name ?? null,
      skopeo_timeout_interval: row.skopeo_timeout_interval,
      architecture_filter: row.architecture_filter,
    };
  }

  /**
   * Create the configuration, put the repository in MIRROR state and give the robot `write` on it (when it
   * has less), in one transaction. False when the repository already has one.
   */
  async create(
    repo: RepositoryRow,
    robot: NamespaceRow,
    c: Omit<MirrorRow, 'repository_id' | 'robot_id' | 'sync_expiration_date' | 'sync_retries_remaining' | 'sync_status' | 'sync_transaction_id' | 'sync_worker'>,
  ): Promise<boolean> {
    return this.db.tx(async (q) => {
      const r = await q.query(
        `INSERT INTO repo_mirror_config (repository_id, is_enabled, external_reference, username_enc, password_enc, verify_tls, unsigned_images,
           http_proxy, https_proxy, no_proxy, robot_id, tag_rules, architecture_filter, sync_interval, sync_start_date, skopeo_timeout_interval)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (repository_id) DO NOTHING`,
        [
          repo.id,
          c.is_enabled,
          c.external_reference,
          c.username_enc,
          c.password_enc,
          c.verify_tls,
          c.unsigned_images,
          c.http_proxy,
          c.https_proxy,
          c.no_proxy,
          robot.id,
          JSON.stringify(c.tag_rules),
          JSON.stringify(c.architecture_filter),
          c.sync_interval,
          c.sync_start_date,
          c.skopeo_timeout_interval,
        ],
      );
      if (r.rowCount === 0) return false;
      await this.writeGate.setState(repo.id, 'MIRROR', q);
      await this.grantRobotWrite(q, repo.id, robot.id);
      await this.wake(q);
      return true;
    });
  }

  async grantRobotWrite(q: Queryable, repositoryId: number, robotId: number): Promise<void> {
    await q.query(
      `INSERT INTO repository_permission (repository_id, user_id, role) VALUES ($1, $2, 'write')
       ON CONFLICT (repository_id, user_id) WHERE user_id IS NOT NULL DO UPDATE SET role = 'write' WHERE repository_permission.role = 'read'`,
      [repositoryId, robotId],
    );
  }

  /** Apply changed columns (already validated); a running sync keeps its claim and the next run uses them. */
  async update(repositoryId: number, changes: Partial<Record<keyof MirrorRow, unknown>>): Promise<void> {
    const cols = Object.keys(changes);
    if (cols.length === 0) return;
    const sets = cols.map((c, i) => `${c} = $${i + 2}`);
    const values = cols.map((c) => {
      const v = changes[c as keyof MirrorRow];
      return c === 'tag_rules' || c === 'architecture_filter' ? JSON.stringify(v) : v;
    });
    await this.db.tx(async (q) => {
      await q.query(`UPDATE repo_mirror_config SET ${sets.join(', ')} WHERE repository_id = $1`, [repositoryId, ...values]);
      if (changes.robot_id !== undefined) await this.grantRobotWrite(q, repositoryId, changes.robot_id as number);
      await this.wake(q);
    });
  }

  /** Wake the mirror workers at commit (see MIRROR_CHANNEL). */
  private async wake(q: Queryable): Promise<void> {
    await q.query('SELECT pg_notify($1, $2)', [MIRROR_CHANNEL, '']);
  }

  /** Quay's sync-now: unless a sync runs, run one at the next pass. False when one is running. */
  async syncNow(repositoryId: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE repo_mirror_config SET sync_status = 'SYNC_NOW', sync_expiration_date = NULL, sync_retries_remaining = GREATEST(sync_retries_remaining, 1),
              sync_transaction_id = gen_random_uuid()
        WHERE repository_id = $1 AND sync_status <> 'SYNCING'`,
      [repositoryId],
    );
    if (r.rowCount === 0) return false;
    await this.wake(this.db);
    return true;
  }

  /** Quay's sync-cancel: a running or requested sync stops; nothing runs again until sync-now. */
  async cancel(repositoryId: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE repo_mirror_config SET sync_status = 'CANCEL', sync_retries_remaining = 0, sync_expiration_date = NULL, sync_start_date = NULL,
              sync_transaction_id = gen_random_uuid(), sync_worker = NULL
        WHERE repository_id = $1 AND sync_status IN ('SYNCING', 'SYNC_NOW')`,
      [repositoryId],
    );
    return r.rowCount > 0;
  }

  /** Claim one due configuration for `worker`, or null. A SYNCING row whose lease lapsed (its worker died) is taken over. */
  async claim(worker: string): Promise<MirrorRow | null> {
    return this.db.tx(async (q) => {
      const claimed = await this.claimIn(q, worker);
      if (claimed) await this.emit(q, claimed.repository_id, 'repo_mirror_sync_started', syncMessage(claimed));
      return claimed;
    });
  }

  /** The claim itself; the same transaction emits repo_mirror_sync_started. */
  private async claimIn(q: Queryable, worker: string): Promise<MirrorRow | null> {
    const r = await q.query<MirrorRow>(
      `UPDATE repo_mirror_config c SET sync_status = 'SYNCING', sync_expiration_date = now() + make_interval(secs => $2),
              sync_transaction_id = gen_random_uuid(), sync_worker = $1
        WHERE c.repository_id = (
          SELECT m.repository_id FROM repo_mirror_config m JOIN repository r ON r.id = m.repository_id
           WHERE r.state = 'MIRROR' AND (m.sync_expiration_date IS NULL OR m.sync_expiration_date <= now()) AND (
                 m.sync_status IN ('SYNC_NOW', 'SYNCING')
              OR (m.is_enabled AND m.sync_retries_remaining > 0 AND m.sync_start_date <= now() AND m.sync_status IN ('NEVER_RUN', 'SUCCESS', 'FAIL')))
           ORDER BY random() LIMIT 1 FOR UPDATE OF m SKIP LOCKED)
        RETURNING c.*`,
      [worker, MIRROR_LEASE_SECONDS],
    );
    return r.rows[0] ?? null;
  }

  /** Renew the lease; false when the claim was lost (cancelled or changed). */
  async renew(row: MirrorRow): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE repo_mirror_config SET sync_expiration_date = now() + make_interval(secs => $3)
        WHERE repository_id = $1 AND sync_transaction_id = $2 AND sync_status = 'SYNCING'`,
      [row.repository_id, row.sync_transaction_id, MIRROR_LEASE_SECONDS],
    );
    return r.rowCount > 0;
  }

  /**
   * Release the claim with the run's outcome (Quay's table): success resets the retries and schedules the
   * next grid point `start + k·interval` after now; a failure uses up one retry and is retried after a
   * back-off (one worker interval more for each retry used, at most the sync interval), and when none are
   * left the retries reset and the next grid point is scheduled.
   */
  async release(row: MirrorRow, outcome: 'SUCCESS' | 'FAIL', retryIntervalSeconds: number, event: SyncEvent): Promise<boolean> {
    return this.db.tx(async (q) => {
      const released = await this.releaseIn(q, row, outcome, retryIntervalSeconds);
      if (released) await this.emit(q, row.repository_id, event.kind, event.message);
      return released;
    });
  }

  /** The release itself; false when the claim was lost meanwhile (its outcome is then not reported). */
  private async releaseIn(q: Queryable, row: MirrorRow, outcome: 'SUCCESS' | 'FAIL', retryIntervalSeconds: number): Promise<boolean> {
    const r = await q.query(
      `UPDATE repo_mirror_config SET
          sync_status = $3,
          sync_expiration_date = NULL,
          sync_worker = NULL,
          sync_retries_remaining = CASE WHEN $3 = 'FAIL' AND sync_retries_remaining > 1 THEN sync_retries_remaining - 1 ELSE $4 END,
          sync_start_date = CASE WHEN $3 = 'FAIL' AND sync_retries_remaining > 1
              THEN now() + make_interval(secs => least(sync_interval, $5 * ($4 + 1 - sync_retries_remaining)))
            ELSE coalesce(sync_start_date, now()) + make_interval(secs => sync_interval * (floor(extract(epoch FROM now() - coalesce(sync_start_date, now())) / sync_interval) + 1)) END
        WHERE repository_id = $1 AND sync_transaction_id = $2`,
      [row.repository_id, row.sync_transaction_id, outcome, MIRROR_RETRIES, retryIntervalSeconds],
    );
    return r.rowCount > 0;
  }

  /**
   * A run stopped by sync-cancel (or a lost claim): the cancel already moved the row, so only Quay's
   * `repo_mirror_sync_failed` (verb `Cancelled`) is left to emit.
   */
  async reportCancelled(row: MirrorRow, message: string): Promise<void> {
    await this.db.tx((q) => this.emit(q, row.repository_id, 'repo_mirror_sync_failed', message));
  }

  /** The status now (a worker checks for CANCEL between steps); null when the claim was lost. */
  async stillClaimed(row: MirrorRow): Promise<boolean> {
    const r = await this.db.query('SELECT 1 FROM repo_mirror_config WHERE repository_id = $1 AND sync_transaction_id = $2 AND sync_status = $3', [
      row.repository_id,
      row.sync_transaction_id,
      'SYNCING',
    ]);
    return r.rows.length > 0;
  }
}
