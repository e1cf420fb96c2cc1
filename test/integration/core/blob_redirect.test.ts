/**
 * Blob GETs on S3 storage (MinIO) answer with a redirect to a pre-signed URL by default, as Quay does, so the
 * bytes bypass the registry; HEAD stays local; real clients (skopeo, crane, podman) follow the redirect.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { DOCKER_MANIFEST, V2Client, blobOf, randomBlob, sha256 } from '../../helpers/v2.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistry({ label: 'redirect', config: await scaleOutConfig({ FEATURE_PROXY_STORAGE: false, BLOB_REDIRECT_URL_EXPIRATION_SECONDS: 120 }) });
});

afterAll(async () => {
  await reg?.stop();
});

async function storageOps(operation: string): Promise<number> {
  const text = await (await fetch(`${reg.url}/metrics`)).text();
  const m = new RegExp(`^quay_storage_operation_duration_seconds_count\\{driver="S3Storage",operation="${operation}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** A layer podman can apply: a tar holding one file of random bytes. */
async function tarLayer(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'random.bin', mode: 0o644 }, randomBytes(1024 * 1024));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('GET redirects to a pre-signed URL of the bucket (Range goes with it); HEAD answers locally', async () => {
  const client = V2Client.basic(reg);
  const layer = randomBlob(3 * 1024 * 1024);
  await client.pushImage('admin/redirected', 'v1', { layers: [layer] });

  const get = await client.req('GET', `/v2/admin/redirected/blobs/${layer.digest}`);
  expect(get.status).toBe(302);
  const location = new URL(get.headers.get('location')!);
  expect(location.host).not.toBe(reg.hostPort);
  expect(location.searchParams.get('X-Amz-Expires')).toBe('120');
  expect(get.headers.get('docker-content-digest')).toBe(layer.digest);
  const direct = await fetch(location);
  expect(direct.status).toBe(200);
  expect(sha256(Buffer.from(await direct.arrayBuffer()))).toBe(layer.digest);
  const part = await fetch(location, { headers: { range: 'bytes=10-19' } });
  expect(part.status).toBe(206);
  expect(Buffer.from(await part.arrayBuffer()).equals(layer.data.subarray(10, 20))).toBe(true);

  const head = await client.req('HEAD', `/v2/admin/redirected/blobs/${layer.digest}`);
  expect(head.status).toBe(200);
  expect(head.headers.get('content-length')).toBe(String(layer.size));

  // Further GETs read no bytes, and within the first quarter of the URL's lifetime answer the same URL without
  // signing again; the URL handed out is still valid for at least three quarters of its lifetime.
  const before = { sign: await storageOps('sign_url'), read: await storageOps('open_read') };
  for (let i = 0; i < 3; i++) {
    const again = await client.req('GET', `/v2/admin/redirected/blobs/${layer.digest}`);
    expect(again.status).toBe(302);
    expect(again.headers.get('location')).toBe(location.href);
  }
  expect(await storageOps('sign_url')).toBe(before.sign);
  expect(await storageOps('open_read')).toBe(before.read);
  const signedAt = Date.parse(location.searchParams.get('X-Amz-Date')!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  expect(signedAt + 120_000 - Date.now()).toBeGreaterThanOrEqual(90_000);

  // An unknown blob is still the registry's 404, never a redirect.
  const unknown = await client.req('GET', `/v2/admin/redirected/blobs/sha256:${'0'.repeat(64)}`);
  expect(unknown.status).toBe(404);
});

test('skopeo, crane and podman pull through the redirect, byte for byte', async () => {
  const client = V2Client.basic(reg);
  const layer = blobOf(await tarLayer());
  const img = await client.pushImage('admin/clients', 'v1', { layers: [layer], mediaType: DOCKER_MANIFEST });
  const sb = clientSandbox('redirect-clients');
  const ref = `${reg.hostPort}/admin/clients:v1`;
  const creds = `${reg.admin.username}:${reg.admin.password}`;

  const out = join(sb.dir, 'oci');
  await sb.run('skopeo', ['copy', '--preserve-digests', ...INSECURE.skopeoCopy, '--src-creds', creds, `docker://${ref}`, `oci:${out}:v1`]);
  expect(readFileSync(join(out, 'blobs', 'sha256', layer.digest.slice(7))).equals(layer.data)).toBe(true);

  await sb.run('crane', ['auth', 'login', ...INSECURE.crane, reg.hostPort, '-u', reg.admin.username, '-p', reg.admin.password]);
  await sb.run('crane', ['pull', ...INSECURE.crane, '--format', 'oci', ref, join(sb.dir, 'crane-oci')]);
  expect(readFileSync(join(sb.dir, 'crane-oci', 'blobs', 'sha256', layer.digest.slice(7))).equals(layer.data)).toBe(true);

  await sb.run('podman', ['pull', ...INSECURE.podman, '--creds', creds, ref]);
  const inspect = JSON.parse((await sb.run('podman', ['image', 'inspect', ref])).stdout) as Array<{ Digest: string }>;
  expect(inspect[0].Digest).toBe(img.digest);
});
