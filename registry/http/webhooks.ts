/**
 * `POST /webhooks/push/trigger/<uuid>` (and Quay's older `/webhooks/push/<ns>/<repo>/trigger/<uuid>`): the
 * push webhook of a build trigger. The caller authenticates with HTTP Basic `$token:<token>`, the token of the
 * trigger's webhook URL (no other credential: a user's password opens no trigger). An unknown trigger and a
 * wrong token get the same 403, so the endpoint does not tell which trigger uuids exist. A skipped push
 * (ping, deleted branch, `[skip build]`, a ref the trigger's regex filters out) answers 200 "Okay" like a
 * queued build, as in Quay.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../runtime.js';
import { parseUntrustedJson } from '../input.js';
import { parseBasic } from '../auth/credentials.js';
import { ACCESS_TOKEN_USERNAME } from '../auth/credentials.js';
import { SkipRequest } from '../model/trigger_metadata.js';
import { isActive } from '../model/triggers.js';
import { DomainError } from '../model/errors.js';
import { toApiError } from './api/errors.js';

const fail = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ message });

export async function webhooksPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  // SCMs send JSON (GitLab, Bitbucket) or form-less JSON with any type; the body is read as text and parsed here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

  async function handle(req: FastifyRequest<{ Params: { uuid: string; namespace?: string; repository?: string } }>, reply: FastifyReply) {
    const creds = parseBasic(req.headers.authorization);
    if (!creds)
      return reply
        .header('www-authenticate', 'Basic realm="webhooks"')
        .code(401)
        .send({ message: 'Authentication required: use the webhook URL of the trigger, with its $token credentials' });
    const trigger = creds.username === ACCESS_TOKEN_USERNAME ? await rt.triggers.authenticateWebhook(req.params.uuid, creds.password) : null;
    const repo = trigger ? await rt.repositories.byId(trigger.repository_id) : null;
    const namespace = repo ? await rt.namespaces.byId(repo.namespace_id) : null;
    const pathMatches = req.params.namespace === undefined || (namespace?.name === req.params.namespace && repo?.name === req.params.repository);
    if (!trigger || !repo || !namespace || !pathMatches || !isActive(trigger)) return fail(reply, 403, 'Invalid webhook credentials for this trigger');
    const principal = { kind: 'token' as const, id: 0, repositoryId: repo.id, role: 'write' as const, tokenKind: 'build-trigger' };
    if (!trigger.enabled) return fail(reply, 400, 'This build trigger is currently disabled. Please re-enable to continue.');
    const text = typeof req.body === 'string' ? req.body : '';
    let body: unknown;
    try {
      body = text.trim() === '' ? undefined : parseUntrustedJson(text);
    } catch (err) {
      return fail(reply, 400, `Invalid payload: ${(err as Error).message}`);
    }
    try {
      await rt.writeGate.check(principal, repo, 'api');
      const prepared = rt.triggers.prepareWebhookBuild(trigger, body);
      await rt.buildRequests.fromTrigger({ id: repo.id, namespace_id: repo.namespace_id, namespace: namespace.name, name: repo.name }, trigger, prepared, {
        principal,
        ip: req.ip,
      });
    } catch (err) {
      if (err instanceof SkipRequest) {
        req.log.info({ trigger: trigger.uuid, reason: err.message }, 'webhook skipped');
        return reply.code(200).send('Okay');
      }
      // Bad payloads 400, the queue limit 429, a repository that takes no builds 501/503: as the REST API maps them.
      if (err instanceof DomainError) return fail(reply, toApiError(err).status, err.message);
      throw err;
    }
    return reply.code(200).send('Okay');
  }

  app.post<{ Params: { uuid: string } }>('/webhooks/push/trigger/:uuid', handle);
  app.post<{ Params: { uuid: string; namespace: string; repository: string } }>('/webhooks/push/:namespace/:repository/trigger/:uuid', handle);
}
