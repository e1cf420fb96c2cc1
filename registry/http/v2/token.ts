/**
 * The token service (/v2/auth): authenticates the caller and issues a signed JWT whose access is the
 * intersection of what was asked and what the permission resolver allows. Denied actions are dropped
 * silently, as clients expect.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { ANONYMOUS, performerId, principalName, type Principal } from '../../auth/principal.js';
import { parseBasic } from '../../auth/credentials.js';
import type { AccessEntry } from '../../auth/tokens.js';
import { NameError, parseRepositoryPath } from '../../oci/names.js';
import { RegistryError } from '../../errors.js';
import { requireNoControl } from '../../input.js';

const SCOPE = /^([a-z0-9]+)(?:\([a-z0-9]+\))?:(.+):([a-z*]*(?:,[a-z*]*)*)$/;

function scopesOf(values: string[]): string[] {
  return values.flatMap((v) => v.split(' ')).filter((s) => s.length > 0);
}

async function principalOf(rt: Runtime, req: FastifyRequest, form: URLSearchParams | null): Promise<{ principal: Principal; credentials: boolean }> {
  let creds = parseBasic(req.headers.authorization);
  if (!creds && form?.get('grant_type') === 'password') {
    creds = { username: form.get('username') ?? '', password: form.get('password') ?? '' };
    requireNoControl(creds.username, 'the username');
    requireNoControl(creds.password, 'the password');
  }
  if (!creds) return { principal: ANONYMOUS, credentials: false };
  const principal = await rt.auth.basic(creds.username, creds.password);
  if (!principal) {
    rt.logs.log({ kind: 'login_failure', performer: ANONYMOUS, namespaceId: null, ip: req.ip, metadata: { username: creds.username, type: 'v2auth' } });
    throw new RegistryError('UNAUTHORIZED', 'Invalid username or password');
  }
  return { principal, credentials: true };
}

async function accessFor(rt: Runtime, principal: Principal, scope: string): Promise<AccessEntry> {
  const m = SCOPE.exec(scope);
  if (!m) throw new RegistryError('INVALID_REQUEST', `invalid scope "${scope}"`, { status: 400 });
  const [, type, name, actionList] = m;
  const requested = actionList.split(',').filter(Boolean);
  if (type === 'registry') {
    return { type, name, actions: name === 'catalog' && principal.kind !== 'anonymous' ? requested.filter((a) => a === '*') : [] };
  }
  if (type !== 'repository') return { type, name, actions: [] };
  const prefix = `${rt.config.SERVER_HOSTNAME}/`;
  const path = name.startsWith(prefix) ? name.slice(prefix.length) : name;
  let ref;
  try {
    ref = parseRepositoryPath(path, {
      libraryNamespace: rt.config.FEATURE_LIBRARY_SUPPORT ? rt.config.LIBRARY_NAMESPACE : null,
      extendedNames: rt.config.FEATURE_EXTENDED_REPOSITORY_NAMES,
    });
  } catch (e) {
    if (e instanceof NameError) throw new RegistryError('NAME_INVALID', e.message);
    throw e;
  }
  let target = await rt.repositories.lookup(ref);
  if (!target.namespace && requested.includes('push') && (await rt.tenancy.orgs.createOnPush(ref.namespace, principal))) {
    target = await rt.repositories.lookup(ref);
  }
  return { type, name, actions: await rt.permissions.registryActions(principal, target, requested) };
}

export async function issueToken(rt: Runtime, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const query = new URLSearchParams(req.url.split('?')[1] ?? '');
  let form: URLSearchParams | null = null;
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req.raw) {
      size += (c as Buffer).length;
      if (size > 64 * 1024) throw new RegistryError('INVALID_REQUEST', 'request body too large', { status: 400 });
      chunks.push(c as Buffer);
    }
    form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (form.get('grant_type') === 'refresh_token') {
      throw new RegistryError('UNSUPPORTED', 'refresh tokens are not issued by this registry; use grant_type=password or GET', { status: 400 });
    }
  }
  const { principal, credentials } = await principalOf(rt, req, form);
  const scopes = scopesOf([...query.getAll('scope'), ...(form ? form.getAll('scope') : [])]);
  if (!credentials && scopes.length === 0) {
    throw new RegistryError('UNAUTHORIZED', 'authentication required', {
      headers: { 'www-authenticate': `Basic realm="${rt.config.SERVER_HOSTNAME}"` },
    });
  }
  const access: AccessEntry[] = [];
  for (const scope of scopes) access.push(await accessFor(rt, principal, scope));
  if (credentials && scopes.length === 0) {
    rt.logs.log({ kind: 'login_success', performer: principal, namespaceId: performerId(principal), ip: req.ip, metadata: { type: 'v2auth' } });
  }
  const context =
    principal.kind === 'user'
      ? { kind: 'user', id: principal.id, superuser: principal.superuser, ...(principal.scopes ? { scopes: [...principal.scopes].join(' ') } : {}) }
      : principal.kind === 'robot'
        ? { kind: 'robot', id: principal.id, owner_id: principal.ownerId }
        : { kind: 'anonymous' };
  const { token, expiresIn, issuedAt } = await rt.tokens.issue(principalName(principal), access, context);
  reply.header('cache-control', 'no-store');
  reply.send({ token, access_token: token, expires_in: expiresIn, issued_at: issuedAt.toISOString() });
}
