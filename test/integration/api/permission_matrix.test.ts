/**
 * The permission matrix: for each kind of principal and each route family of the REST API, plus the
 * registry's pull/push/admin through the token service, the expected allow or deny. Runs against the real
 * registry process on Postgres, with the world built through the API itself.
 */
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
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
  'repo_state',
  'repo_tokens',
  'su_messages',
  'org_proxycache_read',
  'org_proxycache_admin',
  'repo_mirror_read',
  'repo_mirror_admin',
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

/** What each principal may do on the API; everything else must be denied. */
const ALLOWED: Record<string, Op[]> = {
  anonymous: ['public_read', 'public_security'],
  outsider: ['public_read', 'public_security', 'user_me', 'user_namespace_notify'],
  reader: ['repo_read', 'repo_security', 'public_read', 'public_security', 'user_me', 'user_namespace_notify'],
  writer: ['repo_read', 'repo_security', 'repo_write', 'public_read', 'public_security', 'user_me', 'user_namespace_notify'],
  repoadmin: [
    'repo_read', 'repo_security', 'repo_write', 'repo_admin', 'grant_admin', 'repo_logs', 'public_read', 'public_security', 'user_me', 'repo_state', 'repo_tokens',
    'repo_notify_list', 'repo_notify_create', 'repo_authorized_email', 'user_namespace_notify', 'repo_mirror_read', 'repo_mirror_admin',
  ],
  member: ['public_read', 'public_security', 'user_me', 'user_namespace_notify', 'org_proxycache_read'],
  creator: ['repo_create', 'public_read', 'public_security', 'user_me', 'user_namespace_notify', 'org_proxycache_read'],
  orgadmin: ALL_OPS.filter((o) => o !== 'su_users' && o !== 'other_ns_read' && o !== 'su_messages'),
  robot_with_perm: ['public_read', 'public_security'],
  robot_without_perm: ['public_read', 'public_security'],
  oauth_full: ALL_OPS.filter((o) => o !== 'su_users' && o !== 'other_ns_read' && o !== 'su_messages'),
  oauth_repo_read: ['repo_read', 'repo_security', 'public_read', 'public_security'],
  oauth_user_read: ['user_me'],
  app_token: [],
  superuser: ['su_users', 'public_read', 'public_security', 'user_me', 'su_messages', 'user_namespace_notify'],
  // GLOBAL_READONLY_SUPER_USERS: reads every repository (its notifications too) and the superuser API, changes nothing.
  global_reader: [
    'repo_read', 'repo_security', 'su_users', 'other_ns_read', 'public_read', 'public_security', 'user_me', 'repo_notify_list', 'user_namespace_notify',
    'org_proxycache_read', 'repo_mirror_read',
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
    case 'org_add_owner':
      // Joining the owners team is how an org admin is made: only admins may do it.
      return api.put('/organization/acme/team/owners/members/grantee');
    case 'repo_notify_list':
      return api.get('/repository/acme/private/notification/');
    case 'repo_notify_create':
      return api.post('/repository/acme/private/notification/', { event: 'repo_push', method: 'quay_notification', config: { target: { kind: 'org', name: 'acme' } }, eventConfig: {}, title: name });
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
    case 'su_messages':
      return api.post('/messages', { message: { content: `from ${name}`, media_type: 'text/plain', severity: 'info' } });
  }
}


beforeAll(async () => {
  reg = await startRegistry({
    label: 'matrix',
    config: await scaleOutConfig({ FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin'], GLOBAL_READONLY_SUPER_USERS: ['auditor'], FEATURE_SECURITY_SCANNER: true, FEATURE_PROXY_CACHE: true, FEATURE_REPO_MIRROR: true }),
  });
  const admin = await initialize(reg);
  const pw: Record<string, string> = {};
  for (const u of ['owner', 'creator', 'member', 'reader', 'writer', 'repoadmin', 'outsider', 'stranger', 'grantee', 'auditor']) pw[u] = await createUser(admin.api, u);
  const owner = await signin(reg, 'owner', pw.owner);
  await owner.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await owner.ok('PUT', '/organization/acme/team/creators', { role: 'creator' });
  await owner.ok('PUT', '/organization/acme/team/members', { role: 'member' });
  for (const [user, team] of [['creator', 'creators'], ['member', 'members']]) {
    const added = await owner.ok<{ invited: boolean }>('PUT', `/organization/acme/team/${team}/members/${user}`);
    expect(added.invited).toBe(true);
    const s = await signin(reg, user, pw[user]);
    const n = await s.ok<{ notifications: { kind: string; metadata: { code: string } }[] }>('GET', '/user/notifications');
    await s.ok('PUT', `/teaminvite/${encodeURIComponent(n.notifications[0].metadata.code)}`);
  }
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'private', visibility: 'private', description: 'private' });
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'public', visibility: 'public', description: 'public' });
  for (const [u, role] of [['reader', 'read'], ['writer', 'write'], ['repoadmin', 'admin']]) {
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
        expect(r.body).toMatchObject({ status: r.status, error_type: expect.any(String), error_message: expect.any(String), title: expect.any(String), type: expect.any(String), detail: expect.any(String) });
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
