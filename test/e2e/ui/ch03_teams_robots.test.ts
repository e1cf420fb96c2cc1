/**
 * User guide chapter 3 in the browser: a team with a member, a robot account, a default permission that
 * gives the robot write access to new repositories, and the robot's Docker login copied from the
 * credentials view and used with podman to push.
 */
import { Buffer } from 'node:buffer';
import type { Browser } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createUser, signin } from '../../integration/api/fixture.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage } from '../quota/lib.js';
import { launchBrowser, UiSession } from './browser.js';
import type { Locator } from 'playwright-core';

let reg: RegistryProcess;
let browser: Browser;

beforeAll(async () => {
  [reg, browser] = await Promise.all([startRegistry({ label: 'ui-ch03', config: { SUPER_USERS: ['admin'] } }), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
});

/** The wizard footer's button (the nav repeats the step names as buttons). */
const footer = (dialog: Locator, name: string) => dialog.locator('.pf-v6-c-wizard__footer').getByRole('button', { name, exact: true });

async function nextSteps(dialog: Locator, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await footer(dialog, 'Next').click();
}

test('chapter 3: team and member, robot account, default permission, robot Docker login used with podman', async () => {
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await createUser(api, 'alice');

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);

  // 3.x Teams: create a team, then add a member on the team page.
  await ui.goto('/organization/acme?tab=Teamsandmembership');
  await page.getByRole('button', { name: 'Create new team' }).click();
  let dialog = page.getByRole('dialog');
  await dialog.getByLabel('Team name').fill('devs');
  await dialog.getByLabel('Description').fill('Developers');
  // The wizard's optional steps (repositories, members) are skipped.
  await nextSteps(dialog, 3);
  await footer(dialog, 'Review and Finish').click();
  await ui.toast('Created team devs');
  await page.getByRole('link', { name: 'devs' }).click();
  await page.getByRole('heading', { name: 'Team devs', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Add new member' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('User or robot account').fill('ali');
  await dialog.getByRole('option', { name: 'user alice' }).click();
  await dialog.getByRole('button', { name: 'Add member' }).click();
  // alice is not in the organization yet: she is invited, as in Quay.
  await ui.toast('Invited alice to devs');
  await page.getByTestId('table-entry').filter({ hasText: 'alice' }).getByText('invited', { exact: true }).waitFor();
  await ui.expectAccessible('team page');
  const members = await api.ok('GET', '/organization/acme/team/devs/members?includePending=true');
  expect(members.members).toEqual([expect.objectContaining({ name: 'alice', invited: true })]);

  // Robot account.
  await ui.goto('/organization/acme?tab=Robotaccounts');
  await page.getByRole('button', { name: 'Create robot account' }).first().click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Robot name').fill('builder');
  await dialog.getByLabel('Description').fill('CI pushes');
  await nextSteps(dialog, 4);
  await footer(dialog, 'Review and Finish').click();
  await ui.toast('Created robot account acme+builder');
  await page.getByRole('button', { name: 'acme+builder', exact: true }).waitFor();
  await ui.expectAccessible('robot accounts');
  await ui.screenshot('robot-accounts');

  // Default permission: anyone's new repositories give the robot write.
  await ui.goto('/organization/acme?tab=Defaultpermissions');
  await page.getByRole('button', { name: 'Create default permission' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Applied to').fill('buil');
  await dialog.getByRole('option', { name: 'robot acme+builder' }).click();
  await dialog.getByLabel('Permission', { exact: true }).selectOption('write');
  await dialog.getByRole('button', { name: 'Create default permission' }).click();
  await ui.toast('Created default permission');
  await page.getByTestId('table-entry').filter({ hasText: 'acme+builder' }).waitFor();
  await ui.expectAccessible('default permissions');
  const prototypes = await api.ok('GET', '/organization/acme/prototypes');
  expect(prototypes.prototypes).toEqual([expect.objectContaining({ activating_user: null, role: 'write', delegate: expect.objectContaining({ name: 'acme+builder' }) })]);

  // A new repository gets the default permission.
  await api.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  const perms = await api.ok('GET', '/repository/acme/app/permissions/user/');
  expect(perms.permissions['acme+builder']).toMatchObject({ role: 'write', is_robot: true });

  // Credentials: copy the Docker login and use it.
  await ui.goto('/organization/acme?tab=Robotaccounts');
  await page.getByRole('button', { name: 'acme+builder', exact: true }).click();
  dialog = page.getByRole('dialog');
  const token = await dialog.getByRole('textbox', { name: 'Robot token' }).inputValue();
  expect(token.length).toBeGreaterThan(20);
  await dialog.getByRole('tab', { name: 'Kubernetes' }).click();
  const secret = await dialog.getByRole('textbox', { name: 'Kubernetes secret' }).inputValue();
  expect(secret).toContain('kind: Secret');
  expect(secret).toContain('name: acme-builder-pull-secret');
  const config = JSON.parse(Buffer.from(/\.dockerconfigjson: (\S+)/.exec(secret)![1], 'base64').toString('utf8'));
  expect(Buffer.from(config.auths[`${reg.hostPort}/acme`].auth, 'base64').toString('utf8')).toBe(`acme+builder:${token}`);
  await dialog.getByRole('tab', { name: 'Docker Login' }).click();
  const login = await dialog.getByRole('textbox', { name: 'Docker login command' }).inputValue();
  await ui.expectAccessible('robot credentials');
  await ui.screenshot('robot-credentials');
  const m = /^docker login -u='([^']+)' -p='([^']+)' (\S+)$/.exec(login);
  expect(m).not.toBeNull();
  const [, user, password, host] = m!;
  expect(user).toBe('acme+builder');
  expect(password).toBe(token);
  // The commands name the registry by its SERVER_HOSTNAME (GET /config).
  expect(host).toBe(reg.hostPort);

  const sb = clientSandbox('ui-ch03');
  await sb.run('podman', ['login', ...INSECURE.podman, '-u', user, '-p', password, host]);
  const ref = `${host}/acme/app:robot`;
  await buildRandomImage(sb, ref, 32 * 1024);
  await sb.run('podman', ['push', ...INSECURE.podman, ref]);
  const tags = await api.ok('GET', '/repository/acme/app/tag/?onlyActiveTags=true');
  expect(tags.tags.map((t: { name: string }) => t.name)).toEqual(['robot']);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('the creation wizards: a team with a repository role and a member, a robot in a team with a repository role and a default permission', async () => {
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/organization/', { name: 'wiz', email: 'wiz@example.com' });
  await api.ok('POST', '/repository', { namespace: 'wiz', repository: 'app', visibility: 'private', description: '' });
  await api.ok('PUT', '/organization/wiz/robots/builder', { description: '' });
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);

  // Create new team: Name & Description → Add to repository → Add team member → Review and Finish.
  await ui.goto('/organization/wiz?tab=Teamsandmembership');
  await page.getByRole('button', { name: 'Create new team' }).click();
  let dialog = page.getByRole('dialog');
  await dialog.getByRole('heading', { name: 'Create new team' }).waitFor();
  await dialog.getByLabel('Team name').fill('Not valid');
  expect(await footer(dialog, 'Next').isDisabled()).toBe(true);
  await dialog.getByLabel('Team name').fill('qa');
  await dialog.getByLabel('Description').fill('Quality');
  await ui.expectAccessible('team wizard: name');
  await footer(dialog, 'Next').click();
  await dialog.getByLabel('Permission on app').selectOption('write');
  await footer(dialog, 'Next').click();
  await dialog.getByLabel('User or robot account').fill('buil');
  await dialog.getByRole('option', { name: 'robot wiz+builder' }).click();
  await dialog.getByRole('button', { name: 'Do not add wiz+builder' }).waitFor();
  await footer(dialog, 'Next').click();
  const review = dialog.getByTestId('wizard-review');
  await review.getByText('app (write)').waitFor();
  await review.getByText('wiz+builder').waitFor();
  await ui.expectAccessible('team wizard: review');
  await ui.screenshot('create-team-wizard');
  await footer(dialog, 'Review and Finish').click();
  await ui.toast('Created team qa');
  await page.getByRole('link', { name: 'qa', exact: true }).waitFor();
  expect((await api.ok('GET', '/organization/wiz')).teams.qa).toMatchObject({ description: 'Quality', role: 'member' });
  expect((await api.ok('GET', '/repository/wiz/app/permissions/team/')).permissions.qa).toMatchObject({ role: 'write' });
  expect((await api.ok('GET', '/organization/wiz/team/qa/members')).members).toEqual([expect.objectContaining({ name: 'wiz+builder', is_robot: true })]);

  // Create robot account: name → Add to team → Add to repository → Default permissions → Review and Finish.
  await ui.goto('/organization/wiz?tab=Robotaccounts');
  await page.getByRole('button', { name: 'Create robot account' }).click();
  dialog = page.getByRole('dialog');
  await dialog.getByLabel('Robot name').fill('deployer');
  await dialog.getByLabel('Description').fill('Deploys');
  await footer(dialog, 'Next').click();
  await dialog.getByLabel('qa', { exact: true }).check();
  await ui.expectAccessible('robot wizard: teams');
  await footer(dialog, 'Next').click();
  await dialog.getByLabel('Permission on app').selectOption('read');
  await footer(dialog, 'Next').click();
  await dialog.getByLabel('Permission on new repositories').selectOption('admin');
  await footer(dialog, 'Next').click();
  await dialog.getByTestId('wizard-review').getByText('wiz+deployer').waitFor();
  await ui.expectAccessible('robot wizard: review');
  await ui.screenshot('create-robot-wizard');
  await footer(dialog, 'Review and Finish').click();
  await ui.toast('Created robot account wiz+deployer');
  await page.getByRole('button', { name: 'wiz+deployer', exact: true }).waitFor();
  const robot = (await api.ok('GET', '/organization/wiz/robots?permissions=true')).robots.find((r: { name: string }) => r.name === 'wiz+deployer');
  expect(robot).toMatchObject({ description: 'Deploys', teams: [expect.objectContaining({ name: 'qa' })], repositories: ['app'] });
  expect((await api.ok('GET', '/repository/wiz/app/permissions/user/')).permissions['wiz+deployer']).toMatchObject({ role: 'read', is_robot: true });
  expect((await api.ok('GET', '/organization/wiz/prototypes')).prototypes).toEqual([
    expect.objectContaining({ activating_user: null, role: 'admin', delegate: expect.objectContaining({ name: 'wiz+deployer', is_robot: true }) }),
  ]);
  expect(ui.problems).toEqual([]);
  await ui.close();
});
