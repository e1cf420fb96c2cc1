/**
 * Resident memory of a server process from /proc/<pid>/status: VmRSS (now) and VmHWM (peak). A phase's peak
 * is measured by resetting VmHWM first (`5` into /proc/<pid>/clear_refs, Linux 4.0+) and, as a cross-check
 * where the reset is refused, by sampling VmRSS every 50 ms.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface MemStatus {
  /** bytes */
  rss: number;
  /** bytes: the peak since start or since the last reset */
  hwm: number;
}

export function memStatus(pid: number): MemStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/status has no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS; false when the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Watches the peak RSS of some processes over a phase. */
export class PeakWatch {
  private readonly sampled = new Map<number, number>();
  private readonly resetOk = new Map<number, boolean>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: number[]) {
    for (const pid of pids) {
      this.resetOk.set(pid, resetPeak(pid));
      this.sampled.set(pid, memStatus(pid).rss);
    }
    this.timer = setInterval(() => this.sample(), 50);
    this.timer.unref();
  }

  private sample(): void {
    for (const pid of this.pids) {
      try {
        const { rss } = memStatus(pid);
        if (rss > (this.sampled.get(pid) ?? 0)) this.sampled.set(pid, rss);
      } catch {
        /* exited */
      }
    }
  }

  /** Stops watching; the peak per pid (VmHWM when the reset worked, else the sampled maximum). */
  stop(): Map<number, number> {
    clearInterval(this.timer);
    this.sample();
    const out = new Map<number, number>();
    for (const pid of this.pids) {
      const sampled = this.sampled.get(pid) ?? 0;
      let hwm = 0;
      try {
        hwm = this.resetOk.get(pid) ? memStatus(pid).hwm : 0;
      } catch {
        /* exited */
      }
      out.set(pid, Math.max(sampled, hwm));
    }
    return out;
  }
}
