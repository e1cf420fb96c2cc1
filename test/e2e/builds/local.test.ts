/**
 * Builds end to end on the local (popen) executor: the registry process (Postgres, S3, Redis build logs and
 * Redis orchestrator) runs the build manager in `serve`; each build's worker is the real builder agent, which
 * registers over gRPC, fetches the pack from an archive URL served by this test, builds with buildah (vfs,
 * chroot) and pushes with the build's token. Builds are started through model/builds.ts (the REST routes are
 * builds-api's). Checked: the pushed image pulled back with podman and its files; a failing RUN ends in
 * `error` with the log line; a cancel mid-build ends in `cancelled` with the worker process gone; a bare
 * Dockerfile; hostile archives refused with a clear log line; gRPC calls with a foreign or wrong-type JWT
 * are UNAUTHENTICATED.
 */
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import yaml from 'js-yaml';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, generateKeyPair } from 'jose';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { parseConfig } from '../../../config/index.js';
import { createRuntime, type Runtime } from '../../../registry/runtime.js';
import { buildManagerService } from '../../../registry/build/proto.js';
import { BuildJwts } from '../../../registry/build/jwt.js';
import type { BuildRow } from '../../../registry/model/builds.js';
import { agentPidOf, groupMembers, workerPids } from './workers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let reg: RegistryProcess;
let rt: Runtime;
let files: Server;
let filesUrl: string;
const served = new Map<string, { body: Buffer; type?: string; slowMs?: number }>();
let repo: { id: number; namespace: string; name: string };
let dir: string;

function tgz(name: string, content: Record<string, string>): Buffer {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  for (const [p, text] of Object.entries(content)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), text);
  }
  return execFileSync('tar', ['-C', d, '-czf', '-', '.']);
}

async function waitPhase(uuid: string, phases: string[], timeoutMs = 240_000): Promise<BuildRow> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const b = await rt.builds.getBuild(uuid);
    if (b && phases.includes(b.phase)) return b;
    if (Date.now() > end) throw new Error(`build ${uuid} is ${b?.phase}, not ${phases.join('/')} after ${timeoutMs} ms\n${reg.output().slice(-3000)}`);
    await sleep(250);
  }
}

async function logText(uuid: string): Promise<string> {
  return (await rt.builds.readBuildLogs(uuid, 0))!.logs.map((l) => `${l.type ?? ''}: ${l.message}`).join('\n');
}

function build(url: string, extra: Record<string, unknown> = {}) {
  return rt.builds.startBuild({ repository: repo, displayName: 'e2e', archiveUrl: url, manualUser: { name: 'admin' }, ...extra });
}

beforeAll(async () => {
  dir = workDir('builds-e2e');
  files = createServer((req, res) => {
    const f = served.get(req.url ?? '');
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f.type ?? 'application/octet-stream', 'content-length': f.body.length });
    if (!f.slowMs) return void res.end(f.body);
    // A slow download keeps the build in `unpacking` (cancellation test).
    let i = 0;
    const t = setInterval(() => {
      if (res.destroyed || i >= f.body.length) {
        clearInterval(t);
        res.end();
        return;
      }
      res.write(f.body.subarray(i, i + 64));
      i += 64;
    }, f.slowMs);
  });
  await new Promise<void>((ok) => files.listen(0, '127.0.0.1', ok));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  const config = await scaleOutConfig({
    ...(await localBuildsConfig({ workers: 2, prefix: 'buildman/test/' })),
    SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
  });
  const sandbox = clientSandbox('builds-worker');
  reg = await startRegistry({
    label: 'builds-local',
    config,
    env: {
      ...buildWorkerEnv(sandbox),
    },
  });
  const parsed = parseConfig(yaml.dump({ SERVER_HOSTNAME: reg.hostPort, ...config }));
  expect(parsed.errors).toEqual([]);
  rt = await createRuntime(parsed.config, join(dir, 'data'), pino({ level: 'silent' }));
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  const target = await rt.repositories.lookup({ namespace: 'acme', name: 'app' } as never);
  repo = { id: target.repo!.id, namespace: 'acme', name: 'app' };
}, 180_000);

afterAll(async () => {
  await rt?.close();
  await reg?.stop();
  await new Promise((ok) => files?.close(ok));
});

test('multi-stage FROM scratch with COPY, ADD and COPY --from from an archive URL: pushed with every tag, pulled back with podman', async () => {
  served.set('/multi.tgz', {
    type: 'application/gzip',
    body: tgz('multi', {
      Dockerfile: 'FROM scratch AS first\nCOPY a.txt /stage/a.txt\nFROM scratch\nCOPY --from=first /stage/a.txt /copied.txt\nCOPY hello.txt /hello.txt\nADD sub/ /added/\n',
      'a.txt': 'from the first stage\n',
      'hello.txt': 'hello from a build\n',
      'sub/deep.txt': 'added directory\n',
    }),
  });
  const b = await build(`${filesUrl}/multi.tgz`, { dockerTags: ['v1', 'latest'] });
  const done = await waitPhase(b.uuid, ['complete', 'error', 'internalerror']);
  expect({ phase: done.phase, logs: done.phase === 'complete' ? '' : await logText(b.uuid) }).toEqual({ phase: 'complete', logs: '' });
  const phases = (await rt.builds.readBuildLogs(b.uuid, 0))!.logs.filter((l) => l.type === 'phase').map((l) => l.message);
  expect(phases).toEqual(['build-scheduled', 'unpacking', 'pulling', 'building', 'pushing', 'complete']);
  // The build's token no longer works.
  expect(await rt.auth.basic('$token', (await rt.builds.pushToken(b.uuid))!)).toBeNull();

  const c = clientSandbox('builds-pull');
  await c.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
  for (const tag of ['v1', 'latest']) await c.run('podman', ['pull', ...INSECURE.podman, `${reg.hostPort}/acme/app:${tag}`]);
  await c.run('podman', ['create', '--name', 'x', `${reg.hostPort}/acme/app:v1`, '/none']);
  const out = join(c.dir, 'fs.tar');
  await c.run('podman', ['export', '-o', out, 'x']);
  const listing = execFileSync('tar', ['-tf', out]).toString();
  expect(listing).toMatch(/copied\.txt/);
  expect(listing).not.toMatch(/stage\/a\.txt/);
  const fs = join(c.dir, 'fs');
  mkdirSync(fs);
  execFileSync('tar', ['-xf', out, '-C', fs]);
  expect(readFileSync(join(fs, 'copied.txt'), 'utf8')).toBe('from the first stage\n');
  expect(readFileSync(join(fs, 'hello.txt'), 'utf8')).toBe('hello from a build\n');
  expect(readFileSync(join(fs, 'added/deep.txt'), 'utf8')).toBe('added directory\n');
}, 300_000);

test('a failing RUN ends in error with the buildah log line; a bare Dockerfile is built', async () => {
  served.set('/Dockerfile.fail', { type: 'text/plain', body: Buffer.from('FROM scratch\nRUN false\n') });
  served.set('/Dockerfile.ok', { body: Buffer.from('FROM scratch\nLABEL built=bare\n') });
  const bad = await build(`${filesUrl}/Dockerfile.fail`);
  const good = await build(`${filesUrl}/Dockerfile.ok`, { repository: { ...repo }, dockerTags: ['bare'] });
  const failed = await waitPhase(bad.uuid, ['complete', 'error', 'internalerror']);
  expect(failed.phase).toBe('error');
  const text = await logText(bad.uuid);
  expect(text).toMatch(/RUN false/);
  expect(text).toMatch(/^error: .*buildah bud failed/m);
  const ok = await waitPhase(good.uuid, ['complete', 'error', 'internalerror']);
  expect({ phase: ok.phase, logs: ok.phase === 'complete' ? '' : await logText(good.uuid) }).toEqual({ phase: 'complete', logs: '' });
}, 300_000);

test('cancel mid-build: cancelled, and the worker process is gone', async () => {
  served.set('/slow.tgz', { type: 'application/gzip', slowMs: 100, body: tgz('slow', { Dockerfile: 'FROM scratch\nCOPY big /big\n', big: 'x'.repeat(200_000) }) });
  const b = await build(`${filesUrl}/slow.tgz`);
  await waitPhase(b.uuid, ['unpacking'], 120_000);
  const agent = await agentPidOf(rt, b.uuid);
  expect(workerPids(b.uuid, agent)).toContain(agent);
  expect(await rt.builds.cancelBuild(b.uuid)).toBe(true);
  expect((await rt.builds.getBuild(b.uuid))?.phase).toBe('cancelled');
  const end = Date.now() + 20_000;
  while ((workerPids(b.uuid, agent).length > 0 || groupMembers(agent).length > 0) && Date.now() < end) await sleep(200);
  expect({ workers: workerPids(b.uuid, agent), group: groupMembers(agent) }).toEqual({ workers: [], group: [] });
  await sleep(1000);
  expect((await rt.builds.getBuild(b.uuid))?.phase).toBe('cancelled');
}, 300_000);

test('hostile packs: traversal, absolute path, escaping symlink, unknown type -> error with the reason', async () => {
  const evil = join(dir, 'evil');
  rmSync(evil, { recursive: true, force: true });
  mkdirSync(evil, { recursive: true });
  writeFileSync(join(evil, 'Dockerfile'), 'FROM scratch\n');
  const cases: Array<[string, Buffer, string, RegExp]> = [
    ['/traversal.tar', execFileSync('tar', ['-C', evil, '-cf', '-', '--transform', 's,^,../,', 'Dockerfile']), 'application/x-tar', /leaves the build context/],
    ['/absolute.tar', execFileSync('tar', ['-C', evil, '-cPf', '-', '--transform', 's,^,/tmp/,', 'Dockerfile']), 'application/x-tar', /absolute path/],
    [
      '/link.tgz',
      (() => {
        execFileSync('ln', ['-sf', '/etc', join(evil, 'etc')]);
        const t = execFileSync('tar', ['-C', evil, '-czf', '-', 'Dockerfile', 'etc']);
        rmSync(join(evil, 'etc'));
        return t;
      })(),
      'application/gzip',
      /points to an absolute path/,
    ],
    ['/image.png', Buffer.from('\x89PNG\r\n'), 'image/png', /Unknown build pack type image\/png/],
  ];
  const builds = [];
  for (const [path, body, type] of cases) {
    served.set(path, { body, type });
    builds.push(await build(`${filesUrl}${path}`));
  }
  for (let i = 0; i < cases.length; i++) {
    const b = await waitPhase(builds[i].uuid, ['complete', 'error', 'internalerror']);
    expect(b.phase).toBe('error');
    expect(await logText(builds[i].uuid)).toMatch(cases[i][3]);
  }
}, 300_000);

test('gRPC: Ping answers; a foreign, expired or wrong-type JWT is UNAUTHENTICATED', async () => {
  const port = Number(/"grpcPort":(\d+)/.exec(reg.output())?.[1]);
  expect(port).toBeGreaterThan(0);
  const Service = buildManagerService();
  const client = new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
  > &
    grpc.Client;
  const call = (method: string, req: unknown) => new Promise<{ err: grpc.ServiceError | null; res: unknown }>((ok) => client[method](req, (err, res) => ok({ err, res })));
  expect((await call('Ping', {})).res).toEqual({ reply: 'pong' });
  const { privateKey } = await generateKeyPair('ES256');
  const now = Math.floor(Date.now() / 1000);
  const context = { token_type: 'build_job_registration', build_id: '00000000-0000-0000-0000-000000000000', job_id: 'x', expiration: now + 60 };
  const foreign = await new SignJWT({ access: {}, context })
    .setProtectedHeader({ alg: 'ES256', kid: 'not-ours' })
    .setIssuer('quay')
    .setAudience(reg.hostPort)
    .setSubject('(anonymous)')
    .setExpirationTime(now + 60)
    .sign(privateKey);
  const jwts = new BuildJwts(rt.db, reg.hostPort);
  const expired = await jwts.sign('build_job_registration', context.build_id, 'x', -120);
  const wrongType = await jwts.sign('build_job_token', context.build_id, 'x', 60);
  for (const jwt of [foreign, expired, wrongType, 'garbage']) {
    const r = await call('RegisterBuildJob', { register_jwt: jwt });
    expect(r.err?.code).toBe(grpc.status.UNAUTHENTICATED);
  }
  for (const jwt of [foreign, expired, 'garbage']) {
    const r = await call('SetPhase', { job_jwt: jwt, sequence_number: 1, phase: 'BUILDING' });
    expect(r.err?.code).toBe(grpc.status.UNAUTHENTICATED);
  }
  // A valid registration token for a job that does not exist: INTERNAL, not a pack.
  const valid = await jwts.sign('build_job_registration', context.build_id, 'buildman/test/building/none', 60);
  expect((await call('RegisterBuildJob', { register_jwt: valid })).err?.code).toBe(grpc.status.INTERNAL);
  client.close();
}, 60_000);

test('gRPC DetermineCachedTag: the first of the build\'s tags the repository has, else its newest tag, else ""', async () => {
  const port = Number(/"grpcPort":(\d+)/.exec(reg.output())?.[1]);
  const Service = buildManagerService();
  const client = new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
  > &
    grpc.Client;
  const call = (req: unknown) => new Promise<{ err: grpc.ServiceError | null; res: unknown }>((ok) => client.DetermineCachedTag(req, (err, res) => ok({ err, res })));
  // The builds above pushed tags to acme/app; the newest is the fallback.
  const tags = (await rt.db.query<{ name: string }>('SELECT name FROM tag WHERE repository_id = $1 AND end_ms IS NULL ORDER BY start_ms DESC, id DESC', [repo.id])).rows.map(
    (r) => r.name,
  );
  expect(tags.length).toBeGreaterThan(1);
  const empty = await rt.repositories.create((await rt.namespaces.byName('acme'))!.id, 'empty', { visibility: 'private' });
  const jwts = new BuildJwts(rt.db, reg.hostPort);
  // Build rows without queue items: nothing schedules them, only their tags matter here.
  const ask = async (repositoryId: number, dockerTags: string[]) => {
    const r = await rt.db.query<{ uuid: string }>(
      "INSERT INTO repository_build (repository_id, display_name, job_config, phase) VALUES ($1, 'cache', $2, 'cancelled') RETURNING uuid::text AS uuid",
      [repositoryId, JSON.stringify({ docker_tags: dockerTags })],
    );
    const jwt = await jwts.sign('build_job_token', r.rows[0].uuid, `buildman/test/building/${r.rows[0].uuid}`, 60);
    return call({ job_jwt: jwt, base_image_name: 'scratch', base_image_tag: '', base_image_id: '' });
  };
  const oldest = tags[tags.length - 1];
  expect((await ask(repo.id, ['absent', oldest, tags[0]])).res).toEqual({ CachedTag: oldest });
  expect((await ask(repo.id, ['absent'])).res).toEqual({ CachedTag: tags[0] });
  expect((await ask(empty.repo.id, ['latest'])).res).toEqual({ CachedTag: '' });
  expect((await call({ job_jwt: 'garbage' })).err?.code).toBe(grpc.status.UNAUTHENTICATED);
  client.close();
}, 60_000);

test('pull_robot: FROM a private image of this registry builds with the robot, and fails clearly without it', async () => {
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'base', visibility: 'private', description: '' });
  await admin.ok('PUT', '/organization/acme/robots/puller', { description: 'base image puller' });
  await admin.ok('PUT', '/repository/acme/base/permissions/user/acme+puller', { role: 'read' });
  // The private base image, built and pushed by hand.
  const c = clientSandbox('builds-base');
  const ctx = join(c.dir, 'base');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY base.txt /base.txt\n');
  writeFileSync(join(ctx, 'base.txt'), 'from the private base\n');
  const base = `${reg.hostPort}/acme/base:1`;
  await c.run('buildah', ['bud', '--isolation', 'chroot', '-t', base, ctx]);
  await c.run('buildah', ['push', ...INSECURE.buildah, '--creds', `${reg.admin.username}:${reg.admin.password}`, base, `docker://${base}`]);

  served.set('/on-base.tgz', { type: 'application/gzip', body: tgz('on-base', { Dockerfile: `FROM ${base}\nCOPY app.txt /app.txt\n`, 'app.txt': 'app\n' }) });
  const request = (extra: Record<string, unknown>) =>
    admin.ok<{ id: string; pull_robot: unknown }>('POST', '/repository/acme/app/build/', { archive_url: `${filesUrl}/on-base.tgz`, docker_tags: ['on-base'], ...extra });
  const withRobot = await request({ pull_robot: 'acme+puller' });
  expect(withRobot.pull_robot).toMatchObject({ name: 'acme+puller', is_robot: true });
  const ok = await waitPhase(withRobot.id, ['complete', 'error', 'internalerror']);
  expect({ phase: ok.phase, logs: ok.phase === 'complete' ? '' : await logText(withRobot.id) }).toEqual({ phase: 'complete', logs: '' });

  const without = await request({});
  const failed = await waitPhase(without.id, ['complete', 'error', 'internalerror']);
  expect(failed.phase).toBe('error');
  const text = await logText(without.id);
  expect(text).toMatch(/^error: buildah bud failed/m);
  expect(text).toMatch(new RegExp(`${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*(unauthorized|denied|authentication required)`, 'i'));
}, 300_000);
