/** User accounts as superusers manage them: list, password, e-mail, enable/disable. */
import type { Db } from '../db/index.js';
import { hashPassword } from '../auth/passwords.js';
import type { NamespaceRow } from './namespaces.js';
import { invalid } from './orgs.js';

export class Users {
  constructor(private readonly db: Db) {}

  async list(opts: { includeDisabled: boolean; afterName: string; limit: number | null }): Promise<NamespaceRow[]> {
    const r = await this.db.query<NamespaceRow>(
      `SELECT * FROM namespace WHERE kind = 'user' AND ($1 OR enabled) AND name COLLATE "C" > $2 ORDER BY name COLLATE "C" LIMIT $3`,
      [opts.includeDisabled, opts.afterName, opts.limit],
    );
    return r.rows;
  }

  async setPassword(user: NamespaceRow, password: string): Promise<void> {
    await this.db.query('UPDATE namespace SET password_hash = $2 WHERE id = $1', [user.id, await hashPassword(password)]);
  }

  async setEmail(user: NamespaceRow, email: string | null): Promise<void> {
    try {
      await this.db.query('UPDATE namespace SET email = $2 WHERE id = $1', [user.id, email]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw invalid('E-mail address already used');
      throw err;
    }
  }

  async setEnabled(user: NamespaceRow, enabled: boolean): Promise<void> {
    await this.db.query('UPDATE namespace SET enabled = $2 WHERE id = $1', [user.id, enabled]);
  }

  async setSuperuser(user: NamespaceRow, superuser: boolean): Promise<void> {
    await this.db.query('UPDATE namespace SET superuser = $2 WHERE id = $1', [user.id, superuser]);
  }
}
