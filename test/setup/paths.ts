/**
 * Where the test bench keeps things: the repository root, the gitignored `.test-work/` tree, and one
 * directory per `npm test` run (several runs may share one working tree at the same time, so nothing
 * here is global to the tree).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file compiles to dist/test/setup/paths.js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** `.test-work/` in the repository root (gitignored). */
export const WORK_ROOT = join(REPO_ROOT, '.test-work');

/** Where install.sh caches the Go-built tools (env QUAY_TS_TOOLS overrides). */
export function toolsDir(): string {
  return process.env.QUAY_TS_TOOLS || join(homedir(), '.cache', 'quay-ts', 'bin');
}

/**
 * This run's directory: `.test-work/run-<pid>` of the process that ran global setup (published as
 * QUAY_TS_RUN_DIR); a test file run without global setup gets one of its own.
 */
export function runDir(): string {
  let dir = process.env.QUAY_TS_RUN_DIR;
  if (!dir) {
    dir = join(WORK_ROOT, `run-${process.pid}`);
    process.env.QUAY_TS_RUN_DIR = dir;
    process.env.QUAY_TS_RUN_PID ??= String(process.pid);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A fresh, empty directory under this run's directory, e.g. `workDir('distribution')`. */
export function workDir(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 40) || 'work';
  return mkdtempSync(join(runDir(), `${safe}-`));
}
