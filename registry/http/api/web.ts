/** Web routes outside /api/v1 that browser sessions need: GET /csrf_token. */
import type { FastifyInstance } from 'fastify';
import { parse as parseCookies } from 'cookie';
import type { Runtime } from '../../runtime.js';
import { SESSION_COOKIE } from '../../auth/sessions.js';

export async function webSessionPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  app.get('/csrf_token', async (req, reply) => {
    const sid = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
    const session = sid ? await opts.rt.tenancy.sessions.lookup(sid) : null;
    reply.header('cache-control', 'no-store');
    // Without a session there is nothing a CSRF token would protect.
    return { csrf_token: session?.csrf_token ?? null };
  });
}
