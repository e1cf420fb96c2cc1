/**
 * GitHub, GitLab and Bitbucket build triggers set up through their services, as Quay 3.8 does it: the OAuth
 * callback exchanges the code and creates (Bitbucket: attaches) the trigger, the SCM-API verbs (namespaces, sources, subdir, analyze, fields)
 * list what the account sees, activation creates the deploy key and the push hook at the service, a push
 * event the service delivers to that hook builds (local executor, real builder agent and buildah, cloning
 * with the deploy key from Debian's sshd), "run now" asks the service for the branch head, and deleting the
 * trigger removes key and hook. The services' APIs are played on loopback over a real git repository
 * (scm_fakes.ts), behind GITHUB_TRIGGER_CONFIG / GITLAB_TRIGGER_CONFIG / BITBUCKET_TRIGGER_CONFIG endpoints on
 * loopback (so also an enterprise host: repository_url names it): the registry's code is the one that talks to the
 * real services.
 */
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { buildLogText, waitBuildEnded } from './build_api.js';
import { git, startGitSshd, type GitSshd } from './git_sshd.js';
import { clientSandbox } from '../../setup/tools.js';
import { deliver, fakeBitbucket, fakeGithub, fakeGitlab, type FakeScm } from './scm_fakes.js';

let reg: RegistryProcess;
let admin: Api;
let other: Api;
let sshd: GitSshd;
let dir: string;
let bare: string;
let work: string;
let github: FakeScm;
let gitlab: FakeScm;
let bitbucket: FakeScm & { refreshes: number; lifetime: number };
const shas: Record<string, string> = {};
let repoSshUrl: string;

function commit(name: string, message: string, files: Record<string, string>, branch = 'main'): string {
  git(work, 'checkout', '-q', '-B', branch);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(work, f, '..'), { recursive: true });
    writeFileSync(join(work, f), text);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', message);
  git(work, 'push', '-q', bare, `${branch}:${branch}`);
  shas[name] = git(work, 'rev-parse', 'HEAD');
  return shas[name];
}

/** The OAuth callback as the browser follows it: with the session cookie, not following the redirect. */
const callback = (path: string, api: Api | null) => fetch(`${reg.url}${path}`, { redirect: 'manual', headers: api ? { cookie: api.auth.cookie! } : {} });

async function attach(service: 'github' | 'gitlab', fake: FakeScm): Promise<string> {
  const path = service === 'github' ? `/oauth2/github/callback/trigger/acme/app?code=${fake.code}` : `/oauth2/gitlab/callback/trigger?code=${fake.code}&state=repo:acme/app`;
  const r = await callback(path, admin);
  expect(r.status).toBe(302);
  const m = /^\/repository\/acme\/app\/trigger\/([0-9a-f-]{36})$/.exec(r.headers.get('location') ?? '');
  expect(m).not.toBeNull();
  return m![1];
}

beforeAll(async () => {
  dir = workDir('scm-trigger');
  sshd = await startGitSshd(dir);
  const sshPort = sshd.port;

  bare = join(dir, 'app.git');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  work = join(dir, 'work');
  git(dir, 'init', '-q', '-b', 'main', work);
  commit('first', 'first version', { Dockerfile: 'FROM scratch\nCOPY msg.txt /msg.txt\n', 'msg.txt': 'first\n' });
  git(work, 'tag', 'v1', shas.first);
  git(work, 'push', '-q', bare, 'v1');
  // The service's SSH server trusts the deploy keys created through its API.
  repoSshUrl = `ssh://${userInfo().username}@127.0.0.1:${sshPort}${bare}`;
  const repo = { bare, sshUrl: repoSshUrl, defaultBranch: 'main' };
  const trust = (key: string) => appendFileSync(sshd.authorizedKeys, `${key}\n`);
  github = await fakeGithub(repo, trust);
  gitlab = await fakeGitlab(repo, trust);
  bitbucket = await fakeBitbucket(repo, trust);

  const config = await scaleOutConfig({
    ...(await localBuildsConfig()),
    FEATURE_GITHUB_BUILD: true,
    FEATURE_GITLAB_BUILD: true,
    GITHUB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', CLIENT_SECRET: 'trigger-secret', GITHUB_ENDPOINT: `${github.url}/`, API_ENDPOINT: `${github.url}/api/v3/` },
    GITLAB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', CLIENT_SECRET: 'trigger-secret', GITLAB_ENDPOINT: gitlab.url },
    FEATURE_BITBUCKET_BUILD: true,
    BITBUCKET_TRIGGER_CONFIG: { CONSUMER_KEY: 'trigger-client', CONSUMER_SECRET: 'trigger-secret', BITBUCKET_ENDPOINT: `${bitbucket.url}/`, API_ENDPOINT: `${bitbucket.url}/2.0` },
  });
  const sandbox = clientSandbox('scm-trigger-worker');
  reg = await startRegistry({
    label: 'scm-trigger',
    config,
    env: { ...buildWorkerEnv(sandbox) },
  });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  for (const name of ['app', 'base']) await admin.ok('POST', '/repository', { namespace: 'acme', repository: name, visibility: 'private', description: '' });
  await admin.ok('PUT', '/organization/acme/robots/reader', {});
  await admin.ok('PUT', '/organization/acme/robots/stranger', {});
  await admin.ok('PUT', '/repository/acme/base/permissions/user/acme+reader', { role: 'read' });
  const pw = await createUser(admin, 'otheradmin');
  await admin.ok('PUT', '/repository/acme/app/permissions/user/otheradmin', { role: 'admin' });
  other = await signin(reg, 'otheradmin', pw);
  // A Dockerfile whose base is a private repository of this registry (analyze), and a second branch.
  commit('second', 'second version', { 'msg.txt': 'second\n', 'sub/web.Dockerfile': `FROM ${reg.hostPort}/acme/base:1\n`, 'sub/notes.txt': 'x\n' });
  commit('dev', 'dev work', { 'msg.txt': 'dev\n' }, 'dev');
  git(work, 'checkout', '-q', 'main');
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  await github?.close();
  await gitlab?.close();
  await bitbucket?.close();
  await sshd?.stop();
});

test('the OAuth callback needs a session, repository admin and a good code', async () => {
  expect((await callback(`/oauth2/github/callback/trigger/acme/app?code=${github.code}`, null)).status).toBe(401);
  const denied = await signin(reg, 'nobody', await createUser(admin, 'nobody'));
  expect((await callback(`/oauth2/github/callback/trigger/acme/app?code=${github.code}`, denied)).status).toBe(403);
  expect((await callback('/oauth2/github/callback/trigger/acme/app?code=wrong', admin)).status).toBe(404);
  expect((await callback(`/oauth2/gitlab/callback/trigger?code=${gitlab.code}&state=nonsense`, admin)).status).toBe(400);
  // None of these created a trigger.
  expect((await admin.ok('GET', '/repository/acme/app/trigger/')).triggers).toEqual([]);
});

describe('github', () => {
  let uuid: string;
  const T = () => `/repository/acme/app/trigger/${uuid}`;

  test('attach, then list what the account sees: namespaces, sources (all pages), Dockerfiles with their contexts, refs', async () => {
    uuid = await attach('github', github);
    expect(await admin.ok('GET', T())).toMatchObject({ service: 'github', is_active: false, config: {} });
    expect((await admin.ok('GET', `${T()}/namespaces`)).namespaces).toEqual([
      { personal: true, id: 'octo', title: 'Octo Cat', avatar_url: `${github.url}/avatars/octo`, url: `${github.url}/octo`, score: 7 },
      { personal: false, id: 'octo-org', title: 'octo-org', avatar_url: `${github.url}/avatars/octo-org`, url: '', score: 0 },
    ]);
    const sources = (await admin.ok('POST', `${T()}/sources`, { namespace: 'octo' })).sources;
    expect(sources.map((s: { full_name: string }) => s.full_name)).toEqual(['octo/app', 'octo/one', 'octo/two']);
    expect(sources[0]).toEqual({
      name: 'app',
      full_name: 'octo/app',
      description: 'the app',
      last_updated: Date.parse('2024-05-01T12:00:00Z') / 1000,
      url: `${github.url}/octo/app`,
      has_admin_permissions: true,
      private: true,
    });
    expect((await admin.ok('POST', `${T()}/sources`, { namespace: 'octo-org' })).sources.map((s: { full_name: string }) => s.full_name)).toEqual(['octo-org/shared']);
    expect((await admin.call('POST', `${T()}/sources`, {})).status).toBe(400);

    expect(await admin.ok('POST', `${T()}/subdir`, { build_source: 'octo/app' })).toEqual({
      status: 'success',
      dockerfile_paths: ['/Dockerfile', '/sub/web.Dockerfile'],
      contextMap: { '/Dockerfile': ['/'], '/sub/web.Dockerfile': ['/sub', '/'] },
    });
    expect(await admin.ok('POST', `${T()}/subdir`, { build_source: 'octo/missing' })).toEqual({
      status: 'error',
      message: 'Unable to find GitHub repository for source: octo/missing',
    });

    expect((await admin.ok('POST', `${T()}/fields/branch_name`, { build_source: 'octo/app' })).values).toEqual(['main', 'dev']);
    expect((await admin.ok('POST', `${T()}/fields/tag_name`, { build_source: 'octo/app' })).values).toEqual(['v1']);
    expect((await admin.ok('POST', `${T()}/fields/refs`, { build_source: 'octo/app' })).values).toEqual([
      { kind: 'branch', name: 'main' },
      { kind: 'branch', name: 'dev' },
      { kind: 'tag', name: 'v1' },
    ]);
    expect((await admin.call('POST', `${T()}/fields/colour`, { build_source: 'octo/app' })).status).toBe(404);
  });

  test('analyze: a public base, a private base here that needs a robot (which robots can read it), a missing Dockerfile', async () => {
    const base = { build_source: 'octo/app', context: '/' };
    expect(await admin.ok('POST', `${T()}/analyze`, { config: { ...base, dockerfile_path: '/Dockerfile' } })).toMatchObject({
      status: 'publicbase',
      namespace: 'acme',
      name: null,
      is_admin: true,
    });
    const robot = await admin.ok('POST', `${T()}/analyze`, { config: { ...base, dockerfile_path: '/sub/web.Dockerfile' } });
    expect(robot).toMatchObject({ status: 'requiresrobot', namespace: 'acme', name: 'base', message: null, is_admin: true });
    expect(robot.robots.sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name))).toEqual([
      { name: 'acme+reader', kind: 'user', is_robot: true, can_read: true },
      { name: 'acme+stranger', kind: 'user', is_robot: true, can_read: false },
    ]);
    expect(await admin.ok('POST', `${T()}/analyze`, { config: { ...base, dockerfile_path: '/nope/Dockerfile' } })).toMatchObject({ status: 'warning', robots: expect.any(Array) });
    expect(await admin.ok('POST', `${T()}/analyze`, { config: { ...base, context: '/other', dockerfile_path: '/sub/web.Dockerfile' } })).toMatchObject({
      status: 'error',
      message: 'Dockerfile, /sub/web.Dockerfile, is not a child of the context, /other.',
    });
  });

  test('only the connected user lists through the account; another admin of the repository gets 403', async () => {
    for (const [method, path, body] of [
      ['GET', `${T()}/namespaces`, undefined],
      ['POST', `${T()}/sources`, { namespace: 'octo' }],
      ['POST', `${T()}/subdir`, { build_source: 'octo/app' }],
    ] as const) {
      expect((await other.call(method, path, body)).status).toBe(403);
    }
  });

  test('activate installs a deploy key and a hook; the delivered push builds that commit with the deploy key; run now asks GitHub for the head; delete removes key and hook', async () => {
    const t = await admin.ok('POST', `${T()}/activate`, {
      config: { build_source: 'octo/app', dockerfile_path: '/Dockerfile', context: '/', tag_templates: ['gh-${commit_info.short_sha}'] },
    });
    expect(t).toMatchObject({ is_active: true, build_source: 'octo/app', config: { master_branch: 'main' } });
    // GITHUB_ENDPOINT is an enterprise host (the fake): the repository's page is there, not on github.com.
    expect(t.repository_url).toBe(`${github.url}/octo/app`);
    const [keyId] = [...github.keys.keys()];
    const [hookId] = [...github.hooks.keys()];
    expect(t.config).toMatchObject({ deploy_key_id: keyId, hook_id: hookId });
    expect(github.keys.get(keyId)).toEqual({ title: 'Quay Builder', key: t.config.credentials[0].value });
    const hook = github.hooks.get(hookId) as { name: string; events: string[]; config: { url: string; content_type: string } };
    expect(hook).toMatchObject({ name: 'web', events: ['push'], config: { content_type: 'json' } });
    expect(hook.config.url).toBe(t.config.credentials[1].value);

    // GitHub delivers a push of the first commit to main.
    const push = {
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: shas.first,
      repository: { full_name: 'octo/app', ssh_url: repoSshUrl },
      head_commit: {
        id: shas.first,
        url: `${github.url}/octo/app/commit/${shas.first}`,
        message: 'first version',
        timestamp: '2024-05-01T12:00:00Z',
        author: { name: 'dev', email: 'dev@example.com', username: 'octo' },
        committer: { name: 'dev', email: 'dev@example.com', username: 'octo' },
      },
    };
    expect(await deliver(hook.config.url, { 'x-github-event': 'push' }, push)).toEqual({ status: 200, text: 'Okay' });
    const [queued] = (await admin.ok<{ builds: any[] }>('GET', `${T()}/builds`)).builds;
    const short = shas.first.slice(0, 7);
    expect(queued.tags).toEqual([`gh-${short}`, 'latest', 'main'].sort());
    expect(queued.trigger_metadata).toMatchObject({ commit: shas.first, ref: 'refs/heads/main', default_branch: 'main' });
    const done = await waitBuildEnded(admin, reg, 'acme/app', queued.id);
    expect({ phase: done.phase, logs: done.phase === 'complete' ? '' : await buildLogText(admin, 'acme/app', queued.id) }).toEqual({ phase: 'complete', logs: '' });
    expect(await buildLogText(admin, 'acme/app', queued.id)).toContain(`checked out ${shas.first}`);

    // Run now on the dev branch: GitHub names its head and the commit's details.
    const run = await admin.ok('POST', `${T()}/start`, { branch_name: 'dev' });
    expect(run.trigger_metadata).toMatchObject({
      commit: shas.dev,
      ref: 'refs/heads/dev',
      default_branch: 'main',
      commit_info: { message: 'dev work', url: `${github.url}/octo/app/commit/${shas.dev}`, author: { username: 'octo' }, committer: { username: 'web-flow' } },
    });
    expect((await waitBuildEnded(admin, reg, 'acme/app', run.id)).phase).toBe('complete');
    expect(await buildLogText(admin, 'acme/app', run.id)).toContain(`checked out ${shas.dev}`);
    expect((await admin.call('POST', `${T()}/start`, { refs: { kind: 'tag', name: 'v9' } })).body).toMatchObject({ error_message: 'Could not find tag in repository' });

    const tags = (await admin.ok('GET', '/repository/acme/app/tag/')).tags.map((x: { name: string }) => x.name).sort();
    expect(tags).toEqual(expect.arrayContaining([`gh-${short}`, 'main', 'dev', `gh-${shas.dev.slice(0, 7)}`]));

    expect((await admin.call('DELETE', T())).status).toBe(204);
    expect(github.keys.size).toBe(0);
    expect(github.hooks.size).toBe(0);
  }, 600_000);
});

describe('gitlab', () => {
  let uuid: string;
  const T = () => `/repository/acme/app/trigger/${uuid}`;

  test('attach through the state-carrying callback, then namespaces, sources, top-level Dockerfiles, refs', async () => {
    uuid = await attach('gitlab', gitlab);
    expect((await admin.ok('GET', `${T()}/namespaces`)).namespaces).toEqual([
      { personal: true, id: '7', title: 'gl-user', avatar_url: null, score: 1, url: `${gitlab.url}/gl-user` },
      { personal: false, id: '42', title: 'team', avatar_url: `${gitlab.url}/team.png`, score: 1, url: `${gitlab.url}/groups/team` },
    ]);
    expect((await admin.ok('POST', `${T()}/sources`, { namespace: '42' })).sources).toEqual([
      {
        name: 'app',
        full_name: 'team/app',
        description: '',
        url: `${gitlab.url}/team/app`,
        has_admin_permissions: true,
        private: true,
        last_updated: Date.parse('2024-05-01T12:00:00Z') / 1000,
      },
    ]);
    expect((await admin.ok('POST', `${T()}/sources`, { namespace: '7' })).sources).toEqual([]);
    // GitLab's listing is the top level of the tree, as in Quay.
    expect(await admin.ok('POST', `${T()}/subdir`, { build_source: 'team/app' })).toEqual({
      status: 'success',
      dockerfile_paths: ['/Dockerfile'],
      contextMap: { '/Dockerfile': ['/'] },
    });
    expect((await admin.ok('POST', `${T()}/fields/refs`, { build_source: 'team/app' })).values).toEqual([
      { kind: 'branch', name: 'dev' },
      { kind: 'branch', name: 'main' },
      { kind: 'tag', name: 'v1' },
    ]);
    expect(await admin.ok('POST', `${T()}/analyze`, { config: { build_source: 'team/app', dockerfile_path: '/Dockerfile', context: '/' } })).toMatchObject({
      status: 'publicbase',
    });
  });

  test('activate installs key and hook; a delivered push builds; run now on a tag asks GitLab; delete removes key and hook', async () => {
    const t = await admin.ok('POST', `${T()}/activate`, {
      config: { build_source: 'team/app', dockerfile_path: '/Dockerfile', context: '/', tag_templates: ['gl-${commit_info.short_sha}'] },
    });
    const [keyId] = [...gitlab.keys.keys()];
    const [hookId] = [...gitlab.hooks.keys()];
    expect(t.config).toMatchObject({ key_id: keyId, hook_id: hookId, master_branch: 'main' });
    // A self-hosted GitLab (GITLAB_ENDPOINT): the project's page is there, not on gitlab.com; builds show it too.
    expect(t.repository_url).toBe(`${gitlab.url}/team/app`);
    const hook = gitlab.hooks.get(hookId) as { url: string; push_events: boolean; tag_push_events: boolean };
    expect(hook).toEqual({ url: t.config.credentials[1].value, push_events: true, tag_push_events: true });

    const push = {
      object_kind: 'push',
      ref: 'refs/heads/main',
      before: shas.first,
      after: shas.second,
      checkout_sha: shas.second,
      project_id: 5,
      project: { id: 5, path_with_namespace: 'team/app', default_branch: 'main' },
      repository: { name: 'app', git_ssh_url: repoSshUrl },
      commits: [
        {
          id: shas.second,
          message: 'second version',
          timestamp: '2024-05-02T12:00:00Z',
          url: `${gitlab.url}/team/app/-/commit/${shas.second}`,
          author: { name: 'dev', email: 'dev@example.com' },
        },
      ],
      total_commits_count: 1,
    };
    expect(await deliver(hook.url, { 'x-gitlab-event': 'Push Hook' }, push)).toEqual({ status: 200, text: 'Okay' });
    const [queued] = (await admin.ok<{ builds: any[] }>('GET', `${T()}/builds`)).builds;
    expect(queued.trigger_metadata).toMatchObject({ commit: shas.second, ref: 'refs/heads/main', default_branch: 'main', commit_info: { message: 'second version' } });
    expect(queued.trigger.repository_url).toBe(`${gitlab.url}/team/app`);
    const done = await waitBuildEnded(admin, reg, 'acme/app', queued.id);
    expect({ phase: done.phase, logs: done.phase === 'complete' ? '' : await buildLogText(admin, 'acme/app', queued.id) }).toEqual({ phase: 'complete', logs: '' });
    expect(await buildLogText(admin, 'acme/app', queued.id)).toContain(`checked out ${shas.second}`);

    const run = await admin.ok('POST', `${T()}/start`, { refs: { kind: 'tag', name: 'v1' } });
    expect(run.trigger_metadata).toMatchObject({
      commit: shas.first,
      ref: 'refs/tags/v1',
      default_branch: 'main',
      commit_info: { message: 'first version', author: { username: 'dev', url: `${gitlab.url}/dev` } },
    });
    expect((await waitBuildEnded(admin, reg, 'acme/app', run.id)).phase).toBe('complete');

    expect((await admin.call('DELETE', T())).status).toBe(204);
    expect(gitlab.keys.size).toBe(0);
    expect(gitlab.hooks.size).toBe(0);
  }, 600_000);
});

describe('bitbucket', () => {
  let uuid: string;
  const T = () => `/repository/acme/app/trigger/${uuid}`;
  const setup = (api: Api | null) => callback('/bitbucket/setup/acme/app', api);

  /** /bitbucket/setup creates the inactive trigger and sends the browser to Bitbucket's authorize page. */
  async function startSetup(): Promise<string> {
    const r = await setup(admin);
    expect(r.status).toBe(302);
    const to = new URL(r.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(`${bitbucket.url}/site/oauth2/authorize`);
    expect(Object.fromEntries(to.searchParams)).toEqual({ client_id: 'trigger-client', response_type: 'code', state: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    return to.searchParams.get('state')!;
  }

  test('setup needs a session and repository admin; the callback needs the connected user and a good code', async () => {
    expect((await setup(null)).status).toBe(401);
    const denied = await signin(reg, 'bbnobody', await createUser(admin, 'bbnobody'));
    expect((await setup(denied)).status).toBe(403);

    const refused = await startSetup();
    expect(await admin.ok('GET', `/repository/acme/app/trigger/${refused}`)).toMatchObject({ service: 'bitbucket', is_active: false });
    // Another admin of the repository is not the connected user: not found, and the trigger stays.
    expect((await callback(`/bitbucket/callback/trigger/${refused}?code=${bitbucket.code}`, other)).status).toBe(404);
    expect((await callback(`/bitbucket/callback/trigger/${refused}?code=${bitbucket.code}`, null)).status).toBe(401);
    // A code Bitbucket refuses: the unattached trigger goes, as in Quay.
    expect((await callback(`/bitbucket/callback/trigger/${refused}?code=wrong`, admin)).status).toBe(400);
    expect((await admin.call('GET', `/repository/acme/app/trigger/${refused}`)).status).toBe(404);

    uuid = await startSetup();
    // Bitbucket comes back to the consumer's callback URL with the state; its access token is at its end at once, so
    // the first use must refresh it.
    bitbucket.lifetime = 0;
    const r = await callback(`/bitbucket/callback/trigger?code=${bitbucket.code}&state=${uuid}`, admin);
    bitbucket.lifetime = 7200;
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`/repository/acme/app/trigger/${uuid}`);
    // Attached once: a second callback for it is not found.
    expect((await callback(`/bitbucket/callback/trigger/${uuid}?code=${bitbucket.code}`, admin)).status).toBe(404);
  });

  test('namespaces, sources (all pages, admin permission), top-level Dockerfiles, refs and analyze through the account', async () => {
    // Concurrent first uses share one refresh of the expired token (a second refresh would end the token the first
    // gave out, failing a call), and the refreshed grant is stored: later uses need none.
    const calls = await Promise.all([0, 1, 2, 3].map(() => admin.call('GET', `${T()}/namespaces`)));
    expect(calls.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    expect(bitbucket.refreshes).toBe(1);
    expect((await admin.ok('GET', `${T()}/namespaces`)).namespaces).toEqual([
      { personal: true, id: 'bb-user', title: 'bb-user', avatar_url: `${bitbucket.url}/avatars/bb-user/app`, url: `${bitbucket.url}/bb-user`, score: 2 },
      { personal: false, id: 'team-ws', title: 'team-ws', avatar_url: `${bitbucket.url}/avatars/team-ws/shared`, url: `${bitbucket.url}/team-ws`, score: 1 },
    ]);
    expect((await admin.ok('POST', `${T()}/sources`, { namespace: 'bb-user' })).sources).toEqual([
      {
        name: 'app',
        full_name: 'bb-user/app',
        description: 'the app',
        last_updated: Date.parse('2024-05-01T12:00:00Z') / 1000,
        url: `${bitbucket.url}/bb-user/app`,
        has_admin_permissions: true,
        private: true,
      },
      expect.objectContaining({ full_name: 'bb-user/other', has_admin_permissions: false }),
    ]);
    expect((await admin.ok('POST', `${T()}/sources`, { namespace: 'nobody' })).sources).toEqual([]);
    expect(await admin.ok('POST', `${T()}/subdir`, { build_source: 'bb-user/app' })).toEqual({
      status: 'success',
      dockerfile_paths: ['/Dockerfile'],
      contextMap: { '/Dockerfile': ['/'] },
    });
    expect(await admin.ok('POST', `${T()}/subdir`, { build_source: 'bb-user/missing' })).toEqual({
      status: 'error',
      message: 'Unable to find Bitbucket repository for source: bb-user/missing',
    });
    expect((await admin.ok('POST', `${T()}/fields/refs`, { build_source: 'bb-user/app' })).values).toEqual([
      { kind: 'branch', name: 'dev' },
      { kind: 'branch', name: 'main' },
      { kind: 'tag', name: 'v1' },
    ]);
    const base = { build_source: 'bb-user/app', context: '/' };
    expect(await admin.ok('POST', `${T()}/analyze`, { config: { ...base, dockerfile_path: '/Dockerfile' } })).toMatchObject({ status: 'publicbase' });
    // The Dockerfile's bytes come from Bitbucket's raw source endpoint.
    expect(await admin.ok('POST', `${T()}/analyze`, { config: { ...base, dockerfile_path: '/sub/web.Dockerfile' } })).toMatchObject({ status: 'requiresrobot', name: 'base' });
    expect((await other.call('GET', `${T()}/namespaces`)).status).toBe(403);
    expect(bitbucket.refreshes).toBe(1);
  });

  test('activate installs key and hook; a delivered repo:push builds with the deploy key; run now on a tag asks Bitbucket; delete removes key and hook', async () => {
    const t = await admin.ok('POST', `${T()}/activate`, {
      config: { build_source: 'bb-user/app', dockerfile_path: '/Dockerfile', context: '/', tag_templates: ['bb-${commit_info.short_sha}'] },
    });
    const [keyId] = [...bitbucket.keys.keys()];
    const [hookId] = [...bitbucket.hooks.keys()];
    const hookUrl = t.config.credentials[1].value;
    expect(t).toMatchObject({ is_active: true, repository_url: `${bitbucket.url}/bb-user/app` });
    expect(t.config).toMatchObject({ deploy_key_id: keyId, webhook_id: hookId, webhook_url: hookUrl, master_branch: 'main', git_url: repoSshUrl });
    expect(bitbucket.keys.get(keyId)).toEqual({ label: 'Quay webhook key', key: t.config.credentials[0].value });
    expect(bitbucket.hooks.get(hookId)).toEqual({ description: 'Webhook for invoking builds on Quay', url: hookUrl, active: true, events: ['repo:push'] });

    const push = {
      push: {
        changes: [
          {
            old: { type: 'branch', name: 'main', target: { hash: shas.first } },
            new: {
              type: 'branch',
              name: 'main',
              target: {
                type: 'commit',
                hash: shas.second,
                message: 'second version\n',
                date: '2024-05-02T12:00:00+00:00',
                author: { raw: 'dev <dev@example.com>', user: { display_name: 'BB User', account_id: 'bb-1', links: { avatar: { href: `${bitbucket.url}/avatars/bb-user` } } } },
                links: { html: { href: `${bitbucket.url}/bb-user/app/commits/${shas.second}` } },
              },
            },
          },
        ],
      },
      repository: { type: 'repository', full_name: 'bb-user/app', name: 'app', links: { html: { href: `${bitbucket.url}/bb-user/app` } } },
      actor: { display_name: 'BB User', account_id: 'bb-1', links: { avatar: { href: `${bitbucket.url}/avatars/bb-user` } } },
    };
    expect(await deliver(hookUrl, { 'x-event-key': 'repo:push' }, push)).toEqual({ status: 200, text: 'Okay' });
    const [queued] = (await admin.ok<{ builds: any[] }>('GET', `${T()}/builds`)).builds;
    expect(queued.tags).toEqual([`bb-${shas.second.slice(0, 7)}`, 'latest', 'main'].sort());
    expect(queued.trigger_metadata).toMatchObject({
      commit: shas.second,
      ref: 'refs/heads/main',
      default_branch: 'main',
      git_url: repoSshUrl,
      commit_info: { message: 'second version\n', author: { username: 'BB User' }, committer: { username: 'BB User' } },
    });
    const done = await waitBuildEnded(admin, reg, 'acme/app', queued.id);
    expect({ phase: done.phase, logs: done.phase === 'complete' ? '' : await buildLogText(admin, 'acme/app', queued.id) }).toEqual({ phase: 'complete', logs: '' });
    expect(await buildLogText(admin, 'acme/app', queued.id)).toContain(`checked out ${shas.second}`);

    const run = await admin.ok('POST', `${T()}/start`, { refs: { kind: 'tag', name: 'v1' } });
    expect(run.trigger_metadata).toMatchObject({
      commit: shas.first,
      ref: 'refs/tags/v1',
      default_branch: 'main',
      git_url: repoSshUrl,
      commit_info: { message: 'first version\n', url: `${bitbucket.url}/bb-user/app/commits/${shas.first}`, author: { username: 'BB User' } },
    });
    expect((await waitBuildEnded(admin, reg, 'acme/app', run.id)).phase).toBe('complete');
    expect(await buildLogText(admin, 'acme/app', run.id)).toContain(`checked out ${shas.first}`);
    expect((await admin.call('POST', `${T()}/start`, { branch_name: 'nope' })).body).toMatchObject({ error_message: 'Could not find branch in repository' });

    expect((await admin.call('DELETE', T())).status).toBe(204);
    expect(bitbucket.keys.size).toBe(0);
    expect(bitbucket.hooks.size).toBe(0);
  }, 600_000);
});
