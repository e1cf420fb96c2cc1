/**
 * Images built offline with umoci into an OCI layout, as the upstreams are made: single-platform
 * images whose layers are real tar archives (one file of random bytes each, so every image is unique and
 * runnable clients can unpack it), and a two-platform OCI index written over two such images. `pushLayout`
 * puts a layout's tag into a registry with `skopeo copy --all`, digests preserved.
 */
import { randomFillSync, createHash } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { runTool, INSECURE, type ClientSandbox } from '../setup/tools.js';
import { workDir } from '../setup/paths.js';
import { OCI_INDEX, OCI_MANIFEST } from './v2.js';

/** A tar archive (ustar) holding one file `name` of `bytes` random bytes, written without buffering it whole. */
export async function writeRandomTar(path: string, bytes: number, name = 'payload.bin'): Promise<void> {
  const out = createWriteStream(path);
  const header = Buffer.alloc(512);
  header.write(name, 0, 'ascii');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write(`${bytes.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  header.write(
    `${Math.floor(Date.UTC(2024, 0, 1) / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
    'ascii',
  );
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const write = async (buf: Buffer) => {
    if (!out.write(buf)) await once(out, 'drain');
  };
  await write(header);
  const chunk = Buffer.alloc(4 << 20);
  for (let left = bytes; left > 0;) {
    const n = Math.min(left, chunk.length);
    randomFillSync(chunk, 0, n);
    await write(Buffer.from(chunk.subarray(0, n)));
    left -= n;
  }
  const pad = (512 - (bytes % 512)) % 512;
  await write(Buffer.alloc(pad + 1024)); // padding, then the two zero blocks that end an archive
  out.end();
  await once(out, 'finish');
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface UmociImage {
  /** skopeo source reference of the image (`oci:<layout>:<tag>`) */
  ref: string;
  arch: string;
  /** the image manifest */
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

export interface UmociIndex {
  /** skopeo source reference of the index (`oci:<layout>:<tag>`) */
  ref: string;
  /** the index itself */
  index: Descriptor;
  /** its images, by architecture */
  images: Record<string, UmociImage>;
}

interface LayoutIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: (Descriptor & { annotations?: Record<string, string>; platform?: { architecture: string; os: string } })[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const blobPath = (layout: string, digest: string) => join(layout, 'blobs', ...digest.split(':'));
const readLayoutIndex = (layout: string) => JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as LayoutIndex;

async function buildInto(layout: string, tag: string, arch: string, layerSizes: number[]): Promise<UmociImage> {
  const image = `${layout}:${tag}`;
  await runTool('umoci', ['new', '--image', image]);
  await runTool('umoci', ['config', '--image', image, '--os', 'linux', '--architecture', arch, '--config.cmd', '/bin/true', '--no-history']);
  for (const [i, size] of layerSizes.entries()) {
    const tar = join(layout, `..`, `${tag}-layer-${i}.tar`);
    await writeRandomTar(tar, size, `${tag}-${i}.bin`);
    await runTool('umoci', ['raw', 'add-layer', '--image', image, '--no-history', tar], { timeoutMs: 600_000 });
  }
  return taggedImage(layout, tag, arch);
}

/** The image umoci wrote into `layout` as `tag`. */
function taggedImage(layout: string, tag: string, arch: string): UmociImage {
  const desc = readLayoutIndex(layout).manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!desc) throw new Error(`${layout}: umoci wrote no manifest tagged ${tag}`);
  const manifest = JSON.parse(readFileSync(blobPath(layout, desc.digest), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
  return {
    ref: `oci:${layout}:${tag}`,
    arch,
    manifest: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size },
    config: manifest.config,
    layers: manifest.layers,
  };
}

async function newLayout(label: string): Promise<string> {
  const layout = join(workDir(label), 'layout');
  await runTool('umoci', ['init', '--layout', layout]);
  return layout;
}

/** A linux image for `arch` whose layers hold `layerSizes` random bytes each, built with umoci. */
export async function umociImage(label: string, tag: string, arch = 'amd64', layerSizes: number[] = [64 * 1024]): Promise<UmociImage> {
  const layout = await newLayout(label);
  const img = await buildInto(layout, tag, arch, layerSizes);
  await runTool('umoci', ['gc', '--layout', layout]);
  return img;
}

/**
 * One umoci image per tag in one layout, all over one shared layer of `layerSize` random bytes; each tag's
 * config carries its name as a label, so every tag is a manifest of its own.
 */
export async function umociTags(label: string, tags: string[], layerSize = 64 * 1024): Promise<Record<string, UmociImage>> {
  const layout = await newLayout(label);
  const base = await buildInto(layout, 'base', 'amd64', [layerSize]);
  const out: Record<string, UmociImage> = {};
  for (const tag of tags) {
    await runTool('umoci', ['config', '--image', `${layout}:base`, '--tag', tag, '--config.label', `org.opencontainers.image.version=${tag}`, '--no-history']);
    out[tag] = taggedImage(layout, tag, base.arch);
  }
  return out;
}

/**
 * An OCI index tagged `tag` over one umoci image per architecture, each entry carrying its platform
 * (linux/<arch>), as a multi-arch build publishes it.
 */
export async function umociIndex(label: string, tag: string, arches = ['amd64', 'arm64'], layerSizes: number[] = [64 * 1024]): Promise<UmociIndex> {
  const layout = await newLayout(label);
  const images: Record<string, UmociImage> = {};
  for (const arch of arches) images[arch] = await buildInto(layout, `${tag}-${arch}`, arch, layerSizes);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: arches.map((arch) => ({ ...images[arch].manifest, mediaType: OCI_MANIFEST, platform: { architecture: arch, os: 'linux' } })),
    }),
  );
  const index: Descriptor = { mediaType: OCI_INDEX, digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, size: body.length };
  writeFileSync(blobPath(layout, index.digest), body);
  const top = readLayoutIndex(layout);
  top.manifests.push({ ...index, annotations: { [REF_NAME]: tag } });
  writeFileSync(join(layout, 'index.json'), JSON.stringify(top));
  return { ref: `oci:${layout}:${tag}`, index, images };
}

/**
 * Push `ref` (an image or an index with all its images) to `dest` (`host:port/repo:tag`, plain http) with
 * `skopeo copy --all --preserve-digests`; `creds` is `user:password` when the registry wants it.
 */
export async function pushLayout(sb: ClientSandbox, ref: string, dest: string, creds?: string): Promise<void> {
  await sb.run('skopeo', ['copy', '--all', '--preserve-digests', ...INSECURE.skopeoCopy, ...(creds ? ['--dest-creds', creds] : []), ref, `docker://${dest}`], {
    timeoutMs: 600_000,
  });
}
