/**
 * Standby builder agents of the local executor (registry/build/executors/local.ts), with the real registry
 * process (its build manager in `serve`), real agents and buildah. Checked from /proc: a standby waits with
 * no credentials in its environment; a build runs on it (the build log names the agent's pid) and a new
 * standby takes its place; a cancel ends the build's agent and its process group while the standby stays; a
 * standby killed while idle is replaced; a standby waits at the lowest CPU priority and gets the manager's
 * back with its build (when the manager may raise it); a worker registering before its manager recorded it is told to come
 * again; stopping the registry leaves no agent. And the agent program alone:
 * a standby whose stdin ends (its manager died) or that gets a message that is not a job exits without
 * calling the manager.
 */
import { createServer, type Server } from 'node:http';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import yaml from 'js-yaml';
import * as grpc from '@grpc/grpc-js';
import { buildWorkerEnv, localBuildsConfig, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../../integration/api/fixture.js';
import { workDir } from '../../setup/paths.js';
import { clientSandbox } from '../../setup/tools.js';
import { parseConfig } from '../../../config/index.js';
import { createRuntime, type Runtime } from '../../../registry/runtime.js';
import { buildManagerService } from '../../../registry/build/proto.js';
import { BuildJwts } from '../../../registry/build/jwt.js';
import { agentPidOf, alive, groupMembers } from './workers.js';

const AGENT = fileURLToPath(new URL('../../../registry/build/agent_main.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let reg: RegistryProcess | null = null;
let rt: Runtime;
let files: Server;
let filesUrl: string;
let grpcServer: string;
let repo: { id: number; namespace: string; name: string };
let dir: string;
/** Downloads of /held.tgz wait until the test releases them (the build stays in `unpacking`). */
let release: () => void = () => undefined;
let held: Promise<void> = Promise.resolve();

function hold(): void {
  held = new Promise((ok) => (release = ok));
}

function environ(pid: number): Map<string, string> | null {
  try {
    const vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return new Map(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  } catch {
    return null;
  }
}

/** The builder agents (cold or standby) of this test's registry: its gRPC address in their environment. */
function agents(): { pid: number; env: Map<string, string> }[] {
  const out: { pid: number; env: Map<string, string> }[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const env = environ(Number(p));
    if (env?.get('SERVER') !== grpcServer) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('agent_main.js')) out.push({ pid: Number(p), env });
    } catch {
      // gone
    }
  }
  return out;
}

const standbys = () => agents().filter((a) => a.env.get('JOB_FROM_STDIN') === 'true');

/** Fields 3.. of /proc/<pid>/task/<tid>/stat (after the command name). */
function stat(pid: number, tid = pid): string[] {
  const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}
const parentOf = (pid: number) => Number(stat(pid)[1]);
/** The niceness of every thread of a process. */
const niceness = (pid: number) => [...new Set(readdirSync(`/proc/${pid}/task`).map((tid) => Number(stat(pid, Number(tid))[16])))];
/** The process may raise priorities (CAP_SYS_NICE): only then does its executor start standbys niced. */
const mayRaisePriority = (pid: number) => ((BigInt(`0x${/^CapEff:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`) >> 23n) & 1n) === 1n;

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms\n${reg?.output().slice(-3000)}`);
    await sleep(200);
  }
}

function build(path: string) {
  return rt.builds.startBuild({ repository: repo, displayName: 'standby', archiveUrl: `${filesUrl}${path}`, manualUser: { name: 'admin' }, dockerTags: ['standby'] });
}

async function phaseOf(uuid: string): Promise<string | undefined> {
  return (await rt.builds.getBuild(uuid))?.phase;
}

beforeAll(async () => {
  dir = workDir('builds-standby');
  const ctx = join(dir, 'ctx');
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello from a standby agent\n');
  const pack = execFileSync('tar', ['-C', ctx, '-czf', '-', '.']);
  files = createServer((req, res) => {
    if (req.url !== '/held.tgz') return void res.writeHead(404).end();
    void held.then(() => res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': pack.length }).end(pack));
  });
  await new Promise<void>((ok) => files.listen(0, '127.0.0.1', ok));
  filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  const config = await scaleOutConfig({ ...(await localBuildsConfig({ workers: 1, prefix: 'buildman/standby/' })), SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'] });
  reg = await startRegistry({ label: 'builds-standby', config, env: buildWorkerEnv(clientSandbox('builds-standby-worker')) });
  const port = Number(/"grpcPort":(\d+)/.exec(reg.output())?.[1]);
  expect(port).toBeGreaterThan(0);
  grpcServer = `127.0.0.1:${port}`;
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
  release();
  await rt?.close();
  await reg?.stop();
  await new Promise((ok) => files?.close(ok));
});

test('a standby waits without credentials; a build runs on it; a new standby starts only while another build waits for the slot', async () => {
  const [standby] = await until('a standby agent', () => (standbys().length === 1 ? standbys() : null));
  expect(standby.env.has('TOKEN')).toBe(false);
  expect(standby.env.has('BUILD_UUID')).toBe(false);
  expect([...standby.env.keys()].filter((k) => /TOKEN|PASSWORD|SECRET|KEY/i.test(k))).toEqual([]);
  // Waiting, it runs at the lowest priority (its start yields to running builds) when the manager can raise it
  // back; with its build it runs at the manager's own priority, as every thread started before.
  const manager = parentOf(standby.pid);
  const managerNice = niceness(manager)[0];
  expect(niceness(standby.pid)).toEqual([mayRaisePriority(manager) ? 19 : managerNice]);
  const others = (pid: number) => standbys().filter((a) => a.pid !== pid);

  hold();
  const first = await build('/held.tgz');
  await until('the build unpacks', async () => (await phaseOf(first.uuid)) === 'unpacking');
  expect(await agentPidOf(rt, first.uuid)).toBe(standby.pid);
  expect(niceness(standby.pid)).toEqual([managerNice]);
  // The one slot is taken and no build waits: no standby starts beside the build (it would only slow it down).
  await sleep(2000);
  expect(others(standby.pid)).toEqual([]);
  // A second build waits for the slot: a standby starts for it, again without credentials.
  const second = await build('/held.tgz');
  const [next] = await until('a standby for the waiting build', () => {
    const s = others(standby.pid);
    return s.length === 1 ? s : null;
  });
  expect(next.env.has('TOKEN')).toBe(false);
  expect(alive(standby.pid)).toBe(true);
  expect(await phaseOf(second.uuid)).toBe('waiting');

  release();
  for (const b of [first, second]) {
    await until('the build ends', async () => ['complete', 'error', 'internalerror'].includes((await phaseOf(b.uuid)) ?? ''), 240_000);
    const logs = (await rt.builds.readBuildLogs(b.uuid, 0))!.logs;
    expect({ phase: await phaseOf(b.uuid), errors: logs.filter((l) => l.type === 'error').map((l) => l.message) }).toEqual({ phase: 'complete', errors: [] });
    expect(logs.filter((l) => l.type === 'phase').map((l) => l.message)).toEqual(['build-scheduled', 'unpacking', 'pulling', 'building', 'pushing', 'complete']);
  }
  expect(await agentPidOf(rt, second.uuid)).toBe(next.pid);
  const tag = await rt.db.query<{ n: number }>("SELECT count(*)::int AS n FROM tag WHERE repository_id = $1 AND name = 'standby' AND end_ms IS NULL", [repo.id]);
  expect(tag.rows[0].n).toBe(1);
  // One build per agent: both agents are gone, and the free slot has its standby again, idle.
  await until('the build agents exit', () => !alive(standby.pid) && !alive(next.pid));
  const [idle] = await until('a standby for the free slot', () => (standbys().length === 1 ? standbys() : null));
  expect(idle.env.has('TOKEN')).toBe(false);
}, 300_000);

test('cancel mid-build: the build agent and its process group are gone, the standby stays', async () => {
  const [standby] = await until('one standby agent', () => (standbys().length === 1 ? standbys() : null));
  hold();
  const b = await build('/held.tgz');
  await until('the build unpacks', async () => (await phaseOf(b.uuid)) === 'unpacking');
  const pid = await agentPidOf(rt, b.uuid);
  expect(pid).toBe(standby.pid);
  expect(await rt.builds.cancelBuild(b.uuid)).toBe(true);
  await until('the build agent and its group are gone', () => !alive(pid) && groupMembers(pid).length === 0, 30_000);
  const [next] = await until('a standby other than the cancelled agent', () => {
    const s = standbys().filter((a) => a.pid !== pid);
    return s.length === 1 ? s : null;
  });
  expect(alive(next.pid)).toBe(true);
  expect(await phaseOf(b.uuid)).toBe('cancelled');
  release();
}, 300_000);

test('a standby killed while idle is replaced', async () => {
  const [standby] = await until('one standby agent', () => (standbys().length === 1 ? standbys() : null));
  process.kill(standby.pid, 'SIGKILL');
  const [next] = await until('a replacement standby', () => {
    const s = standbys().filter((a) => a.pid !== standby.pid);
    return s.length === 1 ? s : null;
  });
  expect(next.env.has('TOKEN')).toBe(false);
}, 120_000);

test('a worker that registers before its manager recorded it is told to come again (UNAVAILABLE), not served', async () => {
  // A standby calls within milliseconds of getting its job: the manager may not have written the worker into
  // the job key yet. Serving it then would let its first heartbeat's write of the key drop execution_id.
  const uuid = randomUUID();
  const orch = rt.buildOrchestrator!;
  const key = `${orch.prefix}building/${uuid}`;
  const job = {
    job_queue_item: { id: 0, state_id: 'x', retries_remaining: 3, body: {} },
    max_expiration: Math.floor(Date.now() / 1000) + 600,
    last_heartbeat: null,
    created_at: Date.now() / 1000,
    namespace: 'acme',
  };
  await orch.set(key, JSON.stringify(job), 60);
  const jwt = await new BuildJwts(rt.db, reg!.hostPort).sign('build_job_registration', uuid, key, 60);
  const Service = buildManagerService();
  const client = new Service(grpcServer, grpc.credentials.createInsecure()) as unknown as grpc.Client &
    Record<string, (req: unknown, cb: (err: grpc.ServiceError | null) => void) => void>;
  const register = () => new Promise<grpc.ServiceError | null>((ok) => client.RegisterBuildJob({ register_jwt: jwt }, (err) => ok(err)));
  try {
    expect((await register())?.code).toBe(grpc.status.UNAVAILABLE);
    // Recorded: served (here the build itself does not exist, so the answer is that it is over).
    await orch.set(key, JSON.stringify({ ...job, executor_name: 'local', execution_id: 'e', manager: 'm' }), 60);
    expect((await register())?.code).toBe(grpc.status.FAILED_PRECONDITION);
  } finally {
    client.close();
    await orch.delete(key);
  }
}, 60_000);

test('the agent program alone: a standby exits when its stdin ends or its message is not a job, calling no manager', async () => {
  // A gRPC address where nothing listens: a standby that tried to register would hang or fail there, not exit 0.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, SERVER: '127.0.0.1:9', INSECURE: 'true', JOB_FROM_STDIN: 'true' };
  const run = (input: string | null) =>
    new Promise<{ code: number | null; stderr: string }>((ok) => {
      const child = spawn(process.execPath, [AGENT], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => ok({ code, stderr }));
      if (input === null) child.stdin!.end();
      else child.stdin!.end(input);
    });
  expect(await run(null)).toEqual({ code: 0, stderr: '' });
  const notAJob = await run('{"TOKEN":"a.b.c","BUILD_UUID":"0b1c2d3e-1111-2222-3333-444455556666","EXTRA":"x"}\n');
  expect(notAJob.code).toBe(0);
  expect(notAJob.stderr).toMatch(/refused job message/);
  const badUuid = await run('{"TOKEN":"a.b.c","BUILD_UUID":"../../etc"}\n');
  expect(badUuid.stderr).toMatch(/BUILD_UUID is not a uuid/);
}, 60_000);

test('stopping the registry ends its standby agents', async () => {
  const before = await until('a standby agent', () => (standbys().length > 0 ? standbys() : null));
  await reg!.stop();
  reg = null;
  await until('no agent left', () => before.every((a) => !alive(a.pid)) && agents().length === 0, 30_000);
}, 120_000);
