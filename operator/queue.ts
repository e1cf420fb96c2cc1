/**
 * A keyed work queue with the semantics controllers need and @dot-i/k8s-operator's event queue lacks:
 * a key waiting or running is not queued twice, a key is never processed by two workers at once (an
 * add while it runs makes it run again after), and a key may be re-added after a delay.
 */
export type Worker = (key: string) => Promise<number | undefined>;

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private active = 0;
  private stopped = false;

  /** `worker` returns a delay in ms after which the key runs again, or undefined for never. */
  constructor(
    private readonly worker: Worker,
    private readonly concurrency: number,
    private readonly onError: (key: string, err: unknown) => number,
  ) {}

  add(key: string, delayMs = 0): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      const at = Date.now() + delayMs;
      const existing = this.timers.get(key);
      if (existing && existing.at <= at) return;
      if (existing) clearTimeout(existing.timer);
      const timer = setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, delayMs);
      timer.unref();
      this.timers.set(key, { at, timer });
      return;
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.pending.length) {
      const key = this.pending.shift()!;
      this.queued.delete(key);
      this.running.add(key);
      this.active++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    let again: number | undefined;
    try {
      again = await this.worker(key);
    } catch (err) {
      again = this.onError(key, err);
    }
    this.running.delete(key);
    this.active--;
    if (this.dirty.delete(key)) this.add(key);
    else if (again !== undefined) this.add(key, again);
    this.pump();
  }
}
