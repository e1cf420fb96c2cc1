/**
 * Manifest labels: the image config's LABELs (source `manifest`, created at push) and labels added through
 * the API (source `api`). Label side effect at push: `quay.expires-after=<n><s|m|h|d|w>` makes the tags
 * the push pointed at the manifest expire that long after the push.
 */
import type { Db, Queryable } from '../db/index.js';
import type { ParsedManifest } from '../oci/manifest.js';
import { Invalid } from './errors.js';
import { BlobIntegrityError, type Blobs } from './blobs.js';
import { ByteLru } from '../cache/lru.js';

export interface LabelRow {
  id: number;
  uuid: string;
  manifest_id: number;
  key: string;
  value: string;
  media_type: string;
  source_type: 'manifest' | 'api' | 'internal';
}

export function labelView(l: LabelRow): Record<string, unknown> {
  return { id: l.uuid, key: l.key, value: l.value, source_type: l.source_type, media_type: l.media_type };
}

export const LABEL_KEY_PATTERN = /^[a-z0-9](([a-z0-9]|[-.](?![.-]))*[a-z0-9])?$/;
export const LABEL_MEDIA_TYPES = ['text/plain', 'application/json'] as const;
const DEFAULT_RESERVED = [
  'com.docker.',
  'io.docker.',
  'org.dockerproject.',
  'org.opencontainers.',
  'io.cncf.',
  'io.kubernetes.',
  'io.k8s.',
  'io.quay',
  'com.coreos',
  'com.tectonic',
  'internal',
  'quay',
];

/** Image configs Quay reads labels from (Docker and OCI image configs). */
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.docker.container.image.v1+json', 'application/vnd.oci.image.config.v1+json']);
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const MAX_LABELS = 500;

/** `2h` → milliseconds; null when the value is not a Quay duration. */
export function expiresAfterMs(value: string): number | null {
  const m = /^\s*([0-9]{1,9})\s*([smhdw])\s*$/.exec(value);
  if (!m) return null;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

/** Budget of the labels of image configs kept by digest (Labels.configLabels). */
export const CONFIG_LABEL_CACHE_BYTES = 256 * 1024;

export class Labels {
  private readonly reserved: string[];
  /**
   * The labels of image configs read before, by digest and size: content-addressed, so never stale. Pushes of
   * manifests sharing a config (more tags or repositories for one image, mirrors) read its bytes once.
   */
  readonly configLabelCache = new ByteLru<Array<[string, string]>>('config_labels', CONFIG_LABEL_CACHE_BYTES);

  constructor(
    private readonly db: Db,
    private readonly blobs: Blobs,
    extraReserved: string[] = [],
  ) {
    this.reserved = [...DEFAULT_RESERVED, ...extraReserved];
  }

  /** Why a key cannot be added through the API (a malformed key, a reserved prefix), or null when it can. */
  keyProblem(key: string): 'format' | 'reserved' | null {
    if (key.length === 0 || key.length > 255 || !LABEL_KEY_PATTERN.test(key)) return 'format';
    return this.reserved.some((p) => key.startsWith(p)) ? 'reserved' : null;
  }

  async list(manifestId: number, prefix?: string): Promise<LabelRow[]> {
    const r = await this.db.query<LabelRow>(`SELECT * FROM manifest_label WHERE manifest_id = $1 AND ($2::text IS NULL OR starts_with(key, $2)) ORDER BY id`, [
      manifestId,
      prefix ?? null,
    ]);
    return r.rows;
  }

  async get(manifestId: number, uuid: string): Promise<LabelRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(uuid)) return null;
    const r = await this.db.query<LabelRow>('SELECT * FROM manifest_label WHERE manifest_id = $1 AND uuid = $2', [manifestId, uuid]);
    return r.rows[0] ?? null;
  }

  async add(manifestId: number, key: string, value: string, mediaType: string, source: LabelRow['source_type'], q: Queryable = this.db): Promise<LabelRow> {
    const r = await q.query<LabelRow>('INSERT INTO manifest_label (manifest_id, key, value, media_type, source_type) VALUES ($1, $2, $3, $4, $5) RETURNING *', [
      manifestId,
      key,
      value,
      mediaType,
      source,
    ]);
    return r.rows[0];
  }

  async delete(labelId: number): Promise<void> {
    await this.db.query('DELETE FROM manifest_label WHERE id = $1', [labelId]);
  }

  /**
   * Before a push's transaction: the labels of the manifest's image config, read with a size cap and verified
   * against the config's digest (or known from an earlier read). The common case asks the database nothing: the bytes are read by the
   * descriptor's digest and size, and used only because the push's transaction then requires that very blob,
   * of that size, to be in the repository (Manifests.put refuses the push otherwise). A read that fails (no such
   * content, or damaged) takes the checked path: nothing is read when the config is not a stored blob of the
   * declared size (the push is then refused), and damaged stored bytes refuse the push, the repository
   * forgetting the blob so that the client uploads it again.
   */
  async configLabels(repoId: number, manifest: ParsedManifest): Promise<Array<[string, string]>> {
    const cfg = manifest.config;
    if (!cfg || !IMAGE_CONFIG_TYPES.has(cfg.mediaType)) return [];
    const key = `${cfg.digest}|${cfg.size}`;
    const known = this.configLabelCache.get(key);
    if (known) return known;
    const read = await this.blobs.readVerified({ digest: cfg.digest, size: cfg.size }, MAX_CONFIG_BYTES).catch(() => undefined);
    if (read !== undefined) {
      const labels = read ? labelsOf(read) : [];
      this.configLabelCache.set(key, labels, 64 + JSON.stringify(labels).length * 2 + key.length * 2);
      return labels;
    }
    const blob = await this.blobs.findInRepo(repoId, cfg.digest);
    if (!blob || blob.size !== cfg.size) return [];
    let bytes: Buffer | null;
    try {
      bytes = await this.blobs.readVerified(blob, MAX_CONFIG_BYTES);
    } catch (e) {
      if (!(e instanceof BlobIntegrityError)) throw e;
      await this.blobs.forgetDamaged(repoId, blob.id);
      throw new Invalid('reference', `${e.message}; upload it again`, { digest: cfg.digest });
    }
    return bytes ? labelsOf(bytes) : [];
  }

  /**
   * Push hook, in the manifest's transaction: on the first push of a manifest its config's labels (read by
   * configLabels before the transaction) become labels; on every push, `quay.expires-after` sets the expiry of
   * the tags this push pointed at it.
   */
  async onManifestPushed(q: Queryable, p: { repositoryId: number; manifestId: number; inserted: boolean; tags: string[]; configLabels: Array<[string, string]> }): Promise<void> {
    if (p.inserted) {
      for (const [key, value] of p.configLabels) await this.add(p.manifestId, key, value, 'text/plain', 'manifest', q);
    }
    if (p.tags.length === 0) return;
    // A manifest this push created has only the labels just added: without that key there is nothing to read.
    if (p.inserted && !p.configLabels.some(([key]) => key === 'quay.expires-after')) return;
    const r = await q.query<{ value: string }>(
      `SELECT value FROM manifest_label WHERE manifest_id = $1 AND key = 'quay.expires-after' AND source_type = 'manifest' ORDER BY id DESC LIMIT 1`,
      [p.manifestId],
    );
    const ms = r.rows[0] ? expiresAfterMs(r.rows[0].value) : null;
    if (ms === null) return;
    const now = Date.now();
    await q.query(
      `UPDATE tag SET end_ms = $4, expiry_state = 'scheduled'
        WHERE repository_id = $1 AND name = ANY($2::text[]) AND manifest_id = $3 AND (end_ms IS NULL OR end_ms > $5)`,
      [p.repositoryId, p.tags, p.manifestId, now + ms, now],
    );
  }
}

/** The `config.Labels` of an image config; none when it does not parse (not every client writes one that does). */
function labelsOf(bytes: Buffer): Array<[string, string]> {
  let config: unknown;
  try {
    config = JSON.parse(bytes.toString('utf8'));
  } catch {
    return [];
  }
  const labels = (config as { config?: { Labels?: unknown } } | null)?.config?.Labels;
  if (!labels || typeof labels !== 'object') return [];
  return (
    Object.entries(labels as Record<string, unknown>)
      // Postgres cannot store NUL: such a label is dropped, the push stands.
      .filter((e): e is [string, string] => typeof e[1] === 'string' && !e[0].includes('\u0000') && !e[1].includes('\u0000'))
      .slice(0, MAX_LABELS)
  );
}
