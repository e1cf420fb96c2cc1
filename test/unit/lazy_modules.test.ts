import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../setup/paths.js';
import { lazyModule } from '../../registry/lazy.js';

// The libraries only rare requests need load on first use (registry/lazy.ts): each costs every worker process
// 0.2-1 MB of heap from its start. An eager `import` of one of them anywhere in the server's module graph
// would bring the cost back unnoticed.
const LAZY = ['tldts', 'ae-cvss-calculator', 'bowser', 'jsonpath-plus', 'fzstd', '@renovatebot/pep440', 'tar-stream', 'liquidmetal'];

/** The packages (under node_modules/) loaded once `modules` are imported, as the server's process loads them. */
function packagesLoadedBy(modules: string[]): string[] {
  const script = [
    ...modules.map((m) => `await import(${JSON.stringify(join(REPO_ROOT, 'dist', m))});`),
    `const { createRequire } = await import('node:module');`,
    `console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const files = JSON.parse(r.stdout) as string[];
  const packages = new Set<string>();
  for (const f of files) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (m) packages.add(m[1]);
  }
  return [...packages];
}

describe('libraries loaded on first use', () => {
  test('the server (runtime, app, workers) starts without them', () => {
    const loaded = packagesLoadedBy(['registry/runtime.js', 'registry/app.js', 'registry/workers/index.js']);
    // The check sees CommonJS packages the graph does load (it can fail).
    expect(loaded).toEqual(expect.arrayContaining(['fastify', 'pg']));
    expect(loaded.filter((p) => LAZY.includes(p))).toEqual([]);
  });

  test('each loads once, on its first use', () => {
    const pep440 = lazyModule<typeof import('@renovatebot/pep440')>('@renovatebot/pep440');
    expect(pep440().compare('1.10.0', '1.9.0')).toBe(1);
    expect(pep440()).toBe(pep440());
  });
});
