/** User accounts as superusers manage them: list, password, e-mail, enable/disable. */
import type { Db } from '../db/index.js';
import { hashPassword } from '../auth/passwords.js';
import type { LoginBackoff } from '../auth/login_backoff.js';
import type { Sessions } from '../auth/sessions.js';
import type { NamespaceRow, Namespaces } from './namespaces.js';
import { invalid } from './orgs.js';

export class Users {
  constructor(
    private readonly db: Db,
    private readonly backoff: LoginBackoff,
    private readonly sessions: Sessions,
    private readonly namespaces: Namespaces,
  ) {}

  async list(opts: { includeDisabled: boolean; afterName: string; limit: number | null }): Promise<NamespaceRow[]> {
    const r = await this.db.query<NamespaceRow>(`SELECT * FROM namespace WHERE kind = 'user' AND ($1 OR enabled) AND name COLLATE "C" > $2 ORDER BY name COLLATE "C" LIMIT $3`, [
      opts.includeDisabled,
      opts.afterName,
      opts.limit,
    ]);
    return r.rows;
  }

  /**
   * Users whose name starts with `prefix` (an exact match first), and robots of `robotOwner` whose short name
   * does, at most `limit`; with `org`, whether each is in a team of it.
   */
  async matching(prefix: string, robotOwner: NamespaceRow | null, org: NamespaceRow | null, limit: number): Promise<(NamespaceRow & { in_org: boolean })[]> {
    const like = (p: string) => `${p.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const r = await this.db.query<NamespaceRow & { in_org: boolean }>(
      `SELECT n.*, ($4::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = $4 AND m.member_id = n.id)) AS in_org
         FROM namespace n
        WHERE (n.kind = 'user' AND n.name LIKE $1) OR (n.kind = 'robot' AND n.robot_owner_id = $2 AND n.name LIKE $3)
        ORDER BY n.name = $5 DESC, n.kind = 'robot' DESC, n.name LIMIT $6`,
      [like(prefix), robotOwner?.id ?? null, like(`${robotOwner?.name ?? ''}+${prefix}`), org?.id ?? null, prefix, limit],
    );
    return r.rows;
  }

  /**
   * A new password clears the failed-login count and ends every browser session of the user but
   * `keepSession` (the one that changed it), as Quay's change_password does. App-specific and OAuth tokens
   * are separate credentials and stay valid.
   */
  async setPassword(user: NamespaceRow, password: string, keepSession?: string): Promise<void> {
    await this.db.query('UPDATE namespace SET password_hash = $2 WHERE id = $1', [user.id, await hashPassword(password)]);
    await this.backoff.clear(user.id);
    await this.sessions.destroyAll(user.id, keepSession);
  }

  async setEmail(user: NamespaceRow, email: string | null): Promise<void> {
    this.namespaces.checkEmailAllowed(email);
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
