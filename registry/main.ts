/**
 * Process entry. `serve` runs the web server and the background workers; `migrate` brings the database
 * schema up to date and exits (the operator's migration Job runs it before a new version rolls out).
 *   node dist/registry/main.js serve [--config config.yaml] [--port 8080] [--host 0.0.0.0] [--data-dir ./data]
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
import { buildApp } from './app.js';
import { startWorkers } from './workers/index.js';

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

async function serve(argv: string[]): Promise<void> {
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

  const rt = await createRuntime(config, dataDir, log, { configDir: configPath ? dirname(resolve(configPath)) : undefined });
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
    await app.close();
    await rt.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<void>> = { serve, migrate: migrateOnly };
const run = commands[command ?? 'serve'];
if (!run) {
  console.error(`unknown command "${command}"; usage: main.js serve|migrate [--config FILE] [--port N] [--host H] [--data-dir DIR]`);
  process.exit(2);
}
run(rest).catch((err) => {
  console.error(err);
  process.exit(1);
});
