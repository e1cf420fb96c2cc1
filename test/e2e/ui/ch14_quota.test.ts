/**
 * User guide chapter 14 in the browser: a superuser sets an organization's quota and its Warning and
 * Reject limits in Settings → Quota; podman pushes past Warning, a push that would pass Reject is refused, a lower quota puts it past Reject; the
 * organization's quota bar shows each state, and the repositories list the size.
 */
import type { Browser } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../../integration/api/fixture.js';
import { createTestDatabase } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage, MiB } from '../quota/lib.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;

beforeAll(async () => {
  [reg, browser] = await Promise.all([
    (async () => startRegistry({ label: 'ui-ch14', config: { DB_URI: await createTestDatabase('uiquota'), SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true } }))(),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

test('chapter 14: quota and limits set in the UI, podman past Warning then refused past Reject, the bar shows it', async () => {
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/organization/', { name: 'testorg', email: 'testorg@example.com' });

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization/testorg?tab=Settings');
  await page.getByRole('tab', { name: 'Quota' }).click();
  await page.getByText('No quota configured').waitFor();
  await page.getByLabel('Storage quota').fill('10');
  await page.getByRole('combobox', { name: 'Unit' }).selectOption('MiB');
  await page.getByRole('button', { name: 'Apply' }).click();
  await ui.toast('Quota saved');
  const [quota] = await api.ok('GET', '/organization/testorg/quota');
  expect(quota.limit_bytes).toBe(10 * MiB);

  for (const [type, percent] of [
    ['Warning', '50'],
    ['Reject', '80'],
  ]) {
    await page.getByLabel('Action').selectOption(type);
    await page.getByLabel('Quota Threshold (%)').fill(percent);
    await page.getByRole('button', { name: 'Add Limit' }).click();
    await ui.toast(`${type} limit added`);
  }
  await page.getByTestId('quota-limit').filter({ hasText: 'Reject' }).waitFor();
  const limits = (await api.ok('GET', `/organization/testorg/quota/${quota.id}/limit`)) as { type: string; limit_percent: number }[];
  expect(limits.map((l) => [l.type, l.limit_percent]).sort()).toEqual([
    ['Reject', 80],
    ['Warning', 50],
  ]);
  await ui.expectAccessible('quota settings');

  const sb = clientSandbox('ui-ch14');
  const creds = ['--creds', `admin:${reg.admin.password}`];
  const repo = `${reg.hostPort}/testorg/ubuntu`;
  for (const tag of ['18.04', '20.04', '22.04', '24.04']) await buildRandomImage(sb, `${repo}:${tag}`, 3 * MiB);
  const bar = page.getByTestId('quota-bar');

  // About 30 %: no state.
  await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:18.04`]);
  await ui.goto('/organization/testorg?tab=Repositories');
  await bar.waitFor();
  expect(await bar.textContent()).not.toMatch(/Warning|exceeded/);
  const row = page.getByTestId('table-entry').filter({ hasText: 'ubuntu' });
  expect(await row.textContent()).toMatch(/3\.\d+ MiB/);

  // About 60 %: past Warning.
  await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:20.04`]);
  await ui.goto('/organization/testorg?tab=Repositories');
  await bar.getByText(/Warning: close to the quota/).waitFor();

  // A push whose bytes would pass Reject is refused while they arrive (uploads in progress count, as in Quay).
  const tooBig = await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:22.04`], { allowFail: true });
  expect(tooBig.code).not.toBe(0);
  expect(tooBig.stderr).toContain('Quota has been exceeded on namespace');
  // The quota lowered to 7 MiB: about 86 %, past Reject; the next push is refused at its start.
  expect((await api.call('PUT', `/organization/testorg/quota/${quota.id}`, { limit_bytes: 7 * MiB })).status).toBe(200);
  const refused = await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:24.04`], { allowFail: true });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('Quota has been exceeded on namespace');
  await ui.goto('/organization/testorg?tab=Repositories');
  await bar.getByText(/Quota has been exceeded/).waitFor();
  const report = (await api.ok('GET', '/organization/testorg')).quota_report as { quota_bytes: number; configured_quota: number };
  expect(await bar.textContent()).toContain(`${Math.round((report.quota_bytes / report.configured_quota) * 1000) / 10}%`);
  await ui.expectAccessible('organization over quota');
  await ui.screenshot('quota-exceeded');

  // The bell: the Warning and Reject notifications of the organization's quota; dismiss one.
  await page.getByTestId('notification-bell').click();
  const drawer = page.locator('.pf-v6-c-notification-drawer');
  const exceeded = drawer.locator('.pf-v6-c-notification-drawer__list-item').filter({ hasText: 'Quota has been exceeded on namespace testorg' });
  await exceeded.waitFor();
  await drawer.getByText('Quota warning: namespace testorg is close to its storage quota').first().waitFor();
  await ui.expectAccessible('notification drawer');
  await ui.screenshot('notifications');
  await exceeded
    .first()
    .getByRole('button', { name: /^Dismiss/ })
    .click();
  await exceeded.first().waitFor({ state: 'detached' });
  const open = (await api.ok('GET', '/user/notifications')).notifications as { kind: string; dismissed: boolean }[];
  expect(open.filter((n) => n.kind === 'quota_error' && !n.dismissed)).toEqual([]);
  const tags = await api.ok('GET', '/repository/testorg/ubuntu/tag/?onlyActiveTags=true');
  expect(tags.tags.map((t: { name: string }) => t.name).sort()).toEqual(['18.04', '20.04']);
  expect(ui.problems).toEqual([]);
  await ui.close();
});
