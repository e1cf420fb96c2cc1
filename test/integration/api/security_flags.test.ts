/**
 * Quay's security settings that used to load and be ignored (issue 13, finding 6), each tried on and off
 * against a real registry process: FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH, FEATURE_BLACKLISTED_EMAILS with
 * BLACKLISTED_EMAIL_DOMAINS, and CREATE_NAMESPACE_ON_PUSH (on /v2 with Basic, and through /v2/auth tokens).
 */
import { basicAuth, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client } from '../../helpers/v2.js';
import { Api, createUser, grantedActions, signin } from './fixture.js';
import { UNENCRYPTED_PASSWORD_REFUSED } from '../../../registry/auth/credentials.js';

const FLAGS = {
  FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: true,
  FEATURE_BLACKLISTED_EMAILS: true,
  BLACKLISTED_EMAIL_DOMAINS: ['spam.example'],
  CREATE_NAMESPACE_ON_PUSH: true,
};

interface Side {
  reg: RegistryProcess;
  admin: Api;
  alice: { password: string; api: Api; key: string };
}

let on: Side;
let off: Side;

async function side(label: string, flags: Record<string, unknown>): Promise<Side> {
  const reg = await startRegistry({ label, config: { SUPER_USERS: ['admin'], ...flags } });
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  const password = await createUser(admin, 'alice');
  const api = await signin(reg, 'alice', password);
  const { key } = await api.ok<{ key: string }>('POST', '/user/clientkey', { password });
  return { reg, admin, alice: { password, api, key } };
}

beforeAll(async () => {
  [on, off] = await Promise.all([side('flags-on', FLAGS), side('flags-off', {})]);
});

afterAll(async () => {
  await Promise.all([on?.reg.stop(), off?.reg.stop()]);
});

async function v2Status(reg: RegistryProcess, username: string, password: string): Promise<{ status: number; message?: string; challenge: string | null }> {
  const res = await fetch(`${reg.url}/v2/`, { headers: { authorization: basicAuth(username, password) } });
  const body = (await res.json().catch(() => ({}))) as { errors?: { message: string }[] };
  return { status: res.status, message: body.errors?.[0]?.message, challenge: res.headers.get('www-authenticate') };
}

describe('FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH', () => {
  test("on: a plain password on Basic auth is refused with Quay's message, on /v2 and /v2/auth; the encrypted one works", async () => {
    const plain = await v2Status(on.reg, 'alice', on.alice.password);
    expect(plain).toMatchObject({ status: 401, message: UNENCRYPTED_PASSWORD_REFUSED });
    expect(plain.challenge).toMatch(/realm=/);
    const token = await fetch(`${on.reg.url}/v2/auth?service=${on.reg.hostPort}`, { headers: { authorization: basicAuth('alice', on.alice.password) } });
    expect(token.status).toBe(401);
    expect(JSON.stringify(await token.json())).toContain(UNENCRYPTED_PASSWORD_REFUSED);
    expect((await v2Status(on.reg, 'alice', on.alice.key)).status).toBe(200);
    expect(await grantedActions(on.reg, { username: 'alice', password: on.alice.key }, 'alice/app', 'pull,push')).toEqual(['pull', 'push']);
    // The web sign-in is not Basic auth: the plain password still signs in there.
    await signin(on.reg, 'alice', on.alice.password);
  });

  test('on: refused plain passwords are not counted as failed logins (no backoff for the owner)', async () => {
    for (let i = 0; i < 3; i++) expect((await v2Status(on.reg, 'alice', on.alice.password)).status).toBe(401);
    expect((await v2Status(on.reg, 'alice', on.alice.key)).status).toBe(200);
  });

  test('off: plain and encrypted passwords both work', async () => {
    expect((await v2Status(off.reg, 'alice', off.alice.password)).status).toBe(200);
    expect((await v2Status(off.reg, 'alice', off.alice.key)).status).toBe(200);
  });
});

describe('FEATURE_BLACKLISTED_EMAILS', () => {
  const create = (s: Side, username: string, email: string) => s.admin.post('/superuser/users/', { username, email });
  const signUp = (s: Side, username: string, email: string) => new Api(s.reg.url).post('/user/', { username, password: 'a-good-password-1', email });

  test('on: sign-up, superuser creation and e-mail changes refuse the domain and its subdomains', async () => {
    for (const [name, email] of [
      ['bl1', 'x@spam.example'],
      ['bl2', 'x@mail.SPAM.example'],
    ]) {
      const r = await create(on, name, email);
      expect({ status: r.status, type: r.body.error_type }).toEqual({ status: 400, type: 'invalid_request' });
      expect(r.body.error_message).toMatch(/spam\.example/);
      expect((await signUp(on, `${name}s`, email)).status).toBe(400);
      expect((await on.admin.get(`/users/${name}`)).status).toBe(404);
    }
    expect((await create(on, 'bl3', 'x@notspam.example')).status).toBe(200);
    expect((await on.alice.api.put('/user/', { email: 'alice@spam.example' })).status).toBe(400);
    expect((await on.alice.api.put('/user/', { email: 'alice@fine.example' })).status).toBe(200);
  });

  test('off: the same addresses are accepted', async () => {
    expect((await create(off, 'bl1', 'x@spam.example')).status).toBe(200);
    expect((await signUp(off, 'bl2', 'y@spam.example')).status).toBe(200);
  });
});

describe('CREATE_NAMESPACE_ON_PUSH', () => {
  test('on: a user pushing into an unknown namespace gets an organization they own (Basic on /v2)', async () => {
    const v2 = V2Client.basic(on.reg, 'alice', on.alice.key);
    await v2.pushImage('fresh-org/app', 'v1');
    const org = await on.alice.api.ok<{ name: string; is_admin: boolean; email: string }>('GET', '/organization/fresh-org');
    expect(org).toMatchObject({ name: 'fresh-org', is_admin: true });
    expect((await on.alice.api.get('/repository/fresh-org/app')).status).toBe(200);
  });

  test('on: through /v2/auth the push scope creates it too; pull alone creates nothing; robots never', async () => {
    expect(await grantedActions(on.reg, { username: 'alice', password: on.alice.key }, 'pull-only/app', 'pull')).toEqual([]);
    expect((await on.admin.get('/organization/pull-only')).status).toBe(404);
    expect(await grantedActions(on.reg, { username: 'alice', password: on.alice.key }, 'token-org/app', 'pull,push')).toEqual(['pull', 'push']);
    expect((await on.alice.api.get('/organization/token-org')).status).toBe(200);
    const robot = await on.alice.api.ok<{ name: string; token: string }>('PUT', '/user/robots/bot', {});
    expect(await grantedActions(on.reg, { username: robot.name, password: robot.token }, 'robot-org/app', 'pull,push')).toEqual([]);
    expect((await on.admin.get('/organization/robot-org')).status).toBe(404);
  });

  test('off: the push is refused and no namespace appears', async () => {
    const v2 = V2Client.basic(off.reg, 'alice', off.alice.password);
    await expect(v2.pushImage('fresh-org/app', 'v1')).rejects.toThrow(/upload start: 40[34]/);
    expect(await grantedActions(off.reg, { username: 'alice', password: off.alice.password }, 'token-org/app', 'pull,push')).toEqual([]);
    expect((await off.admin.get('/organization/fresh-org')).status).toBe(404);
    expect((await off.admin.get('/organization/token-org')).status).toBe(404);
  });
});
