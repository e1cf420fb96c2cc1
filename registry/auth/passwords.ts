/**
 * Password hashing (bcrypt, as Quay stores them) and the password rule. @node-rs/bcrypt hashes on libuv's
 * thread pool, so password guessing never blocks the event loop (bcryptjs did, 50-100 ms per guess).
 */
import { hash, verify } from '@node-rs/bcrypt';
import { randomBytes } from 'node:crypto';
import { hasControlChars } from '../input.js';

const COST = 10;

export function hashPassword(password: string): Promise<string> {
  return hash(password, COST);
}

/** False for a wrong password and for a stored hash that is not bcrypt. */
export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return verify(password, stored).catch(() => false);
}

/** Quay's rule: at least 8 characters, no whitespace. Returns the problem, or null. */
export function passwordProblem(password: unknown): string | null {
  if (typeof password !== 'string' || password.length < 8) return 'Password must be at least 8 characters long';
  if (/\s/.test(password)) return 'Password must not contain whitespace';
  if (hasControlChars(password)) return 'Password must not contain control characters';
  return null;
}

/** A random credential of `length` characters from [A-Z0-9] (Quay's generated passwords and tokens). */
export function generateSecret(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(length * 2);
  let out = '';
  // Rejection sampling keeps the distribution uniform.
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    if (bytes[i] < 252) out += alphabet[bytes[i] % 36];
  }
  return out.length === length ? out : out + generateSecret(length - out.length);
}
