/** Display helpers shared by the pages. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

/** Quay sends dates as RFC 2822 strings, epoch seconds or ISO strings. */
export function toDate(v: string | number | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

// One formatter for every cell: toLocaleString builds a new one per call, a visible cost on 100-row tables.
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function dateTime(v: string | number | null | undefined, empty = 'Never'): string {
  const d = toDate(v);
  return d ? DATE_TIME.format(d) : empty;
}

export function shortDigest(d: string | null | undefined): string {
  if (!d) return '';
  const [alg, hex] = d.split(':');
  return `${alg}:${(hex ?? '').slice(0, 12)}`;
}

export function duration(seconds: number): string {
  if (seconds <= 0) return 'none';
  const units: [number, string][] = [
    [604800, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [s, name] of units) if (seconds % s === 0) return `${seconds / s} ${name}${seconds / s === 1 ? '' : 's'}`;
  return `${seconds} seconds`;
}
