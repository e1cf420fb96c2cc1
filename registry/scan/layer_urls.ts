/**
 * Layer download URLs for Clair: `/secscan/blobs/{digest}?expires=…&signature=…`, an HMAC over the digest
 * and the expiry, so a URL fetches exactly one blob for a short time (Quay hands Clair a repository-wide pull
 * token instead; this is narrower). The key is shared by all replicas through the database.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Clair downloads layers right after the index request; Quay's tokens live 60 s too. */
export const LAYER_URL_TTL_SECONDS = 60;

export class LayerUrlSigner {
  constructor(
    private readonly key: string,
    /** `{scheme}://{SERVER_HOSTNAME}` */
    private readonly base: string,
  ) {}

  private mac(digest: string, expires: number): string {
    return createHmac('sha256', this.key).update(`secscan-layer\n${digest}\n${expires}`).digest('base64url');
  }

  url(digest: string, now = Date.now(), ttlSeconds = LAYER_URL_TTL_SECONDS): string {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    return `${this.base}/secscan/blobs/${digest}?expires=${expires}&signature=${this.mac(digest, expires)}`;
  }

  /** Whether a request for `digest` carries a valid, unexpired signature. */
  verify(digest: string, expires: unknown, signature: unknown, now = Date.now()): boolean {
    if (typeof expires !== 'string' || typeof signature !== 'string' || !/^\d{1,12}$/.test(expires)) return false;
    const exp = Number(expires);
    if (exp < Math.floor(now / 1000)) return false;
    const want = Buffer.from(this.mac(digest, exp));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
