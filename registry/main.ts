/**
 * Process entry. `serve` runs the web server and the background workers (in embedded mode, without a
 * config file, also the repository mirror worker); `mirror` runs only the repository mirror worker, with
 * health checks and /metrics (the operator's quay-mirror Deployment); `migrate` brings the database schema
 * up to date and exits (the operator's migration Job runs it before a new version rolls out).
 *   node dist/registry/main.js serve [--config config.yaml] [--port 8080] [--host 0.0.0.0] [--data-dir ./data]
 *                                    [--tls-port 8443] [--tls-cert FILE --tls-key FILE] [--workers N]
 *     HTTPS is served on --tls-port when ssl.cert and ssl.key sit beside config.yaml or are named.
 *     --workers N: HTTP worker processes sharing the ports (default the CPUs; 1 with the embedded database).
 *   node dist/registry/main.js mirror --config config.yaml [--port 8080] [--host 0.0.0.0]
 *   node dist/registry/main.js migrate [--config config.yaml] [--data-dir ./data]
 *   node dist/registry/main.js verify --config config.yaml   (config linter: exit 1 when invalid)
 *   node dist/registry/main.js buildmanager --config config.yaml [--port 8080] [--grpc-port 50051]
 *     the build manager alone (health and /metrics on --port, the builder gRPC API on --grpc-port)
 *   node dist/registry/main.js builder     (the build worker agent; configured by its environment, see build/agent.ts)
 *   `serve` also runs a build manager when FEATURE_BUILD_SUPPORT is on and BUILD_MANAGER is absent (the embedded
 *   default, local executor) or of kind ephemeral; BUILDMAN_IN_SERVE=false leaves it to `buildmanager` processes.
 *   BUILDMAN_GRPC_PORT: its gRPC port (default 50051; the embedded default takes any free loopback port).
 * Environment: PORT, HOST, DATA_DIR, QUAY_CONFIG, WORKERS, LOG_LEVEL, INITIAL_ADMIN_PASSWORD, TLS_PORT, TLS_CERT_FILE, TLS_KEY_FILE,
 *   TRUSTED_PROXIES (comma-separated addresses/CIDRs whose X-Forwarded-For is believed; default none),
 *   HTTP_IDLE_TIMEOUT_SECONDS (close connections idle this long; default 120).
 */
import { readFileSync } from 'node:fs';
import cluster from 'node:cluster';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server as SecureServer } from 'node:tls';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import { defaultConfig, parseConfig, REGISTRY_V8_RUNTIME_FLAGS, type QuayConfig } from '../config/index.js';
import type { Runtime } from './runtime.js';
import type { BuildManager } from './build/manager.js';
import { runPrimary, workerCount, workerIndex } from './cluster.js';
import { findTlsFiles, loadTlsPair, TlsConfigError, tlsPolicy, watchTlsPair, type TlsFiles, type TlsPair, type TlsPolicy } from './tls.js';

for (const flag of REGISTRY_V8_RUNTIME_FLAGS) setFlagsFromString(flag);

const SHUTDOWN_GRACE_MS = 30_000;

// The registry's modules are imported where a command needs them, not at the top: the primary of `serve
// --workers` only forks and aggregates /metrics, the `builder` agent needs none of the server, and the build
// manager's gRPC stack loads only where builds run. Every module loaded stays in the process's memory.

function loadConfig(path: string | undefined, port: number): QuayConfig {
  if (!path) return { ...defaultConfig(), SERVER_HOSTNAME: `localhost:${port}` };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    console.error(`cannot read config file ${path}: ${(err as Error).message}`);
    process.exit(2);
  }
  const { config, errors, warnings } = parseConfig(text);
  for (const w of warnings) console.error(`config warning: ${w}`);
  if (errors.length > 0) {
    console.error(`invalid config file ${path}:\n${errors.map((e) => `  ${e}`).join('\n')}`);
    process.exit(2);
  }
  return config;
}

async function migrateOnly(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, 'data-dir': { type: 'string' } }, allowPositionals: false });
  const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? 'data');
  const config = loadConfig(values.config ?? process.env.QUAY_CONFIG, Number(process.env.PORT ?? 8080));
  const [{ openDatabase }, { migrate }] = await Promise.all([import('./db/index.js'), import('./db/migrate.js')]);
  const db = await openDatabase(config, dataDir);
  try {
    const applied = await migrate(db);
    console.log(applied.length > 0 ? `applied migrations ${applied.join(', ')}` : 'the schema is up to date');
  } finally {
    await db.close();
  }
}

/** `serve` (the web server and workers) or `mirror` (the repository mirror worker, health and /metrics only). */
function server(role: 'serve' | 'mirror') {
  return (argv: string[]) => run(role, argv);
}

async function run(role: 'serve' | 'mirror', argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'tls-port': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      workers: { type: 'string' },
    },
    allowPositionals: false,
  });
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const tlsPort = Number(values['tls-port'] ?? process.env.TLS_PORT ?? 8443);
  const configPath = values.config ?? process.env.QUAY_CONFIG;
  // Embedded mode is for a developer's machine: loopback unless told otherwise. A configured server listens everywhere.
  const host = values.host ?? process.env.HOST ?? (configPath ? '0.0.0.0' : '127.0.0.1');
  const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? 'data');
  const config = loadConfig(configPath, port);
  const log = pino({
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: ['req.headers.authorization', 'password', 'token', '*.password', '*.token'], censor: '[redacted]' },
  });

  let tls: { files: TlsFiles; pair: TlsPair; policy: TlsPolicy } | null = null;
  if (role === 'serve') {
    try {
      const files = findTlsFiles({ cert: values['tls-cert'] ?? process.env.TLS_CERT_FILE, key: values['tls-key'] ?? process.env.TLS_KEY_FILE, configPath });
      if (files) tls = { files, pair: loadTlsPair(files), policy: tlsPolicy(config) };
    } catch (err) {
      if (!(err instanceof TlsConfigError)) throw err;
      console.error(`cannot serve TLS: ${err.message}`);
      process.exit(2);
    }
    // As Quay: https URLs without a terminating proxy in front need the registry's own certificate.
    if (!tls && config.PREFERRED_URL_SCHEME === 'https' && !config.EXTERNAL_TLS_TERMINATION) {
      console.error(
        'PREFERRED_URL_SCHEME is https and EXTERNAL_TLS_TERMINATION is false, but there is no certificate: put ssl.cert and ssl.key beside config.yaml (or pass --tls-cert/--tls-key), or set EXTERNAL_TLS_TERMINATION: true when a proxy terminates TLS',
      );
      process.exit(2);
    }
  }

  if (role === 'serve' && cluster.isPrimary) {
    const workers = workerCount(values.workers ?? process.env.WORKERS, Boolean(config.DB_URI));
    if ('error' in workers) {
      console.error(workers.error);
      process.exit(2);
    }
    if (workers.count > 1) return runPrimary(workers.count, log, SHUTDOWN_GRACE_MS);
  }
  // Background work (GC, expiry, the queue runner, the embedded mirror worker) runs in one process of a cluster.
  // ACCOUNT_RECOVERY_MODE (as Quay): the web server only; no workers, builds or mirroring touch the data.
  const background = workerIndex() === 0 && !config.ACCOUNT_RECOVERY_MODE;

  if (role === 'mirror' && !config.FEATURE_REPO_MIRROR) {
    console.error('the mirror role needs FEATURE_REPO_MIRROR: true in the config');
    process.exit(2);
  }
  const [{ bootstrapSuperuser, createRuntime }, { DEFAULT_IDLE_TIMEOUT_MS, buildApp, buildWorkerApp }] = await Promise.all([import('./runtime.js'), import('./app.js')]);
  const rt = await createRuntime(config, dataDir, log, { configDir: configPath ? dirname(resolve(configPath)) : undefined });
  if (role === 'mirror') {
    const { MirrorWorker } = await import('./workers/mirror.js');
    const state = { stopping: false };
    const app = await buildWorkerApp(rt, { isShuttingDown: () => state.stopping });
    const worker = config.ACCOUNT_RECOVERY_MODE ? null : new MirrorWorker(rt).start();
    await app.listen({ port, host });
    log.info({ port, host, worker: worker?.id ?? 'off (ACCOUNT_RECOVERY_MODE)', database: rt.db.kind }, 'mirror worker running');
    stopRoleOnSignals(log, 'finishing running syncs', state, async () => worker?.stop(), app, rt);
    return;
  }
  const chosenPassword = process.env.INITIAL_ADMIN_PASSWORD || undefined;
  const created = await bootstrapSuperuser(rt, chosenPassword);
  if (created) {
    // A generated password is printed once, on the console, like other servers' initial admin password.
    const password = chosenPassword ? '(the value of INITIAL_ADMIN_PASSWORD)' : `${created.password}\n  (shown only this once)`;
    process.stdout.write(`\n  First start: created superuser "${created.user.name}"\n  username: ${created.user.name}\n  password: ${password}\n\n`);
  }

  let shuttingDown = false;
  const trustedProxies = (process.env.TRUSTED_PROXIES ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const idle = process.env.HTTP_IDLE_TIMEOUT_SECONDS;
  if (idle !== undefined && !(Number(idle) > 0)) {
    console.error(`HTTP_IDLE_TIMEOUT_SECONDS must be a positive number of seconds (got "${idle}")`);
    process.exit(2);
  }
  const idleTimeoutMs = idle ? Number(idle) * 1000 : DEFAULT_IDLE_TIMEOUT_MS;
  const app = await buildApp(rt, { isShuttingDown: () => shuttingDown, tls: tls && { cert: tls.pair.cert, key: tls.pair.key, ...tls.policy }, trustedProxies, idleTimeoutMs });
  const workers = background ? (await import('./workers/index.js')).startWorkers(rt) : null;
  const buildManager = background ? await startServeBuildManager(rt, !configPath, dataDir, tls) : null;
  // Embedded mode runs everything in one process; a configured deployment runs `mirror` processes instead.
  const mirrorWorker = background && config.FEATURE_REPO_MIRROR && !configPath ? new (await import('./workers/mirror.js')).MirrorWorker(rt).start() : null;
  let plain: HttpServer | null = null;
  let stopWatching = () => {};
  if (tls) {
    // HTTPS (h2 + HTTP/1.1) is the app's own server; plain HTTP beside it is routed into the same app.
    await app.listen({ port: tlsPort, host });
    plain = createHttpServer((req, res) => app.routing(req, res));
    plain.keepAliveTimeout = 75_000;
    plain.headersTimeout = app.server.headersTimeout;
    plain.setTimeout(idleTimeoutMs);
    await new Promise<void>((ok, fail) => plain!.once('error', fail).listen(port, host, () => ok()));
    const secure = app.server as unknown as SecureServer;
    stopWatching = watchTlsPair(tls.files, (pair) => secure.setSecureContext({ cert: pair.cert, key: pair.key, ...tls!.policy }), log);
    log.info({ subject: tls.pair.subject, validTo: tls.pair.validTo.toISOString(), tlsPort }, 'serving HTTPS (HTTP/2 and HTTP/1.1)');
  } else {
    await app.listen({ port, host });
  }
  log.info({ port, host, dataDir, database: rt.db.kind, storage: rt.store.driver, ...(cluster.isWorker ? { worker: workerIndex(), background } : {}) }, 'registry listening');

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    await workers?.stop();
    await buildManager?.stop();
    await mirrorWorker?.stop();
    stopWatching();
    if (plain) {
      const closed = new Promise((done) => plain!.close(done));
      plain.closeIdleConnections();
      await closed;
    }
    await app.close();
    await rt.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * `verify --config FILE`: the config linter (like `zot verify`). Prints every invalid key (errors), every
 * unknown or unsupported key (warnings, from the same loader the server uses) and checks a TLS pair beside
 * the file; exits 1 when the server would refuse to start with this file, 0 otherwise.
 */
async function verify(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, allowPositionals: false });
  const path = values.config ?? process.env.QUAY_CONFIG;
  if (!path) {
    console.error('usage: main.js verify --config FILE');
    process.exit(2);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    console.error(`cannot read config file ${path}: ${(err as Error).message}`);
    process.exit(2);
  }
  const { config, errors, warnings } = parseConfig(text);
  try {
    const files = findTlsFiles({ configPath: path });
    if (files) loadTlsPair(files);
    else if (config.PREFERRED_URL_SCHEME === 'https' && !config.EXTERNAL_TLS_TERMINATION && errors.length === 0) {
      errors.push('PREFERRED_URL_SCHEME: https without EXTERNAL_TLS_TERMINATION needs ssl.cert and ssl.key beside the config file');
    }
  } catch (err) {
    if (!(err instanceof TlsConfigError)) throw err;
    errors.push(`ssl.cert/ssl.key: ${err.message}`);
  }
  try {
    tlsPolicy(config);
  } catch (err) {
    if (!(err instanceof TlsConfigError)) throw err;
    errors.push(err.message);
  }
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const e of errors) console.log(`error: ${e}`);
  console.log(
    `${path}: ${errors.length === 0 ? 'valid' : 'invalid'} (${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'})`,
  );
  process.exit(errors.length === 0 ? 0 : 1);
}

const [command, ...rest] = process.argv.slice(2);
/** The build manager of `serve` (see the file comment), or null. */
async function startServeBuildManager(rt: Runtime, embedded: boolean, dataDir: string, tls: { files: TlsFiles; policy: TlsPolicy } | null): Promise<BuildManager | null> {
  const settings = rt.buildSettings;
  if (!settings || settings.kind !== 'ephemeral' || process.env.BUILDMAN_IN_SERVE === 'false') return null;
  const envPort = process.env.BUILDMAN_GRPC_PORT;
  const { startBuildManager } = await import('./build/index.js');
  return startBuildManager(rt, settings, {
    grpcHost: embedded ? '127.0.0.1' : '0.0.0.0',
    grpcPort: envPort !== undefined ? Number(envPort) : embedded ? 0 : 50051,
    workerLogDir: resolve(dataDir, 'build-workers'),
    tls: tls && { files: tls.files, policy: tls.policy },
  });
}

/** `buildmanager --config FILE`: the build manager alone, with health checks and /metrics. */
async function buildmanager(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'grpc-port': { type: 'string' }, 'data-dir': { type: 'string' } },
    allowPositionals: false,
  });
  const configPath = values.config ?? process.env.QUAY_CONFIG;
  if (!configPath) {
    console.error('usage: main.js buildmanager --config FILE [--port 8080] [--grpc-port 50051]');
    process.exit(2);
  }
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const host = values.host ?? process.env.HOST ?? '0.0.0.0';
  const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? 'data');
  const config = loadConfig(configPath, port);
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const [{ createRuntime }, { buildWorkerApp }, { startBuildManager }] = await Promise.all([import('./runtime.js'), import('./app.js'), import('./build/index.js')]);
  const rt = await createRuntime(config, dataDir, log, { configDir: dirname(resolve(configPath)) });
  const settings = rt.buildSettings;
  if (!settings || settings.kind !== 'ephemeral') {
    console.error('the buildmanager role needs FEATURE_BUILD_SUPPORT: true and BUILD_MANAGER: [ephemeral, {...}] in the config');
    process.exit(2);
  }
  const state = { stopping: false };
  const app = await buildWorkerApp(rt, { isShuttingDown: () => state.stopping });
  // gRPC over TLS with the registry's pair, found as `serve` finds it.
  const tlsFiles = findTlsFiles({ cert: process.env.TLS_CERT_FILE, key: process.env.TLS_KEY_FILE, configPath });
  // ACCOUNT_RECOVERY_MODE (as serve's workers): health and metrics only; no build is scheduled or run.
  const manager = config.ACCOUNT_RECOVERY_MODE
    ? null
    : await startBuildManager(rt, settings, {
        grpcHost: host,
        grpcPort: Number(values['grpc-port'] ?? process.env.BUILDMAN_GRPC_PORT ?? 50051),
        workerLogDir: resolve(dataDir, 'build-workers'),
        tls: tlsFiles && { files: tlsFiles, policy: tlsPolicy(config) },
      });
  await app.listen({ port, host });
  log.info({ port, host, grpcPort: manager?.port ?? null, manager: manager?.id ?? 'off (ACCOUNT_RECOVERY_MODE)' }, 'build manager listening');
  stopRoleOnSignals(log, 'stopping the build manager', state, async () => manager?.stop(), app, rt);
}

/**
 * A background role (mirror, buildmanager) on SIGTERM or SIGINT: `state.stopping` turns true (its health
 * check answers 503), its own work stops first, then its HTTP listener and the runtime.
 */
function stopRoleOnSignals(
  log: pino.Logger,
  what: string,
  state: { stopping: boolean },
  stopWork: () => Promise<void>,
  app: { close(): Promise<unknown> },
  rt: { close(): Promise<void> },
): void {
  const stop = async (signal: string) => {
    if (state.stopping) return;
    state.stopping = true;
    log.info({ signal }, `shutting down: ${what}`);
    await stopWork();
    await app.close();
    await rt.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function builder(): Promise<void> {
  const { runAgent } = await import('./build/agent.js');
  process.exit(await runAgent(process.env));
}

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  serve: server('serve'),
  mirror: server('mirror'),
  buildmanager,
  builder,
  migrate: migrateOnly,
  verify,
};
const main = commands[command ?? 'serve'];
if (!main) {
  console.error(`unknown command "${command}"; usage: main.js serve|mirror|buildmanager|builder|migrate|verify [--config FILE] [--port N] [--host H] [--data-dir DIR]`);
  process.exit(2);
}
main(rest).catch((err) => {
  console.error(err);
  process.exit(1);
});
