/**
 * Turns credentials into a Principal. Basic auth (registry clients) takes Quay's forms:
 *   <user>:<password>            a user (unless AUTHENTICATION_TYPE is AppToken)
 *   <ns>+<robot>:<robot token>   a robot (its owner must be enabled)
 *   $oauthtoken:<OAuth token>    the token's user, limited to the token's scopes
 *   $app:<app-specific token>    the token's user (FEATURE_APP_SPECIFIC_TOKENS)
 *   $token:<access token>        a repository access token (one role on one repository)
 * Bearer tokens on /api/v1 are OAuth access tokens.
 */
import { createHmac } from 'node:crypto';
import type { Db } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Namespaces, NamespaceRow } from '../model/namespaces.js';
import { verifyPassword } from './passwords.js';
import type { LoginBackoff } from './login_backoff.js';
import { parseScopes, type Principal } from './principal.js';
import type { Role } from './permissions.js';
import { hashToken, sameSecret, type SecretBox } from './secrets.js';
import { Unauthenticated } from '../model/errors.js';
import { ByteLru } from '../cache/lru.js';
import { peerChannel, peerKey, type PeerChannel } from '../cluster.js';

/** Remembers recent successful bcrypt checks, for a minute after their last use; an entry is valid only while the stored hash is unchanged. */
const VERIFIED_TTL_MS = 60_000;
/** Memory for remembered password checks, per process: about 10,000 entries (a 64-character key, its expiry and the Map's overhead). */
const VERIFIED_CACHE_BYTES = 2 * 1024 * 1024;
const VERIFIED_ENTRY_BYTES = 200;
/** last_accessed is written at most this often per credential. */
const TOUCH_INTERVAL = "interval '1 minute'";

/** Quay's answer to a plain password on Basic auth with FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH. */
export const UNENCRYPTED_PASSWORD_REFUSED = 'Client login with unencrypted passwords is disabled. Please generate an encrypted password in the user admin panel for use here.';

/** A right password of an account whose e-mail address is not confirmed yet (sign-up with FEATURE_MAILING). */
export const UNCONFIRMED_ACCOUNT = 'The e-mail address of this account is not confirmed yet: follow the link mailed to it, then sign in';
export class UnconfirmedAccount extends Unauthenticated {
  constructor() {
    super(UNCONFIRMED_ACCOUNT);
  }
}
export const OAUTH_TOKEN_USERNAME = '$oauthtoken';
export const APP_TOKEN_USERNAME = '$app';
export const ACCESS_TOKEN_USERNAME = '$token';

/** Lengths of the public lookup part of each token kind (the rest is the secret). */
export const OAUTH_NAME_LENGTH = 20;
export const APP_TOKEN_NAME_LENGTH = 60;
export const ACCESS_TOKEN_NAME_LENGTH = 32;

export type BearerResult = { principal: Principal } | { error: 'invalid' | 'expired' };

export class Authenticator {
  /** Keys of recently verified passwords (see verifiedKey) → until when they hold. */
  readonly verified = new ByteLru<number>('password', VERIFIED_CACHE_BYTES);
  /** The other HTTP worker processes of this server learn each verified key, so a client's next request pays no bcrypt there either. */
  private readonly peers: PeerChannel<string> = peerChannel<string>('verified-password', (key) => {
    if (typeof key === 'string' && /^[0-9a-f]{64}$/.test(key)) this.remember(key);
  });
  /** Per user, the last password check queued in this process (see password()). */
  private readonly checking = new Map<number, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly namespaces: Namespaces,
    private readonly config: QuayConfig,
    private readonly box: SecretBox,
    private readonly backoff: LoginBackoff,
  ) {}

  /** Quay's `encrypted_password`: usable as the password, so scripts need not store the real one. */
  encryptPassword(password: string): string {
    return this.box.seal(password);
  }

  userPrincipal(row: NamespaceRow, extra: Partial<Extract<Principal, { kind: 'user' }>> = {}): Principal {
    return { kind: 'user', id: row.id, name: row.name, superuser: this.namespaces.isSuperuser(row), ...extra };
  }

  /** The principal for basic credentials, or null when they are wrong or the account is disabled. */
  async basic(username: string, password: string): Promise<Principal | null> {
    if (!password) return null;
    if (username === OAUTH_TOKEN_USERNAME) {
      const r = await this.bearer(password);
      return 'principal' in r ? r.principal : null;
    }
    if (username === APP_TOKEN_USERNAME) return this.config.FEATURE_APP_SPECIFIC_TOKENS ? this.appToken(password) : null;
    if (username === ACCESS_TOKEN_USERNAME) return this.accessToken(password);
    if (username.includes('+')) return this.robot(username, password);
    return this.password(username, password, { encryptedOnly: this.config.FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH });
  }

  /**
   * A user's password (Database authentication), under Quay's login backoff: throws 429 TOOMANYREQUESTS
   * while the user is backing off from failed attempts. A password verified within the last minute skips
   * the backoff (only its owner can present it). Unverified passwords of one user are checked one at a time
   * in this process, so a burst of guesses meets the backoff after the first failure, and a burst of
   * requests with the right password costs one hash.
   */
  async password(username: string, password: string, opts: { encryptedOnly?: boolean } = {}): Promise<Principal | null> {
    if (this.config.AUTHENTICATION_TYPE === 'AppToken') return null;
    const row = await this.namespaces.byName(username);
    if (!row || row.kind !== 'user' || !row.enabled || !row.password_hash) return null;
    // The "encrypted password" Quay hands out (/user/clientkey, superuser user creation, /user/initialize) works too.
    const decrypted = password.length > 40 ? this.box.open(password) : null;
    // FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: a plain password is refused before it is checked (no hash, no backoff).
    if (opts.encryptedOnly && decrypted === null) throw new Unauthenticated(UNENCRYPTED_PASSWORD_REFUSED);
    const candidates = decrypted === null ? [password] : opts.encryptedOnly ? [decrypted] : [password, decrypted];
    const verified = () => candidates.some((c) => this.recentlyVerified(row, c));
    if (verified()) return this.passwordUser(row);
    return this.oneAtATime(row.id, async () => {
      if (verified()) return this.passwordUser(row);
      await this.backoff.check(row.id);
      for (const c of candidates) {
        if (await this.checkPassword(row, c)) {
          await this.backoff.clear(row.id);
          return this.passwordUser(row);
        }
      }
      await this.backoff.fail(row.id);
      return null;
    });
  }

  /** The user whose password matched; an account awaiting its e-mail confirmation cannot sign in yet (Quay's inactive login). */
  private passwordUser(row: NamespaceRow): Principal {
    if (!row.verified) throw new UnconfirmedAccount();
    return this.userPrincipal(row, { via: 'password' });
  }

  /** Runs `fn` after every earlier call for the same user in this process has settled. */
  private oneAtATime<T>(userId: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.checking.get(userId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.checking.set(userId, settled);
    void settled.then(() => {
      if (this.checking.get(userId) === settled) this.checking.delete(userId);
    });
    return run;
  }

  /** An OAuth access token (`Authorization: Bearer` on the API, `$oauthtoken` on the registry). */
  async bearer(token: string): Promise<BearerResult> {
    if (token.length <= OAUTH_NAME_LENGTH) return { error: 'invalid' };
    const r = await this.db.query<NamespaceRow & { token_hash: string; scope: string; expired: boolean; token_uuid: string; token_id: number }>(
      `SELECT n.*, t.token_hash, t.scope, t.uuid AS token_uuid, t.id AS token_id, (t.expires_at IS NOT NULL AND t.expires_at <= now()) AS expired
         FROM oauth_access_token t JOIN namespace n ON n.id = t.user_id WHERE t.token_name = $1`,
      [token.slice(0, OAUTH_NAME_LENGTH)],
    );
    const row = r.rows[0];
    if (!row || !sameSecret(row.token_hash, hashToken(token.slice(OAUTH_NAME_LENGTH))) || !row.enabled) return { error: 'invalid' };
    if (row.expired) return { error: 'expired' };
    const scopes = parseScopes(row.scope);
    if (!scopes) return { error: 'invalid' };
    this.touch('oauth_access_token', row.token_id);
    return { principal: this.userPrincipal(row, { scopes, via: 'oauth', credentialId: row.token_uuid }) };
  }

  private async appToken(code: string): Promise<Principal | null> {
    if (code.length <= APP_TOKEN_NAME_LENGTH) return null;
    const r = await this.db.query<NamespaceRow & { secret_enc: string; token_uuid: string; token_id: number }>(
      `SELECT n.*, t.secret_enc, t.uuid AS token_uuid, t.id AS token_id
         FROM app_token t JOIN namespace n ON n.id = t.user_id
        WHERE t.token_name = $1 AND (t.expiration IS NULL OR t.expiration > now())`,
      [code.slice(0, APP_TOKEN_NAME_LENGTH)],
    );
    const row = r.rows[0];
    if (!row || !row.enabled) return null;
    const secret = this.box.open(row.secret_enc);
    if (secret === null || !sameSecret(secret, code.slice(APP_TOKEN_NAME_LENGTH))) return null;
    this.touch('app_token', row.token_id);
    return this.userPrincipal(row, { via: 'app_token', credentialId: row.token_uuid });
  }

  private async accessToken(code: string): Promise<Principal | null> {
    if (code.length <= ACCESS_TOKEN_NAME_LENGTH) return null;
    const r = await this.db.query<{ id: number; repository_id: number; role: Role; kind: string; token_hash: string }>(
      `SELECT t.id, t.repository_id, t.role, t.kind, t.token_hash FROM access_token t
        WHERE t.token_name = $1 AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [code.slice(0, ACCESS_TOKEN_NAME_LENGTH)],
    );
    const row = r.rows[0];
    if (!row || !sameSecret(row.token_hash, hashToken(code.slice(ACCESS_TOKEN_NAME_LENGTH)))) return null;
    return { kind: 'token', id: row.id, repositoryId: row.repository_id, role: row.role, tokenKind: row.kind };
  }

  private async robot(name: string, token: string): Promise<Principal | null> {
    const r = await this.db.query<{ id: number; name: string; owner_id: number; owner_name: string; owner_enabled: boolean; token_enc: string }>(
      `SELECT b.id, b.name, o.id AS owner_id, o.name AS owner_name, o.enabled AS owner_enabled, a.token_enc
         FROM namespace b JOIN namespace o ON o.id = b.robot_owner_id JOIN robot_account a ON a.robot_id = b.id
        WHERE b.name = $1 AND b.kind = 'robot' AND b.enabled`,
      [name],
    );
    const row = r.rows[0];
    if (!row || !row.owner_enabled) return null;
    const stored = this.box.open(row.token_enc);
    if (stored === null || !sameSecret(stored, token)) return null;
    void this.db
      .query(`UPDATE robot_account SET last_accessed = now() WHERE robot_id = $1 AND (last_accessed IS NULL OR last_accessed < now() - ${TOUCH_INTERVAL})`, [row.id])
      .catch(() => undefined);
    return { kind: 'robot', id: row.id, name: row.name, ownerId: row.owner_id, ownerName: row.owner_name };
  }

  private touch(table: 'oauth_access_token' | 'app_token', id: number): void {
    void this.db
      .query(`UPDATE ${table} SET last_accessed = now() WHERE id = $1 AND (last_accessed IS NULL OR last_accessed < now() - ${TOUCH_INTERVAL})`, [id])
      .catch(() => undefined);
  }

  /**
   * What a verified password is remembered by: a keyed hash (HMAC under the server's own random key, never
   * stored) of the user, the stored password hash and the password. A changed password (a new stored hash)
   * therefore never meets an older entry, in any process, and the password itself is kept nowhere.
   */
  private verifiedKey(row: NamespaceRow, password: string): string {
    return createHmac('sha256', peerKey()).update(`${row.id}\0${row.password_hash}\0${password}`).digest('hex');
  }

  /**
   * A hit renews the entry: a client that keeps working with its password (each skopeo or podman command asks
   * /v2/auth again) pays one bcrypt check, not one a minute. The caller has read the user's row just now, so a
   * disabled account never gets here.
   */
  private recentlyVerified(row: NamespaceRow, password: string): boolean {
    const key = this.verifiedKey(row, password);
    const until = this.verified.get(key);
    if (until === undefined || until <= Date.now()) return false;
    this.remember(key);
    return true;
  }

  private remember(key: string): void {
    this.verified.set(key, Date.now() + VERIFIED_TTL_MS, VERIFIED_ENTRY_BYTES);
  }

  private async checkPassword(row: NamespaceRow, password: string): Promise<boolean> {
    if (!(await verifyPassword(password, row.password_hash!))) return false;
    const key = this.verifiedKey(row, password);
    this.remember(key);
    this.peers.send(key);
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
