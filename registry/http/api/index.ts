/**
 * The Quay REST API under /api/v1: one file per resource, registered here. The OpenAPI (Swagger 2.0, as
 * Quay publishes) document at /api/v1/discovery is generated from the routes' TypeBox schemas.
 */
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';
import swagger from '@fastify/swagger';
import type { Runtime } from '../../runtime.js';
import { parseUntrustedJson } from '../../input.js';
import { SCOPE_DESCRIPTIONS, SCOPES } from '../../auth/principal.js';
import { DomainError } from '../../model/errors.js';
import { ApiError, badRequest, sendApiError, toApiError } from './errors.js';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { jsonschemaMessage, reqparseError } from './validation.js';
import { registerApiAuth } from './auth.js';
import { userInitializeRoutes } from './user_initialize.js';
import { userRoutes } from './user.js';
import { superuserRoutes } from './superuser.js';
import { organizationRoutes } from './organization.js';
import { teamRoutes } from './team.js';
import { robotRoutes } from './robot.js';
import { repositoryRoutes } from './repository.js';
import { permissionRoutes } from './permission.js';
import { prototypeRoutes } from './prototype.js';
import { applicationRoutes } from './application.js';
import { appTokenRoutes } from './apptoken.js';
import { logRoutes } from './logs.js';
import { discoveryRoutes, quayRepositoryPaths } from './discovery.js';
import { quayQueryBooleans } from './schema.js';
import { tagRoutes } from './tags.js';
import { manifestRoutes } from './manifest.js';
import { manifestLabelRoutes } from './manifest_labels.js';
import { organizationQuotaRoutes } from './quota.js';
import { superuserQuotaRoutes } from './superuser_quota.js';
import { userQuotaRoutes } from './user_quota.js';
import { notificationRoutes } from './notifications.js';
import { namespaceNotificationRoutes, repoNotificationRoutes } from './repo_notifications.js';
import { searchRoutes } from './search.js';
import { errorRoutes } from './error.js';
import { messageRoutes } from './messages.js';
import { repoTokenRoutes } from './repotoken.js';
import { secscanRoutes } from './secscan.js';
import { proxyCacheRoutes } from './proxycache.js';
import { mirrorRoutes } from './mirror.js';
import { serviceKeyRoutes } from './service_keys.js';
import { triggerRoutes } from './trigger.js';
import { filedropRoutes } from './filedrop.js';
import { buildRoutes } from './build.js';

export async function apiPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  // Quay validates bodies with jsonschema, which converts nothing (`"public": "true"` is `'true' is not of type
  // 'boolean'`) and refuses what `additionalProperties: false` excludes (no silent removal); query parameters are
  // strings converted by their declared type (flask-restful's reqparse).
  const compilers = AjvCompiler();
  const bodyValidator = compilers({}, { customOptions: { coerceTypes: false, removeAdditional: false } });
  const queryValidator = compilers({}, { customOptions: {} });
  app.setValidatorCompiler((route) => (route.httpPart === 'body' ? bodyValidator(route) : queryValidator(route)));
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return sendApiError(rt, req, reply, err);
    if (err instanceof DomainError) return sendApiError(rt, req, reply, toApiError(err));
    const e = err as { statusCode?: number; validation?: FastifySchemaValidationError[]; validationContext?: string; message: string };
    if (e.validation?.length && e.validationContext === 'body') return sendApiError(rt, req, reply, badRequest(jsonschemaMessage(e.validation, req.body)));
    if (e.validation?.length && e.validationContext === 'querystring') {
      reply.code(400).type('application/json').send(reqparseError(e.validation[0], req.routeOptions.schema?.querystring));
      return;
    }
    if (e.statusCode && e.statusCode < 500) return sendApiError(rt, req, reply, new ApiError(e.statusCode, e.statusCode === 404 ? 'not_found' : 'invalid_request', e.message));
    req.log.error({ err }, 'unexpected error');
    sendApiError(rt, req, reply, new ApiError(500, 'internal_error', 'Internal server error'));
  });
  // Quay's router (werkzeug, strict slashes) answers a route declared with a trailing slash, asked without
  // it, with 308 to the slashed URL: scripts calling `/api/v1/user` or `POST /api/v1/organization` work.
  const slashedRoutes: { method: string; path: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.url.endsWith('/')) return;
    const pattern = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
    for (const method of [route.method].flat()) slashedRoutes.push({ method, path: new RegExp(`^${pattern}$`) });
  });
  app.setNotFoundHandler((req, reply) => {
    const [path, query] = [req.url.split('?')[0], req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''];
    if (!path.endsWith('/') && slashedRoutes.some((r) => r.method === req.method && r.path.test(`${path}/`))) {
      reply.code(308).header('location', `${path}/${query}`).send();
      return;
    }
    sendApiError(rt, req, reply, new ApiError(404, 'not_found', 'Not Found'));
  });

  // Scripts send JSON with or without the right Content-Type, and PUTs often with no body at all (Quay reads
  // the body as JSON whatever its type): an empty body is "no body", anything else must be JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, undefined);
    try {
      done(null, parseUntrustedJson(text));
    } catch (err) {
      done(new ApiError(400, 'invalid_request', (err as Error).message), undefined);
    }
  });

  const scheme = rt.config.PREFERRED_URL_SCHEME;
  await app.register(swagger, {
    transform: quayRepositoryPaths,
    swagger: {
      info: {
        title: 'Quay Frontend',
        version: 'v1',
        description: 'This API allows you to perform many of the operations required to work with Quay repositories, users, and organizations.',
      },
      host: rt.config.SERVER_HOSTNAME,
      basePath: '/',
      schemes: [scheme],
      consumes: ['application/json'],
      produces: ['application/json'],
      securityDefinitions: {
        oauth2_implicit: {
          type: 'oauth2',
          flow: 'implicit',
          authorizationUrl: `${scheme}://${rt.config.SERVER_HOSTNAME}/oauth/authorize`,
          scopes: Object.fromEntries(SCOPES.filter((s) => s !== 'super:user' || rt.config.FEATURE_SUPER_USERS).map((s) => [s, SCOPE_DESCRIPTIONS[s]])),
        },
      },
    },
  });

  registerApiAuth(app, rt);
  app.addHook('preValidation', quayQueryBooleans);
  await userInitializeRoutes(app, rt);
  await userRoutes(app, rt);
  await superuserRoutes(app, rt);
  await organizationRoutes(app, rt);
  await teamRoutes(app, rt);
  await robotRoutes(app, rt);
  await repositoryRoutes(app, rt);
  await permissionRoutes(app, rt);
  await prototypeRoutes(app, rt);
  await applicationRoutes(app, rt);
  await appTokenRoutes(app, rt);
  await logRoutes(app, rt);
  await tagRoutes(app, rt);
  await manifestRoutes(app, rt);
  await manifestLabelRoutes(app, rt);
  await organizationQuotaRoutes(app, rt);
  await superuserQuotaRoutes(app, rt);
  await userQuotaRoutes(app, rt);
  await notificationRoutes(app, rt);
  await repoNotificationRoutes(app, rt);
  await namespaceNotificationRoutes(app, rt);
  await searchRoutes(app, rt);
  await secscanRoutes(app, rt);
  await proxyCacheRoutes(app, rt);
  await errorRoutes(app, rt);
  await messageRoutes(app, rt);
  await repoTokenRoutes(app, rt);
  await mirrorRoutes(app, rt);
  await serviceKeyRoutes(app, rt);
  if (rt.config.FEATURE_BUILD_SUPPORT) {
    await triggerRoutes(app, rt);
    await filedropRoutes(app, rt);
    await buildRoutes(app, rt);
  }
  await discoveryRoutes(app);
}
