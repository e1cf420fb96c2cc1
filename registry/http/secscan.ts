/** Quay's /secscan blueprint: scanner health and backfill progress. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';

export async function secscanPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  app.get('/secscan/_internal_ping', async (_req, reply) => reply.type('text/html; charset=utf-8').send('true'));
  app.get('/secscan/_backfill_status', async () => ({ backfill_percent: Math.round((await rt.secscan.backfillPercent()) * 100) / 100 }));
}
