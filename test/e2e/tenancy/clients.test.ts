/**
 * Real clients with tenancy credentials: a robot pushing with skopeo (and losing access the moment its token
 * is regenerated), a read-only team member pulling with podman but unable to push, an OAuth token used as
 * `$oauthtoken` and an app-specific token as `$app`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { INSECURE, clientSandbox, type ClientSandbox } from '../../setup/tools.js';
import { Api, createUser, initialize, oauthToken, signin } from '../../integration/api/fixture.js';

let reg: RegistryProcess;
let owner: Api;
let layout: string;
let c: ClientSandbox;
const pw: Record<string, string> = {};

/** An OCI layout with one small image, built offline with umoci. */
async function buildLayout(sandbox: ClientSandbox): Promise<string> {
  const dir = join(sandbox.dir, 'layout');
  const src = join(sandbox.dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'hello.txt'), `hello ${Date.now()}\n`);
  await sandbox.run('umoci', ['init', '--layout', dir]);
  await sandbox.run('umoci', ['new', '--image', `${dir}:v1`]);
  await sandbox.run('umoci', ['insert', '--image', `${dir}:v1`, join(src, 'hello.txt'), '/hello.txt']);
  return dir;
}

function copyArgs(creds: string, to: string): string[] {
  return ['copy', ...INSECURE.skopeoCopy, '--dest-creds', creds, `oci:${layout}:v1`, `docker://${reg.hostPort}/${to}`];
}

beforeAll(async () => {
  reg = await startRegistry({ label: 'tenancy-clients', config: { FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin'] } });
  const admin = await initialize(reg);
  for (const u of ['owner', 'viewer']) pw[u] = await createUser(admin.api, u);
  owner = await signin(reg, 'owner', pw.owner);
  await owner.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  c = clientSandbox('tenancy-clients');
  layout = await buildLayout(c);
});

afterAll(async () => {
  await reg?.stop();
});

test('a robot pushes with skopeo --creds; regenerating its token locks the old one out at once', async () => {
  const robot = await owner.ok<{ name: string; token: string }>('PUT', '/organization/acme/robots/deployer', { description: 'CI pushes' });
  await owner.ok('PUT', `/repository/acme/app/permissions/user/${encodeURIComponent(robot.name)}`, { role: 'write' });
  await c.run('skopeo', copyArgs(`${robot.name}:${robot.token}`, 'acme/app:v1'));
  const inspect = await c.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', `${robot.name}:${robot.token}`, `docker://${reg.hostPort}/acme/app:v1`]);
  expect(JSON.parse(inspect.stdout).Name).toBe(`${reg.hostPort}/acme/app`);
  // The push and the pull are in the repository's usage log, performed by the robot.
  const logs = await owner.ok<{ logs: { kind: string; performer?: { name: string; is_robot: boolean }; metadata: Record<string, unknown> }[] }>('GET', '/repository/acme/app/logs');
  for (const kind of ['push_repo', 'pull_repo']) {
    expect(logs.logs.find((l) => l.kind === kind)).toMatchObject({ performer: { name: 'acme+deployer', is_robot: true }, metadata: { repo: 'app', namespace: 'acme' } });
  }

  const fresh = await owner.ok<{ token: string }>('POST', `/organization/acme/robots/deployer/regenerate`);
  expect(fresh.token).not.toBe(robot.token);
  const old = await c.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', `${robot.name}:${robot.token}`, `docker://${reg.hostPort}/acme/app:v1`], { allowFail: true });
  expect(old.code).not.toBe(0);
  expect(old.stderr).toMatch(/401|unauthorized|authentication required|invalid username or password/i);
  await c.run('skopeo', copyArgs(`${robot.name}:${fresh.token}`, 'acme/app:v2'));

  // The robot reaches nothing outside its namespace.
  const elsewhere = await c.run('skopeo', copyArgs(`${robot.name}:${fresh.token}`, 'owner/stolen:v1'), { allowFail: true });
  expect(elsewhere.code).not.toBe(0);
});

test('a team member with read pulls with podman and cannot push', async () => {
  await owner.ok('PUT', '/organization/acme/team/readers', { role: 'member' });
  await owner.ok('PUT', '/repository/acme/app/permissions/team/readers', { role: 'read' });
  expect((await owner.ok<{ invited: boolean }>('PUT', '/organization/acme/team/readers/members/viewer')).invited).toBe(true);
  const viewer = await signin(reg, 'viewer', pw.viewer);
  // Until the invitation is accepted the user is not a member.
  const before = await c.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', `viewer:${pw.viewer}`, `docker://${reg.hostPort}/acme/app:v1`], { allowFail: true });
  expect(before.code).not.toBe(0);
  const n = await viewer.ok<{ notifications: { metadata: { code: string; team: string } }[] }>('GET', '/user/notifications');
  expect(n.notifications[0].metadata.team).toBe('readers');
  await viewer.ok('PUT', `/teaminvite/${encodeURIComponent(n.notifications[0].metadata.code)}`);

  const p = clientSandbox('tenancy-podman');
  await p.run('podman', ['login', ...INSECURE.podman, '-u', 'viewer', '-p', pw.viewer, reg.hostPort]);
  await p.run('podman', ['pull', ...INSECURE.podman, `${reg.hostPort}/acme/app:v1`], { timeoutMs: 300_000 });
  await p.run('podman', ['tag', `${reg.hostPort}/acme/app:v1`, `${reg.hostPort}/acme/app:viewer`]);
  const push = await p.run('podman', ['push', ...INSECURE.podman, `${reg.hostPort}/acme/app:viewer`], { allowFail: true, timeoutMs: 300_000 });
  expect(push.code).not.toBe(0);
  expect(push.stderr).toMatch(/denied|unauthorized|403|401/i);
});

test('an OAuth token works as $oauthtoken with skopeo, within its scopes', async () => {
  const rw = await oauthToken(owner, 'acme', 'repo:read repo:write');
  await c.run('skopeo', copyArgs(`$oauthtoken:${rw}`, 'acme/app:oauth'));
  const ro = await oauthToken(owner, 'acme', 'repo:read');
  await c.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', `$oauthtoken:${ro}`, `docker://${reg.hostPort}/acme/app:oauth`]);
  const refused = await c.run('skopeo', copyArgs(`$oauthtoken:${ro}`, 'acme/app:read-only-token'), { allowFail: true });
  expect(refused.code).not.toBe(0);
});

test('an app-specific token works as $app with podman login, until it is revoked', async () => {
  const created = await owner.ok<{ token: { uuid: string; token_code: string } }>('POST', '/user/apptoken', { title: 'laptop' });
  const p = clientSandbox('tenancy-app');
  await p.run('podman', ['login', ...INSECURE.podman, '-u', '$app', '-p', created.token.token_code, reg.hostPort]);
  await p.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', `$app:${created.token.token_code}`, `docker://${reg.hostPort}/acme/app:v1`]);
  await owner.ok('DELETE', `/user/apptoken/${created.token.uuid}`);
  const after = await p.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', `$app:${created.token.token_code}`, `docker://${reg.hostPort}/acme/app:v1`], { allowFail: true });
  expect(after.code).not.toBe(0);
});
