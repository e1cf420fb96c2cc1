/**
 * Keeps in-process caches of database rows coherent across worker processes and replicas, without a query
 * per request: triggers (migration 080) NOTIFY `quay_cache` when a namespace, repository (every tag change
 * bumps its tag_version) or manifest's visibility changes, and every process LISTENs.
 *
 * Bounded staleness when the notification connection fails: each process NOTIFYs a heartbeat of its own every
 * HEARTBEAT_MS. Notifications reach a listener in commit order, so once a heartbeat sent at T is back, every
 * change committed before T has been seen. Caches are trusted only while the newest heartbeat back was sent
 * less than STALENESS_MS ago; otherwise every lookup goes to the database. A heartbeat missed in between
 * (a dropped connection loses notifications) empties every cache before it is trusted again.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';

export const CACHE_CHANNEL = 'quay_cache';
export const HEARTBEAT_MS = 1000;
export const STALENESS_MS = 3000;
/** The longest a write waits for its fence (see `fence`) when notifications are slow or down. */
export const FENCE_TIMEOUT_MS = 2000;

/** A change to react to: `r` repository (by `namespace/name`), `n` namespace (by name), `m` manifest (`repoId:digest`). */
export interface CacheChange {
  kind: 'r' | 'n' | 'm';
  key: string;
}

export interface Coherent {
  /** Drop entries for a change (from a notification or a local write). */
  invalidate(change: CacheChange): void;
  clear(): void;
}

export class CacheCoherence {
  private readonly instance = randomUUID();
  private readonly caches: Coherent[] = [];
  private seq = 0;
  private lastSeq = -1;
  private confirmedSentAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  /** Bumped by every change; a fill that started before a change to its key is not kept (see Fill). */
  private gen = 0;
  private readonly changedAt = new Map<string, number>();
  /** Fills that started before this generation are refused (the per-key log was cut or the caches emptied). */
  private floor = 0;
  invalidations = 0;
  resets = 0;
  private fenceSeq = 0;
  /** Fences sent and not yet complete, by id; `acked(peer)` records one process's acknowledgement. */
  private readonly fences = new Map<number, (peer: string) => void>();
  /** Other processes (by instance id) and when their last heartbeat arrived. */
  private readonly peers = new Map<string, number>();
  /** The fence not sent yet, which callers join; `fenceChain` ends when the fence in flight does. */
  private joinableFence: Promise<void> | null = null;
  private fenceChain: Promise<void> = Promise.resolve();
  /** Fences of other processes to acknowledge, highest id per origin, sent together at the end of the tick. */
  private readonly pendingAcks = new Map<string, number>();
  fencesSent = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: { heartbeatMs?: number; stalenessMs?: number; fenceTimeoutMs?: number } = {},
  ) {}

  register(cache: Coherent): void {
    this.caches.push(cache);
  }

  async start(): Promise<this> {
    // Whatever was committed while no connection listened is unknown: every (re)connection empties the caches.
    this.unlisten = await this.db.listen(
      CACHE_CHANNEL,
      (payload) => this.onNotify(payload),
      () => this.reset(),
    );
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.opts.heartbeatMs ?? HEARTBEAT_MS).unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.unlisten?.();
    this.unlisten = null;
  }

  /** Whether cached rows may be served now (the notification path has been confirmed recently). */
  trusted(now = Date.now()): boolean {
    return now - this.confirmedSentAt < (this.opts.stalenessMs ?? STALENESS_MS);
  }

  /** The generation a fill starts at: pass it to `mayKeep` when the database answered. */
  get generation(): number {
    return this.gen;
  }

  /** May a value read from the database since `startGen` be cached, given what it depends on? */
  mayKeep(dependsOn: CacheChange, startGen: number): boolean {
    if (startGen < this.floor || !this.trusted()) return false;
    const changed = this.changedAt.get(changeKey(dependsOn));
    return changed === undefined || changed <= startGen;
  }

  /**
   * A change this process made and committed: applied here at once, and the caller answers its client only
   * after the fence, so that the client's next read finds the change applied in every process. Without live
   * peers there is nobody to wait for: the local apply is the whole fence.
   */
  async changed(change: CacheChange): Promise<void> {
    this.apply(change);
    if (this.livePeers().size > 0) await this.fence();
  }

  /**
   * Resolves when every live process (those whose heartbeat arrived within STALENESS_MS) has acknowledged a
   * NOTIFY sent after the call, or after FENCE_TIMEOUT_MS. Notifications reach each listener in commit order,
   * so a process acknowledging the fence has applied every change committed before it.
   *
   * Cost (the manifest PUT's measured overhead): one fence is in flight per process at a time, and every
   * caller arriving meanwhile joins the next one, sent when it ends (a group commit: the next fence's NOTIFY
   * is sent after each joiner's commit, which is all a joiner needs); peers acknowledge the highest fence per
   * origin once per tick. Under concurrent writes a NOTIFY and its acknowledgements serve many requests.
   */
  fence(): Promise<void> {
    if (this.joinableFence) return this.joinableFence;
    const p = this.fenceChain
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        if (this.joinableFence === p) this.joinableFence = null;
        return this.sendFence();
      });
    this.joinableFence = p;
    this.fenceChain = p;
    return p;
  }

  /** Other processes a fence waits for now. */
  get peerCount(): number {
    return this.livePeers().size;
  }

  private livePeers(now = Date.now()): Set<string> {
    const staleness = this.opts.stalenessMs ?? STALENESS_MS;
    return new Set([...this.peers].filter(([, seen]) => now - seen < staleness).map(([peer]) => peer));
  }

  private sendFence(): Promise<void> {
    const id = this.fenceSeq++;
    const waitFor = this.livePeers();
    waitFor.add(this.instance);
    this.fencesSent++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), this.opts.fenceTimeoutMs ?? FENCE_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        this.fences.delete(id);
        resolve();
      };
      this.fences.set(id, (peer) => {
        waitFor.delete(peer);
        if (waitFor.size === 0) done();
      });
      this.notify(`f:${this.instance}:${id}`).catch(() => done());
    });
  }

  /** A process saw this process's fences up to `upTo` (so every earlier one too: notifications are ordered). */
  private acked(peer: string, upTo: number): void {
    for (const [id, ack] of this.fences) if (id <= upTo) ack(peer);
  }

  private queueAck(origin: string, id: number): void {
    if (this.pendingAcks.size === 0) setImmediate(() => this.flushAcks());
    this.pendingAcks.set(origin, Math.max(id, this.pendingAcks.get(origin) ?? -1));
  }

  private flushAcks(): void {
    if (this.pendingAcks.size === 0) return;
    const acks = [...this.pendingAcks].map(([origin, id]) => `${origin}=${id}`).join(',');
    this.pendingAcks.clear();
    this.notify(`a:${this.instance}:${acks}`).catch(() => undefined);
  }

  private notify(payload: string): Promise<unknown> {
    return this.db.query('SELECT pg_notify($1, $2)', [CACHE_CHANNEL, payload]);
  }

  private apply(change: CacheChange): void {
    this.gen++;
    this.invalidations++;
    // The per-key log only needs to cover fills in flight; when it grows, refuse every older fill instead.
    if (this.changedAt.size >= 4096) {
      this.changedAt.clear();
      this.floor = this.gen;
    }
    this.changedAt.set(changeKey(change), this.gen);
    for (const c of this.caches) c.invalidate(change);
  }

  private reset(): void {
    this.gen++;
    this.floor = this.gen;
    this.changedAt.clear();
    this.resets++;
    for (const c of this.caches) c.clear();
  }

  /** Peers silent for longer than the staleness bound have stopped (or cannot listen): fences stop waiting for them. */
  private forgetPeers(): void {
    const now = Date.now();
    for (const [peer, seen] of this.peers) if (now - seen >= (this.opts.stalenessMs ?? STALENESS_MS)) this.peers.delete(peer);
  }

  private async beat(): Promise<void> {
    this.forgetPeers();
    const seq = this.seq++;
    try {
      await this.notify(`h:${this.instance}:${seq}:${Date.now()}`);
    } catch {
      // The database is unreachable: the caches stop being trusted once STALENESS_MS passes without a heartbeat.
    }
  }

  private onNotify(payload: string): void {
    const kind = payload[0];
    if (kind === 'f') {
      // f:<origin>:<id> a fence; the other processes acknowledge it (queueAck)
      const [, origin, id] = payload.split(':');
      if (origin === this.instance) this.acked(this.instance, Number(id));
      else this.queueAck(origin, Number(id));
      return;
    }
    if (kind === 'a') {
      // a:<acknowledging process>:<origin>=<highest fence id>,...
      const [, peer, list] = payload.split(':');
      for (const entry of list.split(',')) {
        const [origin, id] = entry.split('=');
        if (origin === this.instance) this.acked(peer, Number(id));
      }
      return;
    }
    if (kind === 'h') {
      const [, instance, seq, sentAt] = payload.split(':');
      if (instance !== this.instance) {
        this.peers.set(instance, Date.now());
        return;
      }
      const wasTrusted = this.trusted();
      if (Number(seq) !== this.lastSeq + 1 || !wasTrusted) this.reset();
      this.lastSeq = Number(seq);
      this.confirmedSentAt = Number(sentAt);
      return;
    }
    if (kind === 'r' || kind === 'n' || kind === 'm') this.apply({ kind, key: payload.slice(2) });
  }
}

/** Key under which `mayKeep` tracks changes of a repository, namespace or manifest. */
export function changeKey(change: CacheChange): string {
  return `${change.kind}:${change.key}`;
}
