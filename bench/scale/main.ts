/**
 * Scale-out benchmark (issue #15): registry replicas (`serve`, WORKERS each) on one Postgres, one MinIO bucket
 * (blob GETs answered with redirects to pre-signed URLs, the default) and one Redis, behind nginx; closed-loop
 * clients mixing pulls and pushes through nginx; one replica SIGKILLed mid-run. Then every acknowledged push
 * is pulled back from the survivors and checked byte for byte.
 *
 *   npm run bench -- scale [--clients 200] [--duration 60] [--replicas 3] [--workers 1] [--push-share 0.2]
 *                          [--layer-kib 256] [--kill-at S] [--small-kib 4] [--large-mib 128] [--redirect-gets 1000]
 *                          [--cpu-prof] [--nice N] [--markdown FILE] [--keep]
 *
 * Also measured, before the mixed load: the registry's CPU per blob GET on S3 (the redirect) for a small and a
 * large blob. Exit code 1 when a request failed outside the kill or an acknowledged push is not intact.
 */
import { cpus, loadavg, release, getPriority, setPriority } from 'node:os';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { REPO_ROOT, runDir } from '../../test/setup/paths.js';
import { runTool, tool } from '../../test/setup/tools.js';
import { createTestBucket, createTestDatabase, startPostgres, startRedis, startS3, type Service } from '../../test/setup/services.js';
import { cpuSeconds } from '../registry/cpu.js';
import { formatProfile, summarizeProfile } from '../registry/profile.js';
import { PeakWatch } from '../registry/rss.js';
import { redisConfig, startScaleCluster, type Replica, type ScaleCluster } from './cluster.js';
import { Client, KINDS, Registry, runLoad, seedImages, type Kind, type LoadResult, type RequestFailure } from './load.js';
import { verifyImages } from './verify.js';
import { s3StorageConfig } from '../../test/helpers/registry.js';

const USAGE = `usage: npm run bench -- scale [options]
  --clients N         concurrent clients, each running pulls and pushes back to back (default 200)
  --duration S        seconds of the mixed load (default 60)
  --replicas N        registry replicas behind nginx (default 3)
  --workers N         HTTP worker processes per replica, WORKERS (default 1: three replicas already outnumber 2 cores)
  --push-share F      share of operations that are pushes, 0..1 (default 0.2)
  --layer-kib N       layer size of the seeded and pushed images in KiB (default 256)
  --kill-at S         SIGKILL the last replica S seconds into the load (default half the duration; 0: no kill)
  --small-kib N       small blob of the redirect CPU measurement, KiB (default 4)
  --large-mib N       large blob of the redirect CPU measurement, MiB (default 128)
  --redirect-gets N   blob GETs per size in that measurement (default 1000)
  --cpu-prof          profile the first replica's CPU (V8 profiler) during the redirect measurement and print
                      its hotspots
  --nice N            scheduling priority of the benchmark and everything it starts (root for negative values)
  --markdown FILE     also write the report (Markdown) to FILE
  --keep              keep the run's directory (.test-work/run-<pid>) afterwards
`;

const MB = 1e6;

interface CpuSampler {
  /** Last CPU seconds seen per label (a process that died keeps its last value). */
  readonly last: Map<string, number>;
  stop(): Map<string, number>;
}

/** Samples the CPU seconds of some process trees every 500 ms, so that a killed replica's CPU is not lost. */
function sampleCpu(trees: Map<string, { pid: () => number | undefined; children: boolean }>): CpuSampler {
  const last = new Map<string, number>();
  const sample = () => {
    for (const [label, t] of trees) {
      const pid = t.pid();
      if (pid === undefined) continue;
      const s = cpuSeconds(pid, t.children);
      if (s > 0) last.set(label, s);
    }
  };
  sample();
  const base = new Map(last);
  const timer = setInterval(sample, 500);
  return {
    last,
    stop: () => {
      clearInterval(timer);
      sample();
      return new Map([...last].map(([k, v]) => [k, v - (base.get(k) ?? 0)]));
    },
  };
}

/** Counts of the registry's blob store operations (its S3 requests) from a replica's /metrics. */
async function storageOps(r: Replica): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await (await fetch(`${r.reg.url}/metrics`)).text();
  for (const m of text.matchAll(/^quay_storage_operation_duration_seconds_count\{[^}]*operation="([^"]+)"[^}]*\} (\S+)$/gm)) {
    if (m[1] === 'sign_url') continue; // signing a URL is local, no request to S3
    out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]));
  }
  return out;
}

function addInto(into: Map<string, number>, from: Map<string, number>, sign = 1): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + sign * v);
}

async function redisCommands(url: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true });
  try {
    await r.connect();
    return Number(/total_commands_processed:(\d+)/.exec(await r.info('stats'))?.[1] ?? 0);
  } finally {
    r.disconnect();
  }
}

const ROUNDS = 4;
/** Blob GETs sent to the replica before the redirect measurement, not counted. */
const WARMUP_GETS = 100;
const IDLE_WINDOW_MS = 1500;

/**
 * CPU seconds = idle rate × seconds + cost × GETs, fitted by least squares over alternating idle windows and
 * windows of GETs: what a process spends idle (the caches' heartbeats, background workers) changes with the
 * machine's load, so it is measured all along instead of once.
 */
function fitPerGet(windows: Array<{ seconds: number; gets: number; cpu: number }>): number {
  let tt = 0;
  let tn = 0;
  let nn = 0;
  let tc = 0;
  let nc = 0;
  for (const w of windows) {
    tt += w.seconds * w.seconds;
    tn += w.seconds * w.gets;
    nn += w.gets * w.gets;
    tc += w.seconds * w.cpu;
    nc += w.gets * w.cpu;
  }
  return Math.max(0, (tt * nc - tn * tc) / (tt * nn - tn * tn));
}

/**
 * CPU of one replica (and of Postgres) per blob GET answered with a redirect, for a blob of `bytes`: the GETs
 * go straight to the first replica, 16 in flight, the redirect not followed.
 */
async function redirectCost(
  cluster: ScaleCluster,
  pgPid: number,
  bytes: number,
  gets: number,
): Promise<{ bytes: number; gets: number; rawMs: number; registryMs: number; pgMs: number; p50: number; p99: number }> {
  const client = new Client(16);
  try {
    const reg = new Registry(client, cluster.url, cluster.hostPort, cluster.admin);
    const repo = `${cluster.admin.username}/redirect-${bytes}`;
    const img = await reg.push(repo, 'blob', bytes, false);
    const layer = img.blobs[1];
    const auth = await reg.token(repo, 'pull');
    // Once followed to S3 and hashed, so the redirect is known to lead to the right bytes.
    await reg.getBlob(repo, layer, auth);
    const replica = cluster.replicas[0];
    const url = `${replica.reg.url}/v2/${repo}/blobs/${layer.digest}`;
    const replicaCpu = () => cpuSeconds(replica.reg.process.pid, true);
    const windows = { replica: [] as Array<{ seconds: number; gets: number; cpu: number }>, pg: [] as Array<{ seconds: number; gets: number; cpu: number }> };
    const measure = async (n: number, work: () => Promise<unknown>) => {
      const c0 = replicaCpu();
      const p0 = cpuSeconds(pgPid, true);
      const t0 = performance.now();
      await work();
      const seconds = (performance.now() - t0) / 1000;
      windows.replica.push({ seconds, gets: n, cpu: replicaCpu() - c0 });
      windows.pg.push({ seconds, gets: n, cpu: cpuSeconds(pgPid, true) - p0 });
    };
    // Unmeasured first: the replica's first GETs of this repository compile the route's code and verify the token,
    // once; the figure is what a GET costs after that.
    let warm = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (warm++ < WARMUP_GETS) await client.call('blob GET', 'GET', url, { headers: auth, expect: [302, 307] });
      }),
    );
    const before = client.durations.get('blob GET')!.length;
    for (let round = 0; round < ROUNDS; round++) {
      await measure(0, () => sleep(IDLE_WINDOW_MS));
      const n = Math.ceil(gets / ROUNDS);
      let next = 0;
      await measure(n, () =>
        Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next++ < n) await client.call('blob GET', 'GET', url, { headers: auth, expect: [302, 307] });
          }),
        ),
      );
    }
    const busy = windows.replica.filter((w) => w.gets > 0);
    const total = busy.reduce((s, w) => s + w.gets, 0);
    const rawMs = (busy.reduce((s, w) => s + w.cpu, 0) * 1000) / total;
    const d = client.durations
      .get('blob GET')!
      .slice(before)
      .sort((a, b) => a - b);
    return {
      bytes,
      gets: total,
      rawMs,
      registryMs: fitPerGet(windows.replica) * 1000,
      pgMs: fitPerGet(windows.pg) * 1000,
      p50: d[Math.floor(d.length / 2)],
      p99: d[Math.ceil(d.length * 0.99) - 1],
    };
  } catch (e) {
    throw new Error(`redirect measurement (${bytes} bytes) failed: ${JSON.stringify(client.failures.slice(0, 3))}`, { cause: e });
  } finally {
    await client.close();
  }
}

/** Have the profiled replica (cpu-prof-preload.ts) write its profile so far under `label`; its path. */
async function cutProfile(pid: number, dir: string, label: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  writeFileSync(join(dir, 'label'), label);
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 300; i++) {
    const done = readdirSync(dir).find((f) => f.endsWith(`-${label}.done`) && !before.has(f));
    if (done) return join(dir, done.replace(/\.done$/, '.cpuprofile'));
    await sleep(100);
  }
  throw new Error(`replica 1 wrote no CPU profile for ${label} in ${dir}`);
}

function sizeText(bytes: number): string {
  return bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MiB` : `${bytes / 1024} KiB`;
}

function failureLine(f: RequestFailure): string {
  return `${f.kind} ${f.method} ${f.path} at ${(f.start / 1000).toFixed(2)}–${(f.end / 1000).toFixed(2)} s via ${f.upstream || '(no upstream)'}: ${f.error.slice(0, 200)}`;
}

function countBy(fs: RequestFailure[]): string {
  const m = new Map<Kind, number>();
  for (const f of fs) m.set(f.kind, (m.get(f.kind) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      clients: { type: 'string', default: '200' },
      duration: { type: 'string', default: '60' },
      replicas: { type: 'string', default: '3' },
      workers: { type: 'string', default: '1' },
      'push-share': { type: 'string', default: '0.2' },
      'layer-kib': { type: 'string', default: '256' },
      'kill-at': { type: 'string' },
      'small-kib': { type: 'string', default: '4' },
      'large-mib': { type: 'string', default: '128' },
      'redirect-gets': { type: 'string', default: '1000' },
      nice: { type: 'string', default: '0' },
      'cpu-prof': { type: 'boolean', default: false },
      markdown: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const num = (name: keyof typeof values, min: number, max = Infinity): number => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max} (got "${values[name]}")`);
    return n;
  };
  const clients = num('clients', 1);
  const duration = num('duration', 1);
  const replicaCount = num('replicas', 2);
  const workers = num('workers', 1);
  const pushShare = num('push-share', 0, 1);
  const layerBytes = num('layer-kib', 1) * 1024;
  const killAt = values['kill-at'] === undefined ? duration / 2 : num('kill-at', 0, duration);
  const smallBytes = num('small-kib', 1) * 1024;
  const largeBytes = num('large-mib', 1) * 2 ** 20;
  const redirectGets = num('redirect-gets', 1);
  const profDir = values['cpu-prof'] ? join(runDir(), 'cpu-prof') : null;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const nice = Number(values.nice);
  if (nice !== 0) {
    setPriority(0, nice); // inherited by every process started from here on
    try {
      writeFileSync('/proc/self/autogroup', String(nice));
    } catch {
      /* no autogroup scheduling */
    }
  }
  for (const t of ['nginx', 'postgres', 'initdb', 'minio', 'redis-server']) tool(t);

  const services: Service[] = [];
  let cluster: ScaleCluster | null = null;
  const stopAll = async () => {
    await cluster?.stop();
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
  };
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const loadStart = loadavg();
  let report: string;
  let ok: boolean;
  try {
    log('starting Postgres, MinIO and Redis on loopback');
    const [postgres, s3, redis] = await Promise.all([startPostgres(), startS3(), startRedis()]);
    services.push(postgres, s3, redis);
    const bucket = await createTestBucket('scale', s3);
    const dbUri = await createTestDatabase('scale', postgres.url);
    log(`starting ${replicaCount} replicas (WORKERS=${workers}) and nginx`);
    cluster = await startScaleCluster({
      replicas: replicaCount,
      workers,
      env: { LOG_LEVEL: 'warn' },
      firstEnv: profDir
        ? { NODE_OPTIONS: `--import=${pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../registry/cpu-prof-preload.js')).href}`, BENCH_CPU_PROF_DIR: profDir }
        : undefined,
      config: {
        DB_URI: dbUri,
        ...s3StorageConfig(bucket),
        SUPER_USERS: ['admin'],
        BUILDLOGS_REDIS: redisConfig(redis.url),
      },
    });
    const c = cluster;
    const pgPid = postgres.process.pid;

    log(`redirect cost: ${redirectGets} blob GETs of a ${sizeText(smallBytes)} and of a ${sizeText(largeBytes)} blob`);
    if (profDir) await cutProfile(c.replicas[0].reg.process.pid, profDir, 'setup');
    const redirects = [await redirectCost(c, pgPid, smallBytes, redirectGets), await redirectCost(c, pgPid, largeBytes, redirectGets)];
    const profile = profDir ? await cutProfile(c.replicas[0].reg.process.pid, profDir, 'redirect') : null;
    if (profile) log(`replica 1 during the redirect measurement (${profile}):\n${formatProfile(summarizeProfile(profile, REPO_ROOT, 25))}`);

    const target = { url: c.url, hostPort: c.hostPort, admin: c.admin };
    const seeds = await seedImages({ ...target, repos: 16, layerBytes });
    const killed = killAt > 0 ? c.replicas[c.replicas.length - 1] : null;

    // Counters and watchers over the mixed load.
    const ops0 = new Map<string, number>();
    for (const r of c.replicas) addInto(ops0, await storageOps(r));
    const opsEnd = new Map<string, number>();
    const redis0 = await redisCommands(redis.url);
    const trees = new Map<string, { pid: () => number | undefined; children: boolean }>([
      ...c.replicas.map((r) => [`replica ${r.index + 1}`, { pid: () => (r.alive() ? r.reg.process.pid : undefined), children: true }] as const),
      ['nginx', { pid: () => c.nginx.process.pid, children: true }],
      ['Postgres', { pid: () => pgPid, children: true }],
      ['MinIO', { pid: () => s3.process.pid, children: false }],
      ['Redis', { pid: () => redis.process.pid, children: false }],
    ]);
    const cpu = sampleCpu(trees);
    const peaks = new Map(c.replicas.map((r) => [r, new PeakWatch(r.processes())]));
    const pgc = new pg.Client({ connectionString: postgres.url });
    await pgc.connect();
    let pgConnPeak = 0;
    const pgConnTimer = setInterval(() => {
      pgc
        .query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")
        .then((r) => (pgConnPeak = Math.max(pgConnPeak, r.rows[0].n - 1)))
        .catch(() => undefined);
    }, 1000);

    log(`mixed load: ${clients} clients, ${duration} s, push share ${pushShare}${killed ? `, replica ${killed.index + 1} killed at ${killAt} s` : ''}`);
    let result: LoadResult;
    try {
      result = await runLoad({
        ...target,
        clients,
        durationS: duration,
        pushShare,
        layerBytes,
        seeds,
        log,
        kill: killed
          ? {
              atS: killAt,
              hostPort: killed.hostPort,
              // The killed replica's counters, read one last time.
              before: async () => addInto(opsEnd, await storageOps(killed)),
              run: () => c.kill(killed.index),
            }
          : undefined,
      });
    } finally {
      clearInterval(pgConnTimer);
      await pgc.end().catch(() => undefined);
    }
    const cpuUsed = cpu.stop();
    const peakRss = new Map([...peaks].map(([r, w]) => [r, w.stop()]));
    for (const r of c.replicas) if (r.alive()) addInto(opsEnd, await storageOps(r));
    addInto(opsEnd, ops0, -1);
    const redisCmds = (await redisCommands(redis.url)) - redis0;

    log(`verifying ${result.acknowledged.length} acknowledged pushes on the survivors`);
    const survivors = c.replicas.filter((r) => r.alive());
    const verified = await verifyImages(
      result.acknowledged,
      survivors.map((r) => r.reg),
      { service: c.hostPort, admin: c.admin },
    );

    // ----------------------------------------------------------------------------------------- report
    const secs = result.elapsed / 1000;
    const registryRequests = KINDS.filter((k) => k !== 'S3 download').reduce((s, k) => s + result.stats[k].count, 0);
    const replicaCpu = c.replicas.reduce((s, r) => s + (cpuUsed.get(`replica ${r.index + 1}`) ?? 0), 0);
    const s3Ops = [...opsEnd.values()].reduce((a, b) => a + b, 0);
    const nginxVersion = (await runTool('nginx', ['-v'], { allowFail: true })).stderr.trim().replace(/^nginx version: nginx\//, '');
    const pgVersion = (await runTool('postgres', ['--version'])).stdout.trim();
    const ms = (x: number) => x.toFixed(x < 10 ? 2 : 0);
    const lines = [
      `Scale-out benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node.js ${process.version}, ${pgVersion}, nginx ${nginxVersion}, MinIO, Redis`,
      `load average (1/5/15 min) at start ${loadStart.map((l) => l.toFixed(1)).join(' / ')}, at end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}; benchmark at nice ${getPriority(0)}`,
      `${replicaCount} replicas × WORKERS=${workers} behind nginx (1 worker process); ${clients} clients for ${secs.toFixed(1)} s, push share ${pushShare}, ` +
        `${sizeText(layerBytes)} layers, 16 repositories; ${killed ? `replica ${killed.index + 1} SIGKILLed at ${((result.kill?.from ?? 0) / 1000).toFixed(1)} s` : 'no kill'}`,
      '',
      '| request | count | req/s | p50 | p99 |',
      '|---|---:|---:|---:|---:|',
      ...KINDS.map((k) => {
        const s = result.stats[k];
        return `| ${k}${k === 'S3 download' ? ' (from MinIO, not the registry)' : ''} | ${s.count} | ${(s.count / secs).toFixed(1)} | ${ms(s.p50)} ms | ${ms(s.p99)} ms |`;
      }),
      `| **all registry requests** | ${registryRequests} | ${(registryRequests / secs).toFixed(1)} | | |`,
      `| pull operation (token, manifest, 2 blobs via S3) | ${result.ops.pull.count} | ${(result.ops.pull.count / secs).toFixed(1)} | ${ms(result.ops.pull.p50)} ms | ${ms(result.ops.pull.p99)} ms |`,
      `| push operation (token, 2 uploads, manifest PUT) | ${result.ops.push.count} | ${(result.ops.push.count / secs).toFixed(1)} | ${ms(result.ops.push.p50)} ms | ${ms(result.ops.push.p99)} ms |`,
      '',
      `Failed requests outside the kill: **${result.otherFailures.length}**${result.otherFailures.length ? ` (${countBy(result.otherFailures)})` : ''}; ` +
        `in flight on the killed replica: ${result.killFailures.length} (${countBy(result.killFailures)}); ` +
        `failed operations: ${result.ops.pull.failed} pulls, ${result.ops.push.failed} pushes.`,
      `Requests answered per replica before / after the kill: ${c.replicas.map((r) => `replica ${r.index + 1} ${result.servedBy.get(r.hostPort)?.before ?? 0} / ${result.servedBy.get(r.hostPort)?.after ?? 0}`).join(', ')}.`,
      `Acknowledged pushes: ${result.acknowledged.length}, verified on the ${survivors.length} survivors (manifest bytes by tag, every blob through the redirect, hashed): ` +
        `${verified.problems.length === 0 && verified.checked === result.acknowledged.length ? '**all intact**' : `**${verified.problems.length} problem(s)**`}.`,
      '',
      '| process | peak RSS (largest process) | CPU | share of one core |',
      '|---|---:|---:|---:|',
      ...c.replicas.map((r) => {
        const peak = Math.max(0, ...peakRss.get(r)!.values()) / MB;
        const s = cpuUsed.get(`replica ${r.index + 1}`) ?? 0;
        return `| replica ${r.index + 1}${r === killed ? ' (killed)' : ''} | ${peak.toFixed(0)} MB | ${s.toFixed(1)} s | ${((100 * s) / secs).toFixed(0)} % |`;
      }),
      ...['nginx', 'Postgres', 'MinIO', 'Redis'].map((l) => `| ${l} | – | ${(cpuUsed.get(l) ?? 0).toFixed(1)} s | ${((100 * (cpuUsed.get(l) ?? 0)) / secs).toFixed(0)} % |`),
      '',
      `Per registry request (${registryRequests}): replicas ${((replicaCpu * 1000) / registryRequests).toFixed(2)} ms CPU, Postgres ${(((cpuUsed.get('Postgres') ?? 0) * 1000) / registryRequests).toFixed(2)} ms, ` +
        `nginx ${(((cpuUsed.get('nginx') ?? 0) * 1000) / registryRequests).toFixed(2)} ms. Postgres client connections, peak: ${pgConnPeak}.`,
      `S3: ${(s3Ops / secs).toFixed(1)} operations/s by the registry (${[...opsEnd]
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}; a multipart commit counts once) + ${(result.stats['S3 download'].count / secs).toFixed(1)} downloads/s by clients; ` +
        `MinIO ${(((cpuUsed.get('MinIO') ?? 0) * 1000) / Math.max(1, s3Ops + result.stats['S3 download'].count)).toFixed(2)} ms CPU per request.`,
      `Redis: ${redisCmds} commands (${(redisCmds / secs).toFixed(1)}/s).`,
      '',
      '| blob GET on S3 (redirect), straight to replica 1 | GETs | replica CPU per GET, net of idle (raw) | Postgres CPU per GET, net of idle | p50 | p99 | target |',
      '|---|---:|---:|---:|---:|---:|---|',
      ...redirects.map(
        (r) =>
          `| ${sizeText(r.bytes)} blob | ${r.gets} | ${r.registryMs.toFixed(3)} ms (${r.rawMs.toFixed(3)} ms) | ${r.pgMs.toFixed(3)} ms | ${ms(r.p50)} ms | ${ms(r.p99)} ms | < 1 ms: ${r.registryMs < 1 ? 'met' : '**missed**'} |`,
      ),
    ];
    const problems = [...result.otherFailures.map(failureLine), ...verified.problems.map((f) => `verification: ${failureLine(f)}`)];
    if (verified.checked !== result.acknowledged.length) problems.push(`verification checked ${verified.checked} of ${result.acknowledged.length} pushes`);
    if (problems.length) lines.push('', 'Problems:', ...problems.slice(0, 30).map((p) => `- ${p}`));
    if (result.killFailures.length) lines.push('', 'Requests in flight on the killed replica that failed:', ...result.killFailures.slice(0, 10).map((f) => `- ${failureLine(f)}`));
    report = lines.join('\n');
    ok = problems.length === 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }
  process.stdout.write(`\n${report}\n`);
  if (values.markdown) writeFileSync(values.markdown, `${report}\n`);
  if (!values.keep) rmSync(runDir(), { recursive: true, force: true });
  else log(`kept ${runDir()}`);
  return ok ? 0 : 1;
}
