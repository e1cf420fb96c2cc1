/**
 * Where blob bytes live. The database decides what exists; a store only holds bytes addressed by digest,
 * plus the staged bytes of upload sessions. Bytes are streamed, never held whole in memory.
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

export interface BlobStore {
  readonly driver: string;
  /** Append `body` to an upload's staged bytes, which must currently hold exactly `offset` bytes. Resolves to the bytes written. */
  appendUpload(uploadId: string, offset: number, body: Readable): Promise<number>;
  /** The staged bytes of an upload from the start, for re-hashing when no hash state is at hand. */
  readUpload(uploadId: string, size: number): Promise<Readable>;
  /** Make the first `size` staged bytes the content of `digest` (verified by the caller); idempotent when the content exists. */
  commitUpload(uploadId: string, digest: string, size: number): Promise<void>;
  deleteUpload(uploadId: string): Promise<void>;
  /** Staged uploads, for removing the abandoned ones. */
  listUploads(): AsyncIterable<StagedUpload>;
  exists(digest: string): Promise<boolean>;
  read(digest: string, range?: ByteRange): Promise<Readable>;
  delete(digest: string): Promise<void>;
  /** Throws when the store cannot be written and read (health checks). */
  check(): Promise<void>;
}

/** Content-addressed path of a digest: `sha256/ab/abcdef...` (Quay's layout). */
export function casPath(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return `${algorithm}/${hex.slice(0, 2)}/${hex}`;
}
