/**
 * `npm run bench -- ui`: the web UI in Chromium against a real registry (embedded mode) holding 1000
 * repositories in one organization and 1000 tags in one repository.
 *   - initial JS: the scripts index.html loads (entry + modulepreloads), gzipped, and all JS for reference;
 *   - time to interactive: navigation start until the first page of rows is on screen (performance.now()
 *     in the page), for the repositories list and a repository's Tags tab, cold (new browser context:
 *     empty HTTP cache) and warm;
 *   - the page's main-thread CPU time over the same interval (Chromium's ThreadTime metric), the browser's
 *     own cost, which a loaded machine inflates far less than wall time;
 *   - API requests per page load (no N+1): requests to /api/v1, /config and /csrf_token by page; the run
 *     fails when one endpoint is asked more than once in a load (one request per row). The registry runs with
 *     FEATURE_SECURITY_SCANNER so the Tags tab has its Security column, and the newest 100 tags (the first page)
 *     each have a manifest of their own, so a per-row security request would show;
 *   - with --trace: a Chromium trace of each page's warm load (saved under .test-work/) broken down into what
 *     the main thread did (script compile and run, style, layout, paint) and the page's requests in order.
 * Options: --runs N (default 5), --repos N, --tags N (default 1000 each), --distinct N (default 100), --trace.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpus, loadavg } from 'node:os';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { startRegistry } from '../../test/helpers/registry.js';
import { tool } from '../../test/setup/tools.js';
import { REPO_ROOT, WORK_ROOT } from '../../test/setup/paths.js';
import { jsonBlob, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, V2Client } from '../../test/helpers/v2.js';
import { signin, type Api } from '../../test/integration/api/fixture.js';

function option(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

function bundle(): { initialGzip: number; initialRaw: number; allJsGzip: number; files: number } {
  const dir = join(REPO_ROOT, 'dist/ui');
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  const gz = (f: string) => gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
  const all = readdirSync(join(dir, 'assets')).filter((f) => f.endsWith('.js'));
  return {
    initialGzip: initial.reduce((a, f) => a + gz(f), 0),
    initialRaw: initial.reduce((a, f) => a + readFileSync(join(dir, f)).length, 0),
    allJsGzip: all.reduce((a, f) => a + gz(`assets/${f}`), 0),
    files: initial.length,
  };
}

/** In parallel, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function seed(api: Api, v2: V2Client, repos: number, tags: number, distinct: number): Promise<void> {
  await api.ok('POST', '/organization/', { name: 'bench', email: 'bench@example.com' });
  await pool(
    Array.from({ length: repos }, (_, i) => i),
    8,
    (i) => api.ok('POST', '/repository', { namespace: 'bench', repository: `repo-${String(i).padStart(4, '0')}`, visibility: 'private', description: '' }),
  );
  const { manifest, layers } = await v2.pushImage('bench/repo-0000', 'tag-0000');
  const tag = (i: number) => `tag-${String(i).padStart(4, '0')}`;
  await pool(
    Array.from({ length: tags - 1 - distinct }, (_, i) => i + 1),
    8,
    async (i) => {
      const r = await v2.pushManifest('bench/repo-0000', tag(i), manifest.toString());
      if (r.status !== 201) throw new Error(`tag push: ${r.status}`);
    },
  );
  // The newest tags (the Tags tab's first page) each get a manifest of their own: same layer, own config.
  await pool(
    Array.from({ length: distinct }, (_, i) => tags - distinct + i),
    8,
    async (i) => {
      const config = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: new Date(i * 1000).toISOString() });
      const b = await v2.pushBlob('bench/repo-0000', config);
      if (b.status !== 201) throw new Error(`config push: ${b.status}`);
      const own = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
      };
      const r = await v2.pushManifest('bench/repo-0000', tag(i), own);
      if (r.status !== 201) throw new Error(`tag push: ${r.status}`);
    },
  );
}

interface Load {
  ms: number;
  /**
   * CPU time of the page's main thread during the load (Chromium's ThreadTime): what the browser itself
   * spends, which a loaded machine does not inflate the way it inflates wall time.
   */
  cpuMs: number;
  requests: string[];
  /** The slowest API request of the load, request start to response end: the server's share. */
  slowestApiMs: number;
  /** Endpoints asked more than once in the load (digests, repository and tag names generalised): one request per row. */
  repeated: string[];
}

/** A request's path with the names that vary per row generalised, so that one request per row shows as a repeat. */
function endpoint(path: string): string {
  return path
    .replace(/sha256(:|%3A)[0-9a-f]{64}/gi, '{digest}')
    .replace(/\/repo-\d+/g, '/{repo}')
    .replace(/\/tag-\d+/g, '/{tag}');
}

async function load(page: Page, path: string, rows: number): Promise<Load> {
  // The previous page is left first, so that none of its requests counts as this one's.
  await page.goto('about:blank');
  const requests: string[] = [];
  let slowestApiMs = 0;
  const isApi = (url: string) => /^\/(api\/v1|config|csrf_token)/.test(new URL(url).pathname);
  const onRequest = (r: Request) => {
    const u = new URL(r.url());
    if (isApi(r.url())) requests.push(`${u.pathname}${u.search ? '?…' : ''}`);
  };
  const onFinished = (r: Request) => {
    if (isApi(r.url())) slowestApiMs = Math.max(slowestApiMs, r.timing().responseEnd);
  };
  page.on('request', onRequest);
  page.on('requestfinished', onFinished);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const threadTime = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? 0;
  const cpuBefore = await threadTime();
  await page.goto(path);
  await page
    .locator('[data-testid="table-entry"]')
    .nth(rows - 1)
    .waitFor({ timeout: 60_000 });
  const ms = (await page.evaluate('performance.now()')) as number;
  const cpuMs = ((await threadTime()) - cpuBefore) * 1000;
  await cdp.detach();
  // Requests that follow the rows (the Security column's) count too.
  await page.waitForLoadState('networkidle');
  page.off('request', onRequest);
  page.off('requestfinished', onFinished);
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(endpoint(r), (counts.get(endpoint(r)) ?? 0) + 1);
  const repeated = [...counts].filter(([, n]) => n > 1).map(([e, n]) => `${e} x${n}`);
  return { ms, cpuMs, requests, slowestApiMs, repeated };
}

/** Main-thread trace events grouped into what they are; nested events are counted in their own group only. */
const GROUPS: [string, RegExp][] = [
  ['script compile', /^(v8\.compile|v8\.parseOnBackground|V8\.CompileCode|CompileScript|v8\.compileModule)$/],
  ['script run', /^(EvaluateScript|v8\.evaluateModule|FunctionCall|TimerFire|EventDispatch|RunMicrotasks|v8\.run|FireAnimationFrame)$/],
  ['style', /^(UpdateLayoutTree|RecalculateStyles|ParseAuthorStyleSheet)$/],
  ['layout', /^(Layout|UpdateLayerTree|IntersectionObserverController::computeIntersections)$/],
  ['paint', /^(Paint|PaintImage|RasterTask|CompositeLayers|Commit|PrePaint|Layerize)$/],
  ['html', /^(ParseHTML)$/],
  ['gc', /^(MajorGC|MinorGC|V8\.GCScavenger|V8\.GCIncrementalMarking|V8\.GCFinalizeMC|BlinkGC\.AtomicPhase)$/],
];

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tid: number;
  pid: number;
  args?: { name?: string; data?: { url?: string } };
}

/** Self time per group on the renderer's main thread, from a Chromium trace: where the load's CPU went. */
function breakdown(trace: { traceEvents: TraceEvent[] }): string {
  const events = trace.traceEvents;
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) return 'no renderer main thread in the trace';
  const own = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur !== undefined).sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
  const self = new Map<string, number>();
  // A stack of the grouped events that contain the current one: a nested group's time is taken from its parent's.
  const stack: { end: number; group: string }[] = [];
  for (const e of own) {
    const group = GROUPS.find(([, re]) => re.test(e.name))?.[0];
    if (!group) continue;
    while (stack.length && stack[stack.length - 1].end <= e.ts) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent && parent.group !== group) self.set(parent.group, (self.get(parent.group) ?? 0) - e.dur!);
    if (parent && parent.group === group) continue;
    self.set(group, (self.get(group) ?? 0) + e.dur!);
    stack.push({ end: e.ts + e.dur!, group });
  }
  return GROUPS.map(([g]) => `${g} ${((self.get(g) ?? 0) / 1000).toFixed(0)} ms`).join(', ');
}

/** The page's requests as the browser saw them (Resource Timing), relative to navigation start. */
async function waterfall(page: Page): Promise<string> {
  const entries = (await page.evaluate("performance.getEntriesByType('resource').map((e) => ({ name: e.name, start: e.startTime, end: e.responseEnd }))")) as {
    name: string;
    start: number;
    end: number;
  }[];
  return entries
    .map((e) => {
      const u = new URL(e.name);
      return `    ${e.start.toFixed(0).padStart(5)}-${e.end.toFixed(0).padStart(5)} ms ${u.pathname}${u.search ? '?…' : ''}`;
    })
    .join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write('npm run bench -- ui [--runs 5] [--repos 1000] [--tags 1000] [--distinct 100] [--trace]\n');
    return 0;
  }
  const runs = option(args, 'runs', 5);
  const repos = option(args, 'repos', 1000);
  const tags = option(args, 'tags', 1000);
  const distinct = Math.min(option(args, 'distinct', 100), tags - 1);
  const trace = args.includes('--trace');
  const b = bundle();
  process.stdout.write(
    `bundle: initial JS ${(b.initialGzip / 1024).toFixed(1)} KiB gzipped (${(b.initialRaw / 1024).toFixed(1)} KiB raw, ${b.files} files); all JS ${(b.allJsGzip / 1024).toFixed(1)} KiB gzipped\n`,
  );

  // The scanner's API is on (the Security column shows) but nothing is indexed, so no worker competes for the CPU.
  const reg = await startRegistry({ label: 'bench-ui', config: { SUPER_USERS: ['admin'], FEATURE_SECURITY_SCANNER: true, SECURITY_SCANNER_V4_INDEXING: false } });
  let browser: Browser | null = null;
  try {
    const api = await signin(reg, 'admin', reg.admin.password);
    const t0 = Date.now();
    await seed(api, V2Client.basic(reg), repos, tags, distinct);
    process.stdout.write(`seeded ${repos} repositories and ${tags} tags (the newest ${distinct} on manifests of their own) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    browser = await chromium.launch({ executablePath: tool('chromium'), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    // [name, path, rows to wait for, a request the load must make (the page's own data)]
    const pages: [string, string, number, RegExp][] = [
      ['repositories list (/repository)', '/repository', 100, /^\/api\/v1\/repository\?/],
      ['organization repositories tab', '/organization/bench', 100, /^\/api\/v1\/repository\?/],
      ['tags tab (1000 tags)', '/repository/bench/repo-0000?tab=tags', 100, /^\/api\/v1\/repository\/bench\/repo-0000\/security\?/],
      ['organizations list', '/organization', 1, /^\/api\/v1\/superuser\/organizations\//],
    ];
    const results: Record<string, { cold: number[]; warm: number[]; coldCpu: number[]; warmCpu: number[]; api: number[]; requests: string[] }> = {};
    const failures: string[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ baseURL: reg.url, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto('/signin');
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(reg.admin.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL('**/organization');
      for (const [name, path, rows, needed] of pages) {
        const r = (results[name] ??= { cold: [], warm: [], coldCpu: [], warmCpu: [], api: [], requests: [] });
        // A fresh context per run: the first load of each page fetches its lazily loaded chunks.
        const cold = await load(page, path, rows);
        const traced = trace && i === runs - 1;
        if (traced) await browser.startTracing(page, { categories: ['devtools.timeline', 'v8.execute', 'disabled-by-default-devtools.timeline', 'blink.user_timing'] });
        const warm = await load(page, path, rows);
        if (traced) {
          const file = join(WORK_ROOT, `ui-bench-trace-${path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.json`);
          mkdirSync(WORK_ROOT, { recursive: true });
          const data = await browser.stopTracing();
          writeFileSync(file, data);
          process.stdout.write(
            `${name}, traced warm load (${warm.ms.toFixed(0)} ms, ${file}): main thread ${breakdown(JSON.parse(data.toString('utf8')))}\n${await waterfall(page)}\n`,
          );
        }
        for (const l of [cold, warm]) {
          if (l.repeated.length) failures.push(`${name}: requests per row: ${l.repeated.join(', ')}`);
          if (!l.requests.some((x) => needed.test(x))) failures.push(`${name}: no request matched ${needed}: ${l.requests.join(', ')}`);
        }
        r.cold.push(cold.ms);
        r.warm.push(warm.ms);
        r.coldCpu.push(cold.cpuMs);
        r.warmCpu.push(warm.cpuMs);
        r.api.push(warm.slowestApiMs);
        r.requests = warm.requests;
      }
      await context.close();
    }
    for (const [name, r] of Object.entries(results)) {
      process.stdout.write(
        `${name}: time to interactive median ${median(r.cold).toFixed(0)} ms cold, ${median(r.warm).toFixed(0)} ms warm (${runs} runs; slowest API request ${median(r.api).toFixed(0)} ms; ` +
          `page main-thread CPU ${median(r.coldCpu).toFixed(0)} ms cold, ${median(r.warmCpu).toFixed(0)} ms warm); ` +
          `${r.requests.length} API requests per load: ${r.requests.join(', ')}\n`,
      );
    }
    process.stdout.write(
      `load average during the run: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${cpus().length} CPUs\n`,
    );
    if (failures.length) {
      process.stdout.write(`FAILED (no request per row):\n${[...new Set(failures)].join('\n')}\n`);
      return 1;
    }
    process.stdout.write('no request per row on any page\n');
    return 0;
  } finally {
    await browser?.close();
    await reg.stop();
  }
}
