/** Blobs: which repositories may serve a digest, mounts, and the repository-level delete. */
import type { Readable } from 'node:stream';
import type { Db, Queryable } from '../db/index.js';
import type { BlobStore, ByteRange } from '../storage/index.js';
import { newHash, parseDigest } from '../oci/digest.js';
import { ByteLru } from '../cache/lru.js';

/** Stored bytes that do not hash to their digest or do not have the recorded size (damaged or lost content). */
export class BlobIntegrityError extends Error {
  constructor(readonly digest: string) {
    super(`the stored bytes of blob ${digest} do not match its digest`);
  }
}

export interface BlobRow {
  id: number;
  digest: string;
  size: number;
}

/**
 * Visibility rule: a repository may serve a blob that its manifests (not deleted ones) reference, or that was
 * uploaded or mounted into it recently. SQL over a blob row `b` and the repository id `$1`.
 */
export const VISIBLE_IN_REPO = `(EXISTS (SELECT 1 FROM uploaded_blob u WHERE u.blob_id = b.id AND u.repository_id = $1)
  OR EXISTS (SELECT 1 FROM manifest_blob mb JOIN manifest m ON m.id = mb.manifest_id
              WHERE mb.blob_id = b.id AND mb.repository_id = $1 AND m.deleted_at IS NULL))`;

/** Pre-signed download URLs kept for reuse: about 1500 of them. */
const SIGNED_URL_CACHE_BYTES = 1024 * 1024;

export class Blobs {
  private readonly signedUrls = new ByteLru<{ url: string; until: number }>('signed_url', SIGNED_URL_CACHE_BYTES);

  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly tempRefSeconds: number,
  ) {}

  async findInRepo(repoId: number, digest: string, q: Queryable = this.db): Promise<BlobRow | null> {
    const r = await q.query<BlobRow>(`SELECT b.id, b.digest, b.size FROM blob b WHERE b.digest = $2 AND ${VISIBLE_IN_REPO}`, [repoId, digest]);
    return r.rows[0] ?? null;
  }

  /** Hold a temporary reference to a blob in a repository (after an upload or a mount) until a manifest references it. */
  async holdTemporaryReference(q: Queryable, repoId: number, blobId: number): Promise<void> {
    await q.query(
      `INSERT INTO uploaded_blob (repository_id, blob_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
       ON CONFLICT (repository_id, blob_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [repoId, blobId, this.tempRefSeconds],
    );
  }

  /**
   * Make a blob visible in `toRepoId` if it is visible in one of `fromRepoIds`. A blob of a proxy cache
   * organization whose bytes are not fetched yet (a placeholder) is visible only where a cached manifest names
   * it: it cannot be mounted into another repository until its bytes are stored.
   */
  async mount(fromRepoIds: number[], toRepoId: number, digest: string): Promise<BlobRow | null> {
    return this.db.tx(async (q) => {
      for (const from of fromRepoIds) {
        const stored = from === toRepoId ? '' : 'AND NOT EXISTS (SELECT 1 FROM proxy_blob_placeholder p WHERE p.blob_id = b.id)';
        const r = await q.query<BlobRow>(`SELECT b.id, b.digest, b.size FROM blob b WHERE b.digest = $2 AND ${VISIBLE_IN_REPO} ${stored} FOR SHARE`, [from, digest]);
        if (r.rows[0]) {
          await this.holdTemporaryReference(q, toRepoId, r.rows[0].id);
          return r.rows[0];
        }
      }
      return null;
    });
  }

  /** Repositories that hold a blob (candidates for an automatic mount), at most `limit`. */
  async repositoriesHolding(digest: string, limit: number): Promise<number[]> {
    const r = await this.db.query<{ repository_id: number }>(
      `SELECT DISTINCT repository_id FROM (
         SELECT u.repository_id FROM uploaded_blob u JOIN blob b ON b.id = u.blob_id WHERE b.digest = $1
         UNION SELECT mb.repository_id FROM manifest_blob mb JOIN blob b ON b.id = mb.blob_id WHERE b.digest = $1) x
       LIMIT $2`,
      [digest, limit],
    );
    return r.rows.map((x) => x.repository_id);
  }

  /**
   * Remove the repository's upload reference to a blob. A blob that a live manifest in the repository
   * references stays (deleting it would break that manifest): the result says which case applied. The bytes
   * go when GC finds nothing referencing them.
   */
  async unlink(repoId: number, digest: string): Promise<'deleted' | 'referenced' | 'unknown'> {
    return this.db.tx(async (q) => {
      const blob = await this.findInRepo(repoId, digest, q);
      if (!blob) return 'unknown';
      const used = await q.query(
        `SELECT 1 FROM manifest_blob mb JOIN manifest m ON m.id = mb.manifest_id
          WHERE mb.blob_id = $1 AND mb.repository_id = $2 AND m.deleted_at IS NULL LIMIT 1`,
        [blob.id, repoId],
      );
      if (used.rows.length > 0) return 'referenced';
      await q.query('DELETE FROM uploaded_blob WHERE repository_id = $1 AND blob_id = $2', [repoId, blob.id]);
      return 'deleted';
    });
  }

  /**
   * A blob's bytes for interpreting them (an image config): null when the blob is larger than `cap` (nothing is
   * read), else the bytes, only after they hashed to the digest with exactly the recorded size. Memory stays
   * within `cap` plus one read chunk whatever the store holds.
   */
  async readVerified(blob: Pick<BlobRow, 'digest' | 'size'>, cap: number): Promise<Buffer | null> {
    if (blob.size > cap) return null;
    const hash = newHash(parseDigest(blob.digest).algorithm);
    const chunks: Buffer[] = [];
    let n = 0;
    const stream = await this.store.read(blob.digest);
    try {
      for await (const c of stream) {
        n += (c as Buffer).length;
        if (n > blob.size) break;
        hash.update(c as Buffer);
        chunks.push(c as Buffer);
      }
    } finally {
      stream.destroy();
    }
    if (n !== blob.size || `${blob.digest.split(':')[0]}:${hash.digest('hex')}` !== blob.digest) throw new BlobIntegrityError(blob.digest);
    return Buffer.concat(chunks);
  }

  /**
   * Drop a repository's temporary reference to a blob whose stored bytes are damaged, so that the blob is no
   * longer visible there (unless a manifest references it) and the client uploads it again, which repairs it.
   */
  async forgetDamaged(repoId: number, blobId: number): Promise<void> {
    await this.db.query('DELETE FROM uploaded_blob WHERE repository_id = $1 AND blob_id = $2', [repoId, blobId]);
  }

  open(blob: BlobRow, range?: ByteRange): Promise<Readable> {
    return this.store.read(blob.digest, range, { size: blob.size });
  }

  /**
   * Where a client may download the blob's bytes directly for `seconds` (a pre-signed URL), or null. A URL is
   * reused for the first quarter of its lifetime: it names an immutable object and grants nothing tied to the
   * caller (every caller is authorized for the blob before getting it), so each client still gets at least
   * three quarters of the lifetime, and a blob pulled by many clients is signed once per quarter lifetime
   * instead of once per GET.
   */
  async downloadUrl(blob: BlobRow, seconds: number): Promise<string | null> {
    const key = `${seconds}:${blob.digest}`;
    const now = Date.now();
    const reused = this.signedUrls.get(key);
    if (reused && reused.until > now) return reused.url;
    const url = await this.store.blobUrl(blob.digest, seconds);
    if (url) this.signedUrls.set(key, { url, until: now + (seconds * 1000) / 4 }, url.length + key.length + 64);
    return url;
  }
}
