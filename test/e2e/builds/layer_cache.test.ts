/**
 * The builder agent's layer cache (executor LAYER_CACHE: true) on the local executor with real buildah: the
 * first build pushes every step's image under buildah's cache key into the build's repository; a second
 * build of the unchanged Dockerfile (a fresh worker with empty storage) asks DetermineCachedTag, pulls each
 * step from the registry instead of running it and pushes the very same image (same manifest digest: a
 * rebuilt image would differ at least in its creation time); a changed file reruns only the steps from it on.
 */
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { clientSandbox } from '../../setup/tools.js';
import { buildLogText, waitBuildEnded } from './build_api.js';

let reg: RegistryProcess;
let admin: Api;
let files: Server;
let filesUrl: string;
let dir: string;
const served = new Map<string, Buffer>();

function tgz(name: string, content: Record<string, string>): Buffer {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  for (const [p, text] of Object.entries(content)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), text);
  }
  return execFileSync('tar', ['-C', d, '-czf', '-', '.']);
}

async function buildDone(archive: string, tag: string): Promise<{ id: string; logs: string }> {
  const b = await admin.ok('POST', '/repository/acme/app/build/', { archive_url: `${filesUrl}/${archive}`, docker_tags: [tag] });
  const s = await waitBuildEnded(admin, reg, 'acme/app', b.id, 240_000);
  const logs = await buildLogText(admin, 'acme/app', b.id);
  expect({ phase: s.phase, logs: s.phase === 'complete' ? '' : logs }).toEqual({ phase: 'complete', logs: '' });
  return { id: b.id, logs };
}

async function digestOf(tag: string): Promise<string> {
  const tags = (await admin.ok<{ tags: { name: string; manifest_digest: string }[] }>('GET', `/repository/acme/app/tag/?specificTag=${tag}`)).tags;
  expect(tags.map((t) => t.name)).toEqual([tag]);
  return tags[0].manifest_digest;
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

beforeAll(async () => {
  dir = workDir('builds-layer-cache');
  files = createServer((req, res) => {
    const body = served.get(req.url ?? '');
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((ok) => files.listen(0, '127.0.0.1', ok));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  const builds = await localBuildsConfig();
  const [kind, manager] = builds.BUILD_MANAGER as [string, { EXECUTORS: Record<string, unknown>[] }];
  const config = await scaleOutConfig({
    ...builds,
    BUILD_MANAGER: [kind, { ...manager, EXECUTORS: [{ ...manager.EXECUTORS[0], LAYER_CACHE: true }] }],
    SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
  });
  const sandbox = clientSandbox('builds-layer-cache-worker');
  reg = await startRegistry({
    label: 'builds-layer-cache',
    config,
    env: { ...buildWorkerEnv(sandbox) },
  });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  await new Promise((ok) => files?.close(ok));
});

test('a second build of an unchanged Dockerfile reuses every step from the registry; a changed file reruns only its step', async () => {
  const dockerfile = 'FROM scratch\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\nLABEL cached=yes\n';
  served.set('/one.tgz', tgz('one', { Dockerfile: dockerfile, 'a.txt': 'a\n', 'b.txt': 'b\n' }));
  served.set('/changed.tgz', tgz('changed', { Dockerfile: dockerfile, 'a.txt': 'a\n', 'b.txt': 'b changed\n' }));

  const first = await buildDone('one.tgz', 'v1');
  expect(first.logs).toContain('(empty: nothing to reuse yet)');
  expect(count(first.logs, '--> Pushing cache')).toBe(3);
  expect(first.logs).not.toContain('Using cache');

  // A new worker, with storage of its own: everything it reuses comes from the registry.
  const second = await buildDone('one.tgz', 'v2');
  expect(second.logs).toMatch(/layer cache: \S+\/acme\/app \(it has \S+\)/);
  expect(count(second.logs, '--> Cache pulled from remote')).toBe(3);
  expect(count(second.logs, '--> Using cache')).toBe(3);
  expect(await digestOf('v2')).toBe(await digestOf('v1'));

  const third = await buildDone('changed.tgz', 'v3');
  expect(count(third.logs, '--> Using cache')).toBe(1);
  expect(await digestOf('v3')).not.toBe(await digestOf('v1'));
}, 600_000);
