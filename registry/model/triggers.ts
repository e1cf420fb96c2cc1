/**
 * Build triggers (Quay's RepositoryBuildTrigger): creation (inactive), activation (an SSH deploy key pair
 * and a webhook token are generated; the private key and the token are kept sealed), enable/disable,
 * deletion, webhook authentication, the build a webhook or a manual run asks for, and the auto-disable
 * accounting after each finished trigger build.
 *
 * For builds-core: `loadTriggerDeployKey` (the agent's git clone) and `recordTriggerOutcome` (called by the
 * build-completion function with the build's final phase).
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import { SecretBox, sameSecret, secretMaterial } from '../auth/secrets.js';
import { Invalid } from './errors.js';
import { exchangeOAuthCode, manualRef, scmEnabled, scmEndpoints, scmRepositoryUrl, scmSshUrl, slashJoin, type OAuthGrant, type ScmClient, type ScmHostsConfig } from './scm.js';
import { BitbucketClient } from './scm_bitbucket.js';
import { GithubClient } from './scm_github.js';
import { GitlabClient } from './scm_gitlab.js';
import {
  bitbucketMetadata,
  checkedMetadata,
  checkNotSkipped,
  customGitMetadata,
  determineTags,
  githubMetadata,
  gitlabMetadata,
  InvalidPayload,
  SkipRequest,
  type TriggerBuildConfig,
  type TriggerMetadata,
} from './trigger_metadata.js';

export const TRIGGER_SERVICES = ['custom-git', 'github', 'gitlab', 'bitbucket'] as const;
export type TriggerService = (typeof TRIGGER_SERVICES)[number];
export type DisabledReason = 'successive_build_failures' | 'successive_build_internal_errors' | 'user_toggled';

export interface TriggerRow {
  id: number;
  uuid: string;
  service: TriggerService;
  repository_id: number;
  connected_user_id: number | null;
  config: Record<string, unknown>;
  pull_robot_id: number | null;
  pull_robot_name: string | null;
  enabled: boolean;
  disabled_reason: DisabledReason | null;
  disabled_datetime: Date | null;
  successive_failure_count: number;
  successive_internal_error_count: number;
  has_private_key: boolean;
  /** Attached to an account of its service (OAuth): its SCM API is used. */
  has_auth_token: boolean;
}

/** An OAuth grant as stored (sealed) for a Bitbucket trigger: its access token's end in epoch seconds. */
interface StoredGrant {
  access_token: string;
  refresh_token?: string;
  expires_at?: number;
  /** When the access token was issued (epoch seconds; absent in grants stored before it was recorded). */
  issued_at?: number;
}

function sealedGrant(g: OAuthGrant): StoredGrant {
  const now = Math.floor(Date.now() / 1000);
  return { access_token: g.access_token, refresh_token: g.refresh_token, expires_at: g.expires_in !== undefined ? now + g.expires_in : undefined, issued_at: now };
}

/**
 * Whether a grant's access token is near its end: within a minute of it, or past half its life when it lives
 * less than two minutes (else a token just issued would count as expiring and be refreshed again at once).
 */
function expiring(g: StoredGrant): boolean {
  if (!g.refresh_token || g.expires_at === undefined) return false;
  const margin = g.issued_at === undefined ? 60 : Math.min(60, (g.expires_at - g.issued_at) / 2);
  return g.expires_at - margin <= Date.now() / 1000;
}

/** A request the trigger refuses (400 with this message). */
export class TriggerError extends Invalid {
  constructor(message: string) {
    super('request', message);
  }
}

/** The key the secrets of triggers are sealed with (derived from DATABASE_SECRET_KEY). */
export async function triggerSecretBox(db: Db, config: Pick<QuayConfig, 'DATABASE_SECRET_KEY'>): Promise<SecretBox> {
  return new SecretBox(await secretMaterial(db, 'DATABASE_SECRET_KEY', config.DATABASE_SECRET_KEY), 'build-trigger-secrets');
}

const SELECT = `SELECT t.id, t.uuid::text AS uuid, t.service, t.repository_id, t.connected_user_id, t.config, t.pull_robot_id,
                       b.name AS pull_robot_name, t.enabled, t.disabled_reason, t.disabled_datetime,
                       t.successive_failure_count, t.successive_internal_error_count,
                       (t.secure_private_key IS NOT NULL) AS has_private_key, (t.secure_auth_token IS NOT NULL) AS has_auth_token
                  FROM build_trigger t LEFT JOIN namespace b ON b.id = t.pull_robot_id`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The trigger's SSH deploy private key (OpenSSH format) for the builder's git clone; null when it has none. */
export async function loadTriggerDeployKey(db: Db, triggerUuid: string, config: Pick<QuayConfig, 'DATABASE_SECRET_KEY'>): Promise<string | null> {
  if (!UUID_RE.test(triggerUuid)) return null;
  const r = await db.query<{ secure_private_key: string | null }>('SELECT secure_private_key FROM build_trigger WHERE uuid = $1', [triggerUuid]);
  const sealed = r.rows[0]?.secure_private_key;
  if (!sealed) return null;
  return (await triggerSecretBox(db, config)).open(sealed);
}

type Thresholds = Pick<QuayConfig, 'SUCCESSIVE_TRIGGER_FAILURE_DISABLE_THRESHOLD' | 'SUCCESSIVE_TRIGGER_INTERNAL_ERROR_DISABLE_THRESHOLD'>;

/**
 * Auto-disable accounting after a trigger build finished in `phase` (Quay's update_trigger_disable_status):
 * `complete` resets both counters; `error` counts a failure and resets the internal-error count;
 * `internalerror` counts an internal error; other phases change nothing. Reaching a configured threshold
 * (null: never) disables the trigger with the matching reason. One UPDATE, so concurrent completions of
 * builds of the same trigger each count.
 */
export async function recordTriggerOutcome(q: Queryable, triggerUuid: string, phase: string, config: Thresholds): Promise<void> {
  if (!UUID_RE.test(triggerUuid)) return;
  const failures = config.SUCCESSIVE_TRIGGER_FAILURE_DISABLE_THRESHOLD ?? null;
  const internal = config.SUCCESSIVE_TRIGGER_INTERNAL_ERROR_DISABLE_THRESHOLD ?? null;
  if (phase === 'complete') {
    await q.query('UPDATE build_trigger SET successive_failure_count = 0, successive_internal_error_count = 0 WHERE uuid = $1', [triggerUuid]);
    return;
  }
  let f: string;
  let i: string;
  if (phase === 'error') [f, i] = ['successive_failure_count + 1', '0'];
  else if (phase === 'internalerror') [f, i] = ['successive_failure_count', 'successive_internal_error_count + 1'];
  else return;
  // SET expressions read the row before the update: the counts, the check and the disabling in one statement.
  const failed = `($2::int IS NOT NULL AND ${f} >= $2::int)`;
  const broken = `($3::int IS NOT NULL AND ${i} >= $3::int)`;
  await q.query(
    `UPDATE build_trigger
        SET successive_failure_count = ${f}, successive_internal_error_count = ${i},
            enabled = enabled AND NOT (${failed} OR ${broken}),
            disabled_reason = CASE WHEN NOT enabled THEN disabled_reason
                                   WHEN ${failed} THEN 'successive_build_failures'
                                   WHEN ${broken} THEN 'successive_build_internal_errors'
                                   ELSE disabled_reason END,
            disabled_datetime = CASE WHEN enabled AND (${failed} OR ${broken}) THEN now() ELSE disabled_datetime END
      WHERE uuid = $1`,
    [triggerUuid, failures, internal],
  );
}

/** A fresh SSH deploy key pair: the OpenSSH public line the user installs, the OpenSSH private key the builder uses. */
export async function generateDeployKey(comment: string): Promise<{ publicKey: string; privateKey: string }> {
  const { privateKey } = await promisify(generateKeyPair)('ed25519');
  // Loaded here, for the one operation that needs it.
  const { default: sshpk } = await import('sshpk');
  const key = sshpk.parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }), 'pkcs8');
  key.comment = comment;
  return { publicKey: key.toPublic().toString('ssh'), privateKey: key.toString('ssh-private') };
}

/** What a trigger asks builds-core to build. */
export interface PreparedTriggerBuild {
  displayName: string;
  dockerTags: string[];
  /** Full Dockerfile path (Quay's build_subdir). */
  dockerfilePath: string;
  context: string;
  metadata: TriggerMetadata;
  isManual: boolean;
}

/** Quay's trigger_view. `canAdmin` shows the config (with the webhook URL) and the pull robot. */
export function triggerView(t: TriggerRow, opts: { canAdmin: boolean; canRead?: boolean; forBuild?: boolean }, hosts: ScmHostsConfig): Record<string, unknown> {
  const canRead = opts.canRead || opts.canAdmin;
  const source = typeof t.config.build_source === 'string' ? t.config.build_source : undefined;
  // The SCM web page of the build source (Quay's get_repository_url); custom git has none.
  const repositoryUrl = source && t.service !== 'custom-git' ? scmRepositoryUrl(hosts, t.service, source) : null;
  const view: Record<string, unknown> = {
    id: t.uuid,
    service: t.service,
    is_active: isActive(t),
    build_source: canRead ? (source ?? null) : null,
    repository_url: canRead ? repositoryUrl : null,
    config: opts.canAdmin ? t.config : {},
    can_invoke: opts.canAdmin,
    enabled: t.enabled,
    disabled_reason: t.disabled_reason,
  };
  if (!opts.forBuild && opts.canAdmin && t.pull_robot_name) view.pull_robot = { name: t.pull_robot_name, kind: 'user', is_robot: true };
  return view;
}

/** Activated triggers carry their credentials (deploy key, webhook URL) in their config. */
export function isActive(t: Pick<TriggerRow, 'config'>): boolean {
  return Array.isArray(t.config.credentials);
}

const USER_CONFIG_KEYS = [
  'build_source',
  'dockerfile_path',
  'context',
  'branchtag_regex',
  'default_tag_from_ref',
  'latest_for_default_branch',
  'tag_templates',
  'master_branch',
] as const;

export class Triggers {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    private readonly box: SecretBox,
  ) {}

  /** A new, inactive trigger of `service` on the repository, connected to `userId`. */
  async create(repositoryId: number, service: TriggerService, userId: number | null): Promise<TriggerRow> {
    const r = await this.db.query<{ id: number }>('INSERT INTO build_trigger (service, repository_id, connected_user_id) VALUES ($1, $2, $3) RETURNING id', [
      service,
      repositoryId,
      userId,
    ]);
    return (await this.byId(r.rows[0].id))!;
  }

  /** A new, inactive trigger attached to the user's account at `service` (the OAuth callback's). */
  async createAttached(repositoryId: number, service: 'github' | 'gitlab', userId: number, token: string): Promise<TriggerRow> {
    const r = await this.db.query<{ id: number }>('INSERT INTO build_trigger (service, repository_id, connected_user_id, secure_auth_token) VALUES ($1, $2, $3, $4) RETURNING id', [
      service,
      repositoryId,
      userId,
      this.box.seal(token),
    ]);
    return (await this.byId(r.rows[0].id))!;
  }

  /**
   * The client of the trigger's service with its account's token; null for a trigger not attached to an
   * account (custom git, hand-installed SCM triggers) or whose service is not enabled.
   */
  async scmClient(t: TriggerRow): Promise<ScmClient | null> {
    if (!t.has_auth_token || !scmEnabled(this.config, t.service)) return null;
    const r = await this.db.query<{ secure_auth_token: string }>('SELECT secure_auth_token FROM build_trigger WHERE id = $1', [t.id]);
    const sealed = r.rows[0]?.secure_auth_token;
    if (!sealed) return null;
    const token = this.box.open(sealed);
    if (!token) return null;
    const ep = scmEndpoints(this.config, t.service);
    if (t.service === 'github') return new GithubClient(ep.api, token);
    if (t.service === 'gitlab') return new GitlabClient(ep.api, token);
    const access = await this.bitbucketAccessToken(t, token, ep);
    return new BitbucketClient(ep.api, access, ep.web, {
      key: `${this.config.REGISTRY_TITLE} webhook key`,
      hook: `Webhook for invoking builds on ${this.config.REGISTRY_TITLE_SHORT}`,
    });
  }

  /** Attach the account's OAuth grant to a trigger connected to the user (Bitbucket's callback). */
  async attachGrant(t: TriggerRow, grant: OAuthGrant): Promise<void> {
    await this.db.query('UPDATE build_trigger SET secure_auth_token = $2 WHERE id = $1', [t.id, this.box.seal(JSON.stringify(sealedGrant(grant)))]);
  }

  /**
   * A Bitbucket access token that is still good: Bitbucket's expire after two hours, so a stored grant
   * close to its end is refreshed with its refresh token and stored again. A refresh may end the access token
   * the previous one gave out, so refreshes of one trigger are serialised on its row (across processes and
   * replicas): a use that waited finds the grant another one just stored and takes it.
   */
  private async bitbucketAccessToken(t: TriggerRow, stored: string, ep: { web: string; clientId: string; clientSecret: string }): Promise<string> {
    const grant = this.readGrant(stored);
    if (!expiring(grant)) return grant.access_token;
    return this.db.tx(async (q) => {
      const r = await q.query<{ secure_auth_token: string | null }>('SELECT secure_auth_token FROM build_trigger WHERE id = $1 FOR UPDATE', [t.id]);
      const sealed = r.rows[0]?.secure_auth_token;
      const current = sealed ? this.readGrant(this.box.open(sealed) ?? '') : grant;
      if (current.access_token !== grant.access_token || !expiring(current) || !current.refresh_token) return current.access_token;
      const fresh = await exchangeOAuthCode(
        slashJoin(ep.web, 'site/oauth2/access_token'),
        { grant_type: 'refresh_token', refresh_token: current.refresh_token },
        { id: ep.clientId, secret: ep.clientSecret },
      );
      const next = sealedGrant({ refresh_token: current.refresh_token, ...fresh });
      await q.query('UPDATE build_trigger SET secure_auth_token = $2 WHERE id = $1', [t.id, this.box.seal(JSON.stringify(next))]);
      return next.access_token;
    });
  }

  private readGrant(stored: string): StoredGrant {
    try {
      return JSON.parse(stored) as StoredGrant;
    } catch {
      throw new TriggerError('The Bitbucket authorization of this trigger is unreadable; set the trigger up again');
    }
  }

  private async byId(id: number, q: Queryable = this.db): Promise<TriggerRow | null> {
    return (await q.query<TriggerRow>(`${SELECT} WHERE t.id = $1`, [id])).rows[0] ?? null;
  }

  async list(repositoryId: number): Promise<TriggerRow[]> {
    return (await this.db.query<TriggerRow>(`${SELECT} WHERE t.repository_id = $1 ORDER BY t.id`, [repositoryId])).rows;
  }

  /** The trigger `uuid` of any repository (the OAuth callback's, which checks the connected user). */
  async byUuid(uuid: string): Promise<TriggerRow | null> {
    if (!UUID_RE.test(uuid)) return null;
    return (await this.db.query<TriggerRow>(`${SELECT} WHERE t.uuid = $1`, [uuid])).rows[0] ?? null;
  }

  /** The trigger `uuid` of this repository; null when it does not exist or belongs to another repository. */
  async get(repositoryId: number, uuid: string): Promise<TriggerRow | null> {
    if (!UUID_RE.test(uuid)) return null;
    return (await this.db.query<TriggerRow>(`${SELECT} WHERE t.uuid = $1 AND t.repository_id = $2`, [uuid, repositoryId])).rows[0] ?? null;
  }

  /**
   * Activate: the user's config (only the keys builds read), the pull robot, and the generated credentials.
   * Every kind gets an SSH deploy key and a webhook URL carrying a fresh token. A trigger attached to its
   * service's account gets both installed there (deploy key, push hook; their ids and the default branch go
   * into the config, as Quay records them); otherwise the user installs them by hand.
   */
  async activate(t: TriggerRow, input: { config: Record<string, unknown>; pullRobotId: number | null }): Promise<TriggerRow> {
    if (isActive(t)) throw new TriggerError('Trigger config is not sufficient for activation.');
    const config = validateTriggerConfig(t.service, input.config);
    const key = await generateDeployKey(`${this.config.REGISTRY_TITLE} builder ${t.uuid}`);
    const token = randomBytes(32).toString('base64url');
    const webhookUrl = this.webhookUrl(t.uuid, token);
    const scm = await this.scmClient(t);
    if (scm) {
      Object.assign(config, await scm.install(config as { build_source: string }, key.publicKey, webhookUrl, `${this.config.REGISTRY_TITLE} Builder`));
    }
    config.credentials = [
      { name: 'SSH Public Key', value: key.publicKey },
      { name: 'Webhook Endpoint URL', value: webhookUrl },
    ];
    const r = await this.db.query(
      `UPDATE build_trigger SET config = $2, pull_robot_id = $3, secure_private_key = $4, secure_webhook_token = $5
        WHERE id = $1 AND NOT (config ? 'credentials')`,
      [t.id, JSON.stringify(config), input.pullRobotId, this.box.seal(key.privateKey), this.box.seal(token)],
    );
    if (r.rowCount === 0) {
      // A concurrent activation won: what this one installed at the service goes again.
      if (scm) await scm.uninstall(config).catch(() => undefined);
      throw new TriggerError('Trigger config is not sufficient for activation.');
    }
    return (await this.byId(t.id))!;
  }

  /** `<scheme>://$token:<token>@<host>/webhooks/push/trigger/<uuid>` (Quay's authed webhook URL). */
  webhookUrl(uuid: string, token: string): string {
    return `${this.config.PREFERRED_URL_SCHEME}://$token:${token}@${this.config.SERVER_HOSTNAME}/webhooks/push/trigger/${uuid}`;
  }

  /** Enable or disable by hand (re-enabling resets the failure counters, disabling records `user_toggled`). */
  async setEnabled(t: TriggerRow, enabled: boolean): Promise<TriggerRow> {
    if (!isActive(t)) throw new TriggerError('Cannot update an unactivated trigger');
    await this.db.query(
      enabled
        ? `UPDATE build_trigger SET enabled = true, disabled_reason = NULL, disabled_datetime = NULL,
                  successive_failure_count = 0, successive_internal_error_count = 0 WHERE id = $1`
        : `UPDATE build_trigger SET enabled = false, disabled_reason = 'user_toggled', disabled_datetime = now() WHERE id = $1`,
      [t.id],
    );
    return (await this.byId(t.id))!;
  }

  /**
   * Delete the trigger; an attached, active one first has its deploy key and hook removed at its service.
   * That removal failing does not keep the trigger (as in Quay); its error is returned for the log.
   */
  async delete(t: TriggerRow): Promise<{ uninstallError: Error | null }> {
    let uninstallError: Error | null = null;
    if (isActive(t)) {
      const scm = await this.scmClient(t);
      if (scm) await scm.uninstall(t.config).catch((err: Error) => (uninstallError = err));
    }
    await this.db.query('DELETE FROM build_trigger WHERE id = $1', [t.id]);
    return { uninstallError };
  }

  /**
   * The trigger a webhook names, when `token` is its webhook token; null otherwise. Unknown uuids,
   * inactive triggers and wrong tokens are indistinguishable to the caller.
   */
  async authenticateWebhook(uuid: string, token: string | null): Promise<TriggerRow | null> {
    if (!UUID_RE.test(uuid) || !token) return null;
    const r = await this.db.query<{ id: number; secure_webhook_token: string | null }>('SELECT id, secure_webhook_token FROM build_trigger WHERE uuid = $1', [uuid]);
    const sealed = r.rows[0]?.secure_webhook_token;
    const expected = sealed ? this.box.open(sealed) : null;
    if (!expected || !sameSecret(expected, token)) return null;
    return this.byId(r.rows[0].id);
  }

  /**
   * The build a webhook body asks for: the payload in the trigger's format → metadata, the webhook filters,
   * the tags. Throws SkipRequest (answer 200, no build), InvalidPayload (400).
   */
  prepareWebhookBuild(t: TriggerRow, body: unknown): PreparedTriggerBuild {
    if (body === undefined || body === null || typeof body !== 'object') throw new InvalidPayload('Missing expected payload');
    const cfg = t.config as TriggerBuildConfig & { master_branch?: string };
    let raw: Record<string, unknown>;
    switch (t.service) {
      case 'custom-git':
        raw = customGitMetadata(body, cfg.build_source ?? '');
        break;
      case 'github':
        // A GitHub ping when the hook is installed.
        if ('zen' in body) throw new SkipRequest('GitHub ping');
        raw = githubMetadata(body, { defaultBranch: cfg.master_branch });
        break;
      case 'gitlab': {
        const project = (body as { project?: { default_branch?: unknown } }).project;
        raw = gitlabMetadata(body, { defaultBranch: typeof project?.default_branch === 'string' ? project.default_branch : cfg.master_branch });
        break;
      }
      case 'bitbucket':
        // Installed through Bitbucket's API, the trigger knows the repository's SSH clone address.
        raw = bitbucketMetadata(body, cfg.master_branch, typeof t.config.git_url === 'string' ? t.config.git_url : undefined);
        break;
    }
    const metadata = checkedMetadata(raw);
    checkNotSkipped(metadata, cfg);
    return this.prepare(t, metadata, false);
  }

  /**
   * "Run trigger now": a trigger attached to its service builds the head of `refs`, else `branch_name`, else
   * the default branch, with the commit's metadata from the service. Custom git needs `commit_sha` (hex, at
   * least 7); a hand-installed SCM trigger cannot ask its service, so it takes `commit_sha` too, with the
   * branch or tag as the ref.
   */
  async prepareManualBuild(t: TriggerRow, params: { commit_sha?: string; branch_name?: string; refs?: { kind: string; name: string } | null }): Promise<PreparedTriggerBuild> {
    const cfg = t.config as TriggerBuildConfig;
    const scm = await this.scmClient(t);
    if (scm) {
      const scmConfig = t.config as { build_source: string; master_branch?: string };
      const ref = params.refs || params.branch_name ? manualRef(params, scmConfig.master_branch ?? null) : null;
      return this.prepare(t, checkedMetadata(await scm.commitFor(scmConfig, ref)), true);
    }
    const sha = params.commit_sha;
    if (sha === undefined) throw new TriggerError('missing required parameter');
    if (!/^[A-Fa-f0-9]{7,}$/.test(sha)) throw new TriggerError(`Invalid commit_sha: ${sha}`);
    const source = cfg.build_source ?? '';
    const metadata: Record<string, unknown> = { commit: sha, git_url: t.service === 'custom-git' ? source : scmSshUrl(this.config, t.service, source) };
    if (t.service !== 'custom-git') {
      const ref = params.refs ? `refs/${params.refs.kind === 'tag' ? 'tags' : 'heads'}/${params.refs.name}` : params.branch_name ? `refs/heads/${params.branch_name}` : undefined;
      if (ref) metadata.ref = ref;
    }
    return this.prepare(t, checkedMetadata(metadata), true);
  }

  private prepare(t: TriggerRow, metadata: TriggerMetadata, isManual: boolean): PreparedTriggerBuild {
    const cfg = t.config as TriggerBuildConfig;
    return {
      displayName: metadata.commit.slice(0, 7),
      dockerTags: determineTags(metadata, cfg),
      dockerfilePath: cfg.dockerfile_path ?? '/Dockerfile',
      context: cfg.context ?? '/',
      metadata,
      isManual,
    };
  }
}

/** The user's part of a trigger config, checked: only the keys builds read, with their types. */
export function validateTriggerConfig(service: TriggerService, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of USER_CONFIG_KEYS) if (input[k] !== undefined) out[k] = input[k];
  const str = (k: string) => {
    if (out[k] !== undefined && typeof out[k] !== 'string') throw new TriggerError(`config.${k} must be a string`);
  };
  ['build_source', 'dockerfile_path', 'context', 'branchtag_regex', 'master_branch'].forEach(str);
  for (const k of ['default_tag_from_ref', 'latest_for_default_branch']) {
    if (out[k] !== undefined && typeof out[k] !== 'boolean') throw new TriggerError(`config.${k} must be a boolean`);
  }
  if (out.tag_templates !== undefined && (!Array.isArray(out.tag_templates) || out.tag_templates.some((x) => typeof x !== 'string'))) {
    throw new TriggerError('config.tag_templates must be a list of strings');
  }
  if (typeof out.build_source !== 'string' || out.build_source.trim() === '') {
    throw new TriggerError(service === 'custom-git' ? 'config.build_source (the git URL to clone) is required' : 'config.build_source (owner/repository) is required');
  }
  if (/[\0\r\n]/.test(out.build_source)) throw new TriggerError('config.build_source must be one line');
  // A git URL starting with "-" would be read as an option by git clone.
  if (out.build_source.startsWith('-')) throw new TriggerError('config.build_source must not start with "-"');
  for (const k of ['dockerfile_path', 'context'] as const) {
    const v = out[k] as string | undefined;
    if (v !== undefined && v.split('/').includes('..')) throw new TriggerError(`config.${k} must not contain ".."`);
  }
  if (service === 'custom-git' && !REMOTE_GIT_URL.test(out.build_source)) {
    throw new TriggerError('config.build_source must be a remote git URL: ssh://, git://, https:// or user@host:path');
  }
  return out;
}

/**
 * A git URL a custom-git trigger may clone: over the network (ssh, git, http(s), or scp-like [user@]host:path),
 * never a path or file:// URL on the worker (with the local executor, the registry's own host) nor a remote
 * helper such as ext:: (which runs a command). The builder agent allows only these protocols to git too
 * (GIT_ALLOW_PROTOCOL), submodules included.
 */
const REMOTE_GIT_URL = /^(?:(?:ssh|git\+ssh|ssh\+git|git|https?):\/\/[^\s/]+\/|(?:[^\s@/:]+@)?(?:[\w.-]+|\[[\da-f:.]+\]):(?!:|\/\/))/i;
