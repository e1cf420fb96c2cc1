/**
 * The built-in indexer: streams an image's layers base → top, applies whiteouts, and detects the
 * installed packages of the resulting filesystem. Its output (the index report) is what gets stored per
 * manifest; vulnerabilities are matched against the OSV database at read time, so a database update
 * changes reports without re-reading layers.
 */
import type { Readable } from 'node:stream';
import { readLayer, type LayerLimits, DEFAULT_LIMITS } from './layer.js';
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
  for (const layer of layers) {
    const entries = await readLayer(await layer.open(), limits);
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
