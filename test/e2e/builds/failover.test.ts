/**
 * Manager failure: two registry processes (each runs a build manager) share Postgres, S3 and the Redis
 * orchestrator. A build runs on the first (its worker is in `unpacking`, downloading slowly); the first is
 * SIGKILLed. Its worker loses the heartbeat stream and stops; the job key expires in Redis; the second
 * manager's expiry handler retries the build, leases it again and completes it. The tag is pushed once,
 * `complete` is reached once, and the worker of the dead manager is gone.
 */
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import yaml from 'js-yaml';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { clientSandbox } from '../../setup/tools.js';
import { parseConfig } from '../../../config/index.js';
import { createRuntime, type Runtime } from '../../../registry/runtime.js';
import { agentPidOf, alive, workerPids } from './workers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let a: RegistryProcess | null = null;
let b: RegistryProcess | null = null;
let rt: Runtime | null = null;
let files: Server | null = null;

afterAll(async () => {
  await rt?.close();
  await a?.kill().catch(() => undefined);
  await b?.stop();
  await new Promise((ok) => (files ? files.close(ok) : ok(undefined)));
});

test('SIGKILL of the manager mid-build: retried by the other manager, completed and pushed once', async () => {
  const dir = workDir('builds-failover');
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY payload /payload\n');
  // Incompressible, so that the slow first download takes about a minute.
  writeFileSync(join(ctx, 'payload'), randomBytes(8000).toString('base64'));
  const pack = execFileSync('tar', ['-C', ctx, '-czf', '-', '.']);
  let requests = 0;
  files = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': pack.length });
    // The first download crawls (the build stays in unpacking); the retry's is immediate.
    if (requests > 1) return void res.end(pack);
    let i = 0;
    const t = setInterval(() => {
      if (res.destroyed || i >= pack.length) {
        clearInterval(t);
        res.end();
        return;
      }
      res.write(pack.subarray(i, i + 32));
      i += 32;
    }, 200);
  });
  await new Promise<void>((ok) => files!.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(files.address() as { port: number }).port}/pack.tgz`;
  const config = await scaleOutConfig({
    ...(await localBuildsConfig({ setupTime: 30 })),
    SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
  });
  const sandbox = clientSandbox('builds-failover-worker');
  const env = {
    WORKERS: '1',
    ...buildWorkerEnv(sandbox),
  };
  a = await startRegistry({ label: 'builds-failover-a', config, env });
  const parsed = parseConfig(yaml.dump({ SERVER_HOSTNAME: a.hostPort, ...config }));
  rt = await createRuntime(parsed.config, join(dir, 'data'), pino({ level: 'silent' }));
  const admin = await signin(a, a.admin.username, a.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  const target = await rt.repositories.lookup({ namespace: 'acme', name: 'app' } as never);
  const build = await rt.builds.startBuild({ repository: { id: target.repo!.id, namespace: 'acme', name: 'app' }, displayName: 'failover', archiveUrl: url, dockerTags: ['once'] });

  const until = async (what: string, ok: () => Promise<boolean>, ms: number) => {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end)
        throw new Error(`${what} within ${ms} ms; build ${(await rt!.builds.getBuild(build.uuid))?.phase}\nA:\n${a?.output().slice(-2000)}\nB:\n${b?.output().slice(-3000)}`);
      await sleep(300);
    }
  };
  await until('the build unpacks on A', async () => (await rt!.builds.getBuild(build.uuid))?.phase === 'unpacking', 120_000);
  // The second replica (its own address; same database, storage and orchestrator).
  b = await startRegistry({ label: 'builds-failover-b', config, env });
  const firstAgent = await agentPidOf(rt, build.uuid);
  const firstWorkers = workerPids(build.uuid, firstAgent);
  expect(firstWorkers).toContain(firstAgent);
  await a.kill();
  // The orphaned worker notices that its manager is gone and stops.
  await until('the first worker stops', async () => firstWorkers.every((p) => !alive(p)), 30_000);
  await until('the build completes on B', async () => ['complete', 'error'].includes((await rt!.builds.getBuild(build.uuid))?.phase ?? ''), 240_000);
  expect((await rt.builds.getBuild(build.uuid))?.phase).toBe('complete');
  const phases = (await rt.builds.readBuildLogs(build.uuid, 0))!.logs.filter((l) => l.type === 'phase').map((l) => l.message);
  expect(phases.filter((p) => p === 'complete')).toHaveLength(1);
  expect(phases.filter((p) => p === 'pushing')).toHaveLength(1);
  expect(phases).toContain('internalerror');
  const tags = await rt.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tag WHERE repository_id = $1 AND name = 'once'", [target.repo!.id]);
  expect(tags.rows[0].n).toBe(1);
  expect(requests).toBe(2);
}, 420_000);
