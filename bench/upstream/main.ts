/**
 * `npm run bench -- upstream`: content from other registries, against Distribution 2.8 (Debian's
 * docker-registry) as the upstream and as the reference proxy.
 *
 *   cold/warm   skopeo pull of an N MiB image through quay-ts's proxy cache and through Distribution's
 *               pull-through proxy (`proxy.remoteurl`): K cold pulls of K distinct images through each,
 *               then R warm pulls of the first through each, alternating, each reported as the median (one
 *               pull is mostly noise: single cold pulls on a quiet machine gave 0.84x, 1.21x, 1.01x)
 *   dedupe      C concurrent cold skopeo pulls of another image through quay-ts: bytes the upstream sent,
 *               as a multiple of the image size (1.0 = every blob fetched once)
 *   mirror      T tags sharing a layer, mirrored by quay-ts's `mirror` process vs `skopeo sync` of the same
 *               tags into a second Distribution: wall time and bytes fetched from the upstream
 *
 * Every upstream sits behind a counting front (test/helpers/fault_front.ts in pass-through mode), so bytes
 * fetched are measured on the wire. serve and mirror run with the production V8 flags (config/node.ts);
 * their RSS is sampled throughout, with the peak of each phase reported.
 */
import { loadavg, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createReadStream, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestDatabase, startDistribution, startPostgres } from '../../test/setup/services.js';
import { startRegistry } from '../../test/helpers/registry.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../../test/setup/procs.js';
import { REPO_ROOT, workDir } from '../../test/setup/paths.js';
import { clientSandbox, INSECURE, tool } from '../../test/setup/tools.js';
import { startFaultFront, type FaultFront } from '../../test/helpers/fault_front.js';
import { signin } from '../../test/integration/api/fixture.js';
import { V2Client, randomBlob } from '../../test/helpers/v2.js';
import type { RegistryProcess } from '../../test/helpers/registry.js';
import { benchImage, type BenchImage } from '../registry/image.js';
import { PeakWatch } from '../registry/rss.js';
import { formatProfile, summarizeProfile } from '../registry/profile.js';
import { REGISTRY_NODE_FLAGS } from '../../config/node.js';
import { casPath } from '../../registry/storage/blobstore.js';

const USAGE = `usage: npm run bench -- upstream [--mib 256] [--cold 3] [--repeat 3] [--dedupe-mib 64] [--clients 20] [--tags 20]
                                       [--shared-mib 32] [--skip dedupe,mirror] [--cpu-prof]

  --mib N          image size for the cold/warm pulls (default 256)
  --cold N         cold pulls through each proxy, each of another image, the median reported (default 3)
  --repeat N       warm pulls through each proxy, the median reported (default 3)
  --dedupe-mib N   image size for the concurrent cold pulls (default 64)
  --clients N      concurrent cold pulls (default 20)
  --tags N         mirrored tags, each a shared layer plus a 1 MiB layer of its own (default 20)
  --shared-mib N   size of the shared layer (default 32)
  --skip LIST      phases left out: dedupe, mirror (comma-separated; cold and warm always run)
  --cpu-prof       profile serve's CPU during the warm pulls (V8 profiler) and print its hotspots
`;

const MiB = 1024 * 1024;
const ADMIN_PASSWORD = 'bench-admin-password';

async function skopeo(args: string[]): Promise<number> {
  const c = clientSandbox('bench-upstream-skopeo');
  const t0 = performance.now();
  try {
    await c.run(
      'skopeo',
      args.map((a) => a.replace('{dir}', c.dir)),
      { timeoutMs: 1_800_000 },
    );
    return (performance.now() - t0) / 1000;
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
}

const pullArgs = (hostPort: string, ref: string, creds: string | null) => [
  'copy',
  '--quiet',
  ...INSECURE.skopeoCopy,
  ...(creds ? ['--src-creds', creds] : []),
  `docker://${hostPort}/${ref}`,
  'oci:{dir}/pulled:pulled',
];

/**
 * Read a stored layer into the page cache before a warm pull, on both servers: this VM pages out files
 * nobody read for a while, and a pull that reads its layer from disk measures the disk (as bench/registry does).
 */
async function warmPageCache(file: string): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) void chunk;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | false>, timeoutMs = 1_800_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startMirror(reg: RegistryProcess): Promise<ManagedProcess> {
  const port = await freePort();
  const proc = startProcess({
    name: 'bench-mirror',
    bin: process.execPath,
    args: [join(REPO_ROOT, 'dist/registry/main.js'), 'mirror', '--config', reg.configPath!, '--port', String(port), '--host', '127.0.0.1'],
    logFile: join(workDir('bench-mirror'), 'mirror.log'),
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', NODE_OPTIONS: REGISTRY_NODE_FLAGS.join(' ') },
  });
  await waitUntil(proc, 'mirror health', async () => (await fetch(`http://127.0.0.1:${port}/health/instance`).catch(() => null))?.status === 200, 120_000);
  return proc;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      mib: { type: 'string', default: '256' },
      cold: { type: 'string', default: '3' },
      repeat: { type: 'string', default: '3' },
      'dedupe-mib': { type: 'string', default: '64' },
      clients: { type: 'string', default: '20' },
      tags: { type: 'string', default: '20' },
      'shared-mib': { type: 'string', default: '32' },
      skip: { type: 'string', default: '' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const mib = Number(values.mib);
  const repeat = Math.max(1, Number(values.repeat));
  const coldCount = Math.max(1, Number(values.cold));
  const dedupeMiB = Number(values['dedupe-mib']);
  const clients = Number(values.clients);
  const tagCount = Number(values.tags);
  const sharedMiB = Number(values['shared-mib']);
  const skip = new Set(values.skip.split(',').filter(Boolean));
  for (const phase of skip) if (phase !== 'dedupe' && phase !== 'mirror') throw new Error(`--skip: unknown phase ${phase}`);
  const profDir = values['cpu-prof'] ? join(workDir('bench-upstream-cpu-prof')) : null;
  const preload = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../registry/cpu-prof-preload.js')).href;
  const log = (m: string) => process.stderr.write(`${m}\n`);
  for (const t of ['skopeo', 'umoci', 'docker-registry', 'postgres']) tool(t);
  const loadBefore = loadavg();

  const stops: Array<() => Promise<unknown>> = [];
  try {
    // Cold pull i is of image i (the warm pulls are of the first): variants 11, 21, 22, …
    const coldImgs: BenchImage[] = [];
    for (let i = 0; i < coldCount; i++) coldImgs.push(await benchImage(mib, log, i === 0 ? 11 : 20 + i));
    const img = coldImgs[0];
    const dedupeImg = await benchImage(dedupeMiB, log, 12);
    const postgres = await startPostgres();
    stops.push(() => postgres.stop());
    const upstream = await startDistribution();
    stops.push(() => upstream.stop());
    // One counting front per consumer, so each one's upstream bytes are its own.
    const fronts: Record<'quay' | 'distribution' | 'skopeo', FaultFront> = {
      quay: await startFaultFront(upstream.url),
      distribution: await startFaultFront(upstream.url),
      skopeo: await startFaultFront(upstream.url),
    };
    for (const f of Object.values(fronts)) stops.push(() => f.close());
    const distProxy = await startDistribution({ proxy: { remoteurl: `http://${fronts.distribution.hostPort}` } });
    stops.push(() => distProxy.stop());
    const skopeoTarget = await startDistribution();
    stops.push(() => skopeoTarget.stop());
    const quayStorage = join(workDir('bench-upstream-storage'), 'blobs');
    const reg = await startRegistry({
      label: 'bench-upstream',
      adminPassword: ADMIN_PASSWORD,
      config: {
        DB_URI: await createTestDatabase('bench-upstream', postgres.url),
        DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: quayStorage }] },
        DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
        SUPER_USERS: ['admin'],
        FEATURE_PROXY_CACHE: true,
        FEATURE_REPO_MIRROR: true,
        REPO_MIRROR_INTERVAL: 1,
        SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
      },
      // The V8 flags production runs with (npm start, the image, the operator).
      env: {
        LOG_LEVEL: 'warn',
        NODE_OPTIONS: [...REGISTRY_NODE_FLAGS, ...(profDir ? [`--import=${preload}`] : [])].join(' '),
        ...(profDir ? { BENCH_CPU_PROF_DIR: profDir } : {}),
      },
    });
    stops.push(() => reg.stop());
    /** With --cpu-prof: ends serve's current CPU profile under `label` (cpu-prof-preload.ts) and starts the next. */
    const cutProfile = async (label: string): Promise<string | null> => {
      if (!profDir) return null;
      writeFileSync(join(profDir, 'label'), label);
      const before = new Set(readdirSync(profDir));
      process.kill(reg.process.pid, 'SIGUSR2');
      const done = await waitFor(`the ${label} CPU profile`, async () => readdirSync(profDir).find((f) => f.endsWith(`-${label}.done`) && !before.has(f)) ?? null, 60_000);
      return join(profDir, done.replace(/\.done$/, '.cpuprofile'));
    };
    const mirror = await startMirror(reg);
    stops.push(() => mirror.stop());
    // Peak RSS per phase: serve and mirror.
    const pids = [reg.process.pid, mirror.pid];
    const phasePeaks: Array<{ phase: string; serve: number; mirror: number }> = [];
    let watch = new PeakWatch(pids);
    const endPhase = (phase: string) => {
      const peaks = watch.stop();
      phasePeaks.push({ phase, serve: peaks.get(reg.process.pid) ?? 0, mirror: peaks.get(mirror.pid) ?? 0 });
      watch = new PeakWatch(pids);
    };
    const creds = `admin:${ADMIN_PASSWORD}`;
    const admin = await signin(reg, 'admin', ADMIN_PASSWORD);
    await admin.ok('POST', '/organization/', { name: 'cache', email: 'cache@example.com' });
    await admin.ok('POST', '/organization/cache/proxycache', { upstream_registry: fronts.quay.hostPort, insecure: true });

    log(`pushing the images to the upstream`);
    for (const [i, cold] of coldImgs.entries()) await skopeo(['copy', '--quiet', ...INSECURE.skopeoCopy, cold.ref, `docker://${upstream.hostPort}/bench/big:v${i + 1}`]);
    await skopeo(['copy', '--quiet', ...INSECURE.skopeoCopy, dedupeImg.ref, `docker://${upstream.hostPort}/bench/many:v1`]);

    log(`${coldCount} cold pulls of ${mib} MiB through each`);
    endPhase('setup');
    const quayColds: number[] = [];
    const distColds: number[] = [];
    // Server CPU (the fill: hashing, writing the layer, serving it) does not depend on the load as wall time does.
    const coldCpu = { quay: 0, dist: 0 };
    for (const [i, cold] of coldImgs.entries()) {
      // The upstream serves each layer from the page cache (see warmPageCache); the proxies take turns going
      // first, so neither is always the one that meets a busier machine.
      const [algorithm, hex] = cold.layer.digest.split(':');
      await warmPageCache(join(upstream.storageDir, 'docker/registry/v2/blobs', algorithm, hex.slice(0, 2), hex, 'data'));
      const quay = async () => {
        const c0 = cpuSeconds(reg.process.pid);
        quayColds.push(await skopeo(pullArgs(reg.hostPort, `cache/bench/big:v${i + 1}`, creds)));
        coldCpu.quay += (cpuSeconds(reg.process.pid) - c0) / coldCount;
      };
      const dist = async () => {
        const c0 = cpuSeconds(distProxy.process.pid);
        distColds.push(await skopeo(pullArgs(distProxy.hostPort, `bench/big:v${i + 1}`, null)));
        coldCpu.dist += (cpuSeconds(distProxy.process.pid) - c0) / coldCount;
      };
      for (const pull of i % 2 === 0 ? [quay, dist] : [dist, quay]) await pull();
    }
    const quayColdBytes = fronts.quay.bytesFromUpstream;
    const distColdBytes = fronts.distribution.bytesFromUpstream;
    endPhase(`${coldCount} cold pulls of ${mib} MiB`);
    log(`${repeat} warm pulls of ${mib} MiB through each`);
    await cutProfile('setup');
    const quayWarms: number[] = [];
    const distWarms: number[] = [];
    const [algorithm, hex] = img.layer.digest.split(':');
    const distLayer = join(distProxy.storageDir, 'docker/registry/v2/blobs', algorithm, hex.slice(0, 2), hex, 'data');
    // Server CPU per warm pull does not depend on the machine's load as wall time does.
    const warmCpu = { quay: 0, dist: 0 };
    for (let i = 0; i < repeat; i++) {
      await warmPageCache(join(quayStorage, casPath(img.layer.digest)));
      let c0 = cpuSeconds(reg.process.pid);
      quayWarms.push(await skopeo(pullArgs(reg.hostPort, 'cache/bench/big:v1', creds)));
      warmCpu.quay += (cpuSeconds(reg.process.pid) - c0) / repeat;
      await warmPageCache(distLayer).catch(() => undefined); // absent if Distribution has not finished caching it
      c0 = cpuSeconds(distProxy.process.pid);
      distWarms.push(await skopeo(pullArgs(distProxy.hostPort, 'bench/big:v1', null)));
      warmCpu.dist += (cpuSeconds(distProxy.process.pid) - c0) / repeat;
    }
    const quayWarmBytes = fronts.quay.bytesFromUpstream - quayColdBytes;
    const distWarmBytes = fronts.distribution.bytesFromUpstream - distColdBytes;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const t = { quayCold: median(quayColds), quayWarm: median(quayWarms), distCold: median(distColds), distWarm: median(distWarms) };
    const warmProfile = await cutProfile('warm');
    endPhase(`${repeat} warm pulls of ${mib} MiB`);
    const imageBytes = (i: BenchImage) => i.layer.size + i.config.size;

    let dedupeSeconds = NaN;
    let dedupeRatio = NaN;
    if (!skip.has('dedupe')) {
      log(`${clients} concurrent cold pulls of ${dedupeMiB} MiB`);
      const before = fronts.quay.bytesFromUpstream;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: clients }, () => skopeo(pullArgs(reg.hostPort, 'cache/bench/many:v1', creds))));
      dedupeSeconds = (performance.now() - t0) / 1000;
      dedupeRatio = (fronts.quay.bytesFromUpstream - before) / imageBytes(dedupeImg);
      endPhase(`${clients} concurrent cold pulls`);
    }

    let tagBytes = 0;
    let mirrorSeconds = NaN;
    let mirrorBytes = NaN;
    let skopeoSeconds = NaN;
    let skopeoBytes = NaN;
    if (!skip.has('mirror')) {
      log(`mirroring ${tagCount} tags sharing a ${sharedMiB} MiB layer`);
      const up = new V2Client({ url: upstream.url } as RegistryProcess);
      const shared = randomBlob(sharedMiB * MiB);
      tagBytes = shared.size;
      for (let i = 0; i < tagCount; i++) {
        const own = randomBlob(MiB);
        const pushed = await up.pushImage('bench/tags', `v1.${i}`, { layers: [shared, own] });
        tagBytes += own.size + pushed.config.size + pushed.manifest.length;
      }
      await admin.ok('POST', '/organization/', { name: 'mirrors', email: 'mirrors@example.com' });
      await admin.ok('PUT', '/organization/mirrors/robots/bot', {});
      await admin.ok('POST', '/repository', { namespace: 'mirrors', repository: 'tags', visibility: 'private', description: '' });
      const mirrorBefore = fronts.quay.bytesFromUpstream;
      const m0 = performance.now();
      await admin.ok('POST', '/repository/mirrors/tags/mirror', {
        external_reference: `${fronts.quay.hostPort}/bench/tags`,
        external_registry_config: { verify_tls: false },
        sync_interval: 86400,
        sync_start_date: '2020-01-01T00:00:00Z',
        robot_username: 'mirrors+bot',
        skopeo_timeout_interval: 3600,
        root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1.*'] },
      });
      await waitFor('the mirror sync', async () => (await admin.ok('GET', '/repository/mirrors/tags/mirror')).sync_status === 'SUCCESS');
      mirrorSeconds = (performance.now() - m0) / 1000;
      mirrorBytes = fronts.quay.bytesFromUpstream - mirrorBefore;
      const skopeoBefore = fronts.skopeo.bytesFromUpstream;
      skopeoSeconds = await skopeo([
        'sync',
        '--src',
        'docker',
        '--dest',
        'docker',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `${fronts.skopeo.hostPort}/bench/tags`,
        `${skopeoTarget.hostPort}/synced`,
      ]);
      skopeoBytes = fronts.skopeo.bytesFromUpstream - skopeoBefore;
      endPhase(`mirror of ${tagCount} tags, skopeo sync`);
    }
    watch.stop();
    const loadAfter = loadavg();

    const s = (x: number) => `${x.toFixed(1)} s`;
    const m = (x: number) => `${(x / MiB).toFixed(1)} MiB`;
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const out = [
      `## upstream benchmark (${cpus().length} CPUs; load average ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(1)).join(' ')} after)`,
      '',
      '| measure | quay-ts | Distribution 2.8 | quay-ts / Distribution |',
      '|---|---|---|---|',
      `| cold pull of ${mib} MiB through the proxy (skopeo, median of ${coldCount}) | ${s(t.quayCold)} | ${s(t.distCold)} | ${ratio(t.quayCold, t.distCold)} |`,
      `| server CPU per cold pull (mean, until the client is done) | ${coldCpu.quay.toFixed(2)} s | ${coldCpu.dist.toFixed(2)} s | ${ratio(coldCpu.quay, coldCpu.dist)} |`,
      `| warm pull of ${mib} MiB through the proxy (median of ${repeat}) | ${s(t.quayWarm)} | ${s(t.distWarm)} | ${ratio(t.quayWarm, t.distWarm)} |`,
      `| server CPU per warm pull (mean) | ${warmCpu.quay.toFixed(2)} s | ${warmCpu.dist.toFixed(2)} s | ${ratio(warmCpu.quay, warmCpu.dist)} |`,
      `| upstream bytes: one cold pull (mean), all warm pulls | ${m(quayColdBytes / coldCount)}, ${m(quayWarmBytes)} | ${m(distColdBytes / coldCount)}, ${m(distWarmBytes)} | |`,
      ...(skip.has('dedupe')
        ? []
        : [`| ${clients} concurrent cold pulls of ${dedupeMiB} MiB: time, upstream bytes / image size | ${s(dedupeSeconds)}, ${dedupeRatio.toFixed(2)}× | | |`]),
      ...(skip.has('mirror')
        ? []
        : [
            `| mirror ${tagCount} tags sharing a ${sharedMiB} MiB layer (${m(tagBytes)} distinct) | ${s(mirrorSeconds)}, ${m(mirrorBytes)} fetched | skopeo sync: ${s(skopeoSeconds)}, ${m(skopeoBytes)} fetched | ${ratio(mirrorSeconds, skopeoSeconds)} |`,
          ]),
      `| peak RSS: serve, mirror | ${m(Math.max(...phasePeaks.map((p) => p.serve)))}, ${m(Math.max(...phasePeaks.map((p) => p.mirror)))} | | |`,
      '',
      '| phase | peak RSS of serve | peak RSS of mirror |',
      '|---|---|---|',
      ...phasePeaks.map((p) => `| ${p.phase} | ${m(p.serve)} | ${m(p.mirror)} |`),
      '',
      `Cold pulls, each: quay-ts ${quayColds.map(s).join(', ')}; Distribution ${distColds.map(s).join(', ')}.`,
      `Warm pulls, each: quay-ts ${quayWarms.map(s).join(', ')}; Distribution ${distWarms.map(s).join(', ')}.`,
      'The mirror time runs from the configuration POST (the worker is woken by it) to the SUCCESS status.',
    ].join('\n');
    process.stdout.write(`${out}\n`);
    if (warmProfile) process.stdout.write(`\n### serve's CPU profile of the warm pulls (${warmProfile})\n${formatProfile(summarizeProfile(warmProfile, REPO_ROOT))}\n`);
    return 0;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
