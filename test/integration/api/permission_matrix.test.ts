/**
 * The permission matrix: for each kind of principal and each route family of the REST API, plus the
 * registry's pull/push/admin through the token service, the expected allow or deny. Runs against the real
 * registry process on Postgres, with the world built through the API itself.
 */
import { basicAuth, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, grantedActions, initialize, oauthToken, signin } from './fixture.js';
import { V2Client } from '../../helpers/v2.js';

let reg: RegistryProcess;

interface Principal {
  /** How it calls the REST API. */
  api: Api;
  /** Its registry credentials (null: anonymous). */
  creds: { username: string; password: string } | null;
  /** A rejected API call answers this (401 for callers the API does not know, 403 for known users). */
  denied: 401 | 403;
}

const P: Record<string, Principal> = {};
const ALL_OPS = [
  'repo_read',
  'repo_write',
  'repo_admin',
  'grant_admin',
  'repo_create',
  'org_team',
  'org_robot',
  'org_logs',
  'repo_logs',
  'org_export_logs',
  'repo_export_logs',
  'org_members',
  'su_users',
  'other_ns_read',
  'public_read',
  'user_me',
  'org_add_owner',
  'repo_notify_list',
  'repo_notify_create',
  'repo_authorized_email',
  'org_notify',
  'user_namespace_notify',
  'repo_security',
  'public_security',
  'repo_security_summaries',
  'public_security_summaries',
  'repo_state',
  'repo_tokens',
  'su_messages',
  'org_proxycache_read',
  'org_proxycache_admin',
  'repo_mirror_read',
  'repo_mirror_admin',
  'repo_triggers',
  'repo_builds',
  'su_changelog',
] as const;
type Op = (typeof ALL_OPS)[number];

/**
 * The answer of an allowed call where it is not a 2xx (repository tokens are gone in Quay 3.8: 410; the
 * e-mail address was never authorized, so an admin learns 404; past authorization the proxy cache and mirror
 * rows fail on purpose: a refused upstream, a repository without a mirror configuration).
 */
const ALLOWED_STATUS: Partial<Record<Op, number>> = {
  repo_tokens: 410,
  repo_authorized_email: 404,
  org_proxycache_admin: 400,
  repo_mirror_read: 404,
  repo_mirror_admin: 404,
};

/** What only superusers (and global read-only superusers, for some) may do. */
const SUPERUSER_OPS: Op[] = ['su_users', 'other_ns_read', 'su_messages', 'su_changelog'];

/** What each principal may do on the API; everything else must be denied. */
const ALLOWED: Record<string, Op[]> = {
  anonymous: ['public_read', 'public_security', 'public_security_summaries'],
  outsider: ['public_read', 'public_security', 'public_security_summaries', 'user_me', 'user_namespace_notify'],
  reader: [
    'repo_read',
    'repo_security',
    'repo_security_summaries',
    'repo_builds',
    'public_read',
    'public_security',
    'public_security_summaries',
    'user_me',
    'user_namespace_notify',
  ],
  writer: [
    'repo_read',
    'repo_security',
    'repo_security_summaries',
    'repo_builds',
    'repo_write',
    'public_read',
    'public_security',
    'public_security_summaries',
    'user_me',
    'user_namespace_notify',
  ],
  repoadmin: [
    'repo_read',
    'repo_security',
    'repo_security_summaries',
    'repo_builds',
    'repo_write',
    'repo_admin',
    'grant_admin',
    'repo_logs',
    'repo_export_logs',
    'public_read',
    'public_security',
    'public_security_summaries',
    'user_me',
    'repo_state',
    'repo_tokens',
    'repo_notify_list',
    'repo_notify_create',
    'repo_authorized_email',
    'user_namespace_notify',
    'repo_mirror_read',
    'repo_mirror_admin',
    'repo_triggers',
  ],
  member: ['public_read', 'public_security', 'public_security_summaries', 'user_me', 'user_namespace_notify', 'org_proxycache_read'],
  creator: ['repo_create', 'public_read', 'public_security', 'public_security_summaries', 'user_me', 'user_namespace_notify', 'org_proxycache_read'],
  orgadmin: ALL_OPS.filter((o) => !SUPERUSER_OPS.includes(o)),
  robot_with_perm: ['public_read', 'public_security', 'public_security_summaries'],
  robot_without_perm: ['public_read', 'public_security', 'public_security_summaries'],
  oauth_full: ALL_OPS.filter((o) => !SUPERUSER_OPS.includes(o)),
  oauth_repo_read: ['repo_read', 'repo_security', 'repo_security_summaries', 'repo_builds', 'public_read', 'public_security', 'public_security_summaries'],
  oauth_user_read: ['user_me'],
  app_token: [],
  superuser: ['su_users', 'public_read', 'public_security', 'public_security_summaries', 'user_me', 'su_messages', 'user_namespace_notify', 'su_changelog'],
  // GLOBAL_READONLY_SUPER_USERS: reads every repository (its notifications too) and the superuser API, changes nothing.
  global_reader: [
    'repo_read',
    'repo_security',
    'repo_security_summaries',
    'repo_builds',
    'su_users',
    'other_ns_read',
    'public_read',
    'public_security',
    'public_security_summaries',
    'user_me',
    'repo_notify_list',
    'user_namespace_notify',
    'org_proxycache_read',
    'repo_mirror_read',
  ],
};

/** Digests of the images pushed into acme/private and acme/public (for the /security rows). */
const IMAGES: { private: string; public: string } = { private: '', public: '' };

/** Registry actions granted by /v2/auth for `pull,push,*` on each repository. */
const REGISTRY: Record<string, { private: string[]; fresh: string[]; other: string[]; public: string[] }> = {
  anonymous: { private: [], fresh: [], other: [], public: ['pull'] },
  outsider: { private: [], fresh: [], other: [], public: ['pull'] },
  reader: { private: ['pull'], fresh: [], other: [], public: ['pull'] },
  writer: { private: ['pull', 'push'], fresh: [], other: [], public: ['pull'] },
  repoadmin: { private: ['*', 'pull', 'push'], fresh: [], other: [], public: ['pull'] },
  member: { private: [], fresh: [], other: [], public: ['pull'] },
  creator: { private: [], fresh: ['push'], other: [], public: ['pull'] },
  orgadmin: { private: ['*', 'pull', 'push'], fresh: ['push'], other: [], public: ['*', 'pull', 'push'] },
  robot_with_perm: { private: ['pull', 'push'], fresh: [], other: [], public: ['pull'] },
  robot_without_perm: { private: [], fresh: [], other: [], public: ['pull'] },
  oauth_full: { private: ['*', 'pull', 'push'], fresh: ['push'], other: [], public: ['*', 'pull', 'push'] },
  // A token's scope caps what /v2/auth grants: repo:read never becomes push.
  oauth_repo_read: { private: ['pull'], fresh: [], other: [], public: ['pull'] },
  oauth_user_read: { private: [], fresh: [], other: [], public: ['pull'] },
  app_token: { private: ['pull'], fresh: [], other: [], public: ['pull'] },
  superuser: { private: [], fresh: [], other: [], public: ['pull'] },
  global_reader: { private: ['pull'], fresh: [], other: ['pull'], public: ['pull'] },
  // A robot of another namespace, with admin on its own repository, reaches nothing here.
  stranger_robot: { private: [], fresh: [], other: ['pull'], public: ['pull'] },
};

let counter = 0;
/** One API call per operation; `name` makes created names unique. */
function call(api: Api, op: Op, name: string) {
  switch (op) {
    case 'repo_read':
      return api.get('/repository/acme/private');
    case 'repo_write':
      return api.put('/repository/acme/private', { description: `set by ${name}` });
    case 'repo_admin':
      return api.get('/repository/acme/private/permissions/user/');
    case 'grant_admin':
      return api.put('/repository/acme/private/permissions/user/grantee', { role: 'admin' });
    case 'repo_create':
      return api.post('/repository', { namespace: 'acme', repository: `made-by-${name}-${++counter}`, visibility: 'private', description: '' });
    case 'org_team':
      return api.put(`/organization/acme/team/team-${name}`, { role: 'member' });
    case 'org_robot':
      return api.put(`/organization/acme/robots/bot${++counter}`);
    case 'org_logs':
      return api.get('/organization/acme/logs');
    case 'repo_logs':
      return api.get('/repository/acme/private/logs');
    case 'org_export_logs':
      return api.post('/organization/acme/exportlogs', {});
    case 'repo_export_logs':
      return api.post('/repository/acme/private/exportlogs', {});
    case 'org_members':
      return api.get('/organization/acme/members');
    case 'su_users':
      return api.get('/superuser/users/');
    case 'other_ns_read':
      return api.get('/repository/stranger/secret');
    case 'public_read':
      return api.get('/repository/acme/public');
    case 'user_me':
      return api.get('/user/');
    case 'repo_security':
      return api.get(`/repository/acme/private/manifest/${IMAGES.private}/security?vulnerabilities=true`);
    case 'public_security':
      return api.get(`/repository/acme/public/manifest/${IMAGES.public}/security?vulnerabilities=true`);
    case 'repo_security_summaries':
      return api.get(`/repository/acme/private/security?digests=${IMAGES.private}`);
    case 'public_security_summaries':
      return api.get(`/repository/acme/public/security?digests=${IMAGES.public}`);
    case 'org_add_owner':
      // Joining the owners team is how an org admin is made: only admins may do it.
      return api.put('/organization/acme/team/owners/members/grantee');
    case 'repo_notify_list':
      return api.get('/repository/acme/private/notification/');
    case 'repo_notify_create':
      return api.post('/repository/acme/private/notification/', {
        event: 'repo_push',
        method: 'quay_notification',
        config: { target: { kind: 'org', name: 'acme' } },
        eventConfig: {},
        title: name,
      });
    case 'repo_authorized_email':
      return api.get('/repository/acme/private/authorizedemail/nobody@example.com');
    case 'org_notify':
      return api.get('/organization/acme/notifications');
    case 'user_namespace_notify':
      return api.get('/user/namespacenotifications');
    case 'repo_state':
      // NORMAL: the state the other operations need.
      return api.put('/repository/acme/private/changestate', { state: 'NORMAL' });
    case 'repo_tokens':
      return api.get('/repository/acme/private/tokens/');
    case 'org_proxycache_read':
      return api.get('/organization/acme/proxycache');
    case 'org_proxycache_admin':
      return api.post('/organization/acme/validateproxycache', { upstream_registry: '169.254.169.254' });
    case 'repo_mirror_read':
      return api.get('/repository/acme/private/mirror');
    case 'repo_mirror_admin':
      return api.post('/repository/acme/private/mirror/sync-now');
    case 'repo_builds':
      return api.get('/repository/acme/private/build/');
    case 'repo_triggers':
      return api.get('/repository/acme/private/trigger/');
    case 'su_changelog':
      return api.get('/superuser/changelog/');
    case 'su_messages':
      return api.post('/messages', { message: { content: `from ${name}`, media_type: 'text/plain', severity: 'info' } });
  }
}

beforeAll(async () => {
  reg = await startRegistry({
    label: 'matrix',
    config: await scaleOutConfig({
      FEATURE_USER_INITIALIZE: true,
      SUPER_USERS: ['admin'],
      GLOBAL_READONLY_SUPER_USERS: ['auditor'],
      FEATURE_SECURITY_SCANNER: true,
      FEATURE_PROXY_CACHE: true,
      FEATURE_REPO_MIRROR: true,
      FEATURE_BUILD_SUPPORT: true,
      PERMANENTLY_DELETE_TAGS: true,
    }),
  });
  const admin = await initialize(reg);
  const pw: Record<string, string> = {};
  for (const u of ['owner', 'creator', 'member', 'reader', 'writer', 'repoadmin', 'outsider', 'stranger', 'grantee', 'auditor']) pw[u] = await createUser(admin.api, u);
  const owner = await signin(reg, 'owner', pw.owner);
  await owner.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await owner.ok('PUT', '/organization/acme/team/creators', { role: 'creator' });
  await owner.ok('PUT', '/organization/acme/team/members', { role: 'member' });
  for (const [user, team] of [
    ['creator', 'creators'],
    ['member', 'members'],
  ]) {
    const added = await owner.ok<{ invited: boolean }>('PUT', `/organization/acme/team/${team}/members/${user}`);
    expect(added.invited).toBe(true);
    const s = await signin(reg, user, pw[user]);
    const n = await s.ok<{ notifications: { kind: string; metadata: { code: string } }[] }>('GET', '/user/notifications');
    await s.ok('PUT', `/teaminvite/${encodeURIComponent(n.notifications[0].metadata.code)}`);
  }
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'private', visibility: 'private', description: 'private' });
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'public', visibility: 'public', description: 'public' });
  for (const [u, role] of [
    ['reader', 'read'],
    ['writer', 'write'],
    ['repoadmin', 'admin'],
  ]) {
    await owner.ok('PUT', `/repository/acme/private/permissions/user/${u}`, { role });
  }
  const pusher = V2Client.basic(reg, 'owner', pw.owner);
  IMAGES.private = (await pusher.pushImage('acme/private', 'v1')).digest;
  IMAGES.public = (await pusher.pushImage('acme/public', 'v1')).digest;
  const withPerm = await owner.ok<{ name: string; token: string }>('PUT', '/organization/acme/robots/withperm');
  const noPerm = await owner.ok<{ name: string; token: string }>('PUT', '/organization/acme/robots/noperm');
  await owner.ok('PUT', `/repository/acme/private/permissions/user/${encodeURIComponent(withPerm.name)}`, { role: 'write' });
  const stranger = await signin(reg, 'stranger', pw.stranger);
  await stranger.ok('POST', '/repository', { repository: 'secret', visibility: 'private', description: '' });
  const strangerBot = await stranger.ok<{ name: string; token: string }>('PUT', '/user/robots/bot');
  await stranger.ok('PUT', `/repository/stranger/secret/permissions/user/${encodeURIComponent(strangerBot.name)}`, { role: 'admin' });
  const full = await oauthToken(owner, 'acme', 'repo:read repo:write repo:admin repo:create user:read user:admin org:admin');
  const repoRead = await oauthToken(owner, 'acme', 'repo:read');
  const userRead = await oauthToken(owner, 'acme', 'user:read');
  const reader = await signin(reg, 'reader', pw.reader);
  const app = await reader.ok<{ token: { token_code: string } }>('POST', '/user/apptoken', { title: 'ci' });

  const user = async (name: string): Promise<Principal> => ({ api: await signin(reg, name, pw[name]), creds: { username: name, password: pw[name] }, denied: 403 });
  const anonymous = new Api(reg.url);
  P.anonymous = { api: anonymous, creds: null, denied: 401 };
  for (const name of ['outsider', 'reader', 'writer', 'repoadmin', 'member', 'creator']) P[name] = await user(name);
  P.global_reader = await user('auditor');
  P.orgadmin = { api: owner, creds: { username: 'owner', password: pw.owner }, denied: 403 };
  // The API takes no Basic auth: a robot there is anonymous.
  const robot = (r: { name: string; token: string }): Principal => ({
    api: new Api(reg.url, { basic: `Basic ${Buffer.from(`${r.name}:${r.token}`).toString('base64')}` }),
    creds: { username: r.name, password: r.token },
    denied: 401,
  });
  P.robot_with_perm = robot(withPerm);
  P.robot_without_perm = robot(noPerm);
  P.stranger_robot = robot(strangerBot);
  P.oauth_full = { api: new Api(reg.url, { bearer: full }), creds: { username: '$oauthtoken', password: full }, denied: 403 };
  P.oauth_repo_read = { api: new Api(reg.url, { bearer: repoRead }), creds: { username: '$oauthtoken', password: repoRead }, denied: 403 };
  P.oauth_user_read = { api: new Api(reg.url, { bearer: userRead }), creds: { username: '$oauthtoken', password: userRead }, denied: 403 };
  // An app token is a registry password, not an API bearer token.
  P.app_token = { api: new Api(reg.url, { bearer: app.token.token_code }), creds: { username: '$app', password: app.token.token_code }, denied: 401 };
  P.superuser = { api: await signin(reg, 'admin', admin.password), creds: { username: 'admin', password: admin.password }, denied: 403 };
});

afterAll(async () => {
  await reg?.stop();
});

describe('REST API', () => {
  test.each(Object.keys(ALLOWED))('%s: allowed exactly where expected', async (name) => {
    const p = P[name];
    const mismatches: string[] = [];
    for (const op of ALL_OPS) {
      const r = await call(p.api, op, name);
      const allowed = ALLOWED[name].includes(op);
      const expectedOk = ALLOWED_STATUS[op];
      const ok = allowed ? (expectedOk ? r.status === expectedOk : r.status >= 200 && r.status < 300) : r.status === p.denied;
      if (!ok) mismatches.push(`${op}: expected ${allowed ? (expectedOk ?? '2xx') : p.denied}, got ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
      if (!allowed && r.status !== 404) {
        // Denials use Quay's error shape.
        expect(r.body).toMatchObject({
          status: r.status,
          error_type: expect.any(String),
          error_message: expect.any(String),
          title: expect.any(String),
          type: expect.any(String),
          detail: expect.any(String),
        });
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('registry token service', () => {
  test.each(Object.keys(REGISTRY))('%s: /v2/auth grants exactly what the resolver allows', async (name) => {
    const creds = P[name].creds;
    const expected = REGISTRY[name];
    const got = {
      private: await grantedActions(reg, creds, 'acme/private'),
      fresh: await grantedActions(reg, creds, `acme/fresh-${name.replace(/_/g, '-')}`, 'push'),
      other: await grantedActions(reg, creds, 'stranger/secret', 'pull'),
      public: await grantedActions(reg, creds, 'acme/public'),
    };
    expect(got).toEqual(expected);
  });
});

describe('no escalation', () => {
  test('a creator-team member cannot grant admin, nor join the owners team', async () => {
    expect((await P.creator.api.put('/repository/acme/private/permissions/user/creator', { role: 'admin' })).status).toBe(403);
    expect((await P.creator.api.put('/organization/acme/team/owners/members/creator')).status).toBe(403);
    expect((await P.creator.api.put('/organization/acme/team/creators', { role: 'admin' })).status).toBe(403);
  });

  test('a repository admin cannot give a robot of another namespace access', async () => {
    const r = await P.repoadmin.api.put('/repository/acme/private/permissions/user/stranger+bot', { role: 'read' });
    expect(r.status).toBe(400);
    expect(r.body.error_message).toBe('Cannot add robot stranger+bot under namespace acme');
  });

  test('an organization cannot add a robot of another namespace to a team', async () => {
    const r = await P.orgadmin.api.put('/organization/acme/team/members/members/stranger+bot');
    expect(r.status).toBe(400);
    expect(r.body.error_message).toMatch(/not a member of the organization/);
  });

  test('a token cannot mint a token with more scopes than it carries', async () => {
    const apps = await P.orgadmin.api.ok<{ applications: { client_id: string }[] }>('GET', '/organization/acme/applications');
    const r = await P.oauth_full.api.post(`/organization/acme/applications/${apps.applications[0].client_id}/tokens`, { name: 'wider', scope: 'super:user' });
    expect(r.status).toBe(400);
  });

  test('the catalog shows an OAuth token only what its scopes allow, with Basic and with a registry token', async () => {
    const catalog = async (creds: { username: string; password: string }) => {
      const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      const direct = (await (await fetch(`${reg.url}/v2/_catalog`, { headers: { authorization: basic } })).json()) as { repositories: string[] };
      const q = new URLSearchParams({ service: reg.hostPort, scope: 'registry:catalog:*' });
      const { token } = (await (await fetch(`${reg.url}/v2/auth?${q}`, { headers: { authorization: basic } })).json()) as { token: string };
      const viaToken = (await (await fetch(`${reg.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } })).json()) as { repositories: string[] };
      expect(viaToken.repositories).toEqual(direct.repositories);
      return direct.repositories;
    };
    expect(await catalog(P.oauth_repo_read.creds!)).toContain('acme/private');
    expect(await catalog(P.oauth_user_read.creds!)).not.toContain('acme/private');
    expect(await catalog(P.robot_with_perm.creds!)).toContain('acme/private');
    expect(await catalog(P.robot_with_perm.creds!)).not.toContain('stranger/secret');
  });

  test('a global read-only superuser changes nothing through the superuser API and is shown as one', async () => {
    const api = P.global_reader.api;
    expect((await api.post('/superuser/users/', { username: 'made-by-auditor', email: 'm@example.com' })).status).toBe(403);
    expect((await api.put('/superuser/users/outsider', { enabled: false })).status).toBe(403);
    expect((await api.delete('/superuser/users/outsider')).status).toBe(403);
    expect(await P.superuser.api.ok('GET', '/superuser/users/outsider')).toMatchObject({ username: 'outsider', enabled: true });
    expect((await P.superuser.api.get('/superuser/users/made-by-auditor')).status).toBe(404);
    expect((await api.get('/superuser/logs')).status).toBe(200);
    const users = await api.ok<{ users: { username: string; super_user: boolean; global_readonly_super_user: boolean }[] }>('GET', '/superuser/users/');
    expect(users.users.find((u) => u.username === 'auditor')).toMatchObject({ super_user: false, global_readonly_super_user: true });
    expect(users.users.find((u) => u.username === 'admin')).toMatchObject({ super_user: true, global_readonly_super_user: false });
    expect(await api.ok('GET', '/user/')).toMatchObject({ username: 'auditor', super_user: false, global_readonly_super_user: true });
  });

  test('a bad or revoked bearer token is refused with 401 invalid_token', async () => {
    const r = await new Api(reg.url, { bearer: 'A'.repeat(40) }).get('/user/');
    expect(r.status).toBe(401);
    expect(r.body.error_type).toBe('invalid_token');
  });
});

/**
 * Every route of /api/v1 and /v2 has a row here naming who may reach it; a route without a row fails the
 * build. Each row is checked for the principals its access class denies: they must get a refusal in the
 * protocol's error format (401/403, or 404 where the resource is hidden; 400 only where the body schema has
 * required fields, which are validated before the handler decides).
 */
type Access = 'public' | 'user' | 'repo:read' | 'repo:write' | 'repo:admin' | 'org:member' | 'org:admin' | 'superuser:read' | 'superuser';

const DENIED: Record<Access, string[]> = {
  public: [],
  user: ['anonymous'],
  'repo:read': ['anonymous', 'outsider', 'member', 'oauth_user_read'],
  'repo:write': ['anonymous', 'outsider', 'member', 'reader', 'oauth_repo_read', 'oauth_user_read'],
  'repo:admin': ['anonymous', 'outsider', 'member', 'reader', 'writer', 'oauth_repo_read', 'oauth_user_read'],
  'org:member': ['anonymous', 'outsider'],
  'org:admin': ['anonymous', 'outsider', 'member', 'reader', 'writer', 'repoadmin', 'creator', 'oauth_repo_read', 'oauth_user_read'],
  'superuser:read': ['anonymous', 'outsider', 'orgadmin', 'oauth_full'],
  superuser: ['anonymous', 'outsider', 'orgadmin', 'oauth_full', 'global_reader'],
};

/** Who may reach each REST route (`METHOD /api/v1/path` as /api/v1/discovery names it). */
const API_ROUTES: Record<string, Access> = {
  'GET /api/v1/discovery': 'public',
  'POST /api/v1/user/initialize': 'public',
  'GET /api/v1/app/{client_id}': 'public',
  // As in Quay: the entity search answers anonymous callers too (users only, no robots or teams).
  'GET /api/v1/entities/{prefix}': 'public',
  // Search answers everyone, with what each caller may see.
  'GET /api/v1/find/all': 'public',
  'GET /api/v1/find/repositories': 'public',
  'POST /api/v1/organization/': 'user',
  'GET /api/v1/organization/{orgname}': 'public',
  'PUT /api/v1/organization/{orgname}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}': 'org:admin',
  'GET /api/v1/organization/{orgname}/aggregatelogs': 'org:admin',
  'GET /api/v1/organization/{orgname}/logs': 'org:admin',
  'POST /api/v1/organization/{orgname}/exportlogs': 'org:admin',
  'GET /api/v1/organization/{orgname}/applications': 'org:admin',
  'POST /api/v1/organization/{orgname}/applications': 'org:admin',
  'GET /api/v1/organization/{orgname}/applications/{client_id}': 'org:admin',
  'PUT /api/v1/organization/{orgname}/applications/{client_id}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/applications/{client_id}': 'org:admin',
  'POST /api/v1/organization/{orgname}/applications/{client_id}/resetclientsecret': 'org:admin',
  'GET /api/v1/organization/{orgname}/applications/{client_id}/tokens': 'org:admin',
  'POST /api/v1/organization/{orgname}/applications/{client_id}/tokens': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/applications/{client_id}/tokens/{token_uuid}': 'org:admin',
  'GET /api/v1/organization/{orgname}/collaborators': 'org:admin',
  'GET /api/v1/organization/{orgname}/members': 'org:admin',
  'GET /api/v1/organization/{orgname}/members/{membername}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/members/{membername}': 'org:admin',
  'GET /api/v1/organization/{orgname}/prototypes': 'org:admin',
  'POST /api/v1/organization/{orgname}/prototypes': 'org:admin',
  'PUT /api/v1/organization/{orgname}/prototypes/{prototypeid}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/prototypes/{prototypeid}': 'org:admin',
  'GET /api/v1/organization/{orgname}/quota': 'org:member',
  'GET /api/v1/organization/{orgname}/quota/{quota_id}': 'org:member',
  'GET /api/v1/organization/{orgname}/quota/{quota_id}/limit': 'org:member',
  'GET /api/v1/organization/{orgname}/quota/{quota_id}/limit/{limit_id}': 'org:member',
  'POST /api/v1/organization/{orgname}/quota': 'superuser',
  'PUT /api/v1/organization/{orgname}/quota/{quota_id}': 'superuser',
  'DELETE /api/v1/organization/{orgname}/quota/{quota_id}': 'superuser',
  'POST /api/v1/organization/{orgname}/quota/{quota_id}/limit': 'superuser',
  'PUT /api/v1/organization/{orgname}/quota/{quota_id}/limit/{limit_id}': 'superuser',
  'DELETE /api/v1/organization/{orgname}/quota/{quota_id}/limit/{limit_id}': 'superuser',
  // Members see the robots (without tokens), as in Quay.
  'GET /api/v1/organization/{orgname}/robots': 'org:member',
  'GET /api/v1/organization/{orgname}/robots/{robot_shortname}': 'org:admin',
  'PUT /api/v1/organization/{orgname}/robots/{robot_shortname}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/robots/{robot_shortname}': 'org:admin',
  'GET /api/v1/organization/{orgname}/robots/{robot_shortname}/credentials': 'org:admin',
  'GET /api/v1/organization/{orgname}/robots/{robot_shortname}/permissions': 'org:admin',
  'POST /api/v1/organization/{orgname}/robots/{robot_shortname}/regenerate': 'org:admin',
  'PUT /api/v1/organization/{orgname}/team/{teamname}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/team/{teamname}': 'org:admin',
  'GET /api/v1/organization/{orgname}/team/{teamname}/members': 'org:admin',
  'PUT /api/v1/organization/{orgname}/team/{teamname}/members/{membername}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/team/{teamname}/members/{membername}': 'org:admin',
  'GET /api/v1/organization/{orgname}/team/{teamname}/permissions': 'org:admin',
  'PUT /api/v1/organization/{orgname}/team/{teamname}/invite/{email}': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/team/{teamname}/invite/{email}': 'org:admin',
  // Members may read the proxy cache settings, as in Quay.
  'GET /api/v1/organization/{orgname}/proxycache': 'org:member',
  'POST /api/v1/organization/{orgname}/proxycache': 'org:admin',
  'DELETE /api/v1/organization/{orgname}/proxycache': 'org:admin',
  'POST /api/v1/organization/{orgname}/validateproxycache': 'org:admin',
  'PUT /api/v1/repository/{repository}/changestate': 'repo:admin',
  'GET /api/v1/repository/{repository}/manifest/{manifestref}/security': 'repo:read',
  'GET /api/v1/repository/{repository}/security': 'repo:read',
  'GET /api/v1/error/{error_type}': 'public',
  'GET /api/v1/messages': 'public',
  'POST /api/v1/messages': 'superuser',
  'DELETE /api/v1/message/{uuid}': 'superuser',
  'POST /api/v1/superuser/takeownership/{namespace}': 'superuser',
  'PUT /api/v1/superuser/organizations/{name}': 'superuser',
  'GET /api/v1/superuser/keys': 'superuser:read',
  'POST /api/v1/superuser/keys': 'superuser',
  'GET /api/v1/superuser/keys/{kid}': 'superuser:read',
  'PUT /api/v1/superuser/keys/{kid}': 'superuser',
  'DELETE /api/v1/superuser/keys/{kid}': 'superuser',
  'POST /api/v1/superuser/approvedkeys/{kid}': 'superuser',
  'GET /api/v1/repository/{repository}/tokens/': 'repo:admin',
  'POST /api/v1/repository/{repository}/tokens/': 'repo:admin',
  'GET /api/v1/repository/{repository}/tokens/{code}': 'repo:admin',
  'PUT /api/v1/repository/{repository}/tokens/{code}': 'repo:admin',
  'DELETE /api/v1/repository/{repository}/tokens/{code}': 'repo:admin',
  'GET /api/v1/repository/{repository}/mirror': 'repo:admin',
  'POST /api/v1/repository/{repository}/mirror': 'repo:admin',
  'PUT /api/v1/repository/{repository}/mirror': 'repo:admin',
  'POST /api/v1/repository/{repository}/mirror/sync-now': 'repo:admin',
  'POST /api/v1/repository/{repository}/mirror/sync-cancel': 'repo:admin',
  'GET /api/v1/organization/{orgname}/notifications': 'org:admin',
  'GET /api/v1/user/namespacenotifications': 'user',
  'GET /api/v1/repository/{repository}/notification/': 'repo:admin',
  'POST /api/v1/organization/{orgname}/notifications': 'org:admin',
  'POST /api/v1/user/namespacenotifications': 'user',
  'POST /api/v1/repository/{repository}/notification/': 'repo:admin',
  'GET /api/v1/organization/{orgname}/notifications/{uuid}': 'org:admin',
  'GET /api/v1/user/namespacenotifications/{uuid}': 'user',
  'GET /api/v1/repository/{repository}/notification/{uuid}': 'repo:admin',
  'POST /api/v1/organization/{orgname}/notifications/{uuid}': 'org:admin',
  'POST /api/v1/user/namespacenotifications/{uuid}': 'user',
  'POST /api/v1/repository/{repository}/notification/{uuid}': 'repo:admin',
  'DELETE /api/v1/organization/{orgname}/notifications/{uuid}': 'org:admin',
  'DELETE /api/v1/user/namespacenotifications/{uuid}': 'user',
  'DELETE /api/v1/repository/{repository}/notification/{uuid}': 'repo:admin',
  'POST /api/v1/organization/{orgname}/notifications/{uuid}/test': 'org:admin',
  'POST /api/v1/user/namespacenotifications/{uuid}/test': 'user',
  'POST /api/v1/repository/{repository}/notification/{uuid}/test': 'repo:admin',
  'GET /api/v1/repository/{repository}/authorizedemail/{email}': 'repo:admin',
  'POST /api/v1/repository/{repository}/authorizedemail/{email}': 'repo:admin',
  'GET /api/v1/repository': 'public',
  'POST /api/v1/repository': 'user',
  'GET /api/v1/repository/{repository}': 'repo:read',
  'PUT /api/v1/repository/{repository}': 'repo:write',
  'DELETE /api/v1/repository/{repository}': 'repo:admin',
  'GET /api/v1/repository/{repository}/aggregatelogs': 'repo:admin',
  'GET /api/v1/repository/{repository}/logs': 'repo:admin',
  'POST /api/v1/repository/{repository}/exportlogs': 'repo:admin',
  'POST /api/v1/repository/{repository}/changevisibility': 'repo:admin',
  'GET /api/v1/repository/{repository}/manifest/{manifestref}': 'repo:read',
  'GET /api/v1/repository/{repository}/manifest/{manifestref}/labels': 'repo:read',
  'POST /api/v1/repository/{repository}/manifest/{manifestref}/labels': 'repo:write',
  'GET /api/v1/repository/{repository}/manifest/{manifestref}/labels/{labelid}': 'repo:read',
  'DELETE /api/v1/repository/{repository}/manifest/{manifestref}/labels/{labelid}': 'repo:write',
  'GET /api/v1/repository/{repository}/permissions/team/': 'repo:admin',
  'GET /api/v1/repository/{repository}/permissions/team/{teamname}': 'repo:admin',
  'PUT /api/v1/repository/{repository}/permissions/team/{teamname}': 'repo:admin',
  'DELETE /api/v1/repository/{repository}/permissions/team/{teamname}': 'repo:admin',
  'GET /api/v1/repository/{repository}/permissions/user/': 'repo:admin',
  'GET /api/v1/repository/{repository}/permissions/user/{username}': 'repo:admin',
  'PUT /api/v1/repository/{repository}/permissions/user/{username}': 'repo:admin',
  'DELETE /api/v1/repository/{repository}/permissions/user/{username}': 'repo:admin',
  'GET /api/v1/repository/{repository}/permissions/user/{username}/transitive': 'repo:admin',
  'GET /api/v1/repository/{repository}/tag/': 'repo:read',
  'PUT /api/v1/repository/{repository}/tag/{tag}': 'repo:write',
  'DELETE /api/v1/repository/{repository}/tag/{tag}': 'repo:write',
  'POST /api/v1/repository/{repository}/tag/{tag}/restore': 'repo:write',
  'POST /api/v1/repository/{repository}/tag/{tag}/expire': 'repo:write',
  'POST /api/v1/signin': 'public',
  'POST /api/v1/recovery': 'public',
  'POST /api/v1/signin/verify': 'user',
  'POST /api/v1/signout': 'public',
  // Quay's ChangeLog: SuperUserPermission only (a global read-only superuser is refused).
  'GET /api/v1/superuser/changelog/': 'superuser',
  'GET /api/v1/superuser/aggregatelogs': 'superuser:read',
  'GET /api/v1/superuser/logs': 'superuser:read',
  'GET /api/v1/superuser/apptokens': 'superuser:read',
  'GET /api/v1/superuser/organizations/': 'superuser:read',
  'GET /api/v1/superuser/registrysize/': 'superuser:read',
  'POST /api/v1/superuser/registrysize/': 'superuser',
  'DELETE /api/v1/superuser/organizations/{name}': 'superuser',
  'GET /api/v1/superuser/organization/{namespace}/quota': 'superuser:read',
  'GET /api/v1/superuser/organization/{namespace}/quota/{quota_id}': 'superuser:read',
  'GET /api/v1/superuser/organization/{namespace}/quota/{quota_id}/limit': 'superuser:read',
  'GET /api/v1/superuser/organization/{namespace}/quota/{quota_id}/limit/{limit_id}': 'superuser:read',
  'POST /api/v1/superuser/organization/{namespace}/quota': 'superuser',
  'PUT /api/v1/superuser/organization/{namespace}/quota/{quota_id}': 'superuser',
  'DELETE /api/v1/superuser/organization/{namespace}/quota/{quota_id}': 'superuser',
  'POST /api/v1/superuser/organization/{namespace}/quota/{quota_id}/limit': 'superuser',
  'PUT /api/v1/superuser/organization/{namespace}/quota/{quota_id}/limit/{limit_id}': 'superuser',
  'DELETE /api/v1/superuser/organization/{namespace}/quota/{quota_id}/limit/{limit_id}': 'superuser',
  'GET /api/v1/superuser/users/{namespace}/quota': 'superuser:read',
  'GET /api/v1/superuser/users/{namespace}/quota/{quota_id}': 'superuser:read',
  'GET /api/v1/superuser/users/{namespace}/quota/{quota_id}/limit': 'superuser:read',
  'GET /api/v1/superuser/users/{namespace}/quota/{quota_id}/limit/{limit_id}': 'superuser:read',
  'POST /api/v1/superuser/users/{namespace}/quota': 'superuser',
  'PUT /api/v1/superuser/users/{namespace}/quota/{quota_id}': 'superuser',
  'DELETE /api/v1/superuser/users/{namespace}/quota/{quota_id}': 'superuser',
  'POST /api/v1/superuser/users/{namespace}/quota/{quota_id}/limit': 'superuser',
  'PUT /api/v1/superuser/users/{namespace}/quota/{quota_id}/limit/{limit_id}': 'superuser',
  'DELETE /api/v1/superuser/users/{namespace}/quota/{quota_id}/limit/{limit_id}': 'superuser',
  'GET /api/v1/superuser/{build_uuid}/build': 'superuser:read',
  'GET /api/v1/superuser/{build_uuid}/status': 'superuser:read',
  'GET /api/v1/superuser/{build_uuid}/logs': 'superuser:read',
  'GET /api/v1/superuser/users/': 'superuser:read',
  'POST /api/v1/superuser/users/': 'superuser',
  'GET /api/v1/superuser/users/{username}': 'superuser:read',
  'PUT /api/v1/superuser/users/{username}': 'superuser',
  'DELETE /api/v1/superuser/users/{username}': 'superuser',
  // 404 here (no e-mail configured); who may send it is tested with e-mail on in account_mail.test.ts.
  'POST /api/v1/superusers/users/{username}/sendrecovery': 'superuser',
  'PUT /api/v1/teaminvite/{code}': 'user',
  'DELETE /api/v1/teaminvite/{code}': 'user',
  'GET /api/v1/user/': 'user',
  'POST /api/v1/user/': 'public',
  'PUT /api/v1/user/': 'user',
  'DELETE /api/v1/user/': 'user',
  'GET /api/v1/user/aggregatelogs': 'user',
  'GET /api/v1/user/logs': 'user',
  'POST /api/v1/user/exportlogs': 'user',
  'GET /api/v1/user/apptoken': 'user',
  'POST /api/v1/user/apptoken': 'user',
  'GET /api/v1/user/apptoken/{token_uuid}': 'user',
  'DELETE /api/v1/user/apptoken/{token_uuid}': 'user',
  'GET /api/v1/user/authorizations': 'user',
  'GET /api/v1/user/authorizations/{uuid}': 'user',
  'DELETE /api/v1/user/authorizations/{uuid}': 'user',
  'POST /api/v1/user/clientkey': 'user',
  'POST /api/v1/user/convert': 'user',
  'GET /api/v1/user/notifications': 'user',
  'GET /api/v1/user/organizations': 'user',
  'GET /api/v1/user/notifications/{uuid}': 'user',
  'PUT /api/v1/user/notifications/{uuid}': 'user',
  'GET /api/v1/user/quota': 'user',
  'GET /api/v1/user/quota/{quota_id}': 'user',
  'GET /api/v1/user/quota/{quota_id}/limit': 'user',
  'GET /api/v1/user/quota/{quota_id}/limit/{limit_id}': 'user',
  'GET /api/v1/user/robots': 'user',
  'GET /api/v1/user/robots/{robot_shortname}': 'user',
  'PUT /api/v1/user/robots/{robot_shortname}': 'user',
  'DELETE /api/v1/user/robots/{robot_shortname}': 'user',
  'GET /api/v1/user/robots/{robot_shortname}/credentials': 'user',
  'GET /api/v1/user/robots/{robot_shortname}/permissions': 'user',
  'POST /api/v1/user/robots/{robot_shortname}/regenerate': 'user',
  'GET /api/v1/user/starred': 'user',
  'POST /api/v1/user/starred': 'user',
  'DELETE /api/v1/user/starred/{repository}': 'user',
  'GET /api/v1/users/{username}': 'public',
  'GET /api/v1/repository/{repository}/trigger/': 'repo:admin',
  'POST /api/v1/repository/{repository}/trigger/': 'repo:admin',
  'GET /api/v1/repository/{repository}/trigger/{trigger_uuid}': 'repo:admin',
  'PUT /api/v1/repository/{repository}/trigger/{trigger_uuid}': 'repo:admin',
  'DELETE /api/v1/repository/{repository}/trigger/{trigger_uuid}': 'repo:admin',
  'POST /api/v1/repository/{repository}/trigger/{trigger_uuid}/activate': 'repo:admin',
  // Quay: anyone past the anonymous-access guard; here a signed-in user.
  'POST /api/v1/filedrop/': 'user',
  'GET /api/v1/repository/{repository}/build/': 'repo:read',
  'POST /api/v1/repository/{repository}/build/': 'repo:write',
  'GET /api/v1/repository/{repository}/build/{build_uuid}': 'repo:read',
  'GET /api/v1/repository/{repository}/build/{build_uuid}/status': 'repo:read',
  // Logs need write (or FEATURE_READER_BUILD_LOGS): the denial of readers is in test/integration/builds.
  'GET /api/v1/repository/{repository}/build/{build_uuid}/logs': 'repo:read',
  'DELETE /api/v1/repository/{repository}/build/{build_uuid}': 'repo:admin',
  'POST /api/v1/repository/{repository}/trigger/{trigger_uuid}/start': 'repo:admin',
  'GET /api/v1/repository/{repository}/trigger/{trigger_uuid}/builds': 'repo:admin',
  // The SCM-API verbs: repository admins; subdir, sources and namespaces only for the trigger's connected user
  // (test/e2e/builds/scm_trigger.test.ts).
  'POST /api/v1/repository/{repository}/trigger/{trigger_uuid}/subdir': 'repo:admin',
  'POST /api/v1/repository/{repository}/trigger/{trigger_uuid}/analyze': 'repo:admin',
  'POST /api/v1/repository/{repository}/trigger/{trigger_uuid}/sources': 'repo:admin',
  'GET /api/v1/repository/{repository}/trigger/{trigger_uuid}/namespaces': 'repo:admin',
  'POST /api/v1/repository/{repository}/trigger/{trigger_uuid}/fields/{field_name}': 'repo:admin',
};

/** Who may use each /v2 route (`METHOD route-name` of the dispatcher's table), on the private repository acme/private. */
const V2_ROUTES: Record<string, Access> = {
  'GET v2_base': 'public',
  'HEAD v2_base': 'public',
  'GET v2_catalog': 'user',
  'GET v2_tags': 'repo:read',
  'GET v2_manifest': 'repo:read',
  'HEAD v2_manifest': 'repo:read',
  'PUT v2_manifest': 'repo:write',
  'DELETE v2_manifest': 'repo:write',
  'POST v2_upload_start': 'repo:write',
  'GET v2_upload': 'repo:write',
  'PATCH v2_upload': 'repo:write',
  'PUT v2_upload': 'repo:write',
  'DELETE v2_upload': 'repo:write',
  'GET v2_blob': 'repo:read',
  'HEAD v2_blob': 'repo:read',
  'DELETE v2_blob': 'repo:write',
  'GET v2_referrers': 'repo:read',
  'GET v2_auth': 'public',
  'POST v2_auth': 'public',
};

/** Values for path parameters: the matrix world's names, or something that does not exist. */
const PARAMS: Record<string, string> = {
  namespace: 'acme',
  // Quay's one {repository} parameter: namespace/name, sent encoded (acme%2Fprivate) as generated clients do.
  repository: 'acme/private',
  orgname: 'acme',
  name: 'acme',
  username: 'grantee',
  teamname: 'owners',
  membername: 'owner',
  robot_shortname: 'withperm',
  tag: 'latest',
  manifestref: `sha256:${'0'.repeat(64)}`,
  prefix: 'ow',
  email: 'invitee@example.com',
};

interface Discovery {
  paths: Record<string, Record<string, { parameters?: { in: string; schema?: { required?: string[] } }[] }>>;
}

describe('route coverage', () => {
  let discovery: Discovery;
  beforeAll(async () => {
    discovery = (await (await fetch(`${reg.url}/api/v1/discovery`)).json()) as Discovery;
  });

  const apiRoutes = () => [
    ...Object.entries(discovery.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)),
    // Hidden from the document, routes all the same.
    'GET /api/v1/discovery',
    'POST /api/v1/user/initialize',
  ];

  test('every /api/v1 and /v2 route has a row, and every row a route', async () => {
    const { V2_ROUTES: ROUTES } = await import('../../../registry/http/v2/routes.js');
    const v2 = [...ROUTES.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.name}`)), 'GET v2_auth', 'POST v2_auth'];
    // The dispatcher's action for each route agrees with the matrix's class.
    const classOf = { pull: 'repo:read', push: 'repo:write', delete: 'repo:write' } as const;
    const disagreeing = ROUTES.flatMap((r) =>
      Object.entries(r.methods).flatMap(([m, e]) => (e!.action !== 'none' && classOf[e!.action] !== V2_ROUTES[`${m} ${r.name}`] ? [`${m} ${r.name}: ${e!.action}`] : [])),
    );
    expect(disagreeing).toEqual([]);
    const api = apiRoutes();
    expect(api.filter((r) => !(r in API_ROUTES)).sort()).toEqual([]);
    expect(
      Object.keys(API_ROUTES)
        .filter((r) => !api.includes(r))
        .sort(),
    ).toEqual([]);
    expect(v2.filter((r) => !(r in V2_ROUTES)).sort()).toEqual([]);
    expect(
      Object.keys(V2_ROUTES)
        .filter((r) => !v2.includes(r))
        .sort(),
    ).toEqual([]);
  });

  test.each(Object.keys(DENIED).filter((a) => DENIED[a as Access].length > 0))('REST routes of class %s refuse the principals it excludes', async (access) => {
    const wrong: string[] = [];
    for (const route of apiRoutes().filter((r) => API_ROUTES[r] === access)) {
      const [method, template] = route.split(' ');
      const path = template.replace(/^\/api\/v1/, '').replace(/\{([^}]+)\}/g, (_m, k: string) => encodeURIComponent(PARAMS[k] ?? 'nonexistent'));
      const op = discovery.paths[template]?.[method.toLowerCase()];
      const bodyRequired = (op?.parameters ?? []).some((p) => p.in === 'body' && (p.schema?.required?.length ?? 0) > 0);
      const allowed = bodyRequired ? [400, 401, 403, 404] : [401, 403, 404];
      for (const name of DENIED[access as Access]) {
        const r = await P[name].api.call(method, path, method === 'POST' || method === 'PUT' ? {} : undefined);
        if (!allowed.includes(r.status) || typeof r.body?.error_message !== 'string') wrong.push(`${name} ${route}: ${r.status} ${JSON.stringify(r.body).slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('/v2 routes on a private repository refuse anonymous callers and outsiders in the distribution format', async () => {
    const { V2_ROUTES: ROUTES } = await import('../../../registry/http/v2/routes.js');
    const sample: Record<string, string> = {
      v2_tags: 'acme/private/tags/list',
      v2_manifest: 'acme/private/manifests/latest',
      v2_upload_start: 'acme/private/blobs/uploads/',
      v2_upload: 'acme/private/blobs/uploads/00000000-0000-0000-0000-000000000000',
      v2_blob: `acme/private/blobs/sha256:${'0'.repeat(64)}`,
      v2_referrers: `acme/private/referrers/sha256:${'0'.repeat(64)}`,
      v2_catalog: '_catalog',
    };
    const wrong: string[] = [];
    for (const r of ROUTES) {
      for (const method of Object.keys(r.methods)) {
        const access = V2_ROUTES[`${method} ${r.name}`];
        if (access === 'public') continue;
        for (const name of ['anonymous', 'outsider'].filter((n) => DENIED[access].includes(n))) {
          const creds = P[name].creds;
          const res = await fetch(`${reg.url}/v2/${sample[r.name]}`, { method, headers: creds ? { authorization: basicAuth(creds.username, creds.password) } : {} });
          const text = await res.text();
          const code = method === 'HEAD' ? 'HEAD' : (JSON.parse(text || '{}') as { errors?: { code: string }[] }).errors?.[0]?.code;
          if (![401, 403, 404].includes(res.status) || !code) wrong.push(`${name} ${method} ${r.name}: ${res.status} ${text.slice(0, 120)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
