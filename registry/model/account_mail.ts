/**
 * What the registry mails a user about the account itself (Quay's EmailConfirmation and util/useremails): the
 * confirmation of a new account's address or of a changed address, and password recovery. A code is a random
 * token; only its hash is stored; it works once. Recovery codes live USER_RECOVERY_TOKEN_LIFETIME.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { QuayConfig } from '../../config/index.js';
import type { Db, Queryable } from '../db/index.js';
import type { Mailer } from '../net/mail.js';
import { escapeHtml } from './event_kinds.js';
import { Invalid, Unavailable } from './errors.js';
import { durationSeconds, type NamespaceRow, type Namespaces } from './namespaces.js';

type Purpose = 'confirm' | 'recovery';

const hashCode = (code: string) => createHash('sha256').update(code).digest('hex');

/** Quay's redaction of an organization name in a recovery answer: the first and last third stay readable. */
export function redactName(name: string): string {
  const keep = Math.max(name.length / 3 - 1, 1);
  return [...name].map((c, i) => (i < keep || i >= name.length - keep ? c : '\u2022')).join('');
}

export type RecoveryAnswer = { status: 'sent' } | { status: 'org'; orgemail: string; orgname: string };

export class AccountMail {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    private readonly mailer: Mailer,
    private readonly namespaces: Namespaces,
  ) {}

  /** Whether accounts are confirmed and recovered by e-mail here (FEATURE_MAILING with a mail server). */
  get enabled(): boolean {
    return this.mailer.enabled;
  }

  private link(path: string, code: string): string {
    return `${this.config.PREFERRED_URL_SCHEME}://${this.config.SERVER_HOSTNAME}${path}?code=${encodeURIComponent(code)}`;
  }

  private async newCode(userId: number, purpose: Purpose, newEmail: string | null, q: Queryable = this.db): Promise<string> {
    const code = randomBytes(24).toString('base64url');
    await q.query('INSERT INTO email_confirmation (code_hash, user_id, purpose, new_email) VALUES ($1, $2, $3, $4)', [hashCode(code), userId, purpose, newEmail]);
    return code;
  }

  /** Takes a code of `purpose` (deleting it); null when there is none. */
  private async take(code: string, purpose: Purpose, q: Queryable): Promise<{ user_id: number; new_email: string | null; age_s: number } | null> {
    if (!code) return null;
    const r = await q.query<{ user_id: number; new_email: string | null; age_s: number }>(
      `DELETE FROM email_confirmation WHERE code_hash = $1 AND purpose = $2
       RETURNING user_id, new_email, extract(epoch FROM now() - created_at)::float8 AS age_s`,
      [hashCode(code), purpose],
    );
    return r.rows[0] ?? null;
  }

  private async mail(to: string, subject: string, lines: string[], link?: { href: string; label: string }): Promise<void> {
    const html = lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('') + (link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>` : '');
    const text = [...lines, ...(link ? [`${link.label}: ${link.href}`] : [])].join('\n\n') + '\n';
    try {
      await this.mailer.send({ to, subject, html, text });
    } catch {
      throw new Unavailable('mail', 'The e-mail could not be sent; try again later');
    }
  }

  /** The account's address is proven otherwise (a team invitation mailed to it was used at sign-up). */
  async markVerified(userId: number, q: Queryable = this.db): Promise<NamespaceRow> {
    const r = await q.query<NamespaceRow>('UPDATE namespace SET verified = true WHERE id = $1 RETURNING *', [userId]);
    return r.rows[0];
  }

  /**
   * Mails the link that confirms `user`'s address, or `newEmail` for an e-mail change (the address changes only
   * when the link is followed). `q`: the transaction creating the account, so that no account is left
   * unconfirmable when the mail cannot be sent.
   */
  async sendConfirmation(user: NamespaceRow, newEmail: string | null, q: Queryable = this.db): Promise<void> {
    const to = newEmail ?? user.email;
    if (!to) throw new Invalid('request', 'The account has no e-mail address to confirm');
    if (newEmail) await this.checkAddressFree(newEmail, user.id, q);
    const code = await this.newCode(user.id, 'confirm', newEmail, q);
    const what = newEmail ? `the new e-mail address of the account ${user.name}` : `the e-mail address of the account ${user.name}`;
    await this.mail(to, 'Please confirm your e-mail address', [`Follow the link below to confirm ${what} on ${this.config.SERVER_HOSTNAME}.`], {
      href: this.link('/confirm', code),
      label: 'Confirm e-mail address',
    });
  }

  private async checkAddressFree(email: string, userId: number, q: Queryable): Promise<void> {
    this.namespaces.checkEmailAllowed(email);
    const r = await q.query("SELECT 1 FROM namespace WHERE kind = 'user' AND lower(email) = lower($1) AND id <> $2", [email, userId]);
    if (r.rows.length > 0) throw new Invalid('request', 'E-mail address already used');
  }

  /**
   * Follows a confirmation link: the user is verified and, for an e-mail change, moves to the new address (the
   * old one is told). Null for a code that is not valid (unknown, used, or for another purpose).
   */
  async confirm(code: string): Promise<{ user: NamespaceRow; newEmail: string | null; oldEmail: string | null } | null> {
    const done = await this.db.tx(async (q) => {
      const c = await this.take(code, 'confirm', q);
      if (!c) return null;
      if (c.new_email) await this.checkAddressFree(c.new_email, c.user_id, q);
      const before = await this.namespaces.byId(c.user_id, q);
      const r = await q.query<NamespaceRow>('UPDATE namespace SET verified = true, email = coalesce($2, email) WHERE id = $1 RETURNING *', [c.user_id, c.new_email]);
      return { user: r.rows[0], newEmail: c.new_email, oldEmail: c.new_email ? (before?.email ?? null) : null };
    });
    if (done?.newEmail && done.oldEmail && done.oldEmail.toLowerCase() !== done.newEmail.toLowerCase()) {
      await this.mail(done.oldEmail, 'Account e-mail address changed', [
        `The e-mail address of the account ${done.user.name} on ${this.config.SERVER_HOSTNAME} was changed to ${done.newEmail}.`,
        'If you did not ask for this change, contact an administrator of the registry.',
      ]).catch(() => undefined);
    }
    return done;
  }

  /**
   * A password-recovery request for `email` (POST /api/v1/recovery): a user with that address gets a link that
   * signs them in to set a new password; organizations with it get the names of their administrators. The answer
   * says `org` (with the name redacted) only when no user has the address, as Quay's.
   */
  async requestRecovery(email: string): Promise<RecoveryAnswer> {
    const users = await this.db.query<NamespaceRow>("SELECT * FROM namespace WHERE kind = 'user' AND enabled AND lower(email) = lower($1)", [email]);
    const orgs = await this.db.query<{ name: string; admins: string[] }>(
      `SELECT o.name, coalesce(array_agg(DISTINCT u.name ORDER BY u.name) FILTER (WHERE u.id IS NOT NULL), '{}') AS admins
         FROM namespace o
         LEFT JOIN team t ON t.org_id = o.id AND t.role = 'admin'
         LEFT JOIN team_member m ON m.team_id = t.id
         LEFT JOIN namespace u ON u.id = m.member_id AND u.kind = 'user'
        WHERE o.kind = 'org' AND lower(o.email) = lower($1)
        GROUP BY o.name ORDER BY o.name`,
      [email],
    );
    const user = users.rows[0];
    // Anyone may ask, for any address: a user mailed a link within the last minute is not mailed again.
    if (
      user &&
      (await this.db.query("SELECT 1 FROM email_confirmation WHERE user_id = $1 AND purpose = 'recovery' AND created_at > now() - interval '1 minute'", [user.id])).rows.length > 0
    ) {
      return { status: 'sent' };
    }
    const lines: string[] = [];
    let link: { href: string; label: string } | undefined;
    if (user) {
      lines.push(
        `A password reset was asked for the account ${user.name} on ${this.config.SERVER_HOSTNAME}. The link below signs you in once, within ${this.config.USER_RECOVERY_TOKEN_LIFETIME}, to set a new password.`,
      );
      link = { href: this.link('/recovery', await this.newCode(user.id, 'recovery', null)), label: 'Reset your password' };
    }
    for (const o of orgs.rows) {
      lines.push(`${o.name} is an organization: it has no password. Its administrators are ${o.admins.length ? o.admins.join(', ') : '(none)'}; sign in as one of them.`);
    }
    if (lines.length) {
      lines.push('If you did not ask for this, ignore this message.');
      await this.mail(email, 'Account recovery', lines, link);
    }
    if (!user && orgs.rows.length) return { status: 'org', orgemail: email, orgname: redactName(orgs.rows[0].name) };
    return { status: 'sent' };
  }

  /** A superuser's "send recovery e-mail" for `user` (who has an address). */
  async sendRecoveryTo(user: NamespaceRow): Promise<string> {
    if (!user.email) throw new Invalid('request', 'The user has no e-mail address');
    const code = await this.newCode(user.id, 'recovery', null);
    await this.mail(
      user.email,
      'Account recovery',
      [
        `An administrator of ${this.config.SERVER_HOSTNAME} sent you this link to set a new password for the account ${user.name}. It signs you in once, within ${this.config.USER_RECOVERY_TOKEN_LIFETIME}.`,
      ],
      { href: this.link('/recovery', code), label: 'Reset your password' },
    );
    return user.email;
  }

  /** Follows a recovery link: the (enabled) user it was made for, now verified; null when not valid or expired. */
  async recover(code: string): Promise<NamespaceRow | null> {
    return this.db.tx(async (q) => {
      const c = await this.take(code, 'recovery', q);
      if (!c || c.age_s > durationSeconds(this.config.USER_RECOVERY_TOKEN_LIFETIME)) return null;
      const r = await q.query<NamespaceRow>("UPDATE namespace SET verified = true WHERE id = $1 AND kind = 'user' AND enabled RETURNING *", [c.user_id]);
      return r.rows[0] ?? null;
    });
  }
}
