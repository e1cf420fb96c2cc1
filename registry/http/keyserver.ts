/**
 * Quay's key server (endpoints/keyserver): services publish the public keys they sign JWTs with.
 *   GET    /keys/services/{service}/keys        the approved, unexpired keys of a service (`{keys: [jwk]}`)
 *   GET    /keys/services/{service}/keys/{kid}  one key: 404 unknown, 409 not approved yet, 403 expired
 *   PUT    /keys/services/{service}/keys/{kid}  body: the public JWK; `Authorization: Bearer <JWT>` whose
 *          issuer is the service and audience `{PREFERRED_URL_SCHEME}://{SERVER_HOSTNAME}`. Signed by the new
 *          key itself (no `kid` or the same kid): stored unapproved, 202, superusers are notified. Signed by
 *          an approved key of the service: that key is rotated into the new one, 200.
 *   DELETE /keys/services/{service}/keys/{kid}  signed by the key itself or an approved key of the service: 204
 * Every change is a `service_key_*` usage log, as in Quay.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import type { Runtime } from '../runtime.js';
import { ANONYMOUS } from '../auth/principal.js';
import { parseUntrustedJson } from '../input.js';
import { publicJwk, ServiceKeyError, type ServiceKeyRow } from '../model/service_keys.js';

/** How long a client may cache one key: a day at most, never past its expiration. */
const MAX_KEY_CACHE_S = 86_400;

class KeyServerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function bearer(req: FastifyRequest): string {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new KeyServerError(400, 'Could not find matching bearer token');
  return m[1];
}

function signerKid(jwt: string): string | undefined {
  try {
    return decodeProtectedHeader(jwt).kid;
  } catch {
    throw new KeyServerError(400, 'Malformed JWT');
  }
}

/** Quay's _validate_jwt: signed by `jwk`, issued by the service, for this registry. */
async function checkJwt(rt: Runtime, jwt: string, jwk: JWK, service: string): Promise<void> {
  const alg = jwk.kty === 'RSA' ? 'RS256' : 'ES256';
  try {
    const key = await importJWK(jwk, alg);
    await jwtVerify(jwt, key, { algorithms: [alg], issuer: service, audience: `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}` });
  } catch (err) {
    throw new KeyServerError(400, `JWT validation failure: ${(err as Error).message}`);
  }
}

function unixDate(value: unknown): Date | null {
  if (value === undefined) return null;
  const d = new Date(Number(value) * 1000);
  if (typeof value !== 'string' || value.trim() === '' || Number.isNaN(d.getTime())) throw new KeyServerError(400, 'Invalid expiration date');
  return d;
}

const withKid = (k: ServiceKeyRow) => ({ ...k.jwk, kid: k.kid });

export async function keyServerPlugin(app: FastifyInstance, opts: { rt: Runtime }): Promise<void> {
  const { rt } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, String(body).trim() === '' ? undefined : parseUntrustedJson(String(body)));
    } catch {
      done(new KeyServerError(400, 'Error parsing JWK'), undefined);
    }
  });
  app.setErrorHandler((err, req, reply: FastifyReply) => {
    if (err instanceof KeyServerError) return reply.code(err.status).send({ error: err.message });
    if (err instanceof ServiceKeyError) return reply.code(err.reason === 'not_found' ? 404 : err.reason === 'exists' ? 409 : 400).send({ error: err.message });
    req.log.error({ err }, 'key server error');
    return reply.code(500).send({ error: 'Internal server error' });
  });

  const userAgent = (req: FastifyRequest) => req.headers['user-agent'] ?? null;
  const log = (req: FastifyRequest, kind: string, metadata: Record<string, unknown>) =>
    rt.logs.log({ kind, performer: ANONYMOUS, namespaceId: null, ip: req.ip, metadata: { ...metadata, user_agent: userAgent(req), ip: req.ip } });

  app.get<{ Params: { service: string } }>('/keys/services/:service/keys', async (req) => ({ keys: (await rt.serviceKeys.listAlive(req.params.service)).map(withKid) }));

  app.get<{ Params: { service: string; kid: string } }>('/keys/services/:service/keys/:kid', async (req, reply) => {
    const key = await rt.serviceKeys.get(req.params.kid);
    if (!key) throw new KeyServerError(404, 'Unknown key');
    if (!key.approval) throw new KeyServerError(409, 'The key is awaiting approval');
    const left = key.expiration_date ? (key.expiration_date.getTime() - Date.now()) / 1000 : Infinity;
    if (left <= 0) throw new KeyServerError(403, 'The key has expired');
    reply.header('cache-control', `max-age=${Math.floor(Math.min(MAX_KEY_CACHE_S, left))}`);
    return withKid(key);
  });

  app.put<{ Params: { service: string; kid: string }; Querystring: { expiration?: string; rotation?: string } }>('/keys/services/:service/keys/:kid', async (req, reply) => {
    const { service, kid } = req.params;
    const expiration = unixDate(req.query.expiration);
    const rotation = req.query.rotation === undefined ? null : Number.parseInt(req.query.rotation, 10);
    if (rotation !== null && !Number.isSafeInteger(rotation)) throw new KeyServerError(400, 'Invalid rotation duration');
    const jwt = bearer(req);
    let jwk: JWK;
    try {
      jwk = publicJwk(req.body);
    } catch (err) {
      throw new KeyServerError(400, (err as Error).message);
    }
    const signer = signerKid(jwt);
    if (!signer || signer === kid) {
      await checkJwt(rt, jwt, jwk, service);
      await rt.serviceKeys.submit({ kid, service, jwk, metadata: { ip: req.ip }, expiration, rotationDuration: rotation });
      log(req, 'service_key_create', { kid, preshared: false, service, name: '', expiration_date: expiration?.toISOString() ?? null });
      return reply.code(202).send();
    }
    const signerKey = await rt.serviceKeys.signer(signer, service);
    if (!signerKey) throw new KeyServerError(403, 'The signing key is not an approved key of this service');
    await checkJwt(rt, jwt, signerKey.jwk, service);
    await rt.serviceKeys.rotate(signerKey.kid, { kid, jwk, metadata: { ip: req.ip, created_by: 'Key Rotation' }, expiration });
    log(req, 'service_key_rotate', { kid, signer_kid: signerKey.kid, service, name: signerKey.name, expiration_date: expiration?.toISOString() ?? null });
    return reply.code(200).send();
  });

  app.delete<{ Params: { service: string; kid: string } }>('/keys/services/:service/keys/:kid', async (req, reply) => {
    const { service, kid } = req.params;
    const jwt = bearer(req);
    const signer = signerKid(jwt);
    if (!signer) throw new KeyServerError(400, 'The JWT names no key');
    const signerKey = await rt.serviceKeys.get(signer);
    if (!signerKey || signerKey.service !== service) throw new KeyServerError(403, 'Unknown signing key');
    if (signer !== kid && !signerKey.approval) throw new KeyServerError(403, 'The signing key is not approved');
    await checkJwt(rt, jwt, signerKey.jwk, service);
    await rt.serviceKeys.delete(kid);
    log(req, 'service_key_delete', { kid, signer_kid: signerKey.kid, service, name: signerKey.name });
    return reply.code(204).send();
  });
}
