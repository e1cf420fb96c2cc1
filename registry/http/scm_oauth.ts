/**
 * Attaching a build trigger to a GitHub or GitLab account (Quay's githubtrigger / gitlabtrigger blueprints):
 * the service's OAuth authorize page sends the signed-in user back here with a `code`; it is exchanged for the
 * account's token at the service, and a new, inactive trigger holding that token (sealed) is created on the
 * repository, then the browser goes to the trigger's setup page, where the UI lists namespaces, sources and
 * Dockerfiles through the trigger API and activates it.
 *
 *   GET /oauth2/github/callback/trigger/{ns}/{repo}?code=…     (FEATURE_GITHUB_BUILD)
 *   GET /oauth2/gitlab/callback/trigger?code=…&state=repo:{ns}/{repo}   (FEATURE_GITLAB_BUILD)
 *
 * A session login is needed (401) and admin permission on the repository (403).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseCookies } from 'cookie';
import type { Runtime } from '../runtime.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import { atLeast } from '../auth/permissions.js';
import { exchangeOAuthCode, scmEnabled, scmEndpoints, slashJoin, ScmError, type ScmService } from '../model/scm.js';

const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ message });

export async function scmOAuthPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;

  async function attach(req: FastifyRequest, reply: FastifyReply, service: ScmService, repoPath: string, redirectUri: string) {
    const sid = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
    const session = sid ? await rt.tenancy.sessions.lookup(sid) : null;
    const user = session ? await rt.namespaces.byId(session.user_id) : null;
    if (!user || !user.enabled) return fail(reply, 401, 'Sign in first');
    const slash = repoPath.indexOf('/');
    if (slash <= 0) return fail(reply, 400, 'Invalid repository');
    const ref = { namespace: repoPath.slice(0, slash), name: repoPath.slice(slash + 1), full: repoPath };
    const target = await rt.repositories.lookup(ref);
    const principal = rt.auth.userPrincipal(user, { via: 'session' });
    if (!atLeast(await rt.permissions.repositoryRole(principal, target), 'admin')) return fail(reply, 403, 'Unauthorized');
    if (!target.repo) return fail(reply, 404, `Invalid repository: ${repoPath}`);
    if (target.repo.kind !== 'image') return fail(reply, 501, 'Builds are only available for image repositories');
    const code = (req.query as { code?: unknown }).code;
    if (typeof code !== 'string' || !code) return fail(reply, 400, 'Missing OAuth code');
    const ep = scmEndpoints(rt.config, service);
    let token: string;
    try {
      token = await exchangeOAuthCode(slashJoin(ep.web, service === 'github' ? 'login/oauth/access_token' : 'oauth/token'), {
        client_id: ep.clientId,
        client_secret: ep.clientSecret,
        code,
        redirect_uri: redirectUri,
        ...(service === 'gitlab' ? { grant_type: 'authorization_code' } : {}),
      });
    } catch (err) {
      if (err instanceof ScmError) return fail(reply, 404, 'Could not exchange token. It may have expired.');
      throw err;
    }
    const trigger = await rt.triggers.createAttached(target.repo.id, service, user.id, token);
    return reply.redirect(`/repository/${repoPath}/trigger/${trigger.uuid}`);
  }

  const base = () => `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}`;
  if (scmEnabled(rt.config, 'github')) {
    app.get<{ Params: { '*': string } }>('/oauth2/github/callback/trigger/*', (req, reply) =>
      attach(req, reply, 'github', req.params['*'], `${base()}/oauth2/github/callback/trigger/${req.params['*']}`),
    );
  }
  if (scmEnabled(rt.config, 'gitlab')) {
    app.get<{ Querystring: { state?: string } }>('/oauth2/gitlab/callback/trigger', (req, reply) => {
      const state = req.query.state;
      if (typeof state !== 'string' || !state.startsWith('repo:')) return fail(reply, 400, 'Invalid state');
      return attach(req, reply, 'gitlab', state.slice('repo:'.length), `${base()}/oauth2/gitlab/callback/trigger`);
    });
  }
}
