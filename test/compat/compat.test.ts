/**
 * The compatibility corpus (corpus.ts) replayed against the real registry process on Postgres, as a Quay 3.8
 * client would send it (a superuser's OAuth token, as the user guide's chapter 17 obtains one), and the
 * coverage of Quay 3.8's endpoint list (quay38_endpoints.json) by this registry's discovery document.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../helpers/registry.js';
import { initialize, signin } from '../integration/api/fixture.js';
import { fakeGithub, type FakeScm } from '../e2e/builds/scm_fakes.js';
import { workDir } from '../setup/paths.js';
import { V2Client, randomBlob } from '../helpers/v2.js';
import { startMailpit, type MailpitService } from '../setup/services.js';
import { CORPUS, type JsonType } from './corpus.js';
import { corpusCoverage, coverage, coverageTable, servedRoutes } from './coverage.js';

let reg: RegistryProcess;
let mail: MailpitService;
let github: FakeScm;
let token: string;
/**
 * Ids the corpus addresses that no Quay 3.8 endpoint creates: the registry's own host (an upstream for the
 * proxy-cache validation and the mirror, allowed by SSRF_ALLOWED_HOSTS), a custom-git build trigger (Quay's web
 * setup flow creates triggers; here `POST …/trigger/`), and a GitHub trigger made by the OAuth callback from
 * GitHub's API played on loopback over a real git repository (test/e2e/builds/scm_fakes.ts).
 */
const fixtureIds: Record<string, string> = {};

beforeAll(async () => {
  // E-mail on, as Quay's default FEATURE_MAILING: the e-mail authorization and invitation endpoints are Quay's only then.
  mail = await startMailpit();
  github = await fakeGithub(gitRepository(), () => undefined);
  reg = await startRegistry({
    label: 'compat-corpus',
    config: await scaleOutConfig({
      FEATURE_USER_INITIALIZE: true,
      SUPER_USERS: ['admin'],
      FEATURE_QUOTA_MANAGEMENT: true,
      FEATURE_SECURITY_SCANNER: true,
      FEATURE_PROXY_CACHE: true,
      FEATURE_REPO_MIRROR: true,
      FEATURE_BUILD_SUPPORT: true,
      // No build manager in this registry: a requested build stays waiting, as the cancel pair needs (a local
      // worker could take it first).
      BUILD_MANAGER: ['external', {}],
      FEATURE_TEAM_SYNCING: true,
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
      FEATURE_MAILING: true,
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: mail.smtpPort,
      MAIL_USE_TLS: false,
      MAIL_DEFAULT_SENDER: 'registry@example.com',
      FEATURE_GITHUB_BUILD: true,
      GITHUB_TRIGGER_CONFIG: { CLIENT_ID: 'trigger-client', CLIENT_SECRET: 'trigger-secret', GITHUB_ENDPOINT: `${github.url}/`, API_ENDPOINT: `${github.url}/api/v3/` },
    }),
  });
  const admin = await initialize(reg);
  token = admin.token;
  fixtureIds.registry_host = new URL(reg.url).host;
  await admin.api.ok('POST', '/organization/', { name: 'buildorg', email: 'buildorg@example.com' });
  await admin.api.ok('POST', '/repository', { namespace: 'buildorg', repository: 'app', visibility: 'private', description: 'builds' });
  fixtureIds.trigger_uuid = (await admin.api.ok<{ id: string }>('POST', '/repository/buildorg/app/trigger/', { service: 'custom-git' })).id;
  // The browser's return from GitHub's OAuth page, with admin's session: the trigger is connected to admin.
  const session = await signin(reg, 'admin', admin.password);
  const back = await fetch(`${reg.url}/oauth2/github/callback/trigger/buildorg/app?code=${github.code}`, { redirect: 'manual', headers: { cookie: session.auth.cookie! } });
  const made = /\/trigger\/([0-9a-f-]{36})$/.exec(back.headers.get('location') ?? '');
  if (back.status !== 302 || !made) throw new Error(`GitHub trigger setup: ${back.status} ${back.headers.get('location')}`);
  fixtureIds.github_trigger_uuid = made[1];
  // A pushed image for the tag pairs (admin/pushed:v1), and the repository a push creates.
  await V2Client.basic(reg).pushImage('admin/pushed', 'v1', { layers: [randomBlob(1024)] });
});

afterAll(async () => {
  await reg?.stop();
  await mail?.stop();
  await github?.close();
});

/** A bare git repository (branch main, tag v1) with a Dockerfile at the top and one in sub/: the GitHub repository octo/app. */
function gitRepository(): { bare: string; sshUrl: string; defaultBranch: string } {
  const dir = workDir('compat-git');
  const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, '-c', 'user.name=compat', '-c', 'user.email=compat@example.com', ...args]);
  const bare = join(dir, 'app.git');
  const work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  mkdirSync(join(work, 'sub'));
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY msg.txt /msg.txt\n');
  writeFileSync(join(work, 'msg.txt'), 'hello\n');
  writeFileSync(join(work, 'sub', 'web.Dockerfile'), 'FROM scratch\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'first');
  git(work, 'tag', 'v1');
  git(work, 'push', '-q', bare, 'main', 'v1');
  return { bare, sshUrl: `ssh://git@127.0.0.1${bare}`, defaultBranch: 'main' };
}

const typeOf = (v: unknown): JsonType => (v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as JsonType));

/** Keys missing or of another type than expected, as `key: expected, got type`. */
function wrongKeys(value: unknown, keys: Record<string, JsonType | readonly JsonType[]>): string[] {
  const obj = (value ?? {}) as Record<string, unknown>;
  return Object.entries(keys).flatMap(([k, t]) => {
    const allowed: readonly JsonType[] = typeof t === 'string' ? [t] : t;
    return k in obj && allowed.includes(typeOf(obj[k])) ? [] : [`${k}: ${allowed.join('|')}, got ${k in obj ? typeOf(obj[k]) : 'nothing'}`];
  });
}

test('every pair of the corpus is answered as Quay 3.8 answers it', async () => {
  const ids: Record<string, string> = { ...fixtureIds };
  const wrong: string[] = [];
  for (const pair of CORPUS) {
    const fill = (text: string, encode: (v: string) => string) => text.replace(/\{(\w+)\}/g, (m, k: string) => (k in ids ? encode(ids[k]) : m));
    const path = fill(pair.request.path, encodeURIComponent);
    const requestBody = pair.request.body === undefined ? undefined : fill(JSON.stringify(pair.request.body), (v) => v);
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (pair.request.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${reg.url}${path}`, { method: pair.request.method, headers, body: requestBody });
    const text = await res.text();
    const where = `${pair.request.method} ${path} (${pair.cite})`;
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      wrong.push(`${where}: not JSON: ${text.slice(0, 200)}`);
    }
    const want = pair.response;
    if (res.status !== want.status) wrong.push(`${where}: status ${res.status}, want ${want.status}: ${text.slice(0, 200)}`);
    if (want.type && !(res.headers.get('content-type') ?? '').startsWith(want.type)) wrong.push(`${where}: content type ${res.headers.get('content-type')}`);
    if (want.body !== undefined) {
      const same =
        typeof want.body === 'object' && want.body !== null && !Array.isArray(want.body)
          ? expect.objectContaining(want.body).asymmetricMatch(body)
          : JSON.stringify(body) === JSON.stringify(want.body);
      if (!same) wrong.push(`${where}: body ${text.slice(0, 1000)}, want ${JSON.stringify(want.body)}`);
    }
    if (want.keys) for (const w of wrongKeys(body, want.keys)) wrong.push(`${where}: ${w}`);
    for (const [k, t] of Object.entries(want.texts ?? {})) {
      const got = (body as Record<string, unknown> | undefined)?.[k];
      if (typeof got !== 'string' || !got.startsWith(t)) wrong.push(`${where}: ${k} ${JSON.stringify(got)}, want it to start with ${JSON.stringify(t)}`);
    }
    if (want.items) {
      const list = want.items.key === '' ? body : (body as Record<string, unknown>)?.[want.items.key];
      if (!Array.isArray(list) || list.length === 0) wrong.push(`${where}: no items in ${want.items.key || 'the answer'}`);
      else for (const item of list) for (const w of wrongKeys(item, want.items.keys)) wrong.push(`${where}: item ${w}`);
    }
    // Ids later pairs address: the organization's quota and its first limit, and what `save` names.
    if (path.endsWith('/testorg/quota') && Array.isArray(body) && body.length > 0) ids.quota_id = String((body[0] as { id: number }).id);
    for (const [name, at] of Object.entries(want.save ?? {})) {
      const v = at.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], body);
      if (v === undefined || v === null) wrong.push(`${where}: nothing at ${at} to save as ${name}`);
      else ids[name] = String(v);
    }
    for (const [name, value] of Object.entries(want.headers ?? {})) {
      const expected = fill(value, (v) => v);
      if (res.headers.get(name) !== expected) wrong.push(`${where}: header ${name} ${res.headers.get(name)}, want ${expected}`);
    }
  }
  expect(wrong).toEqual([]);
});

test('the e-mail authorization of the corpus went out by SMTP', async () => {
  const [sent] = await mail.waitFor((m) => m.To.some((t) => t.Address === 'ops@example.com'));
  expect(sent.Subject).toContain('buildorg/app');
});

test("coverage of Quay 3.8's endpoints: at least 85 % of the public ones, all that the guide's chapters 14 and 17 call", async () => {
  const discovery = (await (await fetch(`${reg.url}/api/v1/discovery`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const c = coverage(servedRoutes(discovery));
  process.stdout.write(`${coverageTable(c)}\n`);
  expect(c.missingGuide).toEqual([]);
  expect(c.total.publicServed / c.total.publicTotal).toBeGreaterThanOrEqual(0.85);
});

test("every pair calls a Quay 3.8 endpoint this registry serves; the corpus's share of them", async () => {
  const discovery = (await (await fetch(`${reg.url}/api/v1/discovery`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const c = corpusCoverage(CORPUS, servedRoutes(discovery));
  process.stdout.write(`corpus: ${c.covered} of ${c.served} served Quay 3.8 endpoints have a pair (${c.pairs} pairs)\n${c.missing.map((m) => `  no pair: ${m}\n`).join('')}`);
  expect(c.unknown).toEqual([]);
  // Every served endpoint has a pair.
  expect(c.missing).toEqual([]);
});
