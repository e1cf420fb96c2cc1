#!/usr/bin/env node
// Runs every test (jest over the compiled ESM in dist/), then prints one line `N passed, N failed`.
// Extra arguments go to jest, e.g. `npm test -- dist/test/unit`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const jestBin = require.resolve('jest/bin/jest');
mkdirSync('.test-work', { recursive: true });

// A test deleted or renamed in test/ must not live on as a stale compiled file in dist/test/.
function pruneStale(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) pruneStale(p);
    else if (e.name.endsWith('.test.js')) {
      const src = join('test', relative(join('dist', 'test'), p)).replace(/\.js$/, '.ts');
      if (!existsSync(src)) {
        rmSync(p, { force: true });
        rmSync(`${p}.map`, { force: true });
      }
    }
  }
}
pruneStale(join('dist', 'test'));
// One results file per run: other engineers may run `npm test` in the same tree at the same time.
const resultsFile = `.test-work/jest-results-${process.pid}.json`;
const args = ['--experimental-vm-modules', jestBin, '--json', `--outputFile=${resultsFile}`, ...process.argv.slice(2)];
const run = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } });

let passed = 0;
let failed = 0;
if (existsSync(resultsFile)) {
  const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
  rmSync(resultsFile, { force: true });
}
// jest crashed before reporting (e.g. global setup failed): count that as a failure.
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
