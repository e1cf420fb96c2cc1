/**
 * Who is calling /api/v1, and the checks every resource shares. The plugin-level hooks set `req.principal`
 * on every request before any handler runs:
 *   - `Authorization: Bearer <OAuth access token>` → the token's user, limited to its scopes;
 *   - the browser session cookie (POST /api/v1/signin) → the user with full rights; then every request
 *     other than GET/HEAD/OPTIONS must carry the session's CSRF token (`X-CSRF-Token` header or
 *     `_csrf_token` field), and with BROWSER_API_CALLS_XHR_ONLY a GET from a browser must carry
 *     `X-Requested-With: XMLHttpRequest`;
 *   - nothing → anonymous.
 * Basic auth is not accepted on the API (as in Quay). The decisions themselves are the resolver's
 * (rt.permissions); the helpers below only turn its answers into Quay's errors.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lazyModule } from '../../lazy.js';
import { parse as parseCookies } from 'cookie';
import { timingSafeEqual } from 'node:crypto';
import type { Runtime } from '../../runtime.js';
import { ANONYMOUS, type Principal, type Scope } from '../../auth/principal.js';
import { parseBearer } from '../../auth/credentials.js';
import { SESSION_COOKIE } from '../../auth/sessions.js';
import { atLeast, type Role } from '../../auth/permissions.js';
import { durationSeconds, type NamespaceRow } from '../../model/namespaces.js';
import type { RepoTarget } from '../../model/repositories.js';
import { NameError, parseRepositoryPath } from '../../oci/names.js';
import { ApiError, badRequest, messageError, notFound } from './errors.js';
import { CAPTCHA_REFUSED, captchaExempt } from '../../auth/captcha.js';

const bowser = lazyModule<typeof import('bowser')>('bowser');

/** How the caller authenticated on the API. */
export interface ApiAuth {
  kind: 'anonymous' | 'oauth' | 'session';
  /** The session id (cookie value) for session callers. */
  sessionId?: string;
  csrfToken?: string;
  /** When the session last proved its password (fresh-login checks). */
  freshAt?: Date;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, resolved before any /api/v1 handler runs. */
    principal: Principal;
    apiAuth: ApiAuth;
  }
  interface FastifyContextConfig {
    /** The OAuth scope a token needs for this route (also published in /api/v1/discovery). */
    scope?: Scope;
    /** Requires a recent password login for session callers (FRESH_LOGIN_TIMEOUT). */
    fresh?: boolean;
    /** Routes outside the API's browser rules (e.g. /user/initialize, signin). */
    noCsrf?: boolean;
    /** Allowed while REGISTRY_STATE is readonly. */
    readonlyAllowed?: boolean;
    /** Answers anonymous callers even when FEATURE_ANONYMOUS_ACCESS is off (sign-in, sign-up, discovery). */
    anonymousAllowed?: boolean;
  }
}

/** User-agent families Quay treats as browsers for the X-Requested-With rule. */
const BROWSER_ENGINES = new Set(['blink', 'gecko', 'webkit', 'trident', 'edgehtml', 'presto']);

function isBrowser(ua: string | undefined): boolean {
  if (!ua) return false;
  const parsed = bowser().parse(ua);
  return Boolean(parsed.browser.name) && BROWSER_ENGINES.has((parsed.engine.name ?? '').toLowerCase());
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Registers the hooks that identify the caller and enforce the browser rules on this plugin's routes. */
export function registerApiAuth(app: FastifyInstance, rt: Runtime): void {
  app.decorateRequest('principal', null as never);
  app.decorateRequest('apiAuth', null as never);

  app.addHook('onRequest', async (req) => {
    req.principal = ANONYMOUS;
    req.apiAuth = { kind: 'anonymous' };
    const cfg = req.routeOptions.config ?? {};
    const bearer = parseBearer(req.headers.authorization);
    if (bearer) {
      const r = await rt.auth.bearer(bearer);
      if ('error' in r) {
        if (r.error === 'expired') throw new ApiError(401, 'expired_token', 'Token has expired');
        throw new ApiError(401, 'invalid_token', 'Invalid token');
      }
      req.principal = r.principal;
      req.apiAuth = { kind: 'oauth' };
    } else {
      const sid = req.headers.cookie ? parseCookies(req.headers.cookie)[SESSION_COOKIE] : undefined;
      const session = sid ? await rt.tenancy.sessions.lookup(sid) : null;
      if (session) {
        const user = await rt.namespaces.byId(session.user_id);
        if (user && user.enabled) {
          req.principal = rt.auth.userPrincipal(user, { via: 'session' });
          req.apiAuth = { kind: 'session', sessionId: sid, csrfToken: session.csrf_token, freshAt: session.fresh_at };
        }
      }
    }
    if (!rt.config.FEATURE_ANONYMOUS_ACCESS && req.apiAuth.kind === 'anonymous' && !cfg.anonymousAllowed) {
      throw new ApiError(401, 'invalid_token', 'Anonymous access is not allowed');
    }
    if (
      rt.config.BROWSER_API_CALLS_XHR_ONLY &&
      !rt.config.DEBUGGING &&
      req.method === 'GET' &&
      req.apiAuth.kind !== 'oauth' &&
      isBrowser(req.headers['user-agent']) &&
      req.headers['x-requested-with'] !== 'XMLHttpRequest'
    ) {
      throw badRequest('API calls must be invoked with an X-Requested-With header if called from a browser');
    }
    if (!SAFE_METHODS.has(req.method) && !cfg.readonlyAllowed) {
      const refusal = rt.writeGate.registryRefusal('api');
      if (refusal) throw refusal;
    }
  });

  // After the body is parsed (the token may come as a form field), before validation.
  app.addHook('preValidation', async (req) => {
    // A PUT or POST without a body is an empty object (Quay's `curl -X PUT .../robots/bot`), so that the
    // schema names each missing field instead of rejecting the body as a whole.
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT')) req.body = {};
    const cfg = req.routeOptions.config ?? {};
    if (req.apiAuth.kind === 'oauth' || SAFE_METHODS.has(req.method) || cfg.noCsrf) return;
    // Quay checks every non-token caller: a cross-site form post cannot carry the token.
    const expected = req.apiAuth.csrfToken ?? '';
    const body = req.body as Record<string, unknown> | undefined;
    const query = req.query as Record<string, unknown> | undefined;
    const given = String(req.headers['x-csrf-token'] ?? query?._csrf_token ?? (body && typeof body === 'object' ? body._csrf_token : '') ?? '');
    // An anonymous request carries no ambient authority that a forged request could borrow.
    if (req.apiAuth.kind === 'anonymous') return;
    if (!expected || !given || !sameToken(expected, given)) throw new ApiError(403, 'insufficient_scope', 'CSRF token was invalid or missing.');
  });

  app.addHook('preHandler', async (req) => {
    const cfg = req.routeOptions.config ?? {};
    if (cfg.scope && req.apiAuth.kind === 'oauth' && !rt.permissions.hasScope(req.principal, cfg.scope)) {
      throw new ApiError(403, 'insufficient_scope', `The token does not carry the ${cfg.scope} scope`);
    }
    if (cfg.fresh && req.apiAuth.kind === 'session') {
      const age = (Date.now() - (req.apiAuth.freshAt?.getTime() ?? 0)) / 1000;
      if (age > durationSeconds(rt.config.FRESH_LOGIN_TIMEOUT)) throw new ApiError(401, 'fresh_login_required', 'Requires fresh login');
    }
  });
}

/** Quay's Unauthorized: 401 for anonymous callers, 403 for known ones. */
export function unauthorizedFor(p: Principal): ApiError {
  return p.kind === 'user' ? new ApiError(403, 'insufficient_scope', 'Unauthorized') : new ApiError(401, 'invalid_token', 'Requires authentication');
}

/** The calling user; anonymous callers get 401. (Robots and access tokens never reach the API.) */
export function requireUser(req: FastifyRequest): Extract<Principal, { kind: 'user' }> {
  if (req.principal.kind !== 'user') throw new ApiError(401, 'invalid_token', 'Requires authentication');
  return req.principal;
}

/** The calling user's own namespace row (re-read: it may have been disabled or deleted). */
export async function currentUser(rt: Runtime, req: FastifyRequest): Promise<NamespaceRow> {
  const p = requireUser(req);
  const row = await rt.namespaces.byId(p.id);
  if (!row || !row.enabled) throw new ApiError(401, 'invalid_token', 'Requires authentication');
  return row;
}

export function requireSuperuser(rt: Runtime, req: FastifyRequest): void {
  if (!rt.config.FEATURE_SUPER_USERS) throw notFound();
  if (!rt.permissions.isSuperuser(req.principal)) throw unauthorizedFor(req.principal);
}

/** The superuser API's reads: superusers and global read-only superusers. */
export function requireSuperuserRead(rt: Runtime, req: FastifyRequest): void {
  if (!rt.config.FEATURE_SUPER_USERS) throw notFound();
  if (!rt.permissions.canReadAsSuperuser(req.principal)) throw unauthorizedFor(req.principal);
}

/** `{namespace, name}` of a repository path parameter (`namespace/name`, nested names allowed). */
export function parseRepoParam(rt: Runtime, path: string): { namespace: string; name: string; full: string } {
  try {
    return parseRepositoryPath(path, { libraryNamespace: null, extendedNames: rt.config.FEATURE_EXTENDED_REPOSITORY_NAMES });
  } catch (e) {
    if (e instanceof NameError) throw badRequest(e.message);
    throw e;
  }
}

/**
 * The repository at `path` if the caller holds at least `role` on it: 401/403 otherwise (checked first, so
 * that private names do not leak), 404 when it does not exist.
 */
export async function repoWithRole(
  rt: Runtime,
  req: FastifyRequest,
  path: string,
  role: Role,
): Promise<RepoTarget & { repo: NonNullable<RepoTarget['repo']>; namespace: NamespaceRow }> {
  const ref = parseRepoParam(rt, path);
  const target = await rt.repositories.lookup(ref);
  // For a missing repository the resolver answers with the namespace-wide role: only those who could see it
  // learn that it does not exist.
  if (!atLeast(await rt.permissions.repositoryRole(req.principal, target), role)) throw unauthorizedFor(req.principal);
  if (!target.namespace || !target.repo) throw notFound();
  return target as RepoTarget & { repo: NonNullable<RepoTarget['repo']>; namespace: NamespaceRow };
}

/** repoWithRole for the `:namespace/:repository` parameters of a repository route (the routes' common preamble). */
export function repoParamsWithRole(rt: Runtime, req: FastifyRequest, params: { namespace: string; repository: string }, role: Role): ReturnType<typeof repoWithRole> {
  return repoWithRole(rt, req, `${params.namespace}/${params.repository}`, role);
}

/** An organization by name (404 when it is not one). */
export async function orgByName(rt: Runtime, name: string): Promise<NamespaceRow> {
  const ns = await rt.namespaces.byName(name);
  if (!ns || ns.kind !== 'org') throw notFound();
  return ns;
}

/** The organization if the caller administers it (org admin team, org:admin scope, or SU with full access). */
export async function adminOrg(rt: Runtime, req: FastifyRequest, name: string): Promise<NamespaceRow> {
  const ns = await rt.namespaces.byName(name);
  if (!ns || ns.kind !== 'org') {
    if (req.principal.kind !== 'user') throw unauthorizedFor(req.principal);
    throw notFound();
  }
  if (!(await rt.permissions.canAdminNamespace(req.principal, ns))) throw unauthorizedFor(req.principal);
  return ns;
}

/** Sets the session cookie (HttpOnly, SameSite=Lax; Secure behind https). */
export function setSessionCookie(rt: Runtime, reply: FastifyReply, id: string | null): void {
  const secure = rt.config.PREFERRED_URL_SCHEME === 'https' ? '; Secure' : '';
  const maxAge = id ? durationSeconds(rt.config.SESSION_TIMEOUT) : 0;
  reply.header('set-cookie', `${SESSION_COOKIE}=${id ?? ''}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`);
}

/**
 * FEATURE_RECAPTCHA: refuse the request unless the reCAPTCHA answer it carries is accepted (400 with Quay's
 * `{message}`), or the caller is exempt. The verifying service being unreachable is a 503, not a pass.
 */
export async function requireCaptcha(rt: Runtime, req: FastifyRequest, response: string | undefined): Promise<void> {
  if (!rt.captcha || captchaExempt(rt.config.RECAPTCHA_WHITELISTED_USERS, req.principal)) return;
  let accepted: boolean;
  try {
    accepted = await rt.captcha.verify(response ?? '', req.ip);
  } catch (err) {
    req.log.warn({ err }, 'reCAPTCHA verification failed');
    throw messageError(503, 'The reCAPTCHA service could not be reached; try again later');
  }
  if (!accepted) throw messageError(400, CAPTCHA_REFUSED);
}
