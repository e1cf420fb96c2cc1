/**
 * Drains the named work queues (registry/queue/) with the handler registered for each queue name. Runs in
 * every replica; the queue's SKIP LOCKED lease keeps replicas from taking the same item. A consumer wakes
 * at once when an item is put (NOTIFY at the producer's commit) and polls as a fallback.
 */
import type { Runtime } from '../runtime.js';
import { QUEUE_CHANNEL, RetryLater, type LocalConsumer, type QueueItem, type WorkQueue } from '../queue/index.js';

export interface QueueHandler {
  /** The queue name (e.g. 'notification', 'exportactionlogs'). */
  queue: string;
  /** Lease length: a handler running longer must call `queue.extend(item, s)`, or another consumer gets the item. */
  processingSeconds: number;
  /** Items handled at once in this process (default 1). */
  concurrency?: number;
  /** Fallback poll interval when no NOTIFY arrives (default 5000 ms). */
  pollMs?: number;
  /**
   * After a wake-up, wait this long before leasing (default 0), so that the items of several producers' commits
   * are leased with one query: a busy queue costs fewer round trips per item, for this much added latency.
   */
  batchMs?: number;
  /** Delete finished items in batches gathered over this many ms (default 0: one DELETE per item). */
  completeBatchMs?: number;
  /**
   * Take the items this process's producers put leased to it (WorkQueue.putFromSelectLocal) while it has a free
   * slot: they are handled without a wake-up or a lease query. Handed-over items join the same batch window.
   */
  handOff?: boolean;
  /**
   * Called with each leased batch before its items are handled, to read what they need in one query; its
   * result is passed to `handle`. A failure here is the handler's failure for every item of the batch.
   */
  prepare?(items: QueueItem[], rt: Runtime): Promise<unknown>;
  handle(item: QueueItem, rt: Runtime, queue: WorkQueue, prepared?: unknown): Promise<void>;
}

const PURGE_INTERVAL_MS = 60_000;
/**
 * A handed-over item that waited for a slot until less than this share of its lease is left is not started:
 * its lease lapses and a consumer leases it again (started this late, it could still be running at the lapse
 * and be delivered twice).
 */
const HANDOFF_MIN_LEASE_LEFT = 0.5;

export function startQueueRunner(rt: Runtime, handlers: QueueHandler[]): { stop(): Promise<void> } {
  let stopped = false;
  const wakers = new Map<string, () => void>();
  const loops: Promise<void>[] = [];
  let unlisten: (() => Promise<void>) | null = null;

  rt.db
    .listen(QUEUE_CHANNEL, (name) => wakers.get(name)?.())
    .then((u) => {
      if (stopped) void u();
      else unlisten = u;
    })
    .catch((err) => rt.log.warn({ err }, 'queue wake-up channel unavailable; polling only'));

  for (const h of handlers) {
    const queue = rt.queues.queue(h.queue);
    const concurrency = h.concurrency ?? 1;
    const pollMs = h.pollMs ?? 5000;
    const batchMs = h.batchMs ?? 0;
    const running = new Set<Promise<void>>();
    let wake: () => void = () => undefined;
    let woken = false;
    /** The next round leases from the database (a wake-up, a poll, a freed slot); not so for a hand-over alone. */
    let dbWanted = true;
    /** Items leased to this process at their put, waiting for a slot (handOff). */
    const handed: QueueItem[] = [];
    /** The last lease filled every free slot, so more items may be waiting for a slot to free up. */
    let saturated = false;
    // With batching, the first wake-up starts the window and those arriving within it join it: one lease for
    // the window, however many commits it saw (a timer per wake-up, and a flag set at once, made every wake-up
    // during a lease cost another lease of its own).
    let batchTimer: NodeJS.Timeout | null = null;
    const wakeBatched = () => {
      if (batchMs === 0 || stopped) {
        if (batchTimer) clearTimeout(batchTimer);
        woken = true;
        wake();
        return;
      }
      batchTimer ??= setTimeout(() => {
        batchTimer = null;
        woken = true;
        wake();
      }, batchMs);
    };
    wakers.set(h.queue, () => {
      dbWanted = true;
      wakeBatched();
    });
    if (h.handOff) {
      const local: LocalConsumer = {
        leaseSeconds: h.processingSeconds,
        hasRoom: () => !stopped && running.size + handed.length < concurrency,
        accept: (items) => {
          if (stopped) {
            for (const item of items) void queue.release(item).catch(() => undefined);
            return;
          }
          handed.push(...items);
          wakeBatched();
        },
      };
      queue.local = local;
    }
    let lastPurge = 0;

    // Finished items are deleted together: the ones done within COMPLETE_BATCH_MS of each other in one statement.
    // An item done but not yet deleted when the process dies is delivered again (as an item in flight would be).
    let pendingDone: Array<{ item: QueueItem; resolve: (held: boolean) => void; reject: (err: unknown) => void }> = [];
    const flushDone = async () => {
      const batch = pendingDone;
      pendingDone = [];
      try {
        const held = await queue.completeMany(batch.map((b) => b.item));
        for (const b of batch) b.resolve(held.has(b.item.id));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    };
    const complete = (item: QueueItem): Promise<boolean> => {
      if (!h.completeBatchMs) return queue.complete(item);
      return new Promise<boolean>((resolve, reject) => {
        if (pendingDone.length === 0) setTimeout(() => void flushDone(), h.completeBatchMs);
        pendingDone.push({ item, resolve, reject });
      });
    };

    /** Handles one item; resolves with its outcome. */
    const runOne = async (item: QueueItem, prepared: Promise<unknown>): Promise<string> => {
      const end = rt.metrics.queueJobDuration.startTimer({ queue: h.queue });
      let outcome = 'done';
      try {
        await h.handle(item, rt, queue, await prepared);
        if (!(await complete(item))) outcome = 'lease_lost';
      } catch (err) {
        if (err instanceof RetryLater && err.refund) {
          outcome = 'postponed';
          await queue.postpone(item, err.seconds).catch((e) => rt.log.error({ err: e }, 'queue postpone failed'));
        } else if (err instanceof RetryLater) {
          outcome = item.retries_remaining > 0 ? 'retry' : 'gave_up';
          if (item.retries_remaining > 0) await queue.retry(item, err.seconds, err.message).catch((e) => rt.log.error({ err: e }, 'queue retry failed'));
          else await queue.complete(item).catch(() => undefined);
          rt.log.warn(
            { queue: h.queue, item: item.id, retries_remaining: item.retries_remaining, reason: err.message },
            outcome === 'retry' ? 'queue item will be retried' : 'queue item gave up',
          );
        } else {
          // Left leased, as after a crash: claimable again once the lease lapses.
          outcome = 'error';
          rt.log.error({ err, queue: h.queue, item: item.id }, 'queue handler failed');
        }
      } finally {
        end();
        rt.metrics.queueJobs.inc({ queue: h.queue, outcome });
      }
      return outcome;
    };

    const loop = async (): Promise<void> => {
      while (!stopped) {
        let leased: QueueItem[] = [];
        let sleepMs = pollMs;
        // Handed-over items first; one whose lease has run down while it waited is left to lapse.
        woken = false;
        const taken = handed.splice(0, Math.max(0, concurrency - running.size));
        const fresh = taken.filter((i) => i.processing_expires.getTime() - Date.now() > HANDOFF_MIN_LEASE_LEFT * h.processingSeconds * 1000);
        const fromDb = dbWanted;
        dbWanted = false;
        try {
          if (Date.now() - lastPurge > PURGE_INTERVAL_MS) {
            lastPurge = Date.now();
            const dead = await queue.purgeDead();
            if (dead.length > 0) {
              rt.metrics.queueJobs.inc({ queue: h.queue, outcome: 'gave_up' }, dead.length);
              rt.log.warn({ queue: h.queue, items: dead }, 'queue items ran out of retries');
            }
          }
          const free = concurrency - running.size - taken.length;
          if (fromDb) {
            if (free > 0) leased = await queue.lease(h.processingSeconds, free);
            saturated = leased.length === free;
            // Items scheduled for later (retries, lapsing leases) send no NOTIFY: wake when the first is due.
            if (free > 0 && leased.length < free) {
              const due = await queue.nextDueMs();
              if (due !== null) sleepMs = Math.min(pollMs, Math.ceil(due) + 20);
            }
          }
        } catch (err) {
          rt.log.error({ err, queue: h.queue }, 'queue lease failed');
        }
        if (fresh.length < taken.length) rt.log.warn({ queue: h.queue, items: taken.length - fresh.length }, 'handed-over queue items waited too long; left to their lease');
        const batch = [...fresh, ...leased];
        const prepared = batch.length && h.prepare ? h.prepare(batch, rt) : Promise.resolve(undefined);
        prepared.catch(() => undefined);
        for (const item of batch) {
          const p = runOne(item, prepared).then((outcome) => {
            running.delete(p);
            // A freed slot matters only when items may be waiting for one, and an item put back for later
            // changes when the queue is next due; otherwise a finished item would cost an empty lease and a
            // due-time query.
            if (saturated || stopped || outcome !== 'done') {
              // Noted even while a lease is under way (not sleeping), so the loop looks again after it.
              dbWanted = true;
              woken = true;
              wake();
            } else if (handed.length > 0) {
              woken = true;
              wake();
            }
          });
          running.add(p);
        }
        if (stopped) break;
        // More may be waiting when this lease filled every slot; otherwise sleep until woken or the poll.
        if (fromDb && saturated && running.size < concurrency) {
          dbWanted = true;
          continue;
        }
        if (woken && running.size < concurrency) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            dbWanted = true;
            done();
          }, sleepMs);
          function done() {
            clearTimeout(t);
            wake = () => undefined;
            resolve();
          }
          wake = done;
        });
      }
      await Promise.all(running);
      // Handed-over items not started: available to any consumer at once, their attempt refunded.
      await Promise.all(handed.splice(0).map((item) => queue.release(item).catch(() => false)));
    };
    loops.push(loop());
  }

  return {
    async stop() {
      stopped = true;
      for (const h of handlers) if (rt.queues.queue(h.queue).local) rt.queues.queue(h.queue).local = null;
      for (const w of wakers.values()) w();
      await Promise.all(loops);
      await unlisten?.();
    },
  };
}
