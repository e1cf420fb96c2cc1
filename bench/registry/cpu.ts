/** CPU time of a process (and, for Postgres, of its backends) from /proc, to show where a phase's work went. */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields start after the last ')'.
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime of one process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
function ownCpu(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / TICKS : 0;
}

/** CPU seconds of `pid`, plus those of its children (live and reaped) when `children` (Postgres backends). */
export function cpuSeconds(pid: number, children = false): number {
  let total = ownCpu(pid);
  if (!children) return total;
  // Children that have ended and been reaped: cutime + cstime.
  const f = statFields(pid);
  if (f) total += (Number(f[13]) + Number(f[14])) / TICKS;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f && Number(f[1]) === pid) total += ownCpu(Number(d));
  }
  return total;
}
