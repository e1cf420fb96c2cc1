/** Password hashing (bcrypt, as Quay stores them) and the password rule. */
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { hasControlChars } from '../input.js';

const COST = 10;

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, COST);
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
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
