/**
 * Benchmark entry: `npm run bench -- <name> [options]` runs `dist/bench/<name>/main.js`, whose exported
 * `run(args)` resolves with the process exit code. Benchmarks run on demand, never in `npm test`.
 *
 *   npm run bench -- registry [--help]    this registry vs CNCF Distribution (bench/registry/)
 *   npm run bench -- operator [--help]    the operator (bench/operator/)
 *   npm run bench -- events [--help]      notifications: push throughput, webhook latency, queue drain (bench/events/)
 *   npm run bench -- scan [--help]        the built-in scanner vs osv-scanner (bench/scan/)
 *   npm run bench -- scale [--help]       3 replicas behind nginx, 200 clients, a replica killed (bench/scale/)
 *   npm run bench -- faults [--help]      the fault campaign's long variants: kills, GC races, outages, fuzz (bench/faults/)
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface BenchModule {
  run(args: string[]): Promise<number>;
}

const here = dirname(fileURLToPath(import.meta.url));

function available(): string[] {
  return readdirSync(here, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'main.js')))
    .map((d) => d.name)
    .sort();
}

async function main(): Promise<number> {
  const [name, ...args] = process.argv.slice(2);
  const names = available();
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`usage: npm run bench -- <${names.join('|') || 'name'}> [options]   (<name> --help for its options)\n`);
    return name ? 0 : 2;
  }
  if (!/^[a-z0-9-]+$/.test(name) || !names.includes(name)) {
    process.stderr.write(`unknown benchmark "${name}"; available: ${names.join(', ') || '(none built)'}\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(join(here, name, 'main.js')).href)) as BenchModule;
  return mod.run(args);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
