/**
 * Quay settings that used to refuse the config (issue 13, finding 6), each tried on and off against a real
 * registry process: FEATURE_RESTRICTED_USERS with RESTRICTED_USERS_WHITELIST, PERMANENTLY_DELETE_TAGS,
 * FEATURE_USER_LOG_ACCESS, and ACCOUNT_RECOVERY_MODE (a registry restarted into it over the same data).
 */
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client } from '../../helpers/v2.js';
import { Api, createUser, grantedActions, signin } from './fixture.js';
import { ACCOUNT_RECOVERY_MESSAGE } from '../../../registry/model/errors.js';

const FLAGS = {
  FEATURE_RESTRICTED_USERS: true,
  RESTRICTED_USERS_WHITELIST: ['trusted'],
  CREATE_NAMESPACE_ON_PUSH: true,
  PERMANENTLY_DELETE_TAGS: true,
  FEATURE_USER_LOG_ACCESS: true,
};

interface User {
  password: string;
  api: Api;
  v2: V2Client;
}

interface Side {
  reg: RegistryProcess;
  admin: Api;
  alice: User;
  trusted: User;
}

let on: Side;
let off: Side;

async function user(reg: RegistryProcess, admin: Api, name: string): Promise<User> {
  const password = await createUser(admin, name);
  return { password, api: await signin(reg, name, password), v2: V2Client.basic(reg, name, password) };
}

async function side(label: string, flags: Record<string, unknown>): Promise<Side> {
  const reg = await startRegistry({ label, config: { SUPER_USERS: ['admin'], ...flags } });
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  return { reg, admin, alice: await user(reg, admin, 'alice'), trusted: await user(reg, admin, 'trusted') };
}

beforeAll(async () => {
  [on, off] = await Promise.all([side('flags-on', FLAGS), side('flags-off', {})]);
});

afterAll(async () => {
  await Promise.all([on?.reg.stop(), off?.reg.stop()]);
});

describe('FEATURE_RESTRICTED_USERS', () => {
  test('on: a restricted user cannot push or create repositories, organizations or robots in their own namespace', async () => {
    const { alice } = on;
    await expect(alice.v2.pushImage('alice/app', 'v1')).rejects.toThrow(/upload start: 40[134]/);
    expect(await grantedActions(on.reg, { username: 'alice', password: alice.password }, 'alice/app', 'pull,push')).toEqual(['pull']);
    const repo = await alice.api.post('/repository', { namespace: 'alice', repository: 'app', visibility: 'private', description: '' });
    expect(repo.status).toBe(403);
    const org = await alice.api.post('/organization/', { name: 'alice-org', email: 'alice-org@example.com' });
    expect({ status: org.status, message: org.body.error_message }).toEqual({ status: 403, message: 'Restricted users cannot create organizations' });
    // CREATE_NAMESPACE_ON_PUSH does not open a way around it.
    expect(await grantedActions(on.reg, { username: 'alice', password: alice.password }, 'pushed-org/app', 'pull,push')).toEqual([]);
    expect((await on.admin.get('/organization/pushed-org')).status).toBe(404);
    expect((await alice.api.put('/user/robots/bot', {})).status).toBe(403);
    expect((await alice.api.get('/user/robots')).status).toBe(200);
    expect((await alice.api.ok<{ can_create_repo: boolean }>('GET', '/user/')).can_create_repo).toBe(false);
    const config = (await (await fetch(`${on.reg.url}/config`)).json()) as { features: Record<string, boolean> };
    expect(config.features.RESTRICTED_USERS).toBe(true);
  });

  test('on: a restricted user still works in organizations through their teams and permissions', async () => {
    await on.admin.ok('POST', '/organization/', { name: 'shared', email: 'shared@example.com' });
    await on.admin.ok('POST', '/repository', { namespace: 'shared', repository: 'app', visibility: 'private', description: '' }, [201]);
    await on.admin.ok('PUT', '/repository/shared/app/permissions/user/alice', { role: 'write' });
    await on.alice.v2.pushImage('shared/app', 'v1');
    expect((await on.alice.api.get('/repository/shared/app/tag/?onlyActiveTags=true')).body.tags.map((t: { name: string }) => t.name)).toEqual(['v1']);
  });

  test('on: whitelisted users and superusers are not restricted', async () => {
    await on.trusted.v2.pushImage('trusted/app', 'v1');
    expect((await on.trusted.api.post('/organization/', { name: 'trusted-org', email: 'trusted-org@example.com' })).status).toBe(201);
    expect((await on.trusted.api.put('/user/robots/bot', {})).status).toBe(201);
    await V2Client.basic(on.reg).pushImage('admin/app', 'v1');
    expect(await grantedActions(on.reg, { username: 'trusted', password: on.trusted.password }, 'trusted-pushed/app', 'pull,push')).toEqual(['pull', 'push']);
  });

  test('off: the same user pushes, creates organizations and robots', async () => {
    await off.alice.v2.pushImage('alice/app', 'v1');
    expect((await off.alice.api.post('/organization/', { name: 'alice-org', email: 'alice-org@example.com' })).status).toBe(201);
    expect((await off.alice.api.put('/user/robots/bot', {})).status).toBe(201);
    expect((await off.alice.api.ok<{ can_create_repo: boolean }>('GET', '/user/')).can_create_repo).toBe(true);
  });
});

describe('PERMANENTLY_DELETE_TAGS', () => {
  const expire = (s: Side, repo: string, tag: string, body: unknown) => s.trusted.api.post(`/repository/${repo}/tag/${tag}/expire`, body);

  test('on: a deleted tag taken out of the time machine can no longer be restored', async () => {
    const { digest } = await on.trusted.v2.pushImage('trusted/perm', 'gone');
    expect((await on.trusted.api.delete('/repository/trusted/perm/tag/gone')).status).toBe(204);
    expect((await expire(on, 'trusted/perm', 'gone', { is_alive: false })).status).toBe(400);
    const r = await expire(on, 'trusted/perm', 'gone', { is_alive: false, manifest_digest: digest });
    expect({ status: r.status, body: r.body }).toEqual({ status: 200, body: '' });
    const restore = await on.trusted.api.post('/repository/trusted/perm/tag/gone/restore', { manifest_digest: digest });
    expect(restore.status).toBe(404);
    const history = await on.trusted.api.ok<{ tags: { name: string }[] }>('GET', '/repository/trusted/perm/tag/?specificTag=gone');
    expect(history.tags).toEqual([]);
    // Nothing left to remove: 404.
    expect((await expire(on, 'trusted/perm', 'gone', { is_alive: false, manifest_digest: digest })).status).toBe(404);
    const logs = await on.trusted.api.ok<{ logs: { kind: string; metadata: Record<string, string> }[] }>('GET', '/repository/trusted/perm/logs');
    expect(logs.logs.find((l) => l.kind === 'permanently_delete_tag')?.metadata).toMatchObject({ tag: 'gone', manifest_digest: digest, username: 'trusted' });
  });

  test('on: is_alive removes the live tag at once, without a restorable history row', async () => {
    const { digest } = await on.trusted.v2.pushImage('trusted/perm', 'live');
    expect((await expire(on, 'trusted/perm', 'live', { is_alive: true })).status).toBe(200);
    expect((await on.trusted.v2.req('GET', '/v2/trusted/perm/manifests/live')).status).toBe(404);
    expect((await on.trusted.api.post('/repository/trusted/perm/tag/live/restore', { manifest_digest: digest })).status).toBe(404);
    expect((await expire(on, 'trusted/perm', 'nope', { is_alive: true })).status).toBe(404);
  });

  test('on: it needs write permission on the repository', async () => {
    await on.trusted.v2.pushImage('trusted/perm', 'kept');
    expect((await on.alice.api.post('/repository/trusted/perm/tag/kept/expire', { is_alive: true })).status).toBe(403);
    expect((await on.trusted.v2.req('GET', '/v2/trusted/perm/manifests/kept')).status).toBe(200);
  });

  test('off: the endpoint does not exist and a deleted tag stays restorable', async () => {
    const { digest } = await off.trusted.v2.pushImage('trusted/perm', 'gone');
    expect((await off.trusted.api.delete('/repository/trusted/perm/tag/gone')).status).toBe(204);
    expect((await expire(off, 'trusted/perm', 'gone', { is_alive: false, manifest_digest: digest })).status).toBe(404);
    expect((await off.trusted.api.post('/repository/trusted/perm/tag/gone/restore', { manifest_digest: digest })).status).toBe(200);
  });
});

describe('FEATURE_USER_LOG_ACCESS', () => {
  test('GET /config publishes it for the UI (which shows a user their own logs with it); the REST API serves them either way, as Quay', async () => {
    for (const [s, expected] of [
      [on, true],
      [off, false],
    ] as const) {
      const config = (await (await fetch(`${s.reg.url}/config`)).json()) as { features: Record<string, boolean> };
      expect(config.features.USER_LOG_ACCESS).toBe(expected);
      expect((await s.alice.api.get('/user/logs')).status).toBe(200);
    }
  });
});

describe('ACCOUNT_RECOVERY_MODE', () => {
  let reg: RegistryProcess | undefined;
  afterAll(async () => reg?.stop());

  test('the registry restarted into it serves sign-in and the REST API; every /v2 content route answers 405', async () => {
    const first = await startRegistry({ label: 'recovery-before', config: { SUPER_USERS: ['admin'] } });
    const { digest } = await V2Client.basic(first).pushImage('admin/app', 'v1');
    await first.stop();
    reg = await startRegistry({ label: 'recovery', config: { SUPER_USERS: ['admin'], ACCOUNT_RECOVERY_MODE: true }, dataDir: first.dataDir });
    const v2 = V2Client.basic(reg);
    expect((await v2.req('GET', '/v2/')).status).toBe(200);
    for (const [method, path] of [
      ['GET', `/v2/admin/app/manifests/${digest}`],
      ['GET', '/v2/admin/app/tags/list'],
      ['GET', '/v2/_catalog'],
      ['POST', '/v2/admin/app/blobs/uploads/'],
    ]) {
      const res = await v2.req(method, path);
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      expect({ path, status: res.status, error: body.errors[0] }).toEqual({
        path,
        status: 405,
        error: expect.objectContaining({ code: 'UNSUPPORTED', message: ACCOUNT_RECOVERY_MESSAGE }),
      });
    }
    const admin = await signin(reg, reg.admin.username, reg.admin.password);
    expect((await admin.get('/repository/admin/app')).status).toBe(200);
    const config = (await (await fetch(`${reg.url}/config`)).json()) as { account_recovery_mode: boolean };
    expect(config.account_recovery_mode).toBe(true);
    expect(reg.output()).not.toMatch(/ACCOUNT_RECOVERY_MODE: not implemented/);
  });
});
