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
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';

/** Bytes a reader asks for at once: its memory is about this much (a reader's buffer holds one chunk). */
const READ_CHUNK_BYTES = 256 * 1024;

export class Spool {
  /** Bytes written so far (all of them readable). */
  private length = 0;
  private state: 'writing' | 'complete' | 'failed' = 'writing';
  private failure: Error | null = null;
  private readonly waiters = new Set<() => void>();
  /** The writer's reference and each open reader's: the descriptor closes when the last one goes. */
  private refs = 1;

  private constructor(private readonly fh: FileHandle) {}

  static async create(dir: string): Promise<Spool> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${randomUUID()}.spool`);
    const fh = await open(path, 'wx+');
    await unlink(path).catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    return new Spool(fh);
  }

  /** The sink the upstream's bytes are piped into; it does not end the spool (see complete()). */
  writer(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        this.fh.write(chunk, 0, chunk.length, this.length).then(({ bytesWritten }) => {
          if (bytesWritten !== chunk.length) return cb(new Error('short write to the fill spool'));
          this.length += bytesWritten;
          this.wake();
          cb();
        }, cb);
      },
    });
  }

  /** Every byte is written and verified: readers end when they reach the end. */
  complete(): void {
    if (this.state !== 'writing') return;
    this.state = 'complete';
    this.wake();
    this.release();
  }

  /** The fill failed: every reader errors with `err` (a client's body is cut, never ended as if whole). */
  fail(err: Error): void {
    if (this.state !== 'writing') return;
    this.state = 'failed';
    this.failure = err;
    this.wake();
    this.release();
  }

  /** A new reader from the first byte, or null when the spool is gone (its fill ended and nobody reads it). */
  reader(): Readable | null {
    if (this.refs === 0) return null;
    this.refs++;
    let pos = 0;
    let busy = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release();
    };
    const spool = this;
    return new Readable({
      highWaterMark: READ_CHUNK_BYTES,
      read() {
        if (busy) return;
        busy = true;
        const next = async (): Promise<void> => {
          for (;;) {
            if (this.destroyed) return;
            if (pos < spool.length) {
              const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, spool.length - pos));
              const { bytesRead } = await spool.fh.read(buf, 0, buf.length, pos);
              pos += bytesRead;
              busy = false;
              this.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
              return;
            }
            if (spool.state === 'failed') return void this.destroy(spool.failure!);
            if (spool.state === 'complete') {
              release();
              return void this.push(null);
            }
            await new Promise<void>((resolve) => spool.waiters.add(resolve));
          }
        };
        next().catch((e: Error) => this.destroy(e));
      },
      destroy(err, cb) {
        release();
        cb(err);
      },
    });
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private release(): void {
    if (--this.refs === 0) void this.fh.close().catch(() => undefined);
  }
}
