/**
 * The fault campaign's long variants (issue 13), on demand: the same test files CI runs at their short size,
 * run through the test bench (its own Postgres, Redis and MinIO) with the long budgets, and a summary of their
 * figures.
 *
 *   npm run bench -- faults [--kills 50] [--races 1000] [--storage both|local|s3] [--only kills,gc,outages,fuzz]
 *                           [--fuzz-examples 50]
 *
 * - kills: test/integration/integrity/faults.test.ts with FAULT_KILLS — the registry SIGKILLed at random moments
 *   during 4 concurrent skopeo pushes sharing a layer; after each restart every blob and manifest the database
 *   shows is complete and hashes to its digest, and every client's push completes when retried.
 * - gc: test/integration/gc/gc.test.ts with GC_RACE_ITERATIONS — pushes of shared layers racing a GC that runs
 *   every second; after each push every blob its manifest references is present and whole.
 * - outages: test/integration/integrity/outages.test.ts — Postgres, MinIO and Redis stopped and started under
 *   pushes and pulls.
 * - fuzz (not in the default set): test/integration/api/fuzz.test.ts with FUZZ_EXAMPLES — schemathesis over
 *   the REST API's own OpenAPI document.
 * The exit code is non-zero when any part failed; the figures are the lines the tests print.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../test/setup/paths.js';

const USAGE = `usage: npm run bench -- faults [options]
  --kills N          SIGKILLs of the registry per storage (default 50)
  --races N          GC-vs-push races per storage (default 1000)
  --storage S        both, local or s3 (default both): where the kills and races run
  --only LIST        comma-separated parts: kills,gc,outages,fuzz (default kills,gc,outages)
  --fuzz-examples N  schemathesis cases per operation and phase for the fuzz part (default 50)
`;

interface Part {
  name: string;
  file: string;
  filter?: string;
  env: Record<string, string>;
  /** Lines of the test output that carry the part's figures. */
  figures: RegExp;
}

/** Runs one test file through the test bench; resolves with its exit code and output. */
function runTests(part: Part): Promise<{ code: number; output: string }> {
  const args = ['test/run.mjs', `dist/${part.file.replace(/\.ts$/, '.js')}`, ...(part.filter ? ['-t', part.filter] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...part.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer, to: NodeJS.WriteStream) => {
      output += chunk.toString();
      to.write(chunk);
    };
    child.stdout.on('data', (c: Buffer) => take(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => take(c, process.stderr));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kills: { type: 'string', default: '50' },
      races: { type: 'string', default: '1000' },
      storage: { type: 'string', default: 'both' },
      only: { type: 'string', default: 'kills,gc,outages' },
      'fuzz-examples': { type: 'string', default: '50' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const kills = Number(values.kills);
  const races = Number(values.races);
  const fuzzExamples = Number(values['fuzz-examples']);
  const only = new Set(values.only.split(',').map((s) => s.trim()));
  if (
    ![kills, races, fuzzExamples].every((n) => Number.isInteger(n) && n > 0) ||
    !['both', 'local', 's3'].includes(values.storage) ||
    [...only].some((p) => !['kills', 'gc', 'outages', 'fuzz'].includes(p))
  ) {
    process.stderr.write(USAGE);
    return 2;
  }
  const storageFilter = { both: '', local: 'LocalStorage|filesystem', s3: 'S3' }[values.storage as 'both' | 'local' | 's3'];
  const parts: Part[] = [];
  if (only.has('kills'))
    parts.push({
      name: 'kills',
      file: 'test/integration/integrity/faults.test.ts',
      filter: `SIGKILL.*(${storageFilter || '.'})`,
      env: { FAULT_KILLS: String(kills) },
      figures: /^fault campaign .*$/gm,
    });
  if (only.has('gc'))
    parts.push({ name: 'gc', file: 'test/integration/gc/gc.test.ts', filter: storageFilter || undefined, env: { GC_RACE_ITERATIONS: String(races) }, figures: /^gc race: .*$/gm });
  if (only.has('outages')) parts.push({ name: 'outages', file: 'test/integration/integrity/outages.test.ts', env: {}, figures: /^\s*\w+ outage: .*$/gm });
  if (only.has('fuzz')) parts.push({ name: 'fuzz', file: 'test/integration/api/fuzz.test.ts', env: { FUZZ_EXAMPLES: String(fuzzExamples) }, figures: /^schemathesis .*$/gm });

  const started = Date.now();
  const summary: string[] = [];
  let failed = 0;
  for (const part of parts) {
    const t0 = Date.now();
    const { code, output } = await runTests(part);
    if (code !== 0) failed++;
    const figures = [...output.matchAll(part.figures)].map((m) => m[0].trim());
    summary.push(`${part.name}: ${code === 0 ? 'PASSED' : `FAILED (exit ${code})`} in ${Math.round((Date.now() - t0) / 1000)} s`, ...figures.map((f) => `  ${f}`));
  }
  process.stdout.write(
    `\n== fault campaign (kills ${kills} per storage, races ${races} per storage, storage ${values.storage}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; ${Math.round((Date.now() - started) / 1000)} s) ==\n${summary.join('\n')}\n`,
  );
  return failed === 0 ? 0 : 1;
}
