/**
 * Web routes outside /api/v1 that every Quay web client reads first: `GET /config` (the public settings and
 * feature flags) and `GET /csrf_token` (the session's CSRF token; a fresh anonymous session when there is
 * none, as Quay's cookie session gives one).
 */
import type { FastifyInstance } from 'fastify';
import { parse as parseCookies } from 'cookie';
import type { Runtime } from '../../runtime.js';
import { featureFlags, frontendVisibleConfig } from '../../../config/index.js';
import { SESSION_COOKIE } from '../../auth/sessions.js';
import { setSessionCookie } from './auth.js';
import { scmPublicConfig } from '../../model/scm.js';

export async function webSessionPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  const sessions = rt.tenancy.sessions;

  app.get('/config', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return {
      config: frontendVisibleConfig(rt.config),
      features: featureFlags(rt.config),
      // No OAuth login services (GitHub, Google, OIDC) are implemented; the build trigger services are.
      oauth: scmPublicConfig(rt.config),
      external_login: [],
      registry_state: rt.config.REGISTRY_STATE,
      account_recovery_mode: rt.config.ACCOUNT_RECOVERY_MODE,
    };
  });

  app.get('/csrf_token', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const sid = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
    if (sid) {
      const signedIn = await sessions.lookup(sid);
      if (signedIn) return { csrf_token: signedIn.csrf_token };
      const anonymous = sessions.anonymousCsrf(sid);
      if (anonymous) return { csrf_token: anonymous };
    }
    const fresh = sessions.anonymous();
    setSessionCookie(rt, reply, fresh.id);
    return { csrf_token: fresh.csrf };
  });
}
