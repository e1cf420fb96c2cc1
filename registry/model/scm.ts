/**
 * What a build trigger asks of its source-control service once it is attached to an account there (Quay's
 * BuildTriggerHandler of github/gitlab): the namespaces and repositories the account sees, the Dockerfiles of
 * a repository, branches and tags, a commit, a file; on activation a deploy key and a push hook are created,
 * on deletion removed. One client per service talks that service's REST API at the configured endpoint
 * (GITHUB_TRIGGER_CONFIG / GITLAB_TRIGGER_CONFIG) with the OAuth token of the connected account.
 */
import { posix } from 'node:path';
import type { QuayConfig } from '../../config/index.js';
import { Invalid } from './errors.js';
import { refMatches } from './trigger_metadata.js';

/** A failure the service reported, or a request it could not answer (400 with this message). */
export class ScmError extends Invalid {
  constructor(message: string) {
    super('request', message);
  }
}

/** The repository has no commits (an empty subdir listing, not an error). */
export class EmptyRepository extends Error {}

export interface ScmNamespace {
  id: string;
  title: string;
  personal: boolean;
  score: number;
  avatar_url: string | null;
  url: string;
}

export interface ScmSource {
  name: string;
  full_name: string;
  description: string;
  last_updated: number;
  url: string;
  has_admin_permissions: boolean;
  private: boolean;
}

export interface ScmRef {
  kind: 'branch' | 'tag';
  name: string;
}

/** Metadata of a commit (Quay's trigger_metadata), before validation. */
export type CommitMetadata = Record<string, unknown> & { commit: string };

export interface ScmClient {
  namespaces(): Promise<ScmNamespace[]>;
  sources(namespace: string): Promise<ScmSource[]>;
  /** Paths (relative to the repository root) of the Dockerfiles on the first branch the config builds. */
  dockerfiles(config: TriggerScmConfig): Promise<string[]>;
  /** The Dockerfile at config.dockerfile_path on the default branch; null when absent. */
  dockerfile(config: TriggerScmConfig): Promise<string | null>;
  branches(config: TriggerScmConfig, limit?: number): Promise<string[]>;
  tags(config: TriggerScmConfig, limit?: number): Promise<string[]>;
  /** Create the deploy key and the push hook; the config keys that record them. */
  install(config: TriggerScmConfig, publicKey: string, webhookUrl: string, title: string): Promise<Record<string, unknown>>;
  /** Remove what install created; a key or hook already gone is fine. */
  uninstall(config: Record<string, unknown>): Promise<void>;
  /** The commit at the head of a branch or tag (default: the default branch) with its metadata. */
  commitFor(config: TriggerScmConfig, ref: ScmRef | null): Promise<CommitMetadata>;
}

export interface TriggerScmConfig {
  build_source: string;
  dockerfile_path?: string;
  branchtag_regex?: string;
  [k: string]: unknown;
}

/** An error status from the service's API, with the service's own message. */
export class ScmApiError extends ScmError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Pages followed for a list (100 items each). */
const MAX_PAGES = 10;

/** JSON calls to one service's API with the account's token. */
export class ScmApi {
  constructor(
    private readonly base: string,
    private readonly auth: string,
  ) {}

  async call<T>(path: string, init: { method?: string; body?: unknown } = {}, fallback = 'The source control service refused the request'): Promise<T> {
    const r = await this.send<T>(`${this.base}${path}`, init);
    if (r.status >= 400) throw new ScmApiError(r.status, serviceMessage(r.body, fallback));
    return r.body;
  }

  /** Every item of a paged list (following rel="next" links, at most MAX_PAGES pages). */
  async list<T>(path: string): Promise<T[]> {
    const out: T[] = [];
    let url: string | null = `${this.base}${path}${path.includes('?') ? '&' : '?'}per_page=100`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const r: { status: number; body: T[]; link: string | null } = await this.send<T[]>(url, {});
      if (r.status >= 400) throw new ScmApiError(r.status, serviceMessage(r.body, 'The source control service refused the request'));
      if (!Array.isArray(r.body)) throw new ScmError('The source control service sent no list');
      out.push(...r.body);
      url = /<([^>]+)>;\s*rel="next"/.exec(r.link ?? '')?.[1] ?? null;
    }
    return out;
  }

  /**
   * Every item of a list paged in the body (`{values, next}`, Bitbucket's shape), at most MAX_PAGES pages.
   * A `next` on another origin is not followed: the token goes only to the configured API.
   */
  async values<T>(path: string): Promise<T[]> {
    const out: T[] = [];
    const origin = new URL(this.base).origin;
    let url: string | null = `${this.base}${path}${path.includes('?') ? '&' : '?'}pagelen=100`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const r: { status: number; body: { values?: T[]; next?: unknown } } = await this.send(url, {});
      if (r.status >= 400) throw new ScmApiError(r.status, serviceMessage(r.body, 'The source control service refused the request'));
      if (!Array.isArray(r.body?.values)) throw new ScmError('The source control service sent no list');
      out.push(...r.body.values);
      const next = typeof r.body.next === 'string' ? r.body.next : null;
      url = next && URL.canParse(next) && new URL(next).origin === origin ? next : null;
    }
    return out;
  }

  /** A file's raw bytes as text; null when the service has no such file (404). */
  async text(path: string): Promise<string | null> {
    const res = await this.fetch(`${this.base}${path}`, {}, '*/*');
    const text = await res.text();
    if (res.status === 404) return null;
    if (res.status >= 400) throw new ScmApiError(res.status, serviceMessage(parseBody(text), 'The source control service refused the request'));
    return text;
  }

  private async fetch(url: string, init: { method?: string; body?: unknown }, accept = 'application/json'): Promise<Response> {
    try {
      return await fetch(url, {
        method: init.method ?? 'GET',
        headers: { accept, authorization: this.auth, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
        signal: AbortSignal.timeout(20_000),
        redirect: 'error',
      });
    } catch (err) {
      throw new ScmError(`Request to the source control service failed: ${(err as Error).message}`);
    }
  }

  private async send<T>(url: string, init: { method?: string; body?: unknown }): Promise<{ status: number; body: T; link: string | null }> {
    const res = await this.fetch(url, init);
    return { status: res.status, body: parseBody(await res.text()) as T, link: res.headers.get('link') };
  }
}

function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

export interface OAuthGrant {
  access_token: string;
  /** Bitbucket's access tokens expire (2 h); its refresh token gets new ones. */
  refresh_token?: string;
  expires_in?: number;
}

/**
 * A form POST to a service's OAuth token endpoint (an authorization code or a refresh token for an access
 * token). `basic` sends the client's id and secret as HTTP Basic (Bitbucket) instead of form fields.
 */
export async function exchangeOAuthCode(url: string, form: Record<string, string>, basic?: { id: string; secret: string }): Promise<OAuthGrant> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        ...(basic ? { authorization: `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}` } : {}),
      },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(20_000),
      redirect: 'error',
    });
  } catch (err) {
    throw new ScmError(`Request to the source control service failed: ${(err as Error).message}`);
  }
  const body = parseBody(await res.text()) as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown; error_description?: unknown } | null;
  if (res.status >= 400 || typeof body?.access_token !== 'string' || !body.access_token) {
    throw new ScmError(`Could not get an access token: ${serviceMessage(body, typeof body?.error_description === 'string' ? body.error_description : `HTTP ${res.status}`)}`);
  }
  return {
    access_token: body.access_token,
    ...(typeof body.refresh_token === 'string' ? { refresh_token: body.refresh_token } : {}),
    ...(typeof body.expires_in === 'number' ? { expires_in: body.expires_in } : {}),
  };
}

/** The service's own error text: GitHub's errors[0].message or message, GitLab's message/error, Bitbucket's error.message. */
export function serviceMessage(body: unknown, fallback: string): string {
  const b = (body ?? {}) as { errors?: Array<{ message?: unknown }>; message?: unknown; error?: unknown };
  const first = Array.isArray(b.errors) ? b.errors[0]?.message : undefined;
  const nested = b.error && typeof b.error === 'object' ? (b.error as { message?: unknown }).message : undefined;
  for (const m of [first, b.message, nested, b.error]) {
    if (typeof m === 'string' && m) return m;
    if (m && typeof m === 'object') return JSON.stringify(m);
  }
  return fallback;
}

/** Dockerfiles are named `Dockerfile` or `<name>.Dockerfile` (Quay's filename_is_dockerfile). */
export function isDockerfileName(name: string): boolean {
  return name === 'Dockerfile' || name.endsWith('.Dockerfile');
}

/** Branches the config's branchtag_regex lets build (all when it has none or it does not compile). */
export function matchingBranches(config: TriggerScmConfig, branches: string[]): string[] {
  const regex = config.branchtag_regex;
  if (typeof regex !== 'string') return branches;
  return branches.filter((b) => refMatches(`refs/heads/${b}`, regex));
}

/** Each Dockerfile path → the directories that may be its context (itself and its ancestors). */
export function contextMap(paths: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of paths) {
    if (p === '') continue;
    const file = posix.normalize(p.startsWith('/') ? p : `/${p}`);
    const dirs: string[] = [];
    for (let d = posix.dirname(file); ; d = posix.dirname(d)) {
      dirs.push(d);
      if (d === '/') break;
    }
    out[file] = dirs;
  }
  return out;
}

/** The Dockerfile path of a config relative to the repository root (Quay's get_dockerfile_path). */
export function dockerfilePathOf(config: TriggerScmConfig): string {
  const p = typeof config.dockerfile_path === 'string' && config.dockerfile_path ? config.dockerfile_path : 'Dockerfile';
  return p.startsWith('/') ? p.slice(1) : p;
}

/** The ref a manual run builds (Quay's determine_build_ref): refs, else branch_name, else the default branch. */
export function manualRef(params: { branch_name?: string; refs?: { kind: string; name: string } | null }, defaultBranch: string | null): ScmRef {
  if (params.refs) return { kind: params.refs.kind === 'tag' ? 'tag' : 'branch', name: params.refs.name || defaultBranch || 'master' };
  return { kind: 'branch', name: params.branch_name || defaultBranch || 'master' };
}

export type ScmService = 'github' | 'gitlab' | 'bitbucket';

/** Whether the service's triggers are set up through it (its FEATURE_*_BUILD and OAuth app configured). */
export function scmEnabled(config: QuayConfig, service: string): service is ScmService {
  if (service === 'github') return config.FEATURE_GITHUB_BUILD && !!config.GITHUB_TRIGGER_CONFIG;
  if (service === 'gitlab') return config.FEATURE_GITLAB_BUILD && !!config.GITLAB_TRIGGER_CONFIG;
  if (service === 'bitbucket') return config.FEATURE_BITBUCKET_BUILD && !!config.BITBUCKET_TRIGGER_CONFIG;
  return false;
}

const slashJoin = (base: string, path: string) => `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;

export type ScmHostsConfig = Pick<QuayConfig, 'GITHUB_TRIGGER_CONFIG' | 'GITLAB_TRIGGER_CONFIG' | 'BITBUCKET_TRIGGER_CONFIG'>;

/**
 * The service's web address: the configured one (GitHub Enterprise, a self-hosted GitLab) even when its
 * OAuth setup is off, since hand-installed triggers name repositories on that host too.
 */
export function scmWebBase(config: ScmHostsConfig, service: ScmService): string {
  if (service === 'github') return config.GITHUB_TRIGGER_CONFIG?.GITHUB_ENDPOINT ?? 'https://github.com/';
  if (service === 'gitlab') return config.GITLAB_TRIGGER_CONFIG?.GITLAB_ENDPOINT ?? 'https://gitlab.com/';
  return config.BITBUCKET_TRIGGER_CONFIG?.BITBUCKET_ENDPOINT ?? 'https://bitbucket.org/';
}

/** The web page of `owner/repository` on the service (Quay's get_repository_url, on the configured host). */
export function scmRepositoryUrl(config: ScmHostsConfig, service: ScmService, source: string): string {
  return slashJoin(scmWebBase(config, service), source);
}

/** The SSH clone address of `owner/repository` on the service's configured host (`git@host:owner/repo.git`). */
export function scmSshUrl(config: ScmHostsConfig, service: ScmService, source: string): string {
  let host: string;
  try {
    host = new URL(scmWebBase(config, service)).hostname;
  } catch {
    throw new ScmError(`The ${service} endpoint is not a URL`);
  }
  return `git@${host}:${source}.git`;
}

/** The service's web, OAuth and API addresses from its trigger config. */
export function scmEndpoints(config: QuayConfig, service: ScmService): { web: string; api: string; clientId: string; clientSecret: string } {
  if (service === 'bitbucket') {
    const c = config.BITBUCKET_TRIGGER_CONFIG!;
    const api = c.API_ENDPOINT ?? 'https://api.bitbucket.org/2.0/';
    return { web: scmWebBase(config, service), api: api.replace(/\/+$/, ''), clientId: c.CONSUMER_KEY, clientSecret: c.CONSUMER_SECRET };
  }
  if (service === 'github') {
    const c = config.GITHUB_TRIGGER_CONFIG!;
    const web = c.GITHUB_ENDPOINT ?? 'https://github.com/';
    const api = c.API_ENDPOINT ?? (/^https:\/\/github\.com\/?$/.test(web) ? 'https://api.github.com/' : slashJoin(web, 'api/v3/'));
    return { web, api: api.replace(/\/+$/, ''), clientId: c.CLIENT_ID, clientSecret: c.CLIENT_SECRET };
  }
  const c = config.GITLAB_TRIGGER_CONFIG!;
  const web = c.GITLAB_ENDPOINT ?? 'https://gitlab.com/';
  return { web, api: slashJoin(web, 'api/v4'), clientId: c.CLIENT_ID, clientSecret: c.CLIENT_SECRET };
}

/**
 * The OAuth app's public half for `GET /config`'s `oauth` (Quay's get_public_config of its trigger services):
 * what the UI needs to send a user to the service's authorize page. Never the client secret.
 */
export function scmPublicConfig(config: QuayConfig): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  if (scmEnabled(config, 'github')) {
    const ep = scmEndpoints(config, 'github');
    out.GITHUB_TRIGGER_CONFIG = { CLIENT_ID: ep.clientId, GITHUB_ENDPOINT: ep.web, AUTHORIZE_ENDPOINT: slashJoin(ep.web, 'login/oauth/authorize') };
  }
  if (scmEnabled(config, 'gitlab')) {
    const ep = scmEndpoints(config, 'gitlab');
    out.GITLAB_TRIGGER_CONFIG = { CLIENT_ID: ep.clientId, GITLAB_ENDPOINT: ep.web, AUTHORIZE_ENDPOINT: slashJoin(ep.web, 'oauth/authorize') };
  }
  return out;
}

export { slashJoin };

/** `owner/name` as a URL path: each part encoded, and a source is never allowed to add path segments. */
export function sourcePath(source: string, service: string): string {
  const parts = source.split('/');
  if (parts.length !== 2 || parts.some((p) => !p || p === '.' || p === '..')) throw new ScmError(`Invalid ${service} repository: ${source}`);
  return parts.map(encodeURIComponent).join('/');
}

/** A file's path in a repository as a URL path, each segment encoded. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '')
    .map(encodeURIComponent)
    .join('/');
}
