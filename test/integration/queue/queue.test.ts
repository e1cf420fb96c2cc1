/**
 * The durable work queue against a real Postgres (and PGlite): leases are exclusive across consumers with
 * their own connection pools (as two replicas), a lapsed lease is leased again and the old holder can no
 * longer complete it, retries run out, an item put in a rolled-back transaction never exists, and the
 * runner drains a queue with its handler, waking on NOTIFY.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { openEmbedded, openPostgres, type Db } from '../../../registry/db/index.js';
import { migrate } from '../../../registry/db/migrate.js';
import { QUEUE_CHANNEL, Queues, RetryLater, type QueueItem } from '../../../registry/queue/index.js';
import { startQueueRunner } from '../../../registry/workers/queue_runner.js';
import { Metrics } from '../../../registry/metrics.js';
import type { Runtime } from '../../../registry/runtime.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('work queue on Postgres', () => {
  let uri: string;
  let a: Db;
  let b: Db;

  beforeAll(async () => {
    uri = await createTestDatabase('queue');
    a = await openPostgres(uri, { max: 5 });
    b = await openPostgres(uri, { max: 5 });
    await migrate(a);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await dropTestDatabase(uri);
  });

  test('two consumers leasing concurrently never get the same item, and together get all', async () => {
    const qa = new Queues(a).queue('exclusive');
    const qb = new Queues(b).queue('exclusive');
    for (let i = 0; i < 300; i++) await qa.put(['ns', `i${i}`], { n: i });
    const seen: number[] = [];
    const consume = async (q: typeof qa) => {
      for (;;) {
        const items = await q.lease(30, 3);
        if (items.length === 0) return;
        for (const it of items) {
          seen.push(it.body.n as number);
          expect(await q.complete(it)).toBe(true);
        }
      }
    };
    await Promise.all([consume(qa), consume(qb), consume(qa), consume(qb)]);
    expect(seen.length).toBe(300);
    expect(new Set(seen).size).toBe(300);
  });

  test('an expired lease is leased again; the old holder can no longer complete or retry it', async () => {
    const q = new Queues(a).queue('expiry');
    await q.put(['x'], { v: 1 }, { retries: 3 });
    const [first] = await q.lease(1);
    expect(first.attempts).toBe(1);
    expect(first.retries_remaining).toBe(2);
    expect(first.path).toEqual(['x']);
    expect(await q.lease(1)).toEqual([]);
    await sleep(1300);
    const [second] = await new Queues(b).queue('expiry').lease(30);
    expect(second.id).toBe(first.id);
    expect(second.attempts).toBe(2);
    expect(second.retries_remaining).toBe(1);
    expect(await q.complete(first)).toBe(false);
    expect(await q.retry(first, 0)).toBe(false);
    expect(await q.complete(second)).toBe(true);
  });

  test('completeMany deletes the items whose lease is still held, in one statement, and reports which', async () => {
    const q = new Queues(a).queue('complete_many');
    for (const v of [1, 2, 3]) await q.put(['m'], { v });
    const leased = await q.lease(30, 3);
    expect(leased).toHaveLength(3);
    // the third's lease is taken over (its token changed): completing with the old token must not delete it
    const stale = { ...leased[2], state_id: '00000000-0000-4000-8000-000000000000' };
    const held = await q.completeMany([leased[0], leased[1], stale]);
    expect([...held].sort()).toEqual([leased[0].id, leased[1].id].sort());
    const left = await a.query<{ id: number }>("SELECT id FROM queue_item WHERE queue_name = 'complete_many'");
    expect(left.rows.map((r) => Number(r.id))).toEqual([leased[2].id]);
    expect(await q.completeMany([])).toEqual(new Set());
    expect(await q.complete(leased[2])).toBe(true);
  });

  test('retry makes the item available after the delay; retries run out; purgeDead removes the dead', async () => {
    const q = new Queues(a).queue('retries');
    const id = await q.put([], { v: 2 }, { retries: 2 });
    const [one] = await q.lease(30);
    expect(await q.retry(one, 1, 'boom')).toBe(true);
    expect(await q.lease(30)).toEqual([]);
    await sleep(1200);
    const [two] = await q.lease(1);
    expect(two.id).toBe(id);
    expect(two.retries_remaining).toBe(0);
    await sleep(1200);
    // No retries left: never leased again, even though its lease lapsed.
    expect(await q.lease(30)).toEqual([]);
    expect(await q.purgeDead()).toEqual([id]);
    expect((await a.query('SELECT 1 FROM queue_item WHERE id = $1', [id])).rows.length).toBe(0);
  });

  test('an item put inside a rolled-back transaction never exists; a committed one does', async () => {
    const q = new Queues(a).queue('tx');
    await expect(
      a.tx(async (t) => {
        await q.put(['gone'], { v: 1 }, {}, t);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    await a.tx(async (t) => q.put(['kept'], { v: 2 }, {}, t));
    const items = await q.lease(30, 10);
    expect(items.map((i) => i.path[0])).toEqual(['kept']);
  });

  test("putFromSelect enqueues one item per row of the SELECT in the caller's transaction (or none), and wakes consumers only when it enqueued", async () => {
    const q = new Queues(a).queue('from_select');
    const select = "SELECT 'ns/repo/e' || i AS path, jsonb_build_object('i', i, 'tag', $1::text) AS body FROM generate_series(0, $2::int - 1) AS i";
    const woken: string[] = [];
    const unlisten = await b.listen(QUEUE_CHANNEL, (name) => woken.push(name));
    try {
      await expect(
        a.tx(async (t) => {
          expect(await q.putFromSelect(select, ['v1', 3], { retries: 2 }, t)).toBe(3);
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      expect(await q.lease(30, 10)).toEqual([]);
      // No row: nothing enqueued and no wake-up. NOTIFYs arrive in commit order, so the marker put after it
      // arriving alone shows there was none.
      expect(await a.tx(async (t) => q.putFromSelect(select, ['v1', 0], {}, t))).toBe(0);
      await new Queues(a).queue('from_select_marker').put([], {});
      for (let i = 0; i < 100 && !woken.includes('from_select_marker'); i++) await sleep(50);
      expect(woken).toEqual(['from_select_marker']);
      expect(await a.tx(async (t) => q.putFromSelect(select, ['v1', 3], { retries: 2 }, t))).toBe(3);
      for (let i = 0; i < 100 && !woken.includes('from_select'); i++) await sleep(50);
      expect(woken).toEqual(['from_select_marker', 'from_select']);
    } finally {
      await unlisten();
    }
    const leased = await q.lease(30, 10);
    expect(leased.map((x) => [x.path, x.body, x.retries_remaining])).toEqual([0, 1, 2].map((i) => [['ns', 'repo', `e${i}`], { i, tag: 'v1' }, 1]));
  });

  test('release refunds the attempt; extend keeps the lease; alive counts a path prefix', async () => {
    const q = new Queues(a).queue('release');
    await q.put(['ns', 'repo'], { v: 1 }, { retries: 1 });
    expect(await q.alive(['ns'])).toBe(1);
    expect(await q.alive(['ns', 'repo'])).toBe(1);
    expect(await q.alive(['n'])).toBe(0);
    const [it] = await q.lease(1);
    expect(it.retries_remaining).toBe(0);
    expect(await q.extend(it, 30)).toBe(true);
    await sleep(1200);
    expect(await q.lease(30)).toEqual([]);
    expect(await q.release(it)).toBe(true);
    const [again] = await q.lease(30);
    expect(again.attempts).toBe(1);
    expect(again.retries_remaining).toBe(0);
  });

  test('nextDueMs: null for an empty queue (the runner then sleeps its poll, not 20 ms), 0 when due, the wait when later', async () => {
    const q = new Queues(a).queue('due');
    expect(await q.nextDueMs()).toBeNull();
    await q.put([], { v: 1 }, { availableAfterSeconds: 600 });
    const later = await q.nextDueMs();
    expect(later).toBeGreaterThan(500_000);
    expect(later).toBeLessThanOrEqual(600_000);
    await q.put([], { v: 2 });
    expect(await q.nextDueMs()).toBe(0);
  });

  test('depth reports waiting and processing items per queue', async () => {
    const queues = new Queues(a);
    const q = queues.queue('depth');
    await q.put([], { v: 1 });
    await q.put([], { v: 2 });
    await q.lease(30, 1);
    const d = (await queues.depth()).find((x) => x.queue === 'depth');
    expect(d).toEqual({ queue: 'depth', waiting: 1, processing: 1 });
  });

  test('the runner drains a queue with its handler, retries on RetryLater, and wakes on NOTIFY before its poll', async () => {
    const queues = new Queues(b);
    const metrics = new Metrics();
    const rt = { db: b, queues, metrics, log: pino({ level: 'silent' }) } as unknown as Runtime;
    const handled: Array<{ n: number; attempts: number; at: number }> = [];
    const runner = startQueueRunner(rt, [
      {
        queue: 'runner',
        processingSeconds: 30,
        concurrency: 4,
        pollMs: 60_000,
        handle: async (item: QueueItem) => {
          const n = item.body.n as number;
          handled.push({ n, attempts: item.attempts, at: Date.now() });
          if (n === 0 && item.attempts === 1) throw new RetryLater(1, 'first try fails');
        },
      },
    ]);
    try {
      // Let the listener connect and the first (empty) lease pass, so the next items arrive by NOTIFY only.
      await sleep(1000);
      const producer = new Queues(a).queue('runner');
      const start = Date.now();
      for (let i = 0; i < 20; i++) await a.tx((t) => producer.put([], { n: i }, {}, t));
      for (let i = 0; i < 100 && handled.length < 21; i++) await sleep(100);
      expect(handled.length).toBe(21);
      expect(handled.filter((h) => h.n === 0).map((h) => h.attempts)).toEqual([1, 2]);
      // Woken by NOTIFY: well before the 60 s poll.
      const firstFive = handled.filter((h) => h.n !== 0).slice(0, 5);
      expect(Math.max(...firstFive.map((h) => h.at - start))).toBeLessThan(5000);
      expect((await b.query('SELECT count(*)::int AS n FROM queue_item WHERE queue_name = $1', ['runner'])).rows[0]).toEqual({ n: 0 });
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/quay_queue_jobs_total\{queue="runner",outcome="done"\} 20/);
      expect(text).toMatch(/quay_queue_jobs_total\{queue="runner",outcome="retry"\} 1/);
    } finally {
      await runner.stop();
    }
  });

  test('with batchMs, the wake-ups of commits arriving within one window are leased together, in one lease', async () => {
    const queues = new Queues(b);
    const consumer = queues.queue('batched');
    const leases: number[] = [];
    const lease = consumer.lease.bind(consumer);
    consumer.lease = async (seconds, limit) => {
      const items = await lease(seconds, limit);
      leases.push(items.length);
      return items as never;
    };
    const rt = { db: b, queues, metrics: new Metrics(), log: pino({ level: 'silent' }) } as unknown as Runtime;
    const handled: number[] = [];
    const batchMs = 5000;
    const runner = startQueueRunner(rt, [
      { queue: 'batched', processingSeconds: 30, concurrency: 16, pollMs: 600_000, batchMs, handle: async (item: QueueItem) => void handled.push(item.body.n as number) },
    ]);
    try {
      // The first (empty) lease at start done, and the runner's LISTEN in place.
      const listening = async () =>
        (
          await a.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN%' AND state = 'idle'", [
            `quay-listen:${QUEUE_CHANNEL}`,
          ])
        ).rows.length > 0;
      for (let i = 0; i < 300 && (leases.length === 0 || !(await listening())); i++) await sleep(100);
      expect(leases).toEqual([0]);
      const producer = new Queues(a).queue('batched');
      const first = Date.now();
      for (let i = 0; i < 5; i++) await a.tx((t) => producer.put([], { n: i }, {}, t));
      // Five commits, five NOTIFYs, all before the window the first one opened has closed:
      expect(Date.now() - first).toBeLessThan(batchMs);
      for (let i = 0; i < 200 && handled.length < 5; i++) await sleep(100);
      expect(handled.sort()).toEqual([0, 1, 2, 3, 4]);
      // Past any further window: no more leases came (each wake-up used to schedule a lease of its own).
      await sleep(batchMs + 500);
      expect(leases).toEqual([0, 5]);
    } finally {
      await runner.stop();
    }
  });
  test('handOff: a producer in the runner process puts items leased to it and hands them over at commit (no NOTIFY, no lease query); a rollback hands nothing; a dead holder leaves them to their lease', async () => {
    const queues = new Queues(b);
    const consumer = queues.queue('handoff');
    const leases: number[] = [];
    const lease = consumer.lease.bind(consumer);
    consumer.lease = async (seconds, limit) => {
      const items = await lease(seconds, limit);
      leases.push(items.length);
      return items as never;
    };
    const rt = { db: b, queues, metrics: new Metrics(), log: pino({ level: 'silent' }) } as unknown as Runtime;
    const handled: Array<{ n: number; attempts: number }> = [];
    const runner = startQueueRunner(rt, [
      {
        queue: 'handoff',
        processingSeconds: 30,
        concurrency: 4,
        pollMs: 600_000,
        batchMs: 20,
        handOff: true,
        handle: async (item: QueueItem) => void handled.push({ n: item.body.n as number, attempts: item.attempts }),
      },
    ]);
    const woken: string[] = [];
    const unlisten = await a.listen(QUEUE_CHANNEL, (name) => woken.push(name));
    const select = "SELECT 'ns/repo' AS path, jsonb_build_object('n', i) AS body FROM generate_series($1::int, $2::int) AS i";
    const rows = async () =>
      (
        await a.query<{ n: number; attempts: number; retries_remaining: number; leased: boolean }>(
          "SELECT (body->>'n')::int AS n, attempts, retries_remaining, processing_expires > now() AS leased FROM queue_item WHERE queue_name = 'handoff' ORDER BY 1",
        )
      ).rows;
    try {
      for (let i = 0; i < 300 && leases.length === 0; i++) await sleep(100);
      expect(leases).toEqual([0]);
      // Rolled back: no item, and nothing to hand over (afterCommit is never reached).
      await expect(
        b.tx(async (t) => {
          expect((await consumer.putFromSelectLocal(select, [100, 101], { retries: 3 }, t)).count).toBe(2);
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      expect(await rows()).toEqual([]);
      // Committed: the rows exist leased to this process (one attempt spent) before they are handed over.
      const put = await b.tx((t) => consumer.putFromSelectLocal(select, [0, 2], { retries: 3 }, t));
      expect(put.count).toBe(3);
      expect(await rows()).toEqual([0, 1, 2].map((n) => ({ n, attempts: 1, retries_remaining: 2, leased: true })));
      put.afterCommit();
      for (let i = 0; i < 100 && handled.length < 3; i++) await sleep(50);
      expect(handled.sort((x, y) => x.n - y.n)).toEqual([0, 1, 2].map((n) => ({ n, attempts: 1 })));
      for (let i = 0; i < 100 && (await rows()).length > 0; i++) await sleep(50);
      expect(await rows()).toEqual([]);
      // No lease query and no wake-up: a NOTIFY of a marker put afterwards arrives alone (NOTIFYs come in commit order).
      expect(leases).toEqual([0]);
      await new Queues(a).queue('handoff_marker').put([], {});
      for (let i = 0; i < 100 && !woken.includes('handoff_marker'); i++) await sleep(50);
      expect(woken).toEqual(['handoff_marker']);

      // A producer without a consumer in its process (another replica) puts the item for anyone, with the wake-up.
      const other = new Queues(a).queue('handoff');
      const remote = await a.tx((t) => other.putFromSelectLocal(select, [10, 10], { retries: 3 }, t));
      remote.afterCommit();
      for (let i = 0; i < 100 && handled.length < 4; i++) await sleep(50);
      expect(handled.map((h) => h.n)).toContain(10);
      expect(woken).toEqual(['handoff_marker', 'handoff']);
      expect(leases.filter((n) => n > 0)).toEqual([1]);

      // A process that dies holding handed-over items: they stay leased until the lease lapses, then any consumer gets them.
      other.local = { leaseSeconds: 1, hasRoom: () => true, accept: () => undefined };
      const dead = await a.tx((t) => other.putFromSelectLocal(select, [20, 20], { retries: 3 }, t));
      dead.afterCommit();
      expect(await lease(30, 10)).toEqual([]);
      await sleep(1200);
      const [again] = await lease(30, 10);
      expect([again.body.n, again.attempts, again.retries_remaining]).toEqual([20, 2, 1]);
      expect(await consumer.complete(again)).toBe(true);
    } finally {
      await unlisten();
      await runner.stop();
    }
    // Stopped: no consumer in this process any more, so a put is for anyone again (not leased).
    expect(consumer.local).toBeNull();
    await b.tx((t) => consumer.putFromSelectLocal(select, [30, 30], { retries: 3 }, t));
    expect(await rows()).toEqual([{ n: 30, attempts: 0, retries_remaining: 3, leased: null }]);
    await a.query("DELETE FROM queue_item WHERE queue_name = 'handoff'");
  });

  test("handOff judges the lease on this host's clock: a host clock hours ahead of Postgres's still hands items over, and one behind never counts past the row's lease", async () => {
    const queues = new Queues(b);
    const consumer = queues.queue('handoff_skew');
    const handled: Array<{ n: number; attempts: number }> = [];
    const rt = { db: b, queues, metrics: new Metrics(), log: pino({ level: 'silent' }) } as unknown as Runtime;
    const runner = startQueueRunner(rt, [
      {
        queue: 'handoff_skew',
        processingSeconds: 30,
        concurrency: 4,
        pollMs: 600_000,
        handOff: true,
        handle: async (item: QueueItem) => void handled.push({ n: item.body.n as number, attempts: item.attempts }),
      },
    ]);
    const select = "SELECT 'ns/repo' AS path, jsonb_build_object('n', i) AS body FROM generate_series($1::int, $2::int) AS i";
    const realNow = Date.now.bind(Date);
    let skewMs = 0;
    Date.now = () => realNow() + skewMs;
    try {
      for (let i = 0; i < 100 && consumer.local === null; i++) await sleep(50);
      // Ahead by two hours: judged on Postgres's clock the lease would look long gone and the items would wait
      // for it to lapse (then be leased again, a second attempt).
      skewMs = 2 * 3600_000;
      const ahead = await b.tx((t) => consumer.putFromSelectLocal(select, [0, 1], { retries: 3 }, t));
      ahead.afterCommit();
      for (let i = 0; i < 100 && handled.length < 2; i++) await sleep(50);
      expect(handled.sort((x, y) => x.n - y.n)).toEqual([0, 1].map((n) => ({ n, attempts: 1 })));
      // Behind by two hours: the lease end this process goes by is never later than the row's.
      skewMs = -2 * 3600_000;
      let seen: QueueItem[] = [];
      const local = consumer.local!;
      consumer.local = { leaseSeconds: local.leaseSeconds, hasRoom: () => true, accept: (items) => void (seen = items) };
      const behind = await b.tx((t) => consumer.putFromSelectLocal(select, [5, 5], { retries: 3 }, t));
      behind.afterCommit();
      consumer.local = local;
      const row = await b.query<{ left_ms: number }>(
        "SELECT (extract(epoch FROM processing_expires - clock_timestamp()) * 1000)::float8 AS left_ms FROM queue_item WHERE queue_name = 'handoff_skew' AND body->>'n' = '5'",
      );
      expect(seen).toHaveLength(1);
      expect(seen[0].processing_expires.getTime() - Date.now()).toBeLessThanOrEqual(row.rows[0].left_ms);
    } finally {
      Date.now = realNow;
      await runner.stop();
      await a.query("DELETE FROM queue_item WHERE queue_name = 'handoff_skew'");
    }
  });
});

describe('work queue on PGlite', () => {
  let dir: string;
  let db: Db;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'queue-pglite-'));
    db = await openEmbedded(dir);
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('put, lease, lapse, lease again, complete', async () => {
    const q = new Queues(db).queue('lite');
    await db.tx((t) => q.put(['a'], { v: 1 }, { retries: 2 }, t));
    const [one] = await q.lease(1);
    expect(one.body).toEqual({ v: 1 });
    expect(await q.lease(1)).toEqual([]);
    await sleep(1200);
    const [two] = await q.lease(30);
    expect(two.attempts).toBe(2);
    expect(await q.complete(one)).toBe(false);
    expect(await q.complete(two)).toBe(true);
  });

  test('NOTIFY from a put reaches a listener at commit', async () => {
    const got: string[] = [];
    const unlisten = await db.listen('queue_item_put', (p) => got.push(p));
    await db.tx((t) => new Queues(db).queue('lite_notify').put([], { v: 1 }, {}, t));
    for (let i = 0; i < 20 && got.length === 0; i++) await sleep(50);
    await unlisten();
    expect(got).toContain('lite_notify');
  });
});
