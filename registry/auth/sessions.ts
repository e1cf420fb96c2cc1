/**
 * Browser sessions: `POST /api/v1/signin` creates one; the cookie carries a random id and the database keeps
 * only its hash, the user and the CSRF token, so every replica sees the same sessions and sign-out ends one
 * everywhere. Before sign-in, `GET /csrf_token` hands out an anonymous session (as Quay's cookie session
 * does): its cookie is `anon.<random>` and its CSRF token an HMAC of that value, so it costs no database row.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../db/index.js';
import { hashToken } from './secrets.js';

export const SESSION_COOKIE = 'quay_session';

export interface SessionRow {
  user_id: number;
  csrf_token: string;
  fresh_at: Date;
}

const ANONYMOUS_PREFIX = 'anon.';

export class Sessions {
  constructor(
    private readonly db: Db,
    private readonly ttlS: number,
    /** Secret material keying the anonymous sessions' CSRF tokens. */
    private readonly anonymousKey: string,
  ) {}

  /** A fresh session without a user: the cookie value and its CSRF token. */
  anonymous(): { id: string; csrf: string } {
    const id = `${ANONYMOUS_PREFIX}${randomBytes(32).toString('base64url')}`;
    return { id, csrf: this.anonymousCsrf(id)! };
  }

  /** The CSRF token of an anonymous session cookie, or null when the value is not one. */
  anonymousCsrf(id: string): string | null {
    if (!id.startsWith(ANONYMOUS_PREFIX) || !/^[A-Za-z0-9_-]{43}$/.test(id.slice(ANONYMOUS_PREFIX.length))) return null;
    return createHmac('sha256', this.anonymousKey).update(id).digest('base64url');
  }

  async create(userId: number): Promise<{ id: string; csrf: string }> {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(48).toString('base64url');
    await this.db.query(`INSERT INTO web_session (id_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, [
      hashToken(id),
      userId,
      csrf,
      this.ttlS,
    ]);
    return { id, csrf };
  }

  async lookup(id: string): Promise<SessionRow | null> {
    if (id.startsWith(ANONYMOUS_PREFIX)) return null;
    const r = await this.db.query<SessionRow>('SELECT user_id, csrf_token, fresh_at FROM web_session WHERE id_hash = $1 AND expires_at > now()', [hashToken(id)]);
    return r.rows[0] ?? null;
  }

  /** Re-entering the password (signin/verify) restarts the fresh-login clock. */
  async refresh(id: string): Promise<void> {
    await this.db.query('UPDATE web_session SET fresh_at = now() WHERE id_hash = $1', [hashToken(id)]);
  }

  async destroy(id: string): Promise<void> {
    await this.db.query('DELETE FROM web_session WHERE id_hash = $1', [hashToken(id)]);
  }

  /** Ends every session of a user (password change, disable, delete), except `keep` (the caller's own). */
  async destroyAll(userId: number, keep?: string): Promise<void> {
    await this.db.query('DELETE FROM web_session WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2', [userId, keep === undefined ? null : hashToken(keep)]);
  }
}
