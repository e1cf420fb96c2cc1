/**
 * Builds in the browser (issue 11's REST API): the Builds tab, "Start New Build" from an uploaded Dockerfile
 * (filedrop, the bytes PUT to the registry, then the build request), the build's page with its phase and
 * log, and Cancel while it waits; the build history's pages (25 each, read from the server with `next_page`)
 * and its Last 48 hours window. No build manager runs (BUILDMAN_IN_SERVE=false), so builds stay queued; each
 * step is checked through the API as well.
 */
import type { Browser } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, signin } from '../../integration/api/fixture.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;

const DOCKERFILE = 'FROM scratch\nLABEL built-by=ui-spec\n';

beforeAll(async () => {
  // No build manager in serve: the build stays queued, so the UI's Cancel applies.
  [reg, browser] = await Promise.all([
    startRegistry({ label: 'ui-builds', config: { SUPER_USERS: ['admin'], FEATURE_BUILD_SUPPORT: true }, env: { BUILDMAN_IN_SERVE: 'false' } }),
    launchBrowser(),
  ]);
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

test('start a build from an uploaded Dockerfile, follow it on its page, cancel it while it waits', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=builds');
  await page.getByText('No builds').waitFor();
  await ui.expectAccessible('builds tab');
  await page.getByRole('button', { name: 'Start New Build' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Dockerfile or archive').setInputFiles({ name: 'Dockerfile', mimeType: 'text/plain', buffer: Buffer.from(DOCKERFILE) });
  await dialog.getByLabel('Tags (comma separated)').fill('latest, v1');
  await ui.expectAccessible('start new build');
  await dialog.getByRole('button', { name: 'Start New Build' }).click();
  await ui.toast(/Build \w{8} queued/);

  const [build] = (await admin.ok('GET', '/repository/acme/app/build/?limit=10')).builds;
  expect(build).toMatchObject({ phase: 'waiting', tags: ['latest', 'v1'], manual_user: 'admin' });
  // The uploaded bytes are what the builder will fetch.
  const pack = await fetch(new URL(new URL(build.archive_url).pathname, reg.url));
  expect(pack.status).toBe(200);
  expect(await pack.text()).toBe(DOCKERFILE);
  const row = page.getByTestId('table-entry').filter({ hasText: build.id.slice(0, 8) });
  await row.getByText('waiting').waitFor();

  await row.getByRole('link', { name: build.id.slice(0, 8) }).click();
  await page.getByRole('heading', { name: `Build ${build.id}` }).waitFor();
  await page.getByTestId('build-log').getByText('Waiting for the build to start').waitFor();
  await ui.expectAccessible('build page');
  await page.getByRole('button', { name: 'Cancel build' }).click();
  await page.getByRole('dialog', { name: 'Cancel build?' }).getByRole('button', { name: 'Cancel build' }).click();
  await ui.toast(`Cancelled build ${build.id.slice(0, 8)}`);
  await page.getByTestId('build-phase').getByText('cancelled').waitFor();
  expect((await admin.ok('GET', `/repository/acme/app/build/${build.id}`)).phase).toBe('cancelled');
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('build history: pages of 25 read with next_page, Previous/Next, and the Last 48 hours window', async () => {
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'paged', visibility: 'private', description: '' });
  for (let i = 0; i < 27; i++) {
    const drop = await admin.ok<{ file_id: string }>('POST', '/filedrop/', { mimeType: 'text/plain' });
    expect((await fetch(`${reg.url}/userfiles/${drop.file_id}`, { method: 'PUT', body: DOCKERFILE })).status).toBe(200);
    await admin.ok('POST', '/repository/acme/paged/build/', { file_id: drop.file_id, docker_tags: [`v${i}`] });
  }
  const all: { id: string }[] = (await admin.ok('GET', '/repository/acme/paged/build/?limit=100')).builds;
  expect(all).toHaveLength(27);
  const shortIds = (bs: { id: string }[]) => bs.map((b) => b.id.slice(0, 8));

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  const listed: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/v1/repository/acme/paged/build/') listed.push(u.search);
  });
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/paged?tab=builds');
  const rows = page.getByTestId('table-entry');
  const rowIds = async () => (await rows.getByRole('link').allInnerTexts()).map((t) => t.trim());
  await rows.first().waitFor();
  expect(await rowIds()).toEqual(shortIds(all.slice(0, 25)));
  expect(await page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
  await ui.expectAccessible('build history page 1');
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByTestId('build-history-page').getByText('Page 2').waitFor();
  await rows.filter({ hasText: all[26].id.slice(0, 8) }).waitFor();
  expect(await rowIds()).toEqual(shortIds(all.slice(25)));
  expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
  // The second page came from the server with the first page's token, not from a longer list.
  expect(listed.some((q) => new URLSearchParams(q).has('next_page'))).toBe(true);
  expect(listed.every((q) => new URLSearchParams(q).get('limit') === '25')).toBe(true);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByTestId('build-history-page').getByText('Page 1').waitFor();
  await rows.filter({ hasText: all[0].id.slice(0, 8) }).waitFor();

  await page.getByLabel('Show builds').selectOption('Last 48 hours');
  await ui.settle();
  const windowed = listed.map((q) => new URLSearchParams(q)).filter((q) => q.has('since'));
  expect(windowed.length).toBeGreaterThan(0);
  const since = Number(windowed[windowed.length - 1].get('since'));
  expect(Math.abs(Date.now() / 1000 - 48 * 3600 - since)).toBeLessThan(600);
  expect(await rowIds()).toEqual(shortIds((await admin.ok('GET', `/repository/acme/paged/build/?limit=25&since=${since}`)).builds));
  expect(await page.getByTestId('build-history-page').innerText()).toBe('Page 1');
  await ui.screenshot('build-history');
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 180_000);
