/**
 * Usage-log export against a real registry process on Postgres, once with LocalStorage (the signed, expiring
 * registry link) and once with S3 on MinIO (a pre-signed URL): 10 000 log rows streamed into Quay's JSON
 * document, the callback POSTed to a real receiver, the link mailed through Mailpit, the link refused after it
 * expires; the organization, repository and user scopes; validation texts, permissions, audit kinds, and a
 * callback URL the SSRF guard refuses at send time.
 */
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createUser, signin, type Api } from '../api/fixture.js';
import { startMailpit, type MailpitService } from '../../setup/services.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { workDir } from '../../setup/paths.js';

const DAY_MS = 86_400_000;
const ROWS = 10_000;
const LINK_SECONDS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mmddyyyy(d: Date): string {
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
}
const today = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
const yesterday = new Date(today.getTime() - DAY_MS);

interface Callback {
  export_id: string;
  start_time: string;
  end_time: string;
  namespace: string;
  repository: string | null;
  exported_data_url: string | null;
  status: string;
}

interface ExportDoc {
  export_id: string;
  details: { start_time: string; end_time: string; namespace: string; repository: string | null };
  logs: Array<Record<string, any>>;
}

let mail: MailpitService;
let receiver: Receiver;

beforeAll(async () => {
  mail = await startMailpit();
  receiver = await startReceiver({ host: '127.0.0.5' });
});

afterAll(async () => {
  await receiver?.close();
  await mail?.stop();
});

describe.each([['LocalStorage'], ['S3']])('usage-log export on %s', (storage) => {
  let reg: RegistryProcess;
  let db: pg.Client;
  let admin: Api;
  let dev: Api;
  let localStorage = '';
  const label = storage.toLowerCase();

  beforeAll(async () => {
    const base = await scaleOutConfig({
      FEATURE_MAILING: true,
      MAIL_SERVER: '127.0.0.1',
      MAIL_PORT: mail.smtpPort,
      MAIL_USE_TLS: false,
      MAIL_DEFAULT_SENDER: 'registry@example.com',
      SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'],
      EXPORT_ACTION_LOGS_SECONDS: LINK_SECONDS,
      FEATURE_REQUIRE_TEAM_INVITE: false,
      PREFERRED_URL_SCHEME: 'http',
    });
    localStorage = join(workDir(`export-${label}`), 'blobs');
    const config =
      storage === 'LocalStorage'
        ? { ...base, DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: localStorage }] }, DISTRIBUTED_STORAGE_PREFERENCE: ['local'] }
        : base;
    reg = await startRegistry({ label: `export-${label}`, config });
    db = new pg.Client({ connectionString: String(config.DB_URI) });
    await db.connect();
    admin = await signin(reg, reg.admin.username, reg.admin.password);
    await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
    await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
    await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'other', visibility: 'private', description: '' });
    const devPassword = await createUser(admin, 'dev');
    await admin.ok('PUT', '/repository/acme/app/permissions/user/dev', { role: 'write' });
    dev = await signin(reg, 'dev', devPassword);

    // 10 000 pulls of acme/app over yesterday and today, 50 of acme/other, and rows the exports must leave out:
    // the same namespace 40 days ago and another namespace.
    const ids = (await db.query<{ name: string; id: number }>("SELECT name, id FROM namespace WHERE name IN ('acme', 'admin', 'dev')")).rows;
    const id = (n: string) => ids.find((r) => r.name === n)!.id;
    const repos = (await db.query<{ name: string; id: number }>('SELECT name, id FROM repository WHERE namespace_id = $1', [id('acme')])).rows;
    const repoId = (n: string) => repos.find((r) => r.name === n)!.id;
    const span = Date.now() - yesterday.getTime() - 60_000;
    const insert = (n: number, repo: number, account: number, at: (i: number) => Date, tag: string) =>
      db.query(
        `INSERT INTO log_entry (kind, account_id, performer_id, repository_id, datetime, ip, metadata)
         SELECT 'pull_repo', $1, $2, $3, t, '10.1.' || (i % 250) || '.' || (i % 7), jsonb_build_object('repo', $4::text, 'namespace', 'acme', 'i', i, 'set', $5::text)
           FROM unnest($6::int[], $7::timestamptz[]) AS u(i, t)`,
        [account, id('admin'), repo, repos.find((r) => r.id === repo)!.name, tag, [...Array(n).keys()], [...Array(n).keys()].map((i) => at(i).toISOString())],
      );
    await insert(ROWS, repoId('app'), id('acme'), (i) => new Date(yesterday.getTime() + Math.floor((span * i) / ROWS)), 'bulk');
    await insert(50, repoId('other'), id('acme'), (i) => new Date(yesterday.getTime() + i * 1000), 'other');
    await insert(20, repoId('app'), id('acme'), (i) => new Date(today.getTime() - 40 * DAY_MS + i * 1000), 'old');
    await insert(20, repoId('app'), id('dev'), (i) => new Date(yesterday.getTime() + i * 1000), 'elsewhere');
  });

  afterAll(async () => {
    await db?.end();
    await reg?.stop();
  });

  const range = `starttime=${encodeURIComponent(mmddyyyy(yesterday))}&endtime=${encodeURIComponent(mmddyyyy(today))}`;
  const callbackFor = async (path: string): Promise<Callback> => {
    const end = Date.now() + 120_000;
    for (;;) {
      const hit = receiver.received.find((r) => r.path === path);
      if (hit) return JSON.parse(hit.body) as Callback;
      if (Date.now() > end) throw new Error(`no callback on ${path}:\n${reg.output().slice(-3000)}`);
      await sleep(100);
    }
  };
  const download = async (url: string): Promise<ExportDoc> => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return JSON.parse(await res.text()) as ExportDoc;
  };

  test("an organization export: 10 000 rows in Quay's document, callback and mail with the link, the link expires", async () => {
    const path = `/cb-${label}-org`;
    const email = `auditor-${label}@example.com`;
    const r = await admin.post(`/organization/acme/exportlogs?${range}`, { callback_url: `${receiver.url}${path}`, callback_email: email });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['export_id']);
    expect(r.body.export_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const cb = await callbackFor(path);
    expect(cb).toEqual({
      export_id: r.body.export_id,
      start_time: mmddyyyy(yesterday),
      end_time: mmddyyyy(today),
      namespace: 'acme',
      repository: null,
      exported_data_url: expect.any(String),
      status: 'success',
    });
    const url = cb.exported_data_url!;
    if (storage === 'S3') expect(url).toMatch(/X-Amz-Signature=/);
    else expect(url.startsWith(`${reg.url}/exportedlogs/${r.body.export_id}-`)).toBe(true);
    const doc = await download(url);

    expect(doc.export_id).toBe(r.body.export_id);
    expect(doc.details).toEqual({
      start_time: expect.stringMatching(/ 00:00:00 -0000$/),
      end_time: expect.stringMatching(/ 23:59:59 -0000$/),
      namespace: 'acme',
      repository: null,
    });
    expect(doc.logs[doc.logs.length - 1]).toEqual({ terminator: true });
    const logs = doc.logs.slice(0, -1);
    const bulk = logs.filter((l) => l.metadata?.set === 'bulk');
    expect(bulk).toHaveLength(ROWS);
    expect(new Set(bulk.map((l) => l.metadata.i)).size).toBe(ROWS);
    expect(logs.filter((l) => l.metadata?.set === 'other')).toHaveLength(50);
    expect(logs.filter((l) => l.metadata?.set === 'old' || l.metadata?.set === 'elsewhere')).toEqual([]);
    // Everything the database holds for the namespace and range, nothing more.
    const inRange = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM log_entry l JOIN namespace n ON n.id = l.account_id WHERE n.name = 'acme' AND l.datetime >= $1 AND l.datetime < $2",
      [yesterday, new Date(today.getTime() + DAY_MS)],
    );
    expect(logs.length).toBe(inRange.rows[0].n);
    expect(bulk[0]).toEqual({
      kind: 'pull_repo',
      metadata: { repo: 'app', namespace: 'acme', i: expect.any(Number), set: 'bulk' },
      ip: expect.stringMatching(/^10\.1\.\d+\.\d$/),
      datetime: expect.stringMatching(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/),
      performer: { kind: 'user', name: 'admin', is_robot: false, avatar: expect.objectContaining({ name: 'admin', kind: 'user' }) },
    });

    const [m] = await mail.waitFor((x) => x.To.some((t) => t.Address === email));
    const body = await mail.body(m.ID);
    expect(body.Subject).toBe('Export Action Logs Complete');
    expect(body.HTML).toContain(url.replace(/&/g, '&amp;'));

    // The audit log shows the queued export.
    const audit = await admin.ok('GET', '/organization/acme/logs?filter=export_logs');
    expect(audit.logs.find((l: any) => l.kind === 'export_logs_success' && l.metadata.export_id === r.body.export_id)).toMatchObject({
      metadata: { message: 'queued for export', url: `${receiver.url}${path}`, email },
    });

    if (storage === 'LocalStorage') {
      const tampered = url.replace(/signature=[^&]+/, 'signature=AAAA');
      expect((await fetch(tampered)).status).toBe(404);
      const otherFile = url.replace(/\/exportedlogs\/[^?]+/, `/exportedlogs/${r.body.export_id}-00000000-0000-4000-8000-000000000000`);
      expect((await fetch(otherFile)).status).toBe(404);
    }
    const expires = storage === 'S3' ? Number(new URL(url).searchParams.get('X-Amz-Expires')) : Number(new URL(url).searchParams.get('expires')) - Math.floor(Date.now() / 1000);
    expect(expires).toBeLessThanOrEqual(LINK_SECONDS);
    await sleep((LINK_SECONDS + 2) * 1000);
    expect([403, 404]).toContain((await fetch(url)).status);
  });

  test("a repository export holds only that repository; a user export only the user's namespace", async () => {
    const path = `/cb-${label}-repo`;
    const r = await admin.ok('POST', `/repository/acme/app/exportlogs?${range}`, { callback_url: `${receiver.url}${path}` });
    const cb = await callbackFor(path);
    expect(cb).toMatchObject({ export_id: r.export_id, namespace: 'acme', repository: 'app', status: 'success' });
    const doc = await download(cb.exported_data_url!);
    expect(doc.details.repository).toBe('app');
    const logs = doc.logs.slice(0, -1);
    expect(logs.filter((l) => l.metadata?.set === 'bulk')).toHaveLength(ROWS);
    expect(logs.filter((l) => l.metadata?.set === 'other')).toEqual([]);
    expect(logs.every((l) => l.metadata?.repo === 'app')).toBe(true);

    const userPath = `/cb-${label}-user`;
    const u = await dev.ok('POST', `/user/exportlogs?${range}`, { callback_url: `${receiver.url}${userPath}` });
    const ucb = await callbackFor(userPath);
    expect(ucb).toMatchObject({ export_id: u.export_id, namespace: 'dev', repository: null, status: 'success' });
    const udoc = await download(ucb.exported_data_url!);
    expect(udoc.logs.slice(0, -1).filter((l) => l.metadata?.set === 'elsewhere')).toHaveLength(20);
    expect(udoc.logs.slice(0, -1).filter((l) => l.metadata?.set === 'bulk')).toEqual([]);
  });

  test('a callback URL the SSRF guard refuses at send time is skipped; the mail still goes out', async () => {
    // `vm` resolves to 127.0.0.1, which is not in SSRF_ALLOWED_HOSTS: accepted at the API (no DNS there, as in
    // Quay), refused when the worker connects.
    const email = `ssrf-${label}@example.com`;
    const r = await admin.ok('POST', `/repository/acme/app/exportlogs?${range}`, { callback_url: `http://vm:${reg.port}/api/v1/discovery`, callback_email: email });
    await mail.waitFor((x) => x.To.some((t) => t.Address === email));
    const out = reg.output();
    expect(out).toContain('export callback URL refused; skipped');
    expect(out).toContain(r.export_id);
  });

  // LocalStorage only: the failure is made by replacing the export folder with a file.
  if (storage === 'LocalStorage')
    test('a storage failure reports `failed` to the callback and keeps the export queued for a retry', async () => {
      // The export folder replaced by a file: the document cannot be written.
      const folder = join(localStorage, 'exportedactionlogs');
      renameSync(folder, `${folder}.moved`);
      writeFileSync(folder, 'not a folder');
      try {
        const path = `/cb-${label}-failed`;
        const r = await admin.ok('POST', `/repository/acme/app/exportlogs?${range}`, { callback_url: `${receiver.url}${path}` });
        expect(await callbackFor(path)).toMatchObject({ export_id: r.export_id, status: 'failed', exported_data_url: null });
        const queued = await db.query<{ attempts: number; retries_remaining: number; last_error: string | null }>(
          "SELECT attempts, retries_remaining, last_error FROM queue_item WHERE queue_name = 'exportactionlogs' AND body->>'export_id' = $1",
          [r.export_id],
        );
        for (let i = 0; i < 50 && !queued.rows[0]?.last_error; i++) {
          await sleep(100);
          queued.rows = (
            await db.query("SELECT attempts, retries_remaining, last_error FROM queue_item WHERE queue_name = 'exportactionlogs' AND body->>'export_id' = $1", [r.export_id])
          ).rows;
        }
        expect(queued.rows[0]).toMatchObject({ attempts: 1, retries_remaining: 2, last_error: expect.any(String) });
      } finally {
        rmSync(folder, { force: true });
        renameSync(`${folder}.moved`, folder);
      }
    });

  const exportItem = (callbackUrl: string) =>
    db.query<{ id: number; attempts: number; lease_age_ms: number | null }>(
      `SELECT id, attempts, (extract(epoch FROM now() - (processing_expires - interval '120 seconds')) * 1000)::float8 AS lease_age_ms
         FROM queue_item WHERE queue_name = 'exportactionlogs' AND body->>'callback_url' = $1`,
      [callbackUrl],
    );

  test('a callback answering 500 retries the export; the retry succeeds with a working link', async () => {
    const flaky = await startReceiver({ host: '127.0.0.5' });
    try {
      flaky.mode = { kind: 'status', status: 500 };
      const callbackUrl = `${flaky.url}/cb-${label}-retry`;
      const r = await admin.ok('POST', `/repository/acme/app/exportlogs?${range}`, { callback_url: callbackUrl });
      const [first] = await flaky.waitFor(1, 120_000);
      expect(JSON.parse(first.body)).toMatchObject({ export_id: r.export_id, status: 'success' });
      // The failed callback puts the export back for a retry a minute later, with its attempt spent.
      let item = (await exportItem(callbackUrl)).rows[0];
      for (const end = Date.now() + 30_000; !item || item.lease_age_ms !== null; item = (await exportItem(callbackUrl)).rows[0]) {
        if (Date.now() > end) throw new Error(`the export was not put back for a retry:\n${reg.output().slice(-3000)}`);
        await sleep(100);
      }
      expect(item.attempts).toBe(1);
      const scheduled = await db.query<{ wait_s: number }>('SELECT extract(epoch FROM available_after - now())::float8 AS wait_s FROM queue_item WHERE id = $1', [item.id]);
      expect(scheduled.rows[0].wait_s).toBeGreaterThan(30);

      // The receiver recovers; the minute is skipped by making the item due now and waking the worker.
      flaky.mode = { kind: 'ok' };
      await db.query('UPDATE queue_item SET available_after = now() WHERE id = $1', [item.id]);
      await db.query("SELECT pg_notify('queue_item_put', 'exportactionlogs')");
      const received = await flaky.waitFor(2, 120_000);
      const second = JSON.parse(received[1].body) as Callback;
      expect(second).toMatchObject({ export_id: r.export_id, status: 'success', repository: 'app', exported_data_url: expect.any(String) });
      const doc = await download(second.exported_data_url!);
      expect(doc.export_id).toBe(r.export_id);
      expect(doc.logs[doc.logs.length - 1]).toEqual({ terminator: true });
      expect(doc.logs.filter((l) => l.metadata?.set === 'bulk')).toHaveLength(ROWS);
      for (const end = Date.now() + 30_000; (await exportItem(callbackUrl)).rows.length > 0;) {
        if (Date.now() > end) throw new Error('the retried export stayed queued');
        await sleep(100);
      }
      expect(flaky.received).toHaveLength(2);
    } finally {
      await flaky.close();
    }
  });

  test("bad requests get Quay's 400 texts, audited as export_logs_failure; non-admins get 403", async () => {
    const bad = async (path: string, body: Record<string, unknown>, text: string | RegExp) => {
      const r = await admin.post(path, body);
      expect(r.status).toBe(400);
      if (typeof text === 'string') expect(r.body.error_message).toBe(text);
      else expect(r.body.error_message).toMatch(text);
    };
    const org = '/organization/acme/exportlogs';
    await bad(`${org}?starttime=${encodeURIComponent(mmddyyyy(today))}&endtime=${encodeURIComponent(mmddyyyy(yesterday))}`, {}, 'Invalid time span selected');
    await bad(
      `${org}?starttime=${encodeURIComponent(mmddyyyy(new Date(today.getTime() - 31 * DAY_MS)))}&endtime=${encodeURIComponent(mmddyyyy(today))}`,
      {},
      'Cannot export logs over a period longer than 30 days',
    );
    await bad(`${org}?starttime=13/45/2026`, {}, 'Invalid starttime "13/45/2026": use MM/DD/YYYY (UTC)');
    await bad(org, { callback_email: 'no-at-sign' }, 'Invalid callback e-mail');
    await bad(org, { callback_url: 'http://169.254.169.254/latest/meta-data/' }, 'Invalid callback URL: Address 169.254.169.254 is not allowed');
    await bad(org, { callback_url: 'http://127.0.0.1:1/' }, 'Invalid callback URL: Address 127.0.0.1 is not allowed');
    await bad(org, { callback_url: 'file:///etc/passwd' }, 'Invalid callback URL');
    // A 30-day span is allowed.
    const ok = await admin.post(`${org}?starttime=${encodeURIComponent(mmddyyyy(new Date(today.getTime() - 30 * DAY_MS)))}&endtime=${encodeURIComponent(mmddyyyy(today))}`, {});
    expect(ok.status).toBe(200);

    expect((await dev.post(org, {})).status).toBe(403);
    expect((await dev.post('/repository/acme/app/exportlogs', {})).status).toBe(403);
    expect((await admin.post('/repository/acme/missing/exportlogs', {})).status).toBe(404);

    const audit = await admin.ok('GET', '/organization/acme/logs?filter=export_logs_failure');
    const errors = audit.logs.filter((l: any) => l.kind === 'export_logs_failure').map((l: any) => l.metadata.error);
    expect(errors).toEqual(expect.arrayContaining(['Invalid time span selected', 'Invalid callback e-mail', 'Invalid callback URL: Address 169.254.169.254 is not allowed']));
  });
});

describe('an export running past EXPORT_ACTION_LOGS_MAXIMUM_SECONDS', () => {
  let reg: RegistryProcess;
  let db: pg.Client;
  let dbUri = '';
  let admin: Api;
  let localStorage = '';

  beforeAll(async () => {
    const base = await scaleOutConfig({ SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'], EXPORT_ACTION_LOGS_MAXIMUM_SECONDS: 1, PREFERRED_URL_SCHEME: 'http' });
    localStorage = join(workDir('export-timedout'), 'blobs');
    dbUri = String(base.DB_URI);
    reg = await startRegistry({
      label: 'export-timedout',
      config: { ...base, DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: localStorage }] }, DISTRIBUTED_STORAGE_PREFERENCE: ['local'] },
    });
    db = new pg.Client({ connectionString: dbUri });
    await db.connect();
    admin = await signin(reg, reg.admin.username, reg.admin.password);
    const ns = (await db.query<{ id: number }>("SELECT id FROM namespace WHERE name = 'admin'")).rows[0].id;
    await db.query(
      `INSERT INTO log_entry (kind, account_id, performer_id, datetime, ip, metadata)
       SELECT 'login_success', $1, $1, now() - make_interval(secs => i), '10.2.0.1', jsonb_build_object('i', i) FROM generate_series(1, 1500) AS i`,
      [ns],
    );
  });

  afterAll(async () => {
    await db?.end();
    await reg?.stop();
  });

  test('reports `timedout` once, without a link, leaves no partial document, and is not retried', async () => {
    const callbackUrl = `${receiver.url}/cb-timedout`;
    const item = () =>
      db.query<{ lease_age_ms: number | null }>(
        `SELECT (extract(epoch FROM now() - (processing_expires - interval '120 seconds')) * 1000)::float8 AS lease_age_ms
           FROM queue_item WHERE queue_name = 'exportactionlogs' AND body->>'callback_url' = $1`,
        [callbackUrl],
      );
    // The log table locked: the export's first page waits until the run is older than its 1 s maximum, so the
    // run finds its deadline passed once the page arrives.
    const locker = new pg.Client({ connectionString: dbUri });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE log_entry IN ACCESS EXCLUSIVE MODE');
    const request = admin.post('/user/exportlogs', { callback_url: callbackUrl });
    try {
      for (const end = Date.now() + 60_000; ;) {
        const leased = (await item()).rows[0];
        if (leased?.lease_age_ms != null && leased.lease_age_ms > 1500) break;
        if (Date.now() > end) throw new Error(`the export was not leased:\n${reg.output().slice(-3000)}`);
        await sleep(100);
      }
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const r = await request;
    expect(r.status).toBe(200);
    const end = Date.now() + 60_000;
    while (!receiver.received.some((x) => x.path === '/cb-timedout')) {
      if (Date.now() > end) throw new Error(`no callback:\n${reg.output().slice(-3000)}`);
      await sleep(100);
    }
    expect(JSON.parse(receiver.received.find((x) => x.path === '/cb-timedout')!.body)).toEqual({
      export_id: r.body.export_id,
      start_time: mmddyyyy(yesterday),
      end_time: mmddyyyy(today),
      namespace: 'admin',
      repository: null,
      exported_data_url: null,
      status: 'timedout',
    });
    // Reported and done: the queue item is deleted, not scheduled again.
    for (const until = Date.now() + 30_000; (await item()).rows.length > 0;) {
      if (Date.now() > until) throw new Error('the timed-out export stayed queued');
      await sleep(100);
    }
    expect(receiver.received.filter((x) => x.path === '/cb-timedout')).toHaveLength(1);
    expect(readdirSync(join(localStorage, 'exportedactionlogs')).filter((f) => f.startsWith(r.body.export_id))).toEqual([]);
  });
});
