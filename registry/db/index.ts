/** Postgres access: one interface over `pg` (a real server) and PGlite (the embedded default). */
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { QuayConfig } from '../../config/index.js';
import { Unavailable } from '../model/errors.js';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Name of a prepared statement for a hot query: Postgres then plans it once per connection instead of on every
   * call. Only for statements whose result columns are listed explicitly (or are one JSON value), so that a
   * migration adding columns cannot change a cached plan's result type.
   */
  prepare?: string;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A transaction's connection. */
export interface TxQueryable extends Queryable {
  /**
   * Run `sql` (no parameters) as the transaction's last statement, sent with its COMMIT in one round trip: a row
   * lock it takes is then held for no client round trip. When it fails, the transaction rolls back and `tx` throws.
   */
  commitWith(sql: string): void;
}

export interface TxOptions {
  /**
   * Plan the transaction's prepared statements once per connection (`plan_cache_mode = force_generic_plan`, local
   * to the transaction), for hot statements whose custom plan costs more to make than to run and whose generic
   * plan is as good (a data-modifying CTE over a parameter array: Postgres estimates its generic plan dearer and
   * plans it again on every call).
   */
  genericPlans?: boolean;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Run `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  tx<T>(fn: (q: TxQueryable) => Promise<T>, opts?: TxOptions): Promise<T>;
  /**
   * Call `onNotify` for each NOTIFY on `channel` (delivered at the notifier's commit), on a connection of its
   * own that reconnects after errors; `onListening` runs each time the LISTEN is (re)established (what was
   * committed in between was not delivered). Returns the unsubscribe.
   */
  listen(channel: string, onNotify: (payload: string) => void, onListening?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// BIGINT columns hold sizes and ids far below 2^53; numbers are easier to use than strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

/** Errors of a connection that is gone or refused (the server down or restarting), as opposed to a failing statement. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /Connection terminated|connection (is )?closed|Client has encountered a connection error/i.test(e.message ?? '');
}

/** The database being unreachable is the domain's Unavailable (503 in every protocol); other errors pass as they are. */
function unavailableOr(err: unknown): unknown {
  return isConnectionError(err) ? new Unavailable('database', 'The database is unavailable; try again shortly') : err;
}

/** The application name (in pg_stat_activity) of the connection that `listen(channel)` keeps open. */
export function listenerName(channel: string): string {
  return `quay-listen:${channel}`;
}

class PgDb implements Db {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly pool: pg.Pool,
    private readonly uri: string,
  ) {}

  async query<T>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>> {
    try {
      const r = await this.pool.query({ text: sql, values: params as unknown[], name: opts?.prepare });
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw unavailableOr(err);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw unavailableOr(err);
    }
  }

  async tx<T>(fn: (q: TxQueryable) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailableOr(err);
    }
    let broken = false;
    // pg-pool drops its error listener from a checked-out client. A connection lost while `fn` awaits something
    // other than a query (storage, a cache fence) is then emitted as 'error' with no listener, which kills the
    // process; here it only marks the client broken, and the transaction's next statement fails as Unavailable.
    const onLost = () => {
      broken = true;
    };
    client.on('error', onLost);
    let last: string | undefined;
    const q: TxQueryable = {
      query: async <R>(sql: string, params?: unknown[], qopts?: QueryOptions) => {
        const r = await client.query({ text: sql, values: params as unknown[], name: qopts?.prepare });
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      },
      exec: async (sql: string) => {
        await client.query(sql);
      },
      commitWith: (sql: string) => {
        last = sql;
      },
    };
    try {
      // One simple query each: statements after a failing one in it are not run (a failed last statement skips the COMMIT).
      await client.query(opts.genericPlans ? 'BEGIN; SET LOCAL plan_cache_mode = force_generic_plan' : 'BEGIN');
      const result = await fn(q);
      await client.query(last === undefined ? 'COMMIT' : `${last}; COMMIT`);
      return result;
    } catch (err) {
      // A connection lost mid-transaction is not given back to the pool; the next one is fresh.
      broken ||= isConnectionError(err);
      if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      throw unavailableOr(err);
    } finally {
      client.removeListener('error', onLost);
      client.release(broken);
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void, onListening?: () => void): Promise<() => Promise<void>> {
    let client: pg.Client | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | null = null;
    const connect = async (): Promise<void> => {
      // Named, so that an operator (and a test) can tell the listening connections apart in pg_stat_activity.
      const url = new URL(this.uri);
      url.searchParams.set('application_name', listenerName(channel));
      const c = new pg.Client({ connectionString: url.toString() });
      c.on('notification', (m) => {
        if (m.channel === channel) onNotify(m.payload ?? '');
      });
      c.on('error', () => {
        if (client !== c) return;
        client = null;
        void c.end().catch(() => undefined);
        if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1000).unref();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        await c.end().catch(() => undefined);
        if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1000).unref();
        throw err;
      }
      if (stopped) await c.end().catch(() => undefined);
      else {
        client = c;
        onListening?.();
      }
    };
    await connect();
    return async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = null;
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  constructor(private readonly lite: PGlite) {}

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.lite.query<T>(sql, params);
    return { rows: normalizeRows(r.rows), rowCount: r.affectedRows || r.rows.length };
  }

  async exec(sql: string): Promise<void> {
    await this.lite.exec(sql);
  }

  // Plans are not kept across PGlite's statements: `genericPlans` has nothing to save here.
  async tx<T>(fn: (q: TxQueryable) => Promise<T>): Promise<T> {
    return this.lite.transaction(async (t) => {
      let last: string | undefined;
      const result = await fn({
        query: async <R>(sql: string, params?: unknown[]) => {
          const r = await t.query<R>(sql, params);
          return { rows: normalizeRows(r.rows), rowCount: r.affectedRows || r.rows.length };
        },
        exec: async (sql: string) => {
          await t.exec(sql);
        },
        commitWith: (sql: string) => {
          last = sql;
        },
      });
      // In process: no round trip to save.
      if (last !== undefined) await t.exec(last);
      return result;
    });
  }

  async listen(channel: string, onNotify: (payload: string) => void, onListening?: () => void): Promise<() => Promise<void>> {
    const unlisten = await this.lite.listen(channel, onNotify);
    onListening?.();
    return unlisten;
  }

  async close(): Promise<void> {
    await this.lite.close();
  }
}

/** PGlite returns BYTEA as Uint8Array; `pg` returns Buffer. Callers get Buffers from both. */
function normalizeRows<T>(rows: T[]): T[] {
  for (const row of rows as Record<string, unknown>[]) {
    for (const [k, v] of Object.entries(row)) {
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return rows;
}

/** DB_CONNECTION_ARGS as the config schema admits them. */
export type ConnectionArgs = NonNullable<QuayConfig['DB_CONNECTION_ARGS']>;

/**
 * The pool's settings from DB_URI and DB_CONNECTION_ARGS. The libpq keywords join the URI's own (they win,
 * as psycopg2's keyword arguments do over its DSN) and are read with libpq's meaning of each sslmode.
 */
export function poolConfig(uri: string, args: ConnectionArgs = {}): pg.PoolConfig {
  const url = new URL(uri);
  for (const key of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'application_name'] as const) {
    const v = args[key];
    if (v !== undefined) url.searchParams.set(key, v);
  }
  if (url.searchParams.has('sslmode')) url.searchParams.set('uselibpqcompat', 'true');
  return {
    connectionString: url.toString(),
    max: args.max_connections ?? 20,
    ...(args.stale_timeout !== undefined && { idleTimeoutMillis: args.stale_timeout * 1000 }),
    ...(args.connect_timeout !== undefined && { connectionTimeoutMillis: args.connect_timeout * 1000 }),
  };
}

export async function openPostgres(uri: string, options: { max?: number; args?: ConnectionArgs } = {}): Promise<Db> {
  const config = poolConfig(uri, options.args);
  const pool = new pg.Pool({ ...config, max: options.max ?? config.max });
  // A broken idle connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const db = new PgDb(pool, config.connectionString!);
  await db.query('SELECT 1');
  return db;
}

/**
 * PGlite's Postgres runs inside this process's WebAssembly memory, which grows and is never given back: its
 * server defaults (128 MB shared buffers, 64 MB maintenance work memory) size for a machine of its own.
 * A developer's registry needs far less; measured on an initialised data directory: RSS at open 297 → 182 MB,
 * after inserting 10 000 rows 352 → 203 MB. Shared buffers 16 → 8 MB: the registry benchmark's peaks 5-6 MB
 * lower, its manifest PUT CPU unchanged (the data files stay in the OS page cache).
 */
export const EMBEDDED_POSTGRES_SETTINGS = ['shared_buffers = 8MB', 'wal_buffers = 1MB', 'work_mem = 2MB', 'maintenance_work_mem = 8MB', 'temp_buffers = 2MB'];

/**
 * V8 flags for the embedded database, set before PGlite's WebAssembly is compiled. `--liftoff-only` keeps
 * Postgres on V8's baseline WebAssembly compiler: tiering its hot functions up to TurboFan held 50-85 MB more
 * resident memory (optimised code, the compiler's retained memory) and cost CPU while compiling, for no
 * measurable change in query CPU once warm (a transaction-per-row workload of 4500 transactions: 1.9-2.4 s
 * either way; the serving process's idle RSS 235-250 → 187 MB).
 */
const EMBEDDED_V8_FLAGS = ['--liftoff-only'];

const INITDB_SCRIPT = fileURLToPath(new URL('./embedded_initdb.js', import.meta.url));

/**
 * Opens (creating on first use) the embedded database in `dataDir`. A new database is made by initdb in a
 * child process (see embedded_initdb.ts) in a directory beside `dataDir`, renamed into place once complete:
 * a start interrupted during initdb leaves no half-made database behind.
 */
export async function openEmbedded(dataDir: string): Promise<Db> {
  for (const flag of EMBEDDED_V8_FLAGS) setFlagsFromString(flag);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initEmbedded(dataDir);
  // Loaded only in embedded mode: a server on Postgres does not carry PGlite's code in memory.
  const { PGlite } = await import('@electric-sql/pglite');
  const lite = await PGlite.create(dataDir, { postgresqlconf: EMBEDDED_POSTGRES_SETTINGS });
  return new PgliteDb(lite);
}

async function initEmbedded(dataDir: string): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} holds files but no database (no PG_VERSION): move it away or empty it, and start again`);
  }
  const staging = `${dataDir}.initdb`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(dataDir), { recursive: true });
  try {
    const child = spawn(process.execPath, [...EMBEDDED_V8_FLAGS, INITDB_SCRIPT, staging], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    if (code !== 0 || !existsSync(join(staging, 'PG_VERSION'))) {
      throw new Error(`creating the embedded database in ${dataDir} failed (initdb exited with ${signal ?? code}): ${stderr.trim()}`);
    }
    // rename(2) replaces an empty directory (one made by hand or by an earlier start's mkdir).
    renameSync(staging, dataDir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The database a config names: Postgres at DB_URI, or the embedded one under the data directory. */
export function openDatabase(config: QuayConfig, dataDir: string): Promise<Db> {
  return config.DB_URI ? openPostgres(config.DB_URI, { args: config.DB_CONNECTION_ARGS }) : openEmbedded(join(dataDir, 'db'));
}
