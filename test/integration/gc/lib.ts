/**
 * Shared by the tag, GC and quota tests: image building over the distribution API (real HTTP against a real
 * registry process), REST calls, storage listings and metric reads.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { basicAuth, type RegistryProcess } from '../../helpers/registry.js';
import { jsonBlob, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sha256, type Blob } from '../../helpers/v2.js';
import { s3Client, testS3 } from '../../setup/services.js';

export interface Image {
  config: Blob;
  layers: Blob[];
  manifest: Buffer;
  digest: string;
}

/** An OCI image manifest for a config and layers. */
export function imageOf(config: Blob, layers: Blob[]): Image {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  return { config, layers, manifest, digest: sha256(manifest) };
}

/** An OCI image: a config (with optional LABELs) and the given layers. */
export function makeImage(layers: Blob[], labels: Record<string, string> = {}): Image {
  const config = jsonBlob({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    created: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  });
  return imageOf(config, layers);
}

export class Client {
  readonly auth: string;
  constructor(
    readonly reg: RegistryProcess,
    username = reg.admin.username,
    password = reg.admin.password,
  ) {
    this.auth = basicAuth(username, password);
  }

  req(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Response> {
    return fetch(`${this.reg.url}${path}`, { method, headers: { authorization: this.auth, ...init.headers }, body: init.body, redirect: 'manual' });
  }

  /** Upload a blob unless the repository has it (HEAD first, as clients do). */
  async pushBlob(repo: string, b: Blob): Promise<void> {
    const head = await this.req('HEAD', `/v2/${repo}/blobs/${b.digest}`);
    if (head.status === 200) return;
    const start = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`upload start ${repo}: ${start.status} ${await start.text()}`);
    const loc = start.headers.get('location')!;
    const put = await fetch(new URL(`${loc}${loc.includes('?') ? '&' : '?'}digest=${b.digest}`, this.reg.url), {
      method: 'PUT',
      headers: { authorization: this.auth, 'content-type': 'application/octet-stream' },
      body: b.data,
    });
    if (put.status !== 201) throw new Error(`upload ${repo} ${b.digest}: ${put.status} ${await put.text()}`);
  }

  async pushImage(repo: string, tag: string, img: Image): Promise<void> {
    for (const b of [img.config, ...img.layers]) await this.pushBlob(repo, b);
    const r = await this.req('PUT', `/v2/${repo}/manifests/${tag}`, { headers: { 'content-type': OCI_MANIFEST }, body: img.manifest });
    if (r.status !== 201) throw new Error(`manifest ${repo}:${tag}: ${r.status} ${await r.text()}`);
  }

  async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await this.req(method, `/api/v1${path}`, {
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: r.status, json };
  }
}

/** A counter's value from /metrics (0 when absent). */
export async function metric(reg: RegistryProcess, name: string): Promise<number> {
  const text = await (await fetch(`${reg.url}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Wait until `n` more GC runs have completed than when called (a run that started earlier may be one). */
export async function gcRuns(reg: RegistryProcess, n = 2, timeoutMs = 60_000): Promise<void> {
  const start = await metric(reg, 'quay_gc_runs_total');
  const deadline = Date.now() + timeoutMs;
  while ((await metric(reg, 'quay_gc_runs_total')) < start + n) {
    if (Date.now() > deadline) throw new Error(`GC did not complete ${n} runs in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Digests whose bytes are in a filesystem blob store (`<root>/sha256/ab/<hex>`). */
export function fsDigests(root: string): Set<string> {
  const out = new Set<string>();
  const dir = join(root, 'sha256');
  let prefixes: string[];
  try {
    prefixes = readdirSync(dir);
  } catch {
    return out;
  }
  for (const p of prefixes) {
    for (const hex of readdirSync(join(dir, p))) if (statSync(join(dir, p, hex)).isFile()) out.add(`sha256:${hex}`);
  }
  return out;
}

/** Digests whose bytes are in an S3 bucket under `prefix` (`<prefix>/sha256/ab/<hex>`). */
export async function s3Digests(bucket: string, prefix: string): Promise<Set<string>> {
  const client = s3Client(testS3());
  const out = new Set<string>();
  try {
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/sha256/`, ContinuationToken: token }));
      for (const o of r.Contents ?? []) out.add(`sha256:${o.Key!.split('/').pop()}`);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
