/**
 * Jest global teardown: stops the services global-setup started, then kills anything else a test of
 * this run started and left behind (recorded in .test-work/pids), and removes the run directory
 * (kept with QUAY_TS_KEEP_WORK=1).
 */
import { rmSync } from 'node:fs';
import { killRecorded } from './procs.js';
import type { BenchState } from './global-setup.js';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__QUAY_TS_BENCH__ as BenchState | undefined;
  if (state) await Promise.allSettled(state.services.map((s) => s.stop()));
  const left = await killRecorded(process.pid);
  if (left.length) process.stderr.write(`[test bench] killed processes tests left running: ${left.join(', ')}\n`);
  if (state && process.env.QUAY_TS_KEEP_WORK !== '1') rmSync(state.runDir, { recursive: true, force: true });
  globalThis.__QUAY_TS_BENCH__ = undefined;
}
