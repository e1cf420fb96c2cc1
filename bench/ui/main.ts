/**
 * `npm run bench -- ui`: the web UI in Chromium against a real registry (embedded mode) holding 1000
 * repositories in one organization and 1000 tags in one repository.
 *   - initial JS: the scripts index.html loads (entry + modulepreloads), gzipped, and all JS for reference;
 *   - time to interactive: navigation start until the first page of rows is on screen (performance.now()
 *     in the page), for the repositories list and a repository's Tags tab, cold (new browser context:
 *     empty HTTP cache) and warm;
 *   - the page's main-thread CPU time over the same interval (Chromium's ThreadTime metric), the browser's
 *     own cost, which a loaded machine inflates far less than wall time;
 *   - API requests per page load (no N+1): requests to /api/v1, /config and /csrf_token by page.
 * Options: --runs N (default 5), --repos N, --tags N (default 1000 each).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpus, loadavg } from 'node:os';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { startRegistry } from '../../test/helpers/registry.js';
import { tool } from '../../test/setup/tools.js';
import { REPO_ROOT } from '../../test/setup/paths.js';
import { V2Client } from '../../test/helpers/v2.js';
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

async function seed(api: Api, v2: V2Client, repos: number, tags: number): Promise<void> {
  await api.ok('POST', '/organization/', { name: 'bench', email: 'bench@example.com' });
  await pool(
    Array.from({ length: repos }, (_, i) => i),
    8,
    (i) => api.ok('POST', '/repository', { namespace: 'bench', repository: `repo-${String(i).padStart(4, '0')}`, visibility: 'private', description: '' }),
  );
  const { manifest } = await v2.pushImage('bench/repo-0000', 'tag-0000');
  await pool(
    Array.from({ length: tags - 1 }, (_, i) => i + 1),
    8,
    async (i) => {
      const r = await v2.pushManifest('bench/repo-0000', `tag-${String(i).padStart(4, '0')}`, manifest.toString());
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
}

async function load(page: Page, path: string, rows: number): Promise<Load> {
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
  await page.waitForLoadState('networkidle');
  page.off('request', onRequest);
  page.off('requestfinished', onFinished);
  return { ms, cpuMs, requests, slowestApiMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    process.stdout.write('npm run bench -- ui [--runs 5] [--repos 1000] [--tags 1000]\n');
    return 0;
  }
  const runs = option(args, 'runs', 5);
  const repos = option(args, 'repos', 1000);
  const tags = option(args, 'tags', 1000);
  const b = bundle();
  process.stdout.write(
    `bundle: initial JS ${(b.initialGzip / 1024).toFixed(1)} KiB gzipped (${(b.initialRaw / 1024).toFixed(1)} KiB raw, ${b.files} files); all JS ${(b.allJsGzip / 1024).toFixed(1)} KiB gzipped\n`,
  );

  const reg = await startRegistry({ label: 'bench-ui', config: { SUPER_USERS: ['admin'] } });
  let browser: Browser | null = null;
  try {
    const api = await signin(reg, 'admin', reg.admin.password);
    const t0 = Date.now();
    await seed(api, V2Client.basic(reg), repos, tags);
    process.stdout.write(`seeded ${repos} repositories and ${tags} tags in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    browser = await chromium.launch({ executablePath: tool('chromium'), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    const pages: [string, string, number][] = [
      ['repositories list (/repository)', '/repository', 100],
      ['organization repositories tab', '/organization/bench', 100],
      ['tags tab (1000 tags)', '/repository/bench/repo-0000?tab=tags', 100],
      ['organizations list', '/organization', 1],
    ];
    const results: Record<string, { cold: number[]; warm: number[]; coldCpu: number[]; warmCpu: number[]; api: number[]; requests: string[] }> = {};
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ baseURL: reg.url, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto('/signin');
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(reg.admin.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL('**/organization');
      for (const [name, path, rows] of pages) {
        const r = (results[name] ??= { cold: [], warm: [], coldCpu: [], warmCpu: [], api: [], requests: [] });
        // A fresh context per run: the first load of each page fetches its lazily loaded chunks.
        const cold = await load(page, path, rows);
        const warm = await load(page, path, rows);
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
    return 0;
  } finally {
    await browser?.close();
    await reg.stop();
  }
}
