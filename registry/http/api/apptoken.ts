/** App-specific tokens of the calling user, and the superuser's view of all of them. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { durationSeconds } from '../../model/namespaces.js';
import type { AppTokenView } from '../../model/app_tokens.js';
import { notFound } from './errors.js';
import { currentUser, requireSuperuser } from './auth.js';
import { op, typed } from './schema.js';
import { formatDate } from './views.js';

/** "Expiring" means within 10% of APP_SPECIFIC_TOKEN_EXPIRATION (or of 4 weeks when tokens never expire), as in Quay. */
function expiringWindowS(rt: Runtime): number {
  return Math.floor(durationSeconds(rt.config.APP_SPECIFIC_TOKEN_EXPIRATION ?? '4w') / 10);
}

function view(t: AppTokenView) {
  return { uuid: t.uuid, title: t.title, last_accessed: formatDate(t.last_accessed), created: formatDate(t.created), expiration: formatDate(t.expiration) };
}

export async function appTokenRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'appspecifictokens';
  const cfg = { scope: 'user:admin' as const };
  const enabled = () => {
    if (!rt.config.FEATURE_APP_SPECIFIC_TOKENS) throw notFound();
  };
  const TokenParams = Type.Object({ token_uuid: Type.String({ description: 'The uuid of the app specific token' }) });

  app.get(
    '/user/apptoken',
    {
      schema: {
        ...op('listAppTokens', tag, 'Lists the app specific tokens for the user.', 'user:admin'),
        querystring: Type.Object({ expiring: Type.Optional(Type.Boolean({ description: 'If true, only returns those tokens expiring soon' })) }),
      },
      config: cfg,
    },
    async (req) => {
      enabled();
      const user = await currentUser(rt, req);
      const tokens = await rt.tenancy.appTokens.list(user, req.query.expiring ? expiringWindowS(rt) : undefined);
      return { tokens: tokens.map(view), only_expiring: Boolean(req.query.expiring) };
    },
  );

  app.post(
    '/user/apptoken',
    {
      schema: {
        ...op('createAppToken', tag, 'Create a new app specific token for user.', 'user:admin'),
        body: Type.Object({ title: Type.String({ minLength: 1, maxLength: 255, description: 'The user-defined title for the token' }) }),
      },
      config: { ...cfg, fresh: true },
    },
    async (req) => {
      enabled();
      const user = await currentUser(rt, req);
      const t = await rt.tenancy.appTokens.create(user, req.body.title);
      rt.logs.log({
        kind: 'create_app_specific_token',
        performer: req.principal,
        namespaceId: user.id,
        ip: req.ip,
        metadata: { app_specific_token_title: t.title, app_specific_token: t.uuid },
      });
      return { token: { ...view(t), token_code: t.token_code } };
    },
  );

  app.get(
    '/user/apptoken/:token_uuid',
    { schema: { ...op('getAppToken', tag, 'Returns a specific app token for the user.', 'user:admin'), params: TokenParams }, config: { ...cfg, fresh: true } },
    async (req) => {
      enabled();
      const user = await currentUser(rt, req);
      const t = await rt.tenancy.appTokens.get(user, req.params.token_uuid);
      return { token: { ...view(t), token_code: t.token_code } };
    },
  );

  app.delete(
    '/user/apptoken/:token_uuid',
    { schema: { ...op('revokeAppToken', tag, 'Revokes a specific app token for the user.', 'user:admin'), params: TokenParams }, config: { ...cfg, fresh: true } },
    async (req, reply) => {
      enabled();
      const user = await currentUser(rt, req);
      const t = await rt.tenancy.appTokens.revoke(user, req.params.token_uuid);
      rt.logs.log({
        kind: 'revoke_app_specific_token',
        performer: req.principal,
        namespaceId: user.id,
        ip: req.ip,
        metadata: { app_specific_token_title: t.title, app_specific_token: t.uuid },
      });
      return reply.code(204).send();
    },
  );

  app.get(
    '/superuser/apptokens',
    {
      schema: {
        ...op('listAllAppTokens', 'superuser', 'Lists the app specific tokens of every user.', 'super:user'),
        querystring: Type.Object({ expiring: Type.Optional(Type.Boolean()) }),
      },
      config: { scope: 'super:user' as const, fresh: true },
    },
    async (req) => {
      enabled();
      requireSuperuser(rt, req);
      const tokens = await rt.tenancy.appTokens.all(req.query.expiring ? expiringWindowS(rt) : undefined);
      return { tokens: tokens.map((t) => ({ ...view(t), user: t.username })), only_expiring: Boolean(req.query.expiring) };
    },
  );
}
