/**
 * POST /api/v1/user/initialize: create the first user of an empty registry (FEATURE_USER_INITIALIZE), as Quay
 * does. With `access_token: true` it also creates the user's OAuth application "automation" and returns an
 * access token carrying every scope, so that automation can continue through the API.
 */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { passwordProblem } from '../../auth/passwords.js';
import { SCOPES } from '../../auth/principal.js';
import { validNamespaceName } from '../../oci/names.js';
import { badRequest, notFound } from './errors.js';

interface Body {
  username?: unknown;
  password?: unknown;
  email?: unknown;
  access_token?: unknown;
}

export function validEmail(email: string): boolean {
  return email.length <= 254 && /^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$/.test(email);
}

export async function userInitializeRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  app.post<{ Body: Body }>('/user/initialize', { schema: { hide: true }, config: { noCsrf: true, anonymousAllowed: true } }, async (req, reply) => {
    if (!rt.config.FEATURE_USER_INITIALIZE) throw notFound();
    const { username, password, email } = req.body ?? {};
    if (typeof username !== 'string' || !validNamespaceName(username)) throw badRequest('Invalid username: use 2-255 lowercase letters, digits and single . _ - separators');
    if (!rt.namespaces.mayInitializeAs(username)) throw badRequest('The first user must be one of SUPER_USERS in the configuration');
    const problem = passwordProblem(password);
    if (problem) throw badRequest(problem);
    if (email !== undefined && email !== null && (typeof email !== 'string' || !validEmail(email))) throw badRequest('Invalid email address');
    const user = await rt.db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock(774412)');
      if ((await rt.namespaces.countUsers(q)) > 0) throw badRequest('Cannot initialize user in a non-empty database');
      return rt.namespaces.createUser(
        { name: username, password: password as string, email: (email as string | undefined) ?? null, superuser: rt.config.SUPER_USERS.includes(username) },
        q,
      );
    });
    rt.logs.log({ kind: 'user_create', performer: rt.auth.userPrincipal(user), namespaceId: user.id, ip: req.ip, metadata: { username: user.name, via: 'initialize' } });
    const result: Record<string, unknown> = { username: user.name, email: user.email, encrypted_password: rt.auth.encryptPassword(password as string) };
    if (req.body?.access_token === true) {
      const application = await rt.tenancy.oauth.create(user, { name: 'automation', description: 'Application token generated via /api/v1/user/initialize' }, user.name);
      // Every scope, as Quay grants; super:user only takes effect for superusers (the resolver checks both).
      const { token } = await rt.tenancy.oauth.createToken(application, user, { name: 'automation', scope: SCOPES.join(' ') });
      result.access_token = token;
    }
    return reply.send(result);
  });
}
