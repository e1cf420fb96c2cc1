/** Namespaces: users, organizations and robots share one table and one name space. */
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import { hashPassword } from '../auth/passwords.js';
import { validNamespaceName } from '../oci/names.js';
import { Invalid } from './errors.js';

export interface NamespaceRow {
  id: number;
  uuid: string;
  name: string;
  kind: 'user' | 'org' | 'robot';
  email: string | null;
  password_hash: string | null;
  enabled: boolean;
  /** False while a new account's e-mail address awaits confirmation (sign-up with FEATURE_MAILING). */
  verified: boolean;
  superuser: boolean;
  robot_owner_id: number | null;
  removed_tag_expiration_s: number;
  created_at: Date;
}

/** Seconds of a Quay duration string (`2w`, `10m`). */
export function durationSeconds(d: string): number {
  const n = Number(d.slice(0, -1));
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[d.slice(-1)] ?? NaN;
  return n * unit;
}

export class Namespaces {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
  ) {}

  async byName(name: string, q: Queryable = this.db): Promise<NamespaceRow | null> {
    const r = await q.query<NamespaceRow>('SELECT * FROM namespace WHERE name = $1', [name]);
    return r.rows[0] ?? null;
  }

  async byId(id: number, q: Queryable = this.db): Promise<NamespaceRow | null> {
    const r = await q.query<NamespaceRow>('SELECT * FROM namespace WHERE id = $1', [id]);
    return r.rows[0] ?? null;
  }

  isSuperuser(row: Pick<NamespaceRow, 'kind' | 'name' | 'superuser'>): boolean {
    return row.kind === 'user' && (row.superuser || this.config.SUPER_USERS.includes(row.name));
  }

  isGlobalReadonlySuperuser(row: Pick<NamespaceRow, 'kind' | 'name'>): boolean {
    return row.kind === 'user' && this.config.GLOBAL_READONLY_SUPER_USERS.includes(row.name);
  }

  /**
   * Names that config makes superusers (SUPER_USERS, GLOBAL_READONLY_SUPER_USERS) cannot be claimed by
   * self sign-up, or whoever registered one first would hold its rights. (Quay lets them be claimed.)
   */
  reservedForSuperusers(name: string): boolean {
    return this.config.SUPER_USERS.includes(name) || this.config.GLOBAL_READONLY_SUPER_USERS.includes(name);
  }

  /** With SUPER_USERS set, /user/initialize creates one of them, and nobody else can take the first account. */
  mayInitializeAs(name: string): boolean {
    return this.config.SUPER_USERS.length === 0 || this.config.SUPER_USERS.includes(name);
  }

  async countUsers(q: Queryable = this.db): Promise<number> {
    const r = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM namespace WHERE kind = 'user'");
    return r.rows[0].n;
  }

  /** Refuses an e-mail address whose domain (or a parent domain) is in BLACKLISTED_EMAIL_DOMAINS, with FEATURE_BLACKLISTED_EMAILS. */
  checkEmailAllowed(email: string | null): void {
    if (!email || !this.config.FEATURE_BLACKLISTED_EMAILS) return;
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    const hit = this.config.BLACKLISTED_EMAIL_DOMAINS.map((d) => d.toLowerCase()).find((d) => domain === d || domain.endsWith(`.${d}`));
    if (hit) throw new Invalid('request', `E-mail addresses of the domain ${hit} are not allowed on this registry`);
  }

  /** Create a user with its namespace. Name rules and uniqueness (across users, orgs and robots) are checked here. */
  async createUser(input: { name: string; password: string | null; email: string | null; superuser?: boolean; verified?: boolean }, q: Queryable = this.db): Promise<NamespaceRow> {
    if (!validNamespaceName(input.name)) {
      throw new Invalid('name', `Invalid username "${input.name}": use 2-255 lowercase letters, digits and single . _ - separators`);
    }
    this.checkEmailAllowed(input.email);
    const hash = input.password === null ? null : await hashPassword(input.password);
    const r = await q.query<NamespaceRow>(
      `INSERT INTO namespace (name, kind, email, password_hash, superuser, removed_tag_expiration_s, verified)
       VALUES ($1, 'user', $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING *`,
      [input.name, input.email, hash, input.superuser ?? false, durationSeconds(this.config.DEFAULT_TAG_EXPIRATION), input.verified ?? true],
    );
    if (r.rows.length === 0) {
      const taken = await this.byName(input.name, q);
      throw new Invalid('name', taken ? 'The username already exists' : 'The email address is already used');
    }
    return r.rows[0];
  }
}
