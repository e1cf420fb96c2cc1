/**
 * Attaching a build trigger to a GitHub, GitLab or Bitbucket account (Quay's githubtrigger / gitlabtrigger blueprints):
 * the service's OAuth authorize page sends the signed-in user back here with a `code`; it is exchanged for the
 * account's token at the service, and a new, inactive trigger holding that token (sealed) is created on the
 * repository, then the browser goes to the trigger's setup page, where the UI lists namespaces, sources and
 * Dockerfiles through the trigger API and activates it.
 *
 *   GET /oauth2/github/callback/trigger/{ns}/{repo}?code=…     (FEATURE_GITHUB_BUILD)
 *   GET /oauth2/gitlab/callback/trigger?code=…&state=repo:{ns}/{repo}   (FEATURE_GITLAB_BUILD)
 *   GET /bitbucket/setup/{ns}/{repo} → Bitbucket's authorize page with state={trigger uuid}, then
 *   GET /bitbucket/callback/trigger/{uuid}?code=… or /bitbucket/callback/trigger?code=…&state={uuid}   (FEATURE_BITBUCKET_BUILD)
 *
 * A session login is needed (401) and admin permission on the repository (403).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseCookies } from 'cookie';
import type { Runtime } from '../runtime.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import { atLeast } from '../auth/permissions.js';
import { exchangeOAuthCode, scmEnabled, scmEndpoints, slashJoin, ScmError } from '../model/scm.js';

const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ message });
/** Answer the refusal; null for the caller (nothing found). */
const refuse = (reply: FastifyReply, status: number, message: string): null => {
  fail(reply, status, message);
  return null;
};

export async function scmOAuthPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;

  /** The signed-in (session) user; null after answering 401. */
  async function sessionUser(req: FastifyRequest, reply: FastifyReply) {
    const sid = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
    const session = sid ? await rt.tenancy.sessions.lookup(sid) : null;
    const user = session ? await rt.namespaces.byId(session.user_id) : null;
    if (!user || !user.enabled) return refuse(reply, 401, 'Sign in first');
    return user;
  }

  /** The image repository `ns/name` the session user administers; null after answering 400/403/404/501. */
  async function adminRepo(req: FastifyRequest, reply: FastifyReply, repoPath: string) {
    const user = await sessionUser(req, reply);
    if (!user) return null;
    const slash = repoPath.indexOf('/');
    if (slash <= 0) return refuse(reply, 400, 'Invalid repository');
    const ref = { namespace: repoPath.slice(0, slash), name: repoPath.slice(slash + 1), full: repoPath };
    const target = await rt.repositories.lookup(ref);
    const principal = rt.auth.userPrincipal(user, { via: 'session' });
    if (!atLeast(await rt.permissions.repositoryRole(principal, target), 'admin')) return refuse(reply, 403, 'Unauthorized');
    if (!target.repo) return refuse(reply, 404, `Invalid repository: ${repoPath}`);
    if (target.repo.kind !== 'image') return refuse(reply, 501, 'Builds are only available for image repositories');
    return { user, repo: target.repo };
  }

  async function attach(req: FastifyRequest, reply: FastifyReply, service: 'github' | 'gitlab', repoPath: string, redirectUri: string) {
    const found = await adminRepo(req, reply, repoPath);
    if (!found) return reply;
    const code = (req.query as { code?: unknown }).code;
    if (typeof code !== 'string' || !code) return fail(reply, 400, 'Missing OAuth code');
    const ep = scmEndpoints(rt.config, service);
    let token: string;
    try {
      ({ access_token: token } = await exchangeOAuthCode(slashJoin(ep.web, service === 'github' ? 'login/oauth/access_token' : 'oauth/token'), {
        client_id: ep.clientId,
        client_secret: ep.clientSecret,
        code,
        redirect_uri: redirectUri,
        ...(service === 'gitlab' ? { grant_type: 'authorization_code' } : {}),
      }));
    } catch (err) {
      if (err instanceof ScmError) return fail(reply, 404, 'Could not exchange token. It may have expired.');
      throw err;
    }
    const trigger = await rt.triggers.createAttached(found.repo.id, service, found.user.id, token);
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
  if (scmEnabled(rt.config, 'bitbucket')) {
    // Quay's order: the inactive trigger exists first, and Bitbucket's authorization comes back to it.
    app.get<{ Params: { '*': string } }>('/bitbucket/setup/*', async (req, reply) => {
      const found = await adminRepo(req, reply, req.params['*']);
      if (!found) return reply;
      const trigger = await rt.triggers.create(found.repo.id, 'bitbucket', found.user.id);
      const ep = scmEndpoints(rt.config, 'bitbucket');
      const authorize = new URL(slashJoin(ep.web, 'site/oauth2/authorize'));
      authorize.search = new URLSearchParams({ client_id: ep.clientId, response_type: 'code', state: trigger.uuid }).toString();
      return reply.redirect(authorize.toString());
    });
    const callback = async (req: FastifyRequest<{ Querystring: { code?: string; state?: string } }>, reply: FastifyReply, uuid: string | undefined) => {
      const user = await sessionUser(req, reply);
      if (!user) return reply;
      const trigger = uuid ? await rt.triggers.byUuid(uuid) : null;
      // Someone else's or unknown: not found, as in Quay.
      if (!trigger || trigger.service !== 'bitbucket' || trigger.connected_user_id !== user.id || trigger.has_auth_token) return fail(reply, 404, 'Not Found');
      const code = req.query.code;
      const ep = scmEndpoints(rt.config, 'bitbucket');
      try {
        if (typeof code !== 'string' || !code) throw new ScmError('Missing OAuth code');
        const grant = await exchangeOAuthCode(
          slashJoin(ep.web, 'site/oauth2/access_token'),
          { grant_type: 'authorization_code', code },
          { id: ep.clientId, secret: ep.clientSecret },
        );
        await rt.triggers.attachGrant(trigger, grant);
      } catch (err) {
        if (!(err instanceof ScmError)) throw err;
        // As Quay: the unattached trigger goes.
        await rt.triggers.delete(trigger);
        return fail(reply, 400, 'Token has expired');
      }
      const repo = (await rt.repositories.byId(trigger.repository_id))!;
      const namespace = (await rt.namespaces.byId(repo.namespace_id))!;
      return reply.redirect(`/repository/${namespace.name}/${repo.name}/trigger/${trigger.uuid}`);
    };
    app.get<{ Params: { uuid: string }; Querystring: { code?: string; state?: string } }>('/bitbucket/callback/trigger/:uuid', (req, reply) =>
      callback(req, reply, req.params.uuid),
    );
    app.get<{ Querystring: { code?: string; state?: string } }>('/bitbucket/callback/trigger', (req, reply) => callback(req, reply, req.query.state));
  }
}
