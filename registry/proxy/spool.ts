/**
 * The growing file of one blob fill: written once, in order, from the upstream's bytes, and read from its
 * start by any number of readers at their own pace (the clients pulling the blob while it is fetched, and the
 * blob store's writer). A reader that catches up with the writer waits for the next bytes; nothing is held in
 * memory beyond each reader's current chunk, and a reader going away affects nobody else.
 *
 * The file is unlinked as soon as it is opened: its bytes live while a descriptor is open (the writer or a
 * reader), and a process that dies leaves nothing behind.
 */
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { alignedBuffers, sendFromBuffers, type ByteSink, type SendOutcome } from '../storage/file_body.js';

/** Bytes a reader asks for at once: its memory is about this much (a reader's buffer holds one chunk). */
const READ_CHUNK_BYTES = 256 * 1024;
/** Bytes the writer gathers at most while a write is in flight (the upstream waits beyond that). */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Idle pairs of reader buffers kept for the next client (see SpoolReader.sendTo). */
const POOL_MAX = 4;
const pool: Buffer[][] = [];

export class Spool {
  /** Bytes written so far (all of them readable). */
  private length = 0;
  private state: 'writing' | 'complete' | 'failed' = 'writing';
  private failure: Error | null = null;
  private readonly waiters = new Set<() => void>();
  /** The writer's reference and each open reader's: the descriptor closes when the last one goes. */
  private refs = 1;

  private constructor(private readonly fh: FileHandle) {}

  /**
   * A new spool file at `path`. Unless `keep`, it is unlinked at once (see above); a kept one is the caller's
   * (a staging segment of the blob store, published afterwards).
   */
  static async create(path: string, keep = false): Promise<Spool> {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'wx+');
    if (!keep) {
      await unlink(path).catch(async (e: unknown) => {
        await fh.close();
        throw e;
      });
    }
    return new Spool(fh);
  }

  /**
   * The sink the upstream's bytes are piped into; it does not end the spool (see complete()). Chunks arriving
   * while a write is in flight go out together in the next one (one writev instead of one write per chunk).
   */
  writer(): Writable {
    const append = async (chunks: Buffer[]) => {
      let rest = chunks;
      while (rest.length > 0) {
        let { bytesWritten } = await this.fh.writev(rest, this.length);
        if (bytesWritten === 0) throw new Error('no progress writing the fill spool');
        this.length += bytesWritten;
        this.wake();
        let i = 0;
        while (i < rest.length && bytesWritten >= rest[i].length) bytesWritten -= rest[i++].length;
        rest = rest.slice(i);
        if (bytesWritten > 0) rest[0] = rest[0].subarray(bytesWritten);
      }
    };
    return new Writable({
      highWaterMark: WRITE_BATCH_BYTES,
      write: (chunk: Buffer, _enc, cb) => append([chunk]).then(() => cb(), cb),
      writev: (chunks, cb) => append(chunks.map((c) => c.chunk as Buffer)).then(() => cb(), cb),
    });
  }

  /**
   * Every byte is written and verified: readers end when they reach the end. With `durable` (a kept spool, which
   * the caller publishes afterwards), the bytes are then made durable: the readers do not wait for that.
   */
  async complete(durable = false): Promise<void> {
    if (this.state !== 'writing') return;
    this.state = 'complete';
    this.wake();
    try {
      if (durable) await this.fh.datasync();
    } finally {
      this.release();
    }
  }

  /** The fill failed: every reader errors with `err` (a client's body is cut, never ended as if whole). */
  fail(err: Error): void {
    if (this.state !== 'writing') return;
    this.state = 'failed';
    this.failure = err;
    this.wake();
    this.release();
  }

  /**
   * A new reader of the bytes from `start` up to (not including) `end`, or null when the spool is gone (its fill
   * ended and nobody reads it) or failed. With `verifiedEnd`, the last bytes of the range are handed out only
   * once the whole spool is complete (verified): a client of a part of a blob cannot check the digest itself.
   */
  reader(start = 0, end = Infinity, verifiedEnd = false): Readable | null {
    if (this.refs === 0 || this.state === 'failed') return null;
    this.refs++;
    return new SpoolReader(this, start, end, verifiedEnd);
  }

  /**
   * Keeps the spool open, as an open reader does, until the returned function is called: for a reader of several
   * ranges in turn, between which no reader of its is open. Null when the spool is gone or failed.
   */
  hold(): (() => void) | null {
    if (this.refs === 0 || this.state === 'failed') return null;
    this.refs++;
    let held = true;
    return () => {
      if (held) this.release();
      held = false;
    };
  }

  /** True once there are bytes at `pos`, false when the spool completed before `pos`; throws when it failed. */
  async available(pos: number): Promise<boolean> {
    for (;;) {
      if (pos < this.length) return true;
      if (this.state === 'failed') throw this.failure!;
      if (this.state === 'complete') return false;
      await new Promise<void>((resolve) => this.waiters.add(resolve));
    }
  }

  /** Resolves once every byte is written and verified; throws when the fill failed. */
  async completed(): Promise<void> {
    for (;;) {
      if (this.state === 'complete') return;
      if (this.state === 'failed') throw this.failure!;
      await new Promise<void>((resolve) => this.waiters.add(resolve));
    }
  }

  /** Up to `max` bytes from `pos`, waiting for the writer when they are not there yet; null at the end. */
  async read(pos: number, max: number): Promise<Buffer | null> {
    if (!(await this.available(pos))) return null;
    const buf = Buffer.allocUnsafe(Math.min(max, this.length - pos));
    const got = await this.readInto(buf, pos);
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  /** Bytes from `pos` into `buf` (as many as are written and fit), once available() said there are some. */
  async readInto(buf: Buffer, pos: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, this.length - pos), pos);
    return bytesRead;
  }

  /** A reader is done with the spool. */
  release(): void {
    if (--this.refs === 0) void this.fh.close().catch(() => undefined);
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

/** One reader of a spool, of the bytes from `pos` up to `end` (exclusive). */
class SpoolReader extends Readable {
  private busy = false;
  private released = false;
  private sending = false;

  constructor(
    private readonly spool: Spool,
    private pos: number,
    private readonly end: number,
    private readonly verifiedEnd: boolean,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES });
  }

  override _read(): void {
    if (this.busy) return;
    this.busy = true;
    this.next().then(
      (chunk) => {
        this.busy = false;
        if (this.destroyed) return;
        if (chunk === null) {
          this.release();
          this.push(null);
          return;
        }
        this.pos += chunk.length;
        this.push(chunk);
      },
      (e: Error) => this.destroy(e),
    );
  }

  private async next(): Promise<Buffer | null> {
    if (this.pos >= this.end) return null;
    const chunk = await this.spool.read(this.pos, Math.min(READ_CHUNK_BYTES, this.end - this.pos));
    if (chunk && this.verifiedEnd && this.pos + chunk.length >= this.end) await this.spool.completed();
    return chunk;
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.release();
    cb(err);
  }

  /**
   * Write the bytes to `out` (an HTTP response whose headers are set) and end it, from two buffers reused for
   * the whole body and kept for the next client, reading the next chunk while the previous one is written: a
   * client holds two chunks whatever its speed, and pulling a blob allocates nothing per chunk (20 clients of a
   * 64 MiB fill allocated 5,120 buffers of 256 KiB as Readables, whose garbage was most of the process's peak).
   * 'closed' when the client went away first; a failed fill destroys `out` (a cut body) and rejects. Only
   * before any use of this reader as a Readable.
   */
  async sendTo(out: ByteSink): Promise<SendOutcome> {
    if (this.sending || this.readableDidRead) throw new Error('SpoolReader.sendTo: the reader was already consumed');
    this.sending = true;
    const buffers = pool.pop() ?? alignedBuffers(READ_CHUNK_BYTES, 2);
    let outcome: SendOutcome = 'closed';
    try {
      outcome = await sendFromBuffers(out, buffers, async (buffer, closed) => {
        if (this.pos >= this.end) return 0;
        // A client gone while the spool waits for the upstream's next bytes is let go at once.
        const more = await unlessClosed(this.spool.available(this.pos), closed);
        if (more === 'closed') return 'closed';
        if (!more) return 0;
        const got = await this.spool.readInto(buffer.subarray(0, Math.min(READ_CHUNK_BYTES, this.end - this.pos)), this.pos);
        if (got === 0) throw new Error('the fill spool ended early');
        if (this.verifiedEnd && this.pos + got >= this.end && (await unlessClosed(this.spool.completed(), closed)) === 'closed') return 'closed';
        this.pos += got;
        return got;
      });
      return outcome;
    } finally {
      if (outcome === 'sent' && pool.length < POOL_MAX) pool.push(buffers);
      this.release();
      this.destroy();
    }
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.spool.release();
  }
}

/** `wait`'s outcome, or 'closed' when the client went away first (a later failure of `wait` is then nobody's). */
function unlessClosed<T>(wait: Promise<T>, closed: Promise<'closed'>): Promise<T | 'closed'> {
  wait.catch(() => undefined);
  return Promise.race([wait, closed]);
}
