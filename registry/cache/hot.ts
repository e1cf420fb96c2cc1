/**
 * The caches of the pull path, so that a manifest GET with a cached bearer token asks Postgres nothing:
 *   targets    `namespace/name` → the namespace and repository rows (visibility, state, tag_version: what
 *              authorization and the tag caches need); dropped on a change to either row
 *   tags       `repository id, tag_version, tag` → the digest the tag names and until when (an expiry); a tag
 *              change bumps tag_version (migration 006), which drops the repository's target, so old entries
 *              are never reached again and age out
 *   manifests  `repository id, digest` → the manifest row (bytes, media type, size); immutable, dropped when
 *              the manifest is deleted or hidden
 * Nothing is cached for a missing repository, tag or manifest: a push makes it exist without a notification
 * having to arrive first. Each cache is bounded in bytes; sizes and hit rates are in /metrics.
 */
import type { RepoTarget } from '../model/repositories.js';
import type { ManifestRow } from '../model/manifests.js';
import { ByteLru } from './lru.js';
import type { CacheChange, CacheCoherence, Coherent } from './coherence.js';

export const TARGET_CACHE_BYTES = 4 * 1024 * 1024;
export const TAG_CACHE_BYTES = 4 * 1024 * 1024;
/**
 * Per process. A full cache is live heap that V8 lets grow by half again before a full collection: filled
 * with 64 KiB manifests, 32 MiB raised an idle worker's RSS 117 → 154 MB (the < 150 MB target). 8 MiB still
 * holds thousands of ordinary (1-4 KiB) manifests.
 */
export const MANIFEST_CACHE_BYTES = 8 * 1024 * 1024;

/** Rough size of a small object's JSON: what an entry costs beyond its Buffers, for the byte budget. */
function approxBytes(v: unknown): number {
  return 64 + JSON.stringify(v).length * 2;
}

export interface CachedTag {
  digest: string;
  /** When the tag's live row ends (an expiry), ms; Infinity without one. */
  validUntil: number;
}

export class HotCaches implements Coherent {
  readonly targets = new ByteLru<RepoTarget>('repository', TARGET_CACHE_BYTES);
  readonly tags = new ByteLru<CachedTag>('tag', TAG_CACHE_BYTES);
  readonly manifests = new ByteLru<ManifestRow>('manifest', MANIFEST_CACHE_BYTES);
  bypassed = 0;

  constructor(readonly coherence: CacheCoherence) {
    coherence.register(this);
  }

  get all(): ByteLru<unknown>[] {
    return [this.targets, this.tags, this.manifests] as ByteLru<unknown>[];
  }

  invalidate(change: CacheChange): void {
    if (change.kind === 'r') this.targets.delete(change.key);
    else if (change.kind === 'm') this.manifests.delete(change.key);
    else {
      const prefix = `${change.key}/`;
      this.targets.deleteWhere((k) => k.startsWith(prefix));
    }
  }

  clear(): void {
    for (const c of this.all) c.clear();
  }

  /** Served from memory only while the notification path is confirmed (see CacheCoherence). */
  private usable(): boolean {
    if (this.coherence.trusted()) return true;
    this.bypassed++;
    return false;
  }

  // ------------------------------------------------------------------ repository targets

  target(namespace: string, name: string): RepoTarget | undefined {
    return this.usable() ? this.targets.get(`${namespace}/${name}`) : undefined;
  }

  /** Keep a target read from the database since `startGen`, unless either row changed meanwhile. */
  keepTarget(t: RepoTarget, startGen: number): void {
    if (!t.repo || !t.namespace) return;
    const key = `${t.ref.namespace}/${t.ref.name}`;
    if (!this.coherence.mayKeep({ kind: 'r', key }, startGen) || !this.coherence.mayKeep({ kind: 'n', key: t.ref.namespace }, startGen)) return;
    this.targets.set(key, t, approxBytes(t));
  }

  // ------------------------------------------------------------------ tags and manifests

  tag(repoId: number, tagVersion: number, tag: string, now: number): CachedTag | undefined {
    if (!this.usable()) return undefined;
    const e = this.tags.get(`${repoId}|${tagVersion}|${tag}`);
    return e && now < e.validUntil ? e : undefined;
  }

  keepTag(repoId: number, tagVersion: number, tag: string, e: CachedTag): void {
    if (!this.coherence.trusted()) return;
    this.tags.set(`${repoId}|${tagVersion}|${tag}`, e, 96 + tag.length * 2 + e.digest.length * 2);
  }

  manifest(repoId: number, digest: string): ManifestRow | undefined {
    return this.usable() ? this.manifests.get(`${repoId}:${digest}`) : undefined;
  }

  keepManifest(m: ManifestRow, startGen: number): void {
    const key = `${m.repository_id}:${m.digest}`;
    if (!this.coherence.mayKeep({ kind: 'm', key }, startGen)) return;
    this.manifests.set(key, m, m.bytes.length + approxBytes({ ...m, bytes: null }));
  }
}
