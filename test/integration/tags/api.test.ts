/**
 * Tags, history, restore, expiry and labels through the REST API against a real registry process, with bad
 * input refused (400/404, clear message) and nothing changed.
 */
import pg from 'pg';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { Client, makeImage } from '../gc/lib.js';
import { randomBlob } from '../../helpers/v2.js';
import { signin, type Api } from '../api/fixture.js';

let reg: RegistryProcess;
let api: Api;
let v2: Client;
let dbUri: string;
const R = '/repository/admin/app';

beforeAll(async () => {
  dbUri = await createTestDatabase('tagsapi');
  reg = await startRegistry({ label: 'tags-api', config: { DB_URI: dbUri, SUPER_USERS: ['admin'] } });
  api = await signin(reg, 'admin', reg.admin.password);
  v2 = new Client(reg);
});
afterAll(async () => {
  await reg?.stop();
});

async function pulledDigest(tag: string): Promise<{ status: number; body: Buffer }> {
  const r = await v2.req('GET', `/v2/admin/app/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

/** Usage log kinds written so far, once `wanted` are all there (the registry writes logs in batches). */
async function usageKinds(wanted: string[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    const deadline = Date.now() + 5000;
    for (;;) {
      const kinds = (await c.query<{ kind: string }>('SELECT kind FROM log_entry ORDER BY datetime, id')).rows.map((r) => r.kind);
      if (wanted.every((k) => kinds.includes(k)) || Date.now() > deadline) return kinds;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await c.end();
  }
}

test('push A then B to one tag, restore A through the API, pull by tag gets A byte for byte', async () => {
  const a = makeImage([randomBlob(2048)], { 'org.example.owner': 'team-a' });
  const b = makeImage([randomBlob(2048)]);
  await v2.pushImage('admin/app', 'latest', a);
  await v2.pushImage('admin/app', 'latest', b);
  expect((await pulledDigest('latest')).body.equals(b.manifest)).toBe(true);

  const history = await api.ok('GET', `${R}/tag/?specificTag=latest`);
  expect(history.tags.map((t: { manifest_digest: string }) => t.manifest_digest)).toEqual([b.digest, a.digest]);
  expect(history.tags[1].end_ts).toBeGreaterThanOrEqual(history.tags[1].start_ts);
  expect(history.tags[0].end_ts).toBeUndefined();

  expect(await api.ok('POST', `${R}/tag/latest/restore`, { manifest_digest: a.digest })).toEqual({});
  const pulled = await pulledDigest('latest');
  expect(pulled.status).toBe(200);
  expect(pulled.body.equals(a.manifest)).toBe(true);
  const after = await api.ok('GET', `${R}/tag/?specificTag=latest&onlyActiveTags=true`);
  expect(after.tags).toHaveLength(1);
  expect(after.tags[0]).toMatchObject({ name: 'latest', manifest_digest: a.digest, reversion: true, is_manifest_list: false });

  // Labels from the image config show on the manifest; API labels can be added and removed.
  const labels = await api.ok('GET', `${R}/manifest/${a.digest}/labels?filter=org.example`);
  expect(labels.labels).toEqual([expect.objectContaining({ key: 'org.example.owner', value: 'team-a', source_type: 'manifest' })]);
  const added = await api.call('POST', `${R}/manifest/${a.digest}/labels`, { key: 'env', value: 'prod', media_type: 'text/plain' });
  expect(added.status).toBe(201);
  const labelId = added.body.label.id;
  expect(added.headers.get('location')).toContain(`/labels/${labelId}`);
  expect(await api.ok('GET', `${R}/manifest/${a.digest}/labels/${labelId}`)).toMatchObject({ key: 'env', value: 'prod', source_type: 'api' });
  expect((await api.call('DELETE', `${R}/manifest/${a.digest}/labels/${labelId}`)).status).toBe(204);
  expect((await api.get(`${R}/manifest/${a.digest}/labels/${labelId}`)).status).toBe(404);

  const wanted = ['revert_tag', 'manifest_label_add', 'manifest_label_delete'];
  const kinds = await usageKinds(wanted);
  for (const k of wanted) expect(kinds).toContain(k);
});

test('add, move, expire and delete a tag; the listing shows each state', async () => {
  const a = makeImage([randomBlob(1024)]);
  const b = makeImage([randomBlob(1024)]);
  await v2.pushImage('admin/app', 'a', a);
  await v2.pushImage('admin/app', 'b', b);
  expect((await api.call('PUT', `${R}/tag/stable`, { manifest_digest: a.digest })).status).toBe(201);
  expect((await pulledDigest('stable')).body.equals(a.manifest)).toBe(true);
  expect((await api.call('PUT', `${R}/tag/stable`, { manifest_digest: b.digest })).status).toBe(201);
  expect((await pulledDigest('stable')).body.equals(b.manifest)).toBe(true);

  const expiration = Math.floor(Date.now() / 1000) + 7200;
  const set = await api.call('PUT', `${R}/tag/stable`, { expiration });
  expect({ status: set.status, body: set.body }).toEqual({ status: 201, body: 'Updated' });
  const live = await api.ok('GET', `${R}/tag/?specificTag=stable&onlyActiveTags=true`);
  expect(live.tags[0].end_ts).toBe(expiration);
  expect(live.tags[0].expiration).toBe(new Date(expiration * 1000).toUTCString().replace('GMT', '-0000'));
  const cleared = await api.call('PUT', `${R}/tag/stable`, { expiration: null });
  expect({ status: cleared.status, body: cleared.body }).toEqual({ status: 201, body: 'Updated' });
  expect((await api.ok('GET', `${R}/tag/?specificTag=stable&onlyActiveTags=true`)).tags[0].end_ts).toBeUndefined();

  const page = await api.ok('GET', `${R}/tag/?onlyActiveTags=true&limit=1&page=1&filter_tag_name=like:tab`);
  expect(page).toMatchObject({ page: 1, has_additional: false });
  expect(page.tags.map((t: { name: string }) => t.name)).toEqual(['stable']);

  expect((await api.call('DELETE', `${R}/tag/stable`)).status).toBe(204);
  expect((await pulledDigest('stable')).status).toBe(404);
  const wanted = ['create_tag', 'move_tag', 'change_tag_expiration', 'delete_tag'];
  const kinds = await usageKinds(wanted);
  for (const k of wanted) expect(kinds).toContain(k);
});

test('bad input is refused with a clear message and changes nothing', async () => {
  const a = makeImage([randomBlob(512)]);
  await v2.pushImage('admin/app', 'keep', a);
  const before = await api.ok('GET', `${R}/tag/?specificTag=keep`);
  const cases: Array<[string, string, unknown, number, RegExp]> = [
    ['DELETE', `${R}/tag/nosuchtag`, undefined, 404, /not found/],
    ['PUT', `${R}/tag/keep`, { expiration: Math.floor(Date.now() / 1000) - 60 }, 400, /in the future/],
    ['PUT', `${R}/tag/keep`, { manifest_digest: `sha256:${'1'.repeat(64)}` }, 404, /not found/],
    ['PUT', `${R}/tag/-bad`, { manifest_digest: a.digest }, 400, /Invalid tag name/],
    ['PUT', `${R}/tag/nosuchtag`, { expiration: Math.floor(Date.now() / 1000) + 60 }, 404, /not found/],
    ['POST', `${R}/tag/keep/restore`, { manifest_digest: `sha256:${'2'.repeat(64)}` }, 404, /not found/],
    ['POST', `${R}/manifest/${a.digest}/labels`, { key: 'quay.expires-after', value: '1h', media_type: 'text/plain' }, 400, /reserved prefix/],
    ['POST', `${R}/manifest/${a.digest}/labels`, { key: 'Bad Key', value: 'x', media_type: 'text/plain' }, 400, /invalid format/],
    ['POST', `${R}/manifest/${a.digest}/labels`, { key: 'json', value: '{nope', media_type: 'application/json' }, 400, /not valid JSON/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await api.call(method, path, body);
    expect({ path, method, status: r.status }).toEqual({ path, method, status });
    expect(r.body.detail ?? r.body.error_message ?? r.body.message).toMatch(message);
  }
  // A query parameter its type refuses answers as Quay's flask-restful parser does: the parameter's help text.
  const badLimit = await api.call('GET', `${R}/tag/?limit=many`);
  expect({ status: badLimit.status, body: badLimit.body }).toEqual({ status: 400, body: { message: { limit: 'Limit to the number of results to return per page. Max 100.' } } });
  expect(await api.ok('GET', `${R}/tag/?specificTag=keep`)).toEqual(before);
  expect((await api.ok('GET', `${R}/manifest/${a.digest}/labels?filter=json`)).labels).toEqual([]);
});

test('restore outside the time machine window is refused', async () => {
  const old = makeImage([randomBlob(256)]);
  const cur = makeImage([randomBlob(256)]);
  await v2.pushImage('admin/app', 'tm', old);
  await v2.pushImage('admin/app', 'tm', cur);
  // A window of 0 s: history that has ended is outside it at once.
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  await c.query("UPDATE namespace SET removed_tag_expiration_s = 0 WHERE name = 'admin'");
  await c.end();
  const r = await api.call('POST', `${R}/tag/tm/restore`, { manifest_digest: old.digest });
  expect(r.status).toBe(400);
  expect(r.body.detail).toMatch(/outside the time machine window/);
  expect((await pulledDigest('tm')).body.equals(cur.manifest)).toBe(true);
});
