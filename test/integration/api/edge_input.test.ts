/**
 * Hostile input at the edge (issue 13, finding 2): control characters in credentials, paths, query strings,
 * headers and JSON; JSON nested without bound; log dates past year 9999. Each is a 400 in the protocol's own
 * error format, and the usage log never loses other tenants' rows to one bad entry. Real registry process on
 * Postgres and S3.
 */
import { connect } from 'node:net';
import { basicAuth, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { jsonBlob, OCI_CONFIG, OCI_MANIFEST, V2Client } from '../../helpers/v2.js';
import { Api, createUser, initialize, signin } from './fixture.js';
import { openPostgres } from '../../../registry/db/index.js';
import { migrate } from '../../../registry/db/migrate.js';
import { UsageLogs } from '../../../registry/model/logs.js';
import { MAX_LOGGED_STRING } from '../../../registry/input.js';
import { createTestDatabase } from '../../setup/services.js';

let reg: RegistryProcess;
let admin: Api;
let session: Api;
let alicePassword: string;

beforeAll(async () => {
  reg = await startRegistry({ label: 'edge', config: await scaleOutConfig({ FEATURE_USER_INITIALIZE: true }) });
  admin = (await initialize(reg)).api;
  alicePassword = await createUser(admin, 'alice');
  session = await signin(reg, 'admin', 'admin-password-1');
});

afterAll(async () => {
  await reg?.stop();
});

const NUL_USER = basicAuth('ad\u0000min', '');

async function v2Error(res: Response): Promise<{ status: number; code: string }> {
  const body = (await res.json()) as { errors: { code: string; message: string }[] };
  return { status: res.status, code: body.errors[0].code };
}

function expectQuayError(r: { status: number; body: any }, status = 400): void {
  expect(r.status).toBe(status);
  expect(r.body).toMatchObject({ status, error_type: 'invalid_request', error_message: expect.any(String), title: 'invalid_request', detail: expect.any(String) });
}

describe('credentials', () => {
  test("a NUL-byte username at /v2/auth is a 400 and no longer drops other tenants' log rows", async () => {
    // The bad requests and alice's sign-in land in the same log batch (one flush every 250 ms).
    const bad = Array.from({ length: 5 }, () => fetch(`${reg.url}/v2/auth?service=${reg.hostPort}`, { headers: { authorization: NUL_USER } }));
    const good = fetch(`${reg.url}/api/v1/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: alicePassword }),
    });
    for (const res of await Promise.all(bad)) expect(await v2Error(res)).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect((await good).status).toBe(200);
    const alice = await signin(reg, 'alice', alicePassword);
    const logs = await alice.ok<{ logs: { kind: string }[] }>('GET', '/user/logs');
    expect(logs.logs.filter((l) => l.kind === 'login_success').length).toBeGreaterThanOrEqual(2);
  });

  test('Basic credentials with a control character on /v2 are a 400 in the distribution format', async () => {
    for (const auth of [NUL_USER, basicAuth('admin', 'pass\u0001word'), basicAuth('ad\u007fmin', 'x')]) {
      expect(await v2Error(await fetch(`${reg.url}/v2/`, { headers: { authorization: auth } }))).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    }
  });

  test('a password grant with a control character in the form is a 400', async () => {
    const res = await fetch(`${reg.url}/v2/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=a%00b&password=x',
    });
    expect(await v2Error(res)).toEqual({ status: 400, code: 'INVALID_REQUEST' });
  });

  test("signin with NUL or a control character in the credentials is a 400 in Quay's format", async () => {
    const anon = new Api(reg.url);
    expectQuayError(await anon.post('/signin', { username: 'ad\u0000min', password: 'x' }));
    expectQuayError(await anon.post('/signin', { username: 'ad\u0001min', password: 'x' }));
    expectQuayError(await anon.post('/signin', { username: 'admin', password: 'admin-password-1\u0002' }));
  });
});

describe('the NUL-byte 500s', () => {
  test('NUL in a path parameter', async () => {
    expectQuayError(await session.get('/users/a%00b'));
    expectQuayError(await session.get('/organization/a%00b'));
  });

  test('NUL in a query parameter, on the API and on /v2', async () => {
    expectQuayError(await session.get('/user/logs?filter=a%00b'));
    expectQuayError(await session.get('/user/logs?performer=a%00b'));
    const res = await V2Client.basic(reg).req('GET', '/v2/_catalog?last=a%00b');
    expect(await v2Error(res)).toEqual({ status: 400, code: 'INVALID_REQUEST' });
  });

  test("NUL outside /v2 and /api/v1 is a 400 in Quay's format too, not a 500", async () => {
    const res = await fetch(`${reg.url}/health/instance?x=a%00b`);
    expectQuayError({ status: res.status, body: await res.json() });
  });

  test('NUL in a JSON string of an API body; nothing is created', async () => {
    const r = await session.post('/repository', { repository: 'nul-desc', visibility: 'private', description: 'a\u0000b' });
    expectQuayError(r);
    expect(r.body.error_message).toMatch(/NUL/);
    expect((await session.get('/repository/admin/nul-desc')).status).toBe(404);
  });

  test('NUL in a manifest annotation is MANIFEST_INVALID; NUL in a config label drops that label only', async () => {
    const v2 = V2Client.basic(reg);
    const labels = jsonBlob({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { good: 'yes', 'bad\u0000key': 'x', bad: 'v\u0000' } },
      rootfs: { type: 'layers', diff_ids: [] },
    });
    expect((await v2.pushBlob('admin/nul', labels)).status).toBe(201);
    const manifest = (annotations?: Record<string, string>) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: labels.digest, size: labels.size },
      layers: [],
      ...(annotations ? { annotations } : {}),
    });
    expect(await v2Error(await v2.pushManifest('admin/nul', 'annotated', manifest({ a: 'b\u0000' })))).toEqual({ status: 400, code: 'MANIFEST_INVALID' });
    const pushed = await v2.pushManifest('admin/nul', 'labelled', manifest());
    expect(pushed.status).toBe(201);
    const digest = pushed.headers.get('docker-content-digest');
    const got = await session.ok<{ labels: { key: string; value: string }[] }>('GET', `/repository/admin/nul/manifest/${digest}/labels`);
    expect(got.labels.map((l) => [l.key, l.value])).toEqual([['good', 'yes']]);
  });
});

describe('headers, depth and dates', () => {
  const rawRequest = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const sock = connect(reg.port, '127.0.0.1');
      let out = '';
      sock.on('data', (d) => (out += d.toString()));
      sock.on('close', () => resolve(out));
      sock.on('error', reject);
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${reg.hostPort}\r\nX-Evil: a\u0000b\r\nConnection: close\r\n\r\n`);
    });
  const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

  test("a header value with a control character is a 400 in the protocol's error format, and the server keeps serving", async () => {
    const v2 = await rawRequest('/v2/');
    expect(v2).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(v2)).toEqual({ errors: [{ code: 'INVALID_REQUEST', message: 'malformed HTTP request', detail: {} }] });
    const api = await rawRequest('/api/v1/user/');
    expect(api).toMatch(/^HTTP\/1\.1 400 /);
    expectQuayError({ status: 400, body: bodyOf(api) });
    expect((await fetch(`${reg.url}/health/instance`)).status).toBe(200);
  });

  test('JSON nested 200 000 deep is a 400, on the API and in a manifest', async () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const res = await fetch(`${reg.url}/api/v1/repository`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: session.auth.cookie!, 'x-csrf-token': session.auth.csrf! },
      body: deep,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_message: string }).error_message).toMatch(/nested deeper/);
    const m = `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","x":${deep}}`;
    expect(await v2Error(await V2Client.basic(reg).pushManifest('admin/deep', 'v1', m))).toEqual({ status: 400, code: 'MANIFEST_INVALID' });
  });

  test('log queries with dates past year 9999 are a 400', async () => {
    expectQuayError(await session.get('/user/logs?starttime=12/30/9999&endtime=12/31/9999'));
    expectQuayError(await session.get('/user/aggregatelogs?starttime=01/01/2026&endtime=12/31/9999'));
    expect((await session.get('/user/logs?starttime=01/01/2026&endtime=12/30/9999')).status).toBe(200);
  });
});

describe('the usage-log writer', () => {
  test('a batch with a bad row is retried row by row; logged strings are sanitised and capped', async () => {
    const db = await openPostgres(await createTestDatabase('logs'));
    try {
      await migrate(db);
      const errors: unknown[] = [];
      const logs = new UsageLogs(db, (err) => errors.push(err));
      const anon = { kind: 'anonymous' } as const;
      logs.log({ kind: 'first', performer: anon, namespaceId: 1 });
      // Out of bigint's range: this row alone cannot be stored.
      logs.log({ kind: 'broken', performer: anon, namespaceId: 1e19 });
      logs.log({ kind: 'third\u0000', performer: anon, namespaceId: 3, ip: 'x\u0001', metadata: { 'k\u0000': 'v\u0000', long: 'y'.repeat(5000), nested: ['\u0007'] } });
      await logs.flush();
      expect(errors).toHaveLength(1);
      const r = await db.query<{ kind: string; ip: string | null; metadata: Record<string, unknown> }>('SELECT kind, ip, metadata FROM log_entry ORDER BY account_id');
      expect(r.rows.map((x) => x.kind)).toEqual(['first', 'third\ufffd']);
      const third = r.rows[1];
      expect(third.ip).toBe('x\ufffd');
      expect(third.metadata['k\ufffd']).toBe('v\ufffd');
      expect(third.metadata.nested).toEqual(['\ufffd']);
      expect((third.metadata.long as string).startsWith('y'.repeat(MAX_LOGGED_STRING))).toBe(true);
      expect((third.metadata.long as string).length).toBeLessThan(MAX_LOGGED_STRING + 32);
    } finally {
      await db.close();
    }
  });
});
