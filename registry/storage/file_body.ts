/**
 * A byte range of an open file, as a response body. As a Readable it reads a new buffer per chunk (its
 * consumer may keep them); `sendTo` instead writes it to an HTTP response from two buffers that are reused
 * for the whole file and then for the next response. A 256 MiB pull through a read stream allocated 256
 * buffers of 1 MiB, and their garbage collection was most of the registry's CPU per pulled byte beyond the
 * read and write system calls themselves (see README, "perf"). Those two buffers start on page boundaries
 * (see alignedBuffers).
 */
import { Readable } from 'node:stream';
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** Where `sendTo` writes: an HTTP response (http.ServerResponse) or any stream with a write callback. */
export interface ByteSink {
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean;
  end(): void;
  destroy(err?: Error): void;
  once(event: 'close', listener: () => void): this;
  removeListener(event: 'close', listener: () => void): this;
  readonly destroyed: boolean;
}

/** How `sendTo` ended: every byte written, or the client went away first. */
export type SendOutcome = 'sent' | 'closed';

/** A body that writes itself to a response from reused buffers (FileBody; a proxy fill's spool reader). */
export interface DirectBody {
  sendTo(out: ByteSink): Promise<SendOutcome>;
}

export function isDirectBody(body: Readable): body is Readable & DirectBody {
  return typeof (body as Partial<DirectBody>).sendTo === 'function';
}

/** Idle pairs of chunk buffers kept for the next response (pairs of the store's chunk size only). */
const POOL_MAX = 4;
/** A read of one chunk from the page cache takes well under a millisecond; one that takes longer went to the disk. */
const SLOW_READ_NS = 2_000_000n;
/** The memory page: chunk buffers start on one, and reads after a range's first start on one in the file. */
const PAGE = 4096;
const WASM_PAGE = 65536;
const pool: Buffer[][] = [];
/** The one WebAssembly API used here (the project's TypeScript lib declares none). */
declare const WebAssembly: undefined | { Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer } };

/** False once the engine could not map a WebAssembly memory (no WebAssembly under `--jitless`, or a `ulimit -v`). */
let wasmMemory = typeof WebAssembly !== 'undefined';

/**
 * `count` buffers of `bytes` at page-aligned addresses, from one WebAssembly memory (which the engine maps
 * page-aligned). Why: the kernel's copy from the page cache into a buffer 16 bytes past a page boundary,
 * where malloc puts a large Buffer, took three times as long on this machine's AMD CPUs as into an aligned one
 * (`rep movsb` with the destination just ahead of the source: 140 against 45 ms per 256 MiB), and was half of
 * a blob GET's CPU (perf). The engine reserves address space for each memory (about 10 GiB, not resident):
 * where it cannot, plain buffers, as before.
 */
export function alignedBuffers(bytes: number, count: number): Buffer[] {
  if (wasmMemory) {
    const stride = Math.ceil(bytes / PAGE) * PAGE;
    const pages = Math.ceil((stride * count) / WASM_PAGE);
    try {
      const memory = new WebAssembly!.Memory({ initial: pages, maximum: pages });
      return Array.from({ length: count }, (_, i) => Buffer.from(memory.buffer, i * stride, bytes));
    } catch {
      wasmMemory = false;
    }
  }
  return Array.from({ length: count }, () => Buffer.allocUnsafeSlow(bytes));
}

/**
 * The write loop of a `sendTo`: `fill(buf, closed)` puts the body's next bytes into `buf` and returns how many
 * (0: the body is complete), or 'closed' when `closed` settled first in a wait of its own. Each buffer is
 * written while the next one is filled, and filled again only after its write completed, so a response holds
 * at most `buffers.length` chunks whatever the client's speed (backpressure). Ends `out` after the last write
 * completed and resolves 'sent': only then may the buffers be reused (a buffer whose write did not complete
 * may still be queued in a closed connection, or a read into it still pending). 'closed' when the client
 * went away first; a fill that throws destroys `out` (the client sees a cut body) and rejects.
 */
export async function sendFromBuffers(
  out: ByteSink,
  buffers: Buffer[],
  fill: (buf: Buffer, closed: Promise<'closed'>) => Promise<number | 'closed'> | number,
): Promise<SendOutcome> {
  let gone: () => void = () => undefined;
  const closed = new Promise<'closed'>((resolve) => {
    gone = () => resolve('closed');
    out.once('close', gone);
  });
  // Each write settles as 'written', or 'closed' if it failed (the connection went).
  const writes: (Promise<'written' | 'closed'> | null)[] = buffers.map(() => null);
  try {
    for (let i = 0; ; i = (i + 1) % buffers.length) {
      if (writes[i] && (await Promise.race([writes[i], closed])) === 'closed') return 'closed';
      if (out.destroyed) return 'closed';
      const buf = buffers[i];
      // A fill that answers at once (a read from the page cache) continues without a trip through the microtask queue.
      const filled = fill(buf, closed);
      const got = typeof filled === 'number' ? filled : await filled;
      if (got === 'closed' || out.destroyed) return 'closed';
      if (got === 0) break;
      writes[i] = new Promise((resolve) => out.write(buf.subarray(0, got), (err) => resolve(err ? 'closed' : 'written')));
    }
    const done = await Promise.race([Promise.all(writes), closed]);
    if (done === 'closed' || done.includes('closed')) return 'closed';
    out.end();
    return 'sent';
  } catch (err) {
    out.destroy(err as Error);
    throw err;
  } finally {
    out.removeListener('close', gone);
  }
}

/** A pair of chunk buffers: from the pool if it holds that size, else new. */
function takePair(bytes: number): Buffer[] {
  if (pool.length > 0 && pool[0][0].length === bytes) return pool.pop()!;
  return alignedBuffers(bytes, 2);
}

function giveBack(pair: Buffer[]): void {
  if (pool.length < POOL_MAX && (pool.length === 0 || pool[0][0].length === pair[0].length)) pool.push(pair);
}

export class FileBody extends Readable {
  private pos: number;
  private reading: Promise<unknown> | null = null;
  private sending = false;
  /** sendTo reads on the event loop's thread while reads are fast (readNow). */
  private readsInline = true;

  /**
   * Bytes `start` to `end` (exclusive) of `fh`, which this body owns and closes. `slowReadNs`: how long a read
   * on the event loop's thread may take before sendTo reads the rest on the thread pool (see readNow).
   */
  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly end: number,
    private readonly chunkBytes: number,
    private readonly slowReadNs = SLOW_READ_NS,
  ) {
    super();
    this.pos = start;
  }

  /** Bytes still to come. */
  get remaining(): number {
    return this.end - this.pos;
  }

  override _read(): void {
    const n = Math.min(this.chunkBytes, this.end - this.pos);
    if (n <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafeSlow(n);
    this.reading = this.readInto(buf, n).then(
      (got) => {
        this.reading = null;
        if (!this.destroyed) this.push(got === n ? buf : buf.subarray(0, got));
      },
      (err: Error) => {
        this.reading = null;
        this.destroy(err);
      },
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The file is closed once no read into it is in flight.
    const close = () =>
      this.fh.close().then(
        () => cb(err),
        (closeErr: Error) => cb(err ?? closeErr),
      );
    if (this.reading) void this.reading.finally(close);
    else void close();
  }

  /** Read up to `n` bytes at the current position into `buf` on the thread pool. */
  private async readInto(buf: Buffer, n: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, 0, n, this.pos);
    return this.advance(bytesRead);
  }

  /**
   * Read up to `n` bytes into `buf` on this thread: a chunk in the page cache is copied in a fraction of a
   * millisecond, less than the thread pool's hand-over to another thread and back costs (measured: a third of
   * the CPU of a 256 KiB-chunk send). A read slower than `slowReadNs` went to the disk: the rest of this
   * body is read on the thread pool, so a cold blob blocks the event loop for one read at most.
   */
  private readNow(buf: Buffer, n: number): number {
    const t0 = process.hrtime.bigint();
    const got = readSync(this.fh.fd, buf, 0, n, this.pos);
    if (process.hrtime.bigint() - t0 > this.slowReadNs) this.readsInline = false;
    return this.advance(got);
  }

  /** Account `bytesRead` bytes read; a file shorter than announced is an error. */
  private advance(bytesRead: number): number {
    if (bytesRead === 0) throw new Error(`blob file ended ${this.end - this.pos} bytes early`);
    this.pos += bytesRead;
    return bytesRead;
  }

  /**
   * Write the bytes to `out` (whose headers are set) and end it, reading the next chunk while the previous one
   * is being written. A buffer is read into again only after the write of its last bytes completed, so at
   * most two chunks per response are in memory whatever the client's speed (backpressure). The file is closed
   * at the end; if the client goes away first, at once ('closed'). A read error destroys `out` (the client
   * sees a cut body) and rejects. Only before any other use of this body as a Readable.
   */
  async sendTo(out: ByteSink): Promise<SendOutcome> {
    if (this.sending || this.readableDidRead) throw new Error('FileBody.sendTo: the body was already consumed');
    this.sending = true;
    // A body of one chunk or less needs one buffer of its size; a larger one two of the chunk size.
    const bytes = Math.min(this.chunkBytes, this.remaining);
    const paired = this.remaining > bytes;
    const buffers = paired ? takePair(bytes) : [Buffer.allocUnsafeSlow(bytes)];
    let outcome: SendOutcome = 'closed';
    try {
      outcome = await sendFromBuffers(out, buffers, (buf) => {
        if (this.pos >= this.end) return 0;
        // A range starting inside a page: the first read ends on a page boundary, so that every later one copies
        // from page-aligned file offsets into page-aligned buffers (see alignedBuffers).
        const n = Math.min(this.chunkBytes - (paired && this.chunkBytes > PAGE ? this.pos % PAGE : 0), this.end - this.pos);
        return this.readsInline ? this.readNow(buf, n) : this.readInto(buf, n);
      });
      return outcome;
    } finally {
      if (outcome === 'sent' && paired) giveBack(buffers);
      this.destroy();
    }
  }
}
