/**
 * Helpers for REST API tests against the real registry process: a small client (Bearer token or browser
 * session with CSRF), first-user initialization, and a populated tenancy world shared by several tests.
 */
import type { RegistryProcess } from '../../helpers/registry.js';
import { basicAuth } from '../../helpers/registry.js';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Api {
  constructor(
    readonly base: string,
    readonly auth: { bearer?: string; cookie?: string; csrf?: string; basic?: string } = {},
  ) {}

  async call<T = any>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.auth.bearer) headers.authorization = `Bearer ${this.auth.bearer}`;
    if (this.auth.basic) headers.authorization = this.auth.basic;
    if (this.auth.cookie) headers.cookie = this.auth.cookie;
    if (this.auth.csrf && method !== 'GET') headers['x-csrf-token'] = this.auth.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.call<T>('POST', path, body);
  }
  put<T = any>(path: string, body?: unknown) {
    return this.call<T>('PUT', path, body);
  }
  delete<T = any>(path: string) {
    return this.call<T>('DELETE', path);
  }

  /** Fails the test with the response when the status is not the expected one. */
  async ok<T = any>(method: string, path: string, body?: unknown, expected = [200, 201, 204]): Promise<T> {
    const r = await this.call<T>(method, path, body);
    if (!expected.includes(r.status)) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

/** Sign in with a password: a session client (cookie + CSRF token). */
export async function signin(reg: RegistryProcess, username: string, password: string): Promise<Api> {
  const res = await fetch(`${reg.url}/api/v1/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (res.status !== 200) throw new Error(`signin ${username}: ${res.status} ${await res.text()}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = res.headers.get('x-next-csrf-token') ?? '';
  return new Api(reg.url, { cookie, csrf });
}

/** POST /api/v1/user/initialize with access_token: the first user and an OAuth token with every scope. */
export async function initialize(reg: RegistryProcess, username = 'admin', password = 'admin-password-1'): Promise<{ token: string; api: Api; password: string }> {
  const res = await fetch(`${reg.url}/api/v1/user/initialize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, email: `${username}@example.com`, access_token: true }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`initialize: ${res.status} ${JSON.stringify(body)}`);
  return { token: body.access_token, api: new Api(reg.url, { bearer: body.access_token }), password };
}

/** A user created by the superuser API; returns its generated password. */
export async function createUser(admin: Api, username: string): Promise<string> {
  const body = await admin.ok<{ password: string }>('POST', '/superuser/users/', { username, email: `${username}@example.com` });
  return body.password;
}

/** An OAuth token for the org admin behind `api`, issued by an application of `org` with `scope`. */
export async function oauthToken(api: Api, org: string, scope: string): Promise<string> {
  const apps = await api.ok<{ applications: { client_id: string; name: string }[] }>('GET', `/organization/${org}/applications`);
  const app = apps.applications.find((a) => a.name === 'tests') ?? (await api.ok<{ client_id: string }>('POST', `/organization/${org}/applications`, { name: 'tests' }));
  const t = await api.ok<{ token: string }>('POST', `/organization/${org}/applications/${app.client_id}/tokens`, { name: scope, scope });
  return t.token;
}

/** Registry actions /v2/auth grants for one scope with Basic credentials (empty when none). */
export async function grantedActions(reg: RegistryProcess, creds: { username: string; password: string } | null, repo: string, actions = 'pull,push,*'): Promise<string[]> {
  const q = new URLSearchParams({ service: reg.hostPort, scope: `repository:${repo}:${actions}` });
  const res = await fetch(`${reg.url}/v2/auth?${q}`, { headers: creds ? { authorization: basicAuth(creds.username, creds.password) } : {} });
  if (res.status !== 200) return [`HTTP ${res.status}`];
  const { token } = (await res.json()) as { token: string };
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { access: { actions: string[] }[] };
  return [...(payload.access[0]?.actions ?? [])].sort();
}
