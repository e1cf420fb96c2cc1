/**
 * Quay 3.8 endpoints this registry lacked, each with Quay's body, status, texts and permissions (source cited
 * per test), against the real registry process on Postgres.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, signin } from './fixture.js';

let reg: RegistryProcess;
let admin: Api;
let alice: Api;
let alicePassword: string;
const anonymous = () => new Api(reg.url);

/** The free fraction of the file system the registry and its temporary files live on (this checkout's, here). */
function freeFraction(): number {
  return Math.min(...[process.cwd(), tmpdir()].map((dir) => statfsSync(dir)).map((s) => s.bavail / s.blocks));
}

beforeAll(async () => {
  // The disk checks' thresholds sit at half of what is free now, so the health answers do not depend on how full
  // the test machine's disk happens to be (Quay's default warning threshold, 10 % free, fails on a full one).
  const half = freeFraction() / 2;
  reg = await startRegistry({
    label: 'quay-endpoints',
    config: await scaleOutConfig({
      SUPER_USERS: ['admin'],
      FEATURE_TEAM_SYNCING: true,
      FEATURE_BUILD_SUPPORT: true,
      DISKSPACE_HEALTH_THRESHOLD: half,
      DISKSPACE_HEALTH_WARNING_THRESHOLD: half,
    }),
  });
  admin = await signin(reg, 'admin', reg.admin.password);
  alicePassword = await createUser(admin, 'alice');
  alice = await signin(reg, 'alice', alicePassword);
  await alice.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await alice.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
});

afterAll(async () => {
  await reg?.stop();
});

test('GET /api/v1/error/{type} (endpoints/api/error.py Error.get): every error body links to a description', async () => {
  const missing = await anonymous().get('/repository/acme/nothing-here/tokens/');
  expect(missing.status).toBe(401);
  const link = await fetch(missing.body.type);
  expect(link.status).toBe(200);
  expect(await link.json()).toEqual({ type: missing.body.type, title: 'invalid_token', description: 'The access token provided was invalid.' });
  expect((await anonymous().get('/error/not_found')).body.description).toBe('The resource was not found.');
  expect((await anonymous().get('/error/no_such_error')).status).toBe(404);
});

test("health (endpoints/web.py instance_health, warning_health; health/services.py): Quay's services maps", async () => {
  const instance = await fetch(`${reg.url}/health/instance`);
  expect(instance.status).toBe(200);
  const body = (await instance.json()) as { data: { services: Record<string, boolean> }; status_code: number };
  expect(body.status_code).toBe(200);
  expect(Object.keys(body.data.services).sort()).toEqual(['auth', 'database', 'disk_space', 'redis', 'registry_gunicorn', 'service_key', 'storage', 'web_gunicorn']);
  expect(Object.values(body.data.services).every((v) => v === true)).toBe(true);
  expect(await (await fetch(`${reg.url}/health/warning`)).json()).toEqual({ data: { services: { disk_space_warning: true } }, status_code: 200 });
  expect(Object.keys(((await (await fetch(`${reg.url}/health/endtoend`)).json()) as typeof body).data.services).sort()).toEqual(['auth', 'database', 'redis', 'storage']);
});

test('GET /api/v1/superuser/registrystatus (endpoints/api/suconfig.py SuperUserRegistryStatus.get): a running registry is set up', async () => {
  expect(await anonymous().get('/superuser/registrystatus')).toMatchObject({ status: 200, body: { status: 'ready', provider_id: 'file' } });
});

test('the change log (endpoints/api/superuser.py ChangeLog.get): the shipped CHANGELOG.md as {log}, for superusers only', async () => {
  const shipped = readFileSync(new URL('../../../../CHANGELOG.md', import.meta.url), 'utf8');
  expect(shipped).toMatch(/^# quay-ts change log\n/);
  const res = await admin.get('/superuser/changelog/');
  expect(res).toMatchObject({ status: 200, body: { log: shipped } });
  expect(Object.keys(res.body)).toEqual(['log']);
  expect(await alice.get('/superuser/changelog/')).toMatchObject({ status: 403, body: { error_type: 'insufficient_scope' } });
  expect((await anonymous().get('/superuser/changelog/')).status).toBe(401);
});

test('convert an account to an organization (endpoints/api/user.py ConvertToOrganization.post): the admin user owns it and is signed in', async () => {
  const password = await createUser(admin, 'convertme');
  const convertme = await signin(reg, 'convertme', password);
  await convertme.ok('POST', '/repository', { repository: 'kept', visibility: 'private', description: '' });
  const wrong = await convertme.post('/user/convert', { adminUser: 'alice', adminPassword: 'not-her-password' });
  expect(wrong).toMatchObject({ status: 400, body: { error_message: 'The admin user credentials are not valid', reason: 'invaliduser' } });
  const self = await convertme.post('/user/convert', { adminUser: 'convertme', adminPassword: password });
  expect(self).toMatchObject({ status: 400, body: { error_message: 'The admin user is not valid', reason: 'invaliduser' } });
  const res = await convertme.post('/user/convert', { adminUser: 'alice', adminPassword: alicePassword });
  expect(res).toMatchObject({ status: 200, body: { success: true } });
  // The answer signs the admin in (Quay's conduct_signin).
  const asAdmin = new Api(reg.url, { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] });
  expect(await asAdmin.ok('GET', '/user/')).toMatchObject({ username: 'alice' });
  expect(await alice.ok('GET', '/organization/convertme')).toMatchObject({ name: 'convertme', is_admin: true });
  expect(await alice.ok('GET', '/repository/convertme/kept')).toMatchObject({ namespace: 'convertme', name: 'kept' });
  // The account is an organization now: no sign-in, its session is gone.
  expect((await anonymous().post('/signin', { username: 'convertme', password })).status).toBe(403);
  expect((await convertme.get('/user/')).status).toBe(401);
});

test('global messages (endpoints/api/globalmessages.py): everyone reads, superusers create (201, empty) and delete (204)', async () => {
  expect(await anonymous().get('/messages')).toMatchObject({ status: 200, body: { messages: [] } });
  const message = { content: '**Maintenance** at 10:00', media_type: 'text/markdown', severity: 'warning' };
  expect((await alice.post('/messages', { message })).status).toBe(403);
  expect((await anonymous().post('/messages', { message })).status).toBe(401);
  expect((await admin.post('/messages', { message: { ...message, severity: 'fatal' } })).status).toBe(400);
  const created = await admin.post('/messages', { message });
  expect(created.status).toBe(201);
  expect(created.body).toBeNull();
  const list = (await anonymous().get('/messages')).body.messages;
  expect(list).toEqual([{ uuid: expect.stringMatching(/^[0-9a-f-]{36}$/), ...message }]);
  expect((await alice.delete(`/message/${list[0].uuid}`)).status).toBe(403);
  expect((await admin.delete(`/message/${list[0].uuid}`)).status).toBe(204);
  expect((await admin.delete('/message/not-a-uuid')).status).toBe(204);
  expect((await anonymous().get('/messages')).body.messages).toEqual([]);
});

test("repository tokens (endpoints/api/repotoken.py): 410 Gone with Quay's {message} for repository admins", async () => {
  const bobPassword = await createUser(admin, 'bob');
  const bob = await signin(reg, 'bob', bobPassword);
  for (const [method, path, text] of [
    ['GET', '/repository/acme/app/tokens/', 'Handling of access tokens is no longer supported'],
    ['POST', '/repository/acme/app/tokens/', 'Creation of access tokens is no longer supported'],
    ['GET', '/repository/acme/app/tokens/abc', 'Handling of access tokens is no longer supported'],
    ['PUT', '/repository/acme/app/tokens/abc', 'Handling of access tokens is no longer supported'],
    ['DELETE', '/repository/acme/app/tokens/abc', 'Handling of access tokens is no longer supported'],
  ] as const) {
    const r = await alice.call(method, path, method === 'POST' || method === 'PUT' ? { friendlyName: 'x', role: 'read' } : undefined);
    expect({ method, path, status: r.status, body: r.body }).toEqual({ method, path, status: 410, body: { message: text } });
    expect((await bob.call(method, path)).status).toBe(403);
  }
});

test('team syncing (endpoints/api/team.py OrganizationTeamSyncing): with Database authentication no group can back a team', async () => {
  await alice.ok('PUT', '/organization/acme/team/devs', { role: 'member' });
  // Only superusers set up syncing (FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP is off), and only as org admins.
  expect((await alice.post('/organization/acme/team/devs/syncing', { group_dn: 'cn=devs' })).status).toBe(403);
  expect((await admin.post('/organization/acme/team/devs/syncing', { group_dn: 'cn=devs' })).status).toBe(403);
  await admin.ok('POST', '/superuser/takeownership/acme');
  const r = await admin.post('/organization/acme/team/devs/syncing', { group_dn: 'cn=devs' });
  expect(r).toMatchObject({ status: 400, body: { error_message: 'Could not sync to group: Not supported', error_type: 'invalid_request' } });
  expect(await admin.ok('DELETE', '/organization/acme/team/devs/syncing')).toMatchObject({ name: 'devs', role: 'member', can_view: true });
  expect((await admin.post('/organization/acme/team/nobody/syncing', {})).status).toBe(404);
});

test('take ownership (endpoints/api/superuser.py SuperUserTakeOwnership.post): of an organization, of a user, never of a superuser', async () => {
  // acme: the superuser joined its admin team in the previous test.
  expect((await admin.ok('GET', '/organization/acme')).is_admin).toBe(true);
  const carolPassword = await createUser(admin, 'carol');
  const carol = await signin(reg, 'carol', carolPassword);
  await carol.ok('POST', '/repository', { repository: 'own', visibility: 'private', description: '' });
  expect((await alice.post('/superuser/takeownership/carol')).status).toBe(403);
  expect(await admin.ok('POST', '/superuser/takeownership/carol')).toEqual({ namespace: 'carol' });
  // carol is now an organization the superuser owns: her session and password are gone, her repository stays.
  expect((await carol.get('/user/')).status).toBe(401);
  expect(
    (
      await fetch(`${reg.url}/api/v1/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'carol', password: carolPassword }),
      })
    ).status,
  ).toBe(403);
  expect(await admin.ok('GET', '/organization/carol')).toMatchObject({ name: 'carol', is_admin: true });
  expect((await admin.get('/repository/carol/own')).status).toBe(200);
  expect(await admin.post('/superuser/takeownership/admin')).toMatchObject({ status: 400, body: { error_message: 'Cannot take ownership of a superuser' } });
  expect((await admin.post('/superuser/takeownership/nobody')).status).toBe(404);
  const logs = await admin.ok('GET', '/superuser/logs');
  expect(logs.logs.find((l: { kind: string; metadata: { namespace: string } }) => l.kind === 'take_ownership' && l.metadata.namespace === 'carol')).toMatchObject({
    metadata: { namespace: 'carol', was_user: true, superuser: 'admin' },
  });
});

test('superuser organization rename (endpoints/api/superuser.py SuperUserOrganizationManagement.put): robots follow, the old name is free', async () => {
  await alice.ok('PUT', '/organization/acme/robots/ci');
  expect((await alice.put('/superuser/organizations/acme', { name: 'acme2' })).status).toBe(403);
  expect(await admin.put('/superuser/organizations/acme', { name: 'carol' })).toMatchObject({ status: 400 });
  expect(await admin.ok('PUT', '/superuser/organizations/acme', { name: 'acme2' })).toMatchObject({ name: 'acme2', email: 'acme@example.com', avatar: expect.any(Object) });
  expect((await alice.get('/organization/acme')).status).toBe(404);
  expect((await alice.ok('GET', '/organization/acme2/robots')).robots.map((r: { name: string }) => r.name)).toEqual(['acme2+ci']);
  expect((await alice.get('/repository/acme2/app')).status).toBe(200);
  expect((await admin.put('/superuser/organizations/nothing', { name: 'x2' })).status).toBe(404);
});

test("the superuser's build views are served (no longer 501); a feature that is off has no endpoints, as in Quay", async () => {
  expect((await admin.get('/superuser/00000000-0000-4000-8000-000000000000/build')).status).toBe(404);
  expect((await alice.get('/superuser/00000000-0000-4000-8000-000000000000/build')).status).toBe(403);
  expect(reg.output()).not.toMatch(/does not implement/);
  // The repository build API is implemented.
  expect((await alice.get('/repository/acme2/app/build/')).status).toBe(200);
  expect((await alice.get('/repository/acme2/app/mirror')).status).toBe(404);
});
