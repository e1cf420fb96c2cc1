/**
 * A custom-git build trigger end to end: a real git repository served over SSH by Debian's sshd (only the
 * trigger's deploy key in authorized_keys, git-shell forced), two commits pushed, the webhook POSTed with the
 * FIRST commit → the build manager (local executor, real builder agent, buildah) clones with the deploy key,
 * checks out exactly that commit and pushes the tags the templates give; pulled back with podman. A `[skip
 * build]` commit and a branch outside `branchtag_regex` queue nothing; a trigger whose key the server does not
 * know fails its build at the clone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { buildLogText, waitBuildEnded } from './build_api.js';
import { git, startGitSshd, type GitSshd } from './git_sshd.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';

let reg: RegistryProcess;
let admin: Api;
let sshd: GitSshd;
let dir: string;
let sshPort: number;
let bare: string;
let work: string;
const shas: Record<string, string> = {};

function commit(name: string, message: string, msgTxt: string, branch = 'main'): string {
  git(work, 'checkout', '-q', '-B', branch);
  writeFileSync(join(work, 'msg.txt'), msgTxt);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', message);
  git(work, 'push', '-q', bare, `${branch}:${branch}`);
  shas[name] = git(work, 'rev-parse', 'HEAD');
  return shas[name];
}

beforeAll(async () => {
  dir = workDir('git-trigger');
  sshd = await startGitSshd(dir);
  sshPort = sshd.port;

  bare = join(dir, 'app.git');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  work = join(dir, 'work');
  git(dir, 'init', '-q', '-b', 'main', work);
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY msg.txt /msg.txt\n');
  commit('first', 'first version', 'first\n');
  commit('second', 'second version', 'second\n');

  const config = await scaleOutConfig({
    ...(await localBuildsConfig()),
  });
  const sandbox = clientSandbox('git-trigger-worker');
  reg = await startRegistry({
    label: 'git-trigger',
    config,
    env: { ...buildWorkerEnv(sandbox) },
  });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  await sshd?.stop();
});

async function activeTrigger(): Promise<{ id: string; publicKey: string; token: string }> {
  const created = await admin.ok('POST', '/repository/acme/app/trigger/', { service: 'custom-git' });
  const t = await admin.ok('POST', `/repository/acme/app/trigger/${created.id}/activate`, {
    config: {
      build_source: `ssh://${userInfo().username}@127.0.0.1:${sshPort}${bare}`,
      dockerfile_path: '/Dockerfile',
      context: '/',
      branchtag_regex: 'heads/main',
      tag_templates: ['${commit_info.short_sha}', 'branch-${parsed_ref.branch}'],
    },
  });
  const [pub, hook] = t.config.credentials as { value: string }[];
  return { id: t.id, publicKey: pub.value, token: /\$token:([^@]+)@/.exec(hook.value)![1] };
}

const webhook = (t: { id: string; token: string }, body: unknown) =>
  fetch(`${reg.url}/webhooks/push/trigger/${t.id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`$token:${t.token}`).toString('base64')}` },
    body: JSON.stringify(body),
  });

const pushPayload = (sha: string, ref: string, message: string) => ({
  commit: sha,
  ref,
  default_branch: 'main',
  commit_info: { url: `https://git.example.com/c/${sha}`, message, date: '2024-05-01T12:00:00Z' },
});

test('a push webhook builds exactly the named commit, cloned with the deploy key, and pushes the template tags; skips and filtered branches build nothing', async () => {
  const t = await activeTrigger();
  writeFileSync(sshd.authorizedKeys, `${t.publicKey}\n`);

  const r = await webhook(t, pushPayload(shas.first, 'refs/heads/main', 'first version'));
  expect([r.status, await r.text()]).toEqual([200, 'Okay']);
  const [queued] = (await admin.ok<{ builds: any[] }>('GET', `/repository/acme/app/trigger/${t.id}/builds`)).builds;
  const short = shas.first.slice(0, 7);
  expect(queued.tags).toEqual([short, 'branch-main', 'latest', 'main'].sort());
  const done = await waitBuildEnded(admin, reg, 'acme/app', queued.id);
  expect({ phase: done.phase, logs: done.phase === 'complete' ? '' : await buildLogText(admin, 'acme/app', queued.id) }).toEqual({ phase: 'complete', logs: '' });
  expect(await buildLogText(admin, 'acme/app', queued.id)).toContain(`checked out ${shas.first}`);

  const c = clientSandbox('git-trigger-pull');
  await c.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
  const tags = JSON.parse((await c.run('skopeo', ['list-tags', ...INSECURE.skopeo, `docker://${reg.hostPort}/acme/app`])).stdout) as { Tags: string[] };
  expect(tags.Tags.sort()).toEqual([short, 'branch-main', 'latest', 'main'].sort());
  await c.run('podman', ['pull', ...INSECURE.podman, `${reg.hostPort}/acme/app:${short}`]);
  await c.run('podman', ['create', '--name', 'built', `${reg.hostPort}/acme/app:${short}`, '/none']);
  const out = join(c.dir, 'fs.tar');
  await c.run('podman', ['export', '-o', out, 'built']);
  const fs = join(c.dir, 'fs');
  mkdirSync(fs);
  execFileSync('tar', ['-xf', out, '-C', fs]);
  // The first commit, not the branch head (which says "second").
  expect(readFileSync(join(fs, 'msg.txt'), 'utf8')).toBe('first\n');

  // Skipped: [skip build] in the message; a branch outside branchtag_regex.
  const skip = commit('skip', 'docs only [skip build]', 'skip\n');
  const feature = commit('feature', 'feature work', 'feature\n', 'feature');
  for (const body of [pushPayload(skip, 'refs/heads/main', 'docs only [skip build]'), pushPayload(feature, 'refs/heads/feature', 'feature work')]) {
    const s = await webhook(t, body);
    expect([s.status, await s.text()]).toEqual([200, 'Okay']);
  }
  expect((await admin.ok<{ builds: any[] }>('GET', `/repository/acme/app/trigger/${t.id}/builds?limit=10`)).builds).toHaveLength(1);
}, 420_000);

test('the deploy key is what authenticates: a trigger whose key the git server does not know fails at the clone', async () => {
  const stranger = await activeTrigger();
  const r = await admin.post(`/repository/acme/app/trigger/${stranger.id}/start`, { commit_sha: shas.second });
  expect(r.status).toBe(201);
  const done = await waitBuildEnded(admin, reg, 'acme/app', r.body.id);
  expect(done.phase).toBe('error');
  expect(await buildLogText(admin, 'acme/app', r.body.id)).toMatch(/git clone failed/);
}, 420_000);
