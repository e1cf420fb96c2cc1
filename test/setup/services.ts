/**
 * Real services for tests, each on a free loopback port with its files under this run's directory in
 * `.test-work/`: Postgres, Redis, an S3-compatible server (MinIO) and Distribution (Debian's
 * `docker-registry`, the CNCF registry).
 *
 * Global setup starts one Postgres, one Redis and one S3 server per `npm test` run and publishes them
 * through environment variables (see README "Test bench"); test files then take a fresh database,
 * Redis database or bucket of their own with createTestDatabase(), createTestRedisUrl() and
 * createTestBucket(). A test that needs its own instance (say, to stop it) calls startPostgres() & co.
 */
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import yaml from 'js-yaml';
import { WORK_ROOT, workDir } from './paths.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './procs.js';
import { tool } from './tools.js';

export interface Service {
  readonly host: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** Its directory (data, config, log). Removed by stop() unless QUAY_TS_KEEP_WORK=1. */
  readonly dir: string;
  stop(): Promise<void>;
}

export interface PostgresService extends Service {
  /** Superuser URI of the `postgres` database: postgresql://postgres:postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  /** Outage tests: stop the server (fast shutdown, its connections are cut), keeping its data. */
  halt(): Promise<void>;
  /** Start the halted server again on the same port and data; resolves when it accepts connections. */
  resume(): Promise<void>;
}

export interface RedisService extends Service {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Outage tests: stop the server (its connections are cut; it keeps no data). */
  halt(): Promise<void>;
  /** Start the halted server again on the same port; resolves when it answers PING. */
  resume(): Promise<void>;
}

export interface S3Service extends Service {
  /** http://127.0.0.1:<port> (use path-style addressing: forcePathStyle: true) */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  /** Outage tests: stop the server (its connections are cut), keeping its data. */
  halt(): Promise<void>;
  /** Start the halted server again on the same port and data; resolves when it is ready. */
  resume(): Promise<void>;
}

export interface S3Bucket {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
}

export interface DistributionService extends Service {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** 127.0.0.1:<port>, the registry part of an image reference */
  readonly hostPort: string;
  /** Where it keeps blobs and manifests. */
  readonly storageDir: string;
}

export interface DistributionOptions {
  /** Which build: Debian's `docker-registry` (2.8, the default) or `distribution` (v3, built by install.sh). */
  binary?: 'docker-registry' | 'distribution';
  /** Pull-through cache of another registry (Distribution's `proxy` section). */
  proxy?: { remoteurl: string; username?: string; password?: string };
  /** htpasswd file (bcrypt entries) for Basic auth; clients then need credentials. */
  htpasswdFile?: string;
  /** Deep-merged over the generated configuration (Distribution's config.yml shape). */
  config?: Record<string, unknown>;
}

const keepWork = () => process.env.QUAY_TS_KEEP_WORK === '1';

function makeService<T extends Service>(base: Omit<T, 'stop'>, extraStop?: () => Promise<void>): T {
  return {
    ...base,
    stop: async () => {
      await extraStop?.();
      await base.process.stop();
      if (!keepWork()) rmSync(base.dir, { recursive: true, force: true });
    },
  } as T;
}

type Restartable = Service & { halt(): Promise<void>; resume(): Promise<void> };

/** A service outage tests can halt and resume: the same port and data, a new process each time. */
function restartable<T extends Restartable>(base: Omit<T, 'stop' | 'process' | 'halt' | 'resume'>, first: ManagedProcess, relaunch: () => Promise<ManagedProcess>): T {
  let proc = first;
  return {
    ...base,
    get process() {
      return proc;
    },
    stop: async () => {
      await proc.stop();
      if (!keepWork()) rmSync(base.dir, { recursive: true, force: true });
    },
    halt: () => proc.stop(),
    resume: async () => {
      proc = await relaunch();
    },
  } as T;
}

/** Tries start() on fresh ports up to 3 times (another process may take a port between check and bind). */
async function onFreePort<T>(name: string, start: (port: number) => Promise<T>): Promise<T> {
  let last: Error | undefined;
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (e) {
      last = e as Error;
      if (!/address already in use|EADDRINUSE|bind/i.test(last.message)) throw last;
    }
  }
  throw new Error(`${name}: no free port after 3 tries: ${last?.message}`);
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

// ------------------------------------------------------------------------------------------ Postgres

/** The uid/gid to run postgres as: itself when not root; the `postgres` user when root. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('postgres refuses to run as root and there is no "postgres" user to run it as: ' + 'install the Debian package postgresql (test/setup/install.sh creates it)');
  }
}

/** True if `uid` can reach `dir` (every ancestor searchable by "other", or owned by uid). */
function reachableBy(dir: string, uid: number): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const st = statSync(d);
    if (st.uid !== uid && (st.mode & 0o001) === 0) return false;
    if (d === dirname(d)) return true;
  }
}

const INITDB_ARGS = ['-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'];

/** A data directory made by initdb, cached in .test-work/pg-template/ (keyed by version and arguments). */
function postgresTemplate(initdb: string, asUser: { uid?: number; gid?: number }, env: NodeJS.ProcessEnv): string {
  const version = execFileSync(initdb, ['--version'], { encoding: 'utf8' }).trim();
  const key = createHash('sha256')
    .update(`${initdb}\n${version}\n${INITDB_ARGS.join(' ')}\n${asUser.uid ?? ''}`)
    .digest('hex')
    .slice(0, 16);
  mkdirSync(WORK_ROOT, { recursive: true });
  const base = asUser.uid !== undefined && !reachableBy(WORK_ROOT, asUser.uid) ? join(tmpdir(), 'quay-ts-pg-template') : join(WORK_ROOT, 'pg-template');
  const template = join(base, key);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  mkdirSync(base, { recursive: true });
  const tmp = mkdtempSync(join(base, `${key}.tmp-`));
  if (asUser.uid !== undefined) chownSync(tmp, asUser.uid, asUser.gid!);
  chmodSync(tmp, 0o700);
  try {
    execFileSync(initdb, ['-D', tmp, ...INITDB_ARGS], { ...asUser, env, cwd: tmp, stdio: 'pipe' });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${err.stderr?.toString() || err.message}`, { cause: e });
  }
  try {
    renameSync(tmp, template);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another run made it first
  }
  return template;
}

const pgUrl = (port: number) => `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;

/** Starts a private PostgreSQL server (trust auth on 127.0.0.1, no unix socket, fsync off). */
/** `tls`: a server certificate and key; the server then accepts TLS (ssl=on) besides plaintext. */
export async function startPostgres(opts: { tls?: { cert: string; key: string } } = {}): Promise<PostgresService> {
  const initdb = tool('initdb');
  const postgres = tool('postgres');
  const user = postgresUser();
  let dir = workDir('postgres');
  if (user && !reachableBy(dir, user.uid)) {
    // The working tree is not reachable by the postgres user (e.g. under /root): use the temp dir.
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'quay-ts-postgres-'));
  }
  if (user) chownSync(dir, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  // initdb once per machine and PostgreSQL version (seconds on a busy machine), then copy the
  // template for each server (cp -a keeps the postgres user's ownership and the 0700 mode).
  const data = join(dir, 'data');
  execFileSync('cp', ['-a', postgresTemplate(initdb, asUser, env), data]);
  const tlsArgs: string[] = [];
  if (opts.tls) {
    // Postgres refuses a key file others can read, so it belongs to the server's user with mode 0600.
    for (const [name, pem] of [
      ['server.crt', opts.tls.cert],
      ['server.key', opts.tls.key],
    ]) {
      writeFileSync(join(dir, name), pem, { mode: 0o600 });
      if (user) chownSync(join(dir, name), user.uid, user.gid);
    }
    tlsArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`);
  }
  const launch = async (port: number): Promise<ManagedProcess> => {
    const proc = startProcess({
      name: 'postgres',
      bin: postgres,
      args: [
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=400',
        '-c',
        'shared_buffers=128MB',
        '-c',
        'log_min_messages=warning',
        ...tlsArgs,
      ],
      env,
      cwd: dir,
      ...asUser,
      logFile: join(dir, 'postgres.log'),
      stopSignal: 'SIGINT',
    });
    await waitUntil(proc, `accepting connections on 127.0.0.1:${port}`, async () => {
      const c = new pg.Client({ connectionString: pgUrl(port) });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end().catch(() => undefined);
      }
    });
    return proc;
  };
  return onFreePort('postgres', async (port) => {
    const proc = await launch(port);
    return restartable<PostgresService>({ host: '127.0.0.1', port, url: pgUrl(port), dir }, proc, () => launch(port));
  });
}

function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: the test bench's global setup (test/setup/global-setup.ts) did not run; ` + 'run tests through `npm test` (or `npm test -- <file>`)');
  }
  return v;
}

/**
 * Creates a fresh, empty database on the run's Postgres (TEST_PG_URL, or `adminUrl`) and returns its
 * postgresql:// URI. Name: t_<label>_<random>.
 */
export async function createTestDatabase(label = 'test', adminUrl = requireEnv('TEST_PG_URL')): Promise<string> {
  const name = `t_${label
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops a database made by createTestDatabase (ends its open connections first). */
export async function dropTestDatabase(url: string, adminUrl = requireEnv('TEST_PG_URL')): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

// --------------------------------------------------------------------------------------------- Redis

/** Minimal RESP round trip on a fresh connection (readiness and database allocation). */
function redisCommand(port: number, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(5000, () => s.destroy(new Error('redis: timeout')));
    s.on('error', rej);
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.endsWith('\r\n')) {
        s.end();
        res(buf.trimEnd());
      }
    });
    s.on('connect', () => {
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  });
}

/** Number of logical databases the bench's Redis has, so each test file can have its own. */
const REDIS_DATABASES = 1024;

/** Starts a private Redis (no persistence, 127.0.0.1 only). */
export async function startRedis(): Promise<RedisService> {
  const bin = tool('redis-server');
  const dir = workDir('redis');
  const launch = async (port: number): Promise<ManagedProcess> => {
    const proc = startProcess({
      name: 'redis',
      bin,
      args: [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--protected-mode',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--databases',
        String(REDIS_DATABASES),
        '--logfile',
        '',
      ],
      cwd: dir,
      logFile: join(dir, 'redis.log'),
    });
    await waitUntil(proc, `PONG on 127.0.0.1:${port}`, async () => (await redisCommand(port, ['PING'])) === '+PONG');
    return proc;
  };
  return onFreePort('redis', async (port) => {
    const proc = await launch(port);
    return restartable<RedisService>({ host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, dir }, proc, () => launch(port));
  });
}

/**
 * A Redis URL with a logical database no other test file of this run uses (allocated with INCR on
 * database 0 of TEST_REDIS_URL, or `baseUrl`): redis://127.0.0.1:<port>/<n>, n in 1..1023.
 */
export async function createTestRedisUrl(baseUrl = requireEnv('TEST_REDIS_URL')): Promise<string> {
  const u = new URL(baseUrl);
  const reply = await redisCommand(Number(u.port), ['INCR', 'quay-ts:test-bench:next-db']);
  const n = Number(reply.replace(/^:/, ''));
  if (!Number.isInteger(n) || n >= REDIS_DATABASES) throw new Error(`redis: no free logical database (${reply})`);
  u.pathname = `/${n}`;
  return u.toString();
}

// ------------------------------------------------------------------------------------------------ S3

/** Starts a private MinIO server (single drive, 127.0.0.1 only, console off). */
export async function startS3(): Promise<S3Service> {
  const bin = tool('minio');
  const dir = workDir('s3');
  mkdirSync(join(dir, 'data'));
  const accessKey = 'quaytsadmin';
  const secretKey = randomBytes(12).toString('hex');
  const region = 'us-east-1';
  const launch = async (port: number, consolePort: number): Promise<ManagedProcess> => {
    const proc = startProcess({
      name: 'minio',
      bin,
      args: ['server', '--quiet', '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, join(dir, 'data')],
      env: {
        ...process.env,
        HOME: dir,
        MINIO_ROOT_USER: accessKey,
        MINIO_ROOT_PASSWORD: secretKey,
        MINIO_REGION: region,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
        MINIO_CI_CD: 'on',
      },
      cwd: dir,
      logFile: join(dir, 'minio.log'),
    });
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntil(proc, `${endpoint}/minio/health/ready`, async () => {
      const r = await fetch(`${endpoint}/minio/health/ready`);
      return r.status === 200;
    });
    return proc;
  };
  return onFreePort('minio', async (port) => {
    const consolePort = await freePort();
    const proc = await launch(port, consolePort);
    const endpoint = `http://127.0.0.1:${port}`;
    return restartable<S3Service>({ host: '127.0.0.1', port, endpoint, accessKey, secretKey, region, dir }, proc, () => launch(port, consolePort));
  });
}

/** An S3 client for the bench's server (path-style, as MinIO wants). */
export function s3Client(c: { endpoint: string; accessKey: string; secretKey: string; region: string }): S3Client {
  return new S3Client({
    endpoint: c.endpoint,
    region: c.region,
    forcePathStyle: true,
    credentials: { accessKeyId: c.accessKey, secretAccessKey: c.secretKey },
  });
}

/** The run's S3 server, from TEST_S3_* (set by global setup). */
export function testS3(): Omit<S3Bucket, 'bucket'> {
  return {
    endpoint: requireEnv('TEST_S3_ENDPOINT'),
    accessKey: requireEnv('TEST_S3_ACCESS_KEY'),
    secretKey: requireEnv('TEST_S3_SECRET_KEY'),
    region: process.env.TEST_S3_REGION || 'us-east-1',
  };
}

/** Creates a fresh, empty bucket on the run's S3 server (or on `server`). */
export async function createTestBucket(label = 'test', server = testS3()): Promise<S3Bucket> {
  const bucket = `t-${label
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 30)}-${randomBytes(4).toString('hex')}`;
  const client = s3Client(server);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return { ...server, bucket };
}

// -------------------------------------------------------------------------------------- Distribution

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * Starts Debian's `docker-registry` (CNCF Distribution 2.8) on 127.0.0.1 with filesystem storage and
 * deletes enabled: a peer registry for round trips, an upstream for proxy cache and mirroring, and the
 * baseline of bench/.
 */
export async function startDistribution(opts: DistributionOptions = {}): Promise<DistributionService> {
  const bin = tool(opts.binary ?? 'docker-registry');
  const dir = workDir('distribution');
  const storageDir = join(dir, 'storage');
  mkdirSync(storageDir);
  return onFreePort('docker-registry', async (port) => {
    let config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
      http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex'), headers: { 'X-Content-Type-Options': ['nosniff'] } },
    };
    if (opts.proxy) config.proxy = opts.proxy;
    if (opts.htpasswdFile) config.auth = { htpasswd: { realm: 'quay-ts-test', path: opts.htpasswdFile } };
    if (opts.config) config = deepMerge(config, opts.config);
    const configFile = join(dir, 'config.yml');
    writeFileSync(configFile, yaml.dump(config));
    const proc = startProcess({
      name: 'docker-registry',
      bin,
      args: ['serve', configFile],
      cwd: dir,
      env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
      logFile: join(dir, 'registry.log'),
    });
    const url = `http://127.0.0.1:${port}`;
    await waitUntil(proc, `${url}/v2/ answering`, async () => {
      if (!(await tcpOpen(port))) return false;
      const r = await fetch(`${url}/v2/`);
      return r.status === 200 || r.status === 401;
    });
    return makeService<DistributionService>({ host: '127.0.0.1', port, url, hostPort: `127.0.0.1:${port}`, storageDir, dir, process: proc });
  });
}

/** Removes run directories of earlier runs whose process has ended (their processes are killed first by killRecorded()). */
export function removeStaleRunDirs(workRoot: string): void {
  if (!existsSync(workRoot)) return;
  for (const d of readdirSync(workRoot)) {
    const m = /^run-(\d+)$/.exec(d);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) rmSync(join(workRoot, d), { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------ Mailpit

export interface MailpitMessage {
  ID: string;
  From: { Address: string };
  To: Array<{ Address: string }>;
  Subject: string;
  Created: string;
}

export interface MailpitService extends Service {
  smtpPort: number;
  /** Mailpit's HTTP API base, http://127.0.0.1:<port> */
  apiUrl: string;
  /** Every message received so far, newest first. */
  messages(): Promise<MailpitMessage[]>;
  /** One message's HTML and text bodies. */
  body(id: string): Promise<{ HTML: string; Text: string; Subject: string; To: Array<{ Address: string }> }>;
  /** Waits until `n` messages match `filter`; returns them. */
  waitFor(filter: (m: MailpitMessage) => boolean, n?: number, timeoutMs?: number): Promise<MailpitMessage[]>;
}

/** Starts a private Mailpit (SMTP and its HTTP API on loopback, messages in memory). */
export async function startMailpit(): Promise<MailpitService> {
  const bin = tool('mailpit');
  const dir = workDir('mailpit');
  return onFreePort('mailpit', async (smtpPort) => {
    const httpPort = await freePort();
    const proc = startProcess({
      name: 'mailpit',
      bin,
      args: ['--smtp', `127.0.0.1:${smtpPort}`, '--listen', `127.0.0.1:${httpPort}`, '--database', join(dir, 'mailpit.db'), '--smtp-auth-accept-any', '--smtp-auth-allow-insecure'],
      cwd: dir,
      logFile: join(dir, 'mailpit.log'),
    });
    const apiUrl = `http://127.0.0.1:${httpPort}`;
    await waitUntil(proc, `Mailpit API on ${apiUrl} and SMTP on ${smtpPort}`, async () => (await fetch(`${apiUrl}/api/v1/messages`)).ok && (await tcpOpen(smtpPort)));
    const messages = async (): Promise<MailpitMessage[]> => {
      const r = await fetch(`${apiUrl}/api/v1/messages?limit=1000`);
      return ((await r.json()) as { messages: MailpitMessage[] }).messages;
    };
    return makeService<MailpitService>({
      host: '127.0.0.1',
      port: smtpPort,
      dir,
      process: proc,
      smtpPort,
      apiUrl,
      messages,
      body: async (id) => (await (await fetch(`${apiUrl}/api/v1/message/${id}`)).json()) as { HTML: string; Text: string; Subject: string; To: Array<{ Address: string }> },
      waitFor: async (filter, n = 1, timeoutMs = 30_000) => {
        const end = Date.now() + timeoutMs;
        for (;;) {
          const hits = (await messages()).filter(filter);
          if (hits.length >= n) return hits;
          if (Date.now() > end) throw new Error(`mailpit: ${hits.length} of ${n} expected messages within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    });
  });
}
