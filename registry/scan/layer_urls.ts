/**
 * Layer download URLs for Clair: `/secscan/blobs/{digest}?expires=…&signature=…` (see auth/signed_links.ts),
 * so a URL fetches exactly one blob for a short time (Quay hands Clair a repository-wide pull token instead;
 * this is narrower).
 */
import { SignedLinks } from '../auth/signed_links.js';

/** Clair downloads layers right after the index request; Quay's tokens live 60 s too. */
export const LAYER_URL_TTL_SECONDS = 60;

export class LayerUrlSigner {
  private readonly links: SignedLinks;
  constructor(key: string, base: string) {
    this.links = new SignedLinks(key, base, 'secscan-layer', '/secscan/blobs/');
  }

  url(digest: string, now = Date.now(), ttlSeconds = LAYER_URL_TTL_SECONDS): string {
    return this.links.link(digest, ttlSeconds, now);
  }

  verify(digest: string, expires: unknown, signature: unknown, now = Date.now()): boolean {
    return this.links.verify(digest, expires, signature, now);
  }
}
