/**
 * The standalone `buildmanager` role and ACCOUNT_RECOVERY_MODE (issue 13): like `serve`'s background workers,
 * a build manager started in that mode schedules nothing. A queued build stays `waiting` (and its gRPC port is
 * never opened) while a recovery-mode manager runs; the same manager started without the flag schedules it.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import yaml from 'js-yaml';
import { localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../api/fixture.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../../setup/procs.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { parseConfig } from '../../../config/index.js';
import { createRuntime, type Runtime } from '../../../registry/runtime.js';
import { BUILD_QUEUE } from '../../../registry/model/builds.js';

let reg: RegistryProcess | null = null;
let rt: Runtime | null = null;
let archive: Server | null = null;
const managers: ManagedProcess[] = [];

afterAll(async () => {
  for (const m of managers) await m.stop();
  await rt?.close();
  await reg?.stop();
  archive?.closeAllConnections();
  await new Promise((ok) => (archive ? archive.close(ok) : ok(undefined)));
});

const portOpen = (port: number) =>
  new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });

/** `main.js buildmanager` with `config`; resolves once its health check answers 200. */
async function startManager(label: string, config: Record<string, unknown>, grpcPort: number): Promise<{ proc: ManagedProcess; logFile: string }> {
  const dir = workDir(label);
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml.dump(config));
  const port = await freePort();
  const logFile = join(dir, 'buildmanager.log');
  const proc = startProcess({
    name: label,
    bin: process.execPath,
    args: [
      join(REPO_ROOT, 'dist/registry/main.js'),
      'buildmanager',
      '--config',
      configPath,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--grpc-port',
      String(grpcPort),
      '--data-dir',
      join(dir, 'data'),
    ],
    logFile,
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  managers.push(proc);
  await waitUntil(proc, `${label} health`, async () => (await fetch(`http://127.0.0.1:${port}/health/instance`).catch(() => null))?.status === 200, 120_000);
  return { proc, logFile };
}

test('a buildmanager in ACCOUNT_RECOVERY_MODE schedules no build; without it the same build is scheduled', async () => {
  // The build's archive never arrives: the control's worker stays early in its build until it is stopped.
  archive = createServer(() => undefined);
  await new Promise<void>((ok) => archive!.listen(0, '127.0.0.1', ok));
  const config = await scaleOutConfig({
    ...(await localBuildsConfig({ setupTime: 30 })),
    SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
  });
  // The web registry schedules no builds itself: only the buildmanager processes below may.
  reg = await startRegistry({ label: 'bm-recovery-web', config, env: { BUILDMAN_IN_SERVE: 'false' } });
  const fullConfig = { SERVER_HOSTNAME: reg.hostPort, ...config };
  rt = await createRuntime(parseConfig(yaml.dump(fullConfig)).config, join(workDir('bm-recovery-rt'), 'data'), pino({ level: 'silent' }));
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  const target = await rt.repositories.lookup({ namespace: 'acme', name: 'app' } as never);
  const build = await rt.builds.startBuild({
    repository: { id: target.repo!.id, namespace: 'acme', name: 'app' },
    displayName: 'recovery',
    archiveUrl: `http://127.0.0.1:${(archive.address() as { port: number }).port}/pack.tgz`,
    dockerTags: ['latest'],
  });
  const attempts = async () => (await rt!.db.query<{ attempts: number }>('SELECT attempts FROM queue_item WHERE queue_name = $1', [BUILD_QUEUE])).rows.map((r) => r.attempts);

  const grpcPort = await freePort();
  const recovery = await startManager('bm-recovery', { ...fullConfig, ACCOUNT_RECOVERY_MODE: true }, grpcPort);
  // Its work loop would have run before the health check answered (the HTTP listener opens after the manager
  // started); it never opened the workers' gRPC port and took nothing from the queue.
  await waitUntil(recovery.proc, 'the recovery-mode manager logged its state', async () => readFileSync(recovery.logFile, 'utf8').includes('build manager listening'));
  expect(await portOpen(grpcPort)).toBe(false);
  expect((await rt.builds.getBuild(build.uuid))?.phase).toBe('waiting');
  expect(await attempts()).toEqual([0]);
  expect(readFileSync(recovery.logFile, 'utf8')).toContain('off (ACCOUNT_RECOVERY_MODE)');
  await recovery.proc.stop();

  // Control: the same manager without the flag takes the build.
  const normal = await startManager('bm-normal', fullConfig, grpcPort);
  await waitUntil(normal.proc, 'the build is scheduled', async () => (await rt!.builds.getBuild(build.uuid))?.phase !== 'waiting', 120_000);
  expect(await portOpen(grpcPort)).toBe(true);
}, 300_000);
