/** Quota of any user or organization for superusers: `/superuser/users/{namespace}/quota...` and `/superuser/organization/{namespace}/quota...`. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { requireSuperuserRead } from './auth.js';
import { notFound } from './errors.js';
import { quotaResource } from './quota.js';

export async function superuserQuotaRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  for (const [path, kind, opPrefix] of [
    ['users', 'user', 'User'],
    ['organization', 'org', 'Organization'],
  ] as const) {
    await quotaResource(app, rt, {
      prefix: `/superuser/${path}/:namespace`,
      params: Type.Object({ namespace: Type.String() }),
      tag: 'superuser',
      // Quay's nicknames: listUserQuotaSuperUser, createOrganizationQuotaSuperUser, ... (endpoints/api/superuser.py).
      opPrefix,
      opSuffix: 'SuperUser',
      canWrite: true,
      async namespace(req) {
        requireSuperuserRead(rt, req);
        const name = (req.params as { namespace: string }).namespace;
        const ns = await rt.namespaces.byName(name);
        if (!ns || ns.kind !== kind) throw notFound(`${kind === 'user' ? 'User' : 'Organization'} ${name} not found`);
        return ns;
      },
    });
  }
}
