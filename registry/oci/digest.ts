/** Digests: parsing, validation and hashing (sha256, sha512). */
import { createHash, type Hash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const GENERIC_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: string;
}

export class DigestError extends Error {
  constructor(
    message: string,
    public readonly unsupported = false,
  ) {
    super(message);
  }
}

export function isSupportedAlgorithm(a: string): a is DigestAlgorithm {
  return a === 'sha256' || a === 'sha512';
}

/** Parse a digest string; throws DigestError when it is malformed or uses an algorithm we do not implement. */
export function parseDigest(digest: string): ParsedDigest {
  if (!GENERIC_DIGEST.test(digest)) throw new DigestError(`invalid digest "${digest}"`);
  const i = digest.indexOf(':');
  const algorithm = digest.slice(0, i);
  const hex = digest.slice(i + 1);
  if (!isSupportedAlgorithm(algorithm)) throw new DigestError(`unsupported digest algorithm "${algorithm}"`, true);
  if (hex.length !== ENCODED_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new DigestError(`invalid ${algorithm} digest "${digest}"`);
  }
  return { algorithm, hex, digest };
}

export function looksLikeDigest(reference: string): boolean {
  return reference.includes(':');
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export const EMPTY_BLOB_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
