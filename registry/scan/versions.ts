/**
 * Version ordering per OSV ecosystem. semver (npm, Go) and PEP 440 (PyPI) come from maintained libraries;
 * npm has no maintained comparator for dpkg, apk or rpm versions, so those three follow the published
 * algorithms (dpkg's verrevcmp, apk-tools' version.c, rpm's rpmvercmp) here.
 */
import semver from 'semver';
import { lazyModule } from '../lazy.js';

const pep440 = lazyModule<typeof import('@renovatebot/pep440')>('@renovatebot/pep440');

export type Comparator = (a: string, b: string) => number;

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** dpkg's character order: `~` before everything (even the end), then the end, then letters, then the rest. */
function dpkgOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = dpkgOrder(a[i]);
      const bc = dpkgOrder(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (i < a.length && isDigit(a[i]) && j < b.length && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a[i])) return 1;
    if (j < b.length && isDigit(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

function splitDpkg(v: string): [number, string, string] {
  const colon = v.indexOf(':');
  const epoch = colon > 0 ? Number(v.slice(0, colon)) || 0 : 0;
  const rest = colon > 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
}

export const compareDpkg: Comparator = (a, b) => {
  const [ea, ua, ra] = splitDpkg(a);
  const [eb, ub, rb] = splitDpkg(b);
  if (ea !== eb) return ea - eb;
  return Math.sign(verrevcmp(ua, ub) || verrevcmp(ra, rb));
};

/** rpmvercmp: alphanumeric segments, digits beat letters, `~` sorts before anything, `^` after the end only. */
function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const sep = (c: string) => !isDigit(c) && !isAlpha(c) && c !== '~' && c !== '^';
  for (;;) {
    while (i < a.length && sep(a[i])) i++;
    while (j < b.length && sep(b[j])) j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = isDigit(a[i]);
    const take = (s: string, k: number) => {
      let e = k;
      while (e < s.length && (numeric ? isDigit(s[e]) : isAlpha(s[e]))) e++;
      return e;
    };
    const ie = take(a, i);
    const je = take(b, j);
    let sa = a.slice(i, ie);
    let sb = b.slice(j, je);
    if (sb.length === 0) return numeric ? 1 : -1;
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa > sb ? 1 : -1;
    i = ie;
    j = je;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

function splitEvr(v: string): [number, string, string] {
  const colon = v.indexOf(':');
  const epoch = colon > 0 ? Number(v.slice(0, colon)) || 0 : 0;
  const rest = colon > 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
}

export const compareRpm: Comparator = (a, b) => {
  const [ea, va, ra] = splitEvr(a);
  const [eb, vb, rb] = splitEvr(b);
  if (ea !== eb) return Math.sign(ea - eb);
  return rpmvercmp(va, vb) || rpmvercmp(ra, rb);
};

const APK_SUFFIXES: Record<string, number> = { alpha: -4, beta: -3, pre: -2, rc: -1, cvs: 1, svn: 2, git: 3, hg: 4, p: 5 };

interface ApkVersion {
  numbers: string[];
  letter: string;
  suffixes: Array<[number, number]>;
  revision: number;
}

function parseApk(v: string): ApkVersion {
  const m = /^(.*?)(?:-r(\d+))?$/.exec(v)!;
  const revision = m[2] ? Number(m[2]) : 0;
  const parts = m[1].split('_');
  const head = /^([0-9]+(?:\.[0-9]+)*)([a-z]?)$/.exec(parts[0]);
  const numbers = head ? head[1].split('.') : [parts[0]];
  const suffixes: Array<[number, number]> = parts.slice(1).map((s) => {
    const sm = /^([a-z]+)(\d*)$/.exec(s);
    return sm ? [APK_SUFFIXES[sm[1]] ?? 0, Number(sm[2] || 0)] : [0, 0];
  });
  return { numbers, letter: head?.[2] ?? '', suffixes, revision };
}

/** apk-tools ordering: dotted numbers (later parts with a leading 0 compare as decimals), a letter, `_suffix`es, `-rN`. */
export const compareApk: Comparator = (a, b) => {
  const pa = parseApk(a);
  const pb = parseApk(b);
  const n = Math.max(pa.numbers.length, pb.numbers.length);
  for (let k = 0; k < n; k++) {
    const x = pa.numbers[k];
    const y = pb.numbers[k];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const fractional = k > 0 && (x.startsWith('0') || y.startsWith('0'));
    const c = fractional ? (x < y ? -1 : x > y ? 1 : 0) : Math.sign(Number(x) - Number(y));
    if (c) return c;
  }
  if (pa.letter !== pb.letter) return pa.letter < pb.letter ? -1 : 1;
  const m = Math.max(pa.suffixes.length, pb.suffixes.length);
  for (let k = 0; k < m; k++) {
    const [ra, na] = pa.suffixes[k] ?? [0, 0];
    const [rb, nb] = pb.suffixes[k] ?? [0, 0];
    if (ra !== rb) return Math.sign(ra - rb);
    if (na !== nb) return Math.sign(na - nb);
  }
  return Math.sign(pa.revision - pb.revision);
};

export const compareSemver: Comparator = (a, b) => {
  const x = semver.valid(a.replace(/^v/, ''), { loose: true });
  const y = semver.valid(b.replace(/^v/, ''), { loose: true });
  if (x && y) return semver.compare(x, y, { loose: true });
  const cx = semver.coerce(a, { includePrerelease: true });
  const cy = semver.coerce(b, { includePrerelease: true });
  if (cx && cy) return semver.compare(cx, cy) || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
};

export const comparePep440: Comparator = (a, b) => {
  if (pep440().valid(a) && pep440().valid(b)) return pep440().compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
};

/** The comparator for an OSV ecosystem name (`Debian:11`, `Alpine:v3.17`, `npm`, …); null when unsupported. */
export function comparatorFor(ecosystem: string): Comparator | null {
  const base = ecosystem.split(':')[0];
  switch (base) {
    case 'Debian':
    case 'Ubuntu':
      return compareDpkg;
    case 'Alpine':
    case 'Wolfi':
    case 'Chainguard':
      return compareApk;
    case 'AlmaLinux':
    case 'Rocky Linux':
    case 'Red Hat':
    case 'openSUSE':
    case 'SUSE':
    case 'Mageia':
    case 'openEuler':
      return compareRpm;
    case 'npm':
    case 'Go':
    case 'crates.io':
      return compareSemver;
    case 'PyPI':
      return comparePep440;
    default:
      return null;
  }
}
