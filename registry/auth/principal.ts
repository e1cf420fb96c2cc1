/** Who is making a request. Every credential form resolves to one of these. */
export type Principal =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      id: number;
      name: string;
      superuser: boolean;
      /** OAuth scopes when the request carries an OAuth token; undefined means full (password) access. */
      scopes?: ReadonlySet<string>;
    }
  | { kind: 'robot'; id: number; name: string; ownerId: number; ownerName: string };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

/** The `sub` of registry tokens and the performer name in logs. */
export function principalName(p: Principal): string {
  return p.kind === 'anonymous' ? '(anonymous)' : p.name;
}
