/**
 * A least-recently-used map bounded by the bytes its values hold (as the caller measures them), with
 * counters for /metrics. A Map keeps insertion order, so re-inserting on a hit makes it the newest.
 */
export class ByteLru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private used = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(
    readonly name: string,
    readonly maxBytes: number,
  ) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.value;
  }

  /** Store a value; one larger than an eighth of the budget is not kept (it would push out many small ones). */
  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes / 8) return;
    this.entries.set(key, { value, bytes });
    this.used += bytes;
    for (const [k, old] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(k);
      this.used -= old.bytes;
      this.evictions++;
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.used -= e.bytes;
  }

  /** Drop every entry whose key matches (a scan: for rare changes such as a namespace rename). */
  deleteWhere(match: (key: string) => boolean): void {
    for (const k of [...this.entries.keys()]) if (match(k)) this.delete(k);
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
