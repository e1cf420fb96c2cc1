/**
 * Lying manifests (issue 13, finding 3): a descriptor whose size differs from the stored content is refused
 * with MANIFEST_INVALID, and configs are read with a hard cap, so an oversized config costs no memory at push
 * or in the REST manifest view.
 */
import { readFileSync } from 'node:fs';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, blobOf, randomBlob, errorCode, sha256, OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER } from '../../helpers/v2.js';
import { signin, type Api } from '../api/fixture.js';

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('manifest descriptors against stored content', () => {
  let reg: RegistryProcess;
  let c: V2Client;
  let api: Api;

  beforeAll(async () => {
    reg = await startRegistry({ label: 'lying-manifests' });
    c = V2Client.basic(reg);
    api = await signin(reg, reg.admin.username, reg.admin.password);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('a config, layer or child manifest whose declared size differs from the stored one is MANIFEST_INVALID', async () => {
    const r = 'admin/lying';
    const cfg = blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { a: 'b' } } })));
    const layer = randomBlob(4096);
    for (const b of [cfg, layer]) expect((await c.pushBlob(r, b)).status).toBe(201);
    const image = (cfgSize: number, layerSize: number) => ({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfgSize },
      layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layerSize }],
    });
    for (const [cs, ls] of [
      [10, layer.size],
      [cfg.size, 1],
      [cfg.size, layer.size * 1000],
    ]) {
      const res = await c.pushManifest(r, 'lie', image(cs, ls));
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('MANIFEST_INVALID');
    }
    expect((await c.req('GET', `/v2/${r}/manifests/lie`, { headers: { accept: OCI_MANIFEST } })).status).toBe(404);
    const honest = Buffer.from(JSON.stringify(image(cfg.size, layer.size)));
    expect((await c.pushManifest(r, 'ok', honest.toString())).status).toBe(201);
    const index = (size: number) => ({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(honest), size }] });
    const lyingIndex = await c.pushManifest(r, 'idx', index(honest.length + 1), OCI_INDEX);
    expect(lyingIndex.status).toBe(400);
    expect(await errorCode(lyingIndex)).toBe('MANIFEST_INVALID');
    expect((await c.pushManifest(r, 'idx', index(honest.length), OCI_INDEX)).status).toBe(201);
  });

  test("a config's labels reach every manifest pushed with it; a config stored only for another repository is refused, with no labels", async () => {
    const cfg = blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { team: 'blue' } } })));
    const layer = randomBlob(1024);
    const image = (n: number) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfg.size },
        layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
        annotations: { n: String(n) },
      });
    for (const b of [cfg, layer]) expect((await c.pushBlob('admin/labelled', b)).status).toBe(201);
    // The second push finds the config's labels known (content-addressed); both manifests carry them.
    for (const n of [1, 2]) {
      expect((await c.pushManifest('admin/labelled', `v${n}`, image(n))).status).toBe(201);
      const labels = await api.get<{ labels: Array<{ key: string; value: string }> }>(`/repository/admin/labelled/manifest/${sha256(Buffer.from(image(n)))}/labels`);
      expect(labels.body.labels.map((l) => [l.key, l.value])).toEqual([['team', 'blue']]);
    }
    // The config's bytes are in storage (and its labels known), but not in this repository: refused.
    expect((await c.pushBlob('admin/other', layer)).status).toBe(201);
    const refused = await c.pushManifest('admin/other', 'v1', image(3));
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe('MANIFEST_BLOB_UNKNOWN');
    expect((await c.req('GET', `/v2/admin/other/manifests/v1`, { headers: { accept: OCI_MANIFEST } })).status).toBe(404);
  });

  test('an oversized config is neither read at push nor in parallel REST manifest views', async () => {
    const r = 'admin/bigconfig';
    // 24 MiB of valid JSON carrying a label: above the 4 MiB cap, so its labels are not read.
    const big = blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { big: 'yes' } }, pad: 'x'.repeat(24 * 1024 * 1024) })));
    const layer = randomBlob(1024);
    for (const b of [big, layer]) expect((await c.pushBlob(r, b)).status).toBe(201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: big.digest, size: big.size },
        layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
      }),
    );
    expect((await c.pushManifest(r, 'v1', manifest.toString())).status).toBe(201);
    const digest = sha256(manifest);
    const labels = await api.get<{ labels: unknown[] }>(`/repository/${r}/manifest/${digest}/labels`);
    expect(labels.status).toBe(200);
    expect(labels.body.labels).toEqual([]);
    const pid = reg.process.child.pid!;
    const before = rssBytes(pid);
    const views = await Promise.all(Array.from({ length: 4 }, () => api.get<{ layers: unknown[] }>(`/repository/${r}/manifest/${digest}`)));
    for (const v of views) {
      expect(v.status).toBe(200);
      expect(v.body.layers).toHaveLength(1);
    }
    // Four whole reads of the config would add ~100 MiB and more (buffers and their string copies).
    expect(rssBytes(pid) - before).toBeLessThan(40 * 1024 * 1024);
  });
});
