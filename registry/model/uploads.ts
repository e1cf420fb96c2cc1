/**
 * Upload sessions. Each request streams its bytes through a counter (and a hasher) into a private segment of
 * the blob store; a compare-and-set on the session's offset in the database then attaches the segment, so
 * concurrent requests on one session cannot mix their bytes and a loser leaves nothing behind. The session
 * lives in the database, so any replica (or a restarted process) can continue it.
 *
 * The digest is computed over exactly the committed segments: a hash that this process chained while writing
 * them (keyed by the exact list of segment ids, which are immutable once written); else the digest that the
 * process which wrote the last segment recorded with it (the hash of every byte through that segment, computed
 * as the bytes were written), so a PUT answered by another worker process or replica than the PATCH does not
 * read the bytes back; else by reading them back. A blob is published under a digest only when it matches.
 */
import { randomUUID, type Hash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Db } from '../db/index.js';
import type { BlobStore, Segment } from '../storage/index.js';
import { isMissingObject } from '../storage/blobstore.js';
import { type DigestError, newHash, parseDigest, type DigestAlgorithm } from '../oci/digest.js';
import { Conflict, Invalid, NotFound, StorageFull, TooLarge, digestError } from './errors.js';
import type { Blobs, BlobRow } from './blobs.js';

export interface UploadRow {
  id: string;
  repository_id: number;
  byte_count: number;
  algorithm: DigestAlgorithm;
  /** The committed segments, in order; their sizes add up to byte_count. */
  segments: UploadSegment[];
  created_at: Date;
  updated_at: Date;
}

export interface UploadSegment extends Segment {
  /**
   * `algorithm:hex` of the session's bytes from the first through this segment, when the process that wrote
   * it held the hash of the bytes before it.
   */
  digest?: string;
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

/** Identifies the committed bytes of a session: its segment ids in order. */
function chainKey(u: UploadRow): string {
  return u.segments.map((s) => s.id).join(',');
}

export class Uploads {
  /** uploadId -> hash over the segments named by `chain` */
  private readonly hashes = new Map<string, { chain: string; algorithm: DigestAlgorithm; hash: Hash }>();

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly blobs: Blobs,
    private readonly maxBlobSize: number,
  ) {}

  async start(repoId: number, algorithm: DigestAlgorithm = 'sha256'): Promise<UploadRow> {
    const r = await this.db.query<UploadRow>('INSERT INTO blob_upload (id, repository_id, algorithm) VALUES ($1, $2, $3) RETURNING *', [randomUUID(), repoId, algorithm]);
    return r.rows[0];
  }

  async get(repoId: number, id: string): Promise<UploadRow> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new NotFound('upload', 'blob upload unknown to registry');
    const r = await this.db.query<UploadRow>('SELECT * FROM blob_upload WHERE id = $1 AND repository_id = $2', [id, repoId]);
    if (!r.rows[0]) throw new NotFound('upload', 'blob upload unknown to registry');
    return r.rows[0];
  }

  /** Append one chunk. A chunk must start where the committed bytes end; otherwise 416 with the current range. */
  async append(upload: UploadRow, chunk: ChunkInput): Promise<UploadRow> {
    const offset = upload.byte_count;
    if (chunk.range) {
      const expectedLength = chunk.range.end - chunk.range.start + 1;
      if (chunk.range.start !== offset || expectedLength < 0 || (chunk.length !== null && chunk.length !== expectedLength)) {
        throw new Invalid('range', `chunk ${chunk.range.start}-${chunk.range.end} does not continue the upload at offset ${offset}`);
      }
    }
    const expected = chunk.range ? chunk.range.end - chunk.range.start + 1 : chunk.length;
    if (expected !== null && offset + expected > this.maxBlobSize) {
      throw new TooLarge(`blob exceeds the maximum layer size of ${this.maxBlobSize} bytes`);
    }
    // Continue the hash of the committed bytes when this process has it; a copy, so a losing request cannot touch it.
    const hash = this.cachedHash(upload, upload.algorithm)?.copy() ?? null;
    const maxBlobSize = this.maxBlobSize;
    let seen = offset;
    const hashing = new Transform({
      transform(data: Buffer, _enc, cb) {
        seen += data.length;
        if (seen > maxBlobSize) return cb(new TooLarge(`blob exceeds the maximum layer size of ${maxBlobSize} bytes`));
        hash?.update(data);
        cb(null, data);
      },
    });
    // pipeline() carries an aborted request's error into the hashing stream (and so to the store's writer).
    const source = pipeline(chunk.body, hashing, () => undefined);
    const segment = randomUUID();
    const discard = () => this.store.deleteSegment(upload.id, segment).catch(() => undefined);
    let written: number;
    try {
      written = await this.store.writeSegment(upload.id, segment, source);
    } catch (err) {
      await discard();
      await this.get(upload.repository_id, upload.id); // 404 when the session was cancelled or finished meanwhile
      throw storageFull(err) ?? err;
    }
    if (expected !== null && written !== expected) {
      await discard();
      throw new Invalid('size', `received ${written} bytes, expected ${expected}`);
    }
    if (written === 0) {
      await discard();
      return upload;
    }
    const attached: UploadSegment = { id: segment, size: written };
    if (hash) attached.digest = `${upload.algorithm}:${hash.copy().digest('hex')}`;
    const r = await this.db.query<UploadRow>(
      `UPDATE blob_upload SET byte_count = $3, segments = segments || $4::jsonb, updated_at = now()
        WHERE id = $1 AND byte_count = $2 RETURNING *`,
      [upload.id, offset, offset + written, JSON.stringify([attached])],
    );
    if (!r.rows[0]) {
      await discard();
      await this.get(upload.repository_id, upload.id); // 404 when the session was cancelled or finished meanwhile
      throw new Conflict('the upload was changed by a concurrent request');
    }
    if (hash) this.remember(r.rows[0], upload.algorithm, hash);
    return r.rows[0];
  }

  /** Close the session: append the last chunk if any, verify the digest over the committed bytes, then publish the blob. */
  async finish(upload: UploadRow, digest: string, last: ChunkInput | null): Promise<BlobRow> {
    let parsed;
    try {
      parsed = parseDigest(digest);
    } catch (e) {
      throw digestError(e as DigestError);
    }
    if (last) upload = await this.attachLast(upload, parsed.digest, last);
    const size = upload.byte_count;
    const actual = await this.committedDigest(upload, parsed.algorithm);
    if (actual !== parsed.digest) {
      await this.cancel(upload);
      throw new Invalid('digest', `uploaded content has digest ${actual}, not ${parsed.digest}`);
    }
    const blob = await this.db.tx(async (q) => {
      // The session must still hold exactly the bytes just verified; the row lock keeps appends, a cancel and a
      // second finish out until this one is done.
      const cur = await q.query<{ byte_count: number }>('SELECT byte_count FROM blob_upload WHERE id = $1 FOR UPDATE', [upload.id]);
      if (!cur.rows[0]) throw new NotFound('upload', 'blob upload unknown to registry');
      if (Number(cur.rows[0].byte_count) !== size) throw new Conflict('the upload was changed by a concurrent request');
      // Inserting or touching the row locks it: GC cannot delete this digest's bytes while we publish them.
      const b = await q.query<BlobRow & { existed: boolean }>(
        `INSERT INTO blob (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size RETURNING id, digest, size, xmax <> 0 AS existed`,
        [parsed.digest, size],
      );
      await this.store.commitUpload(upload.id, upload.segments, parsed.digest).catch((err: unknown) => {
        throw storageFull(err) ?? err;
      });
      // A proxy cache placeholder of this digest (its bytes not fetched from the upstream yet) now has its bytes.
      const { existed, ...row } = b.rows[0];
      if (existed) await q.query('DELETE FROM proxy_blob_placeholder WHERE blob_id = $1', [row.id]);
      await this.blobs.holdTemporaryReference(q, upload.repository_id, row.id);
      // The session is remembered as finished, so a resent last PUT gets the same answer (finishedBlob).
      await q.query(
        `WITH done AS (DELETE FROM blob_upload WHERE id = $1 RETURNING id, repository_id)
         INSERT INTO blob_upload_finished (id, repository_id, digest) SELECT id, repository_id, $2 FROM done`,
        [upload.id, parsed.digest],
      );
      return row;
    });
    this.hashes.delete(upload.id);
    await this.store.deleteUpload(upload.id);
    return blob;
  }

  /**
   * The blob a finished session published under `digest`, when it is still linked in the repository (its
   * temporary reference renewed, as the first answer did): what a resent last PUT of that session answers.
   */
  async finishedBlob(repoId: number, id: string, digest: string): Promise<BlobRow | null> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return null;
    const r = await this.db.query('SELECT 1 FROM blob_upload_finished WHERE id = $1 AND repository_id = $2 AND digest = $3', [id, repoId, digest]);
    return r.rows.length > 0 ? this.blobs.mount([repoId], repoId, digest) : null;
  }

  /**
   * Attach the last PUT's chunk, unless it is a resent PUT whose chunk is already attached: a replica that
   * died after attaching it and before publishing left the session ending with a segment of exactly this
   * chunk's length and range, and the committed bytes already hash to the digest. Then the body is drained
   * and the committed bytes are what gets published (they are what the digest names, so nothing else can be).
   * Any other overlap is a 416 with the committed range, from which the client resumes.
   */
  private async attachLast(upload: UploadRow, digest: string, last: ChunkInput): Promise<UploadRow> {
    const tail = upload.segments.at(-1);
    const length = last.range ? last.range.end - last.range.start + 1 : last.length;
    const resent = tail !== undefined && length === tail.size && (last.range === null || last.range.start === upload.byte_count - length);
    if (resent) {
      if ((await this.committedDigest(upload, parseDigest(digest).algorithm)) === digest) {
        await drain(last.body);
        return upload;
      }
    }
    return this.append(upload, last);
  }

  async cancel(upload: UploadRow): Promise<void> {
    this.hashes.delete(upload.id);
    await this.db.query('DELETE FROM blob_upload WHERE id = $1', [upload.id]);
    await this.store.deleteUpload(upload.id);
  }

  /** The hash this process chained over exactly the session's committed segments, if it has one. */
  private cachedHash(upload: UploadRow, algorithm: DigestAlgorithm): Hash | null {
    if (upload.segments.length === 0) return upload.byte_count === 0 ? newHash(algorithm) : null;
    const known = this.hashes.get(upload.id);
    return known && known.algorithm === algorithm && known.chain === chainKey(upload) ? known.hash : null;
  }

  /** `algorithm:hex` of the session's committed bytes: chained here, recorded with the last segment, or read back. */
  private async committedDigest(upload: UploadRow, algorithm: DigestAlgorithm): Promise<string> {
    const hash = this.cachedHash(upload, algorithm);
    if (hash) return `${algorithm}:${hash.copy().digest('hex')}`;
    const recorded = upload.segments.at(-1)?.digest;
    if (recorded?.startsWith(`${algorithm}:`)) return recorded;
    return `${algorithm}:${(await this.hashCommitted(upload, algorithm)).copy().digest('hex')}`;
  }

  /** Hash the committed segments by reading them back; their length must be the session's byte count. */
  private async hashCommitted(upload: UploadRow, algorithm: DigestAlgorithm): Promise<Hash> {
    const hash = newHash(algorithm);
    let n = 0;
    try {
      for await (const data of await this.store.readSegments(upload.id, upload.segments)) {
        hash.update(data as Buffer);
        n += (data as Buffer).length;
      }
    } catch (err) {
      if (!isMissingObject(err)) throw err;
    }
    if (n !== upload.byte_count) {
      await this.cancel(upload);
      throw new Invalid('upload', `the upload's staged bytes are incomplete (${n} of ${upload.byte_count}); start it again`);
    }
    this.remember(upload, algorithm, hash);
    return hash;
  }

  private remember(upload: UploadRow, algorithm: DigestAlgorithm, hash: Hash): void {
    this.hashes.delete(upload.id);
    if (this.hashes.size >= HASH_CACHE_LIMIT) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(upload.id, { chain: chainKey(upload), algorithm, hash });
  }
}

/** Read a request body to its end without keeping it (the connection stays usable). */
async function drain(body: Readable): Promise<void> {
  body.resume();
  await finished(body);
}

/** The storage has no room left: a clear 507 instead of an internal error (nothing was attached or published). */
function storageFull(err: unknown): StorageFull | null {
  if ((err as { code?: string }).code !== 'ENOSPC') return null;
  return new StorageFull('the registry storage is full; try again later');
}
