/**
 * The superuser's users and organizations table (`/organization`) in the browser, on Postgres and S3: Create
 * User, Change E-mail, Change Password, Disable/Enable User, Rename Organization, Take Ownership (of an
 * organization, and of a user, which turns the account into an organization), Configure Quota with its
 * limits, Delete User. Each action is checked through the API (or by signing in) as well as on screen.
 */
import type { Browser, Page } from 'playwright-core';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, signin } from '../../integration/api/fixture.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;

beforeAll(async () => {
  [reg, browser] = await Promise.all([
    (async () => startRegistry({ label: 'ui-superuser', config: await scaleOutConfig({ SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true, FEATURE_EDIT_QUOTA: true }) }))(),
    launchBrowser(),
  ]);
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'oldname', email: 'oldname@example.com' });
  await createUser(admin, 'bob');
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

async function kebab(page: Page, name: string, action: string): Promise<void> {
  await page
    .getByTestId('table-entry')
    .filter({ has: page.getByRole('link', { name, exact: true }) })
    .getByRole('button', { name: 'Kebab toggle' })
    .click();
  await page.getByRole('menuitem', { name: action, exact: true }).click();
}

const canSignIn = async (username: string, password: string) =>
  (
    await fetch(`${reg.url}/api/v1/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-requested-with': 'XMLHttpRequest' },
      body: JSON.stringify({ username, password }),
    })
  ).status === 200;

test('users: create, change e-mail and password, disable and enable, take ownership, delete', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization');
  await ui.expectAccessible('superuser users and organizations');

  await page.getByRole('button', { name: 'Create User' }).click();
  let dialog = page.getByRole('dialog', { name: 'Create User' });
  await dialog.getByLabel('Username').fill('carol');
  await dialog.getByLabel('Email').fill('carol@example.com');
  await dialog.getByRole('button', { name: 'Create user' }).click();
  const temporary = await ui.copyValue('Temporary password');
  expect(await canSignIn('carol', temporary)).toBe(true);
  await page.getByRole('dialog', { name: 'User carol created' }).getByRole('button', { name: 'Close' }).click();
  await page.getByRole('link', { name: 'carol', exact: true }).waitFor();

  await kebab(page, 'carol', 'Change E-mail');
  dialog = page.getByRole('dialog', { name: 'Change e-mail of carol' });
  await dialog.getByLabel('E-mail').fill('carol@example.org');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await ui.toast('Changed e-mail of carol');
  expect((await admin.ok('GET', '/superuser/users/carol')).email).toBe('carol@example.org');

  await kebab(page, 'carol', 'Change Password');
  dialog = page.getByRole('dialog', { name: 'Change password of carol' });
  await dialog.getByLabel('New password').fill('carol-new-password-1');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await ui.toast('Changed password of carol');
  expect(await canSignIn('carol', 'carol-new-password-1')).toBe(true);
  expect(await canSignIn('carol', temporary)).toBe(false);

  await kebab(page, 'carol', 'Disable User');
  await ui.toast('Disabled carol');
  await page.getByTestId('table-entry').filter({ hasText: 'carol' }).getByText('disabled').waitFor();
  expect((await admin.ok('GET', '/superuser/users/carol')).enabled).toBe(false);
  expect(await canSignIn('carol', 'carol-new-password-1')).toBe(false);
  await kebab(page, 'carol', 'Enable User');
  await ui.toast('Enabled carol');
  expect(await canSignIn('carol', 'carol-new-password-1')).toBe(true);

  // A superuser's own row offers no Take Ownership (Quay refuses it).
  await page
    .getByTestId('table-entry')
    .filter({ has: page.getByRole('link', { name: 'admin', exact: true }) })
    .getByRole('button', { name: 'Kebab toggle' })
    .click();
  await page.getByRole('menuitem', { name: 'Delete User' }).waitFor();
  expect(await page.getByRole('menuitem', { name: 'Take Ownership' }).count()).toBe(0);
  await page.keyboard.press('Escape');

  // Taking over a user turns the account into an organization the superuser administers.
  await kebab(page, 'bob', 'Take Ownership');
  dialog = page.getByRole('dialog', { name: 'Take Ownership?' });
  await dialog.getByText('The user account becomes an organization').waitFor();
  await ui.expectAccessible('take ownership confirmation');
  await dialog.getByRole('button', { name: 'Take Ownership' }).click();
  await ui.toast('Took ownership of bob');
  const bob = await admin.ok('GET', '/organization/bob');
  expect(bob.is_admin).toBe(true);
  const bobRow = page.getByTestId('table-entry').filter({ has: page.getByRole('link', { name: 'bob', exact: true }) });
  await bobRow.getByText('Organization', { exact: true }).waitFor();

  await kebab(page, 'carol', 'Delete User');
  await page.getByRole('dialog', { name: 'Delete User?' }).getByRole('button', { name: 'Delete User' }).click();
  await ui.toast('Deleted user carol');
  await page.getByRole('link', { name: 'carol', exact: true }).waitFor({ state: 'detached' });
  expect((await admin.call('GET', '/superuser/users/carol')).status).toBe(404);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('organizations: rename, take ownership, configure quota with limits', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization');

  await kebab(page, 'oldname', 'Rename Organization');
  let dialog = page.getByRole('dialog', { name: 'Rename Organization' });
  await dialog.getByLabel('New organization name').fill('newname');
  await ui.expectAccessible('rename organization');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await ui.toast('Renamed organization oldname to newname');
  await page.getByRole('link', { name: 'newname', exact: true }).waitFor();
  expect((await admin.ok('GET', '/organization/newname')).name).toBe('newname');
  expect((await admin.call('GET', '/organization/oldname')).status).toBe(404);

  // The organization was created by admin; a second one by another user shows the ownership change.
  const dave = await signin(reg, 'dave', await createUser(admin, 'dave'));
  await dave.ok('POST', '/organization/', { name: 'daves', email: 'daves@example.com' });
  const owners = async () => (await dave.ok('GET', '/organization/daves/team/owners/members')).members.map((m: { name: string }) => m.name).sort();
  expect(await owners()).toEqual(['dave']);
  // Not an owner yet: the superuser may not manage the organization's teams.
  expect((await admin.call('GET', '/organization/daves/team/owners/members')).status).toBe(403);
  await ui.goto('/organization');
  await kebab(page, 'daves', 'Take Ownership');
  await page.getByRole('dialog', { name: 'Take Ownership?' }).getByRole('button', { name: 'Take Ownership' }).click();
  await ui.toast('Took ownership of daves');
  expect(await owners()).toEqual(['admin', 'dave']);
  expect((await admin.call('GET', '/organization/daves/team/owners/members')).status).toBe(200);

  await kebab(page, 'newname', 'Configure Quota');
  dialog = page.getByRole('dialog', { name: 'Configure Quota for newname' });
  await dialog.getByText('No quota configured').waitFor();
  await dialog.getByLabel('Storage quota').fill('50');
  await dialog.getByRole('combobox', { name: 'Unit' }).selectOption('MiB');
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await ui.toast('Quota saved');
  await dialog.getByLabel('Action').selectOption('Warning');
  await dialog.getByLabel('Quota Threshold (%)').fill('70');
  await dialog.getByRole('button', { name: 'Add Limit' }).click();
  await ui.toast('Warning limit added');
  await dialog.getByTestId('quota-limit').filter({ hasText: '70%' }).waitFor();
  await ui.expectAccessible('configure quota');
  const [quota] = await admin.ok('GET', '/superuser/organization/newname/quota');
  expect(quota).toMatchObject({ limit_bytes: 50 * 1024 * 1024, limits: [{ type: 'Warning', limit_percent: 70 }] });
  await dialog.getByRole('button', { name: 'Close' }).click();
  const sizeHeader = page.getByRole('columnheader', { name: 'Size' });
  await sizeHeader.waitFor();

  // A user's quota goes through the superuser's user quota endpoint.
  await kebab(page, 'dave', 'Configure Quota');
  dialog = page.getByRole('dialog', { name: 'Configure Quota for dave' });
  await dialog.getByLabel('Storage quota').fill('2');
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await ui.toast('Quota saved');
  expect((await admin.ok('GET', '/superuser/users/dave/quota'))[0].limit_bytes).toBe(2 * 1024 ** 3);
  await ui.screenshot('superuser-configure-quota');
  expect(ui.problems).toEqual([]);
  await ui.close();
});
