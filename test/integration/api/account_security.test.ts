/**
 * Account security (issue 13, findings 5 and 7): a password change ends the user's other sessions (app
 * tokens stay, as in Quay); names in SUPER_USERS / GLOBAL_READONLY_SUPER_USERS cannot be claimed by sign-up
 * or by someone else's /user/initialize. Real registry process on Postgres.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { basicAuth, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, initialize, signin } from './fixture.js';

let reg: RegistryProcess;
let admin: Api;

beforeAll(async () => {
  reg = await startRegistry({
    label: 'account',
    config: await scaleOutConfig({ FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin', 'root'], GLOBAL_READONLY_SUPER_USERS: ['auditor'] }),
  });
  admin = (await initialize(reg)).api;
});

afterAll(async () => {
  await reg?.stop();
});

test('changing a password ends every other session of the user; the changing session and app tokens stay', async () => {
  const old = await createUser(admin, 'changer');
  const laptop = await signin(reg, 'changer', old);
  const phone = await signin(reg, 'changer', old);
  const bystander = await signin(reg, 'admin', 'admin-password-1');
  const app = await laptop.ok<{ token: { token_code: string } }>('POST', '/user/apptoken', { title: 'ci' });

  await laptop.ok('PUT', '/user/', { password: 'brand-new-password' });

  expect((await phone.get('/user/')).status).toBe(401);
  expect(await laptop.ok('GET', '/user/')).toMatchObject({ username: 'changer' });
  expect(await bystander.ok('GET', '/user/')).toMatchObject({ username: 'admin' });
  const viaApp = await fetch(`${reg.url}/v2/auth?service=${reg.hostPort}`, { headers: { authorization: basicAuth('$app', app.token.token_code) } });
  expect(viaApp.status).toBe(200);
  expect(
    (await fetch(`${reg.url}/api/v1/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'changer', password: old }) }))
      .status,
  ).toBe(403);
  // The failed attempt above makes the next one wait 0.5 s (login backoff).
  await sleep(700);
  await signin(reg, 'changer', 'brand-new-password');
});

test("a superuser setting a user's password ends all of that user's sessions", async () => {
  const pw = await createUser(admin, 'reset');
  const s = await signin(reg, 'reset', pw);
  await admin.ok('PUT', '/superuser/users/reset', { password: 'another-password-1' });
  expect((await s.get('/user/')).status).toBe(401);
});

describe('superuser names from the configuration', () => {
  test('sign-up cannot claim a name in SUPER_USERS or GLOBAL_READONLY_SUPER_USERS', async () => {
    const anon = new Api(reg.url);
    for (const username of ['root', 'auditor']) {
      const r = await anon.post('/user/', { username, password: 'claimed-password-1', email: `${username}@example.com` });
      expect(r.status).toBe(400);
      expect(r.body.error_message).toMatch(/reserved/);
      expect((await admin.get(`/superuser/users/${username}`)).status).toBe(404);
    }
    expect((await anon.post('/user/', { username: 'ordinary', password: 'ordinary-password-1', email: 'ordinary@example.com' })).status).toBe(200);
  });

  test('/user/initialize refuses anyone but a SUPER_USERS name', async () => {
    const fresh = await startRegistry({ label: 'account-init', config: { FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['boss'] } });
    try {
      const init = (username: string) =>
        fetch(`${fresh.url}/api/v1/user/initialize`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username, password: 'first-password-1', email: `${username}@example.com` }),
        });
      const squatter = await init('mallory');
      expect(squatter.status).toBe(400);
      expect(((await squatter.json()) as { error_message: string }).error_message).toMatch(/SUPER_USERS/);
      expect((await init('boss')).status).toBe(200);
      expect((await init('boss')).status).toBe(400);
    } finally {
      await fresh.stop();
    }
  });
});
