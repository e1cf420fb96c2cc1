/**
 * Upload sessions. Bytes stream from the request through a hasher into the blob store; the session's offset
 * lives in the database, so any replica (or a restarted process) can continue it. The hash state is kept in
 * memory for speed; a process without it re-hashes the staged bytes.
 */
import { randomUUID, type Hash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { Db } from '../db/index.js';
import type { BlobStore } from '../storage/index.js';
import { DigestError, newHash, parseDigest, type DigestAlgorithm } from '../oci/digest.js';
import { RegistryError } from '../errors.js';
import type { Blobs, BlobRow } from './blobs.js';

export interface UploadRow {
  id: string;
  repository_id: number;
  byte_count: number;
  algorithm: DigestAlgorithm;
  created_at: Date;
  updated_at: Date;
}

/** An inclusive byte range from a `Content-Range: <start>-<end>` request header. */
export interface ChunkRange {
  start: number;
  end: number;
}

export interface ChunkInput {
  body: Readable;
  range: ChunkRange | null;
  /** Content-Length of the request, when sent. */
  length: number | null;
}

const HASH_CACHE_LIMIT = 2000;

export class Uploads {
  /** uploadId -> hash over the first `offset` bytes */
  private readonly hashes = new Map<string, { offset: number; algorithm: DigestAlgorithm; hash: Hash }>();

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly blobs: Blobs,
    private readonly maxBlobSize: number,
  ) {}

  async start(repoId: number, algorithm: DigestAlgorithm = 'sha256'): Promise<UploadRow> {
    const r = await this.db.query<UploadRow>('INSERT INTO blob_upload (id, repository_id, algorithm) VALUES ($1, $2, $3) RETURNING *', [
      randomUUID(),
      repoId,
      algorithm,
    ]);
    return r.rows[0];
  }

  async get(repoId: number, id: string): Promise<UploadRow> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
    const r = await this.db.query<UploadRow>('SELECT * FROM blob_upload WHERE id = $1 AND repository_id = $2', [id, repoId]);
    if (!r.rows[0]) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
    return r.rows[0];
  }

  /** Append one chunk. A chunk must start where the staged bytes end; otherwise 416 with the current range. */
  async append(upload: UploadRow, chunk: ChunkInput): Promise<UploadRow> {
    const offset = upload.byte_count;
    if (chunk.range) {
      const expectedLength = chunk.range.end - chunk.range.start + 1;
      if (chunk.range.start !== offset || expectedLength < 0 || (chunk.length !== null && chunk.length !== expectedLength)) {
        throw new RegistryError('RANGE_INVALID', `chunk ${chunk.range.start}-${chunk.range.end} does not continue the upload at offset ${offset}`);
      }
    }
    const expected = chunk.range ? chunk.range.end - chunk.range.start + 1 : chunk.length;
    if (expected !== null && offset + expected > this.maxBlobSize) {
      throw new RegistryError('SIZE_INVALID', `blob exceeds the maximum layer size of ${this.maxBlobSize} bytes`, { status: 413 });
    }
    const hash = await this.hashAt(upload, upload.algorithm);
    const maxBlobSize = this.maxBlobSize;
    let seen = offset;
    const hashing = new Transform({
      transform(data: Buffer, _enc, cb) {
        seen += data.length;
        if (seen > maxBlobSize) return cb(new RegistryError('SIZE_INVALID', `blob exceeds the maximum layer size of ${maxBlobSize} bytes`, { status: 413 }));
        hash.update(data);
        cb(null, data);
      },
    });
    this.hashes.delete(upload.id);
    // pipeline() carries an aborted request's error into the hashing stream (and so to the store's writer).
    const source = pipeline(chunk.body, hashing, () => undefined);
    const written = await this.store.appendUpload(upload.id, offset, source);
    if (expected !== null && written !== expected) {
      throw new RegistryError('SIZE_INVALID', `received ${written} bytes, expected ${expected}`);
    }
    const r = await this.db.query<UploadRow>(
      'UPDATE blob_upload SET byte_count = $3, updated_at = now() WHERE id = $1 AND byte_count = $2 RETURNING *',
      [upload.id, offset, offset + written],
    );
    if (!r.rows[0]) {
      await this.get(upload.repository_id, upload.id); // 404 when the session was cancelled or expired meanwhile
      throw new RegistryError('RANGE_INVALID', 'the upload was changed by a concurrent request');
    }
    this.remember(upload.id, offset + written, upload.algorithm, hash);
    return r.rows[0];
  }

  /** Close the session: append the last chunk if any, verify the digest, then publish the blob. */
  async finish(upload: UploadRow, digest: string, last: ChunkInput | null): Promise<BlobRow> {
    let parsed;
    try {
      parsed = parseDigest(digest);
    } catch (e) {
      throw new RegistryError((e as DigestError).unsupported ? 'UNSUPPORTED' : 'DIGEST_INVALID', (e as Error).message, { status: 400 });
    }
    if (last) upload = await this.append(upload, last);
    const size = upload.byte_count;
    const actual = `${parsed.algorithm}:${(await this.hashAt(upload, parsed.algorithm)).copy().digest('hex')}`;
    if (actual !== parsed.digest) {
      await this.cancel(upload);
      throw new RegistryError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${parsed.digest}`);
    }
    const blob = await this.db.tx(async (q) => {
      // Inserting or touching the row locks it: GC cannot delete this digest's bytes while we publish them.
      const b = await q.query<BlobRow>(
        `INSERT INTO blob (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET digest = EXCLUDED.digest RETURNING id, digest, size`,
        [parsed.digest, size],
      );
      await this.store.commitUpload(upload.id, parsed.digest, size);
      await this.blobs.holdTemporaryReference(q, upload.repository_id, b.rows[0].id);
      await q.query('DELETE FROM blob_upload WHERE id = $1', [upload.id]);
      return b.rows[0];
    });
    this.hashes.delete(upload.id);
    await this.store.deleteUpload(upload.id);
    return blob;
  }

  async cancel(upload: UploadRow): Promise<void> {
    this.hashes.delete(upload.id);
    await this.db.query('DELETE FROM blob_upload WHERE id = $1', [upload.id]);
    await this.store.deleteUpload(upload.id);
  }

  /** A hash over the staged bytes, from memory when this process has it, else by re-reading them. */
  private async hashAt(upload: UploadRow, algorithm: DigestAlgorithm): Promise<Hash> {
    const known = this.hashes.get(upload.id);
    if (known && known.offset === upload.byte_count && known.algorithm === algorithm) return known.hash;
    const hash = newHash(algorithm);
    if (upload.byte_count > 0) {
      for await (const data of await this.store.readUpload(upload.id, upload.byte_count)) hash.update(data as Buffer);
    }
    this.remember(upload.id, upload.byte_count, algorithm, hash);
    return hash;
  }

  private remember(id: string, offset: number, algorithm: DigestAlgorithm, hash: Hash): void {
    if (this.hashes.size >= HASH_CACHE_LIMIT) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(id, { offset, algorithm, hash });
  }
}
