/** Background workers of the `serve` process. Each runs on a timer and is safe to run on every replica. */
import type { Runtime } from '../runtime.js';
import { cleanupUploads } from './upload_cleanup.js';

export interface Worker {
  name: string;
  intervalMs: number;
  run(rt: Runtime): Promise<void>;
}

export function startWorkers(rt: Runtime, workers: Worker[] = defaultWorkers(rt)): { stop(): Promise<void> } {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;
  for (const w of workers) {
    const tick = () => {
      if (stopped) return;
      const p = w
        .run(rt)
        .catch((err) => rt.log.error({ err, worker: w.name }, 'worker failed'))
        .finally(() => running.delete(p));
      running.add(p);
    };
    const t = setInterval(tick, w.intervalMs);
    t.unref();
    timers.push(t);
  }
  return {
    async stop() {
      stopped = true;
      timers.forEach(clearInterval);
      await Promise.all(running);
    },
  };
}

function defaultWorkers(rt: Runtime): Worker[] {
  const ageMs = rt.config.BLOBUPLOAD_DELETION_DATE_THRESHOLD * 1000;
  return [{ name: 'upload_cleanup', intervalMs: Math.min(Math.max(ageMs / 4, 10_000), 3_600_000), run: (r) => cleanupUploads(r, ageMs).then(() => undefined) }];
}
