/**
 * Another replica's blob fill, as this replica sees it through the fill's lease row. On object storage the
 * filling replica stores the upstream's bytes as consecutive pieces (segments of one staging upload) and lists
 * each one in the row once it is stored; clients here read those pieces while the fill goes on, then the rest
 * from the stored blob once it has landed (the filler deletes its pieces then). On LocalStorage the replicas
 * share the store's directory, and the row names the staging segment the filler writes as the bytes arrive:
 * clients here read that file as it grows (following its size), and the file becomes the stored blob itself
 * (a hard link), so a reader that holds it open reads on through the commit. Either way a client's last bytes
 * are handed out only once the blob has landed, verified against digest and size; a failed fill cuts its body.
 *
 * A filler that dies (its lease lapses) or is replaced leaves this fill orphaned: its readers wait for the fill
 * that takes over (here or on another replica) and go on from it. They were handed bytes nobody verified, so
 * each reader hashes what it hands out, and before going on reads the same bytes from the new fill and
 * compares: a client is continued only when what it got is the new fill's prefix (whose whole is verified
 * before its last bytes go out), and cut otherwise. A reader of the whole blob also checks the digest of all it
 * handed out before the last chunk.
 */
import type { Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobStore, ByteRange, Segment } from '../storage/index.js';
import { newHash, parseDigest } from '../oci/digest.js';

/** How often a reader that caught up with a growing segment looks at its size again. */
const GROW_POLL_MS = 50;
/** Bytes a reader of a growing segment reads at once (its memory is about this much). */
const READ_CHUNK_BYTES = 256 * 1024;

/** The bytes from `start` up to (not including) `end` of the fill that took an orphaned one over. */
export type Successor = (start: number, end: number) => AsyncIterable<Buffer>;

/** Where a reader is: the next byte it hands out, and the hash of those it handed out so far. */
interface Cursor {
  pos: number;
  hash: Hash;
  /** The reader reads the whole blob. */
  whole: boolean;
}

/** This fill was taken over by another: its readers go on from that one. */
class TakenOver extends Error {}

export class RemoteFill {
  private pieces: Segment[] = [];
  private state: 'filling' | 'landed' | 'failed' | 'orphaned' | 'taken-over' = 'filling';
  private failure: Error | null = null;
  private successor: Successor | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly store: BlobStore,
    readonly uploadId: string,
    private readonly digest: string,
    private readonly size: number,
    /** The staging segment the filler writes as the bytes arrive (LocalStorage), or null: it lists pieces. */
    private readonly segment: string | null,
  ) {}

  /** The pieces the filler lists now (a prefix of them never changes). */
  update(pieces: Segment[]): void {
    if (pieces.length <= this.pieces.length) return;
    this.pieces = pieces;
    this.wake();
  }

  /** The blob is stored: readers take what the pieces have not given them from the store. */
  land(): void {
    if (this.state !== 'filling') return;
    this.state = 'landed';
    this.wake();
  }

  fail(err: Error): void {
    if (this.state !== 'filling' && this.state !== 'orphaned') return;
    this.state = 'failed';
    this.failure = err;
    this.wake();
  }

  /** The filler went away without the blob landing: readers wait for the fill that takes over (takeOver()). */
  orphan(): void {
    if (this.state !== 'filling') return;
    this.state = 'orphaned';
    this.wake();
  }

  /** Another fill took this one over: readers go on from its bytes. */
  takeOver(successor: Successor): void {
    if (this.state !== 'filling' && this.state !== 'orphaned') return;
    this.state = 'taken-over';
    this.successor = successor;
    this.wake();
  }

  /** A reader of the blob's bytes (all of them, or `range`). */
  reader(range?: ByteRange): Readable {
    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : this.size;
    return Readable.from(this.read(start, end), { objectMode: false, highWaterMark: READ_CHUNK_BYTES });
  }

  private async *read(start: number, end: number): AsyncGenerator<Buffer> {
    const cursor: Cursor = { pos: start, hash: newHash(parseDigest(this.digest).algorithm), whole: start === 0 && end === this.size };
    try {
      yield* this.segment !== null && this.store.segmentFile ? this.growing(this.segment, cursor, end) : this.bytes(cursor, end);
    } catch (e) {
      if (!(e instanceof TakenOver)) throw e;
      yield* this.continued(start, cursor, end);
    }
  }

  /**
   * The rest of a reader's bytes from the fill that took this one over, once the bytes it handed out so far
   * (from `start` to the cursor) are found to be that fill's own.
   */
  private async *continued(start: number, cursor: Cursor, end: number): AsyncGenerator<Buffer> {
    const sent = cursor.hash.digest('hex');
    const check = newHash(parseDigest(this.digest).algorithm);
    let at = start;
    for await (const c of this.successor!(start, end)) {
      let chunk = c;
      if (at < cursor.pos) {
        const n = Math.min(chunk.length, cursor.pos - at);
        check.update(chunk.subarray(0, n));
        at += n;
        chunk = chunk.subarray(n);
        if (at === cursor.pos && check.digest('hex') !== sent) throw new Error('the bytes sent differ from those of the fill that took over');
      }
      if (chunk.length === 0) continue;
      at += chunk.length;
      yield chunk;
    }
    if (at < end) throw new Error('the fill that took over ended early');
  }

  /** Throws when readers should stop reading this fill: it failed, or another one took it over. */
  private check(): void {
    if (this.state === 'failed') throw this.failure!;
    if (this.state === 'taken-over') throw new TakenOver();
  }

  private async *bytes(cursor: Cursor, end: number): AsyncGenerator<Buffer> {
    // The piece being looked at and where it starts in the blob.
    let index = 0;
    let offset = 0;
    while (cursor.pos < end) {
      const piece = this.pieces[index];
      if (piece && offset + piece.size <= cursor.pos) {
        offset += piece.size;
        index++;
        continue;
      }
      if (this.state === 'landed') {
        yield* this.fromStore(cursor, end);
        return;
      }
      this.check();
      if (!piece) {
        await this.change();
        continue;
      }
      let at = offset;
      try {
        for await (const c of await this.store.readSegments(this.uploadId, [piece])) {
          const chunk = c as Buffer;
          const from = Math.max(cursor.pos - at, 0);
          const to = Math.min(chunk.length, end - at);
          at += chunk.length;
          if (to > from) yield await this.handOut(cursor, chunk.subarray(from, to), end);
          if (at >= end) break;
        }
        if (at < Math.min(offset + piece.size, end)) throw new Error('short piece');
      } catch (e) {
        if (e instanceof TakenOver) throw e;
        // The filler deletes its pieces once the blob landed (or its fill failed): go on from the blob.
        await this.landed();
        continue;
      }
      offset += piece.size;
      index++;
    }
  }

  /** The bytes of the segment file the filler writes, read as it grows, then (once landed) to `end`. */
  private async *growing(segment: string, cursor: Cursor, end: number): AsyncGenerator<Buffer> {
    const path = await this.store.segmentFile!(this.uploadId, segment);
    let fh: FileHandle | null = null;
    try {
      while (cursor.pos < end) {
        this.check();
        const landed = this.state === 'landed';
        // Not there: not made yet, or gone (the blob landed, or the fill failed and the lease row says so soon).
        fh ??= await open(path, 'r').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
        const available = fh ? Math.min((await fh.stat()).size, end) : 0;
        if (cursor.pos < available) {
          const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, available - cursor.pos));
          const { bytesRead } = await fh!.read(buf, 0, buf.length, cursor.pos);
          if (bytesRead > 0) {
            yield await this.handOut(cursor, buf.subarray(0, bytesRead), end);
            continue;
          }
        }
        if (landed) {
          // The file held open is the stored blob; one opened too late (the upload was cleaned up) is not there.
          yield* this.fromStore(cursor, end);
          return;
        }
        await this.change(GROW_POLL_MS);
      }
    } finally {
      await fh?.close();
    }
  }

  /** The rest of the range from the stored blob. */
  private async *fromStore(cursor: Cursor, end: number): AsyncGenerator<Buffer> {
    for await (const c of await this.store.read(this.digest, { start: cursor.pos, end: end - 1 })) yield await this.handOut(cursor, c as Buffer, end);
    if (cursor.pos !== end) throw new Error('the stored blob is shorter than its size');
  }

  /**
   * A chunk for the client, once the blob is verified when it holds the range's last bytes (for the whole blob,
   * once all the bytes handed out hash to the digest).
   */
  private async handOut(cursor: Cursor, chunk: Buffer, end: number): Promise<Buffer> {
    const last = cursor.pos + chunk.length >= end;
    if (last) await this.landed();
    cursor.hash.update(chunk);
    if (last && cursor.whole && `${parseDigest(this.digest).algorithm}:${cursor.hash.copy().digest('hex')}` !== this.digest) {
      throw new Error('the bytes of the fill do not match the digest');
    }
    cursor.pos += chunk.length;
    return chunk;
  }

  private async landed(): Promise<void> {
    while (this.state === 'filling' || this.state === 'orphaned') await this.change();
    this.check();
  }

  /** Resolves at the next change of state or pieces (or after `timeoutMs`). */
  private change(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}
