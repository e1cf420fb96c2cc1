/** Assembles the HTTP server from its plugins. No logic lives here. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Runtime } from './runtime.js';
import { v2Plugin } from './http/v2/index.js';
import { apiPlugin } from './http/api/index.js';
import { webSessionPlugin } from './http/api/web.js';
import { healthPlugin } from './http/health.js';
import { secscanPlugin } from './http/secscan.js';
import { checkRequestInput } from './http/edge.js';
import { registerUi } from './http/ui.js';
import { linksPlugin } from './http/links.js';

export interface AppOptions {
  isShuttingDown: () => boolean;
}

function createServer(rt: Runtime): FastifyInstance {
  return Fastify({
    loggerInstance: rt.log as FastifyBaseLogger,
    // One line per request is written in onResponse, with the route and status.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    trustProxy: true,
    return503OnClosing: true,
    keepAliveTimeout: 75_000,
  });
}

/** A worker role's server (`mirror`): health checks and /metrics only. */
export async function buildWorkerApp(rt: Runtime, opts: AppOptions): Promise<FastifyInstance> {
  const app = createServer(rt);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', rt.metrics.registry.contentType);
    return rt.metrics.registry.metrics();
  });
  await app.register(healthPlugin, { rt, isShuttingDown: opts.isShuttingDown });
  return app;
}

export async function buildApp(rt: Runtime, opts: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = createServer(rt);

  app.addHook('onRequest', async (req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    reply.header('x-request-id', req.id);
  });
  app.addHook('onRequest', checkRequestInput);

  app.addHook('onResponse', async (req, reply) => {
    const route = req.metricRoute ?? req.routeOptions.url ?? 'unknown';
    const seconds = reply.elapsedTime / 1000;
    rt.metrics.requests.inc({ route, method: req.method, status: reply.statusCode });
    rt.metrics.requestDuration.observe({ route, method: req.method }, seconds);
    const sent = Number(reply.getHeader('content-length') ?? 0);
    if (req.method !== 'HEAD' && sent > 0) rt.metrics.bytesSent.inc(sent);
    // The URL never carries credentials (tokens travel in headers); query strings are kept for debugging.
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime), route }, 'request');
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', rt.metrics.registry.contentType);
    return rt.metrics.registry.metrics();
  });

  await app.register(healthPlugin, { rt, isShuttingDown: opts.isShuttingDown });
  await app.register(v2Plugin, { rt });
  await app.register(apiPlugin, { rt, prefix: '/api/v1' });
  await app.register(webSessionPlugin, { rt });
  await app.register(linksPlugin, { rt });
  await app.register(secscanPlugin, { rt });
  await registerUi(app);
  return app;
}
