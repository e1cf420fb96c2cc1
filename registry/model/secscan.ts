/**
 * Security scanning, as Quay's secscan model: a security status per manifest (ManifestSecurityStatus), the
 * indexing pass that claims manifests needing work and hands them to the backend (built-in OSV scanner or
 * Clair v4), and the lookup behind `GET …/manifest/{digest}/security`.
 *
 * Claiming is `SELECT … FOR UPDATE SKIP LOCKED` plus IN_PROGRESS in the same transaction (Quay's V2
 * indexer): any number of replicas run the pass and never index one manifest at the same time.
 */
import type { Logger } from 'pino';
import type { QuayConfig } from '../../config/index.js';
import type { Db, Queryable } from '../db/index.js';
import type { BlobStore } from '../storage/blobstore.js';
import { ScannerUnavailable, type IndexLayer, type IndexOutcome, type ScannerBackend } from '../scan/backend.js';
import type { QuaySecurityData } from '../scan/report.js';
import { SEVERITIES, type QuaySeverity } from '../scan/osv.js';
import { LIVE } from './tags.js';
import type { Events } from './events.js';
import type { Queues } from '../queue/index.js';

/** Work queue of manifests to index, one item per pushed manifest. */
export const SECSCAN_INDEX_QUEUE = 'secscan_index';
import type { NewMatch } from '../scan/builtin.js';
import type { QuayVulnerability } from '../scan/report.js';
import { fixedBy, type ClairNotification } from '../scan/clair.js';

export const IndexStatus = {
  PENDING: 0,
  IN_PROGRESS: 1,
  COMPLETED: 2,
  FAILED: -1,
  MANIFEST_UNSUPPORTED: -2,
  MANIFEST_LAYER_TOO_LARGE: -3,
  SCAN_RETRIES_EXHAUSTED: -4,
} as const;

/** A claimed IN_PROGRESS row older than this belongs to a dead worker and is claimed again (Quay: 6 h). */
const STALE_CLAIM_SECONDS = 6 * 3600;

/** Layer media types Quay's "container layers" check accepts. */
const CONTAINER_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
]);
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.docker.container.image.v1+json', 'application/vnd.oci.image.config.v1+json']);
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export type SecurityStatus = 'scanned' | 'failed' | 'queued' | 'unsupported' | 'manifest_layer_too_large';

export interface SecurityInfo {
  status: SecurityStatus;
  data: QuaySecurityData | null;
}

/** A manifest's scan in one line: its status and, once scanned, its findings (package, advisory) per severity. */
export interface SecuritySummary {
  status: SecurityStatus;
  vulnerabilities?: Partial<Record<QuaySeverity, number>>;
  /** findings with a fixed version */
  fixable?: number;
}

/** Reports read at once for a page of summaries. */
const SUMMARY_CONCURRENCY = 4;

/** The `/security` status of an index status other than COMPLETED (whose status depends on the report). */
function statusName(indexStatus: number | null): SecurityStatus {
  switch (indexStatus) {
    case IndexStatus.FAILED:
    case IndexStatus.SCAN_RETRIES_EXHAUSTED:
      return 'failed';
    case IndexStatus.MANIFEST_UNSUPPORTED:
      return 'unsupported';
    case IndexStatus.MANIFEST_LAYER_TOO_LARGE:
      return 'manifest_layer_too_large';
    default:
      return 'queued';
  }
}

export function summarize(data: QuaySecurityData): SecuritySummary {
  const vulnerabilities: Partial<Record<QuaySeverity, number>> = {};
  let fixable = 0;
  for (const f of data.Layer.Features) {
    for (const v of f.Vulnerabilities) {
      const severity = SEVERITIES.includes(v.Severity) ? v.Severity : 'Unknown';
      vulnerabilities[severity] = (vulnerabilities[severity] ?? 0) + 1;
      if (v.FixedBy) fixable++;
    }
  }
  return { status: 'scanned', vulnerabilities, fixable };
}

/** The manifest the /security route names is unknown (Quay answers 404). */
export class UnknownManifest extends Error {}

/** Quay's "size with units" (`8G`; B K M G T, powers of 1024). */
export function parseLayerSize(s: string): number {
  const m = /^([0-9]+)([BKMGT]?)$/.exec(s);
  if (!m) throw new Error(`invalid size "${s}"`);
  return Number(m[1]) * ({ '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]] ?? 1);
}

export interface IndexedManifest {
  manifestId: number;
  repositoryId: number;
  digest: string;
  firstIndex: boolean;
}

interface ClaimRow {
  manifest_id: number;
  repository_id: number;
  index_status: number;
  last_indexed: Date | null;
  metadata_json: { retry_count?: number; last_failed_hash?: string };
}

export class SecurityScanner {
  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly config: QuayConfig,
    private readonly log: Logger,
    readonly backend: ScannerBackend,
    private readonly events: Events,
    private readonly queues: Queues,
  ) {}

  get enabled(): boolean {
    return this.config.FEATURE_SECURITY_SCANNER;
  }

  /** In the push transaction: every new manifest starts PENDING (shown as `queued`). */
  async onManifestPushed(q: Queryable, p: { repositoryId: number; manifestId: number; inserted: boolean }): Promise<void> {
    if (!this.enabled || !p.inserted) return;
    await q.query('INSERT INTO manifest_security_status (manifest_id, repository_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [p.manifestId, p.repositoryId]);
    // The queue item (committed with the push) starts indexing at once; the periodic pass is the safety net.
    if (this.config.SECURITY_SCANNER_V4_INDEXING)
      await this.queues.queue(SECSCAN_INDEX_QUEUE).put([String(p.repositoryId), String(p.manifestId)], { manifest_id: p.manifestId }, {}, q);
  }

  /**
   * Index one manifest from its queue item, if it still needs it and no other worker holds it. Returns
   * 'unavailable' when the scanner cannot be reached (the item is retried later), else the completed manifest or null.
   */
  async indexOne(manifestId: number): Promise<IndexedManifest | null | 'unavailable'> {
    if (!this.enabled || !this.config.SECURITY_SCANNER_V4_INDEXING) return null;
    let state: string;
    try {
      state = await this.backend.state();
    } catch (err) {
      if (err instanceof ScannerUnavailable) return 'unavailable';
      throw err;
    }
    const [row] = await this.claim(state, 1, manifestId);
    return row ? this.indexClaimed(row, state) : null;
  }

  /**
   * Claim up to `limit` manifests needing work under indexer `state`: no status row yet (pushed before the
   * feature was on), PENDING, FAILED past the reindex threshold, a stale claim, or COMPLETED under another
   * indexer state past the threshold.
   */
  async claim(state: string, limit: number, onlyManifest: number | null = null): Promise<ClaimRow[]> {
    const threshold = this.config.SECURITY_SCANNER_V4_REINDEX_THRESHOLD;
    return this.db.tx(async (q) => {
      if (onlyManifest === null)
        await q.query(
          `INSERT INTO manifest_security_status (manifest_id, repository_id)
         SELECT m.id, m.repository_id FROM manifest m
          WHERE NOT EXISTS (SELECT 1 FROM manifest_security_status s WHERE s.manifest_id = m.id)
          ORDER BY m.id DESC LIMIT $1
         ON CONFLICT DO NOTHING`,
          [limit * 4],
        );
      const r = await q.query<ClaimRow>(
        `SELECT manifest_id, repository_id, index_status, last_indexed, metadata_json FROM manifest_security_status
          WHERE ($4::bigint IS NULL OR manifest_id = $4) AND (index_status = ${IndexStatus.PENDING}
             OR (index_status = ${IndexStatus.FAILED} AND last_indexed < now() - make_interval(secs => $2))
             OR (index_status = ${IndexStatus.IN_PROGRESS} AND last_indexed < now() - make_interval(secs => ${STALE_CLAIM_SECONDS}))
             OR (index_status = ${IndexStatus.COMPLETED} AND indexer_hash <> $3 AND last_indexed < now() - make_interval(secs => $2))
             OR (index_status = ${IndexStatus.SCAN_RETRIES_EXHAUSTED} AND metadata_json->>'last_failed_hash' IS DISTINCT FROM $3))
          ORDER BY index_status DESC, manifest_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit, threshold, state, onlyManifest],
      );
      if (r.rows.length) {
        await q.query(
          `UPDATE manifest_security_status SET index_status = ${IndexStatus.IN_PROGRESS}, indexer_hash = 'in_progress', last_indexed = now() WHERE manifest_id = ANY($1::bigint[])`,
          [r.rows.map((x) => x.manifest_id)],
        );
      }
      return r.rows;
    });
  }

  /**
   * One indexing pass: ask the backend for its state (unreachable: nothing changes, everything stays
   * queued), claim a batch, index each. Returns how many were claimed and those that reached COMPLETED.
   */
  async indexPass(limit = 10): Promise<{ claimed: number; completed: IndexedManifest[] }> {
    const none = { claimed: 0, completed: [] };
    if (!this.enabled || !this.config.SECURITY_SCANNER_V4_INDEXING) return none;
    let state: string;
    try {
      state = await this.backend.state();
    } catch (err) {
      if (err instanceof ScannerUnavailable) {
        this.log.warn({ err: err.message }, 'security scanner unavailable; indexing skipped');
        return none;
      }
      throw err;
    }
    const completed: IndexedManifest[] = [];
    const claimed = await this.claim(state, limit);
    for (const row of claimed) {
      const r = await this.indexClaimed(row, state);
      if (r) completed.push(r);
    }
    return { claimed: claimed.length, completed };
  }

  private async setStatus(manifestId: number, status: number, hash: string, error: string | null, metadata: object = {}): Promise<void> {
    await this.db.query(
      `UPDATE manifest_security_status SET index_status = $2, indexer_hash = $3, error_json = $4, metadata_json = $5, last_indexed = now() WHERE manifest_id = $1`,
      [manifestId, status, hash.slice(0, 128), error === null ? null : JSON.stringify({ error: error.slice(0, 4000) }), JSON.stringify(metadata)],
    );
  }

  private async indexClaimed(row: ClaimRow, state: string): Promise<IndexedManifest | null> {
    const m = await this.db.query<{ digest: string; media_type: string; bytes: Buffer; namespace: string; repository: string }>(
      `SELECT m.digest, m.media_type, m.bytes, n.name AS namespace, r.name AS repository
         FROM manifest m JOIN repository r ON r.id = m.repository_id JOIN namespace n ON n.id = r.namespace_id WHERE m.id = $1`,
      [row.manifest_id],
    );
    const manifest = m.rows[0];
    if (!manifest) return null;
    const unsupported = (why: string) => this.setStatus(row.manifest_id, IndexStatus.MANIFEST_UNSUPPORTED, 'none', why).then(() => null);
    if (INDEX_TYPES.has(manifest.media_type)) return unsupported('manifest lists are scanned per child manifest');
    let parsed: { config?: { mediaType?: string }; layers?: Array<{ digest: string; size: number; mediaType: string; urls?: string[] }> };
    try {
      parsed = JSON.parse(manifest.bytes.toString('utf8'));
    } catch {
      return unsupported('manifest is not JSON');
    }
    const layers = parsed.layers ?? [];
    if (!layers.length) return unsupported('manifest has no layers');
    if (!IMAGE_CONFIG_TYPES.has(parsed.config?.mediaType ?? '') || layers.some((l) => !CONTAINER_LAYER_TYPES.has(l.mediaType))) {
      return unsupported('not a container image');
    }
    const max = this.config.SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE;
    if (max && layers.some((l) => l.size > parseLayerSize(max))) {
      await this.setStatus(row.manifest_id, IndexStatus.MANIFEST_LAYER_TOO_LARGE, 'none', `a layer is larger than ${max}`);
      return null;
    }
    const indexLayers: IndexLayer[] = layers.map((l) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      urls: l.urls,
      // 64 KiB reads, not LocalStorage's 1 MiB: with 1 MiB chunks the indexer alone peaked at +89 MiB RSS over a
      // 500 MiB image (their buffers outlive the scavenges of scan/layer.ts), with 64 KiB at +15 MiB.
      open: () => this.store.read(l.digest, undefined, { chunkBytes: 64 * 1024 }),
    }));
    let outcome: IndexOutcome;
    try {
      outcome = await this.backend.index({
        manifestId: row.manifest_id,
        manifestDigest: manifest.digest,
        namespace: manifest.namespace,
        repository: manifest.repository,
        layers: indexLayers,
      });
    } catch (err) {
      if (err instanceof ScannerUnavailable) {
        // Quay counts this as a failure too; the manifest shows `failed` until the retry after the threshold.
        outcome = { kind: 'error', state: 'api_failure', error: err.message };
      } else {
        this.log.error({ err, manifest: manifest.digest }, 'indexing failed');
        outcome = { kind: 'error', state: 'server_error', error: (err as Error).message };
      }
    }
    if (outcome.kind === 'unsupported') return unsupported(outcome.error);
    if (outcome.kind === 'error') {
      const sameState = row.metadata_json?.last_failed_hash === state;
      const retries = (sameState ? (row.metadata_json?.retry_count ?? 0) : 0) + 1;
      const exhausted = retries >= this.config.SECURITY_SCANNER_MAX_SCAN_RETRIES;
      await this.setStatus(row.manifest_id, exhausted ? IndexStatus.SCAN_RETRIES_EXHAUSTED : IndexStatus.FAILED, outcome.state, outcome.error, {
        retry_count: retries,
        last_failed_hash: state,
      });
      this.log.warn({ manifest: manifest.digest, error: outcome.error, retries }, 'manifest could not be indexed');
      return null;
    }
    const firstIndex = !(await this.db.query("SELECT 1 FROM manifest_security_status WHERE manifest_id = $1 AND metadata_json ? 'indexed_once'", [row.manifest_id])).rows.length;
    await this.setStatus(row.manifest_id, IndexStatus.COMPLETED, outcome.state, null, { indexed_once: true });
    return { manifestId: row.manifest_id, repositoryId: row.repository_id, digest: manifest.digest, firstIndex };
  }

  /** `GET …/manifest/{digest}/security`: the manifest may be deleted but not yet collected (Quay's allow_dead). */
  async securityInfo(repositoryId: number, digest: string): Promise<SecurityInfo> {
    const r = await this.db.query<{ id: number; index_status: number | null }>(
      `SELECT m.id, s.index_status FROM manifest m LEFT JOIN manifest_security_status s ON s.manifest_id = m.id
        WHERE m.repository_id = $1 AND m.digest = $2`,
      [repositoryId, digest],
    );
    const row = r.rows[0];
    if (!row) throw new UnknownManifest(`manifest ${digest} not found`);
    if (row.index_status !== IndexStatus.COMPLETED) return { status: statusName(row.index_status), data: null };
    const data = await this.backend.report(row.id, digest);
    return data ? { status: 'scanned', data } : { status: 'queued', data: null };
  }

  /**
   * The Tags list's Security column for a page of manifests at once (one request per page, not one per row):
   * each known digest's status and, when scanned, its findings counted per severity. Unknown digests are left out.
   */
  async securitySummaries(repositoryId: number, digests: string[]): Promise<Map<string, SecuritySummary>> {
    const r = await this.db.query<{ id: number; digest: string; index_status: number | null }>(
      `SELECT m.id, m.digest, s.index_status FROM manifest m LEFT JOIN manifest_security_status s ON s.manifest_id = m.id
        WHERE m.repository_id = $1 AND m.digest = ANY($2::text[])`,
      [repositoryId, digests],
    );
    const out = new Map<string, SecuritySummary>();
    const scanned = r.rows.filter((row) => row.index_status === IndexStatus.COMPLETED);
    for (const row of r.rows) if (row.index_status !== IndexStatus.COMPLETED) out.set(row.digest, { status: statusName(row.index_status) });
    // A few reports at a time: each is a database read (built-in) or a call to Clair.
    for (let i = 0; i < scanned.length; i += SUMMARY_CONCURRENCY) {
      await Promise.all(
        scanned.slice(i, i + SUMMARY_CONCURRENCY).map(async (row) => {
          const data = await this.backend.report(row.id, row.digest);
          out.set(row.digest, data ? summarize(data) : { status: 'queued' });
        }),
      );
    }
    return out;
  }

  /** `/secscan/_backfill_status`: status rows per manifest, in percent. */
  async backfillPercent(): Promise<number> {
    const r = await this.db.query<{ manifests: string; statuses: string }>(
      'SELECT (SELECT count(*) FROM manifest) AS manifests, (SELECT count(*) FROM manifest_security_status) AS statuses',
    );
    const manifests = Number(r.rows[0].manifests);
    return manifests === 0 ? 100 : (Number(r.rows[0].statuses) / manifests) * 100;
  }

  /**
   * After a manifest's first successful index (FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX): one
   * `vulnerability_found` per vulnerability at or above NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX, flagged
   * `vulnerable_index_report_created` as Quay does (such events ignore the notification's level filter).
   */
  async notifyFirstIndex(m: IndexedManifest): Promise<number> {
    if (!m.firstIndex || !this.config.FEATURE_SECURITY_SCANNER_NOTIFY_ON_NEW_INDEX) return 0;
    const report = await this.backend.report(m.manifestId, m.digest);
    if (!report) return 0;
    const min = severityIndex(this.config.NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX);
    const vulns = new Map<string, QuayVulnerability>();
    for (const f of report.Layer.Features) for (const v of f.Vulnerabilities) if (severityIndex(v.Severity) <= min && !vulns.has(v.Name)) vulns.set(v.Name, v);
    if (!vulns.size) return 0;
    return this.db.tx(async (q) => {
      const repo = await this.repoNames(q, m.repositoryId);
      if (!repo) return 0;
      const tags = await this.tagsOf(q, m.manifestId);
      let n = 0;
      for (const v of vulns.values()) {
        n += await this.events.emitRepository(q, 'vulnerability_found', repo, {
          tags: tags.length ? tags : [m.digest],
          vulnerable_index_report_created: 'true',
          vulnerability: { id: v.Name, description: v.Description, link: v.Link, priority: v.Severity, has_fix: Boolean(v.FixedBy) },
        });
      }
      return n;
    });
  }

  /**
   * FEATURE_SECURITY_NOTIFICATIONS: one `vulnerability_found` per (manifest, advisory) that a database update
   * made match, for manifests that have tags (as Quay's notification worker); the level filter applies.
   */
  async notifyNewMatches(matches: NewMatch[], vulnerability: (m: NewMatch) => QuayVulnerability): Promise<number> {
    if (!this.config.FEATURE_SECURITY_NOTIFICATIONS || !matches.length) return 0;
    const seen = new Set<string>();
    let n = 0;
    for (const m of matches) {
      const key = `${m.manifestId}\0${m.record.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      n += await this.db.tx(async (q) => {
        const r = await q.query<{ repository_id: number }>('SELECT repository_id FROM manifest WHERE id = $1', [m.manifestId]);
        const repo = r.rows[0] && (await this.repoNames(q, r.rows[0].repository_id));
        const tags = await this.tagsOf(q, m.manifestId);
        if (!repo || !tags.length) return 0;
        const v = vulnerability(m);
        return this.events.emitRepository(q, 'vulnerability_found', repo, {
          tags,
          vulnerability: { id: v.Name, description: v.Description, link: v.Link, priority: v.Severity, has_fix: Boolean(v.FixedBy) },
        });
      });
    }
    return n;
  }

  /** One `added` entry of a Clair notification: an event per tagged manifest with that digest. */
  async notifyClairEntry(n: ClairNotification): Promise<number> {
    const r = await this.db.query<{ id: number; repository_id: number }>(
      `SELECT m.id, m.repository_id FROM manifest m
        WHERE m.digest = $1 AND EXISTS (SELECT 1 FROM repository_notification x WHERE x.repository_id = m.repository_id AND x.event = 'vulnerability_found')`,
      [n.manifest],
    );
    let count = 0;
    for (const m of r.rows) {
      count += await this.db.tx(async (q) => {
        const repo = await this.repoNames(q, m.repository_id);
        const tags = await this.tagsOf(q, m.id);
        if (!repo || !tags.length) return 0;
        const v = n.vulnerability ?? {};
        return this.events.emitRepository(q, 'vulnerability_found', repo, {
          tags,
          vulnerability: {
            id: v.name ?? '',
            description: v.description ?? '',
            link: v.links ?? '',
            priority: v.normalized_severity ?? 'Unknown',
            has_fix: Boolean(fixedBy(v.fixed_in_version)),
          },
        });
      });
    }
    return count;
  }

  private async repoNames(q: Queryable, repositoryId: number): Promise<{ id: number; namespace: string; name: string } | null> {
    const r = await q.query<{ name: string; namespace: string }>('SELECT r.name, n.name AS namespace FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.id = $1', [
      repositoryId,
    ]);
    return r.rows[0] ? { id: repositoryId, ...r.rows[0] } : null;
  }

  /** Live tag names of a manifest (up to 100), for event payloads. */
  async tagsOf(q: Queryable, manifestId: number): Promise<string[]> {
    const r = await q.query<{ name: string }>(`SELECT DISTINCT t.name FROM tag t WHERE t.manifest_id = $1 AND ${LIVE('t', '$2')} ORDER BY t.name LIMIT 100`, [
      manifestId,
      Date.now(),
    ]);
    return r.rows.map((x) => x.name);
  }
}

/** Quay's priority index of a severity name (0 Critical … 5 Unknown). */
export function severityIndex(s: string): number {
  const i = SEVERITIES.indexOf(s as QuaySeverity);
  return i < 0 ? SEVERITIES.length - 1 : i;
}
