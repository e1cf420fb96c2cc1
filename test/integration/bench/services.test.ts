/** The test bench's services are real and isolated per test file: Postgres, Redis, S3. */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { connect } from 'node:net';
import pg from 'pg';
import { createTestBucket, createTestDatabase, createTestRedisUrl, dropTestDatabase, s3Client, startRedis } from '../../setup/services.js';

describe('test bench services', () => {
  test('global setup published the service coordinates to this worker', () => {
    for (const name of ['TEST_PG_URL', 'TEST_REDIS_URL', 'TEST_S3_ENDPOINT', 'TEST_S3_ACCESS_KEY', 'TEST_S3_SECRET_KEY', 'QUAY_TS_TOOLS', 'QUAY_TS_RUN_PID']) {
      expect([name, process.env[name]]).toEqual([name, expect.stringMatching(/.+/)]);
    }
    expect(process.env.TEST_PG_URL).toMatch(/^postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(process.env.TEST_REDIS_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(process.env.TEST_S3_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('postgres: a fresh database accepts DDL and queries, and is not shared', async () => {
    const a = await createTestDatabase('bench a');
    const b = await createTestDatabase('bench b');
    expect(a).not.toBe(b);
    expect(new URL(a).pathname).toMatch(/^\/t_bench_a_[0-9a-f]{8}$/);
    const ca = new pg.Client({ connectionString: a });
    const cb = new pg.Client({ connectionString: b });
    await ca.connect();
    await cb.connect();
    try {
      await ca.query('CREATE TABLE t (id serial PRIMARY KEY, name text NOT NULL)');
      await ca.query('INSERT INTO t (name) VALUES ($1), ($2)', ['x', 'y']);
      const r = await ca.query<{ name: string }>('SELECT name FROM t ORDER BY id');
      expect(r.rows.map((x) => x.name)).toEqual(['x', 'y']);
      const v = await ca.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(Number(v.rows[0].server_version_num)).toBeGreaterThanOrEqual(150000);
      const other = await cb.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE tablename = 't'");
      expect(other.rows[0].n).toBe('0');
    } finally {
      await ca.end();
      await cb.end();
    }
    await dropTestDatabase(a);
    const admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
    await admin.connect();
    try {
      const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [new URL(a).pathname.slice(1)]);
      expect(left.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });

  test('redis: PING, and each test file gets its own logical database', async () => {
    const u1 = await createTestRedisUrl();
    const u2 = await createTestRedisUrl();
    expect(u1).not.toBe(u2);
    const r1 = new Redis(u1, { lazyConnect: true });
    const r2 = new Redis(u2, { lazyConnect: true });
    await r1.connect();
    await r2.connect();
    try {
      expect(await r1.ping()).toBe('PONG');
      await r1.set('k', 'v1');
      expect(await r1.get('k')).toBe('v1');
      expect(await r2.get('k')).toBeNull();
    } finally {
      r1.disconnect();
      r2.disconnect();
    }
  });

  test('redis: a private instance starts and stops', async () => {
    const own = await startRedis();
    const r = new Redis(own.url, { lazyConnect: true });
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    r.disconnect();
    await own.stop();
    expect(own.process.running()).toBe(false);
    // Nothing listens there any more. (A raw socket: ioredis leaves a connect timer behind on refusal.)
    const refused = await new Promise<string>((res) => {
      const s = connect(own.port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), res('connected')));
      s.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? e.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  test('s3: put, get, list and delete an object in a fresh bucket', async () => {
    const b = await createTestBucket('bench');
    expect(b.bucket).toMatch(/^t-bench-[0-9a-f]{8}$/);
    const s3 = s3Client(b);
    try {
      const body = Buffer.from(`hello ${b.bucket}`);
      await s3.send(new PutObjectCommand({ Bucket: b.bucket, Key: 'dir/hello.txt', Body: body, ContentType: 'text/plain' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: b.bucket, Key: 'dir/hello.txt' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(got.ContentLength).toBe(body.length);
      const list = await s3.send(new ListObjectsV2Command({ Bucket: b.bucket, Prefix: 'dir/' }));
      expect(list.Contents?.map((c) => c.Key)).toEqual(['dir/hello.txt']);
      await s3.send(new DeleteObjectCommand({ Bucket: b.bucket, Key: 'dir/hello.txt' }));
      await expect(s3.send(new HeadObjectCommand({ Bucket: b.bucket, Key: 'dir/hello.txt' }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      });
      // Another bucket does not see this one's objects.
      const other = await createTestBucket('bench');
      expect(other.bucket).not.toBe(b.bucket);
      await s3.send(new PutObjectCommand({ Bucket: b.bucket, Key: 'only-here', Body: 'x' }));
      const none = await s3.send(new ListObjectsV2Command({ Bucket: other.bucket }));
      expect(none.KeyCount).toBe(0);
    } finally {
      s3.destroy();
    }
  });
});
