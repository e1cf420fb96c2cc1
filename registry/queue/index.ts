/**
 * The one durable work queue (Quay's QueueItem semantics), in Postgres (or PGlite), shared by notifications,
 * log export, mirroring, proxy-cache prefetch, builds and scanning. Safe with any number of replicas.
 *
 * Producer (inside its own transaction, so the item exists exactly when the change that caused it commits):
 *   await rt.queues.queue('notification').put([ns, repo, 'repo_push'], body, { retries: 5 }, q);
 * Consumer: register a handler with the worker runner (registry/workers/queue_runner.ts):
 *   { queue: 'notification', processingSeconds: 30, handle: async (item, rt) => { ... } }
 * The runner leases items (SELECT ... FOR UPDATE SKIP LOCKED: two consumers never get the same item), runs
 * the handler and then:
 *   - resolves               -> the item is deleted (done);
 *   - throws RetryLater(s)   -> available again after s seconds (Quay's JobException; the attempt is spent,
 *                               or given back with RetryLater(s, reason, true));
 *   - throws anything else   -> left leased: claimable again when its lease lapses (as after a crash).
 * Every lease spends one of `retries_remaining`; an item with none left is never leased again and is removed
 * by `purgeDead` (counted as given up). A handler that runs longer than its lease calls `extend`.
 *
 * Delivery is at least once: an item whose worker dies mid-handler is leased again after its lease lapses,
 * so handlers make their effects idempotent or accept a duplicate.
 */
import type { Db, Queryable } from '../db/index.js';

/** NOTIFY channel woken at the commit of every put, so idle consumers start at once instead of at their next poll. */
export const QUEUE_CHANNEL = 'queue_item_put';

export interface QueueItem<B = Record<string, unknown>> {
  id: number;
  queue_name: string;
  /** The path segments given to put (Quay puts the namespace first). */
  path: string[];
  body: B;
  /** Retries left after this lease. */
  retries_remaining: number;
  /** 1 for the first lease. */
  attempts: number;
  /** The lease token; completing, retrying or extending needs the current one. */
  state_id: string;
  processing_expires: Date;
  created_at: Date;
}

export interface PutOptions {
  /** Seconds before the item may be leased (default 0). */
  availableAfterSeconds?: number;
  /** Leases the item may get (Quay's retries_remaining, default 5). */
  retries?: number;
}

/** putFromSelect's options: a hot producer (every push) names its statement, so Postgres plans it once per connection. */
export interface PutFromSelectOptions extends PutOptions {
  prepare?: string;
}

/**
 * Thrown by a handler: make the item available again after `seconds` (Quay's JobException). With
 * `refund` the attempt is given back (the item was not tried, e.g. its target is paused).
 */
export class RetryLater extends Error {
  constructor(
    readonly seconds: number,
    message = 'retry later',
    readonly refund = false,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

interface ItemRow {
  id: number;
  queue_name: string;
  path: string;
  body: Record<string, unknown>;
  retries_remaining: number;
  attempts: number;
  state_id: string;
  processing_expires: Date;
  created_at: Date;
}

/** What settling an item needs: its id and the current lease token. */
export type LeaseRef = Pick<QueueItem<unknown>, 'id' | 'state_id'>;

function toItem<B>(r: ItemRow): QueueItem<B> {
  return { ...r, path: r.path === '' ? [] : r.path.split('/'), body: r.body as B };
}

/** A consumer in this process that takes items leased to it at their put (WorkQueue.putFromSelectLocal). */
export interface LocalConsumer {
  /** The lease an item is put with: the consumer's processing time. */
  readonly leaseSeconds: number;
  /** Whether a slot is free now; when not, items are put for any consumer, with the wake-up. */
  hasRoom(): boolean;
  /** Items leased to this process at their put, after the producer's commit; `processing_expires` is the lease's end on this host's clock. */
  accept(items: QueueItem[]): void;
}

/** One named queue. Obtain it from `Queues.queue(name)`. */
export class WorkQueue {
  /** The consumer of this queue running in this process that takes items leased at their put, if any. */
  local: LocalConsumer | null = null;

  constructor(
    private readonly db: Db,
    readonly name: string,
  ) {
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`invalid queue name "${name}"`);
  }

  /** Enqueue an item; pass the caller's transaction `q` so the item commits (or not) with the caller's change. */
  async put(path: string[], body: Record<string, unknown>, opts: PutOptions = {}, q: Queryable = this.db): Promise<number> {
    for (const p of path) if (p.includes('/')) throw new Error(`queue path segment "${p}" contains '/'`);
    // The INSERT and the wake-up in one statement: one round trip inside the producer's transaction.
    const r = await q.query<{ id: number }>(
      `WITH ins AS (
         INSERT INTO queue_item (queue_name, path, body, available_after, retries_remaining)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5) RETURNING id)
       SELECT ins.id FROM ins, (SELECT pg_notify($6, $1)) AS wake`,
      [this.name, path.join('/'), JSON.stringify(body), opts.availableAfterSeconds ?? 0, opts.retries ?? 5, QUEUE_CHANNEL],
    );
    return r.rows[0].id;
  }

  /**
   * Enqueue one item per row of `select` and wake the consumers, in one statement (a producer fanning an event
   * out to the notifications that match it). `select` yields the columns `path` (text, segments joined by '/')
   * and `body` (jsonb), with its parameters `params` as $1, $2, …. The NOTIFY is sent only when a row was
   * enqueued. Returns the number of items.
   */
  async putFromSelect(select: string, params: unknown[], opts: PutFromSelectOptions = {}, q: Queryable = this.db): Promise<number> {
    const at = params.length;
    const r = await q.query<{ n: number }>(
      `WITH src AS (${select}),
       ins AS (
         INSERT INTO queue_item (queue_name, path, body, available_after, retries_remaining)
         SELECT $${at + 1}, src.path, src.body, now() + make_interval(secs => $${at + 2}), $${at + 3} FROM src RETURNING id)
       SELECT (SELECT count(*)::int FROM ins) AS n, (SELECT count(*)::int FROM (SELECT pg_notify($${at + 4}, $${at + 1}) FROM ins LIMIT 1) AS w) AS woke`,
      [...params, this.name, opts.availableAfterSeconds ?? 0, opts.retries ?? 5, QUEUE_CHANNEL],
      { prepare: opts.prepare },
    );
    return r.rows[0].n;
  }

  /**
   * putFromSelect for a hot producer (every push): when a consumer of this queue runs in this process and has a
   * free slot, the items are inserted already leased to it (as its lease would leave them: one attempt spent,
   * `leaseSeconds` of processing time), without the wake-up; `afterCommit` hands them to that consumer, so the
   * process that committed them delivers them without a NOTIFY, a lease or a due-time query. Call
   * `afterCommit` once the producer's transaction has committed (never after a rollback). Nothing is lost if
   * the process dies before or while delivering: the lease lapses and any consumer leases the items again, as
   * after a crash mid-handler. Without such a consumer this is putFromSelect.
   */
  async putFromSelectLocal(select: string, params: unknown[], opts: PutFromSelectOptions = {}, q: Queryable = this.db): Promise<{ count: number; afterCommit: () => void }> {
    const local = this.local;
    if (!local?.hasRoom()) return { count: await this.putFromSelect(select, params, opts, q), afterCommit: () => undefined };
    const at = params.length;
    // The consumer judges how much of the lease is left on this host's clock, which may disagree with
    // Postgres's: the lease runs from the statement's own clock_timestamp(), which is later than `sentAt`, so
    // `sentAt` + lease is never past the row's end, whatever the skew.
    const sentAt = Date.now();
    const r = await q.query<ItemRow>(
      `WITH src AS (${select})
       INSERT INTO queue_item (queue_name, path, body, available_after, retries_remaining, processing_expires, attempts)
       SELECT $${at + 1}, src.path, src.body, now(), $${at + 2} - 1, clock_timestamp() + make_interval(secs => $${at + 3}), 1 FROM src
       RETURNING id, queue_name, path, body, retries_remaining, attempts, state_id, processing_expires, created_at`,
      [...params, this.name, opts.retries ?? 5, local.leaseSeconds],
      { prepare: opts.prepare ? `${opts.prepare}_local` : undefined },
    );
    const localEnd = new Date(sentAt + local.leaseSeconds * 1000);
    const items = r.rows.map((x) => ({ ...toItem<Record<string, unknown>>(x), processing_expires: localEnd }));
    return { count: items.length, afterCommit: () => (items.length > 0 ? local.accept(items) : undefined) };
  }

  /**
   * Lease up to `limit` available items for `processingSeconds`, oldest first. Rows another consumer is
   * leasing at this moment are skipped, not waited for.
   */
  async lease<B = Record<string, unknown>>(processingSeconds: number, limit = 1): Promise<Array<QueueItem<B>>> {
    const r = await this.db.query<ItemRow>(
      `WITH c AS (
         SELECT id FROM queue_item
          WHERE queue_name = $1 AND retries_remaining > 0 AND available_after <= now()
            AND (processing_expires IS NULL OR processing_expires <= now())
          ORDER BY available_after, id
          LIMIT $3
          FOR UPDATE SKIP LOCKED)
       UPDATE queue_item i
          SET processing_expires = now() + make_interval(secs => $2), retries_remaining = i.retries_remaining - 1,
              attempts = i.attempts + 1, state_id = gen_random_uuid()
         FROM c WHERE i.id = c.id
       RETURNING i.id, i.queue_name, i.path, i.body, i.retries_remaining, i.attempts, i.state_id, i.processing_expires, i.created_at`,
      [this.name, processingSeconds, limit],
      { prepare: 'queue_lease' },
    );
    return r.rows.map((x) => toItem<B>(x));
  }

  /**
   * Lease the oldest available item whose path has no item leased at this moment (Quay's ordering_required
   * get: builds run one at a time per repository). Leases of this queue are serialised by an advisory lock,
   * so two consumers cannot both pass the "nothing leased on this path" check.
   */
  async leaseOnePerPath<B = Record<string, unknown>>(processingSeconds: number): Promise<QueueItem<B> | null> {
    return this.db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock(774414, hashtext($1))', [this.name]);
      const r = await q.query<ItemRow>(
        `WITH c AS (
           SELECT i.id FROM queue_item i
            WHERE i.queue_name = $1 AND i.retries_remaining > 0 AND i.available_after <= now()
              AND (i.processing_expires IS NULL OR i.processing_expires <= now())
              AND NOT EXISTS (SELECT 1 FROM queue_item j WHERE j.queue_name = $1 AND j.path = i.path AND j.processing_expires > now())
            ORDER BY i.available_after, i.id
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
         UPDATE queue_item i
            SET processing_expires = now() + make_interval(secs => $2), retries_remaining = i.retries_remaining - 1,
                attempts = i.attempts + 1, state_id = gen_random_uuid()
           FROM c WHERE i.id = c.id
         RETURNING i.id, i.queue_name, i.path, i.body, i.retries_remaining, i.attempts, i.state_id, i.processing_expires, i.created_at`,
        [this.name, processingSeconds],
      );
      return r.rows[0] ? toItem<B>(r.rows[0]) : null;
    });
  }

  /** Done: delete the item. False when the lease was lost (it lapsed and someone else holds the item now). */
  async complete(item: LeaseRef, q: Queryable = this.db): Promise<boolean> {
    const r = await q.query('DELETE FROM queue_item WHERE id = $1 AND state_id = $2', [item.id, item.state_id]);
    return r.rowCount > 0;
  }

  /** Done, for several items in one statement: the ids whose lease was still held (and are now deleted). */
  async completeMany(items: LeaseRef[]): Promise<Set<number>> {
    if (items.length === 0) return new Set();
    const r = await this.db.query<{ id: number }>(
      'DELETE FROM queue_item i USING unnest($1::bigint[], $2::uuid[]) AS d(id, state_id) WHERE i.id = d.id AND i.state_id = d.state_id RETURNING i.id',
      [items.map((x) => x.id), items.map((x) => x.state_id)],
      { prepare: 'queue_complete_many' },
    );
    return new Set(r.rows.map((x) => Number(x.id)));
  }

  /** Make the item available again after `seconds`; the attempt stays spent. False when the lease was lost. */
  async retry(item: LeaseRef, seconds: number, error?: string, q: Queryable = this.db): Promise<boolean> {
    const r = await q.query(
      `UPDATE queue_item SET processing_expires = NULL, available_after = now() + make_interval(secs => $3), last_error = $4
        WHERE id = $1 AND state_id = $2`,
      [item.id, item.state_id, seconds, error?.slice(0, 2000) ?? null],
    );
    return r.rowCount > 0;
  }

  /** Put the item back for `seconds` without spending the attempt (its target is paused, not failing). */
  async postpone(item: LeaseRef, seconds: number, q: Queryable = this.db): Promise<boolean> {
    const r = await q.query(
      `UPDATE queue_item SET processing_expires = NULL, available_after = now() + make_interval(secs => $3),
              retries_remaining = retries_remaining + 1, attempts = attempts - 1
        WHERE id = $1 AND state_id = $2`,
      [item.id, item.state_id, seconds],
    );
    return r.rowCount > 0;
  }

  /** Give the item back untouched (shutting down): available now, the attempt refunded. */
  async release(item: LeaseRef): Promise<boolean> {
    const r = await this.db.query(
      'UPDATE queue_item SET processing_expires = NULL, retries_remaining = retries_remaining + 1, attempts = attempts - 1 WHERE id = $1 AND state_id = $2',
      [item.id, item.state_id],
    );
    return r.rowCount > 0;
  }

  /** Lengthen a lease held by a long-running handler. False when the lease was lost. */
  async extend(item: LeaseRef, seconds: number): Promise<boolean> {
    const r = await this.db.query('UPDATE queue_item SET processing_expires = now() + make_interval(secs => $3) WHERE id = $1 AND state_id = $2', [
      item.id,
      item.state_id,
      seconds,
    ]);
    return r.rowCount > 0;
  }

  /** Milliseconds until the next item becomes leasable (0: now), or null when the queue holds none. */
  async nextDueMs(): Promise<number | null> {
    // Clamped here, not with SQL greatest(), which ignores the NULL of an empty queue and made it "due now".
    const r = await this.db.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(greatest(available_after, coalesce(processing_expires, available_after))) - now()) * 1000)::float8 AS ms
         FROM queue_item WHERE queue_name = $1 AND retries_remaining > 0`,
      [this.name],
      { prepare: 'queue_next_due' },
    );
    const ms = r.rows[0]?.ms ?? null;
    return ms === null ? null : Math.max(0, ms);
  }

  /** Items under a path prefix still waiting or running (e.g. "is a sync of this repository queued?"). */
  async alive(pathPrefix: string[], q: Queryable = this.db): Promise<number> {
    const prefix = pathPrefix.join('/');
    const r = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM queue_item WHERE queue_name = $1 AND (path = $2 OR path LIKE $3) AND retries_remaining > 0`, [
      this.name,
      prefix,
      `${prefix.replace(/[\\%_]/g, '\\$&')}/%`,
    ]);
    return r.rows[0].n;
  }

  /** Delete items that ran out of retries (their last lease lapsed or failed); returns their ids. */
  async purgeDead(): Promise<number[]> {
    const r = await this.db.query<{ id: number }>(
      `DELETE FROM queue_item WHERE queue_name = $1 AND retries_remaining <= 0 AND (processing_expires IS NULL OR processing_expires <= now()) RETURNING id`,
      [this.name],
    );
    return r.rows.map((x) => x.id);
  }
}

export interface QueueDepth {
  queue: string;
  /** Waiting to be leased (including those scheduled for later). */
  waiting: number;
  /** Leased now. */
  processing: number;
}

/** All named queues over one database. */
export class Queues {
  private readonly byName = new Map<string, WorkQueue>();
  constructor(private readonly db: Db) {}

  queue(name: string): WorkQueue {
    let q = this.byName.get(name);
    if (!q) {
      q = new WorkQueue(this.db, name);
      this.byName.set(name, q);
    }
    return q;
  }

  /** Items per queue, for /metrics. */
  async depth(): Promise<QueueDepth[]> {
    const r = await this.db.query<QueueDepth>(
      `SELECT queue_name AS queue,
              count(*) FILTER (WHERE processing_expires IS NULL OR processing_expires <= now())::int AS waiting,
              count(*) FILTER (WHERE processing_expires > now())::int AS processing
         FROM queue_item WHERE retries_remaining > 0 OR processing_expires > now() GROUP BY queue_name`,
    );
    return r.rows;
  }
}
