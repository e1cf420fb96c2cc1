/**
 * User guide chapter 5 in the browser: the usage logs of an organization, a repository and the whole
 * registry — the table (rows match the API, server-side filter) and the chart of actions per day.
 */
import type { Browser } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../../integration/api/fixture.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage } from '../quota/lib.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;

beforeAll(async () => {
  [reg, browser] = await Promise.all([startRegistry({ label: 'ui-ch05', config: { SUPER_USERS: ['admin'] } }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

test('chapter 5: logs table and actions-per-day chart for an organization, a repository and the registry', async () => {
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/organization/', { name: 'logorg', email: 'logorg@example.com' });
  await api.ok('POST', '/repository', { namespace: 'logorg', repository: 'app', visibility: 'private', description: '' });
  const sb = clientSandbox('ui-ch05');
  const ref = `${reg.hostPort}/logorg/app:1.0`;
  await buildRandomImage(sb, ref, 16 * 1024);
  await sb.run('podman', ['push', ...INSECURE.podman, '--creds', `admin:${reg.admin.password}`, ref]);
  await api.ok('PUT', '/organization/logorg/robots/deployer', { description: '' });
  // Usage logs are written in batches: wait until the API has them all.
  const apiLogs = async () => (await api.ok('GET', '/organization/logorg/logs')).logs as { kind: string }[];
  for (let i = 0; i < 50 && !(await apiLogs()).some((l) => l.kind === 'create_robot'); i++) await new Promise((r) => setTimeout(r, 200));
  const logs = await apiLogs();
  expect(logs.map((l) => l.kind)).toEqual(expect.arrayContaining(['org_create', 'create_repo', 'push_repo', 'create_robot']));

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization/logorg?tab=Logs');
  const rows = page.getByTestId('log-entry');
  await rows.first().waitFor();
  expect(await rows.count()).toBe(logs.length);
  await rows.filter({ hasText: 'Create Repository logorg/app' }).waitFor();
  await rows.filter({ hasText: 'Push of tag 1.0 to repository logorg/app' }).waitFor();
  await rows.filter({ hasText: 'Create Robot Account logorg+deployer' }).waitFor();

  // The chart: one bar segment per kind on today's date, a legend entry per kind.
  const chart = page.getByTestId('usage-logs-chart');
  await chart.locator('svg').first().waitFor();
  const aggregated = (await api.ok('GET', '/organization/logorg/aggregatelogs')).aggregated as { kind: string }[];
  for (const kind of ['Create Repo', 'Push Repo', 'Create Robot']) await chart.getByText(kind, { exact: true }).waitFor();
  const bars = await chart.locator('path[role="presentation"]').count();
  expect(bars).toBeGreaterThanOrEqual(aggregated.length);
  await ui.expectAccessible('organization logs');
  await ui.screenshot('usage-logs');

  // The filter is applied by the server.
  const filtered = page.waitForResponse((r) => r.url().includes('/organization/logorg/logs') && r.url().includes('filter=robot'));
  await page.getByRole('textbox', { name: 'Filter logs' }).fill('robot');
  await filtered;
  await ui.settle();
  await rows.filter({ hasText: 'Create Robot Account logorg+deployer' }).waitFor();
  expect(await rows.count()).toBe(((await api.ok('GET', '/organization/logorg/logs?filter=robot')).logs as unknown[]).length);
  expect(await rows.filter({ hasText: 'Create Repository' }).count()).toBe(0);

  await page.getByRole('button', { name: 'Hide Chart' }).click();
  expect(await chart.count()).toBe(0);

  // Repository logs and the superuser's registry-wide logs.
  await ui.goto('/repository/logorg/app?tab=logs');
  await rows.filter({ hasText: 'Push of tag 1.0' }).waitFor();
  await ui.expectAccessible('repository logs');
  await ui.goto('/usage-logs');
  await rows.filter({ hasText: 'Create Robot Account logorg+deployer' }).waitFor();
  await page.getByTestId('usage-logs-chart').locator('svg').first().waitFor();
  await ui.expectAccessible('superuser usage logs');
  expect(ui.problems).toEqual([]);
  await ui.close();
});
