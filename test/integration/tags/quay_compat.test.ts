/**
 * Wire compatibility with Quay's REST API for tags, manifests and labels: paging parameters brought into
 * range rather than refused, expirations as browsers send them, the label creation answer, the layer list
 * built from the image config's history, and `last_modified` of repository listings.
 */
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { Client, imageOf, makeImage, type Image } from '../gc/lib.js';
import { jsonBlob, randomBlob, type Blob } from '../../helpers/v2.js';
import { signin, type Api } from '../api/fixture.js';

let reg: RegistryProcess;
let api: Api;
let v2: Client;

beforeAll(async () => {
  reg = await startRegistry({ label: 'tags-compat', config: { DB_URI: await createTestDatabase('tagscompat'), SUPER_USERS: ['admin'] } });
  api = await signin(reg, 'admin', reg.admin.password);
  v2 = new Client(reg);
});
afterAll(async () => {
  await reg?.stop();
});

/** An OCI image whose config carries `history` (what `docker build` and buildah write). */
function imageWithHistory(layers: Blob[], history: Record<string, unknown>[]): Image {
  return imageOf(jsonBlob({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, history }), layers);
}

test('the tag list brings page and limit into range as Quay does (limit at most 100, page at least 1)', async () => {
  const img = makeImage([randomBlob(256)]);
  await v2.pushImage('admin/many', 't000', img);
  for (let i = 1; i < 105; i++) await api.ok('PUT', `/repository/admin/many/tag/t${String(i).padStart(3, '0')}`, { manifest_digest: img.digest });
  const R = '/repository/admin/many/tag/';

  const capped = await api.ok('GET', `${R}?onlyActiveTags=True&limit=1000`);
  expect(capped).toMatchObject({ page: 1, has_additional: true });
  expect(capped.tags).toHaveLength(100);
  const rest = await api.ok('GET', `${R}?onlyActiveTags=True&limit=100&page=2`);
  expect(rest).toMatchObject({ page: 2, has_additional: false });
  expect(rest.tags).toHaveLength(5);
  expect(new Set([...capped.tags, ...rest.tags].map((t: { name: string }) => t.name)).size).toBe(105);

  const low = await api.ok('GET', `${R}?limit=0&page=-3`);
  expect(low).toMatchObject({ page: 1, has_additional: true });
  expect(low.tags).toHaveLength(1);
  expect((await api.ok('GET', `${R}?page=0`)).tags).toHaveLength(50);
});

test('a tag expiration may be fractional epoch seconds (the browser UI sends them)', async () => {
  await v2.pushImage('admin/exp', 'soon', makeImage([randomBlob(128)]));
  const at = Date.now() / 1000 + 3600.75;
  const r = await api.call('PUT', '/repository/admin/exp/tag/soon', { expiration: at });
  expect(r.status).toBe(201);
  expect(r.body).toBe('Updated');
  const [tag] = (await api.ok('GET', '/repository/admin/exp/tag/?specificTag=soon&onlyActiveTags=true')).tags;
  expect(tag.end_ts).toBe(Math.floor(at));
});

test('adding a label answers 201 with {label: ...}, as Quay does', async () => {
  const img = makeImage([randomBlob(128)]);
  await v2.pushImage('admin/labelled', 'v1', img);
  const r = await api.call('POST', `/repository/admin/labelled/manifest/${img.digest}/labels`, { key: 'owner', value: 'team-b', media_type: null });
  expect(r.status).toBe(201);
  expect(r.body).toEqual({ label: { id: expect.any(String), key: 'owner', value: 'team-b', source_type: 'api', media_type: 'text/plain' } });
  expect(r.headers.get('location')).toMatch(new RegExp(`/labels/${r.body.label.id}$`));
});

test('manifest layers come from the image config history: commands, authors, dates, and empty layers', async () => {
  const base = randomBlob(300);
  const top = randomBlob(200);
  const img = imageWithHistory(
    [base, top],
    [
      { created: '2024-01-02T03:04:05Z', created_by: '/bin/sh -c #(nop) ADD file:0a1b in / ' },
      { created: '2024-01-02T03:04:06Z', created_by: '/bin/sh -c #(nop)  ENV GREETING=hello', empty_layer: true },
      { created: '2024-01-02T03:04:07.5Z', created_by: '/bin/sh -c make install', author: 'builder@example.com', comment: 'buildkit' },
    ],
  );
  await v2.pushImage('admin/layers', 'v1', img);
  const m = await api.ok('GET', `/repository/admin/layers/manifest/${img.digest}`);
  expect(m.layers).toEqual([
    {
      index: 0,
      compressed_size: 300,
      is_remote: false,
      urls: null,
      command: ['/bin/sh -c #(nop) ADD file:0a1b in / '],
      comment: null,
      author: null,
      blob_digest: base.digest,
      created_datetime: 'Tue, 02 Jan 2024 03:04:05 -0000',
    },
    {
      index: 1,
      compressed_size: 32,
      is_remote: false,
      urls: null,
      command: ['/bin/sh -c #(nop)  ENV GREETING=hello'],
      comment: null,
      author: null,
      blob_digest: 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4',
      created_datetime: 'Tue, 02 Jan 2024 03:04:06 -0000',
    },
    {
      index: 2,
      compressed_size: 200,
      is_remote: false,
      urls: null,
      command: ['/bin/sh -c make install'],
      comment: 'buildkit',
      author: 'builder@example.com',
      blob_digest: top.digest,
      created_datetime: 'Tue, 02 Jan 2024 03:04:07 -0000',
    },
  ]);

  // Without history, one entry per layer; the last one is described by the config itself.
  const plain = makeImage([randomBlob(100), randomBlob(100)]);
  await v2.pushImage('admin/layers', 'plain', plain);
  const p = await api.ok('GET', `/repository/admin/layers/manifest/${plain.digest}`);
  expect(p.layers.map((l: { blob_digest: string }) => l.blob_digest)).toEqual(plain.layers.map((l) => l.digest));
  expect(p.layers[0].created_datetime).toBeNull();
  expect(p.layers[1].created_datetime).toMatch(/ -0000$/);
});

test('repository listings: last_modified is the start of the newest live tag', async () => {
  await v2.pushImage('admin/lm', 'kept', makeImage([randomBlob(64)]));
  await new Promise((r) => setTimeout(r, 1100));
  await v2.pushImage('admin/lm', 'gone', makeImage([randomBlob(64)]));
  await api.ok('DELETE', '/repository/admin/lm/tag/gone');
  const [kept] = (await api.ok('GET', '/repository/admin/lm/tag/?specificTag=kept')).tags;
  const list = await api.ok('GET', '/repository?namespace=admin&last_modified=true');
  expect(list.repositories.find((r: { name: string }) => r.name === 'lm').last_modified).toBe(kept.start_ts);
});
