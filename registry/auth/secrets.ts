/**
 * Symmetric encryption for what must be shown again or handed back untouched: robot tokens, app-token secrets,
 * OAuth client secrets (DATABASE_SECRET_KEY) and opaque page tokens (PAGE_TOKEN_KEY). AES-256-GCM from
 * node:crypto: a sealed value cannot be read or altered without the key. When config.yaml sets no key, one
 * is generated once and kept in the database so that every replica uses the same.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/index.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  private readonly key: Buffer;

  /** `material` is any secret string; `purpose` separates keys derived from the same material. */
  constructor(material: string, purpose: string) {
    this.key = createHash('sha256').update(`${purpose}\0${material}`).digest();
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The plain text, or null when the value was not sealed with this key or was altered. */
  open(sealed: string): string | null {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** Seal a JSON value that expires after `ttlS` seconds (page tokens). */
  sealJson(value: unknown, ttlS: number): string {
    return this.seal(JSON.stringify({ v: value, exp: Math.floor(Date.now() / 1000) + ttlS }));
  }

  /** The JSON value, or null when tampered with, sealed with another key, or expired. */
  openJson<T>(sealed: string): T | null {
    const plain = this.open(sealed);
    if (plain === null) return null;
    try {
      const { v, exp } = JSON.parse(plain) as { v: T; exp: number };
      return exp >= Date.now() / 1000 ? v : null;
    } catch {
      return null;
    }
  }
}

/** The configured secret, or the one generated for `name` on first use (shared through the database). */
export async function secretMaterial(db: Db, name: string, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await db.query('INSERT INTO app_secret (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32).toString('base64')]);
  const r = await db.query<{ value: string }>('SELECT value FROM app_secret WHERE name = $1', [name]);
  return r.rows[0].value;
}

/** sha256 hex of a token secret (high-entropy secrets need no slow hash). */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
