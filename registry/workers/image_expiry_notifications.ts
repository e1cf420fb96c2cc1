/**
 * The repo_image_expiry producer (Quay's scan in its GC worker): each repo_image_expiry notification is
 * scanned at most once per NOTIFICATION_TASK_RUN_MINIMUM_INTERVAL_MINUTES; live tags of its repository whose
 * expiry falls within its `days` are reported in one event, each tag once per notification (recorded in
 * tag_notification_success in the same transaction as the queue item). Replicas skip a notification
 * another one is scanning.
 */
import type { Runtime } from '../runtime.js';
import { MAX_NOTIFICATION_FAILURES } from '../model/events.js';
import { expiryDays } from '../model/event_kinds.js';

const DAY_MS = 86_400_000;
/** Notifications scanned per pass (Quay: 10). */
const PER_PASS = 10;

export async function notifyExpiringImages(rt: Runtime): Promise<number> {
  const intervalMs = rt.config.NOTIFICATION_TASK_RUN_MINIMUM_INTERVAL_MINUTES * 60_000;
  let events = 0;
  for (let i = 0; i < PER_PASS; i++) {
    const fired = await rt.db.tx(async (q) => {
      const now = Date.now();
      const due = await q.query<{ id: number; uuid: string; repository_id: number; event_config: Record<string, unknown>; repo: string; namespace: string }>(
        `SELECT x.id, x.uuid, x.repository_id, x.event_config, r.name AS repo, n.name AS namespace
           FROM repository_notification x JOIN repository r ON r.id = x.repository_id JOIN namespace n ON n.id = r.namespace_id
          WHERE x.event = 'repo_image_expiry' AND x.number_of_failures < $1 AND (x.last_ran_ms IS NULL OR x.last_ran_ms <= $2)
          ORDER BY x.last_ran_ms NULLS FIRST, x.id LIMIT 1
          FOR UPDATE OF x SKIP LOCKED`,
        [MAX_NOTIFICATION_FAILURES, now - intervalMs],
      );
      const n = due.rows[0];
      if (!n) return null;
      await q.query('UPDATE repository_notification SET last_ran_ms = $2 WHERE id = $1', [n.id, now]);
      const days = expiryDays(n.event_config);
      const tags = await q.query<{ id: number; name: string }>(
        `INSERT INTO tag_notification_success (notification_id, tag_id)
         SELECT $1, t.id FROM tag t
          WHERE t.repository_id = $2 AND t.expiry_state = 'scheduled' AND t.end_ms > $3 AND t.end_ms <= $4
            AND NOT EXISTS (SELECT 1 FROM tag_notification_success s WHERE s.notification_id = $1 AND s.tag_id = t.id)
         ON CONFLICT DO NOTHING
         RETURNING tag_id AS id, (SELECT name FROM tag WHERE id = tag_id) AS name`,
        [n.id, n.repository_id, now, now + days * DAY_MS],
      );
      if (tags.rows.length === 0) return 0;
      const names = [...new Set(tags.rows.map((t) => t.name))].sort();
      await rt.events.emitRepository(
        q,
        'repo_image_expiry',
        { id: n.repository_id, namespace: n.namespace, name: n.repo },
        { notification_uuid: n.uuid, tags: names, expiring_in: `${days} days` },
        undefined,
        { onlyUuid: n.uuid },
      );
      return 1;
    });
    if (fired === null) break;
    events += fired;
  }
  return events;
}
