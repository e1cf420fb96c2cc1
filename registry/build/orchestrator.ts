/**
 * The build orchestrator (Quay's buildman/orchestrator.py): job state shared by every build manager, in Redis
 * (BUILD_MANAGER's ORCHESTRATOR) or, for one process (the embedded default, tests), in memory.
 *
 * Keys (P = ORCHESTRATOR_PREFIX normalised to end in '/'):
 *   P building/<uuid>            the job (JSON); its logical TTL is the companion key `<key>/expiring`,
 *                                the real key keeps TTL + 1 day as a safety net
 *   P building/<uuid>/expiring   "" with the real TTL; its keyspace *expired* event is the expiry signal
 *   P building/<uuid>/expired    copy of the job written when it expired (for cleanup)
 *   P lock/<uuid>                cleanup mutex (set if absent)
 *   P metric/<uuid>              {executor_name, start_time}
 *   P cancel/<uuid>              written by the API to cancel a running build (TTL 60 s)
 *   channel P orchestrator_events   {"event": 1 CREATE | 2 SET | 3 DELETE | 4 EXPIRE, key, value}
 * Unlike Quay, the cancel key carries the prefix too, so cancellation also works with a prefix.
 */
import type { Redis, RedisOptions } from 'ioredis';

export const enum OrchestratorEvent {
  CREATE = 1,
  SET = 2,
  DELETE = 3,
  EXPIRE = 4,
}

export type KeyCallback = (event: OrchestratorEvent, key: string, value: string) => void;

const SAFETY_TTL_S = 24 * 3600;
const EXPIRING = '/expiring';

export interface Orchestrator {
  /** The normalised key prefix ('' or ending in '/'). */
  readonly prefix: string;
  /** Create `key` unless it exists; false when it did. */
  setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean>;
  /** Write `key` with a (new) logical TTL; overwrite=false only updates an existing key (false when absent). */
  set(key: string, value: string, ttlS: number, opts?: { overwrite?: boolean }): Promise<boolean>;
  get(key: string): Promise<string | null>;
  delete(key: string): Promise<void>;
  /** A mutex: true when this caller took it. */
  lock(key: string, ttlS: number): Promise<boolean>;
  /** Call `cb` for events on keys under `keyPrefix` (already prefixed). EXPIRE is delivered to one subscriber. */
  watch(keyPrefix: string, cb: KeyCallback): void;
  close(): Promise<void>;
}

export function normalizePrefix(p: string | undefined): string {
  if (!p) return '';
  return p.endsWith('/') ? p : `${p}/`;
}

export interface RedisOrchestratorConfig {
  host: string;
  port?: number;
  password?: string | null;
  db?: number;
  ssl?: boolean;
  /** Skip CONFIG SET notify-keyspace-events (managed Redis where it is set by hand). */
  skipKeyspaceEventSetup?: boolean;
}

export class RedisOrchestrator implements Orchestrator {
  private readonly client: Redis;
  private sub: Redis | null = null;
  private readonly watchers: Array<{ prefix: string; cb: KeyCallback }> = [];
  private subscribing: Promise<void> | null = null;

  /** ioredis is loaded only when an orchestrator uses it: a registry without Redis does not carry it in memory. */
  static async create(cfg: RedisOrchestratorConfig, prefix: string): Promise<RedisOrchestrator> {
    const { Redis } = await import('ioredis');
    return new RedisOrchestrator(cfg, prefix, Redis);
  }

  private constructor(
    private readonly cfg: RedisOrchestratorConfig,
    readonly prefix: string,
    private readonly RedisClient: new (options: RedisOptions) => Redis,
  ) {
    this.client = this.connect();
  }

  private connect(): Redis {
    const c = new this.RedisClient({
      host: this.cfg.host,
      port: this.cfg.port ?? 6379,
      password: this.cfg.password ?? undefined,
      db: this.cfg.db ?? 0,
      tls: this.cfg.ssl ? {} : undefined,
      maxRetriesPerRequest: 2,
      lazyConnect: true,
    });
    c.on('error', () => undefined);
    return c;
  }

  private get channel(): string {
    return `${this.prefix}orchestrator_events`;
  }

  private async publish(event: OrchestratorEvent, key: string, value: string): Promise<void> {
    await this.client.publish(this.channel, JSON.stringify({ event, key, value }));
  }

  async setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean> {
    const ok = await this.client.set(key, value, 'EX', ttlS + SAFETY_TTL_S, 'NX');
    if (ok !== 'OK') return false;
    await this.client.set(key + EXPIRING, '', 'EX', Math.max(1, Math.ceil(ttlS)));
    await this.publish(OrchestratorEvent.CREATE, key, value);
    return true;
  }

  async set(key: string, value: string, ttlS: number, opts: { overwrite?: boolean } = {}): Promise<boolean> {
    const ok = opts.overwrite === false ? await this.client.set(key, value, 'EX', ttlS + SAFETY_TTL_S, 'XX') : await this.client.set(key, value, 'EX', ttlS + SAFETY_TTL_S);
    if (ok !== 'OK') return false;
    await this.client.set(key + EXPIRING, '', 'EX', Math.max(1, Math.ceil(ttlS)));
    await this.publish(OrchestratorEvent.SET, key, value);
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async delete(key: string): Promise<void> {
    const n = await this.client.del(key, key + EXPIRING);
    if (n > 0) await this.publish(OrchestratorEvent.DELETE, key, '');
  }

  async lock(key: string, ttlS: number): Promise<boolean> {
    return (await this.client.set(key, '', 'EX', ttlS, 'NX')) === 'OK';
  }

  watch(keyPrefix: string, cb: KeyCallback): void {
    this.watchers.push({ prefix: keyPrefix, cb });
    this.subscribing ??= this.subscribe();
  }

  /** Resolves once the subscriptions are in place (tests, and managers before they take work). */
  async ready(): Promise<void> {
    await this.subscribing;
  }

  private async subscribe(): Promise<void> {
    const sub = (this.sub = this.connect());
    const db = this.cfg.db ?? 0;
    if (!this.cfg.skipKeyspaceEventSetup) await this.client.config('SET', 'notify-keyspace-events', 'Kx');
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if (message !== 'expired') return;
      const expiring = channel.slice(`__keyspace@${db}__:`.length);
      void this.expired(expiring.slice(0, -EXPIRING.length));
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        const { event, key, value } = JSON.parse(message) as { event: OrchestratorEvent; key: string; value: string };
        if (event === OrchestratorEvent.EXPIRE) return;
        for (const w of this.watchers) if (key.startsWith(w.prefix)) w.cb(event, key, value);
      } catch {
        // not ours
      }
    });
    await sub.psubscribe(`__keyspace@${db}__:${this.prefix}*${EXPIRING}`);
    await sub.subscribe(this.channel);
  }

  /** The logical TTL ran out: exactly one subscriber takes the value (GETDEL) and runs the callbacks. */
  private async expired(key: string): Promise<void> {
    const value = await this.client.getdel(key).catch(() => null);
    if (value === null) return;
    await this.client.set(`${key}/expired`, value, 'EX', SAFETY_TTL_S).catch(() => undefined);
    for (const w of this.watchers) if (key.startsWith(w.prefix)) w.cb(OrchestratorEvent.EXPIRE, key, value);
  }

  async close(): Promise<void> {
    this.sub?.disconnect();
    this.client.disconnect();
  }
}

/** One process only: the same semantics with timers. */
export class MemoryOrchestrator implements Orchestrator {
  private readonly values = new Map<string, { value: string; timer: NodeJS.Timeout }>();
  private readonly locks = new Map<string, number>();
  private readonly watchers: Array<{ prefix: string; cb: KeyCallback }> = [];

  constructor(readonly prefix = '') {}

  private emit(event: OrchestratorEvent, key: string, value: string): void {
    for (const w of this.watchers) if (key.startsWith(w.prefix)) queueMicrotask(() => w.cb(event, key, value));
  }

  private put(key: string, value: string, ttlS: number): void {
    const old = this.values.get(key);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      if (this.values.get(key)?.timer !== timer) return;
      this.values.delete(key);
      this.emit(OrchestratorEvent.EXPIRE, key, value);
    }, ttlS * 1000);
    timer.unref();
    this.values.set(key, { value, timer });
  }

  async setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean> {
    if (this.values.has(key)) return false;
    this.put(key, value, ttlS);
    this.emit(OrchestratorEvent.CREATE, key, value);
    return true;
  }

  async set(key: string, value: string, ttlS: number, opts: { overwrite?: boolean } = {}): Promise<boolean> {
    if (opts.overwrite === false && !this.values.has(key)) return false;
    this.put(key, value, ttlS);
    this.emit(OrchestratorEvent.SET, key, value);
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.values.get(key)?.value ?? null;
  }

  async delete(key: string): Promise<void> {
    // A lock is released by deleting its key, as in Redis.
    this.locks.delete(key);
    const old = this.values.get(key);
    if (!old) return;
    clearTimeout(old.timer);
    this.values.delete(key);
    this.emit(OrchestratorEvent.DELETE, key, '');
  }

  async lock(key: string, ttlS: number): Promise<boolean> {
    const until = this.locks.get(key);
    if (until !== undefined && until > Date.now()) return false;
    this.locks.set(key, Date.now() + ttlS * 1000);
    return true;
  }

  watch(keyPrefix: string, cb: KeyCallback): void {
    this.watchers.push({ prefix: keyPrefix, cb });
  }

  async close(): Promise<void> {
    for (const v of this.values.values()) clearTimeout(v.timer);
    this.values.clear();
  }
}
