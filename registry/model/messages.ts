/** Global messages: superusers post banners (plain text or Markdown, with a severity) that every visitor sees. */
import type { Db } from '../db/index.js';

export const MESSAGE_MEDIA_TYPES = ['text/plain', 'text/markdown'] as const;
export const MESSAGE_SEVERITIES = ['info', 'warning', 'error'] as const;

export interface GlobalMessage {
  uuid: string;
  content: string;
  media_type: (typeof MESSAGE_MEDIA_TYPES)[number];
  severity: (typeof MESSAGE_SEVERITIES)[number];
}

export class GlobalMessages {
  constructor(private readonly db: Db) {}

  async list(): Promise<GlobalMessage[]> {
    return (await this.db.query<GlobalMessage>('SELECT uuid::text AS uuid, content, media_type, severity FROM global_message ORDER BY id')).rows;
  }

  async create(m: Omit<GlobalMessage, 'uuid'>): Promise<GlobalMessage> {
    const r = await this.db.query<GlobalMessage>(
      'INSERT INTO global_message (content, media_type, severity) VALUES ($1, $2, $3) RETURNING uuid::text AS uuid, content, media_type, severity',
      [m.content, m.media_type, m.severity],
    );
    return r.rows[0];
  }

  /** Deletes the message; an unknown or malformed id deletes nothing (as Quay). */
  async delete(uuid: string): Promise<boolean> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) return false;
    return ((await this.db.query('DELETE FROM global_message WHERE uuid = $1', [uuid])).rowCount ?? 0) > 0;
  }
}
