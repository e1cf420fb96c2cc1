/**
 * Repository access tokens (Quay's AccessToken), used as `$token:<code>`: one role on one repository. The code
 * is a public lookup part (ACCESS_TOKEN_NAME_LENGTH characters) followed by the secret; only the secret's hash
 * is stored. Build workers get a temporary one per build; build triggers keep a permanent one.
 */
import type { Queryable } from '../db/index.js';
import { ACCESS_TOKEN_NAME_LENGTH } from '../auth/credentials.js';
import { generateSecret } from '../auth/passwords.js';
import { hashToken } from '../auth/secrets.js';
import type { Role } from '../auth/permissions.js';

const ACCESS_TOKEN_SECRET_LENGTH = 32;

export interface NewAccessToken {
  id: number;
  /** The full `$token` password: shown once, never stored in the clear. */
  code: string;
}

export async function createAccessToken(
  q: Queryable,
  t: { repositoryId: number; role: Role; kind: string; friendlyName?: string; expiresAt: Date | null },
): Promise<NewAccessToken> {
  const name = generateSecret(ACCESS_TOKEN_NAME_LENGTH);
  const secret = generateSecret(ACCESS_TOKEN_SECRET_LENGTH);
  const r = await q.query<{ id: number }>(
    `INSERT INTO access_token (repository_id, role, kind, friendly_name, token_name, token_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [t.repositoryId, t.role, t.kind, t.friendlyName ?? '', name, hashToken(secret), t.expiresAt],
  );
  return { id: r.rows[0].id, code: name + secret };
}

/** Make a token usable until `expiresAt` (null: never expires; a past date: unusable from now on). */
export async function setAccessTokenExpiry(q: Queryable, id: number, expiresAt: Date | 'now'): Promise<void> {
  if (expiresAt === 'now') await q.query('UPDATE access_token SET expires_at = now() WHERE id = $1', [id]);
  else await q.query('UPDATE access_token SET expires_at = $2 WHERE id = $1', [id, expiresAt]);
}
