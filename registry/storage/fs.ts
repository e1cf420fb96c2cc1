/**
 * Filesystem blob store (Quay's LocalStorage). An upload is a directory of segment files, one per request
 * (see blobstore.ts); commit renames the only segment, or a fsynced concatenation of several, into place.
 */
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, writeFile, readFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { FileBody } from './file_body.js';
import { casPath, type BlobStore, type ByteRange, type ReadOptions, type Segment, type StagedUpload } from './blobstore.js';

/**
 * Chunk size of blob reads (see read()). Measured with the registry bench's curl GET of a 64 MiB blob on the
 * quiet machine: 256 KiB 1007-1061 MB/s, 512 KiB 1259 MB/s, 1 MiB 1346-1439 MB/s (Distribution 1403-1839,
 * which sends the file with sendfile). A blob GET holds two such buffers per response, reused
 * (FileBody.sendTo); read as a stream (the proxy, the scanner) a blob gets a new buffer per chunk.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

export class FsBlobStore implements BlobStore {
  readonly driver = 'LocalStorage';
  constructor(private readonly root: string) {}

  private uploadDir(id: string): string {
    return join(this.root, 'uploads', id);
  }

  private segmentPath(uploadId: string, segmentId: string): string {
    return join(this.uploadDir(uploadId), segmentId);
  }

  private blobPath(digest: string): string {
    return join(this.root, casPath(digest));
  }

  async writeSegment(uploadId: string, segmentId: string, body: Readable): Promise<number> {
    const path = this.segmentPath(uploadId, segmentId);
    await mkdir(dirname(path), { recursive: true });
    return writeDurably(path, body);
  }

  async segmentFile(uploadId: string, segmentId: string): Promise<string> {
    return this.segmentPath(uploadId, segmentId);
  }

  async deleteSegment(uploadId: string, segmentId: string): Promise<void> {
    await rm(this.segmentPath(uploadId, segmentId), { force: true });
  }

  async readSegments(uploadId: string, segments: readonly Segment[]): Promise<Readable> {
    const paths = segments.filter((s) => s.size > 0).map((s) => this.segmentPath(uploadId, s.id));
    async function* concat(): AsyncIterable<Buffer> {
      for (const path of paths) {
        for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) yield chunk as Buffer;
      }
    }
    return Readable.from(concat());
  }

  async commitUpload(uploadId: string, segments: readonly Segment[], digest: string): Promise<void> {
    const target = this.blobPath(digest);
    await mkdir(dirname(target), { recursive: true });
    let source: string;
    if (segments.length === 1) {
      // Already fsynced by writeSegment and never written again: publish it as it is, through a second link so
      // that the session keeps its bytes until the caller's transaction commits.
      source = `${target}.${randomUUID()}.tmp`;
      await link(this.segmentPath(uploadId, segments[0].id), source);
    } else {
      source = this.segmentPath(uploadId, `${randomUUID()}.joined`);
      await mkdir(dirname(source), { recursive: true });
      await writeDurably(source, await this.readSegments(uploadId, segments));
    }
    // rename() replaces an existing file atomically: readers see the old or the new bytes, never a mix.
    await rename(source, target);
    await fsync(dirname(target));
  }

  async deleteUpload(uploadId: string): Promise<void> {
    await rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }

  async *listUploads(): AsyncIterable<StagedUpload> {
    const dir = join(this.root, 'uploads');
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const id of names) {
      const s = await stat(join(dir, id)).catch(() => null);
      if (s) yield { id, modified: s.mtime };
    }
  }

  async exists(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(
      () => true,
      () => false,
    );
  }

  async read(digest: string, range?: ByteRange, opts: ReadOptions = {}): Promise<Readable> {
    const chunk = opts.chunkBytes ?? READ_CHUNK_BYTES;
    if (range && range.end < range.start) return emptyStream();
    // Open first so that a missing file rejects here rather than erroring the response stream.
    const fh = await open(this.blobPath(digest), 'r');
    try {
      const end = range ? range.end + 1 : (opts.size ?? (await fh.stat()).size);
      // 1 MiB reads instead of the default 64 KiB: a sixteenth of the per-chunk work (thread-pool round trip,
      // promise, stream and socket write) for the same bytes. Read as a stream, a file smaller than that (a
      // manifest's config, read at every push) gets chunks of its size: a 1 MiB buffer per small read was a
      // fifth of a manifest PUT's CPU in garbage collection.
      return new FileBody(fh, range?.start ?? 0, end, chunk);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async delete(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async writeFile(path: string, body: Readable): Promise<number> {
    const target = join(this.root, path);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    const written = await writeDurably(tmp, body);
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await fsync(dirname(target));
    return written;
  }

  async readFile(path: string): Promise<Readable> {
    const fh = await open(join(this.root, path), 'r');
    return fh.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  }

  async deleteFile(path: string): Promise<void> {
    await rm(join(this.root, path), { force: true });
  }

  async blobUrl(): Promise<string | null> {
    return null;
  }

  async signedFileUrl(): Promise<string | null> {
    return null;
  }

  async check(): Promise<void> {
    const dir = join(this.root, 'health');
    await mkdir(dir, { recursive: true });
    const path = join(dir, randomUUID());
    await writeFile(path, 'ok');
    const back = await readFile(path, 'utf8');
    await rm(path, { force: true });
    if (back !== 'ok') throw new Error('filesystem storage read back different bytes');
  }
}

/**
 * Bytes per write: a request body arrives in chunks of 16-64 KiB, and one thread-pool write per chunk (a
 * WriteStream) was 40 % of a push's CPU in the registry bench's profile; chunks are gathered into one
 * writev(2) of about this size, with one write in flight while the next batch is gathered.
 */
const WRITE_BATCH_BYTES = 1024 * 1024;
/**
 * Chunks per write at most: a client trickling its body a few bytes per packet would otherwise gather a million
 * tiny Buffers (about 100 MB of heap) before one write.
 */
const WRITE_BATCH_CHUNKS = 1024;

/**
 * Bytes written between two background flushes of a file being written (see writeDurably). The kernel starts
 * writing dirty pages back on its own only at 10 % of memory or after 30 s, so without these the whole body
 * reached the disk in the final fdatasync, after the last byte arrived: 50-270 ms per layer of the registry
 * bench's 256 MiB push (load 15), 6-40 ms with a flush every 8 MiB.
 */
const FLUSH_EVERY_BYTES = 8 * 1024 * 1024;
/**
 * Background flushes in flight per process at most: each holds a thread of libuv's pool (4 threads by
 * default, shared with every file read and write) until the disk has the bytes.
 */
const MAX_BACKGROUND_FLUSHES = 2;
let backgroundFlushes = 0;

function ignore(): void {}

/**
 * Write `body` to a new file at `path` (refused if it exists: each file has one writer) and fdatasync it: the
 * bytes are durable when this resolves, to the number of bytes written. On failure the file is removed.
 * While the bytes arrive, what is written is flushed in the background (fdatasync every FLUSH_EVERY_BYTES), so
 * that the final fdatasync finds little left to write.
 */
async function writeDurably(path: string, body: AsyncIterable<Buffer>): Promise<number> {
  const fh = await open(path, 'wx');
  let position = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let writing: Promise<void> | null = null;
  let flushing: Promise<void> | null = null;
  let flushedTo = 0;
  /** Called when every byte before `position` is written. */
  const flushInBackground = () => {
    if (flushing || position - flushedTo < FLUSH_EVERY_BYTES || backgroundFlushes >= MAX_BACKGROUND_FLUSHES) return;
    flushedTo = position;
    backgroundFlushes++;
    flushing = fh.datasync().finally(() => {
      backgroundFlushes--;
      flushing = null;
    });
    flushing.catch(ignore); // a failing disk fails the final fdatasync too
  };
  const flushBatch = () => {
    writing = writeAll(fh, batch, position);
    writing.catch(ignore); // awaited before the next batch or at the end
    position += batchBytes;
    batch = [];
    batchBytes = 0;
  };
  try {
    try {
      for await (const chunk of body) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes < WRITE_BATCH_BYTES && batch.length < WRITE_BATCH_CHUNKS) continue;
        if (writing) await writing;
        flushInBackground();
        flushBatch();
      }
      if (writing) await writing;
      if (batchBytes > 0) flushBatch();
    } finally {
      // Nothing may still be writing to the file when it is closed or removed.
      await Promise.allSettled([writing, flushing]);
    }
    await writing;
    await fh.datasync();
    await fh.close();
    return position;
  } catch (err) {
    await fh.close().catch(ignore);
    await rm(path, { force: true });
    throw err;
  }
}

/** writev until every byte of `buffers` is at `position` (a write may take fewer bytes than given). */
async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest, position);
    if (bytesWritten === 0) throw new Error(`no progress writing at offset ${position}`);
    position += bytesWritten;
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i].length) bytesWritten -= rest[i++].length;
    rest = rest.slice(i);
    if (bytesWritten > 0) rest[0] = rest[0].subarray(bytesWritten);
  }
}

function emptyStream(): Readable {
  return Readable.from([]);
}

/** fsync a directory (a rename in it is durable after this). */
async function fsync(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
