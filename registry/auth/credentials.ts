/** Turns credentials into a Principal. Basic auth forms: `<user>:<password>` (robots and tokens come with tenancy). */
import { createHash } from 'node:crypto';
import type { Namespaces, NamespaceRow } from '../model/namespaces.js';
import { verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';

/** Remembers recent successful bcrypt checks; an entry is valid only while the stored hash is unchanged. */
const VERIFIED_TTL_MS = 60_000;

export class Authenticator {
  private readonly verified = new Map<string, { hash: string; until: number }>();

  constructor(private readonly namespaces: Namespaces) {}

  userPrincipal(row: NamespaceRow): Principal {
    return { kind: 'user', id: row.id, name: row.name, superuser: this.namespaces.isSuperuser(row) };
  }

  /** The principal for basic credentials, or null when they are wrong or the account is disabled. */
  async basic(username: string, password: string): Promise<Principal | null> {
    const row = await this.namespaces.byName(username);
    if (!row || row.kind !== 'user' || !row.enabled || !row.password_hash) return null;
    if (!(await this.checkPassword(row, password))) return null;
    return this.userPrincipal(row);
  }

  private async checkPassword(row: NamespaceRow, password: string): Promise<boolean> {
    const key = createHash('sha256').update(`${row.id}\0${password}`).digest('hex');
    const hit = this.verified.get(key);
    const now = Date.now();
    if (hit && hit.hash === row.password_hash && hit.until > now) return true;
    if (!(await verifyPassword(password, row.password_hash!))) return false;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, { hash: row.password_hash!, until: now + VERIFIED_TTL_MS });
    return true;
  }
}

/** Parse an `Authorization: Basic` header; null when absent or malformed. */
export function parseBasic(header: string | undefined): { username: string; password: string } | null {
  if (!header || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

export function parseBearer(header: string | undefined): string | null {
  if (!header || !/^bearer /i.test(header)) return null;
  return header.slice(7).trim() || null;
}
