/**
 * The build manager's gRPC over TLS: a registry with ssl.cert/ssl.key beside its config serves the builder
 * API with that pair. The real builder agent (local executor) trusts the CA bundle it is given, registers over
 * TLS and pushes; a plaintext client and a client trusting another CA are refused; a new pair written over
 * the old one is served to new connections.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import yaml from 'js-yaml';
import * as grpc from '@grpc/grpc-js';
import { buildWorkerEnv, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { makeTestPki, type TestPki } from '../../helpers/pki.js';
import { signin } from '../../integration/api/fixture.js';
import { createTestRedisUrl } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';
import { freePort } from '../../setup/procs.js';
import { clientSandbox } from '../../setup/tools.js';
import { parseConfig } from '../../../config/index.js';
import { createRuntime, type Runtime } from '../../../registry/runtime.js';
import { buildManagerService } from '../../../registry/build/proto.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let reg: RegistryProcess;
let rt: Runtime;
let files: Server;
let filesUrl: string;
let pki: TestPki;
let otherPki: TestPki;
let grpcPort: number;

/** Ping over the given credentials: 'pong' or the gRPC status code of the failure. */
async function ping(creds: grpc.ChannelCredentials): Promise<string | number> {
  const Service = buildManagerService();
  const client = new Service(`127.0.0.1:${grpcPort}`, creds) as unknown as grpc.Client &
    Record<string, (req: unknown, opts: unknown, cb: (err: grpc.ServiceError | null, res: { reply: string }) => void) => void>;
  try {
    return await new Promise((ok) => client.Ping({}, { deadline: Date.now() + 10_000 }, (err, res) => ok(err ? err.code : res.reply)));
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  const dir = workDir('builds-grpc-tls');
  pki = makeTestPki(join(dir, 'pki'));
  otherPki = makeTestPki(join(dir, 'pki-other'));
  files = createServer((req, res) => {
    if (req.url !== '/Dockerfile') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('FROM scratch\nLABEL over=tls\n');
  });
  await new Promise<void>((ok) => files.listen(0, '127.0.0.1', ok));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  const redis = new URL(await createTestRedisUrl());
  const config = await scaleOutConfig({
    FEATURE_BUILD_SUPPORT: true,
    BUILDLOGS_REDIS: { host: redis.hostname, port: Number(redis.port), db: Number(redis.pathname.slice(1)) },
    SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
  });
  const sandbox = clientSandbox('builds-tls-worker');
  reg = await startRegistry({
    label: 'builds-grpc-tls',
    config,
    // The served chain: the leaf and its CA (what the local worker is given to trust).
    files: { 'ssl.cert': `${pki.serverCert}${pki.ca}`, 'ssl.key': pki.serverKey },
    env: {
      TLS_PORT: String(await freePort()),
      ...buildWorkerEnv(sandbox),
    },
  });
  const m = /"grpcPort":(\d+),"grpcTls":(true|false)/.exec(reg.output());
  expect(m?.[2]).toBe('true');
  grpcPort = Number(m![1]);
  const parsed = parseConfig(yaml.dump({ SERVER_HOSTNAME: reg.hostPort, ...config }));
  rt = await createRuntime(parsed.config, join(dir, 'data'), pino({ level: 'silent' }));
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
}, 180_000);

afterAll(async () => {
  await rt?.close();
  await reg?.stop();
  await new Promise((ok) => files?.close(ok));
});

test('the builder agent registers over TLS, builds and pushes', async () => {
  const target = await rt.repositories.lookup({ namespace: 'acme', name: 'app' } as never);
  const b = await rt.builds.startBuild({
    repository: { id: target.repo!.id, namespace: 'acme', name: 'app' },
    displayName: 'tls',
    archiveUrl: `${filesUrl}/Dockerfile`,
    manualUser: { name: 'admin' },
    dockerTags: ['tls'],
  });
  const end = Date.now() + 240_000;
  let phase = '';
  while (!['complete', 'error', 'internalerror'].includes(phase)) {
    if (Date.now() > end) throw new Error(`build is ${phase}\n${reg.output().slice(-3000)}`);
    await sleep(250);
    phase = (await rt.builds.getBuild(b.uuid))!.phase;
  }
  const logs = (await rt.builds.readBuildLogs(b.uuid, 0))!.logs.map((l) => l.message).join('\n');
  expect({ phase, logs: phase === 'complete' ? '' : logs }).toEqual({ phase: 'complete', logs: '' });
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  const tags = (await admin.ok('GET', '/repository/acme/app/tag/')) as { tags: Array<{ name: string }> };
  expect(tags.tags.map((t) => t.name)).toContain('tls');
}, 300_000);

test('plaintext and a client trusting another CA are refused; the right CA is accepted', async () => {
  expect(await ping(grpc.credentials.createSsl(Buffer.from(pki.ca)))).toBe('pong');
  expect(await ping(grpc.credentials.createInsecure())).toBe(grpc.status.UNAVAILABLE);
  expect(await ping(grpc.credentials.createSsl(Buffer.from(otherPki.ca)))).toBe(grpc.status.UNAVAILABLE);
}, 60_000);

test('a new pair on disk is served to new connections', async () => {
  writeFileSync(join(reg.configPath!, '..', 'ssl.key'), otherPki.serverKey);
  writeFileSync(join(reg.configPath!, '..', 'ssl.cert'), `${otherPki.serverCert}${otherPki.ca}`);
  const end = Date.now() + 60_000;
  while ((await ping(grpc.credentials.createSsl(Buffer.from(otherPki.ca)))) !== 'pong') {
    if (Date.now() > end) throw new Error('the new certificate was not served within 60 s');
    await sleep(500);
  }
  expect(await ping(grpc.credentials.createSsl(Buffer.from(pki.ca)))).toBe(grpc.status.UNAVAILABLE);
}, 90_000);
