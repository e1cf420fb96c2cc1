/**
 * Another replica's blob fill, as this replica sees it through the fill's lease row: on object storage the
 * filling replica stores the upstream's bytes as consecutive pieces (segments of one staging upload) and lists
 * each one in the row once it is stored. Clients here read those pieces while the fill goes on, then the rest
 * from the stored blob once it has landed (the filler deletes its pieces then). A client's last bytes are
 * handed out only once the blob has landed, verified against digest and size; a failed fill cuts its body.
 */
import { Readable } from 'node:stream';
import type { BlobStore, ByteRange, Segment } from '../storage/index.js';

export class RemoteFill {
  private pieces: Segment[] = [];
  private state: 'filling' | 'landed' | 'failed' = 'filling';
  private failure: Error | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly store: BlobStore,
    readonly uploadId: string,
    private readonly digest: string,
    private readonly size: number,
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
    if (this.state !== 'filling') return;
    this.state = 'failed';
    this.failure = err;
    this.wake();
  }

  /** A reader of the blob's bytes (all of them, or `range`). */
  reader(range?: ByteRange): Readable {
    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : this.size;
    return Readable.from(this.bytes(start, end), { objectMode: false, highWaterMark: 256 * 1024 });
  }

  private async *bytes(start: number, end: number): AsyncGenerator<Buffer> {
    let pos = start;
    // The piece being looked at and where it starts in the blob.
    let index = 0;
    let offset = 0;
    const last = async (chunk: Buffer) => {
      // The range's last bytes wait for the verified blob.
      if (pos + chunk.length >= end) await this.landed();
      pos += chunk.length;
      return chunk;
    };
    while (pos < end) {
      const piece = this.pieces[index];
      if (piece && offset + piece.size <= pos) {
        offset += piece.size;
        index++;
        continue;
      }
      if (this.state === 'landed') {
        for await (const c of await this.store.read(this.digest, { start: pos, end: end - 1 })) yield await last(c as Buffer);
        if (pos !== end) throw new Error('the stored blob is shorter than its size');
        return;
      }
      if (this.state === 'failed') throw this.failure!;
      if (!piece) {
        await this.change();
        continue;
      }
      let at = offset;
      try {
        for await (const c of await this.store.readSegments(this.uploadId, [piece])) {
          const chunk = c as Buffer;
          const from = Math.max(pos - at, 0);
          const to = Math.min(chunk.length, end - at);
          at += chunk.length;
          if (to > from) yield await last(chunk.subarray(from, to));
          if (at >= end) break;
        }
        if (at < Math.min(offset + piece.size, end)) throw new Error('short piece');
      } catch {
        // The filler deletes its pieces once the blob landed (or its fill failed): go on from the blob.
        await this.landed();
        continue;
      }
      offset += piece.size;
      index++;
    }
  }

  private async landed(): Promise<void> {
    await this.settled();
    if (this.state === 'failed') throw this.failure!;
  }

  private async settled(): Promise<void> {
    while (this.state === 'filling') await this.change();
  }

  private change(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.add(resolve));
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}
