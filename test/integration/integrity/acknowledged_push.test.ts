/**
 * An acknowledged push survives a SIGKILL of the registry right after its 201 (issue 15: LocalStorage writes
 * gathered into 1 MiB writev calls, one in flight while the next batch arrives, fdatasynced before the
 * answer). Blobs pushed whole (40 MiB: many batches) and in several PATCHes (published as a joined file); the registry is killed the moment each 201 arrives, restarted on the same data, and
 * every acknowledged blob and manifest is served with exactly its bytes, and stored with them on disk.
 */
import { createReadStream } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, blobOf, jsonBlob, sha256, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, type Blob } from '../../helpers/v2.js';
import { createTestDatabase } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';

async function storedDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe('acknowledged pushes on LocalStorage survive a SIGKILL right after the 201', () => {
  let reg: RegistryProcess;
  let storage: string;
  let config: Record<string, unknown>;

  beforeAll(async () => {
    storage = join(workDir('ack-push'), 'storage');
    config = {
      DB_URI: await createTestDatabase('ack_push'),
      SUPER_USERS: ['admin'],
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: storage }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
    };
    reg = await startRegistry({ config, label: 'ack-push' });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  /** Kill the registry as soon as `answer` arrives, then start it again on the same data and port. */
  async function killAfter(answer: Promise<Response>): Promise<Response> {
    const res = await answer;
    await reg.kill();
    reg = await startRegistry({ config, label: 'ack-push', dataDir: reg.dataDir, port: reg.port });
    return res;
  }

  async function expectServedAndStored(repo: string, blob: Blob): Promise<void> {
    const got = await V2Client.basic(reg).req('GET', `/v2/${repo}/blobs/${blob.digest}`);
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(blob.digest);
    expect(await storedDigest(join(storage, 'sha256', blob.digest.slice(7, 9), blob.digest.slice(7)))).toBe(blob.digest);
  }

  test('a blob pushed in one request (40 MiB)', async () => {
    const blob = blobOf(randomBytes(40 * 1024 * 1024));
    const res = await killAfter(V2Client.basic(reg).pushBlob('admin/ack', blob));
    expect(res.status).toBe(201);
    await expectServedAndStored('admin/ack', blob);
  }, 180_000);

  test('a blob pushed in three PATCHes, then a manifest referencing it', async () => {
    const c = V2Client.basic(reg);
    const parts = [randomBytes(3 * 1024 * 1024 + 17), randomBytes(1), randomBytes(5 * 1024 * 1024 - 3)];
    const layer = blobOf(Buffer.concat(parts));
    const start = await c.req('POST', '/v2/admin/ack/blobs/uploads/');
    expect(start.status).toBe(202);
    let location = start.headers.get('location')!;
    let offset = 0;
    for (const part of parts) {
      const patch = await c.req('PATCH', location, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + part.length - 1}`, 'content-length': String(part.length) },
        body: part,
      });
      expect(patch.status).toBe(202);
      offset += part.length;
      location = patch.headers.get('location')!;
    }
    const sep = location.includes('?') ? '&' : '?';
    const res = await killAfter(c.req('PUT', `${location}${sep}digest=${layer.digest}`));
    expect(res.status).toBe(201);
    await expectServedAndStored('admin/ack', layer);

    const cfg = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') });
    expect((await V2Client.basic(reg).pushBlob('admin/ack', cfg)).status).toBe(201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
    });
    const put = await killAfter(V2Client.basic(reg).pushManifest('admin/ack', 'v1', manifest));
    expect(put.status).toBe(201);
    const got = await V2Client.basic(reg).req('GET', '/v2/admin/ack/manifests/v1', { headers: { accept: OCI_MANIFEST } });
    expect(got.status).toBe(200);
    expect(await got.text()).toBe(manifest);
    await expectServedAndStored('admin/ack', cfg);
  }, 240_000);
});
