/**
 * The security worker: indexing passes every SECURITY_SCANNER_INDEXING_INTERVAL seconds on every replica
 * (claims never overlap), and, for the built-in scanner, re-importing SECURITY_SCANNER_OSV_DB_PATH when its
 * files change.
 */
import type { Runtime } from '../runtime.js';
import { vulnerabilityOf } from '../scan/report.js';
import { RetryLater } from '../queue/index.js';
import { ScannerUnavailable } from '../scan/backend.js';
import type { QueueHandler } from './queue_runner.js';
import { SECSCAN_INDEX_QUEUE } from '../model/secscan.js';

/** Quay's SECSCAN_V4_NOTIFICATION_QUEUE_NAME. */
export const SECSCAN_NOTIFICATION_QUEUE = 'secscanv4';

/** Manifests claimed per batch; a pass keeps claiming batches until none is left or the time is up. */
const BATCH = 10;

export async function runIndexing(rt: Runtime, budgetMs = rt.config.SECURITY_SCANNER_INDEXING_INTERVAL * 1000 * 4): Promise<number> {
  const until = Date.now() + budgetMs;
  let indexed = 0;
  for (;;) {
    const pass = await rt.secscan.indexPass(BATCH);
    indexed += pass.completed.length;
    for (const m of pass.completed) await rt.secscan.notifyFirstIndex(m);
    if (pass.claimed === 0 || Date.now() > until) return indexed;
  }
}

export async function runOsvImport(rt: Runtime): Promise<void> {
  const location = rt.config.SECURITY_SCANNER_OSV_DB_PATH;
  if (!location || !rt.builtinScanner || rt.secscan.backend !== rt.builtinScanner) return;
  const result = await rt.builtinScanner.importIfChanged(location);
  if (result) {
    // OS packages' distribution is shown in a vulnerability's metadata; events carry only id, text, link, priority and fix.
    await rt.secscan.notifyNewMatches(result.newMatches, (m) => vulnerabilityOf(m.record, m.package, m.fixedBy, null));
    rt.log.info({ advisories: result.advisories, changed: result.changed, removed: result.removed, newMatches: result.newMatches.length }, 'OSV database imported');
  }
}

/**
 * Clair's notifications (FEATURE_SECURITY_NOTIFICATIONS): page through one notification, emit
 * `vulnerability_found` for each `added` entry, then delete it at Clair. Clair unreachable: retried later.
 */
export function secscanQueueHandlers(rt: Runtime): QueueHandler[] {
  if (!rt.config.FEATURE_SECURITY_SCANNER) return [];
  const handlers: QueueHandler[] = [
    {
      queue: SECSCAN_INDEX_QUEUE,
      processingSeconds: 900,
      async handle(item, r) {
        const done = await r.secscan.indexOne(Number(item.body.manifest_id));
        if (done === 'unavailable') throw new RetryLater(r.config.SECURITY_SCANNER_INDEXING_INTERVAL, 'security scanner unavailable');
        if (done) await r.secscan.notifyFirstIndex(done);
      },
    },
  ];
  const clair = rt.clairScanner;
  if (!clair || !rt.config.FEATURE_SECURITY_NOTIFICATIONS) return handlers;
  return [
    ...handlers,
    {
      queue: SECSCAN_NOTIFICATION_QUEUE,
      processingSeconds: 3600,
      async handle(item, r) {
        const id = String(item.body.notification_id ?? '');
        try {
          let next: string | undefined;
          for (;;) {
            const page = await clair.notificationPage(id, next);
            if (!page) return;
            for (const n of page.notifications) if (n.reason === 'added') await r.secscan.notifyClairEntry(n);
            next = page.page.next;
            if (!next || next === '-1') break;
          }
          await clair.deleteNotification(id);
        } catch (err) {
          if (err instanceof ScannerUnavailable) throw new RetryLater(60, err.message);
          throw err;
        }
      },
    },
  ];
}
