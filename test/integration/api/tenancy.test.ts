/**
 * REST API behaviour for tenancy on the real process with Postgres: input validation (400s in Quay's
 * shape), all-or-nothing creation, browser rules (CSRF, X-Requested-With), the generated discovery
 * document, teams and invitations, default permissions, robots' credential forms, listings and logs.
 */
import pg from 'pg';
import { gunzipSync } from 'node:zlib';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, grantedActions, initialize, signin } from './fixture.js';

let reg: RegistryProcess;
let dbUri: string;
let admin: Api;
let owner: Api;
const pw: Record<string, string> = {};

beforeAll(async () => {
  const config = await scaleOutConfig({ FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin'] });
  dbUri = config.DB_URI as string;
  reg = await startRegistry({ label: 'tenancy-api', config });
  admin = (await initialize(reg)).api;
  for (const u of ['owner', 'alice', 'bob']) pw[u] = await createUser(admin, u);
  owner = await signin(reg, 'owner', pw.owner);
  await owner.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
});

afterAll(async () => {
  await reg?.stop();
});

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

function expectBadRequest(r: { status: number; body: any }, message: RegExp): void {
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ status: 400, error_type: 'invalid_request', title: 'invalid_request', type: expect.stringMatching(/\/api\/v1\/error\/invalid_request$/) });
  expect(r.body.error_message).toMatch(message);
  expect(r.body.detail).toBe(r.body.error_message);
}

describe('bad input is a 400 with a clear message', () => {
  test.each([
    ['organization name with capitals', 'POST', '/organization/', { name: 'Acme2' }, /Invalid organization name "Acme2"/],
    ['organization name too short', 'POST', '/organization/', { name: 'a' }, /Invalid organization name "a"/],
    ['organization name with double separator', 'POST', '/organization/', { name: 'a--b' }, /Invalid organization name/],
    ['organization name taken by a user', 'POST', '/organization/', { name: 'alice' }, /already exists/],
    ['organization without a name', 'POST', '/organization/', {}, /^'name' is a required property\n/],
    ['organization with a bad e-mail', 'POST', '/organization/', { name: 'mail', email: 'nope' }, /email/],
    ['team name', 'PUT', '/organization/acme/team/Bad Team', { role: 'member' }, /Invalid team name/],
    ['team role', 'PUT', '/organization/acme/team/ok', { role: 'owner' }, /role/],
    ['team without a role', 'PUT', '/organization/acme/team/ok', {}, /^'role' is a required property\n/],
    ['robot description too long', 'PUT', '/organization/acme/robots/longdesc', { description: 'x'.repeat(256) }, /description/],
    ['repository name', 'POST', '/repository', { namespace: 'acme', repository: 'Bad Name', visibility: 'private', description: '' }, /invalid repository name/i],
    ['repository visibility', 'POST', '/repository', { namespace: 'acme', repository: 'ok', visibility: 'secret', description: '' }, /visibility/],
    ['repository without a description', 'POST', '/repository', { namespace: 'acme', repository: 'ok', visibility: 'private' }, /description/],
    ['permission role', 'PUT', '/repository/acme/perm/permissions/user/alice', { role: 'owner' }, /role/],
    ['token scope', 'POST', '/organization/acme/applications/APP/tokens', { name: 't', scope: 'repo:read repo:everything' }, /Invalid scope/],
    ['log date', 'GET', '/organization/acme/logs?starttime=2024-01-01', undefined, /Invalid starttime "2024-01-01": use MM\/DD\/YYYY/],
    ['log date range', 'GET', '/organization/acme/logs?starttime=02/01/2024&endtime=01/01/2024', undefined, /Invalid date range/],
    ['JSON body', 'POST', '/organization/', '{"name":', /Invalid JSON body/],
  ])('%s', async (_what, method, path, body, message) => {
    await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'perm', visibility: 'private', description: '' }, [201, 400]);
    let url = path as string;
    if (url.includes('/APP/')) {
      const app = await owner.ok<{ client_id: string }>('POST', '/organization/acme/applications', { name: 'bad-input' });
      url = url.replace('APP', app.client_id);
    }
    const r =
      typeof body === 'string'
        ? await fetch(`${reg.url}/api/v1${url}`, {
            method: method as string,
            headers: { 'content-type': 'application/json', cookie: owner.auth.cookie!, 'x-csrf-token': owner.auth.csrf! },
            body,
          }).then(async (x) => ({ status: x.status, body: await x.json() }))
        : await owner.call(method as string, url, body);
    expectBadRequest(r, message as RegExp);
  });

  test('nothing is left behind by a refused create', async () => {
    const rows = await sql("SELECT name FROM namespace WHERE name IN ('Acme2', 'a', 'mail', 'acme+Bad_', 'acme+longdesc')");
    expect(rows).toEqual([]);
    expect(await sql("SELECT name FROM team WHERE name IN ('ok', 'Bad Team')")).toEqual([]);
  });
});

describe('creating an organization or a robot is one transaction', () => {
  test('a failure after the organization row leaves no organization behind', async () => {
    // Make the owners-team insert fail for one organization: the namespace row was already written.
    await sql(`CREATE FUNCTION fail_team() RETURNS trigger AS $$ BEGIN
                 IF (SELECT name FROM namespace WHERE id = NEW.org_id) = 'boom' THEN RAISE EXCEPTION 'injected failure'; END IF;
                 RETURN NEW; END $$ LANGUAGE plpgsql`);
    await sql('CREATE TRIGGER fail_team BEFORE INSERT ON team FOR EACH ROW EXECUTE FUNCTION fail_team()');
    const r = await owner.post('/organization/', { name: 'boom' });
    expect(r.status).toBe(500);
    expect(await sql("SELECT id FROM namespace WHERE name = 'boom'")).toEqual([]);
    expect((await owner.post('/organization/', { name: 'boom2' })).status).toBe(201);
  });

  test('a failure after the robot row leaves no robot behind', async () => {
    await sql(`CREATE FUNCTION fail_robot() RETURNS trigger AS $$ BEGIN
                 IF (SELECT name FROM namespace WHERE id = NEW.robot_id) = 'acme+boom' THEN RAISE EXCEPTION 'injected failure'; END IF;
                 RETURN NEW; END $$ LANGUAGE plpgsql`);
    await sql('CREATE TRIGGER fail_robot BEFORE INSERT ON robot_account FOR EACH ROW EXECUTE FUNCTION fail_robot()');
    expect((await owner.put('/organization/acme/robots/boom')).status).toBe(500);
    expect(await sql("SELECT id FROM namespace WHERE name = 'acme+boom'")).toEqual([]);
    // A retry after the cause is gone succeeds: no stale row blocks the name.
    await sql('DROP TRIGGER fail_robot ON robot_account');
    expect((await owner.put('/organization/acme/robots/boom')).status).toBe(201);
  });
});

describe('browser sessions', () => {
  test('mutations need the CSRF token; GETs from browsers need X-Requested-With; bearer callers need neither', async () => {
    const cookie = owner.auth.cookie!;
    const noCsrf = await fetch(`${reg.url}/api/v1/organization/acme/team/csrf`, {
      method: 'PUT',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{"role":"member"}',
    });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error_message: string }).error_message).toBe('CSRF token was invalid or missing.');
    const csrf = ((await (await fetch(`${reg.url}/csrf_token`, { headers: { cookie } })).json()) as { csrf_token: string }).csrf_token;
    const withCsrf = await fetch(`${reg.url}/api/v1/organization/acme/team/csrf`, {
      method: 'PUT',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: '{"role":"member"}',
    });
    expect(withCsrf.status).toBe(200);

    const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
    const bare = await fetch(`${reg.url}/api/v1/user/`, { headers: { cookie, 'user-agent': chrome } });
    expect(bare.status).toBe(400);
    expect(((await bare.json()) as { error_message: string }).error_message).toBe('API calls must be invoked with an X-Requested-With header if called from a browser');
    const xhr = await fetch(`${reg.url}/api/v1/user/`, { headers: { cookie, 'user-agent': chrome, 'x-requested-with': 'XMLHttpRequest' } });
    expect(xhr.status).toBe(200);
    const curlUa = await fetch(`${reg.url}/api/v1/user/`, { headers: { cookie, 'user-agent': 'curl/8.5.0' } });
    expect(curlUa.status).toBe(200);

    await owner.ok('POST', '/signout');
    expect((await owner.get('/user/')).status).toBe(401);
    owner = await signin(reg, 'owner', pw.owner);
  });

  test('wrong passwords do not sign in', async () => {
    const r = await fetch(`${reg.url}/api/v1/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'owner', password: 'wrong-password' }),
    });
    expect(r.status).toBe(403);
    expect(r.headers.get('set-cookie')).toBeNull();
  });
});

test('/api/v1/discovery is generated from the routes, with scopes and operation ids', async () => {
  const doc = await new Api(reg.url).ok('GET', '/discovery');
  expect(doc.swagger).toBe('2.0');
  expect(Object.keys(doc.securityDefinitions.oauth2_implicit.scopes).sort()).toEqual([
    'org:admin',
    'repo:admin',
    'repo:create',
    'repo:read',
    'repo:write',
    'super:user',
    'user:admin',
    'user:read',
  ]);
  const robots = doc.paths['/api/v1/organization/{orgname}/robots/{robot_shortname}'];
  expect(robots.put).toMatchObject({ operationId: 'createOrgRobot', security: [{ oauth2_implicit: ['org:admin'] }] });
  expect(robots.put.parameters.find((p: { in: string }) => p.in === 'body').schema.properties.description.maxLength).toBe(255);
  expect(doc.paths['/api/v1/repository'].post.operationId).toBe('createRepo');
  expect(doc.paths['/api/v1/superuser/logs'].get.security).toEqual([{ oauth2_implicit: ['super:user'] }]);
});

describe('teams', () => {
  test('a user joins only by accepting; removing a pending member withdraws the invitation', async () => {
    await owner.ok('PUT', '/organization/acme/team/devs', { role: 'creator', description: 'developers' });
    expect((await owner.ok('PUT', '/organization/acme/team/devs/members/alice')).invited).toBe(true);
    const pending = await owner.ok('GET', '/organization/acme/team/devs/members?includePending=true');
    expect(pending.members).toEqual([expect.objectContaining({ name: 'alice', invited: true })]);
    expect((await owner.ok('GET', '/organization/acme/team/devs/members')).members).toEqual([]);
    expect(await grantedActions(reg, { username: 'alice', password: pw.alice }, 'acme/by-alice', 'push')).toEqual([]);

    const alice = await signin(reg, 'alice', pw.alice);
    const code = (await alice.ok('GET', '/user/notifications')).notifications[0].metadata.code;
    // Quay's data model refuses the code; its DataModelException handler answers 400 {message}.
    expect(await alice.put(`/teaminvite/${encodeURIComponent('urn:teaminvite:not-a-code')}`)).toMatchObject({ status: 400, body: { message: 'Invalid confirmation code.' } });
    expect(await alice.ok('PUT', `/teaminvite/${encodeURIComponent(code)}`)).toEqual({ org: 'acme', team: 'devs' });
    expect(await grantedActions(reg, { username: 'alice', password: pw.alice }, 'acme/by-alice', 'push')).toEqual(['push']);

    // Already in the organization: the next team takes her at once.
    await owner.ok('PUT', '/organization/acme/team/ops', { role: 'member' });
    expect((await owner.ok('PUT', '/organization/acme/team/ops/members/alice')).invited).toBe(false);

    expect((await owner.ok('PUT', '/organization/acme/team/devs/members/bob')).invited).toBe(true);
    await owner.ok('DELETE', '/organization/acme/team/devs/members/bob');
    const bob = await signin(reg, 'bob', pw.bob);
    expect((await bob.ok('GET', '/user/notifications')).notifications).toEqual([]);
  });

  test('the last admin cannot leave or demote the owners team', async () => {
    expectBadRequest(await owner.delete('/organization/acme/team/owners/members/owner'), /only admin team/);
    expectBadRequest(await owner.put('/organization/acme/team/owners', { role: 'member' }), /would no longer have admin/);
    expectBadRequest(await owner.delete('/organization/acme/team/owners'), /would remove admin ability/);
  });
});

test('default permissions apply to repositories created in the organization, by API and by push', async () => {
  await owner.ok('PUT', '/organization/acme/team/auditors', { role: 'member' });
  const proto = await owner.ok('POST', '/organization/acme/prototypes', { role: 'read', delegate: { kind: 'team', name: 'auditors' } });
  expect(proto).toMatchObject({ role: 'read', delegate: { kind: 'team', name: 'auditors' }, activating_user: null });
  await owner.ok('POST', '/organization/acme/prototypes', { role: 'write', delegate: { kind: 'user', name: 'bob' }, activating_user: { name: 'alice' } });
  const alice = await signin(reg, 'alice', pw.alice);
  await alice.ok('POST', '/repository', { namespace: 'acme', repository: 'by-alice', visibility: 'private', description: '' });
  const teams = await owner.ok('GET', '/repository/acme/by-alice/permissions/team/');
  expect(teams.permissions.auditors.role).toBe('read');
  const users = await owner.ok('GET', '/repository/acme/by-alice/permissions/user/');
  expect(Object.fromEntries(Object.entries(users.permissions).map(([k, v]: [string, any]) => [k, v.role]))).toEqual({ alice: 'admin', bob: 'write' });
  // Created by the owner, the activating-user rule does not apply.
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'by-owner', visibility: 'private', description: '' });
  const ownerUsers = await owner.ok('GET', '/repository/acme/by-owner/permissions/user/');
  expect(Object.keys(ownerUsers.permissions)).toEqual(['owner']);
  const list = await owner.ok('GET', '/organization/acme/prototypes');
  await owner.ok('PUT', `/organization/acme/prototypes/${proto.id}`, { role: 'write' });
  await owner.ok('DELETE', `/organization/acme/prototypes/${list.prototypes[1].id}`);
  expect((await owner.ok('GET', '/organization/acme/prototypes')).prototypes).toEqual([expect.objectContaining({ id: proto.id, role: 'write' })]);
});

test('robot credential forms: docker login, config.json, Kubernetes secret, rkt, Mesos', async () => {
  const robot = await owner.ok('PUT', '/organization/acme/robots/puller', { description: 'pulls' });
  const forms = await owner.ok('GET', '/organization/acme/robots/puller/credentials');
  const auth = Buffer.from(`acme+puller:${robot.token}`).toString('base64');
  expect(forms.docker_login).toBe(`docker login -u='acme+puller' -p='${robot.token}' ${reg.hostPort}`);
  expect(JSON.parse(forms.docker_config)).toEqual({ auths: { [reg.hostPort]: { auth, email: '' } } });
  expect(forms.kubernetes_secret).toContain('name: acme-puller-pull-secret');
  expect(forms.kubernetes_secret).toContain('type: kubernetes.io/dockerconfigjson');
  const dockerconfig = /\.dockerconfigjson: (\S+)/.exec(forms.kubernetes_secret)![1];
  expect(JSON.parse(Buffer.from(dockerconfig, 'base64').toString())).toEqual(JSON.parse(forms.docker_config));
  expect(JSON.parse(forms.rkt_auth)).toEqual({
    rktKind: 'auth',
    rktVersion: 'v1',
    domains: [reg.hostPort],
    type: 'basic',
    credentials: { user: 'acme+puller', password: robot.token },
  });
  const tar = gunzipSync(Buffer.from(forms.mesos_bundle_base64, 'base64'));
  expect(tar.subarray(0, 100).toString().replace(/\0+$/, '')).toBe('.docker/config.json');
  expect(tar.toString()).toContain(auth);
  // The listing shows tokens to admins only.
  const bob = await signin(reg, 'bob', pw.bob);
  expect((await bob.get('/organization/acme/robots')).status).toBe(403);
  const listed = await owner.ok('GET', '/organization/acme/robots?permissions=true');
  expect(listed.robots.find((r: { name: string }) => r.name === 'acme+puller')).toMatchObject({ token: robot.token, description: 'pulls', teams: [], repositories: [] });
});

test('repository listing: namespace, public and starred filters, stars, visibility', async () => {
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'shown', visibility: 'public', description: 'public one' });
  const bob = await signin(reg, 'bob', pw.bob);
  expectBadRequest(await bob.get('/repository'), /namespace, starred or public are required/);
  const ns = await bob.ok('GET', '/repository?namespace=acme&last_modified=true&popularity=true');
  expect(ns.repositories.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['shown', 'by-alice']));
  expect(ns.repositories.find((r: { name: string }) => r.name === 'perm')).toBeUndefined();
  expect(ns.repositories[0]).toEqual(
    expect.objectContaining({
      namespace: 'acme',
      is_public: expect.any(Boolean),
      is_starred: false,
      kind: 'image',
      state: 'NORMAL',
      last_modified: null,
      popularity: expect.any(Number),
    }),
  );
  await bob.ok('POST', '/user/starred', { namespace: 'acme', repository: 'shown' });
  expect((await bob.ok('GET', '/repository?starred=true')).repositories.map((r: { name: string }) => r.name)).toEqual(['shown']);
  expect((await bob.ok('GET', '/user/starred')).repositories).toEqual([{ namespace: 'acme', name: 'shown', description: 'public one', is_public: true }]);
  await bob.ok('DELETE', '/user/starred/acme/shown');
  expect((await bob.ok('GET', '/repository?starred=true')).repositories).toEqual([]);

  await owner.ok('POST', '/repository/acme/shown/changevisibility', { visibility: 'private' });
  expect((await bob.get('/repository/acme/shown')).status).toBe(403);
  expect((await new Api(reg.url).get('/repository/acme/shown')).status).toBe(401);
  expect((await owner.ok('GET', '/repository/acme/shown')).is_public).toBe(false);
});

test('repository paging: 100 a page, opaque next_page, nothing lost or repeated', async () => {
  await owner.ok('POST', '/organization/', { name: 'many', email: 'many@example.com' });
  for (let i = 0; i < 105; i++) await owner.ok('POST', '/repository', { namespace: 'many', repository: `r${i}`, visibility: 'private', description: '' });
  const first = await owner.ok('GET', '/repository?namespace=many');
  expect(first.repositories).toHaveLength(100);
  const second = await owner.ok('GET', `/repository?namespace=many&next_page=${encodeURIComponent(first.next_page)}`);
  expect(second.next_page).toBeUndefined();
  const names = [...first.repositories, ...second.repositories].map((r: { name: string }) => r.name);
  expect(new Set(names).size).toBe(105);
  expectBadRequest(await owner.get(`/repository?namespace=many&next_page=${first.next_page.slice(0, -4)}AAAA`), /Invalid or expired next_page/);
});

test('usage logs: per repository, filter string, performer, aggregates, admins only', async () => {
  await owner.ok('PUT', '/repository/acme/by-owner', { description: 'changed' });
  const repoLogs = await owner.ok('GET', '/repository/acme/by-owner/logs');
  expect(repoLogs.logs.map((l: { kind: string }) => l.kind)).toEqual(['set_repo_description', 'create_repo']);
  expect(repoLogs.logs[0]).toMatchObject({ metadata: { description: 'changed' }, performer: { name: 'owner', is_robot: false } });
  expect(repoLogs.logs[0].namespace).toBeUndefined();
  const filtered = await owner.ok('GET', '/organization/acme/logs?filter=ROBOT');
  expect(filtered.logs.length).toBeGreaterThan(0);
  expect(filtered.logs.every((l: { kind: string }) => /robot/i.test(l.kind) || JSON.stringify(l).toLowerCase().includes('robot'))).toBe(true);
  const byAlice = await owner.ok('GET', '/organization/acme/logs?performer=alice');
  expect(byAlice.logs.map((l: { kind: string }) => l.kind)).toEqual(['create_repo', 'org_team_member_invite_accepted']);
  const agg = await owner.ok('GET', '/organization/acme/aggregatelogs');
  expect(agg.aggregated).toEqual(
    expect.arrayContaining([expect.objectContaining({ kind: 'create_robot', count: expect.any(Number), datetime: expect.stringMatching(/00:00:00 -0000$/) })]),
  );
  const bob = await signin(reg, 'bob', pw.bob);
  expect((await bob.get('/organization/acme/logs')).status).toBe(403);
  expect((await bob.get('/repository/acme/by-alice/logs')).status).toBe(403);
  expect((await bob.get('/superuser/logs')).status).toBe(403);
});

test('superusers disable, enable and delete users; disabled users cannot log in', async () => {
  const pwd = await createUser(admin, 'carol');
  await admin.ok('PUT', '/superuser/users/carol', { enabled: false });
  expect(await grantedActions(reg, { username: 'carol', password: pwd }, 'carol/x', 'push')).toEqual(['HTTP 401']);
  expect((await admin.ok('GET', '/superuser/users/?disabled=false')).users.map((u: { name: string }) => u.name)).not.toContain('carol');
  await admin.ok('PUT', '/superuser/users/carol', { enabled: true });
  expect(await grantedActions(reg, { username: 'carol', password: pwd }, 'carol/x', 'push')).toEqual(['push']);
  const changed = await admin.ok('PUT', '/superuser/users/carol', { password: 'a-new-password' });
  expect(changed.encrypted_password).toEqual(expect.any(String));
  expect(await grantedActions(reg, { username: 'carol', password: 'a-new-password' }, 'carol/x', 'push')).toEqual(['push']);
  expectBadRequest(await admin.put('/superuser/users/carol', { password: 'short' }), /at least 8 characters/);
  expectBadRequest(await admin.delete('/superuser/users/admin'), /Cannot delete a superuser/);
  await admin.ok('DELETE', '/superuser/users/carol');
  expect((await admin.get('/superuser/users/carol')).status).toBe(404);
});

test('deleting an organization removes everything in it', async () => {
  await owner.ok('POST', '/organization/', { name: 'doomed', email: 'doomed@example.com' });
  await owner.ok('POST', '/repository', { namespace: 'doomed', repository: 'repo', visibility: 'private', description: '' });
  await owner.ok('PUT', '/organization/doomed/robots/bot');
  await owner.ok('PUT', '/organization/doomed/team/staff', { role: 'member' });
  await owner.ok('DELETE', '/organization/doomed');
  expect(await sql("SELECT name FROM namespace WHERE name LIKE 'doomed%'")).toEqual([]);
  expect(await sql("SELECT r.id FROM repository r WHERE r.name = 'repo' AND NOT EXISTS (SELECT 1 FROM namespace n WHERE n.id = r.namespace_id)")).toEqual([]);
  expect((await owner.get('/organization/doomed')).status).toBe(404);
});

test('self sign-up (FEATURE_USER_CREATION) creates the user, its namespace and a session', async () => {
  const signup = (body: unknown) => fetch(`${reg.url}/api/v1/user/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const r = await signup({ username: 'dave', password: 'dave-password', email: 'dave@example.com' });
  expect(r.status).toBe(200);
  expect(await r.json()).toMatchObject({ username: 'dave', email: 'dave@example.com', organizations: [] });
  const dave = new Api(reg.url, { cookie: (r.headers.get('set-cookie') ?? '').split(';')[0], csrf: r.headers.get('x-next-csrf-token') ?? '' });
  expect((await dave.ok('GET', '/user/')).username).toBe('dave');
  await dave.ok('POST', '/repository', { repository: 'own', visibility: 'public', description: '' });
  const dup = await signup({ username: 'dave', password: 'dave-password' });
  expectBadRequest({ status: dup.status, body: await dup.json() }, /already exists/);
  const weak = await signup({ username: 'erin', password: 'short' });
  expectBadRequest({ status: weak.status, body: await weak.json() }, /at least 8 characters/);
  const badName = await signup({ username: 'Erin', password: 'erin-password' });
  expectBadRequest({ status: badName.status, body: await badName.json() }, /Invalid username "Erin"/);
});
