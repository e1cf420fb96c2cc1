/** A small distribution-API client for tests that need to craft exact requests (real HTTP, no mocks). */
import { createHash, randomBytes } from 'node:crypto';
import { basicAuth, type RegistryProcess } from './registry.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Blob {
  data: Buffer;
  digest: string;
  size: number;
}

export function blobOf(data: Buffer): Blob {
  return { data, digest: sha256(data), size: data.length };
}

export function randomBlob(size = 1024): Blob {
  return blobOf(randomBytes(size));
}

export function jsonBlob(value: unknown): Blob {
  return blobOf(Buffer.from(JSON.stringify(value)));
}

export class V2Client {
  constructor(
    readonly reg: RegistryProcess,
    private readonly authorization?: string,
  ) {}

  static basic(reg: RegistryProcess, username = reg.admin.username, password = reg.admin.password): V2Client {
    return new V2Client(reg, basicAuth(username, password));
  }

  async req(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Response> {
    const url = path.startsWith('http') ? path : `${this.reg.url}${path}`;
    return fetch(url, {
      method,
      headers: { ...(this.authorization ? { authorization: this.authorization } : {}), ...init.headers },
      body: init.body,
      redirect: 'manual',
    });
  }

  /** POST then PUT with the whole body. */
  async pushBlob(repo: string, blob: Blob): Promise<Response> {
    const start = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
    const loc = start.headers.get('location')!;
    const sep = loc.includes('?') ? '&' : '?';
    return this.req('PUT', `${loc}${sep}digest=${blob.digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: blob.data,
    });
  }

  async pushManifest(repo: string, reference: string, manifest: unknown, mediaType = OCI_MANIFEST): Promise<Response> {
    const body = typeof manifest === 'string' ? manifest : JSON.stringify(manifest);
    return this.req('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'content-type': mediaType }, body });
  }

  /** Push a config, layers and an OCI image manifest under `tag`; returns the manifest and its digest. */
  async pushImage(repo: string, tag: string, opts: { layers?: Blob[]; mediaType?: string } = {}): Promise<{ manifest: Buffer; digest: string; layers: Blob[]; config: Blob }> {
    const docker = opts.mediaType === DOCKER_MANIFEST;
    const config = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') });
    const layers = opts.layers ?? [randomBlob(2048)];
    for (const b of [config, ...layers]) {
      const r = await this.pushBlob(repo, b);
      if (r.status !== 201) throw new Error(`blob push: ${r.status} ${await r.text()}`);
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: opts.mediaType ?? OCI_MANIFEST,
        config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: docker ? DOCKER_LAYER : OCI_LAYER, digest: l.digest, size: l.size })),
      }),
    );
    const r = await this.pushManifest(repo, tag, manifest.toString(), opts.mediaType ?? OCI_MANIFEST);
    if (r.status !== 201) throw new Error(`manifest push: ${r.status} ${await r.text()}`);
    return { manifest, digest: sha256(manifest), layers, config };
  }
}

export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: Array<{ code: string }> };
  return body.errors?.[0]?.code;
}
