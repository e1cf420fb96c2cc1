/**
 * Jest global setup (runs once per `npm test`, in jest's main process, before any worker starts):
 *  1. provisions the machine if a part is missing (test/setup/install.sh --check, then install.sh);
 *  2. starts Postgres, Redis and the S3 server on loopback, and publishes them in process.env, which
 *     the test workers inherit (TEST_PG_URL, TEST_REDIS_URL, TEST_S3_*; see README "Test bench").
 * global-teardown.ts stops them; if this setup fails half-way it stops what it started itself.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, WORK_ROOT, runDir, toolsDir } from './paths.js';
import { killRecorded } from './procs.js';
import { removeStaleRunDirs, startPostgres, startRedis, startS3, type Service } from './services.js';

/** What teardown needs; kept on globalThis because jest runs setup and teardown in one process. */
export interface BenchState {
  services: Service[];
  runDir: string;
}

declare global {
  var __QUAY_TS_BENCH__: BenchState | undefined;
}

function ensureInstalled(): void {
  const script = join(REPO_ROOT, 'test', 'setup', 'install.sh');
  const env = { ...process.env, QUAY_TS_TOOLS: toolsDir() };
  const check = spawnSync('bash', [script, '--check'], { env, encoding: 'utf8' });
  if (check.status === 0) return;
  process.stderr.write(
    `\n[test bench] provisioning: ${check.stdout
      .split('\n')
      .filter((l) => l.includes('missing'))
      .join('; ')}\n`,
  );
  const full = spawnSync('bash', [script], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (full.status !== 0) {
    throw new Error(`test/setup/install.sh failed (exit ${full.status ?? full.signal}); the test bench cannot start`);
  }
}

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  process.env.QUAY_TS_TOOLS = toolsDir();
  process.env.QUAY_TS_RUN_PID = String(process.pid);
  process.env.QUAY_TS_RUN_DIR = join(WORK_ROOT, `run-${process.pid}`);
  // Strays of an earlier run that crashed (only runs whose process is gone; a concurrent run is left alone).
  const strays = await killRecorded();
  if (strays.length) process.stderr.write(`[test bench] killed strays of an ended run: ${strays.join(', ')}\n`);
  removeStaleRunDirs(WORK_ROOT);
  const dir = runDir();

  ensureInstalled();

  const started: Service[] = [];
  const track = <T extends Service>(p: Promise<T>) => p.then((s) => (started.push(s), s));
  try {
    const [pg, redis, s3] = await Promise.all([track(startPostgres()), track(startRedis()), track(startS3())]);
    Object.assign(process.env, {
      TEST_PG_URL: pg.url,
      TEST_PG_HOST: pg.host,
      TEST_PG_PORT: String(pg.port),
      TEST_REDIS_URL: redis.url,
      TEST_REDIS_HOST: redis.host,
      TEST_REDIS_PORT: String(redis.port),
      TEST_S3_ENDPOINT: s3.endpoint,
      TEST_S3_ACCESS_KEY: s3.accessKey,
      TEST_S3_SECRET_KEY: s3.secretKey,
      TEST_S3_REGION: s3.region,
    });
  } catch (e) {
    await Promise.allSettled(started.map((s) => s.stop()));
    await killRecorded(process.pid);
    throw e;
  }
  globalThis.__QUAY_TS_BENCH__ = { services: started, runDir: dir };
  process.stderr.write(
    `\n[test bench] postgres ${process.env.TEST_PG_PORT}, redis ${process.env.TEST_REDIS_PORT}, ` +
      `s3 ${process.env.TEST_S3_ENDPOINT} ready in ${Date.now() - t0} ms (run dir ${dir})\n`,
  );
}
