/** One in-app notification of the caller: GET and PUT (dismiss) `/user/notifications/{uuid}`. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { notificationView } from '../../model/notifications.js';
import { currentUser } from './auth.js';
import { op, typed } from './schema.js';
import { badRequest, notFound } from './errors.js';

const Params = Type.Object({ uuid: Type.String({ description: 'The uuid of the notification' }) });

export async function notificationRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  const t = typed(app);
  const lookup = async (userId: number, uuid: string) => {
    const n = await rt.notifications.get(await rt.notifications.targetsOf(userId), uuid);
    if (!n) throw notFound();
    return n;
  };

  t.get(
    '/user/notifications/:uuid',
    { schema: { ...op('getUserNotification', 'user', 'Get a notification of the user.', 'user:admin'), params: Params }, config: { scope: 'user:admin' } },
    async (req) => {
      const user = await currentUser(rt, req);
      return notificationView(await lookup(user.id, req.params.uuid));
    },
  );

  t.put(
    '/user/notifications/:uuid',
    {
      schema: {
        ...op('updateUserNotification', 'user', 'Dismiss (or un-dismiss) a notification of the user.', 'user:admin'),
        params: Params,
        body: Type.Optional(Type.Object({ dismissed: Type.Optional(Type.Unknown()) })),
      },
      config: { scope: 'user:admin' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      const n = await lookup(user.id, req.params.uuid);
      const dismissed = req.body?.dismissed;
      if (typeof dismissed !== 'boolean') throw badRequest('dismissed must be true or false');
      await rt.notifications.setDismissed(n.id, dismissed);
      return notificationView({ ...n, dismissed });
    },
  );
}
