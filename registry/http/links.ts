/**
 * Links the registry mails or posts to people, outside /api/v1: the e-mail authorization confirmation
 * (`/authrepoemail?code=`), a repository's build-status badge (`/repository/{repo}/status[?token=]`) and the download of an exported usage-log document (`/exportedlogs/<file>`, signed
 * and expiring; used where the blob store cannot pre-sign a URL of its own).
 */
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { escapeHtml } from '../model/event_kinds.js';
import { badgeSvg, repositoryBadge } from '../model/badges.js';
import { NameError, parseRepositoryPath } from '../oci/names.js';

function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
}

export async function linksPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
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
