/**
 * FEATURE_INVITE_ONLY_USER_CREATION and FEATURE_RECAPTCHA against a real registry process, with invitations
 * mailed through a real SMTP server (Mailpit) and the reCAPTCHA siteverify service played by a local HTTP
 * server (test/helpers/siteverify.ts).
 */
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { SiteVerify } from '../../helpers/siteverify.js';
import { startMailpit, type MailpitService } from '../../setup/services.js';
import { Api, createUser, signin } from './fixture.js';
import { CAPTCHA_REFUSED } from '../../../registry/auth/captcha.js';

const SECRET = 'captcha-secret-key';
const HUMAN = 'answer-of-a-human';

let mail: MailpitService;
const verify = new SiteVerify(SECRET, HUMAN);
let on: { reg: RegistryProcess; admin: Api };
let off: { reg: RegistryProcess; admin: Api };

beforeAll(async () => {
  mail = await startMailpit();
  const verifyUrl = await verify.start();
  const mailing = { FEATURE_MAILING: true, MAIL_SERVER: '127.0.0.1', MAIL_PORT: mail.smtpPort, MAIL_USE_TLS: false, MAIL_DEFAULT_SENDER: 'registry@example.com' };
  const start = async (label: string, flags: Record<string, unknown>) => {
    const reg = await startRegistry({ label, config: { SUPER_USERS: ['admin'], ...mailing, ...flags } });
    return { reg, admin: await signin(reg, reg.admin.username, reg.admin.password) };
  };
  [on, off] = await Promise.all([
    start('signup-on', {
      FEATURE_INVITE_ONLY_USER_CREATION: true,
      FEATURE_RECAPTCHA: true,
      RECAPTCHA_SITE_KEY: 'site-key-1',
      RECAPTCHA_SECRET_KEY: SECRET,
      RECAPTCHA_VERIFY_URL: verifyUrl,
      RECAPTCHA_WHITELISTED_USERS: ['trusted'],
      SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
    }),
    start('signup-off', {}),
  ]);
});

afterAll(async () => {
  await Promise.all([on?.reg.stop(), off?.reg.stop(), mail?.stop(), verify.stop()]);
});

const signUp = (reg: RegistryProcess, body: Record<string, unknown>) => new Api(reg.url).post('/user/', { password: 'a-good-password-1', ...body });

/** Invites `email` to acme/devs and returns the code from the mail it receives. */
async function invite(admin: Api, email: string): Promise<string> {
  const r = await admin.ok<{ email: string; kind: string; invited: boolean }>('PUT', `/organization/acme/team/devs/invite/${email}`);
  expect(r).toMatchObject({ email, kind: 'invite', invited: true });
  const [m] = await mail.waitFor((x) => x.To.some((t) => t.Address === email));
  const { Text } = await mail.body(m.ID);
  const code = /invite_code=([^\s&]+)/.exec(Text)?.[1];
  if (!code) throw new Error(`no invitation link in the mail: ${Text}`);
  return decodeURIComponent(code);
}

async function devs(admin: Api): Promise<string[]> {
  const r = await admin.ok<{ members: { name: string }[] }>('GET', '/organization/acme/team/devs/members');
  return r.members.map((m) => m.name).sort();
}

describe('on', () => {
  beforeAll(async () => {
    await on.admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com', recaptcha_response: HUMAN }, [201]);
    await on.admin.ok('PUT', '/organization/acme/team/devs', { role: 'member' });
  });

  test('GET /config publishes the site key and both features, never the secret', async () => {
    const res = await fetch(`${on.reg.url}/config`);
    const text = await res.text();
    const body = JSON.parse(text) as { config: Record<string, unknown>; features: Record<string, boolean> };
    expect(body.config.RECAPTCHA_SITE_KEY).toBe('site-key-1');
    expect(body.features).toMatchObject({ RECAPTCHA: true, INVITE_ONLY_USER_CREATION: true });
    expect(text).not.toContain(SECRET);
  });

  test('sign-up needs the code mailed to the address, and a reCAPTCHA answer; the new user joins the team', async () => {
    const code = await invite(on.admin, 'newbie@example.com');
    const noCode = await signUp(on.reg, { username: 'newbie', email: 'newbie@example.com', recaptcha_response: HUMAN });
    expect({ status: noCode.status, message: noCode.body.error_message }).toEqual({ status: 400, message: 'Cannot create non-invited user' });
    const otherAddress = await signUp(on.reg, { username: 'newbie', email: 'other@example.com', invite_code: code, recaptcha_response: HUMAN });
    expect({ status: otherAddress.status, message: otherAddress.body.error_message }).toEqual({
      status: 400,
      message: 'Creation of a user account for this e-mail is disabled; please contact an administrator',
    });
    const noCaptcha = await signUp(on.reg, { username: 'newbie', email: 'newbie@example.com', invite_code: code });
    expect({ status: noCaptcha.status, body: noCaptcha.body }).toEqual({ status: 400, body: { message: CAPTCHA_REFUSED } });
    const wrongCaptcha = await signUp(on.reg, { username: 'newbie', email: 'newbie@example.com', invite_code: code, recaptcha_response: 'a-bot' });
    expect(wrongCaptcha.status).toBe(400);
    expect((await on.admin.get('/users/newbie')).status).toBe(404);
    const calls = verify.calls.length;
    const ok = await signUp(on.reg, { username: 'newbie', email: 'newbie@example.com', invite_code: code, recaptcha_response: HUMAN });
    expect({ status: ok.status, username: ok.body.username }).toEqual({ status: 200, username: 'newbie' });
    expect(verify.calls.slice(calls)).toEqual([{ secret: SECRET, response: HUMAN, remoteip: '127.0.0.1' }]);
    expect(await devs(on.admin)).toContain('newbie');
    // The code is used up.
    const again = await signUp(on.reg, { username: 'newbie2', email: 'newbie@example.com', invite_code: code, recaptcha_response: HUMAN });
    expect(again.status).toBe(400);
  });

  test('a withdrawn invitation no longer opens sign-up', async () => {
    const code = await invite(on.admin, 'late@example.com');
    // Pending e-mail invitations are listed to admins with includePending, after the members, in Quay's invite_view shape.
    const listed = await on.admin.ok<{ members: Record<string, unknown>[] }>('GET', '/organization/acme/team/devs/members?includePending=true');
    expect(listed.members.at(-1)).toEqual({ email: 'late@example.com', kind: 'invite', avatar: expect.objectContaining({ kind: 'user' }), invited: true });
    expect(listed.members.filter((m) => m.kind === 'invite').every((m) => !('name' in m))).toBe(true);
    const plain = await on.admin.ok<{ members: Record<string, unknown>[] }>('GET', '/organization/acme/team/devs/members');
    expect(plain.members.some((m) => m.kind === 'invite')).toBe(false);
    expect((await on.admin.delete('/organization/acme/team/devs/invite/late@example.com')).status).toBe(204);
    expect((await on.admin.delete('/organization/acme/team/devs/invite/late@example.com')).status).toBe(404);
    const r = await signUp(on.reg, { username: 'late', email: 'late@example.com', invite_code: code, recaptcha_response: HUMAN });
    expect(r.status).toBe(400);
    expect((await on.admin.get('/users/late')).status).toBe(404);
  });

  test('organization creation needs a reCAPTCHA answer, except for whitelisted users; an unreachable service is a 503', async () => {
    const alice = await signin(on.reg, 'alice', await createUser(on.admin, 'alice'));
    const trusted = await signin(on.reg, 'trusted', await createUser(on.admin, 'trusted'));
    const refused = await alice.post('/organization/', { name: 'alice-org', email: 'alice-org@example.com' });
    expect({ status: refused.status, body: refused.body }).toEqual({ status: 400, body: { message: CAPTCHA_REFUSED } });
    verify.down = true;
    try {
      const down = await alice.post('/organization/', { name: 'alice-org', email: 'alice-org@example.com', recaptcha_response: HUMAN });
      expect(down.status).toBe(503);
    } finally {
      verify.down = false;
    }
    expect((await on.admin.get('/organization/alice-org')).status).toBe(404);
    expect((await alice.post('/organization/', { name: 'alice-org', email: 'alice-org@example.com', recaptcha_response: HUMAN })).status).toBe(201);
    const calls = verify.calls.length;
    expect((await trusted.post('/organization/', { name: 'trusted-org', email: 'trusted-org@example.com' })).status).toBe(201);
    expect(verify.calls.length).toBe(calls);
  });
});

describe('off', () => {
  test('sign-up needs neither; a mailed invitation code given at sign-up still joins the team', async () => {
    const calls = verify.calls.length;
    expect((await signUp(off.reg, { username: 'free', email: 'free@example.com' })).status).toBe(200);
    await off.admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' }, [201]);
    await off.admin.ok('PUT', '/organization/acme/team/devs', { role: 'member' });
    const code = await invite(off.admin, 'joiner@example.com');
    expect((await signUp(off.reg, { username: 'joiner', email: 'joiner@example.com', invite_code: code })).status).toBe(200);
    expect(await devs(off.admin)).toContain('joiner');
    expect(verify.calls.length).toBe(calls);
    const config = (await (await fetch(`${off.reg.url}/config`)).json()) as { config: Record<string, unknown>; features: Record<string, boolean> };
    expect(config.config.RECAPTCHA_SITE_KEY).toBeUndefined();
    expect(config.features).toMatchObject({ RECAPTCHA: false, INVITE_ONLY_USER_CREATION: false });
  });
});
