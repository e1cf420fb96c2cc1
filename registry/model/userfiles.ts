/**
 * Build packs uploaded through the filedrop flow (Quay's userfiles): POST /api/v1/filedrop/ hands out a
 * `file_id` and an upload URL; the client PUTs the bytes there once; a build then names the file_id. The
 * bytes are streamed into the blob store's file area under `userfiles/<file_id>` (never held in memory),
 * size-limited while they stream (USERFILES_MAX_SIZE); their sha256 is recorded. Not under the digest as
 * image blobs are: GC of an unreferenced image blob with the same bytes would delete the pack. A file is
 * written once: a second PUT (also while the first streams), or a PUT to an id never handed out, is refused.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { Db } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { BlobStore } from '../storage/index.js';
import { Conflict, Invalid, NotFound, TooLarge } from './errors.js';

export interface UserfileRow {
  uuid: string;
  mime_type: string;
  created_by: number | null;
  digest: string | null;
  size: number | null;
  created_at: Date;
  uploaded_at: Date | null;
}

/** Where a file is PUT by the client and fetched by the builder (`/userfiles/<file_id>` on the registry host). */
export function userfileUrl(config: Pick<QuayConfig, 'PREFERRED_URL_SCHEME' | 'SERVER_HOSTNAME'>, fileId: string): string {
  return `${config.PREFERRED_URL_SCHEME}://${config.SERVER_HOSTNAME}/userfiles/${fileId}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const filePath = (uuid: string) => `userfiles/${uuid}`;
/** A claim older than this is from an upload that died with its process: a new PUT may take the slot. */
const STALE_CLAIM = "interval '1 hour'";

export class Userfiles {
  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly maxBytes: number,
  ) {}

  /** A new upload slot for a file of `mimeType`. */
  async prepare(mimeType: string, createdBy: number | null): Promise<string> {
    const uuid = randomUUID();
    await this.db.query('INSERT INTO userfile (uuid, mime_type, created_by) VALUES ($1, $2, $3)', [uuid, mimeType, createdBy]);
    return uuid;
  }

  async get(uuid: string): Promise<UserfileRow | null> {
    if (!UUID_RE.test(uuid)) return null;
    const r = await this.db.query<UserfileRow>(
      'SELECT uuid::text AS uuid, mime_type, created_by, digest, size::float8 AS size, created_at, uploaded_at FROM userfile WHERE uuid = $1',
      [uuid],
    );
    return r.rows[0] ?? null;
  }

  /** Store the bytes of a prepared, not yet uploaded file. 404 unknown id, 409 already uploaded, 413 too large. */
  async upload(uuid: string, body: Readable, declaredLength: number | null): Promise<UserfileRow> {
    const file = await this.get(uuid);
    if (!file) throw new NotFound('resource', 'Unknown file');
    if (file.digest) throw new Conflict('The file was already uploaded');
    const max = this.maxBytes;
    const tooLarge = () => new TooLarge(`The file exceeds the maximum build pack size of ${max} bytes`);
    if (declaredLength !== null && declaredLength > max) throw tooLarge();
    const hash = createHash('sha256');
    let seen = 0;
    const hashing = new Transform({
      transform(data: Buffer, _enc, cb) {
        seen += data.length;
        if (seen > max) return cb(tooLarge());
        hash.update(data);
        cb(null, data);
      },
    });
    // Claim the slot (uploaded_at marks an upload in progress until digest is set), so that two concurrent
    // PUTs cannot both write the file.
    const claimed = await this.db.query(
      `UPDATE userfile SET uploaded_at = now() WHERE uuid = $1 AND digest IS NULL AND (uploaded_at IS NULL OR uploaded_at < now() - ${STALE_CLAIM}) RETURNING uuid`,
      [uuid],
    );
    if (claimed.rows.length === 0) throw new Conflict('The file was already uploaded');
    // Not pipeline(): a refusal must leave the request whole, so that the route can read the rest of it and answer.
    body.on('error', (err) => hashing.destroy(err));
    const source = body.pipe(hashing);
    let stored = false;
    try {
      const written = await this.store.writeFile(filePath(uuid), source);
      stored = true;
      if (seen > max) throw tooLarge();
      if (declaredLength !== null && written !== declaredLength) throw new Invalid('size', `received ${written} bytes, expected ${declaredLength}`);
      const digest = `sha256:${hash.digest('hex')}`;
      await this.db.query('UPDATE userfile SET digest = $2, size = $3, uploaded_at = now() WHERE uuid = $1 AND digest IS NULL', [uuid, digest, written]);
      return (await this.get(uuid))!;
    } catch (err) {
      // Bytes of a refused upload are not kept: the slot is free for a new PUT.
      if (stored) await this.store.deleteFile(filePath(uuid)).catch(() => undefined);
      await this.db.query('UPDATE userfile SET uploaded_at = NULL WHERE uuid = $1 AND digest IS NULL', [uuid]).catch(() => undefined);
      // The hashing stream's own error is the real cause when the store reports a broken pipe.
      throw seen > max ? tooLarge() : err;
    }
  }

  /**
   * Remove files (row and bytes) created before `cutoff` that no build names: upload slots never used,
   * uploads that failed or died, packs nobody built. A file some build names is kept as long as that build
   * (its `archive_url` serves it). Each row is deleted before its bytes, so the file is unknown (a build
   * request naming it gets 400) before it is partly gone.
   */
  async expireUnused(cutoff: Date): Promise<number> {
    const r = await this.db.query<{ uuid: string }>(
      `DELETE FROM userfile u WHERE u.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM repository_build b WHERE b.resource_key = u.uuid::text)
        RETURNING u.uuid::text AS uuid`,
      [cutoff],
    );
    for (const { uuid } of r.rows) await this.store.deleteFile(filePath(uuid));
    return r.rows.length;
  }

  /** The uploaded bytes of a file (null when unknown or not uploaded yet). */
  async open(uuid: string): Promise<{ file: UserfileRow; body: Readable } | null> {
    const file = await this.get(uuid);
    if (!file?.digest) return null;
    try {
      return { file, body: await this.store.readFile(filePath(file.uuid)) };
    } catch {
      // Uploaded before packs had their own area: stored under the digest.
      return { file, body: await this.store.read(file.digest) };
    }
  }
}
