/**
 * Issue #13's UI items in the browser: with FEATURE_RECAPTCHA the create-account and create-organization
 * forms render the reCAPTCHA widget with RECAPTCHA_SITE_KEY and send its answer, which the registry checks
 * at the siteverify stand-in (test/helpers/siteverify.ts); and a team's pending e-mail invitations are
 * sent from the team page (FEATURE_MAILING, real SMTP through Mailpit), listed there and withdrawn there.
 *
 * Google is played in the browser: requests for https://www.google.com/recaptcha/api.js are answered by the
 * test with a tiny stand-in that renders an "I'm not a robot" button. The page's CSP is still enforced
 * against Google's real origin, so a policy that did not admit it would fail the spec.
 */
import type { Browser } from 'playwright-core';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { SiteVerify } from '../../helpers/siteverify.js';
import { startMailpit, type MailpitService } from '../../setup/services.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { launchBrowser, UiSession } from './browser.js';

const SECRET = 'ui-captcha-secret';
const HUMAN = 'answer-of-a-human';
const SITE_KEY = 'ui-site-key';

/** Google's api.js, played: `grecaptcha.render` draws a button whose click answers HUMAN. */
const FAKE_API_JS = `
window.grecaptcha = {
  ready: function (cb) { cb(); },
  render: function (el, params) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = "I'm not a robot";
    b.setAttribute('data-sitekey', params.sitekey);
    b.addEventListener('click', function () { params.callback(${JSON.stringify(HUMAN)}); });
    el.appendChild(b);
    return 0;
  }
};`;

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;
let mail: MailpitService;
const verify = new SiteVerify(SECRET, HUMAN);

beforeAll(async () => {
  mail = await startMailpit();
  const verifyUrl = await verify.start();
  [reg, browser] = await Promise.all([
    startRegistry({
      label: 'ui-signup',
      config: {
        SUPER_USERS: ['admin'],
        FEATURE_MAILING: true,
        MAIL_SERVER: '127.0.0.1',
        MAIL_PORT: mail.smtpPort,
        MAIL_USE_TLS: false,
        MAIL_DEFAULT_SENDER: 'registry@example.com',
        FEATURE_RECAPTCHA: true,
        RECAPTCHA_SITE_KEY: SITE_KEY,
        RECAPTCHA_SECRET_KEY: SECRET,
        RECAPTCHA_VERIFY_URL: verifyUrl,
        RECAPTCHA_WHITELISTED_USERS: ['admin'],
        SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
      },
    }),
    launchBrowser(),
  ]);
  admin = await signin(reg, 'admin', reg.admin.password);
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
  await Promise.all([mail?.stop(), verify.stop()]);
});

async function playGoogle(ui: UiSession): Promise<string[]> {
  const loaded: string[] = [];
  await ui.context.route('https://www.google.com/recaptcha/api.js*', async (route) => {
    loaded.push(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/javascript', body: FAKE_API_JS });
  });
  return loaded;
}

test('the CSP admits Google reCAPTCHA only with the feature on', async () => {
  const csp = (await fetch(`${reg.url}/createaccount`)).headers.get('content-security-policy') ?? '';
  expect(csp).toContain("script-src 'self' https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/");
  expect(csp).toContain('frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/');
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
});

test('create account and create organization with the reCAPTCHA widget; the registry verifies the answer', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  const loaded = await playGoogle(ui);
  await ui.goto('/createaccount');
  const widget = page.getByTestId('recaptcha').getByRole('button', { name: "I'm not a robot" });
  await widget.waitFor();
  expect(await widget.getAttribute('data-sitekey')).toBe(SITE_KEY);
  expect(loaded).toEqual(['https://www.google.com/recaptcha/api.js?render=explicit']);
  await page.getByLabel('Username').fill('carol');
  await page.getByLabel('Email').fill('carol@example.com');
  await page.locator('#new-password').fill('carol-password-1');
  await page.getByLabel('Confirm password').fill('carol-password-1');
  const create = page.getByRole('button', { name: 'Create account' });
  // No answer yet: the form cannot be sent.
  expect(await create.isDisabled()).toBe(true);
  await ui.expectAccessible('create account with reCAPTCHA');
  await ui.screenshot('create-account-recaptcha');
  await widget.click();
  const before = verify.calls.length;
  await create.click();
  // With e-mail on, the account waits for its address to be confirmed: the page says so, the mail has the link.
  await page.getByTestId('awaiting-verification').waitFor();
  expect(verify.calls.slice(before)).toEqual([{ secret: SECRET, response: HUMAN, remoteip: '127.0.0.1' }]);
  expect((await admin.ok('GET', '/users/carol')).username).toBe('carol');
  const [confirmMail] = await mail.waitFor((m) => m.To.some((t) => t.Address === 'carol@example.com') && m.Subject === 'Please confirm your e-mail address');
  const link = /https?:\/\/\S+\/confirm\?code=\S+/.exec((await mail.body(confirmMail.ID)).Text)?.[0];
  expect(link).toBeDefined();
  const { pathname, search } = new URL(link!);
  await ui.goto(`${pathname}${search}`);
  await page.waitForURL((u) => u.pathname === '/organization');

  // carol is not whitelisted: creating an organization asks again.
  await ui.settle();
  await page.getByRole('button', { name: 'Create Organization' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Organization Name').fill('carolorg');
  expect(await dialog.getByRole('button', { name: 'Create', exact: true }).isDisabled()).toBe(true);
  await dialog.getByRole('button', { name: "I'm not a robot" }).click();
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await ui.toast('Created organization carolorg');
  expect((await admin.ok('GET', '/organization/carolorg')).name).toBe('carolorg');
  expect(verify.calls.at(-1)).toEqual({ secret: SECRET, response: HUMAN, remoteip: '127.0.0.1' });
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('an e-mail invitation sent from the team page is listed there as pending and withdrawn there', async () => {
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('PUT', '/organization/acme/team/devs', { role: 'member' });
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/organization/acme/teams/devs');
  await page.getByRole('button', { name: 'Invite by e-mail' }).click();
  await page.getByRole('dialog').getByLabel('E-mail address').fill('dora@example.com');
  await page.getByRole('dialog').getByRole('button', { name: 'Send invitation' }).click();
  await ui.toast('Invited dora@example.com to devs');
  const [sent] = await mail.waitFor((m) => m.To.some((t) => t.Address === 'dora@example.com'));
  expect(sent.Subject).toBe('Invitation to join team acme/devs');
  const invited = await admin.ok('GET', '/organization/acme/team/devs/members?includePending=true');
  expect(invited.members).toEqual([{ email: 'dora@example.com', kind: 'invite', avatar: expect.any(Object), invited: true }]);
  const row = page.getByTestId('table-entry').filter({ hasText: 'dora@example.com' });
  await row.getByText('Invited by e-mail').waitFor();
  await row.getByText('invited', { exact: true }).waitFor();
  // The view toggle: the invitation is under Invited, not under Robot accounts.
  await page.getByRole('button', { name: 'Robot accounts', exact: true }).click();
  await page.getByText('No robot accounts are members of this team').waitFor();
  await page.getByRole('button', { name: 'Invited', exact: true }).click();
  await row.waitFor();
  await ui.expectAccessible('team page with an e-mail invitation');
  await ui.screenshot('team-pending-invitation');
  await row.getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: 'Remove' }).click();
  await page.getByRole('dialog').getByText('Withdraw the invitation of dora@example.com to team devs?').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await ui.toast('Withdrew the invitation of dora@example.com');
  await page.getByText('No pending invitations').waitFor();
  const members = await admin.ok('GET', '/organization/acme/team/devs/members?includePending=true');
  expect(members.members).toEqual([]);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('"Forgot password?" on the sign-in page mails a link that signs the user in on their Settings tab', async () => {
  const created = await admin.ok<{ password: string }>('POST', '/superuser/users/', { username: 'erin', email: 'erin@example.com' });
  expect(created.password).toEqual(expect.any(String));
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await playGoogle(ui);
  await ui.goto('/signin');
  await page.getByRole('button', { name: 'Forgot password?' }).click();
  await page.getByLabel('E-mail address of the account').fill('erin@example.com');
  // reCAPTCHA is on in this registry: the recovery request carries the widget's answer too.
  const send = page.getByRole('button', { name: 'Send recovery e-mail' });
  expect(await send.isDisabled()).toBe(true);
  await page.getByTestId('recaptcha').getByRole('button', { name: "I'm not a robot" }).click();
  const before = verify.calls.length;
  await send.click();
  await page.getByTestId('recovery-note').getByText('If an account uses erin@example.com').waitFor();
  expect(verify.calls.slice(before)).toEqual([{ secret: SECRET, response: HUMAN, remoteip: '127.0.0.1' }]);
  await ui.expectAccessible('sign-in page, password recovery');
  await ui.screenshot('signin-recovery');
  const [sent] = await mail.waitFor((m) => m.To.some((t) => t.Address === 'erin@example.com') && m.Subject === 'Account recovery');
  const link = /https?:\/\/\S+\/recovery\?code=\S+/.exec((await mail.body(sent.ID)).Text)?.[0];
  expect(link).toBeDefined();
  const { pathname, search } = new URL(link!);
  await ui.goto(`${pathname}${search}`);
  await page.waitForURL((u) => u.pathname === '/user/erin' && u.searchParams.get('tab') === 'Settings');
  await page.getByRole('button', { name: 'Change password' }).first().waitFor();
  expect(ui.problems).toEqual([]);
  await ui.close();
});
