/**
 * Starts the registry as a real process (`node dist/registry/main.js serve`) for tests: embedded mode
 * (PGlite + filesystem) or with a config.yaml (Postgres, S3, Redis from the test bench).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import yaml from 'js-yaml';
import { PGlite } from '@electric-sql/pglite';
import { REPO_ROOT, runDir, workDir } from '../setup/paths.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../setup/procs.js';
import { createTestBucket, createTestDatabase, createTestRedisUrl, type S3Bucket } from '../setup/services.js';
import type { ClientSandbox } from '../setup/tools.js';

export const ADMIN_PASSWORD = 'admin-password-1';

export interface RegistryProcess {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** 127.0.0.1:<port>, the registry part of image references */
  readonly hostPort: string;
  readonly port: number;
  readonly dataDir: string;
  readonly configPath: string | null;
  readonly admin: { username: string; password: string };
  readonly process: ManagedProcess;
  /** SIGTERM and wait (graceful). */
  stop(): Promise<void>;
  /** SIGKILL, no cleanup (crash tests). */
  kill(): Promise<void>;
  /** Everything the process printed so far. */
  output(): string;
}

export interface StartOptions {
  /** config.yaml contents; absent = embedded defaults (no config file). */
  config?: Record<string, unknown>;
  /** Reuse a data directory (restart tests). */
  dataDir?: string;
  /** Reuse a port (restart tests). */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Password of the superuser created at first start (INITIAL_ADMIN_PASSWORD). */
  adminPassword?: string;
  label?: string;
  /** Files written beside config.yaml before the start (ssl.cert, ssl.key). */
  files?: Record<string, string | Buffer>;
}

/** The storage keys of a config.yaml that stores in `bucket` (S3Storage, plain HTTP on loopback). */
export function s3StorageConfig(bucket: S3Bucket): Record<string, unknown> {
  const url = new URL(bucket.endpoint);
  return {
    DISTRIBUTED_STORAGE_CONFIG: {
      s3: [
        'S3Storage',
        {
          host: url.hostname,
          port: Number(url.port),
          is_secure: false,
          s3_bucket: bucket.bucket,
          s3_access_key: bucket.accessKey,
          s3_secret_key: bucket.secretKey,
          s3_region: bucket.region,
          storage_path: '/registry',
        },
      ],
    },
    DISTRIBUTED_STORAGE_PREFERENCE: ['s3'],
  };
}

/** A config.yaml for Postgres (a fresh database) and S3 (a fresh bucket) on the test bench. */
export async function scaleOutConfig(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const dbUri = await createTestDatabase('registry');
  return {
    DB_URI: dbUri,
    ...s3StorageConfig(await createTestBucket('registry')),
    SUPER_USERS: ['admin'],
    // Blob GETs stream through the registry, so tests read blob bodies from it; the default, a redirect to a
    // pre-signed URL, has its own tests (core/blob_redirect.test.ts).
    FEATURE_PROXY_STORAGE: true,
    ...extra,
  };
}

/**
 * The config keys of builds run by local workers (the popen executor): build logs and the build manager's
 * orchestration in a fresh database of the test bench's Redis.
 */
export async function localBuildsConfig(o: { workers?: number; setupTime?: number; prefix?: string } = {}): Promise<Record<string, unknown>> {
  const redis = new URL(await createTestRedisUrl());
  const cfg = { host: redis.hostname, port: Number(redis.port), db: Number(redis.pathname.slice(1)) };
  return {
    FEATURE_BUILD_SUPPORT: true,
    BUILDLOGS_REDIS: cfg,
    BUILD_MANAGER: [
      'ephemeral',
      {
        ALLOWED_WORKER_COUNT: o.workers ?? 1,
        ORCHESTRATOR: { REDIS_HOST: cfg.host, REDIS_PORT: cfg.port, REDIS_DB: cfg.db },
        ...(o.prefix ? { ORCHESTRATOR_PREFIX: o.prefix } : {}),
        EXECUTORS: [{ EXECUTOR: 'popen', NAME: 'local', SETUP_TIME: o.setupTime ?? 60 }],
      },
    ],
  };
}

/**
 * The environment of a registry whose local build workers run buildah: the containers configuration of the test
 * clients' sandbox (plain-HTTP loopback registries, a private temporary directory). The gRPC port is already free.
 */
export function buildWorkerEnv(sandbox: ClientSandbox): Record<string, string | undefined> {
  return { CONTAINERS_REGISTRIES_CONF: sandbox.env.CONTAINERS_REGISTRIES_CONF, CONTAINERS_CONF: sandbox.env.CONTAINERS_CONF, TMPDIR: sandbox.env.TMPDIR };
}

/**
 * An initialised, empty PGlite data directory, made once per test run. PGlite's initdb (in WebAssembly) takes
 * ten seconds and more on a busy machine; a copy of its result opens in one or two.
 */
async function pgliteTemplate(): Promise<string> {
  const dir = join(runDir(), 'pglite-template');
  const ready = join(dir, '.ready');
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (existsSync(ready)) return dir;
    try {
      mkdirSync(lock);
    } catch {
      // Another test worker is making it.
      if (Date.now() > deadline) throw new Error(`the PGlite template ${dir} was not made within 180 s`);
      await sleep(200);
      continue;
    }
    try {
      rmSync(dir, { recursive: true, force: true });
      const db = await PGlite.create(dir);
      await db.close();
      writeFileSync(ready, '');
      return dir;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

export async function startRegistry(opts: StartOptions = {}): Promise<RegistryProcess> {
  const dir = workDir(opts.label ?? 'registry');
  const dataDir = opts.dataDir ?? join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  if (!opts.config?.DB_URI && !existsSync(join(dataDir, 'db'))) {
    cpSync(await pgliteTemplate(), join(dataDir, 'db'), { recursive: true, filter: (src) => !src.endsWith('.ready') });
  }
  const port = opts.port ?? (await freePort());
  const hostPort = `127.0.0.1:${port}`;
  let configPath: string | null = null;
  if (opts.config) {
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, yaml.dump({ SERVER_HOSTNAME: hostPort, ...opts.config }));
    for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content);
  }
  const logFile = join(dir, `registry-${port}-${Date.now()}.log`);
  const args = [join(REPO_ROOT, 'dist/registry/main.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir];
  if (configPath) args.push('--config', configPath);
  const adminPassword = opts.adminPassword ?? ADMIN_PASSWORD;
  const proc = startProcess({
    name: 'registry',
    bin: process.execPath,
    args,
    logFile,
    cwd: REPO_ROOT,
    // One HTTP worker process unless a test asks for more (the default is one per CPU with an external database).
    // A free port for the build manager's gRPC unless a test picks one: the default 50051 would collide
    // between registries of tests running in parallel.
    env: { ...process.env, INITIAL_ADMIN_PASSWORD: adminPassword, LOG_LEVEL: process.env.REGISTRY_LOG_LEVEL ?? 'info', WORKERS: '1', BUILDMAN_GRPC_PORT: '0', ...opts.env },
  });
  const url = `http://${hostPort}`;
  await waitUntil(proc, `${url}/health/instance answers 200`, async () => (await fetch(`${url}/health/instance`)).status === 200, 120_000);
  const adminName = (opts.config?.SUPER_USERS as string[] | undefined)?.[0] ?? 'admin';
  return {
    url,
    hostPort,
    port,
    dataDir,
    configPath,
    admin: { username: adminName, password: adminPassword },
    process: proc,
    stop: () => proc.stop(35_000),
    async kill() {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
    output: () => readFileSync(logFile, 'utf8'),
  };
}

/** `Authorization: Basic` for a user. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** A registry bearer token from /v2/auth for the given scopes. */
export async function registryToken(reg: RegistryProcess, scopes: string[], creds?: { username: string; password: string }, service = reg.hostPort): Promise<string> {
  const q = new URLSearchParams({ service });
  for (const s of scopes) q.append('scope', s);
  const res = await fetch(`${reg.url}/v2/auth?${q}`, { headers: creds ? { authorization: basicAuth(creds.username, creds.password) } : {} });
  if (res.status !== 200) throw new Error(`/v2/auth answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
