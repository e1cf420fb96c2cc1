/**
 * A replica dies during an upload's last PUT and the load balancer sends the same PUT (same body) to another
 * replica (nginx retries an idempotent method on an upstream error). Two registry processes on one Postgres,
 * on LocalStorage (a shared directory) and on S3 (MinIO); the first is SIGKILLed at a controlled point:
 *
 * - after it published the blob (its answer lost on the way): the retry answers 201 with the same Location and
 *   Docker-Content-Digest, as long as the blob is linked in the repository;
 * - after it attached the final chunk but before it published (held by a Postgres lock the test owns): the
 *   retry finishes from the committed offset, with or without Content-Range, and publishes exactly the bytes
 *   that hash to the digest; a retry whose bytes do not continue the committed ones gets 416 with Range.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { startRegistry, scaleOutConfig, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, blobOf, errorCode, sha256 } from '../../helpers/v2.js';
import { createTestDatabase } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';

/** Finished sessions are remembered for an hour; the cleanup looks every second. */
const CLEANUP = { FEATURE_GARBAGE_COLLECTION: false, BLOBUPLOAD_DELETION_DATE_THRESHOLD: 3600, BLOBUPLOAD_CLEANUP_FREQUENCY: 1 };

const storages: Array<[string, () => Promise<Record<string, unknown>>]> = [
  [
    'LocalStorage',
    async () => ({
      DB_URI: await createTestDatabase('retried-finish'),
      SUPER_USERS: ['admin'],
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: join(workDir('retried-finish'), 'storage') }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
      ...CLEANUP,
    }),
  ],
  ['S3 (MinIO)', () => scaleOutConfig(CLEANUP)],
];

describe.each(storages)('retried final upload PUT after a replica death, %s', (_name, makeConfig) => {
  let config: Record<string, unknown>;
  let b: RegistryProcess;
  let db: pg.Client;
  let n = 0;
  const repo = () => `admin/retry${++n}`;

  beforeAll(async () => {
    config = await makeConfig();
    b = await startRegistry({ config, label: 'retry-b' });
    db = new pg.Client({ connectionString: String(config.DB_URI) });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await b?.stop();
  });

  const startA = () => startRegistry({ config, label: 'retry-a', adminPassword: b.admin.password });

  /** A session on `reg` holding `first`, ready for its last PUT. */
  async function sessionWith(c: V2Client, name: string, first: Buffer): Promise<string> {
    const start = await c.req('POST', `/v2/${name}/blobs/uploads/`);
    expect(start.status).toBe(202);
    const patch = await c.req('PATCH', start.headers.get('location')!, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${first.length - 1}`, 'content-length': String(first.length) },
      body: first,
    });
    expect(patch.status).toBe(202);
    return new URL(patch.headers.get('location')!, c.reg.url).pathname;
  }

  function lastPut(c: V2Client, location: string, digest: string, body: Buffer, range?: string): Promise<Response> {
    return c.req('PUT', `${location}?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length), ...(range ? { 'content-range': range } : {}) },
      body,
    });
  }

  async function expectServed(c: V2Client, name: string, blob: Buffer): Promise<void> {
    const r = await c.req('GET', `/v2/${name}/blobs/${sha256(blob)}`);
    expect(r.status).toBe(200);
    expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(sha256(blob));
  }

  test('the dead replica had published the blob: the retry answers 201 with the same Location and digest', async () => {
    const a = await startA();
    const onA = V2Client.basic(a);
    const onB = V2Client.basic(b);
    const name = repo();
    const first = randomBytes(300_000);
    const last = randomBytes(200_000);
    const whole = Buffer.concat([first, last]);
    const digest = sha256(whole);
    const location = await sessionWith(onA, name, first);
    const done = await lastPut(onA, location, digest, last);
    expect(done.status).toBe(201);
    // The answer never reached the client: the replica died right after publishing.
    await a.kill();

    const retried = await lastPut(onB, location, digest, last);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('location')).toBe(done.headers.get('location'));
    expect(retried.headers.get('docker-content-digest')).toBe(digest);
    await expectServed(onB, name, whole);
    // The same retry with its Content-Range, too.
    expect((await lastPut(onB, location, digest, last, `${first.length}-${whole.length - 1}`)).status).toBe(201);

    // The finished session is not a live one: another digest, a chunk or a status request find no upload.
    const other = await lastPut(onB, location, sha256(last), last);
    expect(other.status).toBe(404);
    expect(await errorCode(other)).toBe('BLOB_UPLOAD_UNKNOWN');
    expect((await onB.req('GET', location)).status).toBe(404);
    // In another repository the session id means nothing.
    const elsewhere = await lastPut(onB, location.replace(name, repo()), digest, last);
    expect(elsewhere.status).toBe(404);

    // Past the abandoned-upload threshold the cleanup forgets the finished session.
    const id = location.split('/').pop();
    await db.query("UPDATE blob_upload_finished SET finished_at = now() - interval '2 hours' WHERE id = $1", [id]);
    while ((await db.query('SELECT 1 FROM blob_upload_finished WHERE id = $1', [id])).rows.length > 0) await new Promise((res) => setTimeout(res, 100));
    const forgotten = await lastPut(onB, location, digest, last);
    expect(forgotten.status).toBe(404);
    expect(await errorCode(forgotten)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  async function waitForLockWait(queryPrefix: string): Promise<number> {
    for (;;) {
      const r = await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, [
        `${queryPrefix}%`,
      ]);
      if (r.rows[0]) return r.rows[0].pid;
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /**
   * Start the last PUT on a fresh replica A and hold it once it has attached the final chunk and waits, inside
   * its publishing transaction, for a lock the test holds (an uncommitted row for the same digest).
   */
  async function holdAfterAttach(name: string, first: Buffer, last: Buffer) {
    const a = await startA();
    const onA = V2Client.basic(a);
    const digest = sha256(Buffer.concat([first, last]));
    const location = await sessionWith(onA, name, first);
    const gate = new pg.Client({ connectionString: String(config.DB_URI) });
    await gate.connect();
    await gate.query('BEGIN');
    await gate.query('INSERT INTO blob (digest, size) VALUES ($1, $2)', [digest, first.length + last.length]);
    const put = lastPut(onA, location, digest, last).then(
      async (r) => ({ status: r.status, location: r.headers.get('location') }),
      () => 'connection lost' as const,
    );
    const blocked = await waitForLockWait('INSERT INTO blob ');
    const release = async () => {
      await gate.query('ROLLBACK');
      await gate.end();
    };
    return { a, location, put, blocked, release };
  }

  /** As holdAfterAttach, then SIGKILL A: the final chunk is attached and nothing is published. */
  async function killAfterAttach(name: string, first: Buffer, last: Buffer): Promise<string> {
    const { a, location, put, blocked, release } = await holdAfterAttach(name, first, last);
    await a.kill();
    expect(await put).toBe('connection lost');
    await release();
    // The dead replica's transaction ends when its backend finds the client gone.
    for (;;) {
      const r = await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [blocked]);
      if (r.rows.length === 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    // The reproduction's premise.
    const status = await V2Client.basic(b).req('GET', location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${first.length + last.length - 1}`);
    expect((await db.query('SELECT 1 FROM blob WHERE digest = $1', [sha256(Buffer.concat([first, last]))])).rows).toHaveLength(0);
    return location;
  }

  test('the first replica is still publishing when the PUT is resent (a balancer timeout): both answer 201', async () => {
    const onB = V2Client.basic(b);
    const name = repo();
    const first = randomBytes(200_000);
    const last = randomBytes(150_000);
    const whole = Buffer.concat([first, last]);
    const { a, location, put, release } = await holdAfterAttach(name, first, last);
    try {
      const retried = lastPut(onB, location, sha256(whole), last);
      // B waits for A's lock on the session, then finds it finished.
      await waitForLockWait('SELECT byte_count FROM blob_upload ');
      await release();
      const [first201, second] = await Promise.all([put, retried]);
      expect(first201).toEqual({ status: 201, location: `/v2/${name}/blobs/${sha256(whole)}` });
      expect(second.status).toBe(201);
      expect(second.headers.get('location')).toBe(`/v2/${name}/blobs/${sha256(whole)}`);
      await expectServed(onB, name, whole);
    } finally {
      await a.stop();
    }
  });

  test.each([
    ['without Content-Range', false],
    ['with Content-Range', true],
  ])('the dead replica had attached the final chunk: the retry %s finishes from the committed offset', async (_label, withRange) => {
    const onB = V2Client.basic(b);
    const name = repo();
    const first = randomBytes(400_000);
    const last = randomBytes(250_000);
    const whole = Buffer.concat([first, last]);
    const location = await killAfterAttach(name, first, last);
    const retried = await lastPut(onB, location, sha256(whole), last, withRange ? `${first.length}-${whole.length - 1}` : undefined);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('location')).toBe(`/v2/${name}/blobs/${sha256(whole)}`);
    expect(retried.headers.get('docker-content-digest')).toBe(sha256(whole));
    await expectServed(onB, name, whole);
    const stored = await db.query<{ size: string }>('SELECT size FROM blob WHERE digest = $1', [sha256(whole)]);
    expect(Number(stored.rows[0].size)).toBe(whole.length);
  });

  test('a retry whose range does not end where the committed bytes end gets 416 with the Range to resume from', async () => {
    const onB = V2Client.basic(b);
    const name = repo();
    const first = randomBytes(300_000);
    const last = randomBytes(100_000);
    const whole = Buffer.concat([first, last]);
    const location = await killAfterAttach(name, first, last);
    // A client that believes only part of its last chunk was taken: its range overlaps the committed bytes.
    const overlap = await lastPut(onB, location, sha256(whole), whole.subarray(first.length - 1000, whole.length - 10), `${first.length - 1000}-${whole.length - 11}`);
    expect(overlap.status).toBe(416);
    expect(overlap.headers.get('range')).toBe(`0-${whole.length - 1}`);
    expect(await errorCode(overlap)).toBe('RANGE_INVALID');
    // Nothing was published, and the session still finishes with an empty PUT.
    expect((await db.query('SELECT 1 FROM blob WHERE digest = $1', [sha256(whole)])).rows).toHaveLength(0);
    const finish = await onB.req('PUT', `${location}?digest=${sha256(whole)}`);
    expect(finish.status).toBe(201);
    await expectServed(onB, name, whole);
  });

  test('a retry with other bytes under the same digest never publishes them', async () => {
    const onB = V2Client.basic(b);
    const name = repo();
    const first = randomBytes(200_000);
    const last = randomBytes(100_000);
    const whole = Buffer.concat([first, last]);
    const location = await killAfterAttach(name, first, last);
    // Same length as the attached chunk, other content, no range: the committed bytes already hash to the
    // digest, so they are what is published; the body is not appended.
    const liar = randomBytes(last.length);
    const r = await lastPut(onB, location, sha256(whole), liar);
    expect(r.status).toBe(201);
    await expectServed(onB, name, whole);
    // A retry naming the digest of the other bytes finds no session any more, and nothing publishes them.
    const other = blobOf(Buffer.concat([first, liar]));
    const lie = await lastPut(onB, location, other.digest, liar);
    expect(lie.status).toBe(404);
    expect((await onB.req('HEAD', `/v2/${name}/blobs/${other.digest}`)).status).toBe(404);
  });
});
