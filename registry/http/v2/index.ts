/**
 * The distribution API plugin. Repository names contain slashes, so one wildcard route takes every /v2 path
 * and the route table (routes.ts) picks the handler and the action to authorize.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { RegistryError } from '../../errors.js';
import { ACCOUNT_RECOVERY_MESSAGE, DomainError, Unsupported } from '../../model/errors.js';
import { toRegistryError } from './errors.js';
import { NameError, parseRepositoryPath } from '../../oci/names.js';
import { authorize, identify } from './access.js';
import type { V2Context } from './context.js';
import { V2_ROUTES, type V2Method } from './routes.js';
import { issueToken } from './token.js';

function errorBody(err: RegistryError): string {
  return JSON.stringify({ errors: [{ code: err.code, message: err.message, detail: err.detail ?? {} }] });
}

export function sendRegistryError(req: FastifyRequest, reply: FastifyReply, err: RegistryError): void {
  reply.code(err.status);
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  if (err.code === 'TOOMANYREQUESTS' && !err.headers['retry-after']) reply.header('retry-after', '1');
  reply.header('content-type', 'application/json; charset=utf-8');
  if (req.method === 'HEAD') {
    reply.header('content-length', 0);
    reply.send();
  } else {
    reply.send(errorBody(err));
  }
}

export async function v2Plugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  // Bodies are streams handled by the routes themselves (blobs may be gigabytes).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof RegistryError) return sendRegistryError(req, reply, err);
    if (err instanceof DomainError) return sendRegistryError(req, reply, toRegistryError(err));
    req.log.error({ err }, 'unexpected error');
    sendRegistryError(req, reply, new RegistryError('UNKNOWN', 'internal server error'));
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/v2/auth',
    handler: async (req, reply) => {
      req.metricRoute = 'v2_auth';
      await issueToken(rt, req, reply);
    },
  });

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/v2/*',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const [pathPart, queryPart] = req.url.split('?', 2);
      let rest: string;
      try {
        rest = decodeURIComponent(pathPart.slice('/v2/'.length));
      } catch {
        throw new RegistryError('NAME_INVALID', 'malformed path encoding');
      }
      const query = new URLSearchParams(queryPart ?? '');
      for (const route of V2_ROUTES) {
        const m = route.pattern.exec(rest);
        if (!m) continue;
        const endpoint = route.methods[req.method as V2Method];
        req.metricRoute = route.name;
        if (!endpoint) throw new RegistryError('UNSUPPORTED', `method ${req.method} is not allowed here`);
        // ACCOUNT_RECOVERY_MODE (as Quay): only the login probe answers; content, catalog and referrers are off.
        if (rt.config.ACCOUNT_RECOVERY_MODE && route.name !== 'v2_base') throw new Unsupported('operation', ACCOUNT_RECOVERY_MESSAGE);
        const caller = await identify(rt, req);
        let target: V2Context['target'] = { ref: { namespace: '', name: '', full: '' }, namespace: null, repo: null };
        if (route.repo) {
          let ref;
          try {
            ref = parseRepositoryPath(m[1], {
              libraryNamespace: rt.config.FEATURE_LIBRARY_SUPPORT ? rt.config.LIBRARY_NAMESPACE : null,
              extendedNames: rt.config.FEATURE_EXTENDED_REPOSITORY_NAMES,
            });
          } catch (e) {
            if (e instanceof NameError) throw new RegistryError('NAME_INVALID', e.message, { detail: { name: m[1] } });
            throw e;
          }
          target = await rt.repositories.lookup(ref);
          if (!target.namespace && endpoint.action === 'push' && (await rt.tenancy.orgs.createOnPush(ref.namespace, caller.principal))) {
            target = await rt.repositories.lookup(ref);
          }
        }
        // The one authorization of every /v2 request, from the route table.
        if (endpoint.action === 'delete') await authorize(rt, req, caller, target, 'delete', ['delete', 'push', '*']);
        else if (endpoint.action !== 'none') await authorize(rt, req, caller, target, endpoint.action);
        return endpoint.handler({ rt, req, reply, caller, target, params: m.slice(2), query });
      }
      req.metricRoute = 'v2_unknown';
      throw new RegistryError('NAME_UNKNOWN', `no route for ${pathPart}`, { status: 404 });
    },
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The route name used as the metrics label. */
    metricRoute?: string;
  }
}
