/**
 * Quay's health endpoints (endpoints/web.py, health/services.py), each `{data: {services: {name: bool}},
 * status_code}` with 200 when every service is healthy, else 503:
 *   /health/instance  — this process and what it depends on: Quay's services map (registry_gunicorn,
 *                       web_gunicorn, service_key, disk_space, database, redis, storage, auth);
 *                       redis is reported but does not fail it (only builds need Redis);
 *   /health/endtoend  — the shared dependencies only (database, redis, storage, auth);
 *   /health/warning   — disk_space_warning: free space above DISKSPACE_HEALTH_WARNING_THRESHOLD.
 * The registry and web API are one process here, so registry_gunicorn and web_gunicorn both say whether
 * it is serving (false while it shuts down).
 */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';

async function probe(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

/** Is at least `threshold` of the data volume and of the temp volume free? */
async function diskWithin(dataDir: string, threshold: number): Promise<boolean> {
  for (const dir of [dataDir, tmpdir()]) {
    const s = await statfs(dir).catch(() => null);
    if (s && s.blocks > 0 && s.bavail / s.blocks < threshold) return false;
  }
  return true;
}

export async function healthPlugin(app: FastifyInstance, opts: { rt: Runtime; isShuttingDown: () => boolean }): Promise<void> {
  const { rt } = opts;
  /** `optional`: services reported but not counted (the instance serves pushes and pulls without them). */
  const answer = (services: Record<string, boolean>, optional: string[] = []) => {
    const ok = Object.entries(services).every(([name, up]) => up || optional.includes(name));
    return { status: ok ? 200 : 503, body: { data: { services }, status_code: ok ? 200 : 503 } };
  };
  const shared = async (): Promise<Record<string, boolean>> => ({
    database: await probe(() => rt.db.query('SELECT 1')),
    // Without BUILDLOGS_REDIS nothing depends on Redis.
    redis: rt.redis ? await probe(() => rt.redis!.ping()) : true,
    storage: await probe(() => rt.store.check()),
    auth: await probe(() => rt.namespaces.countUsers()),
  });

  app.get('/health/instance', async (_req, reply) => {
    const serving = !opts.isShuttingDown();
    const { status, body } = answer(
      {
        registry_gunicorn: serving,
        web_gunicorn: serving,
        service_key: await probe(() => rt.tokens.issue('(health)', [], {})),
        disk_space: await diskWithin(rt.dataDir, rt.config.DISKSPACE_HEALTH_THRESHOLD),
        ...(await shared()),
        // Redis holds only build logs and the build orchestration: its outage must not take this instance out of
        // its Deployment's readiness (or restart it through liveness) while pushes and pulls work.
      },
      ['redis'],
    );
    reply.header('cache-control', 'no-store').code(status).send(body);
  });
  app.get('/health/endtoend', async (_req, reply) => {
    const { status, body } = answer(await shared());
    reply.header('cache-control', 'no-store').code(status).send(body);
  });
  app.get('/health/warning', async (_req, reply) => {
    const { status, body } = answer({ disk_space_warning: await diskWithin(rt.dataDir, rt.config.DISKSPACE_HEALTH_WARNING_THRESHOLD) });
    reply.header('cache-control', 'no-store').code(status).send(body);
  });
}
