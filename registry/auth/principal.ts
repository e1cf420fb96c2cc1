/** Who is making a request. Every credential form resolves to one of these. */
import type { Role } from './permissions.js';

/** Quay's OAuth scopes. */
export const SCOPES = ['repo:read', 'repo:write', 'repo:admin', 'repo:create', 'user:read', 'user:admin', 'org:admin', 'super:user'] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  'repo:read': 'View all visible repositories',
  'repo:write': 'Read/Write to any accessible repositories',
  'repo:admin': 'Administer Repositories',
  'repo:create': 'Create Repositories',
  'user:read': 'Read User Information',
  'user:admin': 'Administer User',
  'org:admin': 'Administer Organization',
  'super:user': 'Super User Access',
};

/** How a user principal authenticated: full-power logins versus tokens that carry their own limits. */
export type UserAuth = 'password' | 'session' | 'oauth' | 'app_token';

export type Principal =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      id: number;
      name: string;
      superuser: boolean;
      /** OAuth scopes when the request carries an OAuth token; undefined means full (password/session) access. */
      scopes?: ReadonlySet<Scope>;
      via?: UserAuth;
      /** The OAuth token's or app token's uuid (audit logs). */
      credentialId?: string;
    }
  | { kind: 'robot'; id: number; name: string; ownerId: number; ownerName: string }
  /** A repository access token (`$token`): one role on one repository. */
  | { kind: 'token'; id: number; repositoryId: number; role: Role; tokenKind: string };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/** The `sub` of registry tokens and the performer name in logs. */
export function principalName(p: Principal): string {
  if (p.kind === 'anonymous') return '(anonymous)';
  if (p.kind === 'token') return '$token';
  return p.name;
}

/** The namespace row that acts (users and robots); null for anonymous callers and access tokens. */
export function performerId(p: Principal): number | null {
  return p.kind === 'user' || p.kind === 'robot' ? p.id : null;
}

/**
 * Parse a scope string (space- or comma-separated). Any unknown scope invalidates the whole string, as in
 * Quay; returns null then.
 */
export function parseScopes(s: string): Set<Scope> | null {
  const parts = s.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return null;
  const out = new Set<Scope>();
  for (const p of parts) {
    if (!(SCOPES as readonly string[]).includes(p)) return null;
    out.add(p as Scope);
  }
  return out;
}
