/** Background workers of the `serve` process. Each runs on a timer and is safe to run on every replica. */
import type { Runtime } from '../runtime.js';
import { cleanupUploads } from './upload_cleanup.js';
import { collectGarbage } from './gc.js';
import { recordExpiredTags } from './tag_expiry.js';
import { runIndexing, runOsvImport, secscanQueueHandlers } from './secscan.js';
import { startQueueRunner, type QueueHandler } from './queue_runner.js';
import { notificationHandler } from './notification_worker.js';
import { notifyExpiringImages } from './image_expiry_notifications.js';
import { logExportHandler } from './log_export.js';

export interface Worker {
  name: string;
  intervalMs: number;
  /** Run once right away instead of waiting a whole interval first. */
  startNow?: boolean;
  run(rt: Runtime): Promise<void>;
}

/**
 * Timer workers plus the queue runner, which drains each named work queue with its handler. A feature that
 * consumes a queue adds its handler to queueHandlers().
 */
export function startWorkers(rt: Runtime, workers: Worker[] = defaultWorkers(rt), handlers: QueueHandler[] = queueHandlers(rt)): { stop(): Promise<void> } {
  const queueRunner = startQueueRunner(rt, handlers);
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;
  for (const w of workers) {
    let busy = false;
    const tick = () => {
      // A run that outlasts the interval is not started twice in one process.
      if (stopped || busy) return;
      busy = true;
      const p = w
        .run(rt)
        .catch((err) => rt.log.error({ err, worker: w.name }, 'worker failed'))
        .finally(() => {
          busy = false;
          running.delete(p);
        });
      running.add(p);
    };
    const t = setInterval(tick, w.intervalMs);
    t.unref();
    timers.push(t);
    if (w.startNow) setImmediate(tick);
  }
  return {
    async stop() {
      stopped = true;
      timers.forEach(clearInterval);
      await Promise.all([...running, queueRunner.stop()]);
    },
  };
}

function defaultWorkers(rt: Runtime): Worker[] {
  const { config } = rt;
  const ageMs = config.BLOBUPLOAD_DELETION_DATE_THRESHOLD * 1000;
  const cleanupMs = config.BLOBUPLOAD_CLEANUP_FREQUENCY ? config.BLOBUPLOAD_CLEANUP_FREQUENCY * 1000 : Math.min(Math.max(ageMs / 4, 10_000), 3_600_000);
  const workers: Worker[] = [
    { name: 'upload_cleanup', intervalMs: cleanupMs, run: (r) => cleanupUploads(r, ageMs).then(() => undefined) },
    { name: 'tag_expiry', intervalMs: config.TAG_EXPIRY_FREQUENCY * 1000, run: (r) => recordExpiredTags(r).then(() => undefined) },
    { name: 'image_expiry_notifications', intervalMs: config.TAG_EXPIRY_FREQUENCY * 1000, run: (r) => notifyExpiringImages(r).then(() => undefined) },
    {
      // Quay collects stale service keys whenever a key of the service is written; a timer also catches
      // services that stopped writing. A quarter of the shorter window, 1 s to 1 h.
      name: 'service_key_gc',
      intervalMs: Math.min(Math.max((Math.min(config.UNAPPROVED_SERVICE_KEY_TTL_SEC, config.EXPIRED_SERVICE_KEY_TTL_SEC) * 1000) / 4, 1000), 3_600_000),
      run: async (r) => {
        const kids = await r.serviceKeys.collectStale(config.EXPIRED_SERVICE_KEY_TTL_SEC, config.UNAPPROVED_SERVICE_KEY_TTL_SEC);
        if (kids.length) r.log.info({ kids }, 'removed expired and unapproved service keys');
      },
    },
  ];
  if (config.FEATURE_SECURITY_SCANNER) {
    const everyMs = config.SECURITY_SCANNER_INDEXING_INTERVAL * 1000;
    workers.push({ name: 'secscan_index', intervalMs: everyMs, run: (r) => runIndexing(r).then(() => undefined) });
    if (config.SECURITY_SCANNER_OSV_DB_PATH) workers.push({ name: 'secscan_osv_import', intervalMs: everyMs, startNow: true, run: runOsvImport });
  }
  if (config.FEATURE_GARBAGE_COLLECTION) workers.push({ name: 'gc', intervalMs: config.GARBAGE_COLLECTION_FREQUENCY * 1000, run: collectGarbage });
  return workers;
}

/** The handler of each named work queue. */
export function queueHandlers(rt: Runtime): QueueHandler[] {
  return [notificationHandler(rt), ...secscanQueueHandlers(rt), ...(rt.config.FEATURE_LOG_EXPORT ? [logExportHandler(rt)] : [])];
}
