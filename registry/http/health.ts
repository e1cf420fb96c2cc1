/** Quay's health endpoints: /health/instance (this process and its database) and /health/endtoend (every dependency). */
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

export async function healthPlugin(app: FastifyInstance, opts: { rt: Runtime; isShuttingDown: () => boolean }): Promise<void> {
  const { rt } = opts;
  const answer = (services: Record<string, boolean>) => {
    const ok = Object.values(services).every(Boolean) && !opts.isShuttingDown();
    return { status: ok ? 200 : 503, body: { data: { services }, status_code: ok ? 200 : 503 } };
  };
  app.get('/health/instance', async (_req, reply) => {
    const database = await probe(() => rt.db.query('SELECT 1'));
    const { status, body } = answer({ database, web: true, registry: !opts.isShuttingDown() });
    reply.code(status).send(body);
  });
  app.get('/health/endtoend', async (_req, reply) => {
    const services: Record<string, boolean> = {
      database: await probe(() => rt.db.query('SELECT 1')),
      storage: await probe(() => rt.store.check()),
      auth: await probe(() => rt.tokens.issue('(health)', [], {}).then(() => undefined)),
    };
    if (rt.redis) services.redis = await probe(() => rt.redis!.ping());
    const { status, body } = answer(services);
    reply.code(status).send(body);
  });
}
