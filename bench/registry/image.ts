/**
 * The pushed images: one or more layers, each holding one file of random (incompressible) bytes, built
 * offline with umoci into an OCI layout. Built once per size and layer count and kept under
 * `.test-work/bench-images/` for later runs.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_ROOT } from '../../test/setup/paths.js';
import { runTool } from '../../test/setup/tools.js';
import { writeRandomTar } from '../../test/helpers/umoci.js';

export interface BenchImage {
  /** OCI layout directory */
  layout: string;
  /** Tag inside the layout */
  tag: string;
  /** skopeo source reference, `oci:<layout>:<tag>` */
  ref: string;
  /** Size of the random files in all layers (bytes) */
  payload: number;
  /** The layer blobs (gzip, as umoci writes them), in the manifest's order */
  layers: { digest: string; size: number }[];
  /** The largest layer (the blob GET phase's) */
  layer: { digest: string; size: number };
  config: { digest: string; size: number };
}

const IMAGES = join(WORK_ROOT, 'bench-images');
const TAG = 'bench';

function readImage(layout: string, payload: number, layerCount: number): BenchImage {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === TAG);
  if (!desc) throw new Error(`${layout}: no manifest tagged ${TAG}`);
  const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(desc.digest), 'utf8')) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
  if (manifest.layers.length !== layerCount) throw new Error(`${layout}: expected ${layerCount} layer(s), found ${manifest.layers.length}`);
  const layers = manifest.layers.map((l) => ({ digest: l.digest, size: l.size }));
  return {
    layout,
    tag: TAG,
    ref: `oci:${layout}:${TAG}`,
    payload,
    layers,
    layer: layers.reduce((a, b) => (b.size > a.size ? b : a)),
    config: { digest: manifest.config.digest, size: manifest.config.size },
  };
}

/**
 * How `payload` bytes split over `count` layers, as in a typical image: a large base layer, then layers
 * halving in size (e.g. 4 layers: 8/15, 4/15, 2/15, 1/15 of the payload), each at least 1 KiB.
 */
export function layerSizes(payload: number, count: number): number[] {
  const weights = Array.from({ length: count }, (_, i) => 2 ** (count - 1 - i));
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1024, Math.floor((payload * w) / total)));
  sizes[0] += Math.max(0, payload - sizes.reduce((a, b) => a + b, 0));
  return sizes;
}

/**
 * Image number `variant` with a `mib` MiB payload in `layerCount` layers, built with umoci on first use.
 * Variants differ in every byte: each push of a repetition must upload its layers (skopeo running as root
 * keeps a machine-wide blob-info cache in /var/lib/containers/cache and would otherwise mount the layers from
 * an earlier push).
 */
export async function benchImage(mib: number, log: (s: string) => void, variant = 1, layerCount = 1): Promise<BenchImage> {
  const payload = mib * 1024 * 1024;
  const layout = join(IMAGES, layerCount === 1 ? `random-${mib}mib-${variant}` : `random-${mib}mib-${layerCount}layers-${variant}`);
  if (existsSync(join(layout, 'index.json'))) {
    try {
      return readImage(layout, payload, layerCount);
    } catch {
      rmSync(layout, { recursive: true, force: true });
    }
  }
  mkdirSync(IMAGES, { recursive: true });
  const t0 = Date.now();
  log(`building ${mib} MiB ${layerCount}-layer image #${variant} with umoci (once; kept in ${IMAGES})`);
  const building = `${layout}.building-${process.pid}`;
  const tar = `${building}.tar`;
  rmSync(building, { recursive: true, force: true });
  try {
    await runTool('umoci', ['init', '--layout', building]);
    await runTool('umoci', ['new', '--image', `${building}:${TAG}`]);
    await runTool('umoci', ['config', '--image', `${building}:${TAG}`, '--os', 'linux', '--architecture', 'amd64', '--no-history']);
    for (const size of layerSizes(payload, layerCount)) {
      await writeRandomTar(tar, size);
      await runTool('umoci', ['raw', 'add-layer', '--image', `${building}:${TAG}`, '--no-history', tar], { timeoutMs: 1_800_000 });
    }
    await runTool('umoci', ['gc', '--layout', building]);
    renameSync(building, layout);
  } finally {
    rmSync(tar, { force: true });
    rmSync(building, { recursive: true, force: true });
  }
  const img = readImage(layout, payload, layerCount);
  log(`  built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${img.layers.map((l) => `${(l.size / 2 ** 20).toFixed(1)} MiB`).join(' + ')}`);
  return img;
}
