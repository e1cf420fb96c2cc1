/** The Quay REST API under /api/v1: one file per resource, registered here. */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { RegistryError } from '../../errors.js';
import { ApiError, sendApiError } from './errors.js';
import { userInitializeRoutes } from './user_initialize.js';

export async function apiPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return sendApiError(rt, req, reply, err);
    if (err instanceof RegistryError && err.status < 500) return sendApiError(rt, req, reply, new ApiError(err.status, err.status === 404 ? 'not_found' : 'invalid_request', err.message));
    const e = err as { statusCode?: number; validation?: unknown; message: string };
    if (e.statusCode && e.statusCode < 500) return sendApiError(rt, req, reply, new ApiError(e.statusCode, e.statusCode === 404 ? 'not_found' : 'invalid_request', e.message));
    req.log.error({ err }, 'unexpected error');
    sendApiError(rt, req, reply, new ApiError(500, 'internal_error', 'Internal server error'));
  });
  app.setNotFoundHandler((req, reply) => sendApiError(rt, req, reply, new ApiError(404, 'not_found', 'Not Found')));
  await userInitializeRoutes(app, rt);
}
