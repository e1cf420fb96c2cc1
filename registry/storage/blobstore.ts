/**
 * Where blob bytes live. The database decides what exists; a store only holds bytes addressed by digest,
 * plus the staged bytes of upload sessions. Bytes are streamed, never held whole in memory.
 *
 * Staging protocol: each request that carries upload bytes writes them to a segment of its own (a new id,
 * never written by anyone else, immutable once written); the database attaches a segment to the session only
 * after a compare-and-set on the session's offset, and a losing request deletes its segment. So concurrent
 * requests on one session can never mix their bytes, and the bytes a session holds are exactly the
 * database's list of segments.
 *
 * Publishing protocol (shared with GC): the caller inserts or locks the blob's database row in a
 * transaction, then calls commitUpload while holding that lock; GC deletes bytes only while holding the
 * same row lock, so a commit and a deletion of one digest never interleave.
 */
import type { Readable } from 'node:stream';

export interface ByteRange {
  /** first byte, inclusive */
  start: number;
  /** last byte, inclusive */
  end: number;
}

export interface StagedUpload {
  id: string;
  modified: Date;
}

/** One request's staged bytes of an upload session. */
export interface Segment {
  id: string;
  size: number;
}

export interface ReadOptions {
  chunkBytes?: number;
  size?: number;
}

export interface BlobStore {
  readonly driver: string;
  /** Write `body` to a new private segment of an upload; durable when it resolves (to the bytes written). */
  writeSegment(uploadId: string, segmentId: string, body: Readable): Promise<number>;
  /**
   * Stores with local files (LocalStorage): the path of a segment, for one the caller writes itself (making its
   * directory), e.g. while others read it as it grows; it is then like any segment written by writeSegment, once
   * the caller fsynced it. Also the path other processes sharing the store's directory read it at meanwhile.
   */
  segmentFile?(uploadId: string, segmentId: string): Promise<string>;
  deleteSegment(uploadId: string, segmentId: string): Promise<void>;
  /** The bytes of `segments`, in order (for hashing the committed bytes of a session). */
  readSegments(uploadId: string, segments: readonly Segment[]): Promise<Readable>;
  /**
   * Make the bytes of `segments` the content of `digest` (verified by the caller over exactly these segments),
   * replacing whatever is stored under the digest: content that was lost or damaged is repaired by the next
   * upload of the same digest.
   */
  commitUpload(uploadId: string, segments: readonly Segment[], digest: string): Promise<void>;
  /** Every staged byte of an upload (all its segments, attached or not). */
  deleteUpload(uploadId: string): Promise<void>;
  /** Staged uploads, for removing the abandoned ones. */
  listUploads(): AsyncIterable<StagedUpload>;
  exists(digest: string): Promise<boolean>;
  /**
   * `chunkBytes`: the read size a store that reads local files uses instead of its default (the scanner reads
   * with small chunks, whose buffers die young; others ignore it). `size`: the blob's recorded size, where a
   * store that reads local files ends a whole-blob read (no stat; a file that grew still yields exactly the
   * bytes a response announced).
   */
  read(digest: string, range?: ByteRange, opts?: ReadOptions): Promise<Readable>;
  /** A pre-signed GET URL of a blob's bytes valid for `seconds` (clients download directly), or null (LocalStorage). */
  blobUrl(digest: string, seconds: number): Promise<string | null>;
  delete(digest: string): Promise<void>;
  /** Throws when the store cannot be written and read (health checks). */
  check(): Promise<void>;
  /**
   * Named files beside the blobs (exported usage logs under EXPORT_ACTION_LOGS_STORAGE_PATH): `path` is
   * relative to the store's root, made by the registry, never by a client. Written from a stream, durable
   * when it resolves (to the bytes written); a failed write leaves nothing behind.
   */
  writeFile(path: string, body: Readable): Promise<number>;
  readFile(path: string): Promise<Readable>;
  /** Remove a named file; a missing one is not an error. */
  deleteFile(path: string): Promise<void>;
  /** A pre-signed GET URL valid for `seconds`, or null when the store cannot sign (LocalStorage). */
  signedFileUrl(path: string, seconds: number): Promise<string | null>;
}

/** A store's answer that an object is not there: a missing file (LocalStorage), S3's NoSuchKey or a 404. */
export function isMissingObject(err: unknown): boolean {
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return !!e && (e.code === 'ENOENT' || e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404);
}

/** Content-addressed path of a digest: `sha256/ab/abcdef...` (Quay's layout). */
export function casPath(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return `${algorithm}/${hex.slice(0, 2)}/${hex}`;
}
