/**
 * Outgoing e-mail over SMTP (nodemailer), configured by Quay's MAIL_* keys and switched on by FEATURE_MAILING.
 * MAIL_USE_TLS means STARTTLS, as in Flask-Mail; MAIL_USE_AUTH sends MAIL_USERNAME / MAIL_PASSWORD.
 */
import type { Transporter } from 'nodemailer';
import type { QuayConfig } from '../../config/index.js';

export interface MailMessage {
  to: string | string[];
  subject: string;
  html: string;
  text?: string;
}

export class Mailer {
  private transport: Transporter | null = null;
  constructor(private readonly config: QuayConfig) {}

  get enabled(): boolean {
    return this.config.FEATURE_MAILING && Boolean(this.config.MAIL_SERVER);
  }

  /** nodemailer is loaded at the first message: a registry without mail does not carry it in memory. */
  private async smtp(): Promise<Transporter> {
    if (!this.transport) {
      const c = this.config;
      const { default: nodemailer } = await import('nodemailer');
      this.transport = nodemailer.createTransport({
        host: c.MAIL_SERVER,
        port: c.MAIL_PORT,
        secure: false,
        requireTLS: c.MAIL_USE_TLS,
        ignoreTLS: !c.MAIL_USE_TLS,
        auth: c.MAIL_USE_AUTH ? { user: c.MAIL_USERNAME ?? '', pass: c.MAIL_PASSWORD ?? '' } : undefined,
        connectionTimeout: c.NOTIFICATION_SEND_TIMEOUT * 1000,
        greetingTimeout: c.NOTIFICATION_SEND_TIMEOUT * 1000,
        socketTimeout: c.NOTIFICATION_SEND_TIMEOUT * 1000,
      });
    }
    return this.transport;
  }

  /** Send one message; throws when mailing is off or the SMTP server refuses it. */
  async send(m: MailMessage): Promise<void> {
    if (!this.enabled) throw new Error('e-mail is not configured (FEATURE_MAILING and MAIL_SERVER)');
    await (await this.smtp()).sendMail({ from: this.config.MAIL_DEFAULT_SENDER, to: m.to, subject: m.subject, html: m.html, text: m.text });
  }

  close(): void {
    this.transport?.close();
  }
}
