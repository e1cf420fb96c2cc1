/**
 * Repository tokens (Quay: endpoints/api/repotoken.py): retired in Quay, every call answers 410 Gone with
 * Quay's `{message}` once the caller is shown to administer the repository.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { repoWithRole } from './auth.js';
import { messageError } from './errors.js';
import { op, RepoParams, typed } from './schema.js';

const tag = 'repotoken';
const HANDLING = 'Handling of access tokens is no longer supported';
const CREATION = 'Creation of access tokens is no longer supported';
const CodeParams = Type.Composite([RepoParams, Type.Object({ code: Type.String({ description: 'The token code' }) })]);

export async function repoTokenRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const cfg = { scope: 'repo:admin' as const };
  const gone = async (req: FastifyRequest, params: { namespace: string; repository: string }, message: string): Promise<never> => {
    await repoWithRole(rt, req, `${params.namespace}/${params.repository}`, 'admin');
    throw messageError(410, message);
  };
  app.get(
    '/repository/:namespace/:repository/tokens/',
    { schema: { ...op('listRepoTokens', tag, 'List the tokens for the specified repository.', 'repo:admin'), params: RepoParams }, config: cfg },
    (req) => gone(req, req.params, HANDLING),
  );
  app.post(
    '/repository/:namespace/:repository/tokens/',
    { schema: { ...op('createToken', tag, 'Create a new repository token.', 'repo:admin'), params: RepoParams }, config: cfg },
    (req) => gone(req, req.params, CREATION),
  );
  app.get(
    '/repository/:namespace/:repository/tokens/:code',
    { schema: { ...op('getTokens', tag, 'Fetch the specified repository token information.', 'repo:admin'), params: CodeParams }, config: cfg },
    (req) => gone(req, req.params, HANDLING),
  );
  app.put(
    '/repository/:namespace/:repository/tokens/:code',
    { schema: { ...op('changeToken', tag, 'Update the permissions for the specified repository token.', 'repo:admin'), params: CodeParams }, config: cfg },
    (req) => gone(req, req.params, HANDLING),
  );
  app.delete(
    '/repository/:namespace/:repository/tokens/:code',
    { schema: { ...op('deleteToken', tag, 'Delete the repository token.', 'repo:admin'), params: CodeParams }, config: cfg },
    (req) => gone(req, req.params, HANDLING),
  );
}
