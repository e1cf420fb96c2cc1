/**
 * Package detectors over the assembled image filesystem (the files the layer reader kept, after
 * whiteouts). Each returns packages with the OSV ecosystem and the name/version advisories are keyed by.
 * A package database that cannot be parsed throws PackageDbError: the manifest is marked failed with that
 * reason instead of being reported as clean.
 */
import type initSqlJs from 'sql.js';
import { createRequire } from 'node:module';
import { parseGoBuildInfo } from './gobuildinfo.js';

export class PackageDbError extends Error {
  constructor(
    readonly packageDb: string,
    message: string,
  ) {
    super(`${packageDb}: ${message}`);
    this.name = 'PackageDbError';
  }
}

export interface ImageFile {
  data: Buffer;
  /** digest of the layer that last wrote the file */
  layer: string;
}

export interface Distribution {
  did: string;
  name: string;
  version: string;
  versionId: string;
  versionCodeName: string;
  prettyName: string;
  cpe: string;
}

export interface DetectedPackage {
  /** the installed (binary) package name shown to users */
  name: string;
  version: string;
  /** OSV ecosystem advisories for it are filed under, e.g. `Debian:11`, `npm` */
  ecosystem: string;
  /** name and version advisories are keyed by (the source package for dpkg and apk) */
  matchName: string;
  matchVersion: string;
  kind: 'binary' | 'source';
  packageDb: string;
  addedBy: string;
  arch: string;
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]] = v.replace(/\\(.)/g, '$1');
  }
  return out;
}

export function detectDistribution(files: Map<string, ImageFile>): Distribution | null {
  const release = files.get('etc/os-release') ?? files.get('usr/lib/os-release');
  if (!release) {
    const alpine = files.get('etc/alpine-release');
    if (alpine) {
      const v = alpine.data.toString('utf8').trim();
      return { did: 'alpine', name: 'Alpine Linux', version: v, versionId: v, versionCodeName: '', prettyName: `Alpine Linux v${v}`, cpe: '' };
    }
    return null;
  }
  const r = parseOsRelease(release.data.toString('utf8'));
  return {
    did: r.ID ?? '',
    name: r.NAME ?? '',
    version: r.VERSION ?? '',
    versionId: r.VERSION_ID ?? '',
    versionCodeName: r.VERSION_CODENAME ?? '',
    prettyName: r.PRETTY_NAME ?? '',
    cpe: r.CPE_NAME ?? '',
  };
}

const RPM_ECOSYSTEMS: Record<string, string> = { almalinux: 'AlmaLinux', rocky: 'Rocky Linux', rhel: 'Red Hat', centos: 'Red Hat', mageia: 'Mageia', openeuler: 'openEuler' };

/** The OSV ecosystem of the distribution's own packages. */
export function osEcosystem(dist: Distribution | null, db: 'dpkg' | 'apk' | 'rpm'): string {
  const major = (v: string) => v.split('.')[0];
  if (db === 'dpkg') {
    if (dist?.did === 'ubuntu') return `Ubuntu:${dist.versionId}`;
    return dist?.versionId ? `Debian:${major(dist.versionId)}` : 'Debian';
  }
  if (db === 'apk') {
    if (dist?.did === 'wolfi') return 'Wolfi';
    if (dist?.did === 'chainguard') return 'Chainguard';
    const m = /^(\d+)\.(\d+)/.exec(dist?.versionId ?? '');
    return m ? `Alpine:v${m[1]}.${m[2]}` : 'Alpine';
  }
  const base = RPM_ECOSYSTEMS[dist?.did ?? ''] ?? 'Red Hat';
  return dist?.versionId && base !== 'Red Hat' ? `${base}:${major(dist.versionId)}` : base;
}

/** RFC-822 style stanzas separated by blank lines; continuation lines start with whitespace. */
function stanzas(text: string, packageDb: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  let cur: Record<string, string> = {};
  let last = '';
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      if (Object.keys(cur).length) out.push(cur);
      cur = {};
      last = '';
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (!last) throw new PackageDbError(packageDb, `line ${lineNo}: continuation line outside a field`);
      cur[last] += '\n' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\s\0]/.test(line.slice(0, colon))) throw new PackageDbError(packageDb, `line ${lineNo}: not a "Field: value" line`);
    last = line.slice(0, colon);
    cur[last] = line.slice(colon + 1).trim();
  }
  if (Object.keys(cur).length) out.push(cur);
  return out;
}

function dpkgPackages(text: string, packageDb: string, ecosystem: string, layer: string): DetectedPackage[] {
  const out: DetectedPackage[] = [];
  for (const s of stanzas(text, packageDb)) {
    if (!s.Package || !s.Version) throw new PackageDbError(packageDb, `a stanza without Package or Version (${JSON.stringify(s).slice(0, 80)})`);
    // status.d entries of distroless images carry no Status field
    if (s.Status !== undefined && !/ installed$/.test(s.Status)) continue;
    const src = /^(\S+)(?:\s+\((\S+)\))?$/.exec(s.Source ?? '');
    out.push({
      name: s.Package,
      version: s.Version,
      ecosystem,
      matchName: src?.[1] ?? s.Package,
      matchVersion: src?.[2] ?? s.Version,
      kind: 'binary',
      packageDb,
      addedBy: layer,
      arch: s.Architecture ?? '',
    });
  }
  return out;
}

function apkPackages(text: string, packageDb: string, ecosystem: string, layer: string): DetectedPackage[] {
  const out: DetectedPackage[] = [];
  let lineNo = 0;
  let cur: Record<string, string> = {};
  const flush = () => {
    if (!Object.keys(cur).length) return;
    if (!cur.P || !cur.V) throw new PackageDbError(packageDb, `a record without P: or V: before line ${lineNo}`);
    out.push({ name: cur.P, version: cur.V, ecosystem, matchName: cur.o || cur.P, matchVersion: cur.V, kind: 'binary', packageDb, addedBy: layer, arch: cur.A ?? '' });
    cur = {};
  };
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.replace(/\r$/, '');
    if (line === '') {
      flush();
      continue;
    }
    if (line[1] !== ':' || !/^[A-Za-z]$/.test(line[0])) throw new PackageDbError(packageDb, `line ${lineNo}: not an "X:value" line`);
    // F:/R:/Z: lines repeat per file; only the package fields matter
    if (!(line[0] in cur)) cur[line[0]] = line.slice(2);
  }
  flush();
  return out;
}

// sql.js is WebAssembly: a malicious rpmdb.sqlite is parsed inside the wasm sandbox, not by native code.
// Loaded at the first rpm database: a registry that scans none does not carry it in memory.
let sqlJs: ReturnType<typeof initSqlJs> | null = null;
function sql() {
  if (!sqlJs) {
    const require = createRequire(import.meta.url);
    const wasm = require.resolve('sql.js/dist/sql-wasm.wasm');
    sqlJs = import('sql.js').then(({ default: init }) => init({ locateFile: () => wasm }));
  }
  return sqlJs;
}

const RPMTAG = { NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, ARCH: 1022, SOURCERPM: 1044 } as const;

/** The tags we need from one rpm header blob (index entries of 16 bytes, then the data store). */
export function parseRpmHeader(blob: Uint8Array): Map<number, string | number> {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 8) throw new Error('header blob too short');
  const il = buf.readUInt32BE(0);
  const dl = buf.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > 100_000 || dataStart + dl > buf.length) throw new Error('header sizes exceed the blob');
  const wanted = new Set<number>(Object.values(RPMTAG));
  const out = new Map<number, string | number>();
  for (let k = 0; k < il; k++) {
    const e = 8 + k * 16;
    const tag = buf.readUInt32BE(e);
    if (!wanted.has(tag)) continue;
    const type = buf.readUInt32BE(e + 4);
    const off = buf.readInt32BE(e + 8);
    if (off < 0 || off >= dl) throw new Error(`tag ${tag} points outside the data store`);
    const at = dataStart + off;
    if (type === 4) out.set(tag, buf.readUInt32BE(at));
    else if (type === 6 || type === 8 || type === 9) {
      const end = buf.indexOf(0, at);
      if (end < 0 || end > dataStart + dl) throw new Error(`tag ${tag} string is not terminated`);
      out.set(tag, buf.toString('utf8', at, end));
    }
  }
  return out;
}

async function rpmPackages(data: Buffer, packageDb: string, ecosystem: string, layer: string): Promise<DetectedPackage[]> {
  const SQL = await sql();
  let db;
  try {
    db = new SQL.Database(data);
  } catch (err) {
    throw new PackageDbError(packageDb, `not an SQLite database: ${(err as Error).message}`);
  }
  try {
    const out: DetectedPackage[] = [];
    let rows;
    try {
      rows = db.exec('SELECT blob FROM Packages');
    } catch (err) {
      throw new PackageDbError(packageDb, `no readable Packages table: ${(err as Error).message}`);
    }
    for (const row of rows[0]?.values ?? []) {
      let h;
      try {
        h = parseRpmHeader(row[0] as Uint8Array);
      } catch (err) {
        throw new PackageDbError(packageDb, `malformed package header: ${(err as Error).message}`);
      }
      const name = h.get(RPMTAG.NAME) as string | undefined;
      if (!name || name === 'gpg-pubkey') continue;
      const epoch = h.get(RPMTAG.EPOCH);
      const version = `${epoch !== undefined && epoch !== 0 ? `${epoch}:` : ''}${h.get(RPMTAG.VERSION) ?? ''}-${h.get(RPMTAG.RELEASE) ?? ''}`;
      out.push({ name, version, ecosystem, matchName: name, matchVersion: version, kind: 'binary', packageDb, addedBy: layer, arch: String(h.get(RPMTAG.ARCH) ?? '') });
    }
    return out;
  } finally {
    db.close();
  }
}

function jsonOf(f: ImageFile, packageDb: string): unknown {
  try {
    return JSON.parse(f.data.toString('utf8'));
  } catch (err) {
    throw new PackageDbError(packageDb, `invalid JSON: ${(err as Error).message}`);
  }
}

function npmLockPackages(f: ImageFile, path: string): DetectedPackage[] {
  const lock = jsonOf(f, path) as { packages?: Record<string, { name?: string; version?: string; link?: boolean }>; dependencies?: Record<string, unknown> };
  if (!lock || typeof lock !== 'object') throw new PackageDbError(path, 'not a lock file object');
  const out: DetectedPackage[] = [];
  const add = (name: string, version: unknown) => {
    if (typeof version !== 'string' || !version || /^(file|link|git|http)/.test(version)) return;
    out.push({ name, version, ecosystem: 'npm', matchName: name, matchVersion: version, kind: 'source', packageDb: path, addedBy: f.layer, arch: '' });
  };
  if (lock.packages && typeof lock.packages === 'object') {
    for (const [key, p] of Object.entries(lock.packages)) {
      if (!key || !p || typeof p !== 'object' || p.link) continue;
      const at = key.lastIndexOf('node_modules/');
      const name = p.name ?? (at >= 0 ? key.slice(at + 'node_modules/'.length) : undefined);
      if (name) add(name, p.version);
    }
    return out;
  }
  const walk = (deps: unknown) => {
    if (!deps || typeof deps !== 'object') return;
    for (const [name, d] of Object.entries(deps as Record<string, { version?: string; dependencies?: unknown }>)) {
      add(name, d?.version);
      walk(d?.dependencies);
    }
  };
  walk(lock.dependencies);
  return out;
}

/** PEP 503 name normalisation, as PyPI advisories are matched. */
export const normalizePypiName = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');

function pythonPackage(f: ImageFile, path: string): DetectedPackage {
  const headers: Record<string, string> = {};
  for (const line of f.data.toString('utf8').split('\n')) {
    if (line.trim() === '') break;
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line.replace(/\r$/, ''));
    if (m && !(m[1] in headers)) headers[m[1]] = m[2].trim();
  }
  if (!headers.Name || !headers.Version) throw new PackageDbError(path, 'metadata without Name or Version');
  return {
    name: headers.Name,
    version: headers.Version,
    ecosystem: 'PyPI',
    matchName: normalizePypiName(headers.Name),
    matchVersion: headers.Version,
    kind: 'source',
    packageDb: path,
    addedBy: f.layer,
    arch: '',
  };
}

/** Every package in the assembled filesystem. `goBinaries` holds build-info text per binary path. */
export async function detectPackages(
  files: Map<string, ImageFile>,
  goBinaries: Map<string, ImageFile>,
): Promise<{ distribution: Distribution | null; packages: DetectedPackage[] }> {
  const distribution = detectDistribution(files);
  const packages: DetectedPackage[] = [];
  const dpkgEco = osEcosystem(distribution, 'dpkg');
  for (const [path, f] of files) {
    if (path === 'var/lib/dpkg/status' || path.startsWith('var/lib/dpkg/status.d/')) {
      packages.push(...dpkgPackages(f.data.toString('utf8'), path, dpkgEco, f.layer));
    } else if (path === 'lib/apk/db/installed') {
      packages.push(...apkPackages(f.data.toString('utf8'), path, osEcosystem(distribution, 'apk'), f.layer));
    } else if (path.endsWith('rpmdb.sqlite')) {
      packages.push(...(await rpmPackages(f.data, path, osEcosystem(distribution, 'rpm'), f.layer)));
    } else if (path.endsWith('package-lock.json')) {
      packages.push(...npmLockPackages(f, path));
    } else if (path.endsWith('/package.json')) {
      const p = jsonOf(f, path) as { name?: unknown; version?: unknown } | null;
      if (p && typeof p.name === 'string' && typeof p.version === 'string') {
        packages.push({
          name: p.name,
          version: p.version,
          ecosystem: 'npm',
          matchName: p.name,
          matchVersion: p.version,
          kind: 'source',
          packageDb: path,
          addedBy: f.layer,
          arch: '',
        });
      }
    } else if (path.endsWith('.dist-info/METADATA') || path.endsWith('.egg-info/PKG-INFO')) {
      packages.push(pythonPackage(f, path));
    }
  }
  for (const [path, f] of goBinaries) {
    for (const m of parseGoBuildInfo(f.data.toString('utf8'))) {
      packages.push({
        name: m.path,
        version: m.version,
        ecosystem: 'Go',
        matchName: m.path,
        matchVersion: m.version.replace(/^v/, ''),
        kind: 'source',
        packageDb: path,
        addedBy: f.layer,
        arch: '',
      });
    }
  }
  return { distribution, packages: dedupe(packages) };
}

/** One package per (ecosystem, name, version, database): a lock file and node_modules may list the same one. */
function dedupe(packages: DetectedPackage[]): DetectedPackage[] {
  const seen = new Map<string, DetectedPackage>();
  for (const p of packages) {
    const key = `${p.ecosystem}\0${p.name}\0${p.version}`;
    if (!seen.has(key)) seen.set(key, p);
  }
  return [...seen.values()];
}
