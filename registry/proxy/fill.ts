/**
 * Filling the blob store from an upstream: the bytes stream from the upstream through a hasher into the
 * store's staging area and, when a client is waiting, to that client at the same time (Distribution's
 * tee: the first byte arrives at once, nothing is held whole in memory). The blob becomes visible only
 * after digest and size are verified over exactly the bytes committed.
 *
 * One fill per digest: concurrent requests of one process wait for the fill in flight and then read the
 * stored copy; across processes and replicas, the fill's leader holds a lease row for the digest
 * (proxy_blob_fill, renewed while the bytes flow) and the others wait for the blob to land, so the upstream
 * sends each blob once. A waiter whose leader dies takes the fill over when the lease lapses; a leader's
 * failure is every waiter's failure (the next request tries again).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** A fill lease lives this long without renewal; its holder renews it every third of that. */
const FILL_LEASE_SECONDS = 30;
/** How often a replica waiting for another's fill looks whether the blob landed. */
const WAIT_POLL_MS = 200;

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
   * stored blob once `done` resolves. `started` settles before the first byte goes to the leader's stream:
   * resolved when bytes are coming, rejected when the fill failed before that (the upstream refused, timed
   * out, or lied about the size), so the caller can still answer with an error instead of a broken body.
   */
  fill(req: FillRequest, tee: boolean): { done: Promise<BlobRow>; stream: Readable | null; started: Promise<void> } {
    const running = this.inflight.get(req.digest);
    if (running) return { done: running, stream: null, started: running.then(() => undefined) };
    const client = tee ? new PassThrough() : null;
    // A failure before the first byte is answered from `started`, and the stream is then never sent:
    // its error must not go unhandled (the response's own listener reports it once it is sent).
    client?.on('error', () => undefined);
    let began!: () => void;
    const beginning = new Promise<void>((resolve) => {
      began = resolve;
    });
    const done = this.run(req, client, began).finally(() => this.inflight.delete(req.digest));
    this.inflight.set(req.digest, done);
    const started = Promise.race([beginning, done.then(() => undefined)]);
    // Waiters see a failure through `done`, `started` or the stream; keep the promises from being unhandled.
    done.catch(() => undefined);
    started.catch(() => undefined);
    return { done, stream: client, started };
  }

  /** Lead the fill when this process gets the digest's lease; otherwise wait for the replica that holds it. */
  private async run(req: FillRequest, client: PassThrough | null, began: () => void): Promise<BlobRow> {
    const owner = randomUUID();
    for (;;) {
      if (await this.claim(req.digest, owner)) break;
      let landed: BlobRow | null;
      try {
        landed = await this.awaitOtherFill(req);
      } catch (e) {
        if (client) client.destroy(e as Error);
        throw e;
      }
      if (landed) return this.deliverStored(landed, client, began);
    }
    const renewal = setInterval(
      () => {
        this.db
          .query(`UPDATE proxy_blob_fill SET expires_at = now() + make_interval(secs => $3) WHERE digest = $1 AND owner = $2`, [req.digest, owner, FILL_LEASE_SECONDS])
          .catch(() => undefined);
      },
      (FILL_LEASE_SECONDS * 1000) / 3,
    );
    renewal.unref();
    try {
      // Another replica may have finished between this one's look at the blob and its claim.
      const stored = await this.storedBlob(req);
      if (stored) return await this.deliverStored(stored, client, began);
      return await this.fetch(req, client, began);
    } finally {
      clearInterval(renewal);
      await this.db.query('DELETE FROM proxy_blob_fill WHERE digest = $1 AND owner = $2', [req.digest, owner]).catch(() => undefined);
    }
  }

  /** Take the digest's fill lease: free, or lapsed (its holder died). */
  private async claim(digest: string, owner: string): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO proxy_blob_fill (digest, owner, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
       ON CONFLICT (digest) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at WHERE proxy_blob_fill.expires_at <= now()`,
      [digest, owner, FILL_LEASE_SECONDS],
    );
    return r.rowCount > 0;
  }

  /** The blob, when its bytes are stored (a row without a placeholder), referenced from the request's repository. */
  private async storedBlob(req: FillRequest): Promise<BlobRow | null> {
    return this.db.tx(async (q) => {
      const r = await q.query<BlobRow>(
        'SELECT b.id, b.digest, b.size FROM blob b WHERE b.digest = $1 AND NOT EXISTS (SELECT 1 FROM proxy_blob_placeholder p WHERE p.blob_id = b.id) FOR SHARE',
        [req.digest],
      );
      if (!r.rows[0]) return null;
      await this.blobs.holdTemporaryReference(q, req.repositoryId, r.rows[0].id);
      return r.rows[0];
    });
  }

  /** Wait while another replica holds the lease: the blob once it landed, or null when the lease lapsed. */
  private async awaitOtherFill(req: FillRequest): Promise<BlobRow | null> {
    for (;;) {
      const stored = await this.storedBlob(req);
      if (stored) return stored;
      const lease = await this.db.query<{ lapsed: boolean }>('SELECT expires_at <= now() AS lapsed FROM proxy_blob_fill WHERE digest = $1', [req.digest]);
      if (!lease.rows[0]) {
        // The leader gave up its lease without the blob landing: its fill failed. Look once more (it may
        // have landed between the two reads) before reporting that.
        const late = await this.storedBlob(req);
        if (late) return late;
        throw new UpstreamError('unavailable', 'fetching the blob from the upstream failed on another replica');
      }
      if (lease.rows[0].lapsed) return null;
      await sleep(WAIT_POLL_MS);
    }
  }

  /** A waiting client of a fill another replica did gets the stored bytes. */
  private async deliverStored(blob: BlobRow, client: PassThrough | null, began: () => void): Promise<BlobRow> {
    began();
    if (client) {
      try {
        pipeline(await this.store.read(blob.digest), client, () => undefined);
      } catch (e) {
        client.destroy(e as Error);
      }
    }
    return blob;
  }

  private async fetch(req: FillRequest, client: PassThrough | null, began: () => void): Promise<BlobRow> {
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
    began();
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
        const b = await q.query<BlobRow>(`INSERT INTO blob (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size RETURNING id, digest, size`, [
          req.digest,
          written,
        ]);
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
