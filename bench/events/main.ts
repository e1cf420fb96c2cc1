/**
 * Events benchmark (issue #9): the registry on Postgres + LocalStorage with a webhook and a Slack notification
 * on a repository, real HTTP receivers on loopback.
 *
 *   npm run bench -- events [--pushes 1000] [--concurrency 8] [--burst 2000] [--markdown FILE] [--keep]
 *
 * 1. push throughput with notifications on vs off: `--pushes` pushes into each of two repositories (one with
 *    the two notifications, one without), in alternating halves so that drift hits both alike. A push is what
 *    a client does for an image whose layer exists: upload a fresh config blob, HEAD the layer, PUT the
 *    manifest under a new tag;
 * 2. latency from the start of the manifest PUT to the webhook's arrival at the receiver (median, p99);
 * 3. queue throughput: a backlog of `--burst` deliveries (half webhook, half Slack) committed to the queue
 *    in one transaction, deliveries/s from that commit to the last arrival, and the queue depth (sampled
 *    from /metrics) draining back to 0;
 * 4. the registry's peak RSS over the run (VmHWM);
 * 5. CPU per push per mode of the registry, Postgres and this process (each "on" half's deliveries waited for
 *    and counted with it), and CPU per delivery in the backlog drain.
 */
import { loadavg, cpus } from 'node:os';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createHash, randomBytes } from 'node:crypto';
import { runDir, workDir } from '../../test/setup/paths.js';
import { signin } from '../../test/integration/api/fixture.js';
import { createTestDatabase, startPostgres } from '../../test/setup/services.js';
import { REGISTRY_NODE_FLAGS } from '../../config/node.js';
import { startRegistry, basicAuth, type RegistryProcess } from '../../test/helpers/registry.js';
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReceiverRecords } from './receivers.js';
import { PeakWatch } from '../registry/rss.js';

const USAGE = `usage: npm run bench -- events [options]
  --pushes N        pushes per mode (notifications on / off), default 1000
  --concurrency C   pushes in flight at once, default 8
  --burst N         deliveries put on the queue at once for the queue throughput, default 2000
  --markdown FILE   also write the result table (Markdown) to FILE
  --keep            keep the run's directory (.test-work/run-<pid>) afterwards
`;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ADMIN_PASSWORD = 'bench-admin-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}
function blob(data: Buffer): Blob {
  return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, data };
}

class Pusher {
  private token = '';
  constructor(
    private readonly reg: RegistryProcess,
    private readonly repos: string[],
  ) {}

  async auth(): Promise<void> {
    const q = new URLSearchParams({ service: this.reg.hostPort });
    for (const r of this.repos) q.append('scope', `repository:${r}:pull,push`);
    const res = await fetch(`${this.reg.url}/v2/auth?${q}`, { headers: { authorization: basicAuth('admin', ADMIN_PASSWORD) } });
    if (res.status !== 200) throw new Error(`/v2/auth answered ${res.status}`);
    this.token = ((await res.json()) as { token: string }).token;
  }

  private async req(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Response> {
    const res = await fetch(path.startsWith('http') ? path : `${this.reg.url}${path}`, { method, headers: { authorization: `Bearer ${this.token}`, ...headers }, body });
    return res;
  }

  async putBlob(repo: string, b: Blob): Promise<void> {
    const start = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    await start.arrayBuffer();
    if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
    const loc = start.headers.get('location')!;
    const r = await this.req('PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${b.digest}`, { 'content-type': 'application/octet-stream' }, b.data);
    await r.arrayBuffer();
    if (r.status !== 201) throw new Error(`blob PUT: ${r.status}`);
  }

  /** One push of an image whose layer exists; returns when the manifest PUT started and ended. */
  async push(repo: string, tag: string, layer: Blob): Promise<{ putStart: number; putEnd: number }> {
    const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') })));
    await this.putBlob(repo, config);
    const head = await this.req('HEAD', `/v2/${repo}/blobs/${layer.digest}`);
    if (head.status !== 200) throw new Error(`layer HEAD: ${head.status}`);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
    });
    const putStart = Date.now();
    const r = await this.req('PUT', `/v2/${repo}/manifests/${tag}`, { 'content-type': OCI_MANIFEST }, manifest);
    await r.arrayBuffer();
    if (r.status !== 201) throw new Error(`manifest PUT: ${r.status}`);
    return { putStart, putEnd: Date.now() };
  }
}

/** `quay_queue_items{queue="notification",state=...}` summed over the states, from /metrics. */
async function queueDepth(reg: RegistryProcess): Promise<number> {
  const text = await (await fetch(`${reg.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^quay_queue_items\{([^}]*)\} (\d+)/gm)) if (m[1].includes('queue="notification"')) n += Number(m[2]);
  return n;
}

/** The webhook and Slack receivers in their own process (bench/events/receivers.ts), asked over IPC. */
class Receivers {
  private next = 0;
  private readonly waiting = new Map<number, (m: unknown) => void>();
  private constructor(
    private readonly child: ChildProcess,
    readonly webhookUrl: string,
    readonly slackUrl: string,
  ) {
    child.on('message', (m: { id?: number }) => {
      if (m.id !== undefined) this.waiting.get(m.id)?.(m);
      this.waiting.delete(m.id ?? -1);
    });
  }

  static async start(): Promise<Receivers> {
    const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'receivers.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ready = await new Promise<{ webhook: string; slack: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { webhook: string; slack: string }));
      child.once('exit', (code) => reject(new Error(`receivers exited (${code}) before listening`)));
    });
    return new Receivers(child, ready.webhook, ready.slack);
  }

  get pid(): number {
    return this.child.pid!;
  }

  private ask<T>(op: 'counts' | 'records'): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, (m) => resolve(m as T));
      this.child.send({ id, op });
    });
  }

  counts(): Promise<{ webhook: number; slack: number }> {
    return this.ask('counts');
  }

  records(): Promise<ReceiverRecords> {
    return this.ask('records');
  }

  /** Polls until both receivers have at least these many requests, or the deadline; returns the counts. */
  async waitFor(webhook: number, slack: number, timeoutMs: number, pollMs: number): Promise<{ webhook: number; slack: number }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.counts();
      if ((c.webhook >= webhook && c.slack >= slack) || Date.now() > until) return c;
      await sleep(pollMs);
    }
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    await exited;
  }
}

const CLOCK_TICKS = 100;

/** utime + stime of a process, with its reaped children's (cutime + cstime) when `reaped`, in seconds. */
function procCpu(pid: number, reaped: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
    return (Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0)) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by a server and its child processes (Postgres: the postmaster and its backends). */
function treeCpu(root: number): number {
  let total = procCpu(root, true);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === root) total += procCpu(Number(name), false);
    } catch {
      /* exited */
    }
  }
  return total;
}

const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      pushes: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '8' },
      burst: { type: 'string', default: '2000' },
      markdown: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const pushes = Number(values.pushes);
  const concurrency = Number(values.concurrency);
  const burst = Number(values.burst);
  const log = (m: string) => process.stderr.write(`[bench events] ${m}\n`);
  const load0 = loadavg();
  const cleanup: Array<() => Promise<void>> = [];
  const problems: string[] = [];
  try {
    const postgres = await startPostgres();
    cleanup.push(() => postgres.stop());
    const receivers = await Receivers.start();
    cleanup.push(() => receivers.close());
    const dbUri = await createTestDatabase('bench-events', postgres.url);
    const reg = await startRegistry({
      label: 'bench-events',
      adminPassword: ADMIN_PASSWORD,
      config: {
        DB_URI: dbUri,
        DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: workDir('bench-events-storage') }] },
        DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
        SUPER_USERS: ['admin'],
        SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
      },
      // The production process: its V8 flags as npm start, the image and the operator run it.
      env: { LOG_LEVEL: 'warn', NODE_OPTIONS: REGISTRY_NODE_FLAGS.join(' ') },
    });
    cleanup.push(() => reg.stop());
    const peak = new PeakWatch([reg.process.pid]);
    const session = await signin(reg, 'admin', ADMIN_PASSWORD);
    await session.ok('POST', '/organization/', { name: 'bench', email: 'bench@example.com' });
    for (const r of ['on', 'off']) await session.ok('POST', '/repository', { namespace: 'bench', repository: r, visibility: 'private', description: '' });
    const hook = await session.ok('POST', '/repository/bench/on/notification/', {
      event: 'repo_push',
      method: 'webhook',
      config: { url: `${receivers.webhookUrl}/hook` },
      eventConfig: {},
      title: 'ci',
    });
    const chat = await session.ok('POST', '/repository/bench/on/notification/', {
      event: 'repo_push',
      method: 'slack',
      config: { url: `${receivers.slackUrl}/services/T/B/X` },
      eventConfig: {},
      title: 'chat',
    });

    const pusher = new Pusher(reg, ['bench/on', 'bench/off']);
    await pusher.auth();
    const layer = blob(randomBytes(4096));
    for (const r of ['bench/on', 'bench/off']) await pusher.putBlob(r, layer);

    // 1-2. Pushes, alternating halves: off, on, off, on.
    const putStart = new Map<string, number>();
    const elapsed = { on: 0, off: 0 };
    // CPU seconds per mode of the registry, Postgres and this process (the pushing client and both receivers):
    // unlike throughput, hardly moved by the other load on a shared machine, and what decides the throughput
    // ratio where the CPU is the limit (a quiet 2-core machine running all three).
    const cpuNow = () => {
      const own = process.cpuUsage();
      return { registry: treeCpu(reg.process.pid), postgres: treeCpu(postgres.process.pid), bench: (own.user + own.system) / 1e6 + procCpu(receivers.pid, false) };
    };
    const cpu = { on: { registry: 0, postgres: 0, bench: 0 }, off: { registry: 0, postgres: 0, bench: 0 } };
    const half = Math.ceil(pushes / 2);
    for (const [round, mode] of [
      [0, 'off'],
      [0, 'on'],
      [1, 'off'],
      [1, 'on'],
    ] as const) {
      const tags = Array.from({ length: half }, (_, i) => `r${round}-${i}`);
      log(`${half} pushes with notifications ${mode}`);
      const t0 = Date.now();
      const c0 = cpuNow();
      await pool(tags, concurrency, async (tag) => {
        const t = await pusher.push(`bench/${mode}`, tag, layer);
        if (mode === 'on') putStart.set(tag, t.putStart);
      });
      elapsed[mode] += Date.now() - t0;
      // The CPU of a push with notifications includes its deliveries: wait for them before reading it, so none
      // runs (and is counted) in the next half.
      if (mode === 'on') {
        const want = (round + 1) * half;
        await receivers.waitFor(want, want, 120_000, 20);
      }
      const c1 = cpuNow();
      for (const k of ['registry', 'postgres', 'bench'] as const) cpu[mode][k] += c1[k] - c0[k];
    }
    const expected = 2 * half;
    const got = await receivers.waitFor(expected, expected, 120_000, 100);
    if (got.webhook < expected) problems.push(`webhook got ${got.webhook} of ${expected} deliveries`);
    if (got.slack < expected) problems.push(`slack got ${got.slack} of ${expected} deliveries`);
    const pushRecords = await receivers.records();
    const latencies: number[] = [];
    for (const r of pushRecords.webhook) {
      const tag = (JSON.parse(r.body) as { updated_tags: string[] }).updated_tags[0];
      const start = putStart.get(tag);
      if (start !== undefined) latencies.push(r.at - start);
    }
    const dupes = pushRecords.webhook.length - new Set(pushRecords.webhook.map((r) => r.body)).size;

    // 3. A backlog of deliveries put on the queue in one transaction (as a producer would, with the wake-up
    // NOTIFY), then drained by the registry's workers.
    log(`backlog of ${burst} deliveries`);
    const before = { w: pushRecords.webhook.length, s: pushRecords.slack.length };
    const depths: Array<{ t: number; depth: number }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        depths.push({ t: Date.now(), depth: await queueDepth(reg) });
        await sleep(200);
      }
    })();
    const db = new pg.Client({ connectionString: dbUri });
    await db.connect();
    const b0 = Date.now();
    const drain0 = cpuNow();
    const bodies = Array.from({ length: burst }, (_, i) =>
      JSON.stringify({
        notification_uuid: i % 2 ? chat.uuid : hook.uuid,
        event: 'repo_push',
        event_data: {
          repository: 'bench/on',
          namespace: 'bench',
          name: 'on',
          docker_url: `${reg.hostPort}/bench/on`,
          homepage: `http://${reg.hostPort}/repository/bench/on`,
          updated_tags: [`backlog-${i}`],
        },
        performer_data: {},
        emitted_at: b0,
      }),
    );
    await db.query('BEGIN');
    await db.query(
      `INSERT INTO queue_item (queue_name, path, body, available_after, retries_remaining)
       SELECT 'notification', 'bench/on/repo_push', b::jsonb, now(), 5 FROM unnest($1::text[]) AS b`,
      [bodies],
    );
    await db.query("SELECT pg_notify('queue_item_put', 'notification')");
    await db.query('COMMIT');
    await db.end();
    const enqueued = Date.now();
    const wantW = before.w + Math.ceil(burst / 2);
    const wantS = before.s + Math.floor(burst / 2);
    await receivers.waitFor(wantW, wantS, 300_000, 50);
    const drain1 = cpuNow();
    const all = await receivers.records();
    const last = Math.max(...all.webhook.slice(before.w).map((r) => r.at), ...all.slack.slice(before.s).map((r) => r.at));
    await sleep(1000);
    sampling = false;
    await sampler;
    const delivered = all.webhook.length - before.w + (all.slack.length - before.s);
    if (delivered < burst) problems.push(`burst: ${delivered} of ${burst} delivered`);
    const maxDepth = Math.max(...depths.map((d) => d.depth));
    const finalDepth = depths[depths.length - 1]?.depth ?? -1;
    const rss = peak.stop().get(reg.process.pid)! / 2 ** 20;

    const load1 = loadavg();
    const onRate = (2 * half) / (elapsed.on / 1000);
    const offRate = (2 * half) / (elapsed.off / 1000);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    const rows: Array<[string, string, string, string]> = [
      ['push throughput, notifications off', `${offRate.toFixed(1)} pushes/s`, '–', '–'],
      [
        'push throughput, notifications on (webhook + Slack)',
        `${onRate.toFixed(1)} pushes/s`,
        '≥ 0.95× off',
        onRate / offRate >= 0.95 ? `met (${(onRate / offRate).toFixed(2)}×)` : `**missed** (${(onRate / offRate).toFixed(2)}×)`,
      ],
      [
        'CPU per push, all three: on (deliveries included) / off',
        `${((sum(cpu.on) * 1000) / (2 * half)).toFixed(1)} / ${((sum(cpu.off) * 1000) / (2 * half)).toFixed(1)} ms`,
        '–',
        `off / on = ${(sum(cpu.off) / sum(cpu.on)).toFixed(2)}×`,
      ],
      ...(['registry', 'postgres', 'bench'] as const).map((k): [string, string, string, string] => [
        `CPU per push, ${k === 'bench' ? 'client + receivers' : k}: on / off`,
        `${((cpu.on[k] * 1000) / (2 * half)).toFixed(1)} / ${((cpu.off[k] * 1000) / (2 * half)).toFixed(1)} ms`,
        '–',
        '–',
      ]),
      ['manifest PUT → webhook received, median', `${p50} ms`, '–', '–'],
      ['manifest PUT → webhook received, p99', `${p99} ms`, '< 2000 ms', p99 < 2000 ? 'met' : '**missed**'],
      ['queue throughput (backlog committed → last delivery)', `${(delivered / ((last - enqueued) / 1000)).toFixed(0)} deliveries/s`, '–', '–'],
      [
        'CPU per delivery in the backlog drain: registry / postgres / receivers',
        (['registry', 'postgres', 'bench'] as const).map((k) => `${(((drain1[k] - drain0[k]) * 1000) / Math.max(1, delivered)).toFixed(2)}`).join(' / ') + ' ms',
        '–',
        '–',
      ],
      ['queue depth: max sampled / after the drain', `${maxDepth} / ${finalDepth}`, 'drains to 0', finalDepth === 0 ? 'met' : '**missed**'],
      ['registry peak RSS over the run', `${rss.toFixed(0)} MB`, '< 150 MB', rss < 150 ? 'met' : '**missed**'],
    ];
    const table = ['| measurement | value | target | result |', '|---|---:|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
    const notes = [
      `${2 * half} pushes per mode, ${concurrency} at a time; ${latencies.length} latencies; ${dupes} duplicate webhook bodies; backlog of ${burst} committed in ${((enqueued - b0) / 1000).toFixed(1)} s.`,
      `Load average before / after: ${load0.map((x) => x.toFixed(2)).join(' ')} / ${load1.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs.`,
    ];
    const out = `${table}\n\n${notes.join('\n')}\n`;
    process.stdout.write(out);
    if (values.markdown) writeFileSync(values.markdown, out);
    for (const p of problems) process.stderr.write(`problem: ${p}\n`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    if (!values.keep) rmSync(runDir(), { recursive: true, force: true });
    else log(`kept ${runDir()}`);
  }
}
