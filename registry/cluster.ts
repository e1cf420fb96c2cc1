/**
 * `serve --workers N`: N HTTP worker processes (node:cluster) sharing the listening ports. The primary only
 * forks, restarts a worker that dies, relays shutdown and aggregates /metrics; worker 0 starts first (it
 * applies migrations and creates the first superuser alone) and is the only one running the background
 * workers (GC, expiry, queue runner, mirror).
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, Gauge, Registry } from 'prom-client';

type metricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
import type { Logger } from 'pino';

/** worker → primary: the whole server's /metrics, please; primary → worker: its answer. */
const METRICS_MESSAGE = 'quay:metrics';
/** primary → worker: your registry's metrics as JSON, please; worker → primary: here. */
const COLLECT_MESSAGE = 'quay:collect';
/** worker → primary → every other worker: a value for one named peer channel (see peerChannel). */
const PEERS_MESSAGE = 'quay:peers';
/** primary → worker (environment at fork): the key the workers of this server share (see peerKey). */
const PEER_KEY_ENV = 'QUAY_PEER_KEY';
/** A worker that exits on its own is started again after this, unless the whole server is stopping. */
const RESTART_DELAY_MS = 1000;

/** This process's worker index (0 runs the background workers); 0 outside a cluster. */
export function workerIndex(): number {
  return cluster.isWorker ? Number(process.env.QUAY_WORKER_INDEX ?? 0) : 0;
}

/**
 * How many HTTP worker processes: `--workers`/`WORKERS`, default the CPUs available. The embedded database
 * (PGlite) lives inside one process, so embedded mode runs one, and refuses more.
 */
export function workerCount(asked: string | undefined, externalDatabase: boolean): { count: number } | { error: string } {
  if (asked !== undefined && !/^[1-9][0-9]*$/.test(asked.trim())) return { error: `--workers/WORKERS must be a positive integer (got "${asked}")` };
  const n = asked === undefined ? (externalDatabase ? availableParallelism() : 1) : Number(asked);
  if (n > 1 && !externalDatabase) return { error: `${n} worker processes need an external database (DB_URI): the embedded database lives in one process` };
  return { count: n };
}

/** Runs the primary: forks `count` workers (this same script), and returns once worker 0 listens. */
export async function runPrimary(count: number, log: Logger, graceMs: number): Promise<void> {
  const own = new Registry();
  new Gauge({
    name: 'quay_primary_resident_memory_bytes',
    help: 'Resident memory of the primary process of `serve --workers`',
    registers: [own],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  /** Workers that listen (and so have their metrics registry): the ones asked at a collection. */
  const listening = new Set<Worker>();
  let collection = 0;
  const pending = new Map<number, { left: number; parts: metricJson[]; done: () => void }>();
  const collect = async (): Promise<string> => {
    const id = collection++;
    const asked = [...listening].filter((w) => w.isConnected());
    const parts: metricJson[] = [];
    await new Promise<void>((done) => {
      const timer = setTimeout(done, 5000);
      pending.set(id, { left: asked.length, parts, done: () => (clearTimeout(timer), done()) });
      if (asked.length === 0) pending.get(id)!.done();
      for (const w of asked) w.send({ type: COLLECT_MESSAGE, id });
    });
    pending.delete(id);
    return `${await AggregatorRegistry.aggregate(parts).metrics()}\n${await own.metrics()}`;
  };
  let stopping = false;
  const byIndex = new Map<number, Worker>();
  const key = randomBytes(32).toString('base64');
  const fork = (index: number): Worker => {
    const w = cluster.fork({ QUAY_WORKER_INDEX: String(index), [PEER_KEY_ENV]: key });
    byIndex.set(index, w);
    w.on('listening', () => listening.add(w));
    w.on('message', (m: { type?: string; id?: number; metrics?: metricJson }) => {
      if (m?.type === PEERS_MESSAGE) {
        for (const other of byIndex.values()) if (other !== w && other.isConnected()) other.send(m);
      } else if (m?.type === COLLECT_MESSAGE) {
        const p = pending.get(m.id!);
        if (!p) return;
        p.parts.push(m.metrics!);
        if (--p.left === 0) p.done();
      } else if (m?.type === METRICS_MESSAGE) {
        collect()
          .then((text) => w.send({ type: METRICS_MESSAGE, id: m.id, text }))
          .catch((err: Error) => w.send({ type: METRICS_MESSAGE, id: m.id, error: err.message }));
      }
    });
    w.on('exit', (code, signal) => {
      listening.delete(w);
      if (byIndex.get(index) === w) byIndex.delete(index);
      if (stopping) return;
      log.error({ worker: index, pid: w.process.pid, code, signal }, 'worker process exited; starting it again');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, RESTART_DELAY_MS);
    });
    return w;
  };
  const first = fork(0);
  await new Promise<void>((ok, fail) => {
    first.once('listening', () => ok());
    first.once('exit', (code) => fail(new Error(`worker 0 exited with code ${code} before listening`)));
  }).catch((err) => {
    stopping = true;
    throw err;
  });
  for (let i = 1; i < count; i++) fork(i);
  log.info({ workers: count, pid: process.pid }, 'worker processes started');

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the worker processes');
    const workers = [...byIndex.values()];
    const force = setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, graceMs + 5000);
    force.unref();
    let failed = false;
    Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((done) => {
            if (w.isDead()) return done();
            // A worker still starting has no handler yet and ends by the signal itself: nothing was in flight.
            w.once('exit', (code, signal) => {
              if (code !== 0 && signal !== 'SIGTERM') failed = true;
              done();
            });
            w.process.kill('SIGTERM');
          }),
      ),
    ).then(() => process.exit(failed ? 1 : 0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** In a worker: answer the primary's collections with `registry`. */
export function shareMetrics(registry: Registry): void {
  if (!cluster.isWorker) return;
  shared = registry;
  if (answering) return;
  answering = true;
  process.on('message', (m: { type?: string; id?: number }) => {
    if (m?.type !== COLLECT_MESSAGE) return;
    void shared!.getMetricsAsJSON().then((metrics) => process.send!({ type: COLLECT_MESSAGE, id: m.id, metrics }));
  });
}

let shared: Registry | null = null;
let answering = false;
let nextRequest = 0;

/** The /metrics text of the whole server: aggregated by the primary in a cluster, this process's otherwise. */
export function serverMetrics(registry: Registry): Promise<string> {
  if (!cluster.isWorker || !process.send) return registry.metrics();
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string; id?: number; text?: string; error?: string }) => {
      if (m?.type !== METRICS_MESSAGE || m.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (m.error !== undefined) reject(new Error(m.error));
      else resolve(m.text ?? '');
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the primary did not answer the metrics request'));
    }, 10_000);
    process.on('message', onMessage);
    process.send!({ type: METRICS_MESSAGE, id });
  });
}

/**
 * A secret shared by the worker processes of this server and by no one else: made by the primary at start,
 * never stored. Read (and removed from the environment, so that child processes do not inherit it) when this
 * module loads; a process outside a cluster has a key of its own.
 */
const sharedKey = Buffer.from((cluster.isWorker && process.env[PEER_KEY_ENV]) || randomBytes(32).toString('base64'), 'base64');
delete process.env[PEER_KEY_ENV];

export function peerKey(): Buffer {
  return sharedKey;
}

/** Sends values to the other worker processes of this server (through the primary); outside a cluster, to no one. */
export interface PeerChannel<T> {
  send(value: T): void;
}

/** The channel `name` between worker processes: `receive` gets what the other workers send on it. */
export function peerChannel<T>(name: string, receive: (value: T) => void): PeerChannel<T> {
  if (!cluster.isWorker || !process.send) return { send: () => undefined };
  process.on('message', (m: { type?: string; channel?: string; value?: T }) => {
    if (m?.type === PEERS_MESSAGE && m.channel === name) receive(m.value as T);
  });
  return {
    send: (value) => {
      // A worker being stopped may have lost its channel already: then the peers simply do not hear of it.
      if (process.connected) process.send!({ type: PEERS_MESSAGE, channel: name, value });
    },
  };
}
