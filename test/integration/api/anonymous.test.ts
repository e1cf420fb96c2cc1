/** FEATURE_ANONYMOUS_ACCESS off: anonymous callers get nothing, not even public repositories. */
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, grantedActions, initialize } from './fixture.js';

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistry({ label: 'no-anonymous', config: { FEATURE_USER_INITIALIZE: true, FEATURE_ANONYMOUS_ACCESS: false, SUPER_USERS: ['admin'] } });
  const admin = await initialize(reg);
  await admin.api.ok('POST', '/repository', { repository: 'open', visibility: 'public', description: '' });
});

afterAll(async () => {
  await reg?.stop();
});

test('the API refuses anonymous callers except sign-in and discovery; the registry grants them nothing', async () => {
  const anon = new Api(reg.url);
  const r = await anon.get('/repository/admin/open');
  expect(r.status).toBe(401);
  expect(r.body).toMatchObject({ error_type: 'invalid_token', error_message: 'Anonymous access is not allowed' });
  expect((await anon.get('/organization/admin')).status).toBe(401);
  expect((await anon.get('/discovery')).status).toBe(200);
  expect((await anon.post('/signin', { username: 'admin', password: 'admin-password-1' })).status).toBe(200);
  expect(await grantedActions(reg, null, 'admin/open', 'pull')).toEqual([]);
  expect(await grantedActions(reg, { username: 'admin', password: 'admin-password-1' }, 'admin/open', 'pull')).toEqual(['pull']);
});
