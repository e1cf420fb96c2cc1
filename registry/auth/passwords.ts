/**
 * Password hashing (bcrypt, as Quay stores them) and the password rule. @node-rs/bcrypt hashes on libuv's
 * thread pool, so password guessing never blocks the event loop (bcryptjs did, 50-100 ms per guess). The
 * same pool runs file-system calls (blob reads and writes on LocalStorage, the health check's statfs) and
 * DNS lookups, so at most HASH_SLOTS hashes run at once: guessing clients never hold every thread.
 */
import { hash, verify } from '@node-rs/bcrypt';
import { randomBytes } from 'node:crypto';
import { hasControlChars } from '../input.js';

const COST = 10;

/** Half of libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), at least one. */
const HASH_SLOTS = Math.max(1, Math.floor(Number(process.env.UV_THREADPOOL_SIZE || 4) / 2));
let running = 0;
const waiting: Array<() => void> = [];

async function inSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= HASH_SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await fn();
  } finally {
    // The slot passes straight to the next waiter, if any.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return inSlot(() => hash(password, COST));
}

/** False for a wrong password and for a stored hash that is not bcrypt. */
export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return inSlot(() => verify(password, stored)).catch(() => false);
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
