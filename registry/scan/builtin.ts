/**
 * The built-in scanner: indexes layers in-process (indexer.ts) into `secscan_package`, and matches those
 * packages against the imported OSV database when a report is read. Importing a new database therefore
 * changes every report at once, without re-reading any layer.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Db, Queryable } from '../db/index.js';
import { ScannerUnavailable, type IndexJob, type IndexOutcome, type ScannerBackend } from './backend.js';
import { indexImage, INDEXER_VERSION } from './indexer.js';
import { LayerError, type LayerLimits } from './layer.js';
import { PackageDbError, type DetectedPackage, type Distribution } from './detect.js';
import { affectedKey, matchRecord, readOsvDatabase, type OsvRecord } from './osv.js';
import { buildSecurityData, type QuaySecurityData } from './report.js';

const packageKey = (p: { ecosystem: string; matchName: string }) => {
  const k = affectedKey(p.ecosystem, p.matchName);
  return `${k.ecosystem}\0${k.name}`;
};

interface PackageRow {
  name: string;
  version: string;
  ecosystem: string;
  match_name: string;
  match_version: string;
  kind: 'binary' | 'source';
  package_db: string;
  added_by: string;
  arch: string;
}

const toPackage = (r: PackageRow): DetectedPackage => ({
  name: r.name,
  version: r.version,
  ecosystem: r.ecosystem,
  matchName: r.match_name,
  matchVersion: r.match_version,
  kind: r.kind,
  packageDb: r.package_db,
  addedBy: r.added_by,
  arch: r.arch,
});

/** A newly matching (manifest, advisory) pair found by an import. */
export interface NewMatch {
  manifestId: number;
  package: DetectedPackage;
  record: OsvRecord;
  fixedBy: string;
}

export interface ImportResult {
  state: string;
  advisories: number;
  /** advisories that are new or changed in this import */
  changed: number;
  removed: number;
  newMatches: NewMatch[];
}

export class BuiltinScanner implements ScannerBackend {
  readonly name = 'builtin' as const;

  /** Set once the configured database has been imported (by any replica); it never goes back. */
  private databaseReady: boolean;

  /**
   * `awaitDatabase`: a database location is configured, so indexing waits for its first import. A manifest
   * indexed before it would get its first-index `vulnerability_found` events checked against no advisories.
   */
  constructor(
    private readonly db: Db,
    private readonly limits: LayerLimits,
    awaitDatabase = false,
  ) {
    this.databaseReady = !awaitDatabase;
  }

  async state(): Promise<string> {
    if (!this.databaseReady) {
      const r = await this.db.query('SELECT 1 FROM osv_import WHERE id = 1 AND imported_at IS NOT NULL');
      if (!r.rowCount) throw new ScannerUnavailable('the vulnerability database has not been imported yet');
      this.databaseReady = true;
    }
    return INDEXER_VERSION;
  }

  async index(job: IndexJob): Promise<IndexOutcome> {
    let report;
    try {
      report = await indexImage(
        job.layers.map((l) => ({ digest: l.digest, open: () => l.open() })),
        this.limits,
      );
    } catch (err) {
      if (err instanceof LayerError || err instanceof PackageDbError) return { kind: 'error', state: INDEXER_VERSION, error: err.message };
      throw err;
    }
    await this.db.tx(async (q) => {
      await q.query('DELETE FROM secscan_package WHERE manifest_id = $1', [job.manifestId]);
      await q.query('UPDATE manifest_security_status SET distribution = $2 WHERE manifest_id = $1', [
        job.manifestId,
        report.distribution ? JSON.stringify(report.distribution) : null,
      ]);
      const p = report.packages;
      for (let at = 0; at < p.length; at += 1000) {
        const chunk = p.slice(at, at + 1000);
        await q.query(
          `INSERT INTO secscan_package (manifest_id, ordinal, name, version, ecosystem, match_name, match_version, kind, package_db, added_by, arch)
           SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])`,
          [
            job.manifestId,
            chunk.map((_, i) => at + i),
            chunk.map((x) => x.name),
            chunk.map((x) => x.version),
            chunk.map((x) => x.ecosystem),
            chunk.map((x) => x.matchName),
            chunk.map((x) => x.matchVersion),
            chunk.map((x) => x.kind),
            chunk.map((x) => x.packageDb),
            chunk.map((x) => x.addedBy),
            chunk.map((x) => x.arch),
          ],
        );
      }
    });
    return { kind: 'finished', state: INDEXER_VERSION };
  }

  private async packagesOf(q: Queryable, manifestId: number): Promise<DetectedPackage[]> {
    const r = await q.query<PackageRow>(
      'SELECT name, version, ecosystem, match_name, match_version, kind, package_db, added_by, arch FROM secscan_package WHERE manifest_id = $1 ORDER BY ordinal',
      [manifestId],
    );
    return r.rows.map(toPackage);
  }

  /** Candidate advisories per package key (`ecosystem\0name`). */
  private async recordsFor(q: Queryable, packages: DetectedPackage[]): Promise<Map<string, OsvRecord[]>> {
    const keys = [...new Set(packages.map(packageKey))];
    const out = new Map<string, OsvRecord[]>();
    if (!keys.length) return out;
    const r = await q.query<{ ecosystem: string; name: string; doc: OsvRecord }>(
      `SELECT f.ecosystem, f.name, a.doc FROM osv_affected f JOIN osv_advisory a ON a.id = f.advisory_id
        WHERE (f.ecosystem, f.name) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY a.id`,
      [keys.map((k) => k.split('\0')[0]), keys.map((k) => k.split('\0')[1])],
    );
    for (const row of r.rows) {
      const k = `${row.ecosystem}\0${row.name}`;
      out.set(k, [...(out.get(k) ?? []), row.doc]);
    }
    return out;
  }

  async report(manifestId: number, manifestDigest: string): Promise<QuaySecurityData | null> {
    const dist = await this.db.query<{ distribution: Distribution | null }>('SELECT distribution FROM manifest_security_status WHERE manifest_id = $1', [manifestId]);
    const packages = await this.packagesOf(this.db, manifestId);
    const records = await this.recordsFor(this.db, packages);
    return buildSecurityData(manifestDigest, dist.rows[0]?.distribution ?? null, packages, records, packageKey);
  }

  async deleteReport(): Promise<void> {
    // secscan_package rows go with the manifest row (ON DELETE CASCADE)
  }

  /** A cheap fingerprint of the database files (names, sizes, mtimes): an unchanged source is not re-read. */
  static async fingerprint(location: string): Promise<string> {
    const h = createHash('sha256');
    const walk = async (p: string): Promise<void> => {
      const st = await fs.stat(p);
      if (st.isDirectory()) {
        for (const name of (await fs.readdir(p)).sort()) await walk(path.join(p, name));
      } else h.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
    };
    await walk(location);
    return h.digest('hex');
  }

  /**
   * Import `location` when its files changed since the last import, under a lease so that one replica
   * imports at a time. Null when there was nothing to do.
   */
  async importIfChanged(location: string, leaseSeconds = 1800): Promise<ImportResult | null> {
    const source = await BuiltinScanner.fingerprint(location);
    const lease = await this.db.query(
      `UPDATE osv_import SET lease_until = now() + make_interval(secs => $2)
        WHERE id = 1 AND source <> $1 AND (lease_until IS NULL OR lease_until < now())`,
      [source, leaseSeconds],
    );
    if (!lease.rowCount) return null;
    try {
      return await this.importDatabase(location, source);
    } finally {
      await this.db.query('UPDATE osv_import SET lease_until = NULL WHERE id = 1');
    }
  }

  /**
   * Replace the OSV database with the records at `location` (a full import: advisories absent from it are
   * removed). Returns the (manifest, advisory) pairs that match now and did not before: the
   * `vulnerability_found` events of an update.
   */
  async importDatabase(location: string, source: string): Promise<ImportResult> {
    const started = (await this.db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
    const hash = createHash('sha256');
    let advisories = 0;
    let changed = 0;
    const newMatches: NewMatch[] = [];
    let batch: OsvRecord[] = [];
    const flush = async () => {
      const records = batch;
      batch = [];
      if (!records.length) return;
      await this.db.tx(async (q) => {
        const old = await q.query<{ id: string; modified: string; doc: OsvRecord }>('SELECT id, modified, doc FROM osv_advisory WHERE id = ANY($1::text[]) FOR UPDATE', [
          records.map((r) => r.id),
        ]);
        const before = new Map(old.rows.map((r) => [r.id, r]));
        const fresh = records.filter((r) => before.get(r.id)?.modified !== (r.modified ?? '') || !before.has(r.id));
        await q.query('UPDATE osv_advisory SET imported_at = now() WHERE id = ANY($1::text[])', [records.map((r) => r.id)]);
        for (const r of fresh) {
          await q.query(
            `INSERT INTO osv_advisory (id, modified, doc) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET modified = EXCLUDED.modified, doc = EXCLUDED.doc, imported_at = now()`,
            [r.id, r.modified ?? '', JSON.stringify(r)],
          );
          await q.query('DELETE FROM osv_affected WHERE advisory_id = $1', [r.id]);
          const keys = new Map<string, { ecosystem: string; name: string }>();
          for (const a of r.affected ?? []) {
            if (!a.package?.ecosystem || !a.package.name) continue;
            const k = affectedKey(a.package.ecosystem, a.package.name);
            keys.set(`${k.ecosystem}\0${k.name}`, k);
          }
          if (keys.size) {
            await q.query('INSERT INTO osv_affected (advisory_id, ecosystem, name) SELECT $1, * FROM unnest($2::text[], $3::text[])', [
              r.id,
              [...keys.values()].map((k) => k.ecosystem),
              [...keys.values()].map((k) => k.name),
            ]);
            newMatches.push(...(await this.matchesOf(q, r, [...keys.values()], before.get(r.id)?.doc ?? null)));
          }
        }
        changed += fresh.length;
      });
    };
    for await (const r of readOsvDatabase(location)) {
      advisories++;
      hash.update(`${r.id}\0${r.modified ?? ''}\n`);
      batch.push(r);
      if (batch.length >= 500) await flush();
    }
    await flush();
    const state = hash.digest('hex');
    const removed = await this.db.tx(async (q) => {
      const del = await q.query('DELETE FROM osv_advisory WHERE imported_at < $1', [started]);
      await q.query('UPDATE osv_import SET state = $1, source = $2, advisories = $3, imported_at = now() WHERE id = 1', [state, source, advisories]);
      return del.rowCount;
    });
    return { state, advisories, changed, removed, newMatches };
  }

  /** Indexed manifests `record` affects now that `previous` (the advisory's earlier version, if any) did not. */
  private async matchesOf(q: Queryable, record: OsvRecord, keys: Array<{ ecosystem: string; name: string }>, previous: OsvRecord | null): Promise<NewMatch[]> {
    const rows = await q.query<PackageRow & { manifest_id: number }>(
      `SELECT p.manifest_id, p.name, p.version, p.ecosystem, p.match_name, p.match_version, p.kind, p.package_db, p.added_by, p.arch
         FROM secscan_package p JOIN manifest_security_status s ON s.manifest_id = p.manifest_id AND s.index_status = 2
        WHERE (p.ecosystem, p.match_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [keys.map((k) => k.ecosystem), keys.map((k) => k.name)],
    );
    const out: NewMatch[] = [];
    for (const row of rows.rows) {
      const pkg = toPackage(row);
      const m = matchRecord(record, pkg.ecosystem, pkg.matchName, pkg.matchVersion);
      if (!m) continue;
      if (previous && matchRecord(previous, pkg.ecosystem, pkg.matchName, pkg.matchVersion)) continue;
      out.push({ manifestId: row.manifest_id, package: pkg, record, fixedBy: m.fixedBy });
    }
    return out;
  }
}
