/**
 * Garbage collection: deletes what nothing references any more and frees its bytes.
 *
 * What keeps content alive (checked again under a row lock just before anything is deleted):
 *  - a manifest: any tag row (live, expiring, or dead but still inside its namespace's time machine window),
 *    a parent index (manifest_child), its subject when it is an untagged referrer, or a push within the last
 *    PUSH_TEMP_TAG_EXPIRATION_SEC (a push by digest, e.g. the children of an index before the index);
 *  - a blob: any manifest_blob row (any repository) or any uploaded_blob row (an upload, a mount, or a
 *    HEAD by a pusher, until it expires).
 *
 * Concurrency: every writer that creates a reference first locks the referenced row (FOR SHARE, FOR KEY
 * SHARE through the foreign key, or the row update of an upsert) and keeps the lock until it commits. GC
 * takes FOR UPDATE on the row, so it either waits for such a writer and then sees its reference when it
 * re-checks in a new statement, or it deletes first and the writer then finds the row gone (a blob upload
 * re-inserts the row and re-publishes the bytes; a manifest push re-inserts the manifest). Blob bytes are
 * deleted only while that lock is held, before the row, in the same transaction (storage/blobstore.ts).
 * A crash between the two leaves an unreferenced row without bytes; the next run finds it by the orphan
 * scan and finishes. Each manifest and each blob is its own short transaction, so GC never holds a
 * namespace's quota row while it waits for a blob lock. SKIP LOCKED lets replicas run GC at once and
 * keeps GC from waiting behind a long upload commit: a skipped row is looked at again next run.
 */
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Db } from '../db/index.js';
import type { BlobStore } from '../storage/index.js';
import type { Metrics } from '../metrics.js';

export interface GcReport {
  tags: number;
  uploadReferences: number;
  manifests: number;
  blobs: number;
  bytes: number;
  /** repository id -> number of manifests deleted there (for usage logs) */
  byRepository: Map<number, number>;
}

const BATCH = 500;
/** Rounds of "delete unreferenced manifests" per run: each round may free the children of the last. */
const MAX_ROUNDS = 20;

export class GcMetrics {
  readonly runs: Counter;
  readonly tags: Counter;
  readonly manifests: Counter;
  readonly blobs: Counter;
  readonly bytes: Counter;
  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.runs = new Counter({ name: 'quay_gc_runs_total', help: 'Completed garbage collection runs', registers });
    this.tags = new Counter({ name: 'quay_gc_tags_deleted_total', help: 'Tag rows deleted after their time machine window', registers });
    this.manifests = new Counter({ name: 'quay_gc_manifests_deleted_total', help: 'Manifests deleted by garbage collection', registers });
    this.blobs = new Counter({ name: 'quay_gc_blobs_deleted_total', help: 'Blobs deleted by garbage collection', registers });
    this.bytes = new Counter({ name: 'quay_gc_bytes_freed_total', help: 'Blob bytes freed in storage by garbage collection', registers });
  }
}

export class GarbageCollector {
  readonly metrics: GcMetrics;

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    metrics: Metrics,
    private readonly log: Logger,
    /** PUSH_TEMP_TAG_EXPIRATION_SEC */
    private readonly pushGraceSeconds: number,
    /**
     * How long an ended tag of a proxy cache organization is kept (PROXY_CACHE_STALE_IF_ERROR, else 0): a
     * cached tag is evicted once its end (expiry, or a quota prune) plus this has passed, by the next run,
     * instead of staying in the time machine window of `removed_tag_expiration_s`.
     */
    private readonly proxyTagRetentionSeconds: number,
    /** After a manifest digest is gone from every repository (the security scanner forgets its report). */
    private readonly onDigestCollected?: (digest: string) => Promise<void>,
  ) {
    this.metrics = new GcMetrics(metrics);
  }

  async run(now = Date.now()): Promise<GcReport> {
    const report: GcReport = { tags: 0, uploadReferences: 0, manifests: 0, blobs: 0, bytes: 0, byRepository: new Map() };
    report.uploadReferences = await this.dropExpiredUploadReferences();
    report.tags = await this.dropTagsPastWindow(now);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const candidates = await this.unreferencedManifests(now);
      let deleted = 0;
      for (const id of candidates) {
        const deletedRow = await this.deleteManifest(id, now);
        const repo = deletedRow?.repositoryId ?? null;
        if (deletedRow) await this.digestCollected(deletedRow.digest);
        if (repo !== null) {
          deleted++;
          this.metrics.manifests.inc();
          report.byRepository.set(repo, (report.byRepository.get(repo) ?? 0) + 1);
        }
      }
      report.manifests += deleted;
      if (deleted === 0 || candidates.length < BATCH) break;
    }
    for (;;) {
      const orphans = await this.unreferencedBlobs();
      let deleted = 0;
      for (const id of orphans) {
        const size = await this.deleteBlob(id);
        if (size !== null) {
          deleted++;
          report.bytes += size;
          this.metrics.blobs.inc();
          this.metrics.bytes.inc(size);
        }
      }
      report.blobs += deleted;
      if (deleted === 0 || orphans.length < BATCH) break;
    }
    this.metrics.runs.inc();
    this.metrics.tags.inc(report.tags);
    if (report.tags + report.manifests + report.blobs + report.uploadReferences > 0) {
      this.log.info(
        { tags: report.tags, uploadReferences: report.uploadReferences, manifests: report.manifests, blobs: report.blobs, bytesFreed: report.bytes },
        'garbage collection freed content',
      );
    }
    return report;
  }

  /** Temporary references of uploads and mounts whose manifest never came. */
  private async dropExpiredUploadReferences(): Promise<number> {
    const r = await this.db.query('DELETE FROM uploaded_blob WHERE expires_at < now()');
    return r.rowCount;
  }

  /**
   * Tag rows that ended before their namespace's time machine window: history that can no longer be restored.
   * A proxy cache organization's window is the proxy's retention (its tags come back from the upstream).
   */
  private async dropTagsPastWindow(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.tx(async (q) => {
        const r = await q.query(
          `DELETE FROM tag WHERE id IN (
             SELECT t.id FROM tag t JOIN repository r ON r.id = t.repository_id JOIN namespace n ON n.id = r.namespace_id
              WHERE t.end_ms IS NOT NULL
                AND t.end_ms <= $1::bigint - 1000 * CASE WHEN EXISTS (SELECT 1 FROM proxy_cache_config p WHERE p.namespace_id = n.id)
                                                        THEN $2::bigint ELSE n.removed_tag_expiration_s END
              LIMIT ${BATCH} FOR UPDATE OF t SKIP LOCKED)`,
          [now, this.proxyTagRetentionSeconds],
        );
        return r.rowCount;
      });
      total += n;
      if (n < BATCH) return total;
    }
  }

  /** The condition under which a manifest `m` is garbage, shared by the scan and the re-check under lock. */
  private static readonly GARBAGE = `NOT EXISTS (SELECT 1 FROM tag t WHERE t.manifest_id = m.id)
    AND NOT EXISTS (SELECT 1 FROM manifest_child c WHERE c.child_manifest_id = m.id)
    AND m.pushed_at < to_timestamp($1::bigint / 1000.0) - make_interval(secs => $2)
    AND (m.subject_digest IS NULL OR NOT EXISTS (
      SELECT 1 FROM manifest s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest AND s.id <> m.id))`;

  private async unreferencedManifests(now: number): Promise<number[]> {
    const r = await this.db.query<{ id: number }>(`SELECT m.id FROM manifest m WHERE ${GarbageCollector.GARBAGE} LIMIT ${BATCH}`, [now, this.pushGraceSeconds]);
    return r.rows.map((x) => x.id);
  }

  private async digestCollected(digest: string): Promise<void> {
    if (!this.onDigestCollected) return;
    const left = await this.db.query('SELECT 1 FROM manifest WHERE digest = $1 LIMIT 1', [digest]);
    if (left.rows.length) return;
    // Best effort, as Quay: the registry's own rows are already gone; a report left at the scanner is harmless.
    await this.onDigestCollected(digest).catch((err) => this.log.warn({ err: (err as Error).message, digest }, 'could not delete the security report of a collected manifest'));
  }

  /** Delete one manifest if it is still garbage under its row lock; returns its repository id and digest, or null. */
  private async deleteManifest(id: number, now: number): Promise<{ repositoryId: number; digest: string } | null> {
    return this.db.tx(async (q) => {
      const locked = await q.query<{ repository_id: number; digest: string }>('SELECT repository_id, digest FROM manifest WHERE id = $1 FOR UPDATE SKIP LOCKED', [id]);
      if (!locked.rows[0]) return null;
      const still = await q.query(`SELECT 1 FROM manifest m WHERE m.id = $3 AND ${GarbageCollector.GARBAGE}`, [now, this.pushGraceSeconds, id]);
      if (still.rows.length === 0) return null;
      // manifest_blob goes first and explicitly (its quota trigger then runs once, in blob order).
      await q.query('DELETE FROM manifest_blob WHERE manifest_id = $1', [id]);
      await q.query('DELETE FROM manifest_child WHERE manifest_id = $1', [id]);
      await q.query('DELETE FROM manifest WHERE id = $1', [id]);
      return { repositoryId: locked.rows[0].repository_id, digest: locked.rows[0].digest };
    });
  }

  private async unreferencedBlobs(): Promise<number[]> {
    const r = await this.db.query<{ id: number }>(
      `SELECT b.id FROM blob b
        WHERE NOT EXISTS (SELECT 1 FROM manifest_blob mb WHERE mb.blob_id = b.id)
          AND NOT EXISTS (SELECT 1 FROM uploaded_blob u WHERE u.blob_id = b.id)
        LIMIT ${BATCH}`,
    );
    return r.rows.map((x) => x.id);
  }

  /** Delete a blob's bytes and row if nothing references it under its row lock; returns its size, or null. */
  private async deleteBlob(id: number): Promise<number | null> {
    return this.db.tx(async (q) => {
      const locked = await q.query<{ digest: string; size: number }>('SELECT digest, size FROM blob WHERE id = $1 FOR UPDATE SKIP LOCKED', [id]);
      const blob = locked.rows[0];
      if (!blob) return null;
      const used = await q.query(`SELECT 1 WHERE EXISTS (SELECT 1 FROM manifest_blob WHERE blob_id = $1) OR EXISTS (SELECT 1 FROM uploaded_blob WHERE blob_id = $1)`, [id]);
      if (used.rows.length > 0) return null;
      await this.store.delete(blob.digest);
      await q.query('DELETE FROM blob WHERE id = $1', [id]);
      return blob.size;
    });
  }
}
