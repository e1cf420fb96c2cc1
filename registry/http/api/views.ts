/** Quay's JSON views shared by several resources: avatars, dates, entity summaries, log entries. */
import { createHash } from 'node:crypto';
import type { NamespaceRow } from '../../model/namespaces.js';
import type { LogRow } from '../../model/log_reader.js';
import { parseScopes, SCOPE_DESCRIPTIONS, type Scope } from '../../auth/principal.js';

/** Quay 3.8's AVATAR_COLORS (config.py). */
const COLORS = [
  '#969696',
  '#aec7e8',
  '#ff7f0e',
  '#ffbb78',
  '#2ca02c',
  '#98df8a',
  '#d62728',
  '#ff9896',
  '#9467bd',
  '#c5b0d5',
  '#8c564b',
  '#c49c94',
  '#e377c2',
  '#f7b6d2',
  '#7f7f7f',
  '#c7c7c7',
  '#bcbd22',
  '#1f77b4',
  '#17becf',
  '#9edae5',
  '#393b79',
  '#5254a3',
  '#6b6ecf',
  '#9c9ede',
  '#9ecae1',
  '#31a354',
  '#b5cf6b',
  '#a1d99b',
  '#8c6d31',
  '#ad494a',
  '#e7ba52',
  '#a55194',
];
/** Hex digits of the hash that pick the color: as many as it takes to count the colors (Quay: ceil(log16(n))). */
const COLOR_DIGITS = Math.ceil(Math.log(COLORS.length) / Math.log(16));

export interface Avatar {
  name: string;
  hash: string;
  color: string;
  kind: string;
}

/**
 * Quay 3.8's avatar with its default `AVATAR_KIND: local` (avatars/avatars.py BaseAvatar.get_data): the SHA-256
 * of the trimmed, lower-cased e-mail (the name when there is none) and a color picked by the hash's first digits.
 */
export function avatar(name: string, kind: string, email?: string | null): Avatar {
  const hash = createHash('sha256')
    .update((email || name).trim().toLowerCase())
    .digest('hex');
  return { name, hash, color: COLORS[parseInt(hash.slice(0, COLOR_DIGITS), 16) % COLORS.length], kind };
}

/** An account's one avatar, wherever it is shown: always from its stored e-mail. */
export function namespaceAvatar(ns: Pick<NamespaceRow, 'name' | 'kind' | 'email'>): Avatar {
  return avatar(ns.name, ns.kind === 'org' ? 'org' : ns.kind === 'robot' ? 'robot' : 'user', ns.email);
}

/** A team's avatar: hashed from its name, kind `team` (the UI draws teams round). */
export function teamAvatar(name: string): Avatar {
  return avatar(name, 'team');
}

/** RFC 2822 dates as Quay writes them: `Tue, 03 Sep 2024 10:00:00 -0000`. */
export function formatDate(d: Date | string | null | undefined): string | null {
  if (d === null || d === undefined) return null;
  return new Date(d).toUTCString().replace('GMT', '-0000');
}

export function userSummary(u: NamespaceRow, superuser: boolean, globalReadonlySuperuser: boolean) {
  return {
    kind: 'user',
    name: u.name,
    username: u.name,
    email: u.email,
    verified: true,
    avatar: namespaceAvatar(u),
    super_user: superuser,
    global_readonly_super_user: globalReadonlySuperuser,
    enabled: u.enabled,
  };
}

/** One log entry; `namespace` only in listings that span namespaces. */
export function logView(row: LogRow, includeNamespace: boolean) {
  const view: Record<string, unknown> = { kind: row.kind, metadata: row.metadata, ip: row.ip, datetime: formatDate(row.datetime) };
  if (row.performer_name && row.performer_kind) {
    view.performer = {
      kind: 'user',
      name: row.performer_name,
      is_robot: row.performer_kind === 'robot',
      avatar: namespaceAvatar({ name: row.performer_name, kind: row.performer_kind, email: row.performer_email }),
    };
  }
  if (includeNamespace && row.account_name && row.account_kind) {
    view.namespace = { kind: row.account_kind, name: row.account_name, avatar: namespaceAvatar({ name: row.account_name, kind: row.account_kind, email: row.account_email }) };
  }
  return view;
}

/** What Quay shows of each scope a user granted: an icon, whether it is dangerous, and what it allows. */
const SCOPE_DETAILS: Record<Scope, { icon: string; dangerous: boolean; description: string }> = {
  'repo:read': { icon: 'fa-hdd-o', dangerous: false, description: 'The application may list and pull every repository the user can see.' },
  'repo:write': { icon: 'fa-hdd-o', dangerous: false, description: 'The application may pull from and push to every repository the user can write to.' },
  'repo:admin': { icon: 'fa-hdd-o', dangerous: false, description: 'The application may administer every repository the user administers.' },
  'repo:create': { icon: 'fa-plus', dangerous: false, description: 'The application may create repositories wherever the user may.' },
  'user:read': { icon: 'fa-user', dangerous: false, description: "The application may read the user's account information." },
  'user:admin': { icon: 'fa-gear', dangerous: true, description: "The application may change the user's account, its robots included." },
  'org:admin': { icon: 'fa-gear', dangerous: true, description: 'The application may administer the organizations the user administers: teams, robots, settings.' },
  'super:user': { icon: 'fa-street-view', dangerous: true, description: 'The application may use the superuser API of the registry.' },
};

/** `[{scope, title, description, icon, dangerous}]` of a scope string (Quay's `scopes` in authorization views). */
export function scopeInformation(scope: string) {
  return [...(parseScopes(scope) ?? [])].map((s) => ({
    scope: s,
    title: SCOPE_DESCRIPTIONS[s],
    description: SCOPE_DETAILS[s].description,
    icon: SCOPE_DETAILS[s].icon,
    dangerous: SCOPE_DETAILS[s].dangerous,
  }));
}
