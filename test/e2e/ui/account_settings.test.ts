/**
 * Account settings in the browser: an application token created in CLI configuration and used with
 * `podman login` ($app), and a password change that meets Quay's fresh-login prompt once the session's
 * login is older than FRESH_LOGIN_TIMEOUT, then signs in with the new password.
 */
import type { Browser } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createUser, signin } from '../../integration/api/fixture.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;

beforeAll(async () => {
  [reg, browser] = await Promise.all([startRegistry({ label: 'ui-account', config: { SUPER_USERS: ['admin'], FRESH_LOGIN_TIMEOUT: '2s' } }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

test('application token from CLI configuration works with podman; changing the password asks for it again first', async () => {
  const admin = await signin(reg, 'admin', reg.admin.password);
  const password = await createUser(admin, 'carol');
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  const verifyPassword = async (current: string) => {
    const verify = page.getByRole('dialog', { name: 'Please verify' });
    await verify.waitFor();
    await verify.getByLabel('Current Password').fill(current);
    await ui.expectAccessible('fresh login prompt');
    await verify.getByRole('button', { name: 'Verify' }).click();
    await verify.waitFor({ state: 'detached' });
  };
  await ui.signIn('carol', password);
  await page.getByTestId('user-menu-toggle').click();
  await page.getByRole('menuitem', { name: 'Account Settings' }).click();
  await page.getByRole('tab', { name: 'CLI configuration' }).click();
  await page.getByRole('button', { name: 'Create application token' }).click();
  let dialog = page.getByRole('dialog');
  await dialog.getByLabel('Title').fill('laptop');
  // The login is older than FRESH_LOGIN_TIMEOUT (2 s): creating a token asks for the password first.
  await new Promise((r) => setTimeout(r, 2500));
  await dialog.getByRole('button', { name: 'Create' }).click();
  await verifyPassword(password);
  dialog = page.getByRole('dialog', { name: 'laptop' });
  const secret = await dialog.getByRole('textbox', { name: 'Secret', exact: true }).inputValue();
  expect(secret.length).toBeGreaterThan(20);
  const login = await dialog.getByRole('textbox', { name: 'Podman login' }).inputValue();
  expect(login).toBe(`podman login -u='carol' -p='${secret}' ${reg.hostPort}`);
  await ui.expectAccessible('application token created');
  await dialog.getByRole('button', { name: 'Done' }).click();
  await page.getByTestId('table-entry').filter({ hasText: 'laptop' }).waitFor();
  const carol = await signin(reg, 'carol', password);
  expect((await carol.ok('GET', '/user/apptoken')).tokens.map((t: { title: string }) => t.title)).toEqual(['laptop']);

  const sb = clientSandbox('ui-account');
  await sb.run('podman', ['login', ...INSECURE.podman, '-u', '$app', '-p', secret, reg.hostPort]);

  // Stale again: the password change asks too, then goes through.
  await new Promise((r) => setTimeout(r, 2500));
  await page.getByRole('tab', { name: 'General settings' }).click();
  await page.getByRole('button', { name: 'Change password' }).click();
  dialog = page.getByRole('dialog', { name: 'Change password' });
  await dialog.getByLabel(/New password/).fill('carol-new-password');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await verifyPassword(password);
  await ui.toast('Password changed');
  await signin(reg, 'carol', 'carol-new-password');
  expect(
    (await fetch(`${reg.url}/api/v1/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password }) })).status,
  ).not.toBe(200);
  expect(ui.problems).toEqual([]);
  await ui.close();
});
