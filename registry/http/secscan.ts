/**
 * Quay's /secscan blueprint: scanner health, backfill progress, Clair's notification webhook; plus the
 * signed single-blob URLs Clair downloads layers from.
 */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { verifyPskJwt } from '../scan/clair.js';
import { looksLikeDigest } from '../oci/digest.js';
import { SECSCAN_NOTIFICATION_QUEUE } from '../workers/secscan.js';

export async function secscanPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  app.get('/secscan/_internal_ping', async (_req, reply) => reply.type('text/html; charset=utf-8').send('true'));
  app.get('/secscan/_backfill_status', async () => ({ backfill_percent: Math.round((await rt.secscan.backfillPercent()) * 100) / 100 }));

  app.get<{ Params: { digest: string }; Querystring: { expires?: string; signature?: string } }>('/secscan/blobs/:digest', async (req, reply) => {
    const { digest } = req.params;
    if (!looksLikeDigest(digest) || !rt.layerUrls.verify(digest, req.query.expires, req.query.signature)) {
      return reply.code(403).send({ error: 'invalid or expired layer URL' });
    }
    const blob = await rt.db.query<{ size: string }>('SELECT size FROM blob WHERE digest = $1', [digest]);
    if (!blob.rows[0]) return reply.code(404).send({ error: 'blob unknown' });
    reply.header('content-type', 'application/octet-stream').header('content-length', String(blob.rows[0].size));
    return reply.send(await rt.store.read(digest));
  });

  // Clair's notifier calls this; with a PSK it must sign with it (else 401), as Quay verifies.
  app.post('/secscan/notification', async (req, reply) => {
    const psk = rt.config.SECURITY_SCANNER_V4_PSK;
    if (psk && !(await verifyPskJwt(req.headers.authorization, Buffer.from(psk, 'base64')))) return reply.code(401).send({ error: 'invalid or missing bearer token' });
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.notification_id !== 'string' || typeof body.callback !== 'string' || !body.notification_id) {
      return reply.code(400).send({ error: 'expected {"notification_id", "callback"}' });
    }
    const id = body.notification_id.replace(/\//g, '');
    const queue = rt.queues.queue(SECSCAN_NOTIFICATION_QUEUE);
    if (!(await queue.alive(['with_id', id]))) await queue.put(['with_id', id], { notification_id: id }, { retries: 10 });
    return reply.type('text/html; charset=utf-8').send('Okay');
  });
}
