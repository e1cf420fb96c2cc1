/**
 * GitHub and GitLab build triggers set up in the browser, as chapters 6-11 of the user guide walk them:
 * "Create Build Trigger" → the service's OAuth authorize page (played on loopback by scm_fakes.ts, which
 * answers as if the user clicked "Authorize" and redirects back with a code) → the registry's callback creates
 * an inactive trigger and sends the browser to `/repository/{ns}/{repo}/trigger/{uuid}` → the setup wizard:
 * organization, repository (every page the service lists), branch/tag filter with the refs it matches,
 * tagging, Dockerfile and context from `subdir`, robot from `analyze`, Finish. Each step is checked through
 * the API and at the fake service (deploy key and push hook installed, removed on delete). The GitHub
 * trigger is then run now on a branch chosen from the service's refs; the build (local executor, real
 * builder agent and buildah cloning over Debian's sshd with the deploy key the service trusted) completes and
 * its tag appears in the Tags tab. The GitLab trigger needs a robot (its Dockerfile's base is a private
 * repository here): the one chosen gets read access on Finish. Bitbucket's setup starts at the registry
 * (`/bitbucket/setup/…` creates the trigger, then Bitbucket's authorize page returns to its callback).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { clientSandbox } from '../../setup/tools.js';
import { git, startGitSshd, type GitSshd } from '../builds/git_sshd.js';
import { fakeBitbucket, fakeGithub, fakeGitlab, type FakeScm } from '../builds/scm_fakes.js';
import { launchBrowser, UiSession } from './browser.js';
import { waitBuildEnded } from '../builds/build_api.js';

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;
let sshd: GitSshd;
let github: FakeScm;
let gitlab: FakeScm;
let bitbucket: FakeScm;
const shas: Record<string, string> = {};

beforeAll(async () => {
  const dir = workDir('ui-scm-triggers');
  sshd = await startGitSshd(dir);
  const bare = join(dir, 'app.git');
  const work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  const commit = (name: string, branch: string, files: Record<string, string>) => {
    git(work, 'checkout', '-q', '-B', branch);
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(work, f, '..'), { recursive: true });
      writeFileSync(join(work, f), text);
    }
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', name);
    git(work, 'push', '-q', bare, `${branch}:${branch}`);
    shas[name] = git(work, 'rev-parse', 'HEAD');
  };
  commit('first', 'main', { Dockerfile: 'FROM scratch\nCOPY msg.txt /msg.txt\n', 'msg.txt': 'main\n' });
  git(work, 'tag', 'v1', shas.first);
  git(work, 'push', '-q', bare, 'v1');
  commit('dev', 'dev', { 'msg.txt': 'dev\n' });
  git(work, 'checkout', '-q', 'main');
  const repo = { bare, sshUrl: `ssh://${userInfo().username}@127.0.0.1:${sshd.port}${bare}`, defaultBranch: 'main' };
  // The service's SSH server trusts the deploy keys created through its API.
  const trust = (key: string) => appendFileSync(sshd.authorizedKeys, `${key}\n`);
  github = await fakeGithub(repo, trust);
  gitlab = await fakeGitlab(repo, trust);
  bitbucket = await fakeBitbucket(repo, trust);

  const config = await scaleOutConfig({
    SUPER_USERS: ['admin'],
    ...(await localBuildsConfig()),
    FEATURE_GITHUB_BUILD: true,
    FEATURE_GITLAB_BUILD: true,
    GITHUB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', CLIENT_SECRET: 'trigger-secret', GITHUB_ENDPOINT: `${github.url}/`, API_ENDPOINT: `${github.url}/api/v3/` },
    GITLAB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', CLIENT_SECRET: 'trigger-secret', GITLAB_ENDPOINT: gitlab.url },
    FEATURE_BITBUCKET_BUILD: true,
    BITBUCKET_TRIGGER_CONFIG: { CONSUMER_KEY: 'trigger-client', CONSUMER_SECRET: 'trigger-secret', BITBUCKET_ENDPOINT: `${bitbucket.url}/`, API_ENDPOINT: `${bitbucket.url}/2.0` },
  });
  const sandbox = clientSandbox('ui-scm-worker');
  [reg, browser] = await Promise.all([
    startRegistry({
      label: 'ui-scm-triggers',
      config,
      env: {
        ...buildWorkerEnv(sandbox),
      },
    }),
    launchBrowser(),
  ]);
  // Bitbucket sends the user back to the consumer's configured callback.
  bitbucket.callbackUrl = `${reg.url}/bitbucket/callback/trigger`;
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  for (const name of ['app', 'base']) await admin.ok('POST', '/repository', { namespace: 'acme', repository: name, visibility: 'private', description: '' });
  await admin.ok('PUT', '/organization/acme/robots/reader', {});
  await admin.ok('PUT', '/organization/acme/robots/stranger', {});
  await admin.ok('PUT', '/repository/acme/base/permissions/user/acme+reader', { role: 'read' });
  // A second Dockerfile at the top level (GitLab lists only that) whose base is the private acme/base here, on
  // both branches (GitLab's listing reads the first branch, as Quay's does).
  const web = `FROM ${reg.hostPort}/acme/base:1\n`;
  commit('web', 'main', { 'web.Dockerfile': web });
  git(work, 'checkout', '-q', 'dev');
  writeFileSync(join(work, 'web.Dockerfile'), web);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'web on dev');
  git(work, 'push', '-q', bare, 'dev:dev');
  shas.dev = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '-q', 'main');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await reg?.stop();
  await github?.close();
  await gitlab?.close();
  await bitbucket?.close();
  await sshd?.stop();
});

test('GET /config publishes the trigger services’ OAuth client id and authorize page, never the secret', async () => {
  const r = await fetch(`${reg.url}/config`);
  const text = await r.text();
  expect(JSON.parse(text).oauth).toEqual({
    GITHUB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', GITHUB_ENDPOINT: `${github.url}/`, AUTHORIZE_ENDPOINT: `${github.url}/login/oauth/authorize` },
    GITLAB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', GITLAB_ENDPOINT: gitlab.url, AUTHORIZE_ENDPOINT: `${gitlab.url}/oauth/authorize` },
  });
  expect(text).not.toContain('trigger-secret');
});

test('GitHub: authorize, walk the wizard, run the trigger on a branch chosen from the service, see the tag, delete', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByRole('button', { name: 'Create Build Trigger' }).click();
  await page.getByRole('menuitem', { name: 'GitHub Repository Push' }).click();
  // The authorize page sent the browser back through the callback to the new trigger's setup.
  const wizard = page.getByRole('dialog', { name: 'Setup Build Trigger' });
  await wizard.getByRole('heading', { name: 'Select GitHub organization' }).waitFor();
  const authorize = new URLSearchParams(github.calls.find((c) => c.startsWith('authorize '))!.slice('authorize '.length));
  expect(Object.fromEntries(authorize)).toEqual({
    client_id: 'trigger-client',
    redirect_uri: `http://${reg.hostPort}/oauth2/github/callback/trigger/acme/app`,
    scope: 'repo,user:email',
  });
  const [attached] = (await admin.ok('GET', '/repository/acme/app/trigger/')).triggers;
  expect(attached).toMatchObject({ service: 'github', is_active: false });
  expect(new URL(page.url()).searchParams.get('setupTrigger')).toBe(attached.id);

  const next = wizard.getByRole('button', { name: 'Next' });
  expect(await next.isDisabled()).toBe(true);
  await wizard.getByTestId('scm-namespace').filter({ hasText: 'octo-org' }).waitFor();
  await ui.expectAccessible('github wizard: organization');
  await wizard.getByTestId('scm-namespace').filter({ hasText: 'Octo Cat' }).getByRole('radio').check();
  await next.click();
  // Every page of the account's repositories (the fake serves two per page).
  const sources = wizard.getByTestId('scm-source');
  await sources.filter({ hasText: 'octo/two' }).waitFor();
  expect(await sources.count()).toBe(3);
  await wizard.getByLabel('Filter repositories').fill('app');
  expect(await sources.count()).toBe(1);
  await ui.expectAccessible('github wizard: repository');
  await sources.filter({ hasText: 'octo/app' }).getByRole('radio').check();
  await next.click();

  await wizard.getByLabel('Trigger only on branches and tags matching a regular expression').check();
  expect(await next.isDisabled()).toBe(true);
  await wizard.getByLabel('Branch/tag regular expression').fill('heads/.+');
  const matching = wizard.getByTestId('matching-refs');
  await matching.getByText('heads/dev').waitFor();
  expect((await matching.locator('li').allInnerTexts()).sort()).toEqual(['heads/dev', 'heads/main']);
  await ui.expectAccessible('github wizard: configure trigger');
  await next.click();
  await wizard.getByLabel('Enter a tag template').fill('${commit_info.short_sha}');
  await wizard.getByRole('button', { name: 'Add template' }).click();
  await next.click();
  const dockerfile = wizard.getByLabel('Dockerfile path');
  await dockerfile.waitFor();
  expect(await dockerfile.locator('option').allInnerTexts()).toEqual(['Choose a Dockerfile', '/Dockerfile', '/web.Dockerfile']);
  await dockerfile.selectOption('/Dockerfile');
  await next.click();
  expect(await wizard.getByLabel('Context path').inputValue()).toBe('/');
  await next.click();
  await wizard.getByRole('heading', { name: 'Optional Robot Account' }).waitFor();
  await ui.expectAccessible('github wizard: robot');
  await ui.screenshot('build-trigger-github-robot');
  await next.click();
  await wizard.getByText('octo/app').waitFor();
  await ui.expectAccessible('github wizard: review');
  await wizard.getByRole('button', { name: 'Finish', exact: true }).click();

  const done = page.getByRole('dialog', { name: 'Trigger has been successfully activated' });
  await done.waitFor();
  const trigger = await admin.ok('GET', `/repository/acme/app/trigger/${attached.id}`);
  expect(trigger).toMatchObject({
    service: 'github',
    is_active: true,
    config: {
      build_source: 'octo/app',
      dockerfile_path: '/Dockerfile',
      context: '/',
      branchtag_regex: 'heads/.+',
      default_tag_from_ref: true,
      latest_for_default_branch: true,
      tag_templates: ['${commit_info.short_sha}'],
    },
  });
  const webhook = (trigger.config.credentials as { name: string; value: string }[]).find((c) => c.name === 'Webhook Endpoint URL')!.value;
  expect(await ui.copyValue('Webhook Endpoint URL')).toBe(webhook);
  // Activation installed the deploy key and a push hook to that URL at the service.
  expect(github.keys.size).toBe(1);
  expect([...github.hooks.values()].map((h) => (h.config as { url: string }).url)).toEqual([webhook]);
  await ui.expectAccessible('github trigger activated');
  await ui.screenshot('build-trigger-github-activated');
  await done.getByRole('button', { name: 'Done' }).click();
  expect(new URL(page.url()).searchParams.get('setupTrigger')).toBeNull();

  const row = page.getByTestId('trigger-entry').filter({ hasText: 'push to GitHub repository' });
  await row.getByText('heads/.+').waitFor();
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Run Trigger Now' }).click();
  const run = page.getByRole('dialog', { name: 'Manually Start Build Trigger' });
  const refSelect = run.getByLabel('Branch/Tag');
  await refSelect.locator('option', { hasText: 'v1' }).waitFor({ state: 'attached' });
  expect(await refSelect.locator('option').allInnerTexts()).toEqual(['Choose a branch or tag', 'main', 'dev', 'v1']);
  expect(await run.getByRole('button', { name: 'Start Build' }).isDisabled()).toBe(true);
  await refSelect.selectOption('branch/dev');
  await ui.expectAccessible('run github trigger now');
  await run.getByRole('button', { name: 'Start Build' }).click();
  await ui.toast(/Build started successfully with ID /);
  const [build] = (await admin.ok('GET', `/repository/acme/app/trigger/${trigger.id}/builds`)).builds;
  expect(build.trigger_metadata).toMatchObject({ commit: shas.dev, ref: 'refs/heads/dev' });
  expect(build.tags.sort()).toEqual(['dev', shas.dev.slice(0, 7)].sort());
  expect((await waitBuildEnded(admin, reg, 'acme/app', build.id)).phase).toBe('complete');
  const historyRow = page.getByTestId('table-entry').filter({ hasText: build.id.slice(0, 8) });
  await historyRow.getByText('complete').waitFor({ timeout: 60_000 });
  await historyRow.getByText(`GitHub dev @ ${shas.dev.slice(0, 7)} (run by admin)`).waitFor();
  // The pushed tag is in the repository.
  await page.getByRole('tab', { name: 'Tags' }).click();
  await page.getByRole('link', { name: 'dev', exact: true }).waitFor();
  expect((await admin.ok('GET', '/repository/acme/app/tag/?specificTag=dev')).tags).toHaveLength(1);

  await page.getByRole('tab', { name: 'Builds' }).click();
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Delete Trigger' }).click();
  await page.getByRole('dialog', { name: 'Delete Trigger?' }).getByRole('button', { name: 'Delete Trigger' }).click();
  await ui.toast('Build trigger deleted');
  await page.getByText('No build triggers defined').waitFor();
  expect((await admin.ok('GET', '/repository/acme/app/trigger/')).triggers).toEqual([]);
  expect(github.keys.size).toBe(0);
  expect(github.hooks.size).toBe(0);
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 420_000);

test('GitLab: an abandoned setup is finished later; a private base needs a robot, which gets read access', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByRole('button', { name: 'Create Build Trigger' }).click();
  await page.getByRole('menuitem', { name: 'GitLab Repository Push' }).click();
  const wizard = page.getByRole('dialog', { name: 'Setup Build Trigger' });
  await wizard.getByRole('heading', { name: 'Select GitLab organization' }).waitFor();
  const authorize = new URLSearchParams(gitlab.calls.find((c) => c.startsWith('authorize '))!.slice('authorize '.length));
  expect(Object.fromEntries(authorize)).toMatchObject({
    client_id: 'trigger-client',
    redirect_uri: `http://${reg.hostPort}/oauth2/gitlab/callback/trigger`,
    response_type: 'code',
    state: 'repo:acme/app',
  });
  // Closed half way: the trigger stays, inactive, and its setup can be finished from the list.
  await wizard.getByRole('button', { name: 'Close wizard' }).click();
  const row = page.getByTestId('trigger-entry').filter({ hasText: 'push to GitLab repository' });
  await row.getByText('setup not finished').waitFor();
  const [attached] = (await admin.ok('GET', '/repository/acme/app/trigger/')).triggers;
  expect(attached).toMatchObject({ service: 'gitlab', is_active: false });
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  expect(await page.getByRole('menuitem', { name: 'Run Trigger Now' }).count()).toBe(0);
  await page.getByRole('menuitem', { name: 'Finish Setup' }).click();

  const next = wizard.getByRole('button', { name: 'Next' });
  await wizard.getByTestId('scm-namespace').filter({ hasText: 'team' }).getByRole('radio').check();
  await next.click();
  await wizard.getByTestId('scm-source').filter({ hasText: 'team/app' }).getByRole('radio').check();
  await next.click();
  await next.click();
  await next.click();
  await wizard.getByLabel('Dockerfile path').selectOption('/web.Dockerfile');
  await next.click();
  await next.click();
  await wizard.getByRole('heading', { name: 'Robot Account Required' }).waitFor();
  await wizard.getByText('acme/base').first().waitFor();
  expect(await next.isDisabled()).toBe(true);
  const robots = wizard.getByTestId('trigger-robot');
  await robots.filter({ hasText: 'acme+reader' }).getByText('Can Read').waitFor();
  await robots.filter({ hasText: 'acme+stranger' }).getByText('Read access will be added if selected').waitFor();
  await ui.expectAccessible('gitlab wizard: robot required');
  await ui.screenshot('build-trigger-robot-required');
  await robots.filter({ hasText: 'acme+stranger' }).getByRole('radio').check();
  await next.click();
  expect((await admin.call('GET', '/repository/acme/base/permissions/user/acme+stranger')).status).toBe(404);
  await wizard.getByRole('button', { name: 'Finish', exact: true }).click();
  await page.getByRole('dialog', { name: 'Trigger has been successfully activated' }).getByRole('button', { name: 'Done' }).click();

  const trigger = await admin.ok('GET', `/repository/acme/app/trigger/${attached.id}`);
  expect(trigger).toMatchObject({
    service: 'gitlab',
    is_active: true,
    pull_robot: { name: 'acme+stranger' },
    config: { build_source: 'team/app', dockerfile_path: '/web.Dockerfile', context: '/', default_tag_from_ref: true, latest_for_default_branch: true },
  });
  expect(trigger.config.branchtag_regex).toBeUndefined();
  expect((await admin.ok('GET', '/repository/acme/base/permissions/user/acme+stranger')).role).toBe('read');
  expect(gitlab.keys.size).toBe(1);
  expect(gitlab.hooks.size).toBe(1);
  await row.getByText('acme+stranger').waitFor();
  await row.getByText('setup not finished').waitFor({ state: 'detached' });
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 300_000);

test('Bitbucket: the setup starts at the registry, Bitbucket returns to its callback, the wizard activates the trigger there', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByRole('button', { name: 'Create Build Trigger' }).click();
  await page.getByRole('menuitem', { name: 'Bitbucket Repository Push' }).click();
  const wizard = page.getByRole('dialog', { name: 'Setup Build Trigger' });
  await wizard.getByRole('heading', { name: 'Select Bitbucket organization' }).waitFor();
  const attached = (await admin.ok('GET', '/repository/acme/app/trigger/')).triggers.find((t: { service: string }) => t.service === 'bitbucket');
  expect(attached).toMatchObject({ is_active: false });
  expect(new URLSearchParams(bitbucket.calls.find((c) => c.startsWith('authorize '))!.slice('authorize '.length)).get('state')).toBe(attached.id);

  const next = wizard.getByRole('button', { name: 'Next' });
  await wizard.getByTestId('scm-namespace').filter({ hasText: 'bb-user' }).getByRole('radio').check();
  await next.click();
  // A repository the account does not administer cannot be chosen.
  const other = wizard.getByTestId('scm-source').filter({ hasText: 'bb-user/other' });
  await other.getByText('Admin access is required to add a trigger.').waitFor();
  expect(await other.getByRole('radio').isDisabled()).toBe(true);
  await wizard.getByTestId('scm-source').filter({ hasText: 'bb-user/app' }).getByRole('radio').check();
  await next.click();
  await next.click();
  await next.click();
  await wizard.getByLabel('Dockerfile path').selectOption('/Dockerfile');
  await next.click();
  await next.click();
  await wizard.getByRole('heading', { name: 'Optional Robot Account' }).waitFor();
  await next.click();
  await wizard.getByRole('button', { name: 'Finish', exact: true }).click();
  const done = page.getByRole('dialog', { name: 'Trigger has been successfully activated' });
  await done.waitFor();
  const trigger = await admin.ok('GET', `/repository/acme/app/trigger/${attached.id}`);
  expect(trigger).toMatchObject({ service: 'bitbucket', is_active: true, config: { build_source: 'bb-user/app', dockerfile_path: '/Dockerfile', context: '/' } });
  expect(bitbucket.keys.size).toBe(1);
  expect(bitbucket.hooks.size).toBe(1);
  const webhook = (trigger.config.credentials as { name: string; value: string }[]).find((c) => c.name === 'Webhook Endpoint URL')!.value;
  expect(await ui.copyValue('Webhook Endpoint URL')).toBe(webhook);
  await ui.expectAccessible('bitbucket trigger activated');
  await done.getByRole('button', { name: 'Done' }).click();

  const row = page.getByTestId('trigger-entry').filter({ hasText: 'push to Bitbucket repository' });
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Delete Trigger' }).click();
  await page.getByRole('dialog', { name: 'Delete Trigger?' }).getByRole('button', { name: 'Delete Trigger' }).click();
  await ui.toast('Build trigger deleted');
  await row.waitFor({ state: 'detached' });
  expect(bitbucket.keys.size).toBe(0);
  expect(bitbucket.hooks.size).toBe(0);
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 300_000);
