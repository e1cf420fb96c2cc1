/**
 * Drains the 'notification' queue (Quay's NotificationWorker): loads the notification, drops the item when
 * the notification is gone or disabled (3 failed rounds), applies the event's filter, delivers by the
 * notification's method, and accounts: success resets number_of_failures; a failure counts one round, pauses
 * the notification's deliveries for NOTIFICATION_RETRY_SECONDS and retries the item after that.
 */
import type { Runtime } from '../runtime.js';
import { RetryLater, type QueueItem } from '../queue/index.js';
import { NOTIFICATION_QUEUE, type NotificationItemBody } from '../model/events.js';
import { eventKind } from '../model/event_kinds.js';
import type { QueueHandler } from './queue_runner.js';
import type { NotificationRow } from '../model/notification_configs.js';

/** Deliveries in flight per process: a hanging receiver holds one slot for NOTIFICATION_SEND_TIMEOUT. */
const CONCURRENCY = 16;
/** Wake-ups are gathered for this long, so a burst of pushes is leased in a few queries rather than one per push. */
const BATCH_MS = 25;
/** Delivered items are deleted in batches gathered this long (a crash in between repeats those deliveries). */
const COMPLETE_BATCH_MS = 10;

export function notificationHandler(rt: Runtime): QueueHandler {
  return {
    queue: NOTIFICATION_QUEUE,
    processingSeconds: Math.max(30, Math.ceil(rt.config.NOTIFICATION_SEND_TIMEOUT * 3)),
    concurrency: CONCURRENCY,
    batchMs: BATCH_MS,
    completeBatchMs: COMPLETE_BATCH_MS,
    // A push's events are delivered by the process that committed it, without a wake-up or a lease query.
    handOff: true,
    // The notifications of a leased batch are read in one query per scope rather than one per delivery.
    prepare: async (items, r) => {
      const bodies = items.map((i) => i.body as unknown as NotificationItemBody);
      const uuids = (scope: Scope) => bodies.filter((b) => scopeOf(b) === scope).map((b) => b.notification_uuid);
      const [repository, namespace] = await Promise.all([
        r.notificationConfigs.byUuids('repository', uuids('repository')),
        r.notificationConfigs.byUuids('namespace', uuids('namespace')),
      ]);
      return { repository, namespace } satisfies Prepared;
    },
    handle: (item, r, _queue, prepared) => deliverItem(item, r, prepared as Prepared),
  };
}

type Scope = 'repository' | 'namespace';
type Prepared = Record<Scope, Map<string, NotificationRow>>;
const scopeOf = (b: NotificationItemBody): Scope => (b.notification_type === 'namespace' ? 'namespace' : 'repository');

async function deliverItem(item: QueueItem, rt: Runtime, prepared: Prepared): Promise<void> {
  const body = item.body as unknown as NotificationItemBody;
  const n = prepared[scopeOf(body)].get(body.notification_uuid) ?? null;
  const method = n?.method ?? 'unknown';
  const count = (outcome: string) => rt.metrics.notificationDeliveries.inc({ method, outcome });
  if (!n) return count('deleted');
  if (rt.notificationConfigs.disabled(n)) return count('disabled');
  if (n.paused_until && n.paused_until.getTime() > Date.now()) {
    // The round this item belongs to has failed already: wait with the others, without spending an attempt.
    throw new RetryLater(Math.max(1, Math.ceil((n.paused_until.getTime() - Date.now()) / 1000)), 'notification paused after a failed delivery', true);
  }
  const kind = eventKind(n.event);
  if (!kind || !kind.shouldPerform(body.event_data, n.event_config)) return count('filtered');
  try {
    await rt.delivery.deliver(n, body.event_data);
  } catch (err) {
    count('failure');
    const failures = await rt.notificationConfigs.recordFailure(n, rt.config.NOTIFICATION_RETRY_SECONDS);
    rt.log.warn({ notification: n.uuid, method, event: n.event, failures, err: (err as Error).message }, 'notification delivery failed');
    throw new RetryLater(rt.config.NOTIFICATION_RETRY_SECONDS, (err as Error).message);
  }
  await rt.notificationConfigs.recordSuccess(n);
  count('success');
  rt.metrics.notificationLatency.observe({ method }, Math.max(0, (Date.now() - body.emitted_at) / 1000));
}
