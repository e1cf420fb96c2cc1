/**
 * The web UI at `/`: the files Vite built into dist/ui (registry/ui/), and index.html for every other GET
 * that asks for a page (client-side routes), never for the API, /v2 or the service endpoints, which keep
 * their own answers. Every UI response carries a strict CSP (scripts only from this origin, no inline
 * script), refuses framing, and turns off MIME sniffing. With FEATURE_RECAPTCHA, and only then, the CSP
 * also lets in Google's reCAPTCHA script and challenge frame.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

/** dist/registry/http/ui.js → dist/ui/ */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** Paths that belong to the server, not to the UI's client-side router. */
const SERVER_PATHS = /^\/(api|v1|v2|csrf_token|config|health|metrics|oauth|static)(\/|$|\?)/;

/** The origins Google documents for reCAPTCHA under a CSP: its script (and what it loads) and the challenge frame. */
const RECAPTCHA_SCRIPT_SRC = ['https://www.google.com/recaptcha/', 'https://www.gstatic.com/recaptcha/'];
const RECAPTCHA_FRAME_SRC = ['https://www.google.com/recaptcha/', 'https://recaptcha.google.com/recaptcha/'];

export function uiSecurityHeaders(opts: { recaptcha: boolean }): Record<string, string> {
  const directives = [
    "default-src 'self'",
    ['script-src', "'self'", ...(opts.recaptcha ? RECAPTCHA_SCRIPT_SRC : [])].join(' '),
    // PatternFly positions popovers and React sets style properties through the CSSOM, which CSP allows;
    // only stylesheets from this origin are loaded.
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ];
  if (opts.recaptcha) directives.push(['frame-src', ...RECAPTCHA_FRAME_SRC].join(' '));
  return {
    'content-security-policy': directives.join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  };
}

/** Registered on the root instance (the SPA fallback is the root's not-found handler). */
export async function registerUi(app: FastifyInstance, opts: { recaptcha: boolean }): Promise<void> {
  const headers = uiSecurityHeaders(opts);
  const secure = (reply: FastifyReply): void => {
    for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  };
  const indexFile = `${UI_DIR}index.html`;
  const built = existsSync(indexFile);
  const indexHtml = built ? readFileSync(indexFile) : null;

  if (built) {
    await app.register(async (scope) => {
      scope.addHook('onRequest', async (_req, reply) => secure(reply));
      await scope.register(fastifyStatic, {
        root: UI_DIR,
        prefix: '/',
        wildcard: false,
        index: false,
        setHeaders(res, path) {
          // Vite names assets by content hash: they never change under one name.
          res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });
    });
  }

  app.setNotFoundHandler((req, reply) => {
    const path = req.url;
    const wantsPage = (req.method === 'GET' || req.method === 'HEAD') && !SERVER_PATHS.test(path) && !/\/assets\//.test(path);
    if (wantsPage && indexHtml) {
      secure(reply);
      reply.header('cache-control', 'no-cache');
      return reply.code(200).type('text/html; charset=utf-8').send(indexHtml);
    }
    return reply.code(404).send({
      message: wantsPage ? 'The web UI is not built (run `npm run build`)' : `Route ${req.method}:${path} not found`,
      error: 'Not Found',
      statusCode: 404,
    });
  });
}
