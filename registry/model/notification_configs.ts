/**
 * Notification configurations: repository notifications (any repository event) and namespace notifications
 * (quota events), with Quay's validation texts per method, failure accounting (number_of_failures; at 3 a
 * notification is disabled until reset), and the e-mail addresses authorized per repository.
 */
import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import { NAMESPACE_EVENTS, REPOSITORY_EVENTS, eventKind } from './event_kinds.js';
import { MAX_NOTIFICATION_FAILURES } from './events.js';
import { OutboundRefused, type Outbound, type OutboundPurpose } from '../net/outbound.js';
import { parseTemplate, TemplateError } from './webhook_template.js';

export const METHODS = ['quay_notification', 'email', 'webhook', 'slack', 'flowdock', 'hipchat'] as const;
export type MethodName = (typeof METHODS)[number];

export interface NotificationRow {
  id: number;
  uuid: string;
  scope: 'repository' | 'namespace';
  /** repository id (repository scope) or namespace id (namespace scope) */
  owner_id: number;
  /** the namespace the notification belongs to */
  namespace_id: number;
  namespace: string;
  /** repository name (repository scope) */
  repository: string | null;
  event: string;
  method: MethodName;
  title: string | null;
  config: Record<string, unknown>;
  event_config: Record<string, unknown>;
  number_of_failures: number;
  last_ran_ms: number | null;
  /** Deliveries wait until then after a failed round. */
  paused_until: Date | null;
}

/** A rejected notification configuration; the message is Quay's 400 text. */
export class NotificationInvalid extends Error {}

/** Quay's notification view. */
export function notificationConfigView(n: NotificationRow): Record<string, unknown> {
  return {
    uuid: n.uuid,
    title: n.title,
    event: n.event,
    method: n.method,
    config: n.config,
    event_config: n.event_config,
    number_of_failures: n.number_of_failures,
  };
}

export interface NewNotification {
  event: unknown;
  method: unknown;
  config: unknown;
  eventConfig: unknown;
  title?: unknown;
}

const REPO_SELECT = `SELECT x.id, x.uuid, 'repository' AS scope, x.repository_id AS owner_id, r.namespace_id, n.name AS namespace, r.name AS repository,
  x.event, x.method, x.title, x.config, x.event_config, x.number_of_failures, x.last_ran_ms, x.paused_until
  FROM repository_notification x JOIN repository r ON r.id = x.repository_id JOIN namespace n ON n.id = r.namespace_id`;
const NS_SELECT = `SELECT x.id, x.uuid, 'namespace' AS scope, x.namespace_id AS owner_id, x.namespace_id, n.name AS namespace, NULL AS repository,
  x.event, x.method, x.title, x.config, x.event_config, x.number_of_failures, NULL::bigint AS last_ran_ms, x.paused_until
  FROM namespace_notification x JOIN namespace n ON n.id = x.namespace_id`;

const table = (n: { scope: 'repository' | 'namespace' }) => (n.scope === 'repository' ? 'repository_notification' : 'namespace_notification');
const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
const obj = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

export class NotificationConfigs {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    private readonly outbound: Outbound,
  ) {}

  /** Validate a new notification; returns its parts or throws NotificationInvalid with Quay's text. */
  async validate(
    scope: 'repository' | 'namespace',
    ns: { id: number; name: string; kind: string },
    repositoryId: number | null,
    input: NewNotification,
  ): Promise<{ event: string; method: MethodName; config: Record<string, unknown>; eventConfig: Record<string, unknown>; title: string | null }> {
    const event = input.event;
    const method = input.method;
    const allowed = scope === 'repository' ? REPOSITORY_EVENTS : NAMESPACE_EVENTS;
    if (typeof event !== 'string' || !allowed.includes(event)) {
      throw new NotificationInvalid(
        scope === 'namespace' ? `Invalid event '${String(event)}'. Must be one of: ${[...NAMESPACE_EVENTS].sort().join(', ')}` : `Unknown event '${String(event)}'`,
      );
    }
    if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) throw new NotificationInvalid(`Unknown notification method '${String(method)}'`);
    const config = obj(input.config);
    if (!config) throw new NotificationInvalid('config must be an object');
    const eventConfig = input.eventConfig === undefined || input.eventConfig === null ? {} : obj(input.eventConfig);
    if (!eventConfig) throw new NotificationInvalid('eventConfig must be an object');
    if (input.title !== undefined && input.title !== null && typeof input.title !== 'string') throw new NotificationInvalid('title must be a string');
    const title = typeof input.title === 'string' && input.title !== '' ? input.title.slice(0, 255) : null;
    const problem = eventKind(event)!.validateConfig(eventConfig);
    if (problem) throw new NotificationInvalid(problem);
    await this.validateMethod(method as MethodName, config, ns, repositoryId);
    return { event, method: method as MethodName, config, eventConfig, title };
  }

  private async checkUrl(url: string, purpose: OutboundPurpose, what: string): Promise<void> {
    try {
      await this.outbound.checkUrl(url, purpose, true);
    } catch (err) {
      if (err instanceof OutboundRefused) throw new NotificationInvalid(`Invalid ${what}: ${err.message}`);
      // A name that does not resolve now may later; the check at send time decides then.
    }
  }

  private async validateMethod(method: MethodName, config: Record<string, unknown>, ns: { id: number; name: string; kind: string }, repositoryId: number | null): Promise<void> {
    const s = (k: string) => (typeof config[k] === 'string' ? (config[k] as string).trim() : '');
    switch (method) {
      case 'quay_notification': {
        const target = obj(config.target);
        if (!target || typeof target.kind !== 'string' || !target.kind) throw new NotificationInvalid('Missing target');
        const name = typeof target.name === 'string' ? target.name : '';
        if (target.kind === 'user') {
          const r = await this.db.query("SELECT 1 FROM namespace WHERE name = $1 AND kind = 'user'", [name]);
          if (r.rows.length === 0) throw new NotificationInvalid(`Unknown user ${name}`);
        } else if (target.kind === 'org') {
          const r = await this.db.query("SELECT 1 FROM namespace WHERE name = $1 AND kind = 'org'", [name]);
          if (r.rows.length === 0) throw new NotificationInvalid(`Unknown organization ${name}`);
          if (name !== ns.name) throw new NotificationInvalid('Organization name must match repository namespace');
        } else if (target.kind === 'team') {
          const r = await this.db.query('SELECT 1 FROM team WHERE org_id = $1 AND name = $2', [ns.id, name]);
          if (r.rows.length === 0) throw new NotificationInvalid(`Unknown team ${name}`);
        } else throw new NotificationInvalid('Missing target');
        return;
      }
      case 'email': {
        const email = s('email');
        if (!email) throw new NotificationInvalid('Missing e-mail address');
        if (!this.config.FEATURE_MAILING) throw new NotificationInvalid('E-mail notifications are not enabled on this registry (FEATURE_MAILING)');
        // Namespace notifications mail the namespace's own address, which needs no authorization.
        if (repositoryId === null) return;
        if (!(await this.emailAuthorized(repositoryId, email))) {
          throw new NotificationInvalid('The specified e-mail address is not authorized to receive notifications for this repository');
        }
        return;
      }
      case 'webhook': {
        const url = s('url');
        if (!url) throw new NotificationInvalid('Missing webhook URL');
        await this.checkUrl(url, 'webhook', 'webhook URL');
        const template = config.template;
        if (template !== undefined && template !== null && template !== '') {
          try {
            parseTemplate(template);
          } catch (err) {
            if (err instanceof TemplateError) throw new NotificationInvalid(err.message);
            throw err;
          }
        }
        return;
      }
      case 'slack': {
        const url = s('url');
        if (!url) throw new NotificationInvalid('Missing Slack Callback URL');
        await this.checkUrl(url, 'slack', 'Slack Callback URL');
        return;
      }
      case 'flowdock':
        if (!s('flow_api_token')) throw new NotificationInvalid('Missing Flowdock API Token');
        return;
      case 'hipchat':
        if (!s('notification_token')) throw new NotificationInvalid('Missing Hipchat Room Notification Token');
        if (!s('room_id') && typeof config.room_id !== 'number') throw new NotificationInvalid('Missing Hipchat Room ID');
        return;
    }
  }

  async createForRepository(repositoryId: number, v: Awaited<ReturnType<NotificationConfigs['validate']>>): Promise<NotificationRow> {
    const r = await this.db.query<{ uuid: string }>(
      'INSERT INTO repository_notification (repository_id, event, method, title, config, event_config) VALUES ($1, $2, $3, $4, $5, $6) RETURNING uuid',
      [repositoryId, v.event, v.method, v.title, JSON.stringify(v.config), JSON.stringify(v.eventConfig)],
    );
    return (await this.forRepository(repositoryId, r.rows[0].uuid))!;
  }

  async createForNamespace(namespaceId: number, v: Awaited<ReturnType<NotificationConfigs['validate']>>): Promise<NotificationRow> {
    const r = await this.db.query<{ uuid: string }>(
      'INSERT INTO namespace_notification (namespace_id, event, method, title, config, event_config) VALUES ($1, $2, $3, $4, $5, $6) RETURNING uuid',
      [namespaceId, v.event, v.method, v.title, JSON.stringify(v.config), JSON.stringify(v.eventConfig)],
    );
    return (await this.forNamespace(namespaceId, r.rows[0].uuid))!;
  }

  async listForRepository(repositoryId: number): Promise<NotificationRow[]> {
    return (await this.db.query<NotificationRow>(`${REPO_SELECT} WHERE x.repository_id = $1 ORDER BY x.id`, [repositoryId])).rows;
  }

  async listForNamespace(namespaceId: number): Promise<NotificationRow[]> {
    return (await this.db.query<NotificationRow>(`${NS_SELECT} WHERE x.namespace_id = $1 ORDER BY x.id`, [namespaceId])).rows;
  }

  /** A notification of this repository (another repository's uuid is not found). */
  async forRepository(repositoryId: number, uuid: string, q: Queryable = this.db): Promise<NotificationRow | null> {
    if (!isUuid(uuid)) return null;
    return (await q.query<NotificationRow>(`${REPO_SELECT} WHERE x.repository_id = $1 AND x.uuid = $2`, [repositoryId, uuid])).rows[0] ?? null;
  }

  async forNamespace(namespaceId: number, uuid: string, q: Queryable = this.db): Promise<NotificationRow | null> {
    if (!isUuid(uuid)) return null;
    return (await q.query<NotificationRow>(`${NS_SELECT} WHERE x.namespace_id = $1 AND x.uuid = $2`, [namespaceId, uuid])).rows[0] ?? null;
  }

  /** Several notifications of one scope by uuid, in one query (the delivery worker's leased batch). */
  async byUuids(scope: 'repository' | 'namespace', uuids: string[]): Promise<Map<string, NotificationRow>> {
    const valid = [...new Set(uuids.filter(isUuid))];
    if (valid.length === 0) return new Map();
    const r = await this.db.query<NotificationRow>(`${scope === 'repository' ? REPO_SELECT : NS_SELECT} WHERE x.uuid = ANY($1::uuid[])`, [valid], {
      prepare: `notifications_by_uuid_${scope}`,
    });
    return new Map(r.rows.map((row) => [row.uuid, row]));
  }

  async delete(n: NotificationRow): Promise<void> {
    await this.db.query(`DELETE FROM ${table(n)} WHERE id = $1`, [n.id]);
  }

  /** Reset the failure counter (re-enables a disabled notification). */
  async reset(n: NotificationRow): Promise<void> {
    await this.db.query(`UPDATE ${table(n)} SET number_of_failures = 0, paused_until = NULL WHERE id = $1`, [n.id]);
  }

  /**
   * A failed delivery round: the counter goes up by one and the notification's deliveries pause for
   * `retrySeconds`. Deliveries failing while it is already paused belong to the same round and count once.
   * Returns the new counter, or null when this failure belonged to a round already counted.
   */
  async recordFailure(n: NotificationRow, retrySeconds: number): Promise<number | null> {
    const r = await this.db.query<{ number_of_failures: number }>(
      `UPDATE ${table(n)} SET number_of_failures = number_of_failures + 1, paused_until = now() + make_interval(secs => $2)
        WHERE id = $1 AND (paused_until IS NULL OR paused_until <= now()) RETURNING number_of_failures`,
      [n.id, retrySeconds],
    );
    return r.rows[0]?.number_of_failures ?? null;
  }

  /** A successful delivery resets the counter and any pause. */
  async recordSuccess(n: NotificationRow): Promise<void> {
    // Nothing to reset (the common case): no round trip. A failure recorded since `n` was read is reset by the
    // next success whose read sees it.
    if (n.number_of_failures === 0 && !n.paused_until) return;
    await this.db.query(`UPDATE ${table(n)} SET number_of_failures = 0, paused_until = NULL WHERE id = $1 AND (number_of_failures > 0 OR paused_until IS NOT NULL)`, [n.id]);
  }

  disabled(n: NotificationRow): boolean {
    return n.number_of_failures >= MAX_NOTIFICATION_FAILURES;
  }

  // Authorized e-mail addresses (per repository, confirmed by a mailed link).

  async emailAuthorized(repositoryId: number, email: string): Promise<boolean> {
    const r = await this.db.query('SELECT 1 FROM repository_authorized_email WHERE repository_id = $1 AND lower(email) = lower($2) AND confirmed', [repositoryId, email]);
    return r.rows.length > 0;
  }

  async authorizedEmail(repositoryId: number, email: string): Promise<{ email: string; confirmed: boolean; code: string } | null> {
    const r = await this.db.query<{ email: string; confirmed: boolean; code: string }>(
      'SELECT email, confirmed, code FROM repository_authorized_email WHERE repository_id = $1 AND lower(email) = lower($2)',
      [repositoryId, email],
    );
    return r.rows[0] ?? null;
  }

  /** Start (or restart) the authorization of an address: a fresh confirmation code. */
  async requestEmailAuthorization(repositoryId: number, email: string): Promise<{ email: string; confirmed: boolean; code: string }> {
    const code = randomBytes(24).toString('base64url');
    const r = await this.db.query<{ email: string; confirmed: boolean; code: string }>(
      `INSERT INTO repository_authorized_email (repository_id, email, code) VALUES ($1, $2, $3)
       ON CONFLICT (repository_id, lower(email)) DO UPDATE SET code = CASE WHEN repository_authorized_email.confirmed THEN repository_authorized_email.code ELSE EXCLUDED.code END
       RETURNING email, confirmed, code`,
      [repositoryId, email, code],
    );
    return r.rows[0];
  }

  /** Confirm by the mailed code; returns the address and its repository, or null for an unknown code. */
  async confirmEmail(code: string): Promise<{ email: string; namespace: string; repository: string } | null> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(code)) return null;
    const r = await this.db.query<{ email: string; namespace: string; repository: string }>(
      `UPDATE repository_authorized_email a SET confirmed = true FROM repository r JOIN namespace n ON n.id = r.namespace_id
        WHERE a.code = $1 AND r.id = a.repository_id RETURNING a.email, n.name AS namespace, r.name AS repository`,
      [code],
    );
    return r.rows[0] ?? null;
  }
}
