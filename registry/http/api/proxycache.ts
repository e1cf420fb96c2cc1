/**
 * Proxy cache configuration of an organization (user guide chapter 15):
 * `GET/POST/DELETE /organization/{org}/proxycache` and `POST /organization/{org}/validateproxycache`, with
 * Quay's bodies and answers (`"Created"`, `201 "Deleted"`, `202 "Valid"`/`"Anonymous"`). Shown only with
 * FEATURE_PROXY_CACHE. Credentials are stored sealed and never returned.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { ProxyConfigError, type ProxyConfigInput } from '../../proxy/cache.js';
import { UpstreamError } from '../../proxy/upstream.js';
import { adminOrg, orgByName, unauthorizedFor } from './auth.js';
import { badRequest, notFound } from './errors.js';
import { OrgParams, op, typed } from './schema.js';

const ProxyCacheBody = Type.Object({
  upstream_registry: Type.String({ description: 'Upstream registry (host[:port] optionally followed by a namespace) to cache' }),
  upstream_registry_username: Type.Optional(Type.Unknown({ description: 'Username for the upstream registry' })),
  upstream_registry_password: Type.Optional(Type.Unknown({ description: 'Password for the upstream registry' })),
  expiration_s: Type.Optional(Type.Unknown({ description: 'Seconds a cached tag lives after its last pull (0: forever)' })),
  insecure: Type.Optional(Type.Unknown({ description: 'Talk plain http to the upstream' })),
});

/** Quay drops null values before reading the body. */
function inputOf(body: Record<string, unknown>): ProxyConfigInput {
  const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
  return clean as unknown as ProxyConfigInput;
}

export async function proxyCacheRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'organization';
  const enabled = () => {
    if (!rt.config.FEATURE_PROXY_CACHE) throw notFound();
  };
  const configError = (e: unknown, fallback: string) => {
    if (e instanceof ProxyConfigError) return badRequest(e.message);
    return badRequest(fallback);
  };

  app.get(
    '/organization/:orgname/proxycache',
    { schema: { ...op('getProxyCacheConfig', tag, 'Retrieves the proxy cache configuration of the organization.', 'org:admin'), params: OrgParams } },
    async (req: FastifyRequest<{ Params: { orgname: string } }>) => {
      enabled();
      const org = await orgByName(rt, req.params.orgname).catch((e) => {
        if (req.principal.kind !== 'user') throw unauthorizedFor(req.principal);
        throw e;
      });
      if (!(await rt.permissions.isOrgMember(req.principal, org)) && !rt.permissions.isGlobalReadonlySuperuser(req.principal)) throw unauthorizedFor(req.principal);
      const cfg = await rt.proxyCache.configFor(org.id, rt.db);
      if (!cfg) return { upstream_registry: '', expiration_s: '', insecure: '' };
      return { upstream_registry: cfg.upstream_registry, expiration_s: cfg.expiration_s, insecure: cfg.insecure };
    },
  );

  app.post(
    '/organization/:orgname/proxycache',
    {
      schema: { ...op('createProxyCacheConfig', tag, 'Creates proxy cache configuration for the organization.', 'org:admin'), params: OrgParams, body: ProxyCacheBody },
      config: { scope: 'org:admin' },
    },
    async (req, reply) => {
      enabled();
      const org = await adminOrg(rt, req, req.params.orgname);
      if (await rt.proxyCache.configFor(org.id, rt.db)) throw badRequest('Proxy Cache Configuration already exists');
      let created: boolean;
      try {
        await rt.proxyCache.checkAllowed(req.body.upstream_registry);
        created = await rt.proxyCache.create(org, inputOf(req.body));
      } catch (e) {
        throw configError(e, 'Error while creating Proxy cache configuration');
      }
      if (!created) throw badRequest('Proxy Cache Configuration already exists');
      rt.logs.log({ kind: 'create_proxy_cache_config', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { upstream_registry: req.body.upstream_registry } });
      reply.code(201).type('application/json');
      return JSON.stringify('Created');
    },
  );

  app.delete(
    '/organization/:orgname/proxycache',
    { schema: { ...op('deleteProxyCacheConfig', tag, 'Delete proxy cache configuration for the organization.', 'org:admin'), params: OrgParams }, config: { scope: 'org:admin' } },
    async (req, reply) => {
      enabled();
      const org = await adminOrg(rt, req, req.params.orgname);
      if (!(await rt.proxyCache.delete(org))) throw notFound();
      rt.logs.log({ kind: 'delete_proxy_cache_config', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: {} });
      // Quay answers 201 "Deleted".
      reply.code(201).type('application/json');
      return JSON.stringify('Deleted');
    },
  );

  app.post(
    '/organization/:orgname/validateproxycache',
    {
      schema: {
        ...op('validateProxyCacheConfig', tag, 'Validates the proxy cache configuration against the upstream registry.', 'org:admin'),
        params: OrgParams,
        body: ProxyCacheBody,
      },
      config: { scope: 'org:admin' },
    },
    async (req, reply) => {
      enabled();
      const org = await adminOrg(rt, req, req.params.orgname);
      if (await rt.proxyCache.configFor(org.id, rt.db)) throw badRequest('Proxy Cache Configuration already exists');
      let answer: 'Valid' | 'Anonymous';
      try {
        await rt.proxyCache.checkAllowed(req.body.upstream_registry);
        answer = await rt.proxyCache.validate(inputOf(req.body));
      } catch (e) {
        if (e instanceof UpstreamError && e.kind === 'auth') throw badRequest('Failed login to remote registry. Please verify entered details and try again.');
        throw configError(e, 'Failed to validate Proxy cache configuration');
      }
      reply.code(202).type('application/json');
      return JSON.stringify(answer);
    },
  );
}
