/**
 * Bytes of uploads in progress count against the namespace's Reject limit, as in Quay 3.8
 * (endpoints/v2/blob.py upload_chunk / monolithic_upload_or_last_chunk → namespacequota
 * verify_namespace_quota_during_upload; errors.py QuotaExceeded): a 6 KiB upload into a 5 KiB quota is
 * refused at its PATCH or PUT with 403 DENIED "Quota has been exceeded on namespace", against the real
 * registry process on Postgres.
 */
import { createHash } from 'node:crypto';
import { basicAuth, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { signin } from '../api/fixture.js';

const KiB = 1024;
let reg: RegistryProcess;
let auth: string;

beforeAll(async () => {
  const dbUri = await createTestDatabase('quotauploads');
  reg = await startRegistry({ label: 'quota-uploads', config: { DB_URI: dbUri, SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true } });
  const api = await signin(reg, 'admin', reg.admin.password);
  await api.ok('POST', '/organization/', { name: 'small', email: 'small@example.com' });
  await api.ok('POST', '/organization/small/quota', { limit_bytes: 5 * KiB });
  const [quota] = await api.ok('GET', '/organization/small/quota');
  await api.ok('POST', `/organization/small/quota/${quota.id}/limit`, { type: 'Reject', threshold_percent: 100 });
  auth = basicAuth(reg.admin.username, reg.admin.password);
});

afterAll(async () => {
  await reg?.stop();
});

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function v2(method: string, path: string, body?: Buffer | ReadableStream, headers: Record<string, string> = {}) {
  const init: RequestInit & { duplex?: string } = { method, headers: { authorization: auth, ...headers }, body };
  if (body instanceof ReadableStream) init.duplex = 'half';
  return fetch(path.startsWith('http') ? path : `${reg.url}/v2/${path}`, init);
}

async function start(repo: string): Promise<string> {
  const r = await v2('POST', `small/${repo}/blobs/uploads/`);
  expect(r.status).toBe(202);
  return new URL(r.headers.get('location')!, reg.url).toString();
}

/** A body without Content-Length (chunked): the registry cannot know its size before it arrives. */
const streamed = (b: Buffer) =>
  new ReadableStream({
    start(c) {
      c.enqueue(new Uint8Array(b));
      c.close();
    },
  });

async function expectQuotaDenied(r: Response): Promise<void> {
  expect(r.status).toBe(403);
  expect(((await r.json()) as { errors: { code: string; message: string }[] }).errors[0]).toMatchObject({ code: 'DENIED', message: 'Quota has been exceeded on namespace' });
}

test('a PATCH declaring more bytes than the quota leaves is refused, and its session is dropped', async () => {
  const loc = await start('declared');
  await expectQuotaDenied(await v2('PATCH', loc, bytes(6 * KiB, 1), { 'content-type': 'application/octet-stream' }));
  expect((await v2('GET', loc)).status).toBe(404);
});

test('the bytes of earlier chunks count: 3 KiB + 3 KiB passes the 5 KiB limit at the second PATCH', async () => {
  const loc = await start('chunks');
  const first = await v2('PATCH', loc, bytes(3 * KiB, 2), { 'content-range': `0-${3 * KiB - 1}` });
  expect(first.status).toBe(202);
  const next = new URL(first.headers.get('location')!, reg.url).toString();
  await expectQuotaDenied(await v2('PATCH', next, bytes(3 * KiB, 3), { 'content-range': `${3 * KiB}-${6 * KiB - 1}` }));
});

test('an undeclared (chunked) 6 KiB body is caught at the final PUT: nothing is stored', async () => {
  const data = bytes(6 * KiB, 4);
  const loc = await start('streamed');
  const patched = await v2('PATCH', loc, streamed(data));
  expect(patched.status).toBe(202);
  const done = new URL(patched.headers.get('location')!, reg.url);
  done.searchParams.set('digest', digestOf(data));
  await expectQuotaDenied(await v2('PUT', done.toString()));
  expect((await v2('HEAD', `small/streamed/blobs/${digestOf(data)}`)).status).toBe(404);
});

test('a monolithic 6 KiB POST is refused; uploads that fit still complete', async () => {
  const big = bytes(6 * KiB, 5);
  await expectQuotaDenied(await v2('POST', `small/mono/blobs/uploads/?digest=${digestOf(big)}`, big, { 'content-type': 'application/octet-stream' }));
  const fits = bytes(4 * KiB, 6);
  const loc = new URL(await start('fits'));
  loc.searchParams.set('digest', digestOf(fits));
  expect((await v2('PUT', loc.toString(), fits, { 'content-type': 'application/octet-stream' })).status).toBe(201);
});
