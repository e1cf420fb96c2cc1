/**
 * Filling the blob store from an upstream: the bytes stream from the upstream through a hasher into a spool
 * file (spool.ts) that the store's writer and every client pulling the blob meanwhile read from its start, each
 * at its own pace (Distribution's tee, shared: the first byte arrives at once, nothing is held whole in
 * memory, and a client going away stops neither the fill nor the others). The blob becomes visible only after
 * digest and size are verified over exactly the bytes committed; the spool ends for its readers only then.
 *
 * One fill per digest: concurrent requests of one process share the fill in flight (its spool, or the stored
 * copy when it has none: a fill nobody waited for, the mirror's); across processes and replicas, the fill's
 * leader holds a lease row for the digest (proxy_blob_fill, renewed while the bytes flow), so the upstream sends
 * each blob once. The other replicas stream the bytes to their clients meanwhile (remote_fill.ts): on object
 * storage the leader stores them as pieces it lists in that row as they land; on LocalStorage (a directory the
 * replicas share) the row names the staging segment the leader writes, which they read as it grows. A waiter
 * whose leader dies takes the fill over when the lease lapses (or another replica does), and the clients it
 * was streaming the dead leader's bytes to go on from the new fill once the bytes they got are found to be its
 * own (remote_fill.ts); a leader's failure is every waiter's failure (the next request tries again).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Transform, pipeline, type Readable } from 'node:stream';
import { pipeline as pipelinePromise } from 'node:stream/promises';
import type { Logger } from 'pino';
import { listenerName, type Db } from '../db/index.js';
import type { BlobStore, ByteRange, Segment } from '../storage/index.js';
import type { Blobs, BlobRow } from '../model/blobs.js';
import { newHash, parseDigest } from '../oci/digest.js';
import { UpstreamError } from './upstream.js';
import { Spool } from './spool.js';
import { RemoteFill, type Successor } from './remote_fill.js';

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

/**
 * A fill lease lives this long without renewal. Its holder renews it every RENEW_MS, so four renewals in a row
 * must be lost or late (a process stalled that long) before a live filler is taken over, which costs a second
 * fetch from the upstream and nothing else (the first filler's writes to the row then change nothing). A
 * filler whose process died is found at once by its liveness connection being gone (see Liveness); the lease
 * is what is left when that cannot tell (a network partition, PGlite).
 */
const FILL_LEASE_SECONDS = 10;
const RENEW_MS = 2_000;
/**
 * SQL: the lease row `f` is free to take, its time lapsed or its holder's liveness connection gone (a process's
 * connections close when it dies, however it dies, and Postgres drops them from pg_stat_activity).
 */
const LAPSED = (f: string) => `(${f}.expires_at <= now() OR (${f}.holder IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = ${f}.holder)))`;
/** How often a replica waiting for another's fill looks whether the blob landed (and at the pieces stored so far). */
const WAIT_POLL_MS = 200;
/**
 * The pieces a fill on object storage stores its bytes as, for other replicas to read meanwhile: what they wait
 * for at most before their first byte; at least the store's smallest multipart part, so the commit is a copy.
 */
const FILL_PIECE_BYTES = 8 * 1024 * 1024;

export interface FillHandle {
  done: Promise<BlobRow>;
  /** Settles before the first byte: rejected when the fill failed before any byte could be sent. */
  started: Promise<void>;
  /**
   * Once `started` resolved: a new reader of the bytes (all, or `range`) as they arrive (the fill's spool, or
   * another replica's pieces), or null when the fill has neither (serve the stored copy once `done`). The last
   * bytes of a range are handed out only once the blob is verified.
   */
  reader(range?: ByteRange): Readable | null;
}

/** One fill in flight in this process: its outcome, whether bytes are coming, and its spool once it has one. */
interface Flight {
  done: Promise<BlobRow>;
  started: Promise<void>;
  /** Some caller wants the bytes as they arrive: the leader fetching from the upstream spools them. */
  teed: boolean;
  spool: Spool | null;
  /** Another replica leads the fill and lists the pieces it stored so far. */
  remote: RemoteFill | null;
  /** Another replica's fill whose leader went away: its readers go on from the fill that takes over. */
  orphan: RemoteFill | null;
}

/** This process's liveness connection: its application name, and how to close it. */
interface Liveness {
  name: string;
  stop: () => Promise<void>;
}

export class BlobFiller {
  private readonly inflight = new Map<string, Flight>();
  /** Started with the first lease this process takes; null inside: no liveness (the lease alone). */
  private liveness: Promise<Liveness | null> | null = null;

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly blobs: Blobs,
    private readonly maxBlobSize: number,
    /** Where fills' spools are made (each unlinked at once); null: no spool, clients wait for the stored copy. */
    private readonly spoolDir: string | null,
    private readonly log?: Logger,
  ) {}

  /** Closes the liveness connection (at shutdown: the process's leases then count as its holder's death). */
  async close(): Promise<void> {
    const liveness = await this.liveness;
    this.liveness = null;
    await liveness?.stop();
  }

  /**
   * The name leases of this process's fills carry: the application name of a connection that LISTENs on a
   * channel of this process's own (db.listen, which reconnects after errors) for as long as the process lives.
   * Null on PGlite (one process), or when this process does not see its own connection in pg_stat_activity (a
   * pooler in between, or a role that may not see other sessions): every holder would look dead.
   */
  private holder(): Promise<string | null> {
    this.liveness ??= (async () => {
      if (this.db.kind !== 'postgres') return null;
      const channel = `proxy_fill_${randomUUID().replaceAll('-', '')}`;
      try {
        const stop = await this.db.listen(channel, () => undefined);
        const name = listenerName(channel);
        const seen = await this.db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [name]);
        if (seen.rows.length > 0) return { name, stop };
        await stop();
        this.log?.warn({ name }, 'proxy cache: a connection is not visible in pg_stat_activity; a dead filler is taken over when its lease lapses');
      } catch (e) {
        this.log?.warn({ err: e }, 'proxy cache: no liveness connection; a dead filler is taken over when its lease lapses');
      }
      return null;
    })();
    return this.liveness.then((l) => l?.name ?? null);
  }

  /** Is a fill of this digest under way in this process? */
  pending(digest: string): Promise<BlobRow> | undefined {
    return this.inflight.get(digest)?.done;
  }

  /**
   * Store the blob from the upstream, once per digest per process (and across replicas, see run()). With
   * `tee`, the caller wants the bytes as they arrive, whether it started the fill or joined one in flight:
   * the fill then spools them, and every such client reads the spool from its start at its own pace while
   * the upstream's bytes are written into it once (a client going away does not stop the fill, nor slow the
   * others down). A fill without a spool (nobody waited for its bytes when it began, as the mirror's, or
   * another replica filled the blob) is served from the store once `done`. `started` settles before the
   * first byte: resolved when bytes are coming, rejected when the fill failed before that (the upstream
   * refused, timed out, or lied about the size), so the caller can still answer with an error instead of a
   * broken body.
   */
  fill(req: FillRequest, tee: boolean): FillHandle {
    const joined = this.join(req.digest, tee);
    if (joined) return joined;
    let began!: () => void;
    const beginning = new Promise<void>((resolve) => {
      began = resolve;
    });
    const flight = { teed: tee, spool: null, remote: null, orphan: null } as Flight;
    flight.done = this.run(req, flight, began)
      .then(
        (row) => {
          // Taken over by no fill of its own (another replica finished it): the orphan's readers go on from the stored blob.
          this.adopt(flight, this.storedSuccessor(req.digest, flight));
          return row;
        },
        (e: Error) => {
          flight.orphan?.fail(e);
          throw e;
        },
      )
      .finally(() => this.inflight.delete(req.digest));
    flight.started = Promise.race([beginning, flight.done.then(() => undefined)]);
    // Waiters see a failure through `done` or `started`; keep the promises from being unhandled.
    flight.done.catch(() => undefined);
    flight.started.catch(() => undefined);
    this.inflight.set(req.digest, flight);
    return this.handle(flight);
  }

  /** Join the fill of this digest in flight in this process, if there is one (see fill()). */
  join(digest: string, tee: boolean): FillHandle | undefined {
    const flight = this.inflight.get(digest);
    if (!flight) return undefined;
    if (tee) flight.teed = true;
    return this.handle(flight);
  }

  private handle(flight: Flight): FillHandle {
    const reader = (range?: ByteRange) => {
      if (flight.spool) return range ? flight.spool.reader(range.start, range.end + 1, true) : flight.spool.reader();
      return flight.remote?.reader(range) ?? null;
    };
    return { done: flight.done, started: flight.started, reader };
  }

  /** The readers of the fill in flight whose leader went away (if any) go on from `successor`. */
  private adopt(flight: Flight, successor: Successor): void {
    flight.orphan?.takeOver(successor);
    flight.orphan = null;
  }

  /** The bytes of the stored blob, once the flight's fill stored it. */
  private storedSuccessor(digest: string, flight: Flight): Successor {
    const store = this.store;
    return async function* (start, end) {
      await flight.done;
      for await (const c of await store.read(digest, { start, end: end - 1 })) yield c as Buffer;
    };
  }

  /** Lead the fill when this process gets the digest's lease; otherwise wait for the replica that holds it. */
  private async run(req: FillRequest, flight: Flight, began: () => void): Promise<BlobRow> {
    const owner = randomUUID();
    for (;;) {
      if (await this.claim(req.digest, owner)) break;
      const landed = await this.awaitOtherFill(req, flight, began);
      if (landed) {
        began();
        return landed;
      }
    }
    const renewal = setInterval(() => {
      this.db
        .query(`UPDATE proxy_blob_fill SET expires_at = now() + make_interval(secs => $3) WHERE digest = $1 AND owner = $2`, [req.digest, owner, FILL_LEASE_SECONDS])
        .catch(() => undefined);
    }, RENEW_MS);
    renewal.unref();
    try {
      // Another replica may have finished between this one's look at the blob and its claim.
      const stored = await this.storedBlob(req);
      if (stored) {
        began();
        return stored;
      }
      return await this.fetch(req, flight, began, owner);
    } finally {
      clearInterval(renewal);
      await this.db.query('DELETE FROM proxy_blob_fill WHERE digest = $1 AND owner = $2', [req.digest, owner]).catch(() => undefined);
    }
  }

  /** Take the digest's fill lease: free, or lapsed (its holder died or stalled). */
  private async claim(digest: string, owner: string): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO proxy_blob_fill (digest, owner, expires_at, holder) VALUES ($1, $2, now() + make_interval(secs => $3), $4)
       ON CONFLICT (digest) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, holder = EXCLUDED.holder, upload_id = NULL, pieces = '[]', segment = NULL
       WHERE ${LAPSED('proxy_blob_fill')}`,
      [digest, owner, FILL_LEASE_SECONDS, await this.holder()],
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

  /**
   * Wait while another replica holds the lease: the blob once it landed, or null when the lease lapsed. When the
   * leader lists the pieces it stores or names the segment it writes, this flight's clients read them meanwhile
   * (bytes are coming: `began`).
   */
  private async awaitOtherFill(req: FillRequest, flight: Flight, began: () => void): Promise<BlobRow | null> {
    try {
      for (;;) {
        const stored = await this.storedBlob(req);
        if (stored) {
          flight.remote?.land();
          return stored;
        }
        const lease = await this.db.query<{ lapsed: boolean; upload_id: string | null; pieces: Segment[]; segment: string | null }>(
          `SELECT ${LAPSED('f')} AS lapsed, upload_id, pieces, segment FROM proxy_blob_fill f WHERE digest = $1`,
          [req.digest],
        );
        const row = lease.rows[0];
        if (!row) {
          // The leader gave up its lease without the blob landing: its fill failed. Look once more (it may
          // have landed between the two reads) before reporting that.
          const late = await this.storedBlob(req);
          if (late) {
            flight.remote?.land();
            return late;
          }
          throw new UpstreamError('unavailable', 'fetching the blob from the upstream failed on another replica');
        }
        if (row.lapsed) throw new LeaseLapsed();
        if (row.upload_id && req.expectedSize !== null) {
          if (flight.remote?.uploadId !== row.upload_id) {
            // A new fill (another replica took over from the one followed so far, or from a dead leader).
            const remote = new RemoteFill(this.store, row.upload_id, req.digest, req.expectedSize, row.segment);
            const successor: Successor = (start, end) => remote.reader({ start, end: end - 1 });
            flight.remote?.takeOver(successor);
            this.adopt(flight, successor);
            flight.remote = remote;
            began();
          }
          flight.remote.update(row.pieces);
        }
        await sleep(WAIT_POLL_MS);
      }
    } catch (e) {
      if (e instanceof LeaseLapsed) {
        // Its readers wait for whichever fill takes over: this process's (fetch()) or another replica's.
        if (flight.remote) {
          flight.remote.orphan();
          flight.orphan = flight.remote;
        }
        flight.remote = null;
        return null;
      }
      flight.remote?.fail(e as Error);
      flight.remote = null;
      throw e;
    }
  }

  /**
   * List in the fill's lease row, for the other replicas' clients, the pieces stored so far, or the segment
   * written as the bytes arrive.
   */
  private async publish(digest: string, owner: string, uploadId: string, pieces: Segment[], segment: string | null): Promise<void> {
    await this.db
      .query('UPDATE proxy_blob_fill SET upload_id = $3, pieces = $4::jsonb, segment = $5 WHERE digest = $1 AND owner = $2', [
        digest,
        owner,
        uploadId,
        JSON.stringify(pieces),
        segment,
      ])
      .catch((e: unknown) => this.log?.warn({ err: e, digest }, 'proxy cache: could not list the pieces of a blob fill'));
  }

  /** Store the spool's bytes as consecutive pieces of the upload, each listed in the lease row once stored. */
  private async storePieces(uploadId: string, spool: Spool, pieces: Segment[], publish: () => Promise<void>): Promise<Segment[]> {
    // Held from the start: the spool closes when its last reader goes once it is complete, which could fall
    // between two pieces (while one is being listed) and leave the last, partial piece unread.
    const release = spool.hold();
    if (!release) throw new UpstreamError('unavailable', 'the fill spool is gone');
    try {
      for (let start = 0; await spool.available(start); start += FILL_PIECE_BYTES) {
        const reader = spool.reader(start, start + FILL_PIECE_BYTES);
        if (!reader) throw new UpstreamError('unavailable', 'the blob fill failed');
        const id = randomUUID();
        pieces.push({ id, size: await this.store.writeSegment(uploadId, id, reader) });
        await publish();
      }
      return pieces;
    } finally {
      release();
    }
  }

  private async fetch(req: FillRequest, flight: Flight, began: () => void, owner: string): Promise<BlobRow> {
    const { algorithm } = parseDigest(req.digest);
    const stagingId = randomUUID();
    const source = await req.source.open();
    const limit = req.expectedSize ?? this.maxBlobSize;
    if (source.size !== null && req.expectedSize !== null && source.size !== req.expectedSize) {
      source.stream.destroy();
      throw new UpstreamError('invalid', `upstream blob has ${source.size} bytes, the manifest says ${req.expectedSize}`);
    }
    if (limit > this.maxBlobSize) {
      source.stream.destroy();
      throw new UpstreamError('invalid', `blob too large, max allowed is ${this.maxBlobSize}`);
    }
    // One private segment (storage/blobstore.ts).
    const segment = randomUUID();
    // Clients are waiting for the bytes: spool them so that each one (and the store) reads at its own pace.
    const spool = flight.teed ? await this.spool(stagingId, segment) : null;
    flight.spool = spool?.spool ?? null;
    if (spool) {
      const storedSuccessor = this.storedSuccessor(req.digest, flight);
      this.adopt(flight, (start, end) => spool.spool.reader(start, end, true) ?? storedSuccessor(start, end));
    }
    // Other replicas' clients read the bytes as they land: on object storage as pieces listed in the lease row,
    // with local files the staging segment itself as it grows (whether spooled or written by writeSegment).
    const pieces: Segment[] = [];
    const growing = this.store.segmentFile ? segment : null;
    const publish = () => this.publish(req.digest, owner, stagingId, pieces, growing);
    if (growing || spool) await publish();
    began();
    const hash = newHash(algorithm);
    let seen = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > limit) return cb(new UpstreamError('invalid', `upstream blob is longer than ${limit} bytes`));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    const verify = () => {
      if (`${algorithm}:${hash.digest('hex')}` !== req.digest) throw new UpstreamError('invalid', 'blob digest mismatch');
      if (req.expectedSize !== null && seen !== req.expectedSize) throw new UpstreamError('invalid', 'range mismatch');
    };
    let storing: Promise<Segment[]> | null = null;
    try {
      let segments: Segment[];
      if (spool) {
        // The store reads the spool like any client, unless the spool is the store's own staging segment; the
        // spool ends only once the bytes are verified, so no reader ever sees the end of a blob whose digest
        // is wrong.
        if (!spool.isSegment) {
          storing = this.storePieces(stagingId, spool.spool, pieces, publish);
          storing.catch(() => undefined);
        }
        await pipelinePromise(source.stream, hashing, spool.spool.writer());
        verify();
        // The clients' bodies end now; the staging segment is made durable after that, before it is published
        // (an fdatasync of a 256 MiB layer took a second, all of it on the clients' time).
        await spool.spool.complete(spool.isSegment);
        segments = storing ? await storing : [{ id: segment, size: seen }];
      } else {
        const size = await this.store.writeSegment(
          stagingId,
          segment,
          pipeline(source.stream, hashing, () => undefined),
        );
        verify();
        segments = [{ id: segment, size }];
      }
      const written = segments.reduce((n, p) => n + p.size, 0);
      if (written !== seen) throw new UpstreamError('invalid', 'range mismatch');
      return await this.db.tx(async (q) => {
        // Inserting or touching the row locks it against a concurrent GC deletion while the bytes land.
        const b = await q.query<BlobRow>(`INSERT INTO blob (digest, size) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size RETURNING id, digest, size`, [
          req.digest,
          written,
        ]);
        await this.store.commitUpload(stagingId, segments, req.digest);
        await this.blobs.holdTemporaryReference(q, req.repositoryId, b.rows[0].id);
        await q.query('DELETE FROM proxy_blob_placeholder WHERE blob_id = $1', [b.rows[0].id]);
        return b.rows[0];
      });
    } catch (e) {
      source.stream.destroy();
      spool?.spool.fail(e as Error);
      await storing?.catch(() => undefined);
      throw e;
    } finally {
      await this.store.deleteUpload(stagingId).catch(() => undefined);
    }
  }

  /**
   * A spool for a fill: the store's staging segment itself when the store has local files (nothing is written
   * twice), else a file of its own in the spool directory; null (then clients wait for the stored copy) when
   * none can be made here.
   */
  private async spool(stagingId: string, segment: string): Promise<{ spool: Spool; isSegment: boolean } | null> {
    try {
      const file = this.store.segmentFile ? await this.store.segmentFile(stagingId, segment) : null;
      if (file) return { spool: await Spool.create(file, true), isSegment: true };
      if (!this.spoolDir) return null;
      return { spool: await Spool.create(join(this.spoolDir, `${randomUUID()}.spool`)), isSegment: false };
    } catch (e) {
      this.log?.warn({ err: e, dir: this.spoolDir }, 'proxy cache: no spool for a blob fill; clients wait for the stored copy');
      return null;
    }
  }
}

/** The lease of the replica this one waited for lapsed: take the fill over. */
class LeaseLapsed extends Error {}
