/**
 * The JWTs between build manager and worker (Quay's buildman/build_token.py): signed with the instance's own
 * service key (`kid` in the header; any manager replica verifies with the service_key table), audience
 * BUILDMAN_HOSTNAME, sub "(anonymous)", access {}, and a context {token_type, build_id, job_id, expiration}.
 * build_job_registration lives JOB_REGISTRATION_TIMEOUT + 30 s; build_job_token lives MACHINE_MAX_TIME.
 * 30 s of clock skew are tolerated.
 */
import { SignJWT, decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';
import type { Db } from '../db/index.js';
import { TOKEN_ISSUER } from '../auth/tokens.js';

export type BuildTokenType = 'build_job_registration' | 'build_job_token';

export interface BuildTokenContext {
  token_type: BuildTokenType;
  build_id: string;
  job_id: string;
  expiration: number;
}

const SKEW_S = 30;
export const ANONYMOUS_SUB = '(anonymous)';

export class BuildTokenError extends Error {}

export class BuildJwts {
  private signing: { kid: string; key: CryptoKey } | null = null;
  private readonly keys = new Map<string, CryptoKey>();

  constructor(
    private readonly db: Db,
    private readonly audience: string,
  ) {}

  private async signer(): Promise<{ kid: string; key: CryptoKey }> {
    if (this.signing) return this.signing;
    const row = (await this.db.query<{ kid: string; private_jwk: JWK }>('SELECT kid, private_jwk FROM service_key WHERE private_jwk IS NOT NULL ORDER BY created_at DESC LIMIT 1'))
      .rows[0];
    if (!row) throw new BuildTokenError('the instance has no service key yet');
    this.signing = { kid: row.kid, key: (await importJWK(row.private_jwk, 'ES256')) as CryptoKey };
    return this.signing;
  }

  async sign(type: BuildTokenType, buildId: string, jobId: string, lifetimeS: number): Promise<string> {
    const { kid, key } = await this.signer();
    const now = Math.floor(Date.now() / 1000);
    const exp = now + Math.ceil(lifetimeS);
    const context: BuildTokenContext = { token_type: type, build_id: buildId, job_id: jobId, expiration: exp };
    return new SignJWT({ access: {}, context })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(this.audience)
      .setSubject(ANONYMOUS_SUB)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .sign(key);
  }

  /** The context of a valid token of `type`; throws BuildTokenError otherwise (bad signature, foreign key, expired, wrong type). */
  async verify(token: string, type: BuildTokenType): Promise<BuildTokenContext> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new BuildTokenError('malformed token');
    }
    if (!kid) throw new BuildTokenError('token without kid');
    const key = await this.publicKey(kid);
    let payload: Record<string, unknown>;
    try {
      payload = (await jwtVerify(token, key, { issuer: TOKEN_ISSUER, audience: this.audience, algorithms: ['ES256'], clockTolerance: SKEW_S, subject: ANONYMOUS_SUB })).payload;
    } catch (err) {
      throw new BuildTokenError(`invalid token: ${(err as Error).message}`);
    }
    const c = payload.context as Partial<BuildTokenContext> | undefined;
    if (!c || typeof c !== 'object' || typeof c.build_id !== 'string' || typeof c.job_id !== 'string' || typeof c.expiration !== 'number' || typeof c.token_type !== 'string') {
      throw new BuildTokenError('token context is missing or malformed');
    }
    if (c.token_type !== type) throw new BuildTokenError(`expected a ${type} token, got ${c.token_type}`);
    return c as BuildTokenContext;
  }

  private async publicKey(kid: string): Promise<CryptoKey> {
    const known = this.keys.get(kid);
    if (known) return known;
    const row = (await this.db.query<{ public_jwk: JWK }>('SELECT public_jwk FROM service_key WHERE kid = $1 AND private_jwk IS NOT NULL', [kid])).rows[0];
    if (!row) throw new BuildTokenError('token signed by an unknown key');
    const key = (await importJWK(row.public_jwk, 'ES256')) as CryptoKey;
    this.keys.set(kid, key);
    return key;
  }
}
