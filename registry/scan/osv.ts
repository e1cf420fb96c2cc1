/**
 * The OSV vulnerability format (https://ossf.github.io/osv-schema/): reading an admin-supplied database
 * (a directory of JSON files or a zip such as OSV's per-ecosystem all.zip, streamed entry by entry),
 * deciding whether a package version is affected, and mapping severities onto Quay's names.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type yauzl from 'yauzl';
import { lazyModule } from '../lazy.js';
import { comparatorFor } from './versions.js';
import { normalizePypiName } from './detect.js';

const cvssCalculator = lazyModule<typeof import('ae-cvss-calculator')>('ae-cvss-calculator');

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvAffected {
  package?: { ecosystem?: string; name?: string; purl?: string };
  ranges?: Array<{ type?: string; events?: OsvEvent[] }>;
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvRecord {
  id: string;
  modified?: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  /** Closely related ids: a distribution advisory (ALSA, RLSA, …) lists the CVEs it fixes here. */
  related?: string[];
  summary?: string;
  details?: string;
  severity?: Array<{ type?: string; score?: string }>;
  affected?: OsvAffected[];
  references?: Array<{ type?: string; url?: string }>;
  database_specific?: Record<string, unknown>;
}

export class OsvImportError extends Error {}

/** Largest single advisory document accepted (the biggest real ones are a few hundred KiB). */
const MAX_RECORD_BYTES = 8 * 1024 * 1024;

/** Throws OsvImportError when `doc` is not an OSV record. */
export function validateRecord(doc: unknown, where: string): OsvRecord {
  const r = doc as OsvRecord;
  if (!r || typeof r !== 'object' || typeof r.id !== 'string' || !r.id || r.id.length > 256) throw new OsvImportError(`${where}: not an OSV record (no "id")`);
  if (r.affected !== undefined && !Array.isArray(r.affected)) throw new OsvImportError(`${where}: "affected" is not a list`);
  return r;
}

/** The key advisories are looked up by: Ubuntu's `:LTS`/`:Pro` qualifiers dropped, PyPI names normalised. */
export function affectedKey(ecosystem: string, name: string): { ecosystem: string; name: string } {
  const eco = ecosystem.replace(/:(LTS|Pro)$/, '').replace(/:(LTS|Pro):/, ':');
  return { ecosystem: eco, name: eco === 'PyPI' ? normalizePypiName(name) : name };
}

function parseRecord(buf: Buffer, where: string): OsvRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new OsvImportError(`${where}: invalid JSON: ${(err as Error).message}`);
  }
  return validateRecord(doc, where);
}

async function* fromZip(file: string): AsyncGenerator<OsvRecord> {
  const { default: yauzl } = await import('yauzl');
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, z) => (err ? reject(new OsvImportError(`${file}: not a zip archive: ${err.message}`)) : resolve(z!))),
  );
  const next = () =>
    new Promise<yauzl.Entry | null>((resolve, reject) => {
      const onEntry = (e: yauzl.Entry) => {
        zip.off('end', onEnd).off('error', onError);
        resolve(e);
      };
      const onEnd = () => {
        zip.off('entry', onEntry).off('error', onError);
        resolve(null);
      };
      const onError = (err: Error) => {
        zip.off('entry', onEntry).off('end', onEnd);
        reject(new OsvImportError(`${file}: ${err.message}`));
      };
      zip.once('entry', onEntry).once('end', onEnd).once('error', onError);
      zip.readEntry();
    });
  try {
    for (let e = await next(); e; e = await next()) {
      if (!e.fileName.endsWith('.json') || e.fileName.endsWith('/')) continue;
      if (e.uncompressedSize > MAX_RECORD_BYTES)
        throw new OsvImportError(`${file}:${e.fileName}: ${e.uncompressedSize} bytes is over the ${MAX_RECORD_BYTES}-byte limit per advisory`);
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        zip.openReadStream(e!, (err, s) => (err ? reject(new OsvImportError(`${file}:${e!.fileName}: ${err.message}`)) : resolve(s!))),
      );
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of stream as AsyncIterable<Buffer>) {
        size += c.length;
        // yauzl checks the declared size, but a lying header is cut off here too.
        if (size > MAX_RECORD_BYTES) throw new OsvImportError(`${file}:${e.fileName}: over the ${MAX_RECORD_BYTES}-byte limit per advisory`);
        chunks.push(c);
      }
      yield parseRecord(Buffer.concat(chunks), `${file}:${e.fileName}`);
    }
  } finally {
    zip.close();
  }
}

async function* fromDir(dir: string): AsyncGenerator<OsvRecord> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* fromDir(p);
    else if (e.isFile() && e.name.endsWith('.zip')) yield* fromZip(p);
    else if (e.isFile() && e.name.endsWith('.json')) {
      const st = await fs.stat(p);
      if (st.size > MAX_RECORD_BYTES) throw new OsvImportError(`${p}: ${st.size} bytes is over the ${MAX_RECORD_BYTES}-byte limit per advisory`);
      const chunks: Buffer[] = [];
      for await (const c of createReadStream(p)) chunks.push(c as Buffer);
      yield parseRecord(Buffer.concat(chunks), p);
    }
  }
}

/** Every record of a database given as a directory (of JSON files and/or zips) or a single zip. */
export async function* readOsvDatabase(location: string): AsyncGenerator<OsvRecord> {
  let st;
  try {
    st = await fs.stat(location);
  } catch (err) {
    throw new OsvImportError(`${location}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) yield* fromDir(location);
  else yield* fromZip(location);
}

export interface AffectedMatch {
  /** lowest fixed version above the installed one, '' when none is published */
  fixedBy: string;
}

/** Whether `version` of `name` in `ecosystem` is affected by `record`, per the OSV evaluation rules. */
export function matchRecord(record: OsvRecord, ecosystem: string, name: string, version: string): AffectedMatch | null {
  if (record.withdrawn) return null;
  const cmp = comparatorFor(ecosystem);
  if (!cmp) return null;
  const key = affectedKey(ecosystem, name);
  for (const a of record.affected ?? []) {
    if (!a.package?.ecosystem || !a.package.name) continue;
    const k = affectedKey(a.package.ecosystem, a.package.name);
    if (k.ecosystem !== key.ecosystem || k.name !== key.name) continue;
    const fixes: string[] = [];
    let affected = (a.versions ?? []).includes(version);
    for (const range of a.ranges ?? []) {
      if (range.type !== 'ECOSYSTEM' && range.type !== 'SEMVER') continue;
      const events = [...(range.events ?? [])];
      const versionOf = (e: OsvEvent) => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '';
      events.sort((x, y) => {
        if (x.introduced === '0') return -1;
        if (y.introduced === '0') return 1;
        return cmp(versionOf(x), versionOf(y));
      });
      let inRange = false;
      for (const e of events) {
        if (e.introduced !== undefined) {
          if (e.introduced === '0' || cmp(version, e.introduced) >= 0) inRange = true;
        } else if (e.fixed !== undefined) {
          if (cmp(version, e.fixed) >= 0) inRange = false;
          else fixes.push(e.fixed);
        } else if (e.last_affected !== undefined) {
          if (cmp(version, e.last_affected) > 0) inRange = false;
        } else if (e.limit !== undefined && e.limit !== '*') {
          if (cmp(version, e.limit) >= 0) inRange = false;
        }
      }
      affected ||= inRange;
    }
    if (affected) {
      fixes.sort(cmp);
      return { fixedBy: fixes[0] ?? '' };
    }
  }
  return null;
}

export type QuaySeverity = 'Critical' | 'High' | 'Medium' | 'Low' | 'Negligible' | 'Unknown';

/** Quay's PRIORITY_LEVELS order: index 0 is the most severe. */
export const SEVERITIES: QuaySeverity[] = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'];

/** Quay's bucketing of a CVSS base score (`fetch_vuln_severity`), except that 10.0 is Critical, not Unknown. */
export function severityOfScore(score: number): QuaySeverity {
  if (score > 0 && score < 4) return 'Low';
  if (score >= 4 && score < 7) return 'Medium';
  if (score >= 7 && score < 9) return 'High';
  if (score >= 9 && score <= 10) return 'Critical';
  return 'Unknown';
}

export interface Cvss {
  vector: string;
  score: number;
}

/** The highest CVSS v3 base score the record carries. */
export function cvssOf(record: OsvRecord): Cvss | null {
  let best: Cvss | null = null;
  for (const s of record.severity ?? []) {
    if ((s.type !== 'CVSS_V3' && s.type !== 'CVSS_V4') || !s.score) continue;
    try {
      const score = cvssCalculator().fromVector(s.score)?.calculateScores().base;
      if (typeof score === 'number' && (!best || score > best.score)) best = { vector: s.score, score };
    } catch {
      // an unparseable vector gives no score; the record's other severity sources still apply
    }
  }
  return best;
}

const WORDS: Record<string, QuaySeverity> = {
  critical: 'Critical',
  high: 'High',
  important: 'High',
  moderate: 'Medium',
  medium: 'Medium',
  low: 'Low',
  negligible: 'Negligible',
  unimportant: 'Negligible',
};

/** A distribution's own priority first (Ubuntu type, database_specific.severity), then CVSS, else Unknown. */
export function severityOf(record: OsvRecord, cvss: Cvss | null): QuaySeverity {
  const ubuntu = record.severity?.find((s) => s.type === 'Ubuntu')?.score;
  if (ubuntu && WORDS[ubuntu.toLowerCase()]) return WORDS[ubuntu.toLowerCase()];
  const dbs = record.database_specific?.severity;
  if (typeof dbs === 'string' && WORDS[dbs.toLowerCase()]) return WORDS[dbs.toLowerCase()];
  if (cvss) return severityOfScore(cvss.score);
  return 'Unknown';
}
