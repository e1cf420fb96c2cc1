/**
 * Quota: limits per namespace, the maintained sizes (see migration 003: triggers on manifest_blob keep a
 * per-namespace and per-repository count of each distinct blob in the transaction that adds or removes the
 * references, so usage is one row read), and the check at the start of an upload.
 *
 * A namespace's size counts each blob once however many manifests, tags and repositories of the namespace
 * use it. Blobs count from the push of the first manifest that references them until GC deletes the last
 * such manifest (dead tags inside the time machine window keep theirs), as in Quay.
 */
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import { QuotaExceeded } from './errors.js';
import type { Notifications } from './notifications.js';
import type { Events } from './events.js';

export type LimitType = 'Warning' | 'Reject';

export interface QuotaLimitRow {
  id: number;
  quota_id: number;
  type: LimitType;
  threshold_percent: number;
}

export interface QuotaRow {
  id: number;
  namespace_id: number;
  limit_bytes: number;
  limits: QuotaLimitRow[];
}

/** The limit that applies to a namespace: its own quota, or the system default (a 100 % Reject limit). */
export interface EffectiveQuota {
  quota: QuotaRow | null;
  limitBytes: number;
  limits: Array<{ type: LimitType; threshold_percent: number }>;
}

export interface Severity {
  type: LimitType;
  threshold_percent: number;
  usage_bytes: number;
  limit_bytes: number;
}

/** Text of the DENIED error podman shows (user guide 14.4.5.3). */
export const QUOTA_EXCEEDED = 'Quota has been exceeded on namespace';

/** Postgres BIGINT holds more, but nothing real is above 8 EiB; bigger numbers are typos. */
export const MAX_QUOTA_BYTES = 2 ** 63 - 1;

const UNITS: Record<string, number> = {
  B: 1,
  K: 1024,
  KB: 1000,
  KIB: 1024,
  M: 1024 ** 2,
  MB: 1000 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GB: 1000 ** 3,
  GIB: 1024 ** 3,
  T: 1024 ** 4,
  TB: 1000 ** 4,
  TIB: 1024 ** 4,
  P: 1024 ** 5,
  PB: 1000 ** 5,
  PIB: 1024 ** 5,
  E: 1024 ** 6,
  EB: 1000 ** 6,
  EIB: 1024 ** 6,
};

/** `"10 GiB"`, `"500MB"`, `"1.5 T"` → bytes; null when not understood. */
export function parseHumanSize(s: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$/.exec(s);
  if (!m) return null;
  const unit = UNITS[m[2].toUpperCase() || 'B'];
  if (unit === undefined) return null;
  return Math.round(Number(m[1]) * unit);
}

/** Bytes as Quay shows them: `1.0 GiB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Quay's quota event payload (after the namespace keys). */
function quotaPayload(thresholdPercent: number, usage: number, limit: number): Record<string, unknown> & { threshold_percent: number } {
  return {
    threshold_percent: thresholdPercent,
    usage_bytes: usage,
    limit_bytes: limit,
    usage_percent: Math.round((usage / limit) * 1000) / 10,
    usage_bytes_formatted: formatSize(usage),
    limit_bytes_formatted: formatSize(limit),
  };
}

export class Quotas {
  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    private readonly notifications: Notifications,
    private readonly events: Events,
  ) {}

  get enabled(): boolean {
    return this.config.FEATURE_QUOTA_MANAGEMENT;
  }

  /** Bytes of every blob stored once per digest: what the registry occupies in storage (Quay's registry size). */
  async registrySize(): Promise<number> {
    const r = await this.db.query<{ size_bytes: string }>('SELECT COALESCE(sum(size), 0)::text AS size_bytes FROM blob');
    return Number(r.rows[0].size_bytes);
  }

  async namespaceSize(namespaceId: number, q: Queryable = this.db): Promise<number> {
    const r = await q.query<{ size_bytes: number }>('SELECT size_bytes FROM quota_namespace_size WHERE namespace_id = $1', [namespaceId]);
    return r.rows[0]?.size_bytes ?? 0;
  }

  async repositorySizes(repositoryIds: number[]): Promise<Map<number, number>> {
    const r = await this.db.query<{ repository_id: number; size_bytes: number }>(
      'SELECT repository_id, size_bytes FROM quota_repository_size WHERE repository_id = ANY($1::bigint[])',
      [repositoryIds],
    );
    return new Map(r.rows.map((x) => [x.repository_id, x.size_bytes]));
  }

  /**
   * Quay's `quota_report` of repositories: `{quota_bytes: <repository size>, configured_quota: <namespace
   * limit or null>}` by repository id.
   */
  async repositoryReports(repositoryIds: number[]): Promise<Map<number, { quota_bytes: number; configured_quota: number | null }>> {
    const r = await this.db.query<{ id: number; size_bytes: number | null; limit_bytes: number | null }>(
      `SELECT r.id, s.size_bytes, q.limit_bytes FROM repository r
         LEFT JOIN quota_repository_size s ON s.repository_id = r.id LEFT JOIN quota q ON q.namespace_id = r.namespace_id
        WHERE r.id = ANY($1::bigint[])`,
      [repositoryIds],
    );
    const def = this.config.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES;
    return new Map(r.rows.map((x) => [x.id, { quota_bytes: x.size_bytes ?? 0, configured_quota: x.limit_bytes ?? (def > 0 ? def : null) }]));
  }

  /** Quay's `quota_report` of a namespace: its size and its limit (own or default). */
  async namespaceReport(namespaceId: number): Promise<{ quota_bytes: number; configured_quota: number | null }> {
    const eff = await this.effective(namespaceId);
    return { quota_bytes: await this.namespaceSize(namespaceId), configured_quota: eff?.limitBytes ?? null };
  }

  async forNamespace(namespaceId: number, q: Queryable = this.db): Promise<QuotaRow | null> {
    const r = await q.query<QuotaRow>(
      `SELECT q.id, q.namespace_id, q.limit_bytes,
              coalesce((SELECT json_agg(json_build_object('id', l.id, 'quota_id', l.quota_id, 'type', l.type, 'threshold_percent', l.threshold_percent) ORDER BY l.id DESC)
                          FROM quota_limit l WHERE l.quota_id = q.id), '[]'::json) AS limits
         FROM quota q WHERE q.namespace_id = $1`,
      [namespaceId],
    );
    return r.rows[0] ?? null;
  }

  async effective(namespaceId: number, q: Queryable = this.db): Promise<EffectiveQuota | null> {
    const quota = await this.forNamespace(namespaceId, q);
    if (quota) return { quota, limitBytes: quota.limit_bytes, limits: quota.limits };
    const def = this.config.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES;
    if (def > 0) return { quota: null, limitBytes: def, limits: [{ type: 'Reject', threshold_percent: 100 }] };
    return null;
  }

  /** The highest limit the namespace's usage has reached (Reject wins over Warning), or null. */
  async severity(namespaceId: number): Promise<Severity | null> {
    const eff = await this.effective(namespaceId);
    if (!eff) return null;
    const usage = await this.namespaceSize(namespaceId);
    let worst: Severity | null = null;
    for (const l of eff.limits) {
      if (usage < (eff.limitBytes * l.threshold_percent) / 100) continue;
      const s: Severity = { type: l.type, threshold_percent: l.threshold_percent, usage_bytes: usage, limit_bytes: eff.limitBytes };
      if (!worst || (l.type === 'Reject' && worst.type === 'Warning') || (l.type === worst.type && l.threshold_percent > worst.threshold_percent)) worst = s;
    }
    return worst;
  }

  /**
   * Called when a push starts an upload into the namespace: over a Reject limit the upload is refused with
   * Quay's DENIED error; over a Warning limit it goes on and the namespace is notified in the app (at most once
   * per cooldown), and the quota events of every limit reached are fired (see fireReachedLimits).
   */
  async checkUploadAllowed(namespaceId: number): Promise<void> {
    if (!this.config.FEATURE_QUOTA_MANAGEMENT || !this.config.FEATURE_VERIFY_QUOTA) return;
    const s = await this.severity(namespaceId);
    if (!s) return;
    const kind = s.type === 'Reject' ? 'quota_error' : 'quota_warning';
    await this.notifications.notifyOnce(namespaceId, kind, quotaPayload(s.threshold_percent, s.usage_bytes, s.limit_bytes), this.config.QUOTA_NOTIFICATION_COOLDOWN_SECONDS);
    await this.fireReachedLimits(namespaceId);
    if (s.type === 'Reject') throw new QuotaExceeded(QUOTA_EXCEEDED);
  }

  /**
   * Before an upload session takes more bytes (PATCH, the final PUT), as Quay's
   * verify_namespace_quota_during_upload: the namespace's stored bytes plus the bytes of every upload in
   * progress into it plus the `incoming` bytes the request declares must not pass a Reject limit. Otherwise
   * Quay's DENIED error, and the namespace is told (quota_error, once per cooldown).
   */
  async checkUploadProgress(namespaceId: number, incoming: number): Promise<void> {
    if (!this.config.FEATURE_QUOTA_MANAGEMENT || !this.config.FEATURE_VERIFY_QUOTA) return;
    const eff = await this.effective(namespaceId);
    const rejects = eff?.limits.filter((l) => l.type === 'Reject') ?? [];
    if (!eff || rejects.length === 0) return;
    const r = await this.db.query<{ uploading: string }>(
      'SELECT coalesce(sum(u.byte_count), 0) AS uploading FROM blob_upload u JOIN repository r ON r.id = u.repository_id WHERE r.namespace_id = $1',
      [namespaceId],
    );
    const pending = Number(r.rows[0].uploading) + incoming;
    const usage = (await this.namespaceSize(namespaceId)) + pending;
    const hit = rejects.find((l) => usage > (eff.limitBytes * l.threshold_percent) / 100);
    if (!hit) return;
    await this.notifications.notifyOnce(namespaceId, 'quota_error', quotaPayload(hit.threshold_percent, usage, eff.limitBytes), this.config.QUOTA_NOTIFICATION_COOLDOWN_SECONDS);
    // The limit is reached by this push: its quota events fire as if the bytes had landed.
    await this.fireReachedLimits(namespaceId, pending);
    throw new QuotaExceeded(QUOTA_EXCEEDED);
  }

  /**
   * A push committed new blob references in the repository (a client's manifest PUT, a proxy-cache fill, a
   * mirror sync): the namespace's usage may have crossed a limit now, before any later upload looks.
   */
  async usageGrew(repositoryId: number): Promise<void> {
    if (!this.eventsEnabled) return;
    const r = await this.db.query<{ namespace_id: number }>('SELECT namespace_id FROM repository WHERE id = $1', [repositoryId]);
    if (r.rows[0]) await this.fireReachedLimits(r.rows[0].namespace_id);
  }

  private get eventsEnabled(): boolean {
    return this.config.FEATURE_QUOTA_MANAGEMENT && this.config.FEATURE_QUOTA_NOTIFICATIONS;
  }

  /**
   * The quota_warning / quota_error events of the namespace's notifications, one per limit its usage has
   * reached (Warning limits fire quota_warning, Reject limits quota_error, lowest threshold first): only when a
   * notification for the event exists, and at most once per (namespace, event, threshold) per
   * QUOTA_NOTIFICATION_COOLDOWN_SECONDS — the state row is written in the transaction that enqueues the event,
   * so concurrent pushes and replicas fire once. Called wherever usage grows (usageGrew), where limits change
   * (create, setLimitBytes, addLimit, updateLimit: retroactively), at the upload check and when an upload in
   * progress is refused (`pendingBytes`: its bytes count as usage). Returns the events fired.
   */
  async fireReachedLimits(namespaceId: number, pendingBytes = 0): Promise<number> {
    if (!this.eventsEnabled) return 0;
    return this.db.tx(async (q) => {
      const ns = await q.query<{ name: string; events: string[] }>(
        `SELECT n.name, array_agg(DISTINCT x.event) AS events FROM namespace n
           JOIN namespace_notification x ON x.namespace_id = n.id AND x.event IN ('quota_warning', 'quota_error')
          WHERE n.id = $1 GROUP BY n.name`,
        [namespaceId],
      );
      if (ns.rows.length === 0) return 0;
      const eff = await this.effective(namespaceId, q);
      if (!eff) return 0;
      const usage = (await this.namespaceSize(namespaceId, q)) + pendingBytes;
      let fired = 0;
      for (const l of [...eff.limits].sort((a, b) => a.threshold_percent - b.threshold_percent)) {
        const event = l.type === 'Reject' ? 'quota_error' : 'quota_warning';
        if (usage < (eff.limitBytes * l.threshold_percent) / 100 || !ns.rows[0].events.includes(event)) continue;
        const fire = await q.query(
          `INSERT INTO quota_event_state (namespace_id, event, threshold_percent, last_fired_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (namespace_id, event, threshold_percent) DO UPDATE SET last_fired_at = now()
             WHERE quota_event_state.last_fired_at < now() - make_interval(secs => $4)
           RETURNING 1`,
          [namespaceId, event, l.threshold_percent, this.config.QUOTA_NOTIFICATION_COOLDOWN_SECONDS],
        );
        if (fire.rows.length === 0) continue;
        await this.events.emitNamespace(q, event, { id: namespaceId, name: ns.rows[0].name }, quotaPayload(l.threshold_percent, usage, eff.limitBytes));
        fired++;
      }
      return fired;
    });
  }

  /** After a limit changed: fire what the namespace's usage reaches now. */
  private async limitsChanged(quotaId: number): Promise<void> {
    if (!this.eventsEnabled) return;
    const r = await this.db.query<{ namespace_id: number }>('SELECT namespace_id FROM quota WHERE id = $1', [quotaId]);
    if (r.rows[0]) await this.fireReachedLimits(r.rows[0].namespace_id);
  }

  /** Create the namespace's quota; null when it already has one (Quay allows one per namespace). */
  async create(namespaceId: number, limitBytes: number): Promise<QuotaRow | null> {
    const r = await this.db.query<{ id: number }>('INSERT INTO quota (namespace_id, limit_bytes) VALUES ($1, $2) ON CONFLICT (namespace_id) DO NOTHING RETURNING id', [
      namespaceId,
      limitBytes,
    ]);
    if (!r.rows[0]) return null;
    await this.limitsChanged(r.rows[0].id);
    return this.forNamespace(namespaceId);
  }

  async setLimitBytes(quotaId: number, limitBytes: number): Promise<void> {
    await this.db.query('UPDATE quota SET limit_bytes = $2 WHERE id = $1', [quotaId, limitBytes]);
    await this.limitsChanged(quotaId);
  }

  async delete(quotaId: number): Promise<void> {
    await this.db.query('DELETE FROM quota WHERE id = $1', [quotaId]);
  }

  /** Add a limit; null when the same type and threshold exist already. */
  async addLimit(quotaId: number, type: LimitType, thresholdPercent: number): Promise<QuotaLimitRow | null> {
    const r = await this.db.query<QuotaLimitRow>('INSERT INTO quota_limit (quota_id, type, threshold_percent) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING *', [
      quotaId,
      type,
      thresholdPercent,
    ]);
    if (r.rows[0]) await this.limitsChanged(quotaId);
    return r.rows[0] ?? null;
  }

  /** Change a limit; false when another limit of the quota has that type and threshold. */
  async updateLimit(limitId: number, type: LimitType, thresholdPercent: number): Promise<boolean> {
    const r = await this.db.query<{ quota_id: number }>(
      `UPDATE quota_limit l SET type = $2, threshold_percent = $3 WHERE l.id = $1
         AND NOT EXISTS (SELECT 1 FROM quota_limit o WHERE o.quota_id = l.quota_id AND o.id <> l.id AND o.type = $2 AND o.threshold_percent = $3)
       RETURNING l.quota_id`,
      [limitId, type, thresholdPercent],
    );
    if (r.rows[0]) await this.limitsChanged(r.rows[0].quota_id);
    return r.rowCount > 0;
  }

  async deleteLimit(limitId: number): Promise<void> {
    await this.db.query('DELETE FROM quota_limit WHERE id = $1', [limitId]);
  }
}
