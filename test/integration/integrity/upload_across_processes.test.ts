/**
 * An upload's requests answered by different processes (skopeo opens a connection per request, and `serve`'s
 * worker processes take connections in turn): the process that writes a segment records the digest of the
 * session's bytes through it, so a last PUT on another process verifies the digest without reading the bytes
 * back; a session whose last segment has no recorded digest (its writer did not hold the hash of the bytes
 * before it) is still read back and verified. Two registry processes on one Postgres and one LocalStorage
 * directory; the reads are counted by each process's storage metrics.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, errorCode, sha256 } from '../../helpers/v2.js';
import { createTestDatabase } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';

describe('an upload continued on another registry process (LocalStorage, Postgres)', () => {
  let a: RegistryProcess;
  let b: RegistryProcess;
  let onA: V2Client;
  let onB: V2Client;
  let n = 0;
  const repo = () => `admin/across${++n}`;

  beforeAll(async () => {
    const config = {
      DB_URI: await createTestDatabase('upload-across'),
      SUPER_USERS: ['admin'],
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: join(workDir('upload-across'), 'storage') }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
    };
    a = await startRegistry({ config, label: 'across-a' });
    b = await startRegistry({ config, label: 'across-b', adminPassword: a.admin.password });
    onA = V2Client.basic(a);
    onB = V2Client.basic(b);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  /** How many times `reg` read staged upload bytes back (for hashing them). */
  async function segmentReads(reg: RegistryProcess): Promise<number> {
    const text = await (await fetch(`${reg.url}/metrics`)).text();
    const m = /^quay_storage_operation_duration_seconds_count\{[^}]*operation="read_segments"[^}]*\} (\S+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  async function startSession(c: V2Client, name: string): Promise<string> {
    const res = await c.req('POST', `/v2/${name}/blobs/uploads/`);
    expect(res.status).toBe(202);
    return new URL(res.headers.get('location')!, c.reg.url).pathname;
  }

  async function patch(c: V2Client, location: string, offset: number, bytes: Buffer): Promise<string> {
    const res = await c.req('PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + bytes.length - 1}`, 'content-length': String(bytes.length) },
      body: bytes,
    });
    expect(res.status).toBe(202);
    return new URL(res.headers.get('location')!, c.reg.url).pathname;
  }

  const finish = (c: V2Client, location: string, digest: string) => c.req('PUT', `${location}?digest=${digest}`, { headers: { 'content-length': '0' } });

  async function expectServed(c: V2Client, name: string, blob: Buffer): Promise<void> {
    const r = await c.req('GET', `/v2/${name}/blobs/${sha256(blob)}`);
    expect(r.status).toBe(200);
    expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(sha256(blob));
  }

  test('PATCH on one process, PUT on the other: published without reading the bytes back', async () => {
    const name = repo();
    const first = randomBytes(700_000);
    const second = randomBytes(300_000);
    const whole = Buffer.concat([first, second]);
    let location = await patch(onA, await startSession(onB, name), 0, first);
    location = await patch(onA, location, first.length, second);
    const reads = await segmentReads(b);
    const res = await finish(onB, location, sha256(whole));
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(whole));
    expect(await segmentReads(b)).toBe(reads);
    await expectServed(onA, name, whole);
    await expectServed(onB, name, whole);
  });

  test('a wrong digest is refused on the other process as well, and nothing is published', async () => {
    const name = repo();
    const bytes = randomBytes(500_000);
    const location = await patch(onA, await startSession(onA, name), 0, bytes);
    const wrong = sha256(randomBytes(16));
    const res = await finish(onB, location, wrong);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
    expect((await onB.req('HEAD', `/v2/${name}/blobs/${wrong}`)).status).toBe(404);
    expect((await onB.req('HEAD', `/v2/${name}/blobs/${sha256(bytes)}`)).status).toBe(404);
    // The session is gone: the right digest cannot be published from it afterwards.
    expect((await finish(onA, location, sha256(bytes))).status).toBe(404);
  });

  test('chunks written alternately on both processes: the last writer lacks the hash, so the bytes are read back and verified', async () => {
    const name = repo();
    const chunks = [randomBytes(400_000), randomBytes(250_000), randomBytes(100_000)];
    const whole = Buffer.concat(chunks);
    let location = await startSession(onA, name);
    location = await patch(onA, location, 0, chunks[0]);
    location = await patch(onB, location, chunks[0].length, chunks[1]);
    location = await patch(onA, location, chunks[0].length + chunks[1].length, chunks[2]);
    const wrong = await finish(onA, location, sha256(chunks[0]));
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe('DIGEST_INVALID');

    // Again, and published this time: A reads the bytes back once.
    location = await startSession(onA, name);
    location = await patch(onA, location, 0, chunks[0]);
    location = await patch(onB, location, chunks[0].length, chunks[1]);
    location = await patch(onA, location, chunks[0].length + chunks[1].length, chunks[2]);
    const reads = await segmentReads(a);
    const res = await finish(onA, location, sha256(whole));
    expect(res.status).toBe(201);
    expect(await segmentReads(a)).toBe(reads + 1);
    await expectServed(onB, name, whole);
  });
});
