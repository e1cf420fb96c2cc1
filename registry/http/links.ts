/**
 * Links the registry mails or posts to people, outside /api/v1: an account's address confirmation
 * (`/confirm?code=`) and password recovery (`/recovery?code=`), both signing the user in; the e-mail authorization confirmation
 * (`/authrepoemail?code=`), a repository's build-status badge (`/repository/{repo}/status[?token=]`) and the download of an exported usage-log document (`/exportedlogs/<file>`, signed
 * and expiring; used where the blob store cannot pre-sign a URL of its own).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Runtime } from '../runtime.js';
import { escapeHtml } from '../model/event_kinds.js';
import { badgeSvg, repositoryBadge } from '../model/badges.js';
import { NameError, parseRepositoryPath } from '../oci/names.js';
import { setSessionCookie } from './api/auth.js';
import type { NamespaceRow } from '../model/namespaces.js';
import { Invalid } from '../model/errors.js';

function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
}

export async function linksPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  /** Signs `user` in (a fresh session, as Quay's common_login) and sends the browser to `to`. */
  const signInAndGo = async (reply: FastifyReply, user: NamespaceRow, to: string) => {
    const session = await rt.tenancy.sessions.create(user.id);
    setSessionCookie(rt, reply, session.id);
    return reply.code(302).header('location', to).header('cache-control', 'no-store').send();
  };
  const settings = (user: NamespaceRow) => `/user/${encodeURIComponent(user.name)}?tab=Settings`;
  const codeOf = (q: { code?: unknown }) => (typeof q.code === 'string' ? q.code : '');
  /** A link that cannot be followed: a 400 page saying why. */
  const refused = (reply: FastifyReply, title: string, text: string) => reply.code(400).header('content-type', 'text/html; charset=utf-8').send(page(title, text));

  app.get<{ Querystring: { code?: string } }>('/confirm', async (req, reply) => {
    let done;
    try {
      done = await rt.accountMail.confirm(codeOf(req.query));
    } catch (e) {
      // The new address was taken by another account meanwhile: the link stays unused.
      if (!(e instanceof Invalid)) throw e;
      return refused(reply, 'E-mail address not changed', e.message);
    }
    if (!done) return refused(reply, 'Invalid confirmation code', 'This confirmation link is not valid or was already used.');
    const { user, newEmail, oldEmail } = done;
    if (newEmail) {
      rt.logs.log({ kind: 'user_change_email', performer: rt.auth.userPrincipal(user), namespaceId: user.id, ip: req.ip, metadata: { email: newEmail, old_email: oldEmail } });
    }
    return signInAndGo(reply, user, newEmail ? settings(user) : '/');
  });

  app.get<{ Querystring: { code?: string } }>('/recovery', async (req, reply) => {
    if (!rt.accountMail.enabled) return reply.callNotFound();
    const user = await rt.accountMail.recover(codeOf(req.query));
    if (!user) return refused(reply, 'Invalid recovery code', 'This code is invalid, has expired or was already used. Ask for a new one on the sign-in page.');
    return signInAndGo(reply, user, settings(user));
  });

  app.get<{ Querystring: { code?: string } }>('/authrepoemail', async (req, reply) => {
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    const done = await rt.notificationConfigs.confirmEmail(code);
    reply.header('content-type', 'text/html; charset=utf-8');
    if (!done) return reply.code(404).send(page('Invalid confirmation code', 'This confirmation link is not valid. Ask a repository administrator for a new one.'));
    return page('E-mail address confirmed', `${done.email} will now receive the notifications of repository ${done.namespace}/${done.repository} it is configured for.`);
  });

  app.get<{ Params: { file: string }; Querystring: { expires?: string; signature?: string } }>('/exportedlogs/:file', async (req, reply) => {
    const body = await rt.logExports.open(req.params.file, req.query.expires, req.query.signature);
    if (!body) return reply.code(404).send({ error_message: 'This export link is not valid or has expired', error_type: 'not_found', status: 404 });
    reply.header('content-type', 'application/json').header('content-disposition', `attachment; filename="${req.params.file}.json"`).header('cache-control', 'private, no-store');
    return reply.send(body);
  });

  // Nested names (FEATURE_EXTENDED_REPOSITORY_NAMES) come with %2F in the name, as in /api/v1.
  app.get<{ Params: { namespace: string; repository: string }; Querystring: { token?: string } }>('/repository/:namespace/:repository/status', async (req, reply) => {
    let ref;
    try {
      ref = parseRepositoryPath(`${req.params.namespace}/${req.params.repository}`, { libraryNamespace: null, extendedNames: rt.config.FEATURE_EXTENDED_REPOSITORY_NAMES });
    } catch (e) {
      if (e instanceof NameError) return reply.code(404).send();
      throw e;
    }
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const status = await repositoryBadge(rt.repositories, rt.builds, ref, token);
    if (!status) return reply.code(404).send();
    reply.header('cache-control', 'no-cache').header('etag', status);
    if (req.headers['if-none-match'] === status) return reply.code(304).send();
    return reply.type('image/svg+xml').send(badgeSvg(status));
  });
}
