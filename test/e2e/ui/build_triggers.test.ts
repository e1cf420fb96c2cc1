/**
 * Build triggers and build logs in the browser, against a registry running real builds (Postgres, S3, Redis
 * build logs, the build manager with the local executor: the real builder agent and buildah).
 * - The custom-git setup wizard (URL, tagging, Dockerfile, context, robot, review) creates and activates a
 *   trigger and shows its deploy key and webhook URL; View Credentials, Run Trigger Now with a commit (the
 *   build runs and fails at the clone: the git URL answers nothing), Disable/Enable, Delete — each checked
 *   through the API.
 * - A build from an uploaded Dockerfile followed on its page to `complete`: the phases and log lines the page
 *   shows are exactly the API's log, read incrementally with `logs?start=N`; the superuser's Build Logs page
 *   shows the same build by its uuid, with timestamps on request.
 * - A build from an uploaded .tar.gz context (Dockerfile in a subdirectory, a COPY of a file beside it) with two
 *   tags, followed to `complete` in the history; both tags appear in the Tags tab and the copied file is in the
 *   pushed layer.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Request } from 'playwright-core';
import { buildWorkerEnv, localBuildsConfig, registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { clientSandbox } from '../../setup/tools.js';
import { launchBrowser, UiSession } from './browser.js';
import { waitBuildEnded } from '../builds/build_api.js';

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;

/** The log as the build page renders it: phases as `— phase —`, other entries as their message. */
async function apiLogLines(uuid: string): Promise<string[]> {
  const l = await admin.ok<{ logs: { message: string; type?: string }[] }>('GET', `/repository/acme/app/build/${uuid}/logs`);
  return l.logs.map((e) => (e.type === 'phase' ? `— ${e.message} —` : e.message));
}

beforeAll(async () => {
  const config = await scaleOutConfig({
    SUPER_USERS: ['admin'],
    ...(await localBuildsConfig()),
  });
  const sandbox = clientSandbox('ui-build-worker');
  [reg, browser] = await Promise.all([
    startRegistry({
      label: 'ui-triggers',
      config,
      env: {
        ...buildWorkerEnv(sandbox),
      },
    }),
    launchBrowser(),
  ]);
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  await admin.ok('PUT', '/organization/acme/robots/builder', { description: 'pulls base images' });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

test('set up a custom-git trigger with the wizard, view its credentials, run it now, disable, enable and delete it', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByText('No build triggers defined').waitFor();
  await ui.expectAccessible('builds tab without triggers');

  await page.getByRole('button', { name: 'Create Build Trigger' }).click();
  await page.getByRole('menuitem', { name: 'Custom Git Repository Push' }).click();
  const wizard = page.getByRole('dialog', { name: 'Setup Build Trigger' });
  const next = wizard.getByRole('button', { name: 'Next' });
  // Nothing but a git URL goes on.
  await wizard.getByLabel('Repository URL').fill('not a url');
  await wizard.getByText('Please enter a valid git repository URL').waitFor();
  expect(await next.isDisabled()).toBe(true);
  // Port 9 (discard) refuses the connection: the run below fails at the clone, quickly.
  const gitUrl = 'ssh://git@127.0.0.1:9/acme/app.git';
  await wizard.getByLabel('Repository URL').fill(gitUrl);
  await ui.expectAccessible('trigger wizard: repository');
  await next.click();
  await wizard.getByLabel('Tag manifest with the branch or tag name').uncheck();
  expect(await next.isDisabled()).toBe(true);
  await wizard.getByLabel('Enter a tag template').fill('${commit_info.short_sha}');
  await wizard.getByRole('button', { name: 'Add template' }).click();
  await wizard.getByLabel('Only build branches and tags matching (regular expression, optional)').fill('heads/main');
  await ui.expectAccessible('trigger wizard: tagging');
  await next.click();
  await wizard.getByLabel('Dockerfile path').fill('/build/Dockerfile');
  await next.click();
  await wizard.getByLabel('Context path').fill('/build');
  await next.click();
  await wizard.getByLabel('Pull robot').selectOption('acme+builder');
  await next.click();
  await wizard.getByText(gitUrl).waitFor();
  await ui.expectAccessible('trigger wizard: review');
  await wizard.getByRole('button', { name: 'Finish', exact: true }).click();

  const done = page.getByRole('dialog', { name: 'Trigger has been successfully activated' });
  await done.waitFor();
  const [trigger] = (await admin.ok('GET', '/repository/acme/app/trigger/')).triggers;
  expect(trigger).toMatchObject({
    service: 'custom-git',
    is_active: true,
    enabled: true,
    pull_robot: { name: 'acme+builder' },
    config: {
      build_source: gitUrl,
      dockerfile_path: '/build/Dockerfile',
      context: '/build',
      branchtag_regex: 'heads/main',
      default_tag_from_ref: false,
      latest_for_default_branch: true,
      tag_templates: ['${commit_info.short_sha}'],
    },
  });
  const creds = Object.fromEntries((trigger.config.credentials as { name: string; value: string }[]).map((c) => [c.name, c.value]));
  expect(creds['SSH Public Key']).toMatch(/^ssh-(ed25519|rsa) /);
  expect(creds['Webhook Endpoint URL']).toContain(`/webhooks/push/trigger/${trigger.id}`);
  expect(await ui.copyValue('SSH Public Key')).toBe(creds['SSH Public Key']);
  expect(await ui.copyValue('Webhook Endpoint URL')).toBe(creds['Webhook Endpoint URL']);
  await ui.expectAccessible('trigger credentials after setup');
  await ui.screenshot('build-trigger-credentials');
  await done.getByRole('button', { name: 'Done' }).click();

  const row = page.getByTestId('trigger-entry').filter({ hasText: gitUrl });
  await row.getByText('/build/Dockerfile').waitFor();
  await row.getByText('acme+builder').waitFor();
  await row.getByText('${commit_info.short_sha}').waitFor();
  await ui.expectAccessible('builds tab with a trigger');
  await ui.screenshot('build-triggers');

  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'View Credentials' }).click();
  const credDialog = page.getByRole('dialog', { name: 'Trigger Credentials' });
  expect(await ui.copyValue('SSH Public Key')).toBe(creds['SSH Public Key']);
  await credDialog.getByRole('button', { name: 'Close' }).click();

  // Run Trigger Now: a commit SHA is required; the build it starts is the trigger's.
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Run Trigger Now' }).click();
  const run = page.getByRole('dialog', { name: 'Manually Start Build Trigger' });
  await run.getByLabel('Commit').fill('main');
  await run.getByText('Invalid commit pattern').waitFor();
  expect(await run.getByRole('button', { name: 'Start Build' }).isDisabled()).toBe(true);
  const sha = '1c002dd4b536e7479fe34593e72e6c6c1819e53b';
  await run.getByLabel('Commit').fill(sha);
  await ui.expectAccessible('run trigger now');
  await run.getByRole('button', { name: 'Start Build' }).click();
  await ui.toast(/Build started successfully with ID /);
  const [build] = (await admin.ok('GET', `/repository/acme/app/trigger/${trigger.id}/builds`)).builds;
  expect(build).toMatchObject({ tags: ['1c002dd'], trigger: { id: trigger.id, service: 'custom-git' } });
  const historyRow = page.getByTestId('table-entry').filter({ hasText: build.id.slice(0, 8) });
  await historyRow.waitFor();

  // The builder runs it and fails at the clone; its page shows the failure from the log.
  await historyRow.getByRole('link', { name: build.id.slice(0, 8) }).click();
  await page.getByRole('heading', { name: `Build ${build.id}` }).waitFor();
  expect((await waitBuildEnded(admin, reg, 'acme/app', build.id)).phase).toBe('error');
  await page.getByTestId('build-phase').getByText('error').waitFor();
  await page
    .getByTestId('build-log')
    .getByText(/git clone failed/)
    .waitFor({ timeout: 60_000 });
  expect(await page.getByTestId('build-log').locator('div').allInnerTexts()).toEqual(await apiLogLines(build.id));
  await ui.expectAccessible('failed trigger build page');
  await page.goBack();
  await ui.settle();

  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Disable Trigger' }).click();
  await page.getByRole('dialog', { name: 'Disable Trigger?' }).getByRole('button', { name: 'Disable Trigger' }).click();
  await ui.toast('Build trigger disabled');
  await row.getByTestId('trigger-disabled').getByText('This build trigger is user disabled and will not build.').waitFor();
  expect((await admin.ok('GET', `/repository/acme/app/trigger/${trigger.id}`)).enabled).toBe(false);
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  expect(await page.getByRole('menuitem', { name: 'Run Trigger Now' }).count()).toBe(0);
  await page.getByRole('menuitem', { name: 'Enable Trigger' }).click();
  await ui.toast('Build trigger enabled');
  await row.getByTestId('trigger-disabled').waitFor({ state: 'detached' });
  expect((await admin.ok('GET', `/repository/acme/app/trigger/${trigger.id}`)).enabled).toBe(true);

  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Delete Trigger' }).click();
  await page.getByRole('dialog', { name: 'Delete Trigger?' }).getByRole('button', { name: 'Delete Trigger' }).click();
  await ui.toast('Build trigger deleted');
  await page.getByText('No build triggers defined').waitFor();
  expect((await admin.ok('GET', '/repository/acme/app/trigger/')).triggers).toEqual([]);
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 420_000);

test('a refused activation shows the error in the wizard and leaves no inactive trigger behind', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  const before = (await admin.ok('GET', '/repository/acme/app/trigger/')).triggers;
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByRole('button', { name: 'Create Build Trigger' }).click();
  await page.getByRole('menuitem', { name: 'Custom Git Repository Push' }).click();
  const wizard = page.getByRole('dialog', { name: 'Setup Build Trigger' });
  await wizard.getByLabel('Repository URL').fill('ssh://git@127.0.0.1:9/acme/refused.git');
  await wizard.getByRole('button', { name: 'Next' }).click();
  await wizard.getByRole('button', { name: 'Next' }).click();
  await wizard.getByRole('button', { name: 'Next' }).click();
  await wizard.getByRole('button', { name: 'Next' }).click();
  // The robot is deleted after it was offered: the server refuses the activation.
  await wizard.getByLabel('Pull robot').selectOption('acme+builder');
  await admin.ok('DELETE', '/organization/acme/robots/builder');
  await wizard.getByRole('button', { name: 'Next' }).click();
  await wizard.getByRole('button', { name: 'Finish', exact: true }).click();
  await wizard.getByTestId('modal-error').waitFor();
  expect((await admin.ok('GET', '/repository/acme/app/trigger/')).triggers).toEqual(before);
  await admin.ok('PUT', '/organization/acme/robots/builder', { description: 'pulls base images' });
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('a build from an uploaded Dockerfile: its page follows the phases and shows the log, read with logs?start=N', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByRole('button', { name: 'Start New Build' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Dockerfile or archive').setInputFiles({ name: 'Dockerfile', mimeType: 'text/plain', buffer: Buffer.from('FROM scratch\nLABEL built-by=ui-spec\n') });
  await dialog.getByLabel('Tags (comma separated)').fill('logs');
  await dialog.getByRole('button', { name: 'Start New Build' }).click();
  await ui.toast(/Build \w{8} queued/);
  const build = (await admin.ok('GET', '/repository/acme/app/build/?limit=10')).builds.find((b: { tags: string[] }) => b.tags.includes('logs'));

  const starts: number[] = [];
  const onRequest = (r: Request) => {
    const u = new URL(r.url());
    if (u.pathname.endsWith(`/build/${build.id}/logs`)) starts.push(Number(u.searchParams.get('start')));
  };
  page.on('request', onRequest);
  await page
    .getByTestId('table-entry')
    .filter({ hasText: build.id.slice(0, 8) })
    .getByRole('link')
    .click();
  await page.getByRole('heading', { name: `Build ${build.id}` }).waitFor();
  const final = await waitBuildEnded(admin, reg, 'acme/app', build.id);
  expect({ phase: final.phase, log: final.phase === 'complete' ? [] : await apiLogLines(build.id) }).toEqual({ phase: 'complete', log: [] });
  await page.getByTestId('build-phase').getByText('complete').waitFor();
  const expected = await apiLogLines(build.id);
  expect(expected).toEqual(expect.arrayContaining(['— building —', '— pushing —', '— complete —']));
  const log = page.getByTestId('build-log');
  await log.getByText('— complete —').waitFor();
  expect(await log.locator('div').allInnerTexts()).toEqual(expected);
  page.off('request', onRequest);
  // Each read starts where the previous ones ended: the first at 0, none going back (no line twice).
  expect(starts[0]).toBe(0);
  expect(starts).toEqual([...starts].sort((a, b) => a - b));
  expect(starts[starts.length - 1]).toBeLessThanOrEqual(expected.length);
  await ui.expectAccessible('finished build page');
  await ui.screenshot('build-log');

  // The superuser's Build Logs page finds the same build by its uuid alone (GET /superuser/{uuid}/build, /logs).
  await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Build Logs' }).click();
  await page.getByRole('heading', { name: 'Build Logs', level: 1 }).waitFor();
  await page.getByLabel('Build UUID').fill('not-a-uuid');
  expect(await page.getByRole('button', { name: 'Get Logs' }).isDisabled()).toBe(true);
  await page.getByLabel('Build UUID').fill(build.id);
  await page.getByRole('button', { name: 'Get Logs' }).click();
  await page.getByRole('heading', { name: `Build ${build.id}` }).waitFor();
  await page.getByRole('link', { name: 'acme/app' }).waitFor();
  await page.getByTestId('build-phase').getByText('complete').waitFor();
  await log.getByText('— complete —').waitFor();
  expect(await log.locator('div').allInnerTexts()).toEqual(expected);
  expect(new URL(page.url()).searchParams.get('uuid')).toBe(build.id);
  await page.getByLabel('Show timestamps').check();
  const stamped = await log.locator('div').allInnerTexts();
  expect(stamped).toHaveLength(expected.length);
  // Every entry the builder wrote carries its time; the page puts it before the message.
  stamped.forEach((line, i) => expect(line.endsWith(expected[i]) && line.length > expected[i].length).toBe(true));
  await ui.expectAccessible('superuser build logs');
  await ui.screenshot('superuser-build-logs');
  const unknown = '00000000-0000-4000-8000-000000000000';
  await page.getByLabel('Build UUID').fill(unknown);
  await page.getByRole('button', { name: 'Get Logs' }).click();
  await page.getByTestId('error-state').waitFor();
  expect((await admin.call('GET', `/superuser/${unknown}/build`)).status).toBe(404);
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 420_000);

test('a build from an uploaded archive runs to complete and its tags appear in the Tags tab', async () => {
  const dir = workDir('ui-build-archive');
  mkdirSync(join(dir, 'ctx/app'), { recursive: true });
  writeFileSync(join(dir, 'ctx/app/Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(dir, 'ctx/app/hello.txt'), 'hello from an archive\n');
  execFileSync('tar', ['-czf', join(dir, 'ctx.tar.gz'), '-C', join(dir, 'ctx'), 'app']);

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByRole('button', { name: 'Start New Build' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Dockerfile or archive').setInputFiles({ name: 'ctx.tar.gz', mimeType: 'application/gzip', buffer: readFileSync(join(dir, 'ctx.tar.gz')) });
  await dialog.getByLabel('Tags (comma separated)').fill('archive-a, archive-b');
  await dialog.getByLabel('Dockerfile path').fill('/app/Dockerfile');
  await dialog.getByLabel('Context').fill('/app');
  await ui.expectAccessible('start new build from an archive');
  await dialog.getByRole('button', { name: 'Start New Build' }).click();
  await ui.toast(/Build \w{8} queued/);
  const build = (await admin.ok('GET', '/repository/acme/app/build/?limit=10')).builds.find((b: { tags: string[] }) => b.tags.includes('archive-a'));
  expect(build).toMatchObject({ tags: ['archive-a', 'archive-b'], dockerfile_path: '/app/Dockerfile', context: '/app', manual_user: 'admin' });
  expect((await waitBuildEnded(admin, reg, 'acme/app', build.id)).phase).toBe('complete');
  await page
    .getByTestId('table-entry')
    .filter({ hasText: build.id.slice(0, 8) })
    .getByText('complete')
    .waitFor({ timeout: 60_000 });

  await page.getByRole('tab', { name: 'Tags' }).click();
  for (const tag of ['archive-a', 'archive-b']) await page.getByRole('link', { name: tag, exact: true }).waitFor();
  const [tag] = (await admin.ok('GET', '/repository/acme/app/tag/?specificTag=archive-a')).tags;
  const manifest = await admin.ok('GET', `/repository/acme/app/manifest/${tag.manifest_digest}`);
  const layer = manifest.layers[manifest.layers.length - 1];
  // The pushed layer holds the file copied from the archive.
  const blob = await fetch(`${reg.url}/v2/acme/app/blobs/${layer.blob_digest}`, {
    headers: { authorization: `Bearer ${await registryToken(reg, ['repository:acme/app:pull'], { username: 'admin', password: reg.admin.password })}` },
  });
  expect(blob.status).toBe(200);
  writeFileSync(join(dir, 'layer.tgz'), Buffer.from(await blob.arrayBuffer()));
  expect(execFileSync('tar', ['-xOf', join(dir, 'layer.tgz'), 'hello.txt']).toString()).toBe('hello from an archive\n');
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 420_000);
