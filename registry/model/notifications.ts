/**
 * In-app notifications (Quay's Notification): a record targeted at a user, or at an organization, in which
 * case its admins see it. Other delivery methods (e-mail, webhooks) build on repository/namespace
 * notification configurations and are not here.
 */
import type { Db, Queryable } from '../db/index.js';

export interface NotificationRow {
  id: number;
  uuid: string;
  kind: string;
  target_id: number;
  target_name: string;
  target_kind: string;
  metadata: Record<string, unknown>;
  created_at: Date;
  dismissed: boolean;
}

/** Quay's notification view: `{id, organization, kind, created, metadata, dismissed}`. */
export function notificationView(n: NotificationRow): Record<string, unknown> {
  return {
    id: n.uuid,
    organization: n.target_kind === 'org' ? n.target_name : null,
    kind: n.kind,
    created: rfc2822(n.created_at),
    metadata: n.metadata,
    dismissed: n.dismissed,
  };
}

/** Dates on the REST API: `Tue, 03 Sep 2024 10:00:00 -0000`. */
export function rfc2822(d: Date | number): string {
  return new Date(d).toUTCString().replace('GMT', '-0000');
}

const SELECT = `SELECT x.*, n.name AS target_name, n.kind AS target_kind FROM notification x JOIN namespace n ON n.id = x.target_id`;

export class Notifications {
  constructor(private readonly db: Db) {}

  async create(targetId: number, kind: string, metadata: Record<string, unknown>, q: Queryable = this.db): Promise<string> {
    const r = await q.query<{ uuid: string }>('INSERT INTO notification (target_id, kind, metadata) VALUES ($1, $2, $3) RETURNING uuid', [
      targetId,
      kind,
      JSON.stringify(metadata),
    ]);
    return r.rows[0].uuid;
  }

  /**
   * Notify a namespace at most once per `cooldownSeconds` for one kind (the state row is locked, so
   * concurrent pushes create one record). Returns whether a record was created.
   */
  async notifyOnce(namespaceId: number, kind: string, metadata: Record<string, unknown>, cooldownSeconds: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const r = await q.query(
        `INSERT INTO quota_notification_state (namespace_id, kind, last_notified_at) VALUES ($1, $2, now())
         ON CONFLICT (namespace_id, kind) DO UPDATE SET last_notified_at = now()
           WHERE quota_notification_state.last_notified_at < now() - make_interval(secs => $3)
         RETURNING 1`,
        [namespaceId, kind, cooldownSeconds],
      );
      if (r.rows.length === 0) return false;
      await this.create(namespaceId, kind, metadata, q);
      return true;
    });
  }

  /** Whose notifications a user sees: its own and those of the organizations it administers (an admin team). */
  async targetsOf(userId: number): Promise<number[]> {
    const r = await this.db.query<{ org_id: number }>(`SELECT DISTINCT t.org_id FROM team t JOIN team_member m ON m.team_id = t.id WHERE m.member_id = $1 AND t.role = 'admin'`, [
      userId,
    ]);
    return [userId, ...r.rows.map((x) => x.org_id)];
  }

  /** Undismissed notifications of a user and of the organizations it administers, newest first, one page (from 1). */
  async list(targets: number[], page: number, limit: number): Promise<{ rows: NotificationRow[]; additional: boolean }> {
    const r = await this.db.query<NotificationRow>(`${SELECT} WHERE x.target_id = ANY($1::bigint[]) AND NOT x.dismissed ORDER BY x.created_at DESC, x.id DESC LIMIT $2 OFFSET $3`, [
      targets,
      limit + 1,
      (page - 1) * limit,
    ]);
    return { rows: r.rows.slice(0, limit), additional: r.rows.length > limit };
  }

  async get(targets: number[], uuid: string): Promise<NotificationRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(uuid)) return null;
    const r = await this.db.query<NotificationRow>(`${SELECT} WHERE x.target_id = ANY($1::bigint[]) AND x.uuid = $2`, [targets, uuid]);
    return r.rows[0] ?? null;
  }

  async setDismissed(id: number, dismissed: boolean): Promise<void> {
    await this.db.query('UPDATE notification SET dismissed = $2 WHERE id = $1', [id, dismissed]);
  }
}
