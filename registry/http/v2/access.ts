/**
 * Who is calling the distribution API and what they may do: credentials → Principal, and the check of one
 * request's needed actions against a bearer token's grants or the permission resolver.
 */
import type { FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { ANONYMOUS, parseScopes, type Principal } from '../../auth/principal.js';
import { parseBasic, parseBearer } from '../../auth/credentials.js';
import { TokenError, type RegistryClaims } from '../../auth/tokens.js';
import type { RegistryAction } from '../../auth/permissions.js';
import type { RepoTarget } from '../../model/repositories.js';
import { RegistryError } from '../../errors.js';
import { Unauthenticated } from '../../model/errors.js';

export interface Caller {
  principal: Principal;
  /** Present when the request carried a registry bearer token. */
  claims?: RegistryClaims;
  /** True when the request carried credentials of any kind. */
  authenticated: boolean;
}

/** The token service's URL, from the configuration only: a client's Host header never shapes the challenge. */
export function realm(rt: Runtime): string {
  return `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}/v2/auth`;
}

/**
 * A 401 with the challenge that tells clients how to authenticate: Bearer (the token service, Quay's way), or
 * Basic when V2_AUTH_CHALLENGE is `basic` (clients then send their credentials on every request).
 */
export function challenge(rt: Runtime, _req: FastifyRequest, scope?: string, error?: string, message = 'authentication required'): RegistryError {
  if (rt.config.V2_AUTH_CHALLENGE === 'basic') {
    return new RegistryError('UNAUTHORIZED', message, { headers: { 'www-authenticate': `Basic realm="${rt.config.SERVER_HOSTNAME}"` } });
  }
  let value = `Bearer realm="${realm(rt)}",service="${rt.config.SERVER_HOSTNAME}"`;
  if (scope) value += `,scope="${scope}"`;
  if (error) value += `,error="${error}"`;
  return new RegistryError('UNAUTHORIZED', message, { headers: { 'www-authenticate': value } });
}

function principalFromClaims(claims: RegistryClaims): Principal {
  const ctx = claims.context ?? {};
  const id = Number(ctx.id);
  if (ctx.kind === 'user' && Number.isFinite(id)) {
    // A token obtained with an OAuth token keeps its scopes (they cap what the catalog shows).
    const scopes = typeof ctx.scopes === 'string' ? (parseScopes(ctx.scopes) ?? new Set<never>()) : undefined;
    return { kind: 'user', id, name: claims.sub, superuser: ctx.superuser === true, ...(scopes ? { scopes } : {}) };
  }
  if (ctx.kind === 'robot' && Number.isFinite(id)) {
    return { kind: 'robot', id, name: claims.sub, ownerId: Number(ctx.owner_id), ownerName: claims.sub.split('+')[0] };
  }
  return ANONYMOUS;
}

/** Identify the caller; wrong credentials or a bad token end the request with a 401. */
export async function identify(rt: Runtime, req: FastifyRequest): Promise<Caller> {
  const header = req.headers.authorization;
  const bearer = parseBearer(header);
  if (bearer) {
    try {
      const claims = await rt.tokens.verify(bearer);
      return { principal: principalFromClaims(claims), claims, authenticated: true };
    } catch (err) {
      if (err instanceof TokenError) throw challenge(rt, req, undefined, 'invalid_token', err.message);
      throw err;
    }
  }
  const basic = parseBasic(header);
  if (basic) {
    let principal;
    try {
      principal = await rt.auth.basic(basic.username, basic.password);
    } catch (err) {
      if (err instanceof Unauthenticated) throw challenge(rt, req, undefined, undefined, err.message);
      throw err;
    }
    if (!principal) throw challenge(rt, req, undefined, undefined, 'invalid username or password');
    return { principal, authenticated: true };
  }
  return { principal: ANONYMOUS, authenticated: false };
}

/** Repository names in tokens may carry the registry host; compare without it. */
export function sameRepository(rt: Runtime, tokenName: string, full: string): boolean {
  const prefix = `${rt.config.SERVER_HOSTNAME}/`;
  const name = tokenName.startsWith(prefix) ? tokenName.slice(prefix.length) : tokenName;
  if (name === full) return true;
  return !name.includes('/') && `${rt.config.LIBRARY_NAMESPACE}/${name}` === full;
}

/** The actions this caller holds on the target: from its token, or from the permission resolver. */
export async function grantedActions(rt: Runtime, caller: Caller, target: RepoTarget, wanted: readonly RegistryAction[]): Promise<Set<string>> {
  if (caller.claims) {
    const granted = new Set<string>();
    for (const entry of caller.claims.access) {
      if (entry.type === 'repository' && sameRepository(rt, entry.name, target.ref.full)) entry.actions.forEach((a) => granted.add(a));
    }
    return granted;
  }
  return new Set(await rt.permissions.registryActions(caller.principal, target, wanted));
}

/**
 * Require that the caller may perform `needed` (any one of `anyOf` satisfies it) on the target, and that a
 * write may happen now (the write gate). Without
 * credentials or with an under-scoped token the answer is a 401 challenge; a known caller without the right
 * gets 403.
 */
export async function authorize(rt: Runtime, req: FastifyRequest, caller: Caller, target: RepoTarget, needed: RegistryAction, anyOf: RegistryAction[] = [needed]): Promise<void> {
  const granted = await grantedActions(rt, caller, target, anyOf);
  if (anyOf.some((a) => granted.has(a))) {
    // Every write (a token granted before the state changed included) passes the write gate.
    if (needed !== 'pull' && req.method !== 'GET' && req.method !== 'HEAD') await rt.writeGate.check(caller.principal, target.repo, 'v2');
    return;
  }
  // A write withheld by the repository's state is explained to those who may read the repository anyway.
  if (needed !== 'pull' && target.repo && (granted.has('pull') || (await grantedActions(rt, caller, target, ['pull'])).has('pull'))) {
    await rt.writeGate.check(caller.principal, target.repo, 'v2');
  }
  const scopeActions = needed === 'pull' ? 'pull' : needed === 'push' ? 'pull,push' : needed;
  const scope = `repository:${target.ref.full}:${scopeActions}`;
  if (caller.claims) throw challenge(rt, req, scope, 'insufficient_scope', 'the token does not grant this action');
  if (!caller.authenticated) throw challenge(rt, req, scope);
  throw new RegistryError('DENIED', `requested access to the resource is denied`);
}
