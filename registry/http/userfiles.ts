/**
 * `/userfiles/<file_id>` (Quay's local userfiles handler): the upload URL of the filedrop flow. PUT stores
 * the raw body once (streamed, size-limited); GET serves it back to the builder that fetches the pack.
 * The id is an unguessable uuid handed out only to signed-in users by POST /api/v1/filedrop/, as in Quay.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Runtime } from '../runtime.js';
import { DomainError } from '../model/errors.js';
import { toApiError } from './api/errors.js';

function fail(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ message });
}

/** Bytes of a refused body read and dropped at most; a client sending more has its connection closed. */
const REFUSED_BODY_DROP_BYTES = 16 * 1024 * 1024;

/**
 * Reads and drops the rest of a refused body before the answer goes out (and the connection is closed), so
 * that a client still sending it reads the 413: closing the connection with bytes unread would make the kernel
 * reset it, and the client would see a broken pipe instead.
 */
async function dropRest(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  await new Promise<void>((resolve) => {
    req.on('data', (c: Buffer) => {
      dropped += c.length;
      if (dropped > REFUSED_BODY_DROP_BYTES) req.socket.destroy();
    });
    req.once('end', resolve);
    req.once('close', resolve);
    req.resume();
  });
}

export async function userfilesPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  // The body is streamed by the handler itself, whatever its type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  app.put<{ Params: { file_id: string } }>('/userfiles/:file_id', async (req, reply) => {
    const lengthHeader = req.headers['content-length'];
    const declared = lengthHeader === undefined ? null : Number(lengthHeader);
    if (declared !== null && (!Number.isSafeInteger(declared) || declared < 0)) return fail(reply, 400, 'Invalid Content-Length');
    try {
      await rt.userfiles.upload(req.params.file_id, req.raw, declared);
    } catch (err) {
      const mapped = err instanceof DomainError ? toApiError(err) : null;
      if (mapped && mapped.status < 500) {
        if (mapped.status === 413) {
          await dropRest(req.raw);
          reply.header('connection', 'close');
        }
        return fail(reply, mapped.status, mapped.message);
      }
      throw err;
    }
    return reply.code(200).send('Okay');
  });

  app.get<{ Params: { file_id: string } }>('/userfiles/:file_id', async (req, reply) => {
    const found = await rt.userfiles.open(req.params.file_id);
    if (!found) return fail(reply, 404, 'Not Found');
    return reply
      .header('content-type', found.file.mime_type || 'application/octet-stream')
      .header('content-length', String(found.file.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', 'attachment')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .send(found.body);
  });
}
