/**
 * Registry benchmark (issues #2, #15): this registry (Postgres + LocalStorage, token auth) against CNCF
 * Distribution v3.1.2 (built by test/setup/install.sh; `--distribution 2.8`: Debian's docker-registry), no
 * auth, side by side on loopback in one run.
 *
 *   npm run bench -- registry [--distribution v3|2.8] [--blob-mib 256] [--layers 4] [--big-mib 1024] [--reps 3] [--duration 10]
 *                             [--phases push,pull,blob,big,manifest,tags,put] [--request-logs]
 *                             [--cpu-prof] [--markdown FILE] [--keep]
 *
 * Every measurement runs against one server at a time (the machine has few cores), alternating which goes
 * first, with the same client and the same load for both. Prints one table with ratios and targets.
 */
import { availableParallelism, cpus, getPriority, loadavg, release, setPriority } from 'node:os';
import { createReadStream, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT, runDir } from '../../test/setup/paths.js';
import { runTool, tool } from '../../test/setup/tools.js';
import { benchImage, type BenchImage } from './image.js';
import { ANCHOR_BINARY, startServers, type Server, type StartedServers } from './servers.js';
import { PeakWatch, memStatus } from './rss.js';
import { cpuSeconds } from './cpu.js';
import { ACCEPT, curlBlob, manifestPutScript, probe, seedBlobs, seedTags, skopeoPull, skopeoPush, wrk } from './clients.js';
import { formatProfile, summarizeProfile } from './profile.js';
import { REGISTRY_NODE_FLAGS, REGISTRY_V8_RUNTIME_FLAGS } from '../../config/node.js';

/**
 * Read a stored blob once (by the benchmark, not the server) so that the measured request finds it in the
 * page cache on both servers alike: this VM's kernel pages out memory untouched for a while (DAMON
 * `pageout`), and a GET that reads the blob from disk measures the disk, not the server.
 */
async function warmPageCache(file: string): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) void chunk;
}

function layersOf(img: BenchImage): string {
  return img.layers.length === 1 ? 'single-layer' : `${img.layers.length}-layer`;
}

const PHASES = ['push', 'pull', 'blob', 'big', 'manifest', 'tags', 'put'] as const;
type Phase = (typeof PHASES)[number];

const USAGE = `usage: npm run bench -- registry [options]
  --workers N        quay-ts HTTP worker processes (default: the CPUs, as \`serve\` defaults to; 1 with --cpu-prof)
  --embedded         quay-ts on its embedded database (PGlite, one process; the \`npm start\` default) instead of Postgres
  --distribution V   the anchor: v3 (Distribution v3.1.2 from install.sh, default) or 2.8 (Debian's docker-registry)
  --blob-mib N       payload of the pushed image in MiB (default 256)
  --layers N         layers of the pushed and pulled image, the payload split over them halving in size
                     (default 4: 8/15, 4/15, 2/15, 1/15); the blob GET phase reads a single-layer image's
                     layer of the whole payload
  --big-mib N        payload of the large image for the RSS flatness check (default 1024; 0 skips it)
  --reps N           repetitions of push and pull per server (default 3; the median is reported); blob GET
                     takes max(N, 5) samples per server of >= 1 GiB each (the layer read back to back)
  --duration S       seconds of each wrk run (default 10)
  --rounds N         measured wrk runs per server and measurement, alternating servers (default 3; median;
                     the manifest PUT phase runs at least 3)
  --phases LIST      comma-separated subset of ${PHASES.join(',')} (default all)
  --request-logs     both servers log every request (each one's default); otherwise warnings only
  --nice N           scheduling priority of the benchmark, everything it starts (servers, Postgres, clients)
                     and its autogroup, e.g. -10 on a machine shared with other work (root for negative values)
  --node-options S   NODE_OPTIONS for the registry process instead of its production flags (config/node.ts), shown in the report
  --cpu-prof         profile the registry's CPU per phase (V8 profiler) and print its hotspots
  --markdown FILE    also write the result table (Markdown) to FILE
  --keep             keep the run's directory (.test-work/run-<pid>) afterwards
`;

interface Row {
  metric: string;
  quay: number;
  dist: number;
  unit: string;
  /** No quay-ts / Distribution ratio (differences) */
  noRatio?: boolean;
  target?: { text: string; met: (r: Row) => boolean };
}

const MB = 1e6;
const MiB = 2 ** 20;
/** Bytes each blob GET sample reads (repeating the GET of the layer as often as that takes). */
const BLOB_SAMPLE_BYTES = 2 ** 30;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(n: number, unit: string): string {
  if (unit === 's') return `${n.toFixed(2)} s`;
  if (unit === 'MB/s') return `${n.toFixed(0)} MB/s`;
  if (unit === 'MB') return `${n.toFixed(1)} MB`;
  if (unit === 'req/s') return `${n.toFixed(0)} req/s`;
  return `${n} ${unit}`;
}

function ratio(r: Row): number {
  return r.quay / r.dist;
}

function table(rows: Row[], distVersion: string): string {
  const lines = [`| measurement | quay-ts | Distribution ${distVersion} | quay-ts / Distribution | target | result |`, '|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    const met = r.target ? (r.target.met(r) ? 'met' : '**missed**') : '–';
    lines.push(`| ${r.metric} | ${fmt(r.quay, r.unit)} | ${fmt(r.dist, r.unit)} | ${r.noRatio ? '–' : `${ratio(r).toFixed(2)}×`} | ${r.target?.text ?? '–'} | ${met} |`);
  }
  return lines.join('\n');
}

class Bench {
  readonly rows: Row[] = [];
  readonly cpuRows: string[] = [];
  /** Failed requests and the like: the run exits 1. */
  readonly problems: string[] = [];
  /** Facts that explain a number. */
  readonly notes: string[] = [];
  readonly peaks = new Map<string, { quay: number; dist: number }>();

  constructor(
    readonly s: StartedServers,
    readonly o: { reps: number; duration: number; rounds: number; profDir: string | null },
    readonly log: (m: string) => void,
  ) {}

  /**
   * With --cpu-prof: ends the registry's current CPU profile under `label` and starts the next one (see
   * cpu-prof-preload.ts). Call with a "-setup" label before a phase and the phase's name after it.
   */
  async cutProfile(label: string): Promise<void> {
    const dir = this.o.profDir;
    if (!dir) return;
    const before = new Set(readdirSync(dir));
    writeFileSync(join(dir, 'label'), label);
    process.kill(this.s.quay.pid, 'SIGUSR2');
    for (let i = 0; i < 100; i++) {
      if (readdirSync(dir).some((f) => f.endsWith(`-${label}.done`) && !before.has(f))) return;
      await sleep(100);
    }
    throw new Error(`the registry wrote no CPU profile for ${label} in ${dir}`);
  }

  get both(): Server[] {
    return [this.s.distribution, this.s.quay];
  }

  /** Servers in the order of repetition i: alternate who goes first. */
  order(i: number): Server[] {
    return i % 2 === 0 ? this.both : [...this.both].reverse();
  }

  watch(): PeakWatch {
    return new PeakWatch([...this.s.quay.processes(), this.s.distribution.pid]);
  }

  endWatch(w: PeakWatch, label: string): void {
    const m = w.stop();
    // The target is per process: the largest of quay-ts' processes (the primary and its HTTP workers).
    const quay = Math.max(...this.s.quay.processes().map((pid) => m.get(pid) ?? 0));
    this.peaks.set(label, { quay: quay / MB, dist: m.get(this.s.distribution.pid)! / MB });
  }

  /** Seconds quay-ts spent in a blob store operation so far (from its /metrics histogram). */
  async storageSeconds(operation: string): Promise<number> {
    const text = await (await fetch(`${this.s.quay.url}/metrics`)).text();
    const m = new RegExp(`^quay_storage_operation_duration_seconds_sum\\{[^}]*operation="${operation}"[^}]*\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** Seconds quay-ts spent answering a route so far, and how many requests (from its /metrics histogram). */
  async routeSeconds(route: string): Promise<{ seconds: number; count: number }> {
    const text = await (await fetch(`${this.s.quay.url}/metrics`)).text();
    let seconds = 0;
    let count = 0;
    for (const m of text.matchAll(new RegExp(`^quay_http_request_duration_seconds_(sum|count)\\{[^}]*route="${route}"[^}]*\\} (\\S+)$`, 'gm'))) {
      if (m[1] === 'sum') seconds += Number(m[2]);
      else count += Number(m[2]);
    }
    return { seconds, count };
  }

  /** Push repetition i sends images[i] to repoOf(i). */
  async push(images: BenchImage[], repoOf: (i: number) => string, label: string): Promise<void> {
    const reps = images.length;
    const t = { quay: [] as number[], dist: [] as number[] };
    const c0 = this.both.map((s) => serverCpu(s));
    const pg0 = cpuSeconds(this.s.postgres.process.pid, true);
    const auth0 = await this.routeSeconds('v2_auth');
    const commit0 = await this.storageSeconds('commit_upload');
    const append0 = await this.storageSeconds('write_segment');
    const load0 = loadavg()[0];
    for (let i = 0; i < reps; i++) {
      for (const srv of this.order(i)) {
        const s = await skopeoPush(srv, images[i].ref, repoOf(i));
        (srv === this.s.quay ? t.quay : t.dist).push(s);
        this.log(`  ${label} push #${i + 1} ${srv.name}: ${s.toFixed(2)} s`);
      }
    }
    const [dist, quay] = this.both.map((s, i) => (serverCpu(s) - c0[i]) / reps);
    const pg = (cpuSeconds(this.s.postgres.process.pid, true) - pg0) / reps;
    this.recordCpu(`${label} push ×${reps}`, c0, pg0);
    const commit = ((await this.storageSeconds('commit_upload')) - commit0) / reps;
    const append = ((await this.storageSeconds('write_segment')) - append0) / reps;
    const auth = await this.routeSeconds('v2_auth');
    this.notes.push(
      `${label} push, server CPU per push (the steadier figure on a loaded machine): quay-ts ${quay.toFixed(2)} s + Postgres ${pg.toFixed(2)} s, ` +
        `Distribution ${dist.toFixed(2)} s; load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)} during the pushes.`,
    );
    this.notes.push(
      `${label} push on quay-ts, per push: ${append.toFixed(2)} s streaming the layers to disk (hashing on the way, fdatasync before each answer), ` +
        `${commit.toFixed(2)} s committing them (link, rename, fsync of the directory; Distribution does not fsync); ` +
        `${reps} push(es): ${(auth.seconds - auth0.seconds).toFixed(2)} s in ${auth.count - auth0.count} token request(s) (bcrypt check of the password).`,
    );
    this.rows.push({
      metric: `skopeo push, ${label} ${layersOf(images[0])} image (median of ${reps})`,
      quay: median(t.quay),
      dist: median(t.dist),
      unit: 's',
      target: { text: '≤ 1.0×', met: (r) => ratio(r) <= 1.0 },
    });
  }

  async pull(repo: string, img: BenchImage, reps: number, label: string): Promise<void> {
    const t = { quay: [] as number[], dist: [] as number[] };
    const c0 = this.both.map((s) => serverCpu(s));
    const pg0 = cpuSeconds(this.s.postgres.process.pid, true);
    const auth0 = await this.routeSeconds('v2_auth');
    const blob0 = await this.routeSeconds('v2_blob');
    for (let i = 0; i < reps; i++) {
      for (const srv of this.order(i)) {
        for (const l of img.layers) await warmPageCache(srv.blobFile(l.digest));
        const s = await skopeoPull(srv, repo);
        (srv === this.s.quay ? t.quay : t.dist).push(s);
        this.log(`  ${label} pull #${i + 1} ${srv.name}: ${s.toFixed(2)} s`);
      }
    }
    this.recordCpu(`${label} pull ×${reps}`, c0, pg0);
    const auth = await this.routeSeconds('v2_auth');
    const blob = await this.routeSeconds('v2_blob');
    this.notes.push(
      `${label} pull on quay-ts, ${reps} pull(s): ${(auth.seconds - auth0.seconds).toFixed(2)} s in ${auth.count - auth0.count} token request(s), ` +
        `${(blob.seconds - blob0.seconds).toFixed(2)} s in ${blob.count - blob0.count} blob request(s) (each until its last byte is handed to the socket).`,
    );
    this.rows.push({
      metric: `skopeo pull, ${label} ${layersOf(img)} image (median of ${reps})`,
      quay: median(t.quay),
      dist: median(t.dist),
      unit: 's',
      target: { text: '≤ 1.0×', met: (r) => ratio(r) <= 1.0 },
    });
  }

  /**
   * `samples` samples per server, alternating which goes first; each sample reads the layer back to back until
   * at least BLOB_SAMPLE_BYTES went (one 64 MiB GET takes ~0.05 s, and a sample that short swung the ratio
   * between 0.7× and 1.5× on a quiet machine). MB/s is a sample's bytes over its transfer time; the median
   * counts. The server CPU per GB read, over all samples, is the steadier figure on a loaded machine.
   */
  async blobGet(repo: string, img: BenchImage, samples: number, label: string): Promise<void> {
    const v = { quay: [] as number[], dist: [] as number[] };
    const cpu = new Map<Server, number>(this.both.map((s) => [s, 0]));
    const gets = Math.ceil(BLOB_SAMPLE_BYTES / img.layer.size);
    const pg0 = cpuSeconds(this.s.postgres.process.pid, true);
    const load0 = loadavg()[0];
    for (let i = 0; i < samples; i++) {
      for (const srv of this.order(i)) {
        await warmPageCache(srv.blobFile(img.layer.digest));
        const c0 = serverCpu(srv);
        let seconds = 0;
        for (let g = 0; g < gets; g++) seconds += (await curlBlob(srv, repo, img.layer.digest, img.layer.size)).seconds;
        cpu.set(srv, cpu.get(srv)! + serverCpu(srv) - c0);
        const speed = (gets * img.layer.size) / seconds / MB;
        (srv === this.s.quay ? v.quay : v.dist).push(speed);
        this.log(`  ${label} blob GET sample #${i + 1} ${srv.name}: ${speed.toFixed(0)} MB/s (${gets} GET(s) in ${seconds.toFixed(2)} s)`);
      }
    }
    const gb = (samples * gets * img.layer.size) / 1e9;
    const [dist, quay] = this.both.map((s) => cpu.get(s)!);
    const pg = cpuSeconds(this.s.postgres.process.pid, true) - pg0;
    this.cpuRows.push(`| ${label} blob GET ×${samples * gets} (${gb.toFixed(1)} GB) | ${quay.toFixed(1)} s + Postgres ${pg.toFixed(1)} s | ${dist.toFixed(1)} s |`);
    this.notes.push(
      `${label} blob GET, server CPU per GB read: quay-ts ${(quay / gb).toFixed(3)} s, Distribution ${(dist / gb).toFixed(3)} s ` +
        `(${(quay / dist).toFixed(2)}×); load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)} during the GETs.`,
    );
    this.rows.push({
      metric: `blob GET with curl, ${label} layer (${(img.layer.size / MiB).toFixed(0)} MiB; median of ${samples} samples of ${gets} GET(s))`,
      quay: median(v.quay),
      dist: median(v.dist),
      unit: 'MB/s',
      target: { text: '≥ 0.8×', met: (r) => ratio(r) >= 0.8 },
    });
  }

  private recordCpu(label: string, before: number[], pg0: number): void {
    const [d, q] = this.both.map((s, i) => serverCpu(s) - before[i]);
    const pg = cpuSeconds(this.s.postgres.process.pid, true) - pg0;
    this.cpuRows.push(`| ${label} | ${q.toFixed(1)} s + Postgres ${pg.toFixed(1)} s | ${d.toFixed(1)} s |`);
  }

  /**
   * wrk against each server with the same URL path and load: a 2 s warm-up, then `rounds` measured runs that
   * alternate which server goes first (the median counts; at least `minRounds`). Also the server CPU time per
   * request, which other load on the machine disturbs much less than requests/s.
   */
  async wrkBoth(
    label: string,
    path: string,
    opts: {
      connections: number;
      headers?: Record<string, string>;
      scriptFor?: (srv: Server, run: string) => string;
      repos: string[];
      actions: string[];
      minRounds?: number;
    },
  ): Promise<Map<Server, WrkSummary>> {
    const rounds = Math.max(this.o.rounds, opts.minRounds ?? 1);
    const runs = new Map<Server, { rps: number[]; cpuMs: number[]; pgMs: number[]; p99: number[] }>();
    const pgPid = this.s.postgres.process.pid;
    for (const srv of this.both) {
      runs.set(srv, { rps: [], cpuMs: [], pgMs: [], p99: [] });
      const headers = { ...opts.headers, ...(await srv.authHeaders(opts.repos, opts.actions)) };
      await wrk(`${srv.url}${path}`, { threads: 2, connections: opts.connections, headers, seconds: 2, script: opts.scriptFor?.(srv, 'warm') });
    }
    for (let round = 0; round < rounds; round++) {
      for (const srv of this.order(round)) {
        await sleep(500);
        const headers = { ...opts.headers, ...(await srv.authHeaders(opts.repos, opts.actions)) };
        const cpu0 = serverCpu(srv);
        const pg0 = cpuSeconds(pgPid, true);
        const r = await wrk(`${srv.url}${path}`, { threads: 2, connections: opts.connections, headers, seconds: this.o.duration, script: opts.scriptFor?.(srv, `r${round}`) });
        const cpuMs = ((serverCpu(srv) - cpu0) * 1000) / r.requests;
        // Postgres serves only quay-ts (Distribution has no database).
        const pgMs = srv === this.s.quay ? ((cpuSeconds(pgPid, true) - pg0) * 1000) / r.requests : 0;
        const x = runs.get(srv)!;
        x.rps.push(r.requestsPerSec);
        x.cpuMs.push(cpuMs);
        x.pgMs.push(pgMs);
        x.p99.push(r.p99);
        this.log(
          `  ${label} #${round + 1} ${srv.name}: ${r.requestsPerSec.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
            `server CPU ${cpuMs.toFixed(3)} ms/request${srv === this.s.quay ? ` + Postgres ${pgMs.toFixed(3)} ms` : ''}, non-2xx ${r.non2xx}, socket errors ${r.errors}`,
        );
        if (r.non2xx > 0 || r.errors > 0) this.problems.push(`${label} on ${srv.name}: ${r.non2xx} non-2xx responses, ${r.errors} socket errors`);
      }
    }
    const out = new Map<Server, WrkSummary>();
    for (const [srv, x] of runs) out.set(srv, { rps: median(x.rps), cpuMsPerRequest: median(x.cpuMs), pgMsPerRequest: median(x.pgMs), p99: median(x.p99) });
    const q = out.get(this.s.quay)!;
    const d = out.get(this.s.distribution)!;
    this.cpuRows.push(
      `| ${label}, per request (median of ${rounds}) | ${q.cpuMsPerRequest.toFixed(2)} ms + Postgres ${q.pgMsPerRequest.toFixed(2)} ms | ${d.cpuMsPerRequest.toFixed(2)} ms |`,
    );
    return out;
  }
}

/** CPU seconds of a server: quay-ts with its HTTP worker processes (children of the primary). */
function serverCpu(s: Server): number {
  return cpuSeconds(s.pid, s.name === 'quay-ts');
}

/** The commit the benchmarked build comes from (with `+dirty` for uncommitted changes). */
async function gitCommit(): Promise<string> {
  const head = await runTool('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { allowFail: true });
  const dirty = await runTool('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no'], { allowFail: true });
  return `${head.stdout.trim() || 'unknown'}${dirty.stdout.trim() ? '+dirty' : ''}`;
}

interface WrkSummary {
  rps: number;
  cpuMsPerRequest: number;
  pgMsPerRequest: number;
  p99: number;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      distribution: { type: 'string', default: 'v3' },
      embedded: { type: 'boolean', default: false },
      workers: { type: 'string', default: String(availableParallelism()) },
      'blob-mib': { type: 'string', default: '256' },
      layers: { type: 'string', default: '4' },
      'big-mib': { type: 'string', default: '1024' },
      reps: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      phases: { type: 'string', default: PHASES.join(',') },
      'request-logs': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'node-options': { type: 'string' },
      nice: { type: 'string', default: '0' },
      markdown: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const phases = new Set(values.phases!.split(',').map((p) => p.trim()) as Phase[]);
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`unknown phase "${p}"; phases: ${PHASES.join(',')}`);
  const blobMiB = Number(values['blob-mib']);
  const layerCount = Number(values.layers);
  if (!Number.isInteger(layerCount) || layerCount < 1 || layerCount > 16) throw new Error(`--layers is 1 to 16, not "${values.layers}"`);
  const bigMiB = Number(values['big-mib']);
  const reps = Number(values.reps);
  const duration = Number(values.duration);
  const rounds = Number(values.rounds);
  const log = (m: string) => process.stderr.write(`${m}\n`);

  const nice = Number(values.nice);
  if (nice !== 0) {
    setPriority(0, nice); // inherited by every process started from here on
    // With autogroup scheduling, CPU is first shared between sessions: the session's own nice value counts.
    try {
      writeFileSync('/proc/self/autogroup', String(nice));
    } catch {
      /* no autogroup scheduling */
    }
  }
  const anchor = values.distribution === '2.8' ? '2.8' : values.distribution === 'v3' ? 'v3' : null;
  if (!anchor) throw new Error(`--distribution is v3 or 2.8, not "${values.distribution}"`);
  for (const t of ['skopeo', 'umoci', 'wrk', 'curl', ANCHOR_BINARY[anchor], 'postgres', 'initdb']) tool(t);
  const needsImages = phases.has('push') || phases.has('pull') || phases.has('blob') || phases.has('manifest');
  const img = needsImages ? await benchImage(blobMiB, log, 1, layerCount) : null;
  const blobImg = phases.has('blob') && img ? (layerCount === 1 ? img : await benchImage(blobMiB, log)) : null;
  // One image per push repetition (see benchImage): repetition i pushes image i into admin/push-<i>.
  const pushImages = phases.has('push') && img ? [img] : [];
  for (let i = 2; phases.has('push') && i <= reps; i++) pushImages.push(await benchImage(blobMiB, log, i, layerCount));
  const big = phases.has('big') && bigMiB > 0 ? await benchImage(bigMiB, log) : null;

  const profDir = values['cpu-prof'] ? join(runDir(), 'cpu-prof') : null;
  if (profDir) mkdirSync(profDir, { recursive: true });
  log('starting Postgres, quay-ts and Distribution on loopback');
  const servers = await startServers({
    anchor,
    embedded: values.embedded,
    workers: profDir || values.embedded ? 1 : Number(values.workers),
    requestLogs: values['request-logs']!,
    nodeOptions:
      [
        values['node-options'] ?? REGISTRY_NODE_FLAGS.join(' '),
        profDir ? `--import=${pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'cpu-prof-preload.js')).href}` : '',
      ]
        .filter(Boolean)
        .join(' ') || undefined,
    env: profDir ? { BENCH_CPU_PROF_DIR: profDir } : undefined,
  });
  const stopOnSignal = () => void servers.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const b = new Bench(servers, { reps, duration, rounds, profDir }, log);
  const loadBefore = loadavg()[0];
  const idle = { quay: Math.max(...servers.quay.processes().map((pid) => memStatus(pid).rss)) / MB, dist: memStatus(servers.distribution.pid).rss / MB };
  const pushedRepo = 'admin/push-1';
  try {
    // Large transfers at the usual size: push, pull, blob GET (peak RSS over the three).
    await b.cutProfile('start-setup');
    let w = b.watch();
    if (img && (phases.has('push') || phases.has('pull') || phases.has('blob') || phases.has('manifest'))) {
      if (phases.has('push')) {
        await b.push(pushImages, (i) => `admin/push-${i + 1}`, `${blobMiB} MiB`);
      } else {
        for (const srv of b.both) await skopeoPush(srv, img.ref, pushedRepo);
      }
      await b.cutProfile('push');
      if (phases.has('pull')) await b.pull(pushedRepo, img, reps, `${blobMiB} MiB`);
      await b.cutProfile('pull');
      if (blobImg) {
        // The blob GET reads one layer of the whole payload, whatever --layers says (comparable across runs).
        const repo = blobImg === img ? pushedRepo : 'admin/blob-get';
        if (blobImg !== img) for (const srv of b.both) await skopeoPush(srv, blobImg.ref, repo);
        await b.blobGet(repo, blobImg, Math.max(reps, 5), `${blobMiB} MiB`);
      }
      await b.cutProfile('blob-get');
    }
    b.endWatch(w, `${blobMiB} MiB push, pull, blob GET`);

    if (big) {
      w = b.watch();
      await b.push([big], () => 'admin/big', `${bigMiB} MiB`);
      await b.pull('admin/big', big, 1, `${bigMiB} MiB`);
      await b.blobGet('admin/big', big, 1, `${bigMiB} MiB`);
      b.endWatch(w, `${bigMiB} MiB push, pull, blob GET`);
      await b.cutProfile('big-transfers');
      // Those rows carry no target of their own: flatness is judged on peak RSS below.
      for (const r of b.rows.slice(-3)) r.target = undefined;
    }

    w = b.watch();
    if (phases.has('manifest') && img) {
      const path = `/v2/${pushedRepo}/manifests/latest`;
      for (const srv of b.both) {
        const p = await probe(`${srv.url}${path}`, { accept: ACCEPT, ...(await srv.authHeaders([pushedRepo], ['pull'])) });
        if (p.status !== 200) throw new Error(`${srv.name}: manifest GET answered ${p.status}: ${p.body}`);
      }
      await b.cutProfile('manifest-get-setup');
      const r = await b.wrkBoth('manifest GET by tag', path, { connections: 32, headers: { accept: ACCEPT }, repos: [pushedRepo], actions: ['pull'] });
      b.rows.push({
        metric: `manifest GET by tag, wrk -t2 -c32 -d${duration}s`,
        quay: r.get(servers.quay)!.rps,
        dist: r.get(servers.distribution)!.rps,
        unit: 'req/s',
        target: { text: '≥ 1.5×', met: (x) => ratio(x) >= 1.5 },
      });
      await b.cutProfile('manifest-get');
    }

    if (phases.has('tags')) {
      const repo = 'admin/tags1000';
      for (const srv of b.both) {
        const t0 = Date.now();
        await seedTags(srv, repo, 1000, 8);
        log(`  seeded 1000 tags on ${srv.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const p = await probe(`${srv.url}/v2/${repo}/tags/list`, await srv.authHeaders([repo], ['pull']));
        const n = p.status === 200 ? ((JSON.parse(p.body) as { tags: string[] }).tags ?? []).length : -1;
        if (n !== 1000) throw new Error(`${srv.name}: tag list answered ${p.status} with ${n} tags: ${p.body.slice(0, 300)}`);
      }
      await b.cutProfile('tag-list-setup');
      const r = await b.wrkBoth('tag list (1000 tags)', `/v2/${repo}/tags/list`, { connections: 32, repos: [repo], actions: ['pull'] });
      b.rows.push({
        metric: `tag list of a 1000-tag repository, wrk -t2 -c32 -d${duration}s`,
        quay: r.get(servers.quay)!.rps,
        dist: r.get(servers.distribution)!.rps,
        unit: 'req/s',
        target: { text: '≥ 2.0×', met: (x) => ratio(x) >= 2.0 },
      });
      await b.cutProfile('tag-list');
    }

    if (phases.has('put')) {
      const repo = 'admin/put';
      const seeds = new Map<Server, Awaited<ReturnType<typeof seedBlobs>>>();
      for (const srv of b.both) seeds.set(srv, await seedBlobs(srv, repo));
      await b.cutProfile('manifest-put-setup');
      // Three rounds at least: a single short sample of either server swings by ±30 % on a busy machine.
      const putRounds = Math.max(rounds, 3);
      const r = await b.wrkBoth('manifest PUT (new tag each)', `/v2/${repo}/manifests/x`, {
        connections: 8,
        repos: [repo],
        actions: ['pull', 'push'],
        scriptFor: (srv, runLabel) => manifestPutScript(repo, seeds.get(srv)!.config, seeds.get(srv)!.layer, runLabel),
        minRounds: putRounds,
      });
      b.rows.push({
        metric: `manifest PUT, a new manifest and tag each, wrk -t2 -c8 -d${duration}s, median of ${putRounds}`,
        quay: r.get(servers.quay)!.rps,
        dist: r.get(servers.distribution)!.rps,
        unit: 'req/s',
        target: { text: '≥ 1.0×', met: (x) => ratio(x) >= 1.0 },
      });
      await b.cutProfile('manifest-put');
    }
    b.endWatch(w, 'manifest GET, tag seeding + list, manifest PUT');
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    await servers.stop();
  }

  // Peak RSS rows.
  const peakRows: Row[] = [];
  // Issue #15's targets: < 150 MB per process on Postgres, < 250 MB in the embedded mode (PGlite's Postgres inside the process).
  const rssLimit = values.embedded ? 250 : 150;
  const rssTarget = { text: `< ${rssLimit} MB`, met: (r: Row) => r.quay < rssLimit };
  for (const [label, p] of b.peaks) peakRows.push({ metric: `peak RSS of the server during ${label}`, quay: p.quay, dist: p.dist, unit: 'MB', target: rssTarget });
  const small = b.peaks.get(`${blobMiB} MiB push, pull, blob GET`);
  const large = b.peaks.get(`${bigMiB} MiB push, pull, blob GET`);
  if (small && large && big) {
    peakRows.push({
      metric: `peak RSS growth, ${blobMiB} MiB → ${bigMiB} MiB image`,
      quay: large.quay - small.quay,
      dist: large.dist - small.dist,
      unit: 'MB',
      noRatio: true,
      target: { text: 'flat (≤ +10%)', met: (r) => r.quay <= 0.1 * small.quay },
    });
  }
  const allRows = [...b.rows.filter((r) => !r.metric.includes(`${bigMiB} MiB`)), ...peakRows, ...b.rows.filter((r) => r.metric.includes(`${bigMiB} MiB`))];

  const pgVersion = (await runTool('postgres', ['--version'])).stdout.trim();
  const env = [
    `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node.js ${process.version}, ${pgVersion}`,
    `quay-ts ${servers.quay.version} (commit ${await gitCommit()}), Distribution ${servers.distribution.version} (${ANCHOR_BINARY[anchor]})`,
    `load average (1 min) at start ${loadBefore.toFixed(1)}, at end ${loadavg()[0].toFixed(1)}; benchmark processes at nice ${getPriority(0)}`,
    `registry NODE_OPTIONS: ${values['node-options'] ?? REGISTRY_NODE_FLAGS.join(' ')} (and set at start: ${REGISTRY_V8_RUNTIME_FLAGS.join(' ')}); quay-ts HTTP worker processes: ${profDir || values.embedded ? 1 : values.workers}; quay-ts database: ${values.embedded ? 'embedded (PGlite)' : 'Postgres'}`,
    `request logging: ${values['request-logs'] ? 'every request on both servers' : 'warnings only on both servers'}; idle RSS after start: quay-ts ${idle.quay.toFixed(1)} MB, Distribution ${idle.dist.toFixed(1)} MB`,
  ];
  const out = [
    `Registry benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    ...env,
    '',
    table(allRows, servers.distribution.version),
    '',
    '| server CPU time (user + system) in | quay-ts (+ its Postgres) | Distribution |',
    '|---|---|---|',
    ...b.cpuRows,
    ...(b.notes.length ? ['', ...b.notes.map((n) => `- ${n}`)] : []),
    ...(b.problems.length ? ['', 'Problems:', ...b.problems.map((n) => `- ${n}`)] : []),
  ].join('\n');
  process.stdout.write(`\n${out}\n`);
  if (values.markdown) writeFileSync(values.markdown, `${out}\n`);

  if (profDir) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile') && !f.includes('-setup'));
    if (files.length === 0) log(`no CPU profile was written to ${profDir}`);
    for (const f of files.sort()) {
      const text = formatProfile(summarizeProfile(join(profDir, f), REPO_ROOT));
      process.stdout.write(`\n### quay-ts CPU profile: ${f.replace(/^\d+-|\.cpuprofile$/g, '')} (${join(profDir, f)})\n${text}\n`);
    }
  }
  if (!values.keep && !profDir) rmSync(runDir(), { recursive: true, force: true });
  else log(`kept ${runDir()}`);
  return b.problems.length > 0 ? 1 : 0;
}
