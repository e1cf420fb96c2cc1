/**
 * `POST /api/v1/filedrop/` (Quay: FileDropResource): a URL the client PUTs a build pack to, and the
 * `file_id` a build then names. Quay lets anyone the anonymous-access guard lets in ask for one; here the
 * caller must be a signed-in user, so anonymous clients cannot fill the storage.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { userfileUrl } from '../../model/userfiles.js';
import { requireUser } from './auth.js';
import { op, typed } from './schema.js';

export async function filedropRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  app.post(
    '/filedrop/',
    {
      schema: {
        ...op('getFiledropUrl', 'build', 'Request a URL to which a file may be uploaded.'),
        body: Type.Object(
          { mimeType: Type.String({ maxLength: 255, pattern: '^[\\x20-\\x7e]*$', description: 'Type of the file which is about to be uploaded' }) },
          { description: 'Description of the file that the user wishes to upload.' },
        ),
      },
    },
    async (req) => {
      const user = requireUser(req);
      const fileId = await rt.userfiles.prepare(req.body.mimeType, user.id);
      return { url: userfileUrl(rt.config, fileId), file_id: fileId };
    },
  );
}
