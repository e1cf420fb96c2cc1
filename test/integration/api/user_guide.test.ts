/**
 * Chapter 17 of the Quay 3.8 user guide ("Using the Red Hat Quay API"), run as written with curl: only the
 * host and the token are substituted. The token is the one POST /api/v1/user/initialize returns.
 */
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { runTool } from '../../setup/tools.js';
import { Api, grantedActions, initialize, signin } from './fixture.js';

let reg: RegistryProcess;
let token: string;
let host: string;

async function curl(args: string[]): Promise<any> {
  const r = await runTool('curl', ['-s', '--fail-with-body', ...args]);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  reg = await startRegistry({ label: 'guide', config: await scaleOutConfig({ FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['quayadmin', 'quaysuper'] }) });
  host = reg.hostPort;
  token = (await initialize(reg, 'quayadmin', 'quaypass12345')).token;
});

afterAll(async () => {
  await reg?.stop();
});

test('17.4.1 get superuser information', async () => {
  const out = await curl(['-X', 'GET', '-H', `Authorization: Bearer ${token}`, `http://${host}/api/v1/superuser/users/`]);
  expect(out.users).toEqual([
    expect.objectContaining({
      kind: 'user',
      name: 'quayadmin',
      username: 'quayadmin',
      email: 'quayadmin@example.com',
      verified: true,
      super_user: true,
      enabled: true,
      avatar: expect.objectContaining({ name: 'quayadmin', kind: 'user', hash: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    }),
  ]);
});

test('17.4.2 create a superuser with the API: the generated password is returned and works', async () => {
  const created = await curl([
    '-H',
    'Content-Type: application/json',
    '-H',
    `Authorization: Bearer ${token}`,
    '-X',
    'POST',
    '--data',
    '{\n  "username": "quaysuper",\n  "email": "quaysuper@example.com"\n}',
    `http://${host}/api/v1/superuser/users/`,
  ]);
  expect(created).toEqual({ username: 'quaysuper', email: 'quaysuper@example.com', password: expect.stringMatching(/^[A-Z0-9]{32}$/), encrypted_password: expect.any(String) });
  const list = await curl(['-X', 'GET', '-H', `Authorization: Bearer ${token}`, `http://${host}/api/v1/superuser/users/`]);
  expect(list.users.map((u: { name: string; super_user: boolean }) => [u.name, u.super_user])).toEqual([
    ['quayadmin', true],
    ['quaysuper', true],
  ]);
  // Both the password and the encrypted password log in.
  await signin(reg, 'quaysuper', created.password);
  expect(await grantedActions(reg, { username: 'quaysuper', password: created.encrypted_password }, 'quaysuper/x', 'push')).toEqual(['push']);
});

test('17.4.6 create an org robot (PUT without a body)', async () => {
  await new Api(reg.url, { bearer: token }).ok('POST', '/organization/', { name: 'orgname', email: 'org@example.com' });
  const robot = await curl(['-X', 'PUT', `http://${host}/api/v1/organization/orgname/robots/shortname`, '-H', `Authorization: Bearer ${token}`]);
  expect(robot).toMatchObject({ name: 'orgname+shortname', description: '', token: expect.stringMatching(/^[A-Z0-9]{64}$/) });
});

test('17.4.8 create a private repository', async () => {
  const out = await curl([
    '-X',
    'POST',
    `http://${host}/api/v1/repository`,
    '-H',
    `Authorization: Bearer ${token}`,
    '-H',
    'Content-Type: application/json',
    '-d',
    '{"namespace": "orgname", "repository": "yourreponame",\n"description": "descriptionofyourrepo", "visibility": "private"}',
  ]);
  expect(out).toEqual({ namespace: 'orgname', name: 'yourreponame', kind: 'image' });
  const repo = await new Api(reg.url, { bearer: token }).ok('GET', '/repository/orgname/yourreponame');
  expect(repo).toMatchObject({ is_public: false, description: 'descriptionofyourrepo' });
});

test('17.4.3.1 superuser logs page with next_page: nothing lost, nothing repeated', async () => {
  const api = new Api(reg.url, { bearer: token });
  await api.ok('POST', '/organization/', { name: 'namespace1', email: 'ns1@example.com' });
  const created: string[] = [];
  for (let i = 1; i <= 45; i++) {
    await api.ok('POST', '/repository', { namespace: 'namespace1', repository: `t${i}`, description: '', visibility: 'private' });
    created.push(`t${i}`);
  }
  const pages: any[] = [];
  let next: string | undefined;
  do {
    const url = `http://${host}/api/v1/superuser/logs${next ? `?next_page=${next}` : ''}`;
    const page = await curl(['-X', 'GET', '-k', '-H', `Authorization: Bearer ${token}`, url]);
    pages.push(page);
    next = page.next_page;
    // Entries created while paging are newer than the cursor: they must not shift later pages.
    if (pages.length === 1) await api.ok('POST', '/repository', { namespace: 'namespace1', repository: 'during-paging', description: '', visibility: 'private' });
  } while (next);
  expect(pages.length).toBeGreaterThanOrEqual(3);
  for (const p of pages.slice(0, -1)) expect(p.logs).toHaveLength(20);
  expect(pages[0]).toMatchObject({ start_time: expect.stringMatching(/-0000$/), end_time: expect.stringMatching(/-0000$/) });
  const entries = pages.flatMap((p) => p.logs);
  const repos = entries.filter((e) => e.kind === 'create_repo' && e.metadata.namespace === 'namespace1').map((e) => e.metadata.repo);
  expect(repos.sort()).toEqual([...created].sort());
  const first = entries.find((e) => e.kind === 'create_repo' && e.metadata.namespace === 'namespace1');
  expect(first).toMatchObject({ ip: '127.0.0.1', performer: { kind: 'user', name: 'quayadmin', is_robot: false }, namespace: { kind: 'org', name: 'namespace1' } });
  // Newest first, and as many entries as the aggregate counts over the same range (minus the one made after page 1).
  const times = entries.map((e) => Date.parse(e.datetime));
  expect([...times].sort((a, b) => b - a)).toEqual(times);
  const agg = await api.ok<{ aggregated: { count: number }[] }>('GET', '/superuser/aggregatelogs');
  expect(entries.length).toBe(agg.aggregated.reduce((n, a) => n + a.count, 0) - 1);
  // A tampered token is refused.
  const bad = pages[0].next_page.slice(0, -2) + (pages[0].next_page.endsWith('AA') ? 'BB' : 'AA');
  expect((await api.get(`/superuser/logs?next_page=${bad}`)).status).toBe(400);
});
