/**
 * Filling the blob store from an upstream: the bytes stream from the upstream through a hasher into the
 * store's staging area and, when a client is waiting, to that client at the same time (Distribution's
 * tee: the first byte arrives at once, nothing is held whole in memory). The blob becomes visible only
 * after digest and size are verified over exactly the bytes committed.
 *
 * One fill per digest per process: concurrent requests for the same blob wait for the fill in flight and
 * then read the stored copy, so the upstream sends each blob once.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough, Transform, pipeline, type Readable } from 'node:stream';
import type { Db } from '../db/index.js';
import type { BlobStore } from '../storage/index.js';
import type { Blobs, BlobRow } from '../model/blobs.js';
import { newHash, parseDigest } from '../oci/digest.js';
import { UpstreamError } from './upstream.js';

export interface FillSource {
  /** The upstream's bytes and, when it says, their length. */
  open(): Promise<{ stream: Readable; size: number | null }>;
}

export interface FillRequest {
  digest: string;
  /** The size the manifest's descriptor declares, when known. */
  expectedSize: number | null;
  /** The repository that gets a temporary reference to the stored blob. */
  repositoryId: number;
  source: FillSource;
}

export class BlobFiller {
  private readonly inflight = new Map<string, Promise<BlobRow>>();

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly blobs: Blobs,
    private readonly maxBlobSize: number,
  ) {}

  /** Is a fill of this digest under way in this process? */
  pending(digest: string): Promise<BlobRow> | undefined {
    return this.inflight.get(digest);
  }

  /**
   * Store the blob from the upstream, once per digest. With `tee`, the leader of the fill also gets the
   * bytes as they arrive (a client going away does not stop the fill); followers get null and read the
   * stored blob once `done` resolves.
   */
  fill(req: FillRequest, tee: boolean): { done: Promise<BlobRow>; stream: Readable | null } {
    const running = this.inflight.get(req.digest);
    if (running) return { done: running, stream: null };
    const client = tee ? new PassThrough() : null;
    const done = this.run(req, client).finally(() => this.inflight.delete(req.digest));
    this.inflight.set(req.digest, done);
    // The leader's waiters see the failure through the stream; keep the promise from being unhandled.
    done.catch(() => undefined);
    return { done, stream: client };
  }

  private async run(req: FillRequest, client: PassThrough | null): Promise<BlobRow> {
    const { algorithm } = parseDigest(req.digest);
    const stagingId = randomUUID();
    let detached = false;
    client?.once('close', () => {
      detached = true;
    });
    const fail = (err: Error) => {
      if (client && !detached) client.destroy(err);
      throw err;
    };
    let source;
    try {
      source = await req.source.open();
    } catch (e) {
      return fail(e as Error);
    }
    const limit = req.expectedSize ?? this.maxBlobSize;
    if (source.size !== null && req.expectedSize !== null && source.size !== req.expectedSize) {
      source.stream.destroy();
      return fail(new UpstreamError('invalid', `upstream blob has ${source.size} bytes, the manifest says ${req.expectedSize}`));
    }
    if (limit > this.maxBlobSize) {
      source.stream.destroy();
      return fail(new UpstreamError('invalid', `blob too large, max allowed is ${this.maxBlobSize}`));
    }
    const hash = newHash(algorithm);
    let seen = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > limit) return cb(new UpstreamError('invalid', `upstream blob is longer than ${limit} bytes`));
        hash.update(chunk);
        if (client && !detached && !client.write(chunk)) {
          // The waiting client sets the pace; if it goes away the fill goes on alone.
          const go = () => {
            client.off('drain', go);
            client.off('close', go);
            cb(null, chunk);
          };
          client.on('drain', go);
          client.on('close', go);
          return;
        }
        cb(null, chunk);
      },
    });
    try {
      const staged = pipeline(source.stream, hashing, () => undefined);
      // One private segment, hashed as it is written (storage/blobstore.ts).
      const segment = randomUUID();
      const written = await this.store.writeSegment(stagingId, segment, staged);
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== req.digest) throw new UpstreamError('invalid', 'blob digest mismatch');
      if (req.expectedSize !== null && written !== req.expectedSize) throw new UpstreamError('invalid', 'range mismatch');
      const blob = await this.db.tx(async (q) => {
        // Inserting or touching the row locks it against a concurrent GC deletion while the bytes land.
        const b = await q.query<BlobRow>(
          `INSERT INTO blob (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size RETURNING id, digest, size`,
          [req.digest, written],
        );
        await this.store.commitUpload(stagingId, [{ id: segment, size: written }], req.digest);
        await this.blobs.holdTemporaryReference(q, req.repositoryId, b.rows[0].id);
        await q.query('DELETE FROM proxy_blob_placeholder WHERE blob_id = $1', [b.rows[0].id]);
        return b.rows[0];
      });
      if (client && !detached) client.end();
      return blob;
    } catch (e) {
      source.stream.destroy();
      return fail(e as Error);
    } finally {
      await this.store.deleteUpload(stagingId).catch(() => undefined);
    }
  }
}
