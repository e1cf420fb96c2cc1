/**
 * Global messages (Quay: endpoints/api/globalmessages.py): everyone reads `GET /messages`; superusers create
 * (`POST /messages`, 201 with an empty body) and delete (`DELETE /message/{uuid}`, 204).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { GlobalMessages, MESSAGE_MEDIA_TYPES, MESSAGE_SEVERITIES } from '../../model/messages.js';
import { requireSuperuser } from './auth.js';
import { op, typed } from './schema.js';

const tag = 'messages';
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export async function messageRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const messages = new GlobalMessages(rt.db);

  app.get('/messages', { schema: op('getGlobalMessages', tag, 'Return a super users messages.'), config: { anonymousAllowed: true } }, async () => ({
    messages: await messages.list(),
  }));

  app.post(
    '/messages',
    {
      schema: {
        ...op('createGlobalMessage', tag, 'Create a message.', 'super:user'),
        body: Type.Object({
          message: Type.Object({
            content: Type.String({ minLength: 1, description: 'The actual message' }),
            media_type: literals(MESSAGE_MEDIA_TYPES),
            severity: literals(MESSAGE_SEVERITIES),
          }),
        }),
      },
      config: { scope: 'super:user', fresh: true },
    },
    async (req, reply) => {
      requireSuperuser(rt, req);
      const m = req.body.message as { content: string; media_type: (typeof MESSAGE_MEDIA_TYPES)[number]; severity: (typeof MESSAGE_SEVERITIES)[number] };
      await messages.create(m);
      return reply.code(201).type('text/html; charset=utf-8').send('');
    },
  );

  app.delete(
    '/message/:uuid',
    {
      schema: { ...op('deleteGlobalMessage', tag, 'Delete a message.', 'super:user'), params: Type.Object({ uuid: Type.String() }) },
      config: { scope: 'super:user', fresh: true },
    },
    async (req, reply) => {
      requireSuperuser(rt, req);
      await messages.delete(req.params.uuid);
      return reply.code(204).send();
    },
  );
}
