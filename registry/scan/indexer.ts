/**
 * The built-in indexer: streams an image's layers base → top, applies whiteouts, and detects the
 * installed packages of the resulting filesystem. Its output (the index report) is what gets stored per
 * manifest; vulnerabilities are matched against the OSV database at read time, so a database update
 * changes reports without re-reading layers.
 */
import type { Readable } from 'node:stream';
import { availableParallelism } from 'node:os';
import { readLayer, type LayerEntry, type LayerLimits, DEFAULT_LIMITS } from './layer.js';
import { detectPackages, type DetectedPackage, type Distribution, type ImageFile } from './detect.js';

export interface LayerSource {
  digest: string;
  open(): Promise<Readable>;
}

export interface IndexReport {
  distribution: Distribution | null;
  packages: DetectedPackage[];
}

/** Changes whenever detection changes, so stored reports from an older indexer are redone. */
export const INDEXER_VERSION = 'builtin-1';

/** Layers read at once, at most (and at most one per core). */
const MAX_PARALLEL_LAYERS = 4;

function resolveSymlink(path: string, target: string): string {
  const base = target.startsWith('/') ? [] : path.split('/').slice(0, -1);
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') base.pop();
    else base.push(seg);
  }
  return base.join('/');
}

export async function indexImage(layers: LayerSource[], limits: LayerLimits = DEFAULT_LIMITS): Promise<IndexReport> {
  const files = new Map<string, ImageFile>();
  const symlinks = new Map<string, { target: string; layer: string }>();
  const goBinaries = new Map<string, ImageFile>();
  const maps = [files, symlinks, goBinaries] as Array<Map<string, unknown>>;
  const removeUnder = (dir: string, self: boolean) => {
    const prefix = dir ? dir + '/' : '';
    for (const m of maps) {
      for (const key of m.keys()) if ((self && key === dir) || key.startsWith(prefix)) m.delete(key);
    }
  };
  // Layers are read a few at a time (inflating runs on libuv's thread pool, so two layers use two cores)
  // and applied base → top.
  const read = new Array<Promise<LayerEntry[]> | undefined>(layers.length);
  const concurrency = Math.max(1, Math.min(availableParallelism(), MAX_PARALLEL_LAYERS));
  const start = (i: number) => {
    if (i >= layers.length) return;
    const p = layers[i].open().then((source) => readLayer(source, limits));
    // Awaited below in order; when an earlier layer fails, this one's failure is not reported on its own.
    p.catch(() => undefined);
    read[i] = p;
  };
  for (let i = 0; i < concurrency; i++) start(i);
  for (const [i, layer] of layers.entries()) {
    const entries = await read[i]!;
    read[i] = undefined;
    start(i + concurrency);
    // Whiteouts hide lower layers only, whatever their position in this layer's archive.
    for (const e of entries) {
      if (e.kind === 'opaque') removeUnder(e.path, false);
      else if (e.kind === 'whiteout') removeUnder(e.path, true);
    }
    for (const e of entries) {
      if (e.kind === 'file' || e.kind === 'symlink' || e.kind === 'gobinary') for (const m of maps) m.delete(e.path);
      if (e.kind === 'file') files.set(e.path, { data: e.data, layer: layer.digest });
      else if (e.kind === 'gobinary') goBinaries.set(e.path, { data: e.data, layer: layer.digest });
      else if (e.kind === 'symlink') symlinks.set(e.path, { target: e.target, layer: layer.digest });
    }
  }
  // /etc/os-release is usually a symlink to ../usr/lib/os-release
  for (const [path, link] of symlinks) {
    const target = files.get(resolveSymlink(path, link.target));
    if (target && !files.has(path)) files.set(path, target);
  }
  return detectPackages(files, goBinaries);
}
