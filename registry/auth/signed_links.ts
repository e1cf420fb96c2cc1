/**
 * Expiring links the registry hands out without a login: `{base}{prefix}{subject}?expires=…&signature=…`, an
 * HMAC over the purpose, the subject and the expiry, so a link opens exactly one thing for a limited time. The
 * key is shared by all replicas through the database (app_secret).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class SignedLinks {
  constructor(
    private readonly key: string,
    /** `{scheme}://{SERVER_HOSTNAME}` */
    private readonly base: string,
    /** Separates the links of different features signed with one key. */
    private readonly purpose: string,
    /** The path before the subject, e.g. `/exportedlogs/`. */
    private readonly prefix: string,
  ) {}

  private mac(subject: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${this.purpose}\n${subject}\n${expires}`).digest('base64url');
  }

  link(subject: string, ttlSeconds: number, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    return `${this.base}${this.prefix}${subject}?expires=${expires}&signature=${this.mac(subject, expires)}`;
  }

  /** Whether a request for `subject` carries a valid, unexpired signature. */
  verify(subject: string, expires: unknown, signature: unknown, now = Date.now()): boolean {
    if (typeof expires !== 'string' || typeof signature !== 'string' || !/^\d{1,12}$/.test(expires)) return false;
    const exp = Number(expires);
    if (exp < Math.floor(now / 1000)) return false;
    const want = Buffer.from(this.mac(subject, exp));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
