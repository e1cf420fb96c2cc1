/** `GET /api/v1/error/{error_type}`: the page every error body's `type` links to (Quay: endpoints/api/error.py). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { ERROR_DESCRIPTIONS, notFound } from './errors.js';
import { op, typed } from './schema.js';

export async function errorRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  typed(base).get(
    '/error/:error_type',
    {
      schema: {
        ...op('getErrorDescription', 'error', 'Get a detailed description of the error.'),
        params: Type.Object({ error_type: Type.String({ description: 'The error code identifying the type of error.' }) }),
      },
      config: { anonymousAllowed: true },
    },
    async (req) => {
      const type = req.params.error_type;
      if (!Object.hasOwn(ERROR_DESCRIPTIONS, type)) throw notFound();
      const host = req.headers.host ?? rt.config.SERVER_HOSTNAME;
      return {
        type: `${rt.config.PREFERRED_URL_SCHEME}://${host}/api/v1/error/${type}`,
        title: type,
        description: ERROR_DESCRIPTIONS[type as keyof typeof ERROR_DESCRIPTIONS],
      };
    },
  );
}
