#!/usr/bin/env node
// Runs every test (jest over the compiled ESM in dist/), then prints one line `N passed, N failed`.
// Extra arguments go to jest, e.g. `npm test -- dist/test/unit`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const jestBin = require.resolve('jest/bin/jest');
mkdirSync('.test-work', { recursive: true });
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
