/**
 * Runnable images for clients that unpack what they pull (podman, buildah): layers are real tar archives
 * (made by the `tar` program, uncompressed so the layer digest is its diff_id) and the config lists them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OCI_MANIFEST, blobOf, jsonBlob, sha256, type Blob, type V2Client } from './v2.js';

export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** A tar layer holding one file of `size` random bytes at `/data/<name>`. */
export function tarLayer(size: number, name = randomBytes(4).toString('hex')): Blob {
  const dir = mkdtempSync(join(tmpdir(), 'layer-'));
  try {
    writeFileSync(join(dir, name), randomBytes(size));
    const tar = execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '--transform', 's,^,data/,', '-C', dir, name], {
      maxBuffer: size + 1024 * 1024,
    });
    return blobOf(tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Push an OCI image made of tar layers; returns its manifest digest. */
export async function pushRunnableImage(client: V2Client, repo: string, tag: string, layers: Blob[]): Promise<{ digest: string; layers: Blob[] }> {
  const config = jsonBlob({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    created: new Date().toISOString(),
  });
  for (const b of [config, ...layers]) {
    const r = await client.pushBlob(repo, b);
    if (r.status !== 201) throw new Error(`blob push to ${repo}: ${r.status} ${await r.text()}`);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER_TAR, digest: l.digest, size: l.size })),
  });
  const r = await client.pushManifest(repo, tag, manifest);
  if (r.status !== 201) throw new Error(`manifest push to ${repo}:${tag}: ${r.status} ${await r.text()}`);
  return { digest: sha256(manifest), layers };
}
