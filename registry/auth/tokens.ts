/**
 * Registry bearer tokens (the Docker token flow): ES256 JWTs signed with a key kept in the database, so every
 * replica issues and verifies the same tokens. Verified tokens are cached until they expire.
 */
import { SignJWT, jwtVerify, generateKeyPair, exportJWK, importJWK, decodeProtectedHeader, type JWK, type CryptoKey } from 'jose';
import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../db/index.js';
import { ByteLru } from '../cache/lru.js';

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface RegistryClaims {
  sub: string;
  access: AccessEntry[];
  context?: Record<string, unknown>;
  exp: number;
}

export const TOKEN_ISSUER = 'quay';
const TOKEN_TTL_S = 3600;
/** Clock skew tolerated between replicas. */
const SKEW_S = 30;
/** Memory for verified tokens' claims, per process: about 6000 pull tokens (a full cache is live heap; see README perf). */
export const TOKEN_CACHE_BYTES = 4 * 1024 * 1024;
/**
 * What an entry costs beyond its claims' JSON: the hash key, the map's slot, the objects. Measured: 9000 pull
 * tokens held 6.2 MB more heap after a full collection, ~690 bytes each, 150 of them the JSON's characters.
 */
const TOKEN_ENTRY_OVERHEAD_BYTES = 384;

export class TokenError extends Error {}

export class TokenService {
  private signing!: { kid: string; key: CryptoKey };
  private readonly publicKeys = new Map<string, CryptoKey>();
  /**
   * Verified tokens by the SHA-256 of their text, until they expire: a token's grants are fixed when it is
   * issued (as in Quay), so keeping its verification changes no answer; the text itself is not kept.
   */
  readonly verified = new ByteLru<RegistryClaims>('token', TOKEN_CACHE_BYTES);

  constructor(
    private readonly db: Db,
    private readonly audience: string,
  ) {}

  /** Load the newest signing key, creating one on first start. */
  async init(): Promise<void> {
    let row = (await this.db.query<{ kid: string; private_jwk: JWK }>('SELECT kid, private_jwk FROM service_key WHERE private_jwk IS NOT NULL ORDER BY created_at DESC LIMIT 1'))
      .rows[0];
    if (!row) {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const kid = randomUUID();
      const priv = await exportJWK(privateKey);
      const pub = await exportJWK(publicKey);
      await this.db.query(
        `INSERT INTO service_key (kid, private_jwk, public_jwk, service, metadata, approval_type, approved_date) VALUES ($1, $2, $3, $4, '{"created_by": "Quay instance"}', 'Automatic', now())`,
        [kid, priv, pub, TOKEN_ISSUER],
      );
      row = { kid, private_jwk: priv };
    }
    this.signing = { kid: row.kid, key: (await importJWK(row.private_jwk, 'ES256')) as CryptoKey };
  }

  async issue(sub: string, access: AccessEntry[], context: Record<string, unknown>): Promise<{ token: string; expiresIn: number; issuedAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access, context })
      .setProtectedHeader({ alg: 'ES256', kid: this.signing.kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(this.audience)
      .setSubject(sub)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + TOKEN_TTL_S)
      .setJti(randomUUID())
      .sign(this.signing.key);
    return { token, expiresIn: TOKEN_TTL_S, issuedAt: new Date(now * 1000) };
  }

  /** Verify signature, issuer, audience and lifetime; throws TokenError otherwise. */
  async verify(token: string): Promise<RegistryClaims> {
    const now = Date.now() / 1000;
    const hash = createHash('sha256').update(token).digest('base64');
    const cached = this.verified.get(hash);
    if (cached) {
      if (cached.exp + SKEW_S > now) return cached;
      this.verified.delete(hash);
    }
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenError('malformed token');
    }
    if (!kid) throw new TokenError('token has no key id');
    const { key, alg, own } = await this.publicKey(kid);
    try {
      const { payload } = await jwtVerify(token, key, { issuer: TOKEN_ISSUER, audience: this.audience, clockTolerance: SKEW_S, algorithms: [alg] });
      const claims: RegistryClaims = {
        sub: String(payload.sub ?? ''),
        access: Array.isArray(payload.access) ? (payload.access as AccessEntry[]) : [],
        context: payload.context as Record<string, unknown> | undefined,
        exp: payload.exp ?? 0,
      };
      // A token signed by a preshared key is checked against its key every time: deleting the key revokes it.
      if (own) this.verified.set(hash, claims, TOKEN_ENTRY_OVERHEAD_BYTES + JSON.stringify(claims).length * 2);
      return claims;
    } catch (err) {
      throw new TokenError(`invalid token: ${(err as Error).message}`);
    }
  }

  /**
   * The key of `kid`: one of the instance's own, or (as in Quay) an approved, unexpired service key of the
   * `quay` service that a superuser created. Only the instance's keys are cached: the others may be deleted.
   */
  private async publicKey(kid: string): Promise<{ key: CryptoKey; alg: string; own: boolean }> {
    const known = this.publicKeys.get(kid);
    if (known) return { key: known, alg: 'ES256', own: true };
    const row = (
      await this.db.query<{ public_jwk: JWK; own: boolean }>(
        `SELECT public_jwk, private_jwk IS NOT NULL AS own FROM service_key
          WHERE kid = $1 AND service = $2 AND approval_type IS NOT NULL AND (expiration_date IS NULL OR expiration_date > now())`,
        [kid, TOKEN_ISSUER],
      )
    ).rows[0];
    if (!row) throw new TokenError('token signed by an unknown key');
    const alg = row.public_jwk.kty === 'RSA' ? 'RS256' : 'ES256';
    const key = (await importJWK(row.public_jwk, alg)) as CryptoKey;
    if (row.own) this.publicKeys.set(kid, key);
    return { key, alg, own: row.own };
  }
}
