/**
 * `/userfiles/<file_id>` (Quay's local userfiles handler): the upload URL of the filedrop flow. PUT stores
 * the raw body once (streamed, size-limited); GET serves it back to the builder that fetches the pack.
 * The id is an unguessable uuid handed out only to signed-in users by POST /api/v1/filedrop/, as in Quay.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Runtime } from '../runtime.js';
import { DomainError } from '../model/errors.js';
import { toApiError } from './api/errors.js';

function fail(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ message });
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
        // Unread bytes of a refused body are not worth receiving.
        if (mapped.status === 413) reply.header('connection', 'close');
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
