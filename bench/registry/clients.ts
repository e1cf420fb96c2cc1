/**
 * The client side of each measurement: skopeo (push/pull), curl (blob GET), wrk (manifest GET, tag list,
 * manifest PUT) and a small fetch-based client that seeds repositories. Clients are the same for both servers;
 * only the Authorization header differs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { workDir } from '../../test/setup/paths.js';
import { clientSandbox, INSECURE, runTool } from '../../test/setup/tools.js';
import type { Server } from './servers.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

// ------------------------------------------------------------------------------------------- skopeo

/** Seconds for `skopeo copy <image> docker://<server>/<repo>:<tag>` (a fresh client sandbox: no blob-info cache). */
export async function skopeoPush(server: Server, source: string, repo: string, tag = 'latest'): Promise<number> {
  const c = clientSandbox('bench-skopeo');
  const args = ['copy', '--quiet', ...INSECURE.skopeoCopy, ...(server.creds ? ['--dest-creds', server.creds] : []), source, `docker://${server.hostPort}/${repo}:${tag}`];
  const t0 = performance.now();
  await c.run('skopeo', args, { timeoutMs: 1_800_000 });
  const s = (performance.now() - t0) / 1000;
  rmSync(c.dir, { recursive: true, force: true });
  return s;
}

/** Seconds for `skopeo copy docker://<server>/<repo>:<tag> oci:<fresh dir>:pulled` (the copy is then deleted). */
export async function skopeoPull(server: Server, repo: string, tag = 'latest'): Promise<number> {
  const c = clientSandbox('bench-skopeo');
  const dest = join(c.dir, 'pulled');
  const args = [
    'copy',
    '--quiet',
    ...INSECURE.skopeoCopy,
    ...(server.creds ? ['--src-creds', server.creds] : []),
    `docker://${server.hostPort}/${repo}:${tag}`,
    `oci:${dest}:pulled`,
  ];
  const t0 = performance.now();
  await c.run('skopeo', args, { timeoutMs: 1_800_000 });
  const s = (performance.now() - t0) / 1000;
  rmSync(c.dir, { recursive: true, force: true });
  return s;
}

// --------------------------------------------------------------------------------------------- curl

export interface CurlResult {
  seconds: number;
  bytes: number;
  /** bytes per second */
  speed: number;
}

/** One `curl` GET of a blob into /dev/null; fails unless 200 with the expected size. */
export async function curlBlob(server: Server, repo: string, digest: string, size: number): Promise<CurlResult> {
  const headers = await server.authHeaders([repo], ['pull']);
  const args = ['-sS', '-L', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total} %{speed_download}'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(`${server.url}/v2/${repo}/blobs/${digest}`);
  const r = await runTool('curl', args, { timeoutMs: 600_000 });
  const [code, bytes, seconds, speed] = r.stdout.trim().split(/\s+/);
  if (code !== '200' || Number(bytes) !== size) throw new Error(`${server.name}: blob GET answered ${code} with ${bytes} bytes (expected 200, ${size})`);
  return { seconds: Number(seconds), bytes: Number(bytes), speed: Number(speed) };
}

// ---------------------------------------------------------------------------------------------- wrk

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** milliseconds */
  p50: number;
  p99: number;
  transferPerSec: string;
}

function ms(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
    p50: pct('50'),
    p99: pct('99'),
    transferPerSec: /Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '',
  };
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
  script?: string;
}

export async function wrk(url: string, o: WrkOptions): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (o.script) args.push('-s', o.script);
  args.push(url);
  const r = await runTool('wrk', args, { timeoutMs: (o.seconds + 60) * 1000 });
  const res = parseWrk(r.stdout);
  if (res.requests === 0) throw new Error(`wrk ${url}: no requests completed\n${r.stdout}\n${r.stderr}`);
  return res;
}

/**
 * A wrk script that PUTs a new manifest under a new tag with every request (repo `repo`, manifests that
 * reference `config` and `layer`, which must be in the repository). Each thread numbers its own tags.
 */
export function manifestPutScript(repo: string, config: Descriptor, layer: Descriptor, label: string): string {
  const dir = workDir('bench-wrk');
  const file = join(dir, `put-${label}.lua`);
  // The manifest JSON is assembled in Lua with one annotation that makes each body (and digest) unique.
  const head = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }).slice(0, -1);
  writeFileSync(
    file,
    `local counter = 0
local head = ${JSON.stringify(head)}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local headers = nil
function request()
  if headers == nil then
    -- wrk.format() replaces wrk.headers (the -H values) with the table it is given: start from a copy.
    headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Content-Type"] = "${OCI_MANIFEST}"
  end
  counter = counter + 1
  local id = "${label}-" .. tostring(tid) .. "-" .. tostring(counter)
  local body = head .. ',"annotations":{"bench.id":"' .. id .. '"}}'
  return wrk.format("PUT", "/v2/${repo}/manifests/p" .. id, headers, body)
end
`,
  );
  return file;
}

// ------------------------------------------------------------------------------ seeding with fetch

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** Monolithic blob upload (POST then PUT with the bytes). */
export async function uploadBlob(server: Server, repo: string, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(bytes);
  const auth = await server.authHeaders([repo], ['pull', 'push']);
  const start = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { ...auth, 'content-length': '0' } });
  if (start.status !== 202) throw new Error(`${server.name}: upload start answered ${start.status}: ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, server.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes });
  if (put.status !== 201) throw new Error(`${server.name}: upload PUT answered ${put.status}: ${await put.text()}`);
  return { mediaType, digest, size: bytes.length };
}

/** A config and a small layer in `repo`, for manifests made up by the benchmark. */
export async function seedBlobs(server: Server, repo: string): Promise<{ config: Descriptor; layer: Descriptor }> {
  const layerBytes = randomBytes(1024);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(layerBytes)] } }));
  return {
    config: await uploadBlob(server, repo, config, 'application/vnd.oci.image.config.v1+json'),
    layer: await uploadBlob(server, repo, layerBytes, 'application/vnd.oci.image.layer.v1.tar+gzip'),
  };
}

export function manifestBody(config: Descriptor, layer: Descriptor, id: string): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], annotations: { 'bench.id': id } }));
}

/** PUT `count` distinct manifests under tags t0000… with `concurrency` requests in flight. */
export async function seedTags(server: Server, repo: string, count: number, concurrency: number): Promise<void> {
  const { config, layer } = await seedBlobs(server, repo);
  const auth = await server.authHeaders([repo], ['pull', 'push']);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const tag = `t${String(i).padStart(4, '0')}`;
      const res = await fetch(`${server.url}/v2/${repo}/manifests/${tag}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': OCI_MANIFEST },
        body: manifestBody(config, layer, tag),
      });
      if (res.status !== 201) throw new Error(`${server.name}: manifest PUT ${tag} answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** GET a URL and return status and body (checks before a wrk run that the request is right). */
export async function probe(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; contentType: string | null }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') };
}
