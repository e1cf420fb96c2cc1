/** Manifests: push (validation, references, tags), lookup by tag or digest, delete, referrers. */
import type { Db, Queryable } from '../db/index.js';
import { DigestError, digestOf, looksLikeDigest, parseDigest } from '../oci/digest.js';
import { ManifestError, parseManifest, referrerArtifactType, type ParsedManifest } from '../oci/manifest.js';
import { checkArtifactType, type ArtifactPolicy } from '../oci/artifacts.js';
import { isNonDistributable } from '../oci/mediatypes.js';
import { validTag } from '../oci/names.js';
import { Invalid, digestError, manifestError } from './errors.js';
import { VISIBLE_IN_REPO, type BlobRow } from './blobs.js';
import { LIVE, tagLock, type Tags } from './tags.js';
import type { Principal } from '../auth/principal.js';
import type { HotCaches } from '../cache/hot.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** An id written into SQL text (a statement sent without parameters): only ever an integer. */
function sqlInteger(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer id: ${String(n)}`);
  return String(n);
}

export interface ManifestRow {
  id: number;
  repository_id: number;
  digest: string;
  media_type: string;
  bytes: Buffer;
  size: number;
  config_media_type: string | null;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: Record<string, string> | null;
  layers_size: number;
  created_at: Date;
  deleted_at: Date | null;
}

/** The columns of ManifestRow, listed so that hot lookups can be prepared statements (see db/index.ts). */
const MANIFEST_COLUMNS = `m.id, m.repository_id, m.digest, m.media_type, m.bytes, m.size, m.config_media_type, m.artifact_type,
  m.subject_digest, m.annotations, m.layers_size, m.created_at, m.deleted_at`;

export interface PushResult {
  digest: string;
  subject?: string;
  tags: string[];
  manifest: ParsedManifest;
  /**
   * The push changed a tag that existed (moved it, or re-pointed or re-dated it), which another process may
   * hold in its caches; false when it only created tags (nothing is cached for a tag that does not exist).
   */
  changedExistingTags: boolean;
}

/** What a push does besides storing the manifest. */
export interface ManifestPushHooks {
  /** Before the push's transaction, never inside it: the labels of the manifest's image config (read capped, verified). */
  configLabels(repoId: number, manifest: ParsedManifest): Promise<Array<[string, string]>>;
  /**
   * In the push's transaction after the manifest and its tags are written (labels, label side effects, the
   * repo_push event). `movedTags`: the tags this push created or moved; `performer`: who pushed. May return
   * what to do once the transaction has committed (not after a rollback).
   */
  pushed(q: Queryable, p: ManifestPushed): Promise<(() => void) | void>;
  /** After the push's transaction committed, when it added blob references (the namespace's usage grew). */
  usageGrew?(repositoryId: number): Promise<void>;
}

export interface ManifestPushed {
  repositoryId: number;
  manifestId: number;
  inserted: boolean;
  manifest: ParsedManifest;
  tags: string[];
  movedTags: string[];
  performer?: Principal;
  configLabels: Array<[string, string]>;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export class Manifests {
  constructor(
    private readonly db: Db,
    private readonly tags: Tags,
    private readonly policy: ArtifactPolicy,
    private readonly hooks?: ManifestPushHooks,
    private readonly cache?: HotCaches,
  ) {}

  /**
   * Store a manifest exactly as sent and point `reference` (when a tag) and `extraTags` at it; `performer`:
   * who pushed (events). With `sparse` (FEATURE_SPARSE_INDEX), an index may name child manifests the
   * repository does not hold.
   */
  async put(
    repoId: number,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
    extraTags: string[] = [],
    performer?: Principal,
    opts: { sparse?: boolean } = {},
  ): Promise<PushResult> {
    let digest: string;
    const tags: string[] = [];
    if (looksLikeDigest(reference)) {
      let expected;
      try {
        expected = parseDigest(reference);
      } catch (e) {
        throw digestError(e as DigestError);
      }
      digest = digestOf(bytes, expected.algorithm);
      if (digest !== expected.digest) throw new Invalid('digest', `manifest has digest ${digest}, not ${reference}`);
    } else {
      digest = digestOf(bytes);
      tags.push(reference);
    }
    for (const t of [...tags, ...extraTags]) {
      if (!validTag(t)) throw new Invalid('tag', `invalid tag "${t}"`);
    }
    tags.push(...extraTags.filter((t) => !tags.includes(t)));

    let m: ParsedManifest;
    try {
      m = parseManifest(bytes, contentType);
      checkArtifactType(m, this.policy);
    } catch (e) {
      if (e instanceof ManifestError) throw manifestError(e);
      throw e;
    }
    const blobDigests = [...new Set([...(m.config ? [m.config] : []), ...m.layers].filter((d) => !isNonDistributable(d.mediaType)).map((d) => d.digest))];
    const childDigests = [...new Set(m.manifests.map((d) => d.digest))];
    // The config is read (capped, verified) before the transaction, never inside it.
    const configLabels = this.hooks ? await this.hooks.configLabels(repoId, m) : [];

    let referencedBlobs = false;
    let changedExistingTags = false;
    let afterCommit: (() => void) | undefined;
    await this.db.tx(
      async (q) => {
        // One statement takes the tags' locks (sorted, so that concurrent pushes of several tags cannot deadlock),
        // locks the referenced blobs that the repository may use (against a concurrent GC deletion) and stores the
        // manifest; what the blob rows say is checked below, and a refusal rolls the whole transaction back.
        const first = await q.query<{ id: number; inserted: boolean; blobs: BlobRow[] }>(
          `WITH locks AS (SELECT ${tagLock('$1', 't')} FROM unnest($11::text[]) AS t),
              blobs AS (SELECT b.id, b.digest, b.size FROM blob b WHERE b.digest = ANY($12::text[]) AND ${VISIBLE_IN_REPO} ORDER BY b.id FOR SHARE),
              ins AS (
                INSERT INTO manifest (repository_id, digest, media_type, bytes, size, config_media_type, artifact_type, subject_digest, annotations, layers_size)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (repository_id, digest) DO UPDATE SET deleted_at = NULL, pushed_at = now()
                RETURNING id, (xmax = 0) AS inserted)
         SELECT ins.id, ins.inserted, (SELECT count(*) FROM locks) AS locked,
                (SELECT coalesce(json_agg(json_build_object('id', id, 'digest', digest, 'size', size)), '[]') FROM blobs) AS blobs
           FROM ins`,
          [
            repoId,
            digest,
            m.mediaType,
            bytes,
            bytes.length,
            m.config?.mediaType ?? null,
            referrerArtifactType(m) ?? null,
            m.subject?.digest ?? null,
            m.annotations ? JSON.stringify(m.annotations) : null,
            m.layers.reduce((n, l) => n + l.size, 0),
            [...tags].sort(),
            blobDigests,
          ],
          { prepare: 'manifest_push' },
        );
        const { id: manifestId, inserted } = first.rows[0];
        const found = new Map(first.rows[0].blobs.map((b) => [b.digest, b]));
        const missingBlob = blobDigests.find((d) => !found.has(d));
        if (missingBlob) throw new Invalid('reference', `blob unknown to registry: ${missingBlob}`, { digest: missingBlob });
        // An image manifest (the common push) names no child manifests: no round trip for them.
        const children =
          childDigests.length === 0
            ? { rows: [] as Array<{ id: number; digest: string; size: number }> }
            : await q.query<{ id: number; digest: string; size: number }>(
                'SELECT id, digest, size FROM manifest WHERE repository_id = $1 AND digest = ANY($2::text[]) AND deleted_at IS NULL FOR SHARE',
                [repoId, childDigests],
              );
        const missingChild = childDigests.find((d) => !children.rows.some((c) => c.digest === d));
        if (missingChild && !(opts.sparse && children.rows.length > 0)) throw new Invalid('reference', `manifest unknown to registry: ${missingChild}`, { digest: missingChild });
        const stored = new Map<string, number>([
          ...[...found.values()].map((b): [string, number] => [b.digest, b.size]),
          ...children.rows.map((c): [string, number] => [c.digest, c.size]),
        ]);
        const lying = [...(m.config ? [m.config] : []), ...m.layers, ...m.manifests].find((d) => stored.has(d.digest) && stored.get(d.digest) !== d.size);
        if (lying) {
          throw new Invalid('manifest', `descriptor of ${lying.digest} says ${lying.size} bytes; the stored content has ${stored.get(lying.digest)}`, { digest: lying.digest });
        }

        if (inserted && children.rows.length > 0) {
          await q.query('INSERT INTO manifest_child (manifest_id, child_manifest_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING', [
            manifestId,
            children.rows.map((c) => c.id),
          ]);
        }
        const movedTags: string[] = [];
        for (const t of tags) {
          const r = await this.tags.set(q, repoId, t, manifestId, { locked: true });
          if (r !== 'unchanged') movedTags.push(t);
          if (r !== 'created') changedExistingTags = true;
        }
        afterCommit = (await this.hooks?.pushed(q, { repositoryId: repoId, manifestId, inserted, manifest: m, tags, movedTags, performer, configLabels })) ?? undefined;
        // Last, and sent with the COMMIT: the quota trigger on manifest_blob locks the namespace's size row until
        // commit, and concurrent pushes into the namespace wait for it, so not even a client round trip may follow it.
        if (inserted && found.size > 0) {
          q.commitWith(
            `INSERT INTO manifest_blob (manifest_id, blob_id, repository_id)
           SELECT ${sqlInteger(manifestId)}, unnest(ARRAY[${[...found.values()].map((b) => sqlInteger(b.id)).join(',')}]::bigint[]), ${sqlInteger(repoId)}
           ON CONFLICT DO NOTHING`,
          );
          referencedBlobs = true;
        }
      },
      { genericPlans: true },
    );
    afterCommit?.();
    if (referencedBlobs) await this.hooks?.usageGrew?.(repoId);
    return { digest, subject: m.subject?.digest, tags, manifest: m, changedExistingTags };
  }

  /**
   * The manifest a reference (tag or digest) names in a repository, or null. Manifests by digest come from the
   * hot caches when present; with `tagVersion` (the repository's, as just looked up) so does a tag's digest.
   */
  async resolve(repoId: number, reference: string, tagVersion?: number): Promise<ManifestRow | null> {
    const now = Date.now();
    const byTag = !looksLikeDigest(reference);
    let digest = reference;
    if (byTag) {
      const tag = tagVersion === undefined ? undefined : this.cache?.tag(repoId, tagVersion, reference, now);
      if (!tag) return this.resolveTag(repoId, reference, tagVersion, now);
      digest = tag.digest;
    }
    const cached = this.cache?.manifest(repoId, digest);
    if (cached) return cached;
    const startGen = this.cache?.coherence.generation ?? 0;
    const r = await this.db.query<ManifestRow>(
      `SELECT ${MANIFEST_COLUMNS} FROM manifest m WHERE m.repository_id = $1 AND m.digest = $2 AND m.deleted_at IS NULL`,
      [repoId, digest],
      { prepare: 'manifest_by_digest' },
    );
    const row = r.rows[0] ?? null;
    if (row) this.cache?.keepManifest(row, startGen);
    return row;
  }

  private async resolveTag(repoId: number, tag: string, tagVersion: number | undefined, now: number): Promise<ManifestRow | null> {
    const startGen = this.cache?.coherence.generation ?? 0;
    const r = await this.db.query<ManifestRow & { tag_end_ms: number | null }>(
      `SELECT ${MANIFEST_COLUMNS}, t.end_ms AS tag_end_ms FROM tag t JOIN manifest m ON m.id = t.manifest_id
        WHERE t.repository_id = $1 AND t.name = $2 AND ${LIVE('t', '$3')} ORDER BY t.start_ms DESC LIMIT 1`,
      [repoId, tag, now],
      { prepare: 'manifest_by_tag_until' },
    );
    const found = r.rows[0];
    if (!found) return null;
    const { tag_end_ms, ...row } = found;
    if (this.cache) {
      if (tagVersion !== undefined) this.cache.keepTag(repoId, tagVersion, tag, { digest: row.digest, validUntil: tag_end_ms ?? Infinity });
      if (row.deleted_at === null) this.cache.keepManifest(row, startGen);
    }
    return row;
  }

  /**
   * Delete a manifest by digest: every live tag on it ends, and it is hidden from pulls. It stays restorable
   * inside the namespace's time machine window; GC removes it afterwards. Returns the ended tag names, or null
   * when the manifest is unknown.
   */
  async deleteByDigest(repoId: number, digest: string): Promise<string[] | null> {
    const ended = await this.db.tx(async (q) => {
      const r = await q.query<{ id: number }>('UPDATE manifest SET deleted_at = now() WHERE repository_id = $1 AND digest = $2 AND deleted_at IS NULL RETURNING id', [
        repoId,
        digest,
      ]);
      if (!r.rows[0]) return null;
      return this.tags.endForManifest(q, r.rows[0].id);
    });
    // This process's next read must not wait for the notification (cache/coherence.ts).
    if (ended) await this.cache?.coherence.changed({ kind: 'm', key: `${repoId}:${digest}` });
    return ended;
  }

  /** Manifests in the repository whose subject is `digest`, optionally of one artifact type. */
  async referrers(repoId: number, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
    const r = await this.db.query<ManifestRow>(
      `SELECT digest, media_type, size, artifact_type, annotations FROM manifest
        WHERE repository_id = $1 AND subject_digest = $2 AND deleted_at IS NULL AND ($3::text IS NULL OR artifact_type = $3)
        ORDER BY created_at, id`,
      [repoId, digest, artifactType ?? null],
    );
    return r.rows.map((row) => ({
      mediaType: row.media_type,
      digest: row.digest,
      size: row.size,
      ...(row.artifact_type ? { artifactType: row.artifact_type } : {}),
      ...(row.annotations ? { annotations: row.annotations } : {}),
    }));
  }
}
