/**
 * The build model against real Postgres, Redis (BUILDLOGS_REDIS) and S3 (MinIO): startBuild's one
 * transaction (row, inert push token, dockerfilebuild item, build_queued), the namespace limit under
 * concurrency, the push token valid only while scheduled and only on its repository, phases compare-and-set
 * with final phases sticky, the completion's queue settlement per result, cancellation, log paging in Redis
 * and archiving to S3.
 */
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { parseConfig } from '../../../config/index.js';
import { createRuntime, type Runtime } from '../../../registry/runtime.js';
import { toApiError } from '../../../registry/http/api/errors.js';
import { cleanupUploads } from '../../../registry/workers/upload_cleanup.js';
import { BUILD_QUEUE, BuildQueueFullError, sanitizeTag, type BuildRow } from '../../../registry/model/builds.js';
import { createTestBucket, createTestDatabase, createTestRedisUrl, dropTestDatabase } from '../../setup/services.js';

let rt: Runtime;
let dbUri: string;
let redisUrl: string;
let redis: Redis;
let dataDir: string;
let repo: { id: number; namespace: string; name: string };
let other: { id: number; namespace: string; name: string };
let nsId: number;

async function queued(event: string): Promise<Array<{ event_data: Record<string, unknown> }>> {
  const r = await rt.db.query<{ body: { event: string; event_data: Record<string, unknown> } }>("SELECT body FROM queue_item WHERE queue_name = 'notification' ORDER BY id");
  return r.rows.map((x) => x.body).filter((b) => b.event === event);
}

async function tokenPrincipal(build: BuildRow) {
  const code = await rt.builds.pushToken(build.uuid);
  expect(code).toBeTruthy();
  return rt.auth.basic('$token', code!);
}

beforeAll(async () => {
  dbUri = await createTestDatabase('builds-model');
  redisUrl = await createTestRedisUrl();
  const bucket = await createTestBucket('builds-model');
  const u = new URL(bucket.endpoint);
  const r = new URL(redisUrl);
  const { config, errors } = parseConfig(
    JSON.stringify({
      SERVER_HOSTNAME: 'registry.test:8080',
      DB_URI: dbUri,
      FEATURE_BUILD_SUPPORT: true,
      BUILDLOGS_REDIS: { host: r.hostname, port: Number(r.port), db: Number(r.pathname.slice(1)) },
      DISTRIBUTED_STORAGE_CONFIG: {
        s3: [
          'S3Storage',
          {
            host: u.hostname,
            port: Number(u.port),
            is_secure: false,
            s3_bucket: bucket.bucket,
            s3_access_key: bucket.accessKey,
            s3_secret_key: bucket.secretKey,
            s3_region: bucket.region,
            storage_path: '/r',
          },
        ],
      },
      DISTRIBUTED_STORAGE_PREFERENCE: ['s3'],
    }),
  );
  expect(errors).toEqual([]);
  dataDir = mkdtempSync(join(tmpdir(), 'builds-model-'));
  rt = await createRuntime(config, dataDir, pino({ level: 'silent' }));
  redis = new Redis(redisUrl);
  const user = await rt.namespaces.createUser({ name: 'builder', password: null, email: null });
  nsId = user.id;
  const a = await rt.repositories.create(user.id, 'app', { visibility: 'private' });
  const b = await rt.repositories.create(user.id, 'other', { visibility: 'private' });
  repo = { id: a.repo.id, namespace: 'builder', name: 'app' };
  other = { id: b.repo.id, namespace: 'builder', name: 'other' };
  for (const event of ['build_queued', 'build_start', 'build_success', 'build_failure', 'build_cancelled']) {
    await rt.db.query('INSERT INTO repository_notification (repository_id, event, method, config) VALUES ($1, $2, \'webhook\', \'{"url":"http://x"}\')', [repo.id, event]);
  }
});

afterAll(async () => {
  redis?.disconnect();
  await rt?.close();
  rmSync(dataDir, { recursive: true, force: true });
  await dropTestDatabase(dbUri);
});

beforeEach(async () => {
  await rt.db.query('DELETE FROM queue_item');
  await rt.db.query('UPDATE namespace SET maximum_queued_builds_count = NULL');
});

const start = (extra: Partial<Parameters<Runtime['builds']['startBuild']>[0]> = {}) =>
  rt.builds.startBuild({ repository: repo, displayName: 'abc1234', dockerTags: ['latest', 'v1'], manualUser: { name: 'builder' }, ...extra });

test('startBuild: row, queue item, inert push token and build_queued in one transaction', async () => {
  const b = await start({ dockerTags: ['feature/x', '-dash', ''], archiveUrl: 'http://files.test/pack.tgz' });
  expect(b.phase).toBe('waiting');
  expect(b.job_config).toEqual({
    docker_tags: ['feature_x', '_dash', 'latest'],
    registry: 'registry.test:8080',
    build_subdir: '/Dockerfile',
    context: '/',
    trigger_metadata: {},
    is_manual: true,
    manual_user: 'builder',
    archive_url: 'http://files.test/pack.tgz',
  });
  const items = await rt.db.query<{ id: number; path: string; body: Record<string, unknown>; retries_remaining: number }>('SELECT * FROM queue_item WHERE queue_name = $1', [
    BUILD_QUEUE,
  ]);
  expect(items.rows).toHaveLength(1);
  expect(items.rows[0]).toMatchObject({ id: b.queue_id, path: 'builder/app', body: { build_uuid: b.uuid }, retries_remaining: 3 });
  // The token exists but cannot be used before the manager schedules the build.
  expect(await tokenPrincipal(b)).toBeNull();
  const ev = (await queued('build_queued')).find((e) => e.event_data.build_id === b.uuid);
  expect(ev?.event_data).toMatchObject({
    repository: 'builder/app',
    docker_tags: ['feature_x', '_dash', 'latest'],
    is_manual: true,
    manual_user: 'builder',
    repo: 'app',
    namespace: 'builder',
  });
  expect(String(ev?.event_data.homepage)).toMatch(new RegExp(`/repository/builder/app/build/${b.uuid}$`));

  // Inside a caller's transaction that rolls back, nothing of it remains.
  const before = (await rt.db.query<{ n: number }>('SELECT count(*)::int AS n FROM access_token')).rows[0].n;
  await expect(
    rt.db.tx(async (q) => {
      await start({}).catch(() => undefined);
      await rt.builds.startBuild({ repository: repo, displayName: 'rolled' }, q);
      throw new Error('caller fails after the build was created');
    }),
  ).rejects.toThrow('caller fails');
  expect((await rt.db.query("SELECT 1 FROM repository_build WHERE display_name = 'rolled'")).rows).toHaveLength(0);
  expect((await rt.db.query<{ n: number }>('SELECT count(*)::int AS n FROM access_token')).rows[0].n).toBe(before + 1);
});

test('maximum_queued_builds_count: 429 error above it, exact under concurrency', async () => {
  await rt.db.query('UPDATE namespace SET maximum_queued_builds_count = 3 WHERE id = $1', [nsId]);
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => start({ displayName: `c${i}`, repository: i % 2 ? repo : other })));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(rejected).toHaveLength(5);
  for (const r of rejected) {
    expect(r.reason).toBeInstanceOf(BuildQueueFullError);
    expect(toApiError(r.reason).status).toBe(429);
    expect(r.reason.message).toBe('Maximum queued build rate exceeded.');
  }
  // Finishing one frees a slot.
  const [item] = await rt.builds.queue.lease(60);
  const uuid = item.body.build_uuid as string;
  await rt.builds.finishBuild(uuid, 'complete', item);
  await start({ displayName: 'after-free' });
  await expect(start()).rejects.toBeInstanceOf(BuildQueueFullError);
});

test('lifecycle: scheduled token works on its repository only, phases, build_start, completion settles and expires', async () => {
  const b = await start();
  const [item] = await rt.builds.queue.lease(60);
  expect(item.body.build_uuid).toBe(b.uuid);
  expect(await rt.builds.markScheduled(b.uuid, new Date(Date.now() + 600_000))).toBe(true);
  // Again (a retry's scheduling): still true, no second phase log entry (checked at the end).
  expect(await rt.builds.markScheduled(b.uuid, new Date(Date.now() + 600_000))).toBe(true);
  const p = await tokenPrincipal(b);
  expect(p).toMatchObject({ kind: 'token', repositoryId: repo.id, role: 'write', tokenKind: 'build-worker' });
  expect(await rt.permissions.repositoryRole(p!, await rt.repositories.lookup({ namespace: 'builder', name: 'app' } as never))).toBe('write');
  expect(await rt.permissions.repositoryRole(p!, await rt.repositories.lookup({ namespace: 'builder', name: 'other' } as never))).toBeNull();
  for (const phase of ['unpacking', 'pulling', 'building', 'pushing'] as const) expect(await rt.builds.setPhase(b.uuid, phase)).toBe(true);
  expect((await queued('build_start')).filter((e) => e.event_data.build_id === b.uuid)).toHaveLength(1);
  // A repeated phase is a no-op (no second log entry, no event).
  expect(await rt.builds.setPhase(b.uuid, 'pushing')).toBe(true);
  expect((await queued('build_start')).filter((e) => e.event_data.build_id === b.uuid)).toHaveLength(1);

  expect(await rt.builds.finishBuild(b.uuid, 'complete', item)).toEqual({ phase: 'complete', final: true });
  expect((await rt.builds.getBuild(b.uuid))?.phase).toBe('complete');
  expect((await rt.db.query('SELECT 1 FROM queue_item WHERE id = $1', [item.id])).rows).toHaveLength(0);
  expect(await tokenPrincipal(b)).toBeNull();
  expect((await queued('build_success')).map((e) => e.event_data.build_id)).toContain(b.uuid);
  // Final phases are sticky.
  expect(await rt.builds.setPhase(b.uuid, 'building')).toBe(false);
  expect(await rt.builds.finishBuild(b.uuid, 'error', null)).toEqual({ phase: 'complete', final: true });
  expect(await rt.builds.cancelBuild(b.uuid)).toBe(false);
  const logs = await rt.builds.readBuildLogs(b.uuid, 0);
  expect(logs!.logs.filter((l) => l.type === 'phase').map((l) => l.message)).toEqual(['build-scheduled', 'unpacking', 'pulling', 'building', 'pushing', 'complete']);
});

test('error sends build_failure at once; expired retries with the attempt spent, then gives up; internalerror refunds', async () => {
  const e = await start({ displayName: 'err' });
  let [item] = await rt.builds.queue.lease(60);
  expect(await rt.builds.finishBuild(e.uuid, 'error', item, { errorMessage: 'RUN false failed' })).toEqual({ phase: 'error', final: true });
  const failure = (await queued('build_failure')).find((x) => x.event_data.build_id === e.uuid);
  expect(failure?.event_data.error_message).toBe('RUN false failed');

  const x = await start({ displayName: 'exp' });
  [item] = await rt.builds.queue.lease(60);
  expect(item.retries_remaining).toBe(2);
  expect(await rt.builds.finishBuild(x.uuid, 'internalerror', item)).toEqual({ phase: 'internalerror', final: false });
  const row = (
    await rt.db.query<{ retries_remaining: number; wait: number }>(
      'SELECT retries_remaining, extract(epoch FROM available_after - now())::float8 AS wait FROM queue_item WHERE id = $1',
      [item.id],
    )
  ).rows[0];
  expect(row.retries_remaining).toBe(3);
  expect(row.wait).toBeGreaterThan(25);
  for (let left = 2; left >= 0; left--) {
    await rt.db.query('UPDATE queue_item SET available_after = now() WHERE id = $1', [item.id]);
    [item] = await rt.builds.queue.lease(60);
    expect(item.retries_remaining).toBe(left);
    const r = await rt.builds.finishBuild(x.uuid, 'expired', item);
    expect(r).toEqual({ phase: 'internalerror', final: left === 0 });
  }
  expect((await rt.db.query('SELECT 1 FROM queue_item WHERE id = $1', [item.id])).rows).toHaveLength(0);
  expect((await queued('build_failure')).map((f) => f.event_data.build_id)).toContain(x.uuid);
  expect((await rt.builds.getBuild(x.uuid))?.completed_at).not.toBeNull();
});

test('cancel: waiting cancels at once; running signals the manager; pushing refuses', async () => {
  const signalled: string[] = [];
  const saved = rt.builds.cancelSignal;
  rt.builds.cancelSignal = async (uuid) => {
    signalled.push(uuid);
  };
  try {
    const w = await start({ displayName: 'w' });
    expect(await rt.builds.cancelBuild(w.uuid)).toBe(true);
    expect((await rt.builds.getBuild(w.uuid))?.phase).toBe('cancelled');
    expect((await rt.db.query('SELECT 1 FROM queue_item WHERE id = $1', [w.queue_id])).rows).toHaveLength(0);
    expect(signalled).toEqual([]);
    expect((await queued('build_cancelled')).map((e) => e.event_data.build_id)).toContain(w.uuid);

    const run = await start({ displayName: 'run' });
    const [item] = await rt.builds.queue.lease(60);
    await rt.builds.markScheduled(run.uuid, new Date(Date.now() + 600_000));
    await rt.builds.setPhase(run.uuid, 'building');
    expect(await rt.builds.cancelBuild(run.uuid)).toBe(true);
    expect(signalled).toEqual([run.uuid]);
    expect(await tokenPrincipal(run)).toBeNull();
    // Scheduling it again (a manager that leased it before the cancel) is refused and leaves the token expired.
    expect(await rt.builds.markScheduled(run.uuid, new Date(Date.now() + 600_000))).toBe(false);
    expect(await tokenPrincipal(run)).toBeNull();
    expect((await rt.builds.getBuild(run.uuid))?.phase).toBe('cancelled');
    // The worker is turned away; the manager's completion keeps the phase.
    expect(await rt.builds.setPhase(run.uuid, 'pushing')).toBe(false);
    expect(await rt.builds.finishBuild(run.uuid, 'complete', item)).toEqual({ phase: 'cancelled', final: true });

    const push = await start({ displayName: 'push' });
    await rt.builds.queue.lease(60);
    await rt.builds.setPhase(push.uuid, 'pushing');
    expect(await rt.builds.cancelBuild(push.uuid)).toBe(false);
    expect((await rt.builds.getBuild(push.uuid))?.phase).toBe('pushing');
    expect(await rt.builds.cancelBuild('not-a-uuid')).toBe(false);
  } finally {
    rt.builds.cancelSignal = saved;
  }
});

test('the cancel signal is the orchestrator key cancel/<uuid>', async () => {
  const b = await start({ displayName: 'sig' });
  await rt.builds.queue.lease(60);
  await rt.builds.setPhase(b.uuid, 'unpacking');
  // The runtime's orchestrator is in memory here (no ORCHESTRATOR): the key is readable through it.
  expect(await rt.builds.cancelBuild(b.uuid)).toBe(true);
  expect(await rt.buildOrchestrator!.get(`cancel/${b.uuid}`)).toBe(b.uuid);
});

test('logs: paged from Redis with start, archived gzipped to S3, then read from the archive', async () => {
  // Builds finished by the tests above are archived first.
  await rt.builds.archivePending(1000);
  const b = await start({ displayName: 'logs' });
  const lines = Array.from({ length: 2500 }, (_, i) => ({ message: `line ${i}`, data: { datetime: 'x' } }));
  await rt.builds.appendLog(b.uuid, lines.slice(0, 1000));
  await rt.builds.appendLog(b.uuid, lines.slice(1000));
  expect(await redis.ttl(`builds/${b.uuid}/logs`)).toBeGreaterThan(6 * 24 * 3600);
  const page = await rt.builds.readBuildLogs(b.uuid, 2498);
  expect(page).toEqual({ start: 2498, total: 2500, logs: lines.slice(2498) });
  // Not finished: not archived by the sweep.
  expect(await rt.builds.archivePending()).toBe(0);
  const [item] = await rt.builds.queue.lease(60);
  await rt.builds.finishBuild(b.uuid, 'error', item);
  expect(await rt.builds.archivePending()).toBe(1);
  expect(await redis.exists(`builds/${b.uuid}/logs`)).toBe(0);
  const row = await rt.builds.getBuild(b.uuid);
  expect(row?.logs_archived).toBe(true);
  expect(row?.logs_archive_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  // In the file area, not among the content-addressed blobs.
  expect(await rt.store.exists(row!.logs_archive_digest!)).toBe(false);
  const archived = await rt.builds.readBuildLogs(b.uuid, 0);
  expect(archived!.total).toBe(2501);
  expect(archived!.logs.slice(0, 2500)).toEqual(lines);
  expect(archived!.logs[2500]).toMatchObject({ type: 'phase', message: 'error' });
  expect((await rt.builds.readBuildLogs(b.uuid, 2500))!.logs).toHaveLength(1);
  expect(await rt.builds.archiveLogs(b.uuid)).toBe(false);
});

test('an archived log survives GC of an unreferenced image blob with the same bytes', async () => {
  const b = await start({ displayName: 'gc' });
  await rt.builds.appendLog(b.uuid, [{ message: 'kept after gc', data: { datetime: 'x' } }]);
  const [item] = await rt.builds.queue.lease(60);
  await rt.builds.finishBuild(b.uuid, 'complete', item);
  expect(await rt.builds.archiveLogs(b.uuid)).toBe(true);
  const { logs_archive_digest: digest } = (await rt.builds.getBuild(b.uuid))!;
  // Someone pushes the archive's bytes as a layer, which nothing references any more: GC frees that blob.
  const chunks: Buffer[] = [];
  for await (const c of (await rt.builds.logArchive(b.uuid))!) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  const uploadId = randomUUID();
  const segment = randomUUID();
  await rt.store.writeSegment(uploadId, segment, Readable.from([bytes]));
  await rt.store.commitUpload(uploadId, [{ id: segment, size: bytes.length }], digest!);
  await rt.store.deleteUpload(uploadId);
  await rt.db.query('INSERT INTO blob (digest, size) VALUES ($1, $2)', [digest, bytes.length]);
  const report = await rt.gc.run();
  expect(report.blobs).toBeGreaterThanOrEqual(1);
  expect(await rt.store.exists(digest!)).toBe(false);

  const archived = await rt.builds.readBuildLogs(b.uuid, 0);
  expect(archived!.logs[0]).toMatchObject({ message: 'kept after gc' });
});

test('a refused filedrop upload leaves no bytes behind', async () => {
  const id = await rt.userfiles.prepare('application/gzip', nsId);
  // The client said 100 bytes and sent 10: refused after the store took them.
  await expect(rt.userfiles.upload(id, Readable.from([Buffer.alloc(10, 1)]), 100)).rejects.toThrow('received 10 bytes, expected 100');
  await expect(rt.store.readFile(`userfiles/${id}`)).rejects.toThrow();
  // The slot takes a new, correct upload.
  expect((await rt.userfiles.upload(id, Readable.from([Buffer.alloc(10, 2)]), 10)).size).toBe(10);
});

test('upload cleanup removes filedrop files no build names, keeps the ones a build names', async () => {
  const upload = async () => {
    const id = await rt.userfiles.prepare('text/plain', nsId);
    await rt.userfiles.upload(id, Readable.from([Buffer.from(`FROM scratch\n# ${id}\n`)]), null);
    return id;
  };
  const used = await upload();
  const unused = await upload();
  const neverUploaded = await rt.userfiles.prepare('text/plain', nsId);
  await start({ resourceKey: used });
  const fresh = await upload();
  // Files younger than the threshold stay whatever they are.
  await rt.db.query("UPDATE userfile SET created_at = created_at - interval '1 hour' WHERE uuid = ANY($1::uuid[])", [[used, unused, neverUploaded]]);
  const removed = await cleanupUploads(rt, 30 * 60 * 1000);
  expect(removed.userfiles).toBe(2);
  for (const gone of [unused, neverUploaded]) {
    expect(await rt.userfiles.get(gone)).toBeNull();
    await expect(rt.store.readFile(`userfiles/${gone}`)).rejects.toThrow();
  }
  for (const kept of [used, fresh]) {
    const opened = (await rt.userfiles.open(kept))!;
    const chunks: Buffer[] = [];
    for await (const c of opened.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toContain(kept);
  }
});

test('getBuild / listBuilds: newest first with limit, unknown or malformed uuid is null', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await start({ displayName: `l${i}`, repository: other })).uuid);
  const list = await rt.builds.listBuilds(other.id, { limit: 2 });
  expect(list.map((b) => b.uuid)).toEqual([ids[2], ids[1]]);
  expect(list[0]).toMatchObject({ namespace: 'builder', repository: 'other', display_name: 'l2' });
  expect(await rt.builds.getBuild('00000000-0000-0000-0000-000000000000')).toBeNull();
  expect(await rt.builds.getBuild("x' OR 1=1 --")).toBeNull();
});

test('sanitizeTag follows Quay', () => {
  expect(sanitizeTag('')).toBe('latest');
  expect(sanitizeTag('feature/x')).toBe('feature_x');
  expect(sanitizeTag('.hidden')).toBe('_hidden');
  expect(sanitizeTag('v1.2-rc')).toBe('v1.2-rc');
  expect(sanitizeTag('a'.repeat(200))).toHaveLength(127);
});
