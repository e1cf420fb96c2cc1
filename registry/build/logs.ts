/**
 * Build logs while a build runs: Quay's Redis list `builds/<uuid>/logs` in BUILDLOGS_REDIS (RPUSH of JSON
 * entries, 7 days TTL renewed at every append, LRANGE start..-1 for paging). Without Redis (the embedded
 * default, one process) the same lists live in memory. After the build, the logs are archived to blob storage
 * (model/builds.ts) and the list is deleted.
 */
import type { Redis } from 'ioredis';
import { Unavailable } from '../model/errors.js';

/** One entry: `{message, type?: 'phase'|'command'|'error', data?: {datetime, ...}}`. */
export interface BuildLogEntry {
  message: string;
  type?: 'phase' | 'command' | 'error';
  data?: Record<string, unknown>;
}

export interface BuildLogStore {
  append(uuid: string, entries: BuildLogEntry[]): Promise<void>;
  /** Entries from `start` (0-based) to the end, and the list length. */
  read(uuid: string, start: number, count?: number): Promise<{ total: number; logs: BuildLogEntry[] }>;
  delete(uuid: string): Promise<void>;
}

const LOG_TTL_S = 7 * 24 * 3600;
const logsKey = (uuid: string) => `builds/${uuid}/logs`;

/**
 * Redis unreachable (refused, cut, ioredis giving up on a command) is the domain's Unavailable (503 in every
 * protocol); a reply error from a working server (a bug) passes as it is.
 */
async function redisOrUnavailable<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if ((err as Error).name === 'ReplyError') throw err;
    throw new Unavailable('redis', 'The build log store (Redis) is unavailable; try again shortly');
  }
}

export class RedisBuildLogs implements BuildLogStore {
  constructor(private readonly redis: Redis) {}

  async append(uuid: string, entries: BuildLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await redisOrUnavailable(() =>
      this.redis
        .multi()
        .rpush(logsKey(uuid), ...entries.map((e) => JSON.stringify(e)))
        .expire(logsKey(uuid), LOG_TTL_S)
        .exec(),
    );
  }

  async read(uuid: string, start: number, count?: number): Promise<{ total: number; logs: BuildLogEntry[] }> {
    const stop = count === undefined ? -1 : start + count - 1;
    const res = await redisOrUnavailable(() => this.redis.multi().llen(logsKey(uuid)).lrange(logsKey(uuid), start, stop).exec());
    const total = Number(res?.[0]?.[1] ?? 0);
    const raw = (res?.[1]?.[1] as string[] | undefined) ?? [];
    return { total, logs: raw.map((s) => JSON.parse(s) as BuildLogEntry) };
  }

  async delete(uuid: string): Promise<void> {
    await redisOrUnavailable(() => this.redis.del(logsKey(uuid)));
  }
}

export class MemoryBuildLogs implements BuildLogStore {
  private readonly lists = new Map<string, BuildLogEntry[]>();

  async append(uuid: string, entries: BuildLogEntry[]): Promise<void> {
    let l = this.lists.get(uuid);
    if (!l) this.lists.set(uuid, (l = []));
    l.push(...entries);
  }

  async read(uuid: string, start: number, count?: number): Promise<{ total: number; logs: BuildLogEntry[] }> {
    const l = this.lists.get(uuid) ?? [];
    return { total: l.length, logs: l.slice(start, count === undefined ? undefined : start + count) };
  }

  async delete(uuid: string): Promise<void> {
    this.lists.delete(uuid);
  }
}
