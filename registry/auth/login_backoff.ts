/**
 * Quay's login backoff: every failed password login of a user counts in `invalid_login_attempts`, and the
 * next attempt is allowed only 0.5 × (2^attempts − 1) seconds after the last failure (Quay's exponential
 * backoff with a one-second scale), capped at MAX_BACKOFF_S so that strangers cannot lock an account out for
 * days. Only failures count: a client sending many requests at once with the right password is never held
 * back. Concurrent guesses are kept from slipping through together by the caller, which checks one password
 * per user at a time in each process (see Authenticator.password).
 */
import type { Db } from '../db/index.js';
import { TooManyRequests } from '../model/errors.js';

export const MAX_BACKOFF_S = 3600;

/** Quay's message for its TooManyLoginAttemptsException. */
export const TOO_MANY_LOGIN_ATTEMPTS = 'Too many login attempts. Please reset your Quay password and try again.';

const DELAY = (attempts: string) => `make_interval(secs => least(0.5 * (power(2, least(${attempts}, 40)) - 1), ${MAX_BACKOFF_S}))`;

export class LoginBackoff {
  constructor(private readonly db: Db) {}

  /** Throws 429 TOOMANYREQUESTS with Retry-After while the user is backing off from failed attempts. */
  async check(userId: number): Promise<void> {
    const r = await this.db.query<{ s: number }>(
      `SELECT greatest(1, ceil(extract(epoch FROM last_invalid_login + ${DELAY('invalid_login_attempts')} - now())))::int AS s
         FROM login_failure WHERE user_id = $1 AND last_invalid_login + ${DELAY('invalid_login_attempts')} > now()`,
      [userId],
    );
    if (r.rows.length === 0) return;
    throw new TooManyRequests(TOO_MANY_LOGIN_ATTEMPTS, r.rows[0].s, 'login_attempts');
  }

  /** Counts a failed attempt. */
  async fail(userId: number): Promise<void> {
    await this.db.query(
      `INSERT INTO login_failure AS f (user_id, invalid_login_attempts, last_invalid_login) VALUES ($1, 1, now())
       ON CONFLICT (user_id) DO UPDATE SET invalid_login_attempts = f.invalid_login_attempts + 1, last_invalid_login = now()`,
      [userId],
    );
  }

  /** A successful login (or a new password) clears the count. */
  async clear(userId: number): Promise<void> {
    await this.db.query('DELETE FROM login_failure WHERE user_id = $1', [userId]);
  }
}
