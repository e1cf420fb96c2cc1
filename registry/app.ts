/** Assembles the HTTP server from its plugins. No logic lives here. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Runtime } from './runtime.js';
import { v2Plugin } from './http/v2/index.js';
import { apiPlugin } from './http/api/index.js';
import { webSessionPlugin } from './http/api/web.js';
import { healthPlugin } from './http/health.js';
import { keyServerPlugin } from './http/keyserver.js';
import { secscanPlugin } from './http/secscan.js';
import { checkRequestInput, clientErrorResponse, redactUrl } from './http/edge.js';
import type { Duplex } from 'node:stream';
import { registerUi } from './http/ui.js';
import { linksPlugin } from './http/links.js';
import { DomainError } from './model/errors.js';
import { sendApiError, toApiError } from './http/api/errors.js';
import { userfilesPlugin } from './http/userfiles.js';
import { webhooksPlugin } from './http/webhooks.js';
import { scmOAuthPlugin } from './http/scm_oauth.js';
import type { TlsPolicy } from './tls.js';
import { repositoryPathUrl } from './http/api/discovery.js';

export interface AppOptions {
  isShuttingDown: () => boolean;
  /** Serve HTTPS with this pair (HTTP/2 by ALPN, HTTP/1.1 beside it); plain HTTP is routed in by the caller. */
  tls?: ({ cert: Buffer; key: Buffer } & TlsPolicy) | null;
  /**
   * Addresses or CIDRs of the proxies in front of the registry (TRUSTED_PROXIES): only a request arriving
   * from one of them may set the client address with X-Forwarded-For. Empty: nobody may.
   */
  trustedProxies?: string[];
  /** A connection idle this long (no bytes either way) is closed: a stalled upload body does not hold a descriptor forever. */
  idleTimeoutMs?: number;
}

/** Request headers must arrive within this (slowloris). */
const HEADERS_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

function createServer(rt: Runtime, opts: AppOptions): FastifyInstance {
  const options = {
    loggerInstance: rt.log as FastifyBaseLogger,
    // One line per request is written in onResponse, with the route and status.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    trustProxy: opts.trustedProxies && opts.trustedProxies.length > 0 ? opts.trustedProxies : false,
    return503OnClosing: true,
    keepAliveTimeout: 75_000,
    connectionTimeout: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    // No limit on a whole request: blob uploads of many gigabytes may take long; an idle one is closed above.
    requestTimeout: 0,
    rewriteUrl: (req: { url?: string }) => repositoryPathUrl(req.url ?? '/'),
  };
  const tls = opts.tls;
  // Typed as the HTTP/1 instance: handlers use only what HTTP/1 and HTTP/2 requests share.
  const app = tls
    ? (Fastify({
        ...options,
        http2: true,
        https: { allowHTTP1: true, cert: tls.cert, key: tls.key, minVersion: tls.minVersion, maxVersion: tls.maxVersion, ciphers: tls.ciphers },
      }) as unknown as FastifyInstance)
    : Fastify(options);
  (app.server as { headersTimeout?: number }).headersTimeout = HEADERS_TIMEOUT_MS;
  // Fastify's own answer to a request the HTTP parser refused is a JSON of neither protocol.
  app.server.removeAllListeners('clientError');
  app.server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) socket.write(clientErrorResponse(err, `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}`));
    socket.destroy();
  });
  return app;
}

/** A worker role's server (`mirror`): health checks and /metrics only. */
export async function buildWorkerApp(rt: Runtime, opts: AppOptions): Promise<FastifyInstance> {
  const app = createServer(rt, opts);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', rt.metrics.registry.contentType);
    return rt.metrics.text();
  });
  await app.register(healthPlugin, { rt, isShuttingDown: opts.isShuttingDown });
  return app;
}

export async function buildApp(rt: Runtime, opts: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = createServer(rt, opts);

  app.addHook('onRequest', async (req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    reply.header('x-request-id', req.id);
  });
  app.addHook('onRequest', checkRequestInput);
  // Outside /v2 and /api/v1 (health, web sign-in, UI paths) a domain error answers in the REST API's format;
  // anything else goes on to Fastify's own handler.
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof DomainError) return sendApiError(rt, req, reply, toApiError(err));
    throw err;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.metricRoute ?? req.routeOptions.url ?? 'unknown';
    const seconds = reply.elapsedTime / 1000;
    rt.metrics.requests.inc({ route, method: req.method, status: reply.statusCode });
    rt.metrics.requestDuration.observe({ route, method: req.method }, seconds);
    const sent = Number(reply.getHeader('content-length') ?? 0);
    if (req.method !== 'HEAD' && sent > 0) rt.metrics.bytesSent.inc(sent);
    // Query strings are kept for debugging, with the values of secret-bearing parameters redacted.
    req.log.info({ method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime), route }, 'request');
  });

  // A write outside /v2 (the REST API: visibility, permissions, tags, deletions, ...) answers once this process's
  // caches have applied it and the other processes have been sent it (cache/coherence.ts); /v2 manifest writes
  // fence themselves, blob uploads change nothing cached.
  app.addHook('onSend', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS' && !req.url.startsWith('/v2/')) await rt.caches.coherence.fence();
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', rt.metrics.registry.contentType);
    return rt.metrics.text();
  });

  await app.register(healthPlugin, { rt, isShuttingDown: opts.isShuttingDown });
  await app.register(v2Plugin, { rt });
  await app.register(apiPlugin, { rt, prefix: '/api/v1' });
  await app.register(webSessionPlugin, { rt });
  await app.register(linksPlugin, { rt });
  if (rt.config.FEATURE_BUILD_SUPPORT) {
    await app.register(userfilesPlugin, { rt });
    await app.register(webhooksPlugin, { rt });
    await app.register(scmOAuthPlugin, { rt });
  }
  await app.register(secscanPlugin, { rt });
  await app.register(keyServerPlugin, { rt });
  await registerUi(app, { recaptcha: rt.config.FEATURE_RECAPTCHA });
  return app;
}
