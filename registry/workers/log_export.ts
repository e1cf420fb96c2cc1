/**
 * Drains the 'exportactionlogs' queue (Quay's ExportActionLogsWorker) with model/log_export.ts. A failed
 * export is tried again after a minute, up to the item's 3 attempts; the lease is extended while the rows
 * stream, so a long export is not taken over by another replica.
 */
import type { Runtime } from '../runtime.js';
import { RetryLater } from '../queue/index.js';
import { EXPORT_QUEUE, type ExportJob } from '../model/log_export.js';
import type { QueueHandler } from './queue_runner.js';

const LEASE_SECONDS = 120;
const EXTEND_EVERY_MS = 30_000;
const RETRY_SECONDS = 60;

export function logExportHandler(rt: Runtime): QueueHandler {
  return {
    queue: EXPORT_QUEUE,
    processingSeconds: LEASE_SECONDS,
    pollMs: rt.config.EXPORT_ACTION_LOGS_WORKER_POLL_PERIOD * 1000,
    async handle(item, r, queue) {
      let extended = Date.now();
      const keepAlive = async () => {
        if (Date.now() - extended < EXTEND_EVERY_MS) return;
        extended = Date.now();
        if (!(await queue.extend(item, LEASE_SECONDS))) throw new Error('export lease lost to another worker');
      };
      try {
        await r.logExports.run(item.body as unknown as ExportJob, keepAlive);
      } catch (err) {
        throw new RetryLater(RETRY_SECONDS, (err as Error).message);
      }
    },
  };
}
