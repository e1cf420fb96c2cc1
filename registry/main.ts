/**
 * Process entry. `serve` runs the web server and the background workers (in embedded mode, without a
 * config file, also the repository mirror worker); `mirror` runs only the repository mirror worker, with
 * health checks and /metrics (the operator's quay-mirror Deployment); `migrate` brings the database schema
 * up to date and exits (the operator's migration Job runs it before a new version rolls out).
 *   node dist/registry/main.js serve [--config config.yaml] [--port 8080] [--host 0.0.0.0] [--data-dir ./data]
 *   node dist/registry/main.js mirror --config config.yaml [--port 8080] [--host 0.0.0.0]
 *   node dist/registry/main.js migrate [--config config.yaml] [--data-dir ./data]
 * Environment: PORT, HOST, DATA_DIR, QUAY_CONFIG, LOG_LEVEL, INITIAL_ADMIN_PASSWORD.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { defaultConfig, parseConfig, type QuayConfig } from '../config/index.js';
import { bootstrapSuperuser, createRuntime } from './runtime.js';
import { openDatabase } from './db/index.js';
import { migrate } from './db/migrate.js';
import { buildApp, buildWorkerApp } from './app.js';
import { startWorkers } from './workers/index.js';
import { MirrorWorker } from './workers/mirror.js';

const SHUTDOWN_GRACE_MS = 30_000;

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
    },
    allowPositionals: false,
  });
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const configPath = values.config ?? process.env.QUAY_CONFIG;
  // Embedded mode is for a developer's machine: loopback unless told otherwise. A configured server listens everywhere.
  const host = values.host ?? process.env.HOST ?? (configPath ? '0.0.0.0' : '127.0.0.1');
  const dataDir = resolve(values['data-dir'] ?? process.env.DATA_DIR ?? 'data');
  const config = loadConfig(configPath, port);
  const log = pino({
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: ['req.headers.authorization', 'password', 'token', '*.password', '*.token'], censor: '[redacted]' },
  });

  if (role === 'mirror' && !config.FEATURE_REPO_MIRROR) {
    console.error('the mirror role needs FEATURE_REPO_MIRROR: true in the config');
    process.exit(2);
  }
  const rt = await createRuntime(config, dataDir, log, { configDir: configPath ? dirname(resolve(configPath)) : undefined });
  if (role === 'mirror') {
    let stopping = false;
    const app = await buildWorkerApp(rt, { isShuttingDown: () => stopping });
    const worker = new MirrorWorker(rt).start();
    await app.listen({ port, host });
    log.info({ port, host, worker: worker.id, database: rt.db.kind }, 'mirror worker running');
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: finishing running syncs');
      await worker.stop();
      await app.close();
      await rt.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
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
  const app = await buildApp(rt, { isShuttingDown: () => shuttingDown });
  const workers = startWorkers(rt);
  // Embedded mode runs everything in one process; a configured deployment runs `mirror` processes instead.
  const mirrorWorker = config.FEATURE_REPO_MIRROR && !configPath ? new MirrorWorker(rt).start() : null;
  await app.listen({ port, host });
  log.info({ port, host, dataDir, database: rt.db.kind, storage: rt.store.driver }, 'registry listening');

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    await workers.stop();
    await mirrorWorker?.stop();
    await app.close();
    await rt.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<void>> = { serve: server('serve'), mirror: server('mirror'), migrate: migrateOnly };
const main = commands[command ?? 'serve'];
if (!main) {
  console.error(`unknown command "${command}"; usage: main.js serve|mirror|migrate [--config FILE] [--port N] [--host H] [--data-dir DIR]`);
  process.exit(2);
}
main(rest).catch((err) => {
  console.error(err);
  process.exit(1);
});
