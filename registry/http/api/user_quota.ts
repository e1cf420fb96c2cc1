/** `/user/quota...`: the caller's own quota, read-only (superusers change it through superuser_quota.ts). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { currentUser } from './auth.js';
import { quotaResource } from './quota.js';

export async function userQuotaRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  await quotaResource(app, rt, {
    prefix: '/user',
    params: Type.Object({}),
    tag: 'user',
    opPrefix: 'User',
    canWrite: false,
    namespace: (req) => currentUser(rt, req),
  });
}
