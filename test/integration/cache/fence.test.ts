/**
 * The caches' write fence (registry/cache/coherence.ts) on a real Postgres, with CacheCoherence instances on
 * pools of their own (as worker processes or replicas) and a raw LISTEN connection playing a peer whose
 * acknowledgements the test controls: a fence ends only once every live peer has applied what was committed
 * before it; callers arriving while a fence is in flight share the next one (group commit); a peer
 * acknowledges several fences with one NOTIFY; a write with no live peer sends none; a stuck peer delays a
 * fence only up to its timeout.
 */
import pg from 'pg';
import { openPostgres, type Db } from '../../../registry/db/index.js';
import { CACHE_CHANNEL, CacheCoherence, type CacheChange } from '../../../registry/cache/coherence.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

let uri: string;
const dbs: Db[] = [];
const started: CacheCoherence[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  uri = await createTestDatabase('fence');
});

afterEach(async () => {
  for (const c of started.splice(0)) await c.stop();
  for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  for (const d of dbs.splice(0)) await d.close();
});

afterAll(async () => {
  await dropTestDatabase(uri);
});

/** A process's coherence with a recorder of what it applied. */
async function process_(opts: ConstructorParameters<typeof CacheCoherence>[1] = {}) {
  const db = await openPostgres(uri, { max: 3 });
  dbs.push(db);
  const applied: CacheChange[] = [];
  const c = new CacheCoherence(db, { stalenessMs: 60_000, ...opts });
  c.register({ invalidate: (ch) => applied.push(ch), clear: () => undefined });
  started.push(await c.start());
  return { c, applied };
}

/** A raw connection on the channel: what every process NOTIFYs, and a way to NOTIFY as a peer. */
async function rawPeer(name: string) {
  const client = new pg.Client({ connectionString: uri });
  clients.push(client);
  await client.connect();
  const seen: string[] = [];
  const waiters: Array<() => void> = [];
  client.on('notification', (m) => {
    seen.push(m.payload ?? '');
    for (const w of waiters.splice(0)) w();
  });
  await client.query(`LISTEN ${CACHE_CHANNEL}`);
  const notify = (payload: string) => client.query('SELECT pg_notify($1, $2)', [CACHE_CHANNEL, payload]);
  return {
    seen,
    notify,
    notifyAll: (payloads: string[]) => client.query(`SELECT ${payloads.map((_, i) => `pg_notify($1, $${i + 2})`).join(', ')}`, [CACHE_CHANNEL, ...payloads]),
    /** Announce this peer (a heartbeat), so that fences wait for it. */
    beat: () => notify(`h:${name}:0:${Date.now()}`),
    async waitFor(pred: (p: string) => boolean): Promise<string> {
      for (;;) {
        const hit = seen.find(pred);
        if (hit !== undefined) return hit;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

test('a fence ends only when the other process has applied every change committed before it', async () => {
  const a = await process_();
  const b = await process_();
  await until(() => a.c.peerCount === 1 && b.c.peerCount === 1);
  const writer = await rawPeer('writer');
  for (let i = 0; i < 20; i++) {
    // A change committed by someone (the trigger's NOTIFY), then the fence: B has it when the fence ends.
    await writer.notify(`r:ns/repo${i}`);
    await a.c.fence();
    expect(b.applied.some((ch) => ch.kind === 'r' && ch.key === `ns/repo${i}`)).toBe(true);
  }
});

test('callers arriving while a fence is in flight share the next one; a peer acknowledges the highest fence', async () => {
  const a = await process_();
  const peer = await rawPeer('slowpeer');
  await peer.beat();
  await until(() => a.c.peerCount === 1);

  let firstDone = false;
  const first = a.c.fence().then(() => (firstDone = true));
  const f0 = await peer.waitFor((p) => p.startsWith('f:'));
  const [, origin, id0] = f0.split(':');
  // While the first fence waits for this peer, ten more writers (in separate ticks) ask for a fence.
  const later: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    later.push(a.c.fence());
    await new Promise((r) => setImmediate(r));
  }
  expect(a.c.fencesSent).toBe(1);
  expect(firstDone).toBe(false);
  await peer.notify(`a:slowpeer:${origin}=${id0}`);
  await first;
  // The ten share one fence, sent only now (after each of their commits); acknowledged, it ends all ten.
  const f1 = await peer.waitFor((p) => p.startsWith('f:') && p !== f0);
  expect(a.c.fencesSent).toBe(2);
  await peer.notify(`a:slowpeer:${origin}=${f1.split(':')[2]}`);
  await Promise.all(later);
  expect(peer.seen.filter((p) => p.startsWith('f:'))).toHaveLength(2);

  // A (real) process acknowledges fences of another origin, sent in one transaction, up to the highest.
  await process_();
  await peer.notifyAll(['f:burst:5', 'f:burst:6', 'f:burst:7']);
  const ack = await peer.waitFor((p) => p.startsWith('a:') && /burst=7(,|$)/.test(p));
  expect(ack.split(':')[1]).not.toBe('slowpeer');
});

test('a write with no live peer sends no NOTIFY; with one, its fence waits for it, and a stuck peer only up to the timeout', async () => {
  const a = await process_({ fenceTimeoutMs: 500 });
  const watcher = await rawPeer('watcher');
  await a.c.changed({ kind: 'r', key: 'ns/alone' });
  expect(a.applied).toContainEqual({ kind: 'r', key: 'ns/alone' });
  expect(a.c.fencesSent).toBe(0);

  // A peer that never acknowledges: the fence is sent, and ends by its timeout.
  await watcher.beat();
  await until(() => a.c.peerCount === 1);
  await a.c.changed({ kind: 'r', key: 'ns/stuck' });
  expect(a.c.fencesSent).toBe(1);
  expect(watcher.seen.some((p) => p.startsWith('f:'))).toBe(true);
});
