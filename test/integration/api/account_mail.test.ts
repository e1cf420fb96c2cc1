/**
 * Account e-mails with FEATURE_MAILING, through a real SMTP server (Mailpit) and a real registry process on
 * Postgres: sign-up waits for the mailed address confirmation (`awaiting_verification`), an e-mail change takes
 * effect when the link mailed to the new address is followed, and password recovery mails a single-use,
 * expiring link that signs the user in to set a new password (also sent by a superuser).
 */
import { basicAuth, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { startMailpit, type MailpitService } from '../../setup/services.js';
import { Api, initialize, signin } from './fixture.js';

let mail: MailpitService;
let reg: RegistryProcess;
let shortLived: RegistryProcess;
let admin: Api;

const PASSWORD = 'a-good-password-1';

beforeAll(async () => {
  mail = await startMailpit();
  const mailing = { FEATURE_MAILING: true, MAIL_SERVER: '127.0.0.1', MAIL_PORT: mail.smtpPort, MAIL_USE_TLS: false, MAIL_DEFAULT_SENDER: 'registry@example.com' };
  [reg, shortLived] = await Promise.all([
    startRegistry({ label: 'account-mail', config: { FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin'], GLOBAL_READONLY_SUPER_USERS: ['auditor'], ...mailing } }),
    startRegistry({ label: 'account-mail-short', config: { ...mailing, USER_RECOVERY_TOKEN_LIFETIME: '1s' } }),
  ]);
  admin = (await initialize(reg)).api;
});

afterAll(async () => {
  await Promise.all([reg?.stop(), shortLived?.stop(), mail?.stop()]);
});

/** The link of `path` in the newest mail to `to` about `subject`, once `n` such mails arrived. */
async function mailedLink(to: string, subject: string, path: '/confirm' | '/recovery', n = 1): Promise<string> {
  const [m] = await mail.waitFor((x) => x.To.some((t) => t.Address === to) && x.Subject === subject, n);
  const { Text } = await mail.body(m.ID);
  const link = new RegExp(`https?://\\S+${path}\\?code=[^\\s]+`).exec(Text)?.[0];
  if (!link) throw new Error(`no ${path} link in the mail to ${to}: ${Text}`);
  return link;
}

const mailsTo = async (to: string, subject: string) => (await mail.messages()).filter((m) => m.To.some((t) => t.Address === to) && m.Subject === subject).length;

/** Follows a mailed link against `r` without following its redirect: the status, where it goes, the session cookie. */
async function follow(r: RegistryProcess, link: string): Promise<{ status: number; location: string | null; cookie: string }> {
  const u = new URL(link);
  const res = await fetch(`${r.url}${u.pathname}${u.search}`, { redirect: 'manual' });
  await res.text();
  return { status: res.status, location: res.headers.get('location'), cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] };
}

/** A session client from a cookie the registry set (its CSRF token fetched as the web UI does). */
async function session(r: RegistryProcess, cookie: string): Promise<Api> {
  const res = await fetch(`${r.url}/csrf_token`, { headers: { cookie, 'x-requested-with': 'XMLHttpRequest' } });
  const { csrf_token } = (await res.json()) as { csrf_token: string };
  return new Api(r.url, { cookie, csrf: csrf_token });
}

const signinStatus = async (r: RegistryProcess, username: string, password: string) => {
  const res = await fetch(`${r.url}/api/v1/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, cookie: res.headers.get('set-cookie') };
};

describe('sign-up confirms the address by e-mail', () => {
  test('the account awaits its confirmation: no session, no sign-in, no registry login; the mailed link verifies it and signs it in, once', async () => {
    const res = await new Api(reg.url).post('/user/', { username: 'alice', password: PASSWORD, email: 'alice@example.com' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ awaiting_verification: true });
    expect(res.headers.get('set-cookie')).toBeNull();

    const early = await signinStatus(reg, 'alice', PASSWORD);
    expect(early.status).toBe(403);
    expect(early.body).toMatchObject({ needsEmailVerification: true, invalidCredentials: false });
    expect(early.cookie).toBeNull();
    // A wrong password still says only that: nothing about the account's state.
    expect((await signinStatus(reg, 'alice', 'not-the-password')).body).toMatchObject({ needsEmailVerification: false, invalidCredentials: true });
    const login = await fetch(`${reg.url}/v2/auth?service=${reg.hostPort}`, { headers: { authorization: basicAuth('alice', PASSWORD) } });
    expect(login.status).toBe(401);

    const link = await mailedLink('alice@example.com', 'Please confirm your e-mail address', '/confirm');
    expect(link.startsWith(`http://${reg.hostPort}/confirm?code=`)).toBe(true);
    expect((await follow(reg, `${reg.url}/confirm?code=not-a-code`)).status).toBe(400);
    const confirmed = await follow(reg, link);
    expect(confirmed).toMatchObject({ status: 302, location: '/' });
    const me = await (await session(reg, confirmed.cookie)).ok('GET', '/user/');
    expect(me).toMatchObject({ username: 'alice', email: 'alice@example.com', verified: true });
    expect((await follow(reg, link)).status).toBe(400);

    expect((await signinStatus(reg, 'alice', PASSWORD)).status).toBe(200);
    const token = await fetch(`${reg.url}/v2/auth?service=${reg.hostPort}`, { headers: { authorization: basicAuth('alice', PASSWORD) } });
    expect(token.status).toBe(200);
  });

  test('a new e-mail address takes effect when the link mailed to it is followed; the old address is told; a taken address is refused', async () => {
    const alice = await signin(reg, 'alice', PASSWORD);
    const r = await alice.ok<{ email: string }>('PUT', '/user/', { email: 'alice.new@example.com' });
    expect(r.email).toBe('alice@example.com');
    const link = await mailedLink('alice.new@example.com', 'Please confirm your e-mail address', '/confirm');
    const done = await follow(reg, link);
    expect(done).toMatchObject({ status: 302, location: '/user/alice?tab=Settings' });
    expect(await alice.ok('GET', '/user/')).toMatchObject({ email: 'alice.new@example.com' });
    await mail.waitFor((x) => x.To.some((t) => t.Address === 'alice@example.com') && x.Subject === 'Account e-mail address changed');
    const logs = await alice.ok<{ logs: { kind: string; metadata: Record<string, string> }[] }>('GET', '/user/logs');
    expect(logs.logs.find((l) => l.kind === 'user_change_email')?.metadata).toMatchObject({ email: 'alice.new@example.com', old_email: 'alice@example.com' });

    await new Api(reg.url).ok('POST', '/user/', { username: 'bob', password: PASSWORD, email: 'bob@example.com' });
    await follow(reg, await mailedLink('bob@example.com', 'Please confirm your e-mail address', '/confirm'));
    const bob = await signin(reg, 'bob', PASSWORD);
    const taken = await bob.put('/user/', { email: 'alice.new@example.com' });
    expect(taken.status).toBe(400);
    expect(taken.body.error_message).toBe('E-mail address already used');
    // An address taken between the request and the link: the link is refused with the reason, and stays unused.
    await bob.ok('PUT', '/user/', { email: 'shared@example.com' });
    const bobsLink = await mailedLink('shared@example.com', 'Please confirm your e-mail address', '/confirm');
    await alice.ok('PUT', '/user/', { email: 'shared@example.com' });
    const alicesLink = await mailedLink('shared@example.com', 'Please confirm your e-mail address', '/confirm', 2);
    expect(alicesLink).not.toBe(bobsLink);
    expect((await follow(reg, bobsLink)).status).toBe(302);
    const refused = await fetch(`${reg.url}${new URL(alicesLink).pathname}${new URL(alicesLink).search}`, { redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('E-mail address already used');
    expect(await alice.ok('GET', '/user/')).toMatchObject({ email: 'alice.new@example.com' });
    expect(await bob.ok('GET', '/user/')).toMatchObject({ email: 'shared@example.com' });
  });
});

describe('password recovery', () => {
  test('a user is mailed a single-use link that signs them in to set a new password; a second request within a minute mails nothing', async () => {
    const anon = new Api(reg.url);
    expect(await anon.ok('POST', '/recovery', { email: 'alice.new@example.com' })).toEqual({ status: 'sent' });
    const link = await mailedLink('alice.new@example.com', 'Account recovery', '/recovery');
    // The request is answered after the SMTP server accepted its mail: the count is final when the answer arrives.
    expect(await anon.ok('POST', '/recovery', { email: 'alice.new@example.com' })).toEqual({ status: 'sent' });
    expect(await mailsTo('alice.new@example.com', 'Account recovery')).toBe(1);

    const signedIn = await follow(reg, link);
    expect(signedIn).toMatchObject({ status: 302, location: '/user/alice?tab=Settings' });
    const alice = await session(reg, signedIn.cookie);
    await alice.ok('PUT', '/user/', { password: 'a-brand-new-password-2' });
    expect((await signinStatus(reg, 'alice', 'a-brand-new-password-2')).status).toBe(200);
    expect((await signinStatus(reg, 'alice', PASSWORD)).status).toBe(403);
    expect((await follow(reg, link)).status).toBe(400);
  });

  test('an unknown address is answered as a known one and mailed nothing; an organization address names its administrators', async () => {
    const anon = new Api(reg.url);
    expect(await anon.ok('POST', '/recovery', { email: 'nobody@example.com' })).toEqual({ status: 'sent' });
    expect(await mailsTo('nobody@example.com', 'Account recovery')).toBe(0);

    const bob = await signin(reg, 'bob', PASSWORD);
    await bob.ok('POST', '/organization/', { name: 'bobsorg', email: 'team@example.com' }, [201]);
    expect(await anon.ok('POST', '/recovery', { email: 'team@example.com' })).toEqual({ status: 'org', orgemail: 'team@example.com', orgname: 'bo\u2022\u2022\u2022\u2022g' });
    const [m] = await mail.waitFor((x) => x.To.some((t) => t.Address === 'team@example.com'));
    expect((await mail.body(m.ID)).Text).toContain('Its administrators are bob');

    expect((await anon.post('/recovery', { email: 'not an address' })).status).toBe(400);
  });

  test('a superuser sends a recovery link to a user, never to a superuser; others may not', async () => {
    expect(await admin.ok('POST', '/superusers/users/bob/sendrecovery')).toEqual({ email: 'shared@example.com' });
    await mailedLink('shared@example.com', 'Account recovery', '/recovery');
    expect((await admin.post('/superusers/users/admin/sendrecovery')).status).toBe(400);
    expect((await admin.post('/superusers/users/nobody/sendrecovery')).status).toBe(404);
    const bob = await signin(reg, 'bob', PASSWORD);
    expect((await bob.post('/superusers/users/alice/sendrecovery')).status).toBe(403);
    expect((await new Api(reg.url).post('/superusers/users/alice/sendrecovery')).status).toBe(401);
  });

  test('a recovery link older than USER_RECOVERY_TOKEN_LIFETIME no longer signs in', async () => {
    await new Api(shortLived.url).ok('POST', '/user/', { username: 'carol', password: PASSWORD, email: 'carol@example.com' });
    await follow(shortLived, await mailedLink('carol@example.com', 'Please confirm your e-mail address', '/confirm'));
    await new Api(shortLived.url).ok('POST', '/recovery', { email: 'carol@example.com' });
    const link = await mailedLink('carol@example.com', 'Account recovery', '/recovery');
    // The lifetime is 1 s: past it, the link is refused (and used up).
    await new Promise((r) => setTimeout(r, 1500));
    expect((await follow(shortLived, link)).status).toBe(400);
  });
});
