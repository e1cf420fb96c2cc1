/**
 * The two calls every Quay web client makes first: `GET /config` (endpoints/web.py `config`: public settings
 * from config.py's CLIENT_WHITELIST, every feature flag, registry_state) and `GET /csrf_token`
 * (endpoints/web.py `csrf_token`: a token always, from a fresh session when the caller has none).
 */
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { initialize } from './fixture.js';

const SECRETS = {
  SECRET_KEY: 'secret-key-must-not-leak-1',
  DATABASE_SECRET_KEY: 'database-secret-must-not-leak-2',
  PAGE_TOKEN_KEY: 'page-token-key-must-not-leak-3',
  SECURITY_SCANNER_V4_PSK: 'cHNrLW11c3Qtbm90LWxlYWstNA==',
};

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistry({
    label: 'web-config',
    config: {
      ...SECRETS,
      FEATURE_USER_INITIALIZE: true,
      SUPER_USERS: ['admin'],
      REGISTRY_TITLE: 'Acme Registry',
      REGISTRY_TITLE_SHORT: 'Acme',
      ENTERPRISE_LOGO_URL: 'https://example.com/logo.png',
      DOCUMENTATION_ROOT: 'https://docs.example.com/',
      FEATURE_QUOTA_MANAGEMENT: true,
      FEATURE_ANONYMOUS_ACCESS: false,
      TAG_EXPIRATION_OPTIONS: ['0s', '1d', '2w'],
      DEFAULT_TAG_EXPIRATION: '2w',
    },
  });
});

afterAll(async () => {
  await reg?.stop();
});

async function getJson(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${reg.url}${path}`, { headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', setCookie: res.headers.get('set-cookie'), body: (await res.json()) as any };
}

test('GET /config answers anonymous callers with the public settings, every feature flag and the registry state', async () => {
  const r = await getJson('/config');
  expect(r.status).toBe(200);
  expect(r.type).toMatch(/^application\/json/);
  expect(Object.keys(r.body).sort()).toEqual(['account_recovery_mode', 'config', 'external_login', 'features', 'oauth', 'registry_state']);
  expect(r.body.config).toEqual({
    SERVER_HOSTNAME: reg.hostPort,
    PREFERRED_URL_SCHEME: 'http',
    AUTHENTICATION_TYPE: 'Database',
    REGISTRY_TITLE: 'Acme Registry',
    REGISTRY_TITLE_SHORT: 'Acme',
    ENTERPRISE_LOGO_URL: 'https://example.com/logo.png',
    BRANDING: { logo: 'https://example.com/logo.png' },
    DOCUMENTATION_ROOT: 'https://docs.example.com/',
    TAG_EXPIRATION_OPTIONS: ['0s', '1d', '2w'],
    ROBOTS_DISALLOW: false,
    FEATURE_REPO_MIRROR: false,
    FEATURE_QUOTA_MANAGEMENT: true,
    FEATURE_EDIT_QUOTA: true,
    FEATURE_PROXY_CACHE: false,
  });
  expect(r.body.features).toMatchObject({ QUOTA_MANAGEMENT: true, ANONYMOUS_ACCESS: false, SUPER_USERS: true, USER_INITIALIZE: true, BUILD_SUPPORT: false });
  for (const v of Object.values(r.body.features)) expect(typeof v).toBe('boolean');
  expect(r.body.registry_state).toBe('normal');
  expect(r.body.oauth).toEqual({});
  expect(r.body.external_login).toEqual([]);
  expect(r.body.account_recovery_mode).toBe(false);
});

test('GET /config never publishes a secret, a connection string or a key', async () => {
  const text = await (await fetch(`${reg.url}/config`)).text();
  for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/SECRET|PASSWORD|PSK|DB_URI|TOKEN_KEY/i);
});

test('GET /csrf_token without a session starts one; the same session keeps its token; a forged cookie gets a fresh one', async () => {
  const first = await getJson('/csrf_token');
  expect(first.status).toBe(200);
  expect(first.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  expect(first.setCookie).toMatch(/^quay_session=anon\.[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax/);
  const cookie = first.setCookie!.split(';')[0];

  const again = await getJson('/csrf_token', { cookie });
  expect(again.body.csrf_token).toBe(first.body.csrf_token);
  expect(again.setCookie).toBeNull();

  const other = await getJson('/csrf_token');
  expect(other.body.csrf_token).not.toBe(first.body.csrf_token);

  // A cookie value the server did not issue is not a session: a new one replaces it.
  const forged = await getJson('/csrf_token', { cookie: 'quay_session=anon.not-a-real-session' });
  expect(forged.setCookie).toMatch(/^quay_session=anon\./);
  expect(forged.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
});

test("GET /csrf_token of a signed-in session is the token that session's writes must carry", async () => {
  await initialize(reg);
  const anon = await getJson('/csrf_token');
  const anonCookie = anon.setCookie!.split(';')[0];
  // The UI signs in from its anonymous session.
  const signin = await fetch(`${reg.url}/api/v1/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: anonCookie, 'x-csrf-token': anon.body.csrf_token },
    body: JSON.stringify({ username: 'admin', password: 'admin-password-1' }),
  });
  expect(signin.status).toBe(200);
  const cookie = (signin.headers.get('set-cookie') ?? '').split(';')[0];
  expect(cookie).not.toBe(anonCookie);
  const next = signin.headers.get('x-next-csrf-token');
  const token = await getJson('/csrf_token', { cookie });
  expect(token.body.csrf_token).toBe(next);
  expect(token.setCookie).toBeNull();

  // The token is the one the API checks: without it a write is refused, with it the write is done.
  const write = (csrf?: string) =>
    fetch(`${reg.url}/api/v1/organization/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, ...(csrf ? { 'x-csrf-token': csrf } : {}) },
      body: JSON.stringify({ name: 'acme' }),
    });
  const without = await write();
  expect(without.status).toBe(403);
  expect(((await without.json()) as { error_message: string }).error_message).toBe('CSRF token was invalid or missing.');
  expect((await write(anon.body.csrf_token)).status).toBe(403);
  expect((await write(token.body.csrf_token)).status).toBe(201);
});
