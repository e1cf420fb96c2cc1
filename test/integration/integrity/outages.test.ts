/**
 * The fault campaign's outages (issue 13). The registry's own PostgreSQL server, its MinIO (S3 storage) or its
 * Redis is stopped and started again while clients push and pull:
 * - Postgres and MinIO: while one is down every answer that needs it is a 503 in the protocol's format (never a
 *   500, never a false 404); afterwards the same registry process serves again without a restart, and every
 *   push it acknowledged is there, its manifest and blobs hashing to their digests; nothing half-written is
 *   visible (every blob the database shows is complete in storage).
 * - Redis: only what needs Redis (build logs, the Redis line of the health checks) degrades; pushes and pulls go
 *   on without a single error, and the build logs answer again once Redis is back.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { basicAuth, s3StorageConfig, startRegistry, scaleOutConfig, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob, sha256, type Blob } from '../../helpers/v2.js';
import {
  createTestBucket,
  createTestDatabase,
  s3Client,
  startPostgres,
  startRedis,
  startS3,
  type PostgresService,
  type RedisService,
  type S3Bucket,
  type S3Service,
} from '../../setup/services.js';
import { signin, type Api } from '../api/fixture.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault_front.js';

/** A V2 client that records the status of every response it gets. */
class RecordingClient extends V2Client {
  readonly statuses: number[] = [];
  readonly bodies: string[] = [];

  override async req(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Response> {
    let res: Response;
    try {
      res = await super.req(method, path, init);
    } catch (err) {
      // A dropped connection: recorded as status 0 (none may happen), then passed on.
      this.statuses.push(0);
      throw err;
    }
    this.statuses.push(res.status);
    if (res.status >= 500) this.bodies.push(await res.clone().text());
    return res;
  }
}

interface Acked {
  tag: string;
  digest: string;
  layers: Blob[];
}

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/**
 * Two pushers (a new image each time into admin/app) and two pullers of `pullPath`, whose body must hash to
 * `pullDigest` whenever it arrives whole. A body cut by the server's storage going away mid-stream is counted
 * in `cut` (the response had already begun; the client sees a short read and retries).
 */
function startLoad(reg: RegistryProcess, auth: string, pullPath: string, pullDigest: string) {
  const acked: Acked[] = [];
  const clients: RecordingClient[] = [];
  const state = { running: true, cut: 0 };
  const pusher = async (n: number) => {
    const c = new RecordingClient(reg, auth);
    clients.push(c);
    for (let i = 0; state.running; i++) {
      const tag = `p${n}-${i}`;
      try {
        const r = await c.pushImage('admin/app', tag, { layers: [randomBlob(4096)] });
        acked.push({ tag, digest: r.digest, layers: r.layers });
      } catch {
        // Refused during the outage (the statuses are checked by the test); the client moves on, as clients retry.
      }
    }
  };
  const puller = async () => {
    const c = new RecordingClient(reg, auth);
    clients.push(c);
    while (state.running) {
      const res = await c.req('GET', pullPath, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      let body: Buffer;
      try {
        body = Buffer.from(await res.arrayBuffer());
      } catch {
        state.cut++;
        continue;
      }
      if (res.status === 200) expect(sha256(body)).toBe(pullDigest);
    }
  };
  const all = Promise.all([pusher(1), pusher(2), puller(), puller()]);
  return {
    acked,
    clients,
    state,
    /** Statuses each client had received so far (to look only at what came after a moment). */
    mark: () => clients.map((c) => c.statuses.length),
    since: (mark: number[], status: number) => clients.some((c, i) => c.statuses.slice(mark[i]).includes(status)),
    stop: async () => {
      state.running = false;
      await all.catch(() => undefined);
    },
  };
}

/** Starts the stopped service again; waits until pulls answer 200 and pushes are acknowledged again. */
async function resumeUnderLoad(load: ReturnType<typeof startLoad>, resume: () => Promise<void>, ackedBefore: number): Promise<void> {
  await resume();
  const mark = load.mark();
  await until('pulls answered 200 again', async () => load.since(mark, 200), 90_000);
  await until('a push acknowledged after the outage', async () => load.acked.length > ackedBefore + 2, 90_000);
}

/** The same registry served throughout: neither its process nor one of its worker processes was restarted. */
function expectSameProcess(reg: RegistryProcess, pid: number): void {
  expect(reg.process.running()).toBe(true);
  expect(reg.process.pid).toBe(pid);
  expect(reg.output()).not.toContain('worker process exited');
}

/** Every acknowledged push is complete: tag, manifest and blobs, each hashing to its digest. */
async function expectAckedComplete(admin: V2Client, acked: Acked[]): Promise<void> {
  for (const a of acked) {
    const m = await admin.req('GET', `/v2/admin/app/manifests/${a.tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect({ tag: a.tag, status: m.status }).toEqual({ tag: a.tag, status: 200 });
    expect(sha256(Buffer.from(await m.arrayBuffer()))).toBe(a.digest);
    for (const l of a.layers) {
      const b = await admin.req('GET', `/v2/admin/app/blobs/${l.digest}`);
      expect(sha256(Buffer.from(await b.arrayBuffer()))).toBe(l.digest);
    }
  }
}

/** Nothing but 503 among the server errors, and nothing a client would take for missing content. */
function expectOnly503(clients: RecordingClient[]): number[] {
  const all = clients.flatMap((c) => c.statuses);
  const serverErrors = clients.flatMap((c) => c.bodies);
  expect({ fiveHundreds: all.filter((s) => s >= 500 && s !== 503).length, sample: serverErrors.filter((b) => !b.includes('UNAVAILABLE')).slice(0, 3) }).toEqual({
    fiveHundreds: 0,
    sample: [],
  });
  expect(all.filter((s) => s === 0 || s === 404 || s === 500)).toEqual([]);
  return all;
}

async function expectV2Unavailable(res: Response): Promise<void> {
  const body = await res.text();
  expect({ status: res.status, retryAfter: Boolean(res.headers.get('retry-after')), body }).toEqual({
    status: 503,
    retryAfter: true,
    body: expect.stringContaining('"UNAVAILABLE"'),
  });
}

describe('Postgres', () => {
  let pgsvc: PostgresService;
  let reg: RegistryProcess;

  beforeAll(async () => {
    pgsvc = await startPostgres();
    const dbUri = await createTestDatabase('outage', pgsvc.url);
    reg = await startRegistry({ label: 'pg-outage', config: await scaleOutConfig({ DB_URI: dbUri }) });
  });

  afterAll(async () => {
    await reg?.stop();
    await pgsvc?.stop();
  });

  test('restarted under pushes and pulls: 503 while down, recovery without a restart, no acknowledged push lost', async () => {
    const auth = basicAuth(reg.admin.username, reg.admin.password);
    const admin = new V2Client(reg, auth);
    const base = await admin.pushImage('admin/base', 'v1');
    const pid = reg.process.pid;
    const session = await signin(reg, reg.admin.username, reg.admin.password);
    const load = startLoad(reg, auth, `/v2/admin/base/manifests/${base.digest}`, base.digest);
    let ackedBefore: number;
    try {
      await until('three pushes acknowledged before the outage', async () => load.acked.length >= 3);
      await pgsvc.halt();
      ackedBefore = load.acked.length;

      // While it is down: /v2 and the REST API answer 503 in their own formats.
      await until('a pull answered 503 during the outage', async () => load.clients.some((c) => c.statuses.includes(503)));
      await expectV2Unavailable(await admin.req('GET', `/v2/admin/base/manifests/${base.digest}`));
      const rest = await session.get('/repository/admin/base');
      expect({ status: rest.status, body: rest.body }).toMatchObject({ status: 503, body: { status: 503, error_type: 'downstream_issue' } });

      await resumeUnderLoad(load, () => pgsvc.resume(), ackedBefore);
    } finally {
      await load.stop();
    }

    expectSameProcess(reg, pid);
    const all = expectOnly503(load.clients);
    expect(load.state.cut).toBe(0);
    await expectAckedComplete(admin, load.acked);
    console.log(
      `postgres outage: ${load.acked.length} pushes acknowledged (${ackedBefore} before the outage), ${all.length} responses, ${all.filter((s) => s === 503).length} of them 503`,
    );
  });
});

async function hashOf(stream: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of stream) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

describe('MinIO (S3 storage)', () => {
  let s3svc: S3Service;
  let bucket: S3Bucket;
  let dbUri: string;
  let reg: RegistryProcess;

  beforeAll(async () => {
    s3svc = await startS3();
    bucket = await createTestBucket('outage', s3svc);
    dbUri = await createTestDatabase('s3outage');
    reg = await startRegistry({ label: 's3-outage', config: { DB_URI: dbUri, ...s3StorageConfig(bucket), SUPER_USERS: ['admin'], FEATURE_PROXY_STORAGE: true } });
  });

  afterAll(async () => {
    await reg?.stop();
    await s3svc?.stop();
  });

  test('stopped and started under pushes and pulls: 503 while down, recovery without a restart, nothing lost or half-written', async () => {
    const auth = basicAuth(reg.admin.username, reg.admin.password);
    const admin = new V2Client(reg, auth);
    const base = await admin.pushImage('admin/base', 'v1', { layers: [randomBlob(64 * 1024)] });
    const layer = base.layers[0];
    const pid = reg.process.pid;
    const load = startLoad(reg, auth, `/v2/admin/base/blobs/${layer.digest}`, layer.digest);
    let ackedBefore: number;
    try {
      await until('three pushes acknowledged before the outage', async () => load.acked.length >= 3);
      await s3svc.halt();
      ackedBefore = load.acked.length;

      await until('a client answered 503 during the outage', async () => load.clients.some((c) => c.statuses.includes(503)));
      // A blob read and a blob upload need storage: 503 UNAVAILABLE with Retry-After.
      await expectV2Unavailable(await admin.req('GET', `/v2/admin/base/blobs/${layer.digest}`));
      const blob = randomBlob(2048);
      const start = await admin.req('POST', '/v2/admin/base/blobs/uploads/');
      if (start.status === 202) {
        const loc = start.headers.get('location')!;
        await expectV2Unavailable(
          await admin.req('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${blob.digest}`, {
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
            body: blob.data,
          }),
        );
      } else {
        await expectV2Unavailable(start);
      }
      expect((await admin.req('HEAD', `/v2/admin/base/blobs/${blob.digest}`)).status).toBe(404);
      // What lives in the database alone still answers: the manifest of a pushed image.
      expect((await admin.req('GET', `/v2/admin/base/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status).toBe(200);

      await resumeUnderLoad(load, () => s3svc.resume(), ackedBefore);
    } finally {
      await load.stop();
    }

    expectSameProcess(reg, pid);
    const all = expectOnly503(load.clients);
    await expectAckedComplete(admin, load.acked);
    // Nothing half-written is visible: every blob the database shows is complete in storage and hashes to its name.
    const s3 = s3Client(bucket);
    const db = new pg.Client({ connectionString: dbUri });
    await db.connect();
    let checked = 0;
    try {
      const blobs = await db.query<{ digest: string; size: string }>('SELECT digest, size FROM blob');
      for (const b of blobs.rows) {
        const key = `registry/sha256/${b.digest.slice(7, 9)}/${b.digest.slice(7)}`;
        const got = await hashOf((await s3.send(new GetObjectCommand({ Bucket: bucket.bucket, Key: key }))).Body as Readable);
        expect(got).toEqual({ digest: b.digest, size: Number(b.size) });
        checked++;
      }
    } finally {
      await db.end();
      s3.destroy();
    }
    console.log(
      `minio outage: ${load.acked.length} pushes acknowledged (${ackedBefore} before the outage), ${all.length} responses, ${all.filter((s) => s === 503).length} of them 503, ${load.state.cut} pull bodies cut mid-stream, ${checked} stored blobs verified`,
    );
  });
});

describe("MinIO (S3 storage) gone between an answer's head and its body", () => {
  let s3svc: S3Service;
  let front: FaultFront;
  let reg: RegistryProcess;

  beforeAll(async () => {
    s3svc = await startS3();
    const bucket = await createTestBucket('cut', s3svc);
    front = await startFaultFront(bucket.endpoint, { keepHost: true });
    const config = { DB_URI: await createTestDatabase('s3cut'), ...s3StorageConfig({ ...bucket, endpoint: `http://${front.hostPort}` }), FEATURE_PROXY_STORAGE: true };
    reg = await startRegistry({ label: 's3-cut', config });
  });

  afterAll(async () => {
    await reg?.stop();
    await front?.close();
    await s3svc?.stop();
  });

  test('a blob GET whose storage read is cut before the first byte is a 503 UNAVAILABLE, not a 500', async () => {
    const admin = new V2Client(reg, basicAuth(reg.admin.username, reg.admin.password));
    const image = await admin.pushImage('admin/cut', 'v1', { layers: [randomBlob(64 * 1024)] });
    const layer = image.layers[0];
    front.mode = { kind: 'cut' };
    await expectV2Unavailable(await admin.req('GET', `/v2/admin/cut/blobs/${layer.digest}`));
    front.mode = { kind: 'pass' };
    const again = await admin.req('GET', `/v2/admin/cut/blobs/${layer.digest}`);
    expect({ status: again.status, digest: sha256(Buffer.from(await again.arrayBuffer())) }).toEqual({ status: 200, digest: layer.digest });
  });
});

describe('Redis', () => {
  let redis: RedisService;
  let reg: RegistryProcess;
  let admin: Api;

  beforeAll(async () => {
    redis = await startRedis();
    const config = await scaleOutConfig({
      FEATURE_BUILD_SUPPORT: true,
      BUILD_MANAGER: ['external', {}],
      BUILDLOGS_REDIS: { host: redis.host, port: redis.port },
    });
    reg = await startRegistry({ label: 'redis-outage', config });
    admin = await signin(reg, reg.admin.username, reg.admin.password);
  });

  afterAll(async () => {
    await reg?.stop();
    await redis?.stop();
  });

  test('stopped under pushes and pulls: only build logs and the Redis health line degrade, pushes and pulls never fail', async () => {
    const auth = basicAuth(reg.admin.username, reg.admin.password);
    const v2 = new V2Client(reg, auth);
    const base = await v2.pushImage('admin/base', 'v1');
    // A queued build (no manager runs it here): its logs live in Redis.
    const drop = await admin.ok<{ url: string; file_id: string }>('POST', '/filedrop/', { mimeType: 'text/plain' });
    expect((await fetch(`${reg.url}/userfiles/${drop.file_id}`, { method: 'PUT', body: 'FROM scratch\n' })).status).toBe(200);
    const build = await admin.ok<{ id: string }>('POST', '/repository/admin/base/build/', { file_id: drop.file_id, docker_tags: ['built'] });
    const logsPath = `/repository/admin/base/build/${build.id}/logs`;
    expect((await admin.get(logsPath)).status).toBe(200);
    const pid = reg.process.pid;
    const load = startLoad(reg, auth, `/v2/admin/base/manifests/${base.digest}`, base.digest);
    let ackedBefore: number;
    try {
      await until('three pushes acknowledged before the outage', async () => load.acked.length >= 3);
      await redis.halt();
      ackedBefore = load.acked.length;

      // What needs Redis says so: the build logs answer 503 (Quay's error JSON), the shared-dependency health check 503.
      await until('the build logs answer 503', async () => (await admin.get(logsPath)).status === 503, 30_000);
      const logs = await admin.get(logsPath);
      expect({ status: logs.status, body: logs.body }).toMatchObject({ status: 503, body: { status: 503, error_type: 'downstream_issue' } });
      const endtoend = await fetch(`${reg.url}/health/endtoend`);
      expect({ status: endtoend.status, body: await endtoend.json() }).toMatchObject({
        status: 503,
        body: { data: { services: { redis: false, database: true, storage: true } } },
      });
      // This instance still serves pushes and pulls, so its own health check (the Deployment's probes) stays 200.
      const instance = await fetch(`${reg.url}/health/instance`);
      expect({ status: instance.status, body: await instance.json() }).toMatchObject({ status: 200, body: { data: { services: { redis: false } } } });
      // Pushes and pulls go on during the outage.
      await until('pushes acknowledged during the outage', async () => load.acked.length >= ackedBefore + 3, 90_000);
      const duringOutage = load.acked.length;

      await redis.resume();
      await until('the build logs answer again', async () => (await admin.get(logsPath)).status === 200, 60_000);
      await until('/health/endtoend healthy again', async () => (await fetch(`${reg.url}/health/endtoend`)).status === 200, 60_000);
      await until('a push acknowledged after the outage', async () => load.acked.length > duringOutage, 60_000);
      console.log(`redis outage: ${load.acked.length} pushes acknowledged (${ackedBefore} before, ${duringOutage - ackedBefore} during the outage)`);
    } finally {
      await load.stop();
    }
    expectSameProcess(reg, pid);
    // Not one error on the push and pull paths.
    expect(load.clients.flatMap((c) => c.statuses).filter((s) => s === 0 || s >= 400)).toEqual([]);
    expect(load.state.cut).toBe(0);
    await expectAckedComplete(v2, load.acked);
  });
});
