/**
 * Delivery of one event to one notification by its method (Quay's NotificationMethod.perform). Every HTTP call
 * goes through the SSRF guard; a non-2xx answer, a refused address, a timeout or an SMTP error throws.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Outbound, OutboundPurpose } from '../net/outbound.js';
import type { Mailer } from '../net/mail.js';
import type { Notifications } from './notifications.js';
import { eventKind, escapeHtml, type EventLevel } from './event_kinds.js';
import type { NotificationRow } from './notification_configs.js';
import { applyTemplate, parseTemplate } from './webhook_template.js';

export class DeliveryFailed extends Error {}

const SLACK_COLORS: Record<EventLevel, string> = { info: '#ffffff', warning: 'warning', error: 'danger', success: 'good', primary: 'good' };
const HIPCHAT_COLORS: Record<EventLevel, string> = { info: 'gray', warning: 'yellow', error: 'red', success: 'green', primary: 'purple' };

/** Quay's Slack flattening of an HTML body: links as <url|text>, bold as *, italics as _, other tags dropped. */
export function htmlToSlack(html: string): string {
  return html
    .replace(/\s+/g, ' ')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>(.*?)<\/a>/gi, '<$1|$2>')
    .replace(/<\/?(b|strong)>/gi, '*')
    .replace(/<\/?(i|em)>/gi, '_')
    .replace(/<img[^>]*>/gi, '')
    .replace(/<(?!https?:|mailto:)[^>]+>/gi, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

export interface DeliveryDeps {
  db: Db;
  config: QuayConfig;
  outbound: Outbound;
  mailer: Mailer;
  notifications: Notifications;
  /** The directory of config.yaml, where ssl.cert / ssl.key live; null in embedded mode. */
  configDir: string | null;
}

export class NotificationDelivery {
  private clientCert: { cert: Buffer; key: Buffer } | null | undefined;
  constructor(private readonly d: DeliveryDeps) {}

  /** The client certificate presented to https webhooks: ssl.cert and ssl.key beside config.yaml, when both exist. */
  private tlsClient(): { cert: Buffer; key: Buffer } | undefined {
    if (this.clientCert === undefined) {
      const dir = this.d.configDir;
      const cert = dir ? join(dir, 'ssl.cert') : null;
      const key = dir ? join(dir, 'ssl.key') : null;
      this.clientCert = cert && key && existsSync(cert) && existsSync(key) ? { cert: readFileSync(cert), key: readFileSync(key) } : null;
    }
    return this.clientCert ?? undefined;
  }

  private async post(url: string, purpose: OutboundPurpose, json: unknown): Promise<void> {
    const isHttps = url.toLowerCase().startsWith('https:');
    const res = await this.d.outbound.request(url, { method: 'POST', json, purpose, tls: isHttps && purpose === 'webhook' ? this.tlsClient() : undefined });
    res.discard();
    if (res.status < 200 || res.status > 299) throw new DeliveryFailed(`${purpose} ${new URL(url).host} answered ${res.status}`);
  }

  async deliver(n: NotificationRow, eventData: Record<string, unknown>): Promise<void> {
    const kind = eventKind(n.event);
    if (!kind) throw new DeliveryFailed(`unknown event ${n.event}`);
    const c = n.config;
    // A webhook posts the payload itself: the summary and HTML the other methods send are not built for it.
    if (n.method === 'webhook') {
      const template = c.template !== undefined && c.template !== null && c.template !== '' ? parseTemplate(c.template) : null;
      return this.post(String(c.url), 'webhook', template === null ? eventData : applyTemplate(template, eventData));
    }
    const level = kind.level(eventData);
    const summary = kind.summary(eventData);
    const html = kind.html(eventData);
    switch (n.method) {
      case 'slack':
        return this.post(String(c.url), 'slack', {
          text: summary,
          username: 'quayiobot',
          attachments: [{ fallback: summary, text: htmlToSlack(html), color: SLACK_COLORS[level], mrkdwn_in: ['text'] }],
        });
      case 'flowdock':
        return this.post(`https://api.flowdock.com/v1/messages/team_inbox/${encodeURIComponent(String(c.flow_api_token))}`, 'flowdock', {
          source: this.d.config.REGISTRY_TITLE,
          from_address: this.d.config.MAIL_DEFAULT_SENDER,
          subject: summary,
          content: html,
          from_name: this.d.config.REGISTRY_TITLE,
          project: [n.namespace, n.repository].filter(Boolean).join(' '),
          tags: [`#${n.event}`],
          link: eventData.homepage,
        });
      case 'hipchat':
        return this.post(
          `https://api.hipchat.com/v2/room/${encodeURIComponent(String(c.room_id))}/notification?auth_token=${encodeURIComponent(String(c.notification_token))}`,
          'hipchat',
          { color: HIPCHAT_COLORS[level], message: html, notify: level === 'error', message_format: 'html' },
        );
      case 'email':
        return this.d.mailer.send({ to: await this.emailRecipients(n), subject: summary, html: emailHtml(summary, html), text: htmlToSlack(html) });
      case 'quay_notification':
        return this.inApp(n, eventData);
    }
  }

  /** Repository notifications mail their configured address; namespace ones the namespace's address, else its admins'. */
  private async emailRecipients(n: NotificationRow): Promise<string[]> {
    if (n.scope === 'repository') return [String(n.config.email)];
    const own = await this.d.db.query<{ email: string | null }>('SELECT email FROM namespace WHERE id = $1', [n.namespace_id]);
    if (own.rows[0]?.email) return [own.rows[0].email];
    const admins = await this.d.db.query<{ email: string }>(
      `SELECT DISTINCT u.email FROM team t JOIN team_member m ON m.team_id = t.id JOIN namespace u ON u.id = m.member_id
        WHERE t.org_id = $1 AND t.role = 'admin' AND u.kind = 'user' AND u.email IS NOT NULL`,
      [n.namespace_id],
    );
    if (admins.rows.length === 0) throw new DeliveryFailed(`namespace ${n.namespace} has no e-mail address to notify`);
    return admins.rows.map((r) => r.email);
  }

  /** In-app notifications for a user, an organization (its admins see it) or each user of a team. */
  private async inApp(n: NotificationRow, eventData: Record<string, unknown>): Promise<void> {
    const target = n.config.target as { kind: string; name: string };
    let ids: number[];
    if (target.kind === 'team') {
      const r = await this.d.db.query<{ id: number }>(
        `SELECT u.id FROM team t JOIN team_member m ON m.team_id = t.id JOIN namespace u ON u.id = m.member_id
          WHERE t.org_id = $1 AND t.name = $2 AND u.kind = 'user'`,
        [n.namespace_id, target.name],
      );
      ids = r.rows.map((x) => x.id);
    } else {
      const r = await this.d.db.query<{ id: number }>('SELECT id FROM namespace WHERE name = $1 AND kind = $2', [target.name, target.kind === 'org' ? 'org' : 'user']);
      ids = r.rows.map((x) => x.id);
    }
    if (ids.length === 0) throw new DeliveryFailed(`notification target ${target.kind} ${target.name} no longer exists`);
    await this.d.db.tx(async (q) => {
      for (const id of ids) await this.d.notifications.create(id, n.event, eventData, q);
    });
  }
}

function emailHtml(summary: string, body: string): string {
  return `<!doctype html><html><body><h3>${escapeHtml(summary)}</h3><p>${body}</p></body></html>`;
}
