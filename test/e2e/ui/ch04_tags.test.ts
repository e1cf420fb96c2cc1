/**
 * User guide chapter 4 in the browser: on tags pushed with podman, add a tag, move it, set and clear an
 * expiration, edit labels, delete a tag, and restore it from Tag history; each step checked in the API.
 */
import type { Browser, Page } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage } from '../quota/lib.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;

beforeAll(async () => {
  [reg, browser] = await Promise.all([startRegistry({ label: 'ui-ch04', config: { SUPER_USERS: ['admin'] } }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

interface TagView {
  name: string;
  manifest_digest: string;
  end_ts?: number;
}

async function activeTags(api: Api): Promise<Map<string, TagView>> {
  const r = await api.ok('GET', '/repository/admin/tags/tag/?onlyActiveTags=true&limit=100');
  return new Map((r.tags as TagView[]).map((t) => [t.name, t]));
}

async function rowAction(page: Page, tag: string, action: string): Promise<void> {
  await page.getByRole('button', { name: `Actions for ${tag}`, exact: true }).click();
  await page.getByRole('menuitem', { name: action }).click();
}

test('chapter 4: add, move, expire, label, delete and restore tags', async () => {
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/repository', { namespace: 'admin', repository: 'tags', visibility: 'private', description: '' });
  const sb = clientSandbox('ui-ch04');
  for (const tag of ['v1', 'v2']) {
    const ref = `${reg.hostPort}/admin/tags:${tag}`;
    await buildRandomImage(sb, ref, 32 * 1024);
    await sb.run('podman', ['push', ...INSECURE.podman, '--creds', `admin:${reg.admin.password}`, ref]);
  }
  const pushed = await activeTags(api);
  const v1 = pushed.get('v1')!.manifest_digest;
  const v2 = pushed.get('v2')!.manifest_digest;
  expect(v1).not.toBe(v2);

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/admin/tags?tab=tags');
  await page.getByRole('link', { name: 'v2', exact: true }).waitFor();

  // Add a new tag on v1's manifest.
  await rowAction(page, 'v1', 'Add new tag');
  let dialog = page.getByRole('dialog');
  await dialog.getByLabel('New tag name').fill('stable');
  await dialog.getByRole('button', { name: 'Create tag' }).click();
  await ui.toast('Tag stable now points to');
  await page.getByRole('link', { name: 'stable', exact: true }).waitFor();
  expect((await activeTags(api)).get('stable')!.manifest_digest).toBe(v1);

  // Move it to v2's manifest.
  await rowAction(page, 'v2', 'Add new tag');
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('New tag name').fill('stable');
  await dialog.getByRole('button', { name: 'Create tag' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.waitForLoadState('networkidle');
  expect((await activeTags(api)).get('stable')!.manifest_digest).toBe(v2);

  // Set an expiration two days ahead, then clear it.
  const when = new Date(Date.now() + 2 * 86400_000);
  when.setSeconds(0, 0);
  const pad = (n: number) => String(n).padStart(2, '0');
  const local = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T${pad(when.getHours())}:${pad(when.getMinutes())}`;
  await page.getByRole('button', { name: 'Never: change expiration of v1' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Expires at (local time)').fill(local);
  await ui.expectAccessible('change expiration modal');
  await dialog.getByRole('button', { name: 'Change expiration' }).click();
  await ui.toast('Set expiration of v1');
  expect((await activeTags(api)).get('v1')!.end_ts).toBe(Math.floor(when.getTime() / 1000));
  await page
    .getByRole('button', { name: /: change expiration of v1$/ })
    .filter({ hasNotText: 'Never' })
    .waitFor();
  await ui.screenshot('tags-with-expiration');
  await rowAction(page, 'v1', 'Change expiration');
  await page.getByRole('dialog').getByRole('button', { name: 'Clear expiration' }).click();
  await ui.toast('Cleared expiration of v1');
  expect((await activeTags(api)).get('v1')!.end_ts).toBeUndefined();

  // Labels.
  await rowAction(page, 'v1', 'Edit labels');
  dialog = page.getByRole('dialog');
  await dialog.getByLabel(/Add labels/).fill('env=prod');
  await dialog.getByRole('button', { name: 'Save labels' }).click();
  await dialog.waitFor({ state: 'detached' });
  const labels = await api.ok('GET', `/repository/admin/tags/manifest/${v1}/labels`);
  expect(labels.labels).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'env', value: 'prod' })]));

  // Delete stable.
  await rowAction(page, 'stable', 'Remove');
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await ui.toast('Removed stable');
  await page.getByRole('link', { name: 'stable', exact: true }).waitFor({ state: 'detached' });
  expect((await activeTags(api)).has('stable')).toBe(false);

  // History: the move and the delete are there; restore the deleted tag.
  await page.getByRole('tab', { name: 'Tag history' }).click();
  await ui.settle();
  const entries = page.getByTestId('history-entry');
  await entries.filter({ hasText: 'stable was deleted' }).waitFor();
  await entries.filter({ hasText: 'stable was moved from' }).waitFor();
  await ui.expectAccessible('tag history');
  await ui.screenshot('tag-history');
  await entries
    .filter({ hasText: 'stable was deleted' })
    .getByRole('button', { name: /^Restore stable to/ })
    .click();
  await ui.toast('Restored stable');
  expect((await activeTags(api)).get('stable')!.manifest_digest).toBe(v2);
  await entries.filter({ hasText: 'stable was restored to' }).waitFor();

  // Restore the move too: stable back on v1.
  await entries
    .filter({ hasText: 'stable was moved from' })
    .first()
    .getByRole('button', { name: /^Restore stable to/ })
    .click();
  await ui.toast('Restored stable');
  expect((await activeTags(api)).get('stable')!.manifest_digest).toBe(v1);
  expect(ui.problems).toEqual([]);
  await ui.close();
});
