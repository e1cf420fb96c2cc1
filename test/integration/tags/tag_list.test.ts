/**
 * The registry's tag list (`/v2/<name>/tags/list`) is served from memory between changes: two replicas on one
 * Postgres, each with its own copy of a page, must show every push, move, delete and expiry at once, whoever
 * made the change; and an expiry shows without any write at all.
 */
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client } from '../../helpers/v2.js';
import { signin } from '../api/fixture.js';
import { sleep } from '../gc/lib.js';

let a: RegistryProcess;
let b: RegistryProcess;

beforeAll(async () => {
  // No expiry worker pass and no GC during the test: an expiry must show without any write to the tag.
  // LABELED_EXPIRATION_MINIMUM: an API expiry a few seconds after the push (Quay's default clamps it to 1 h).
  const config = await scaleOutConfig({ SUPER_USERS: ['admin'], TAG_EXPIRY_FREQUENCY: 3600, FEATURE_GARBAGE_COLLECTION: false, LABELED_EXPIRATION_MINIMUM: '1s' });
  a = await startRegistry({ label: 'tag-list-a', config });
  b = await startRegistry({ label: 'tag-list-b', config, adminPassword: a.admin.password });
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

async function tags(reg: RegistryProcess, query = ''): Promise<{ tags: string[]; link: string | null }> {
  const r = await V2Client.basic(reg).req('GET', `/v2/admin/listed/tags/list${query}`);
  expect(r.status).toBe(200);
  return { tags: ((await r.json()) as { tags: string[] }).tags, link: r.headers.get('link') };
}

test('pushes, deletes and expiries on either replica show at once on both', async () => {
  const onA = V2Client.basic(a);
  const onB = V2Client.basic(b);
  const first = await onA.pushImage('admin/listed', 'v1');
  expect((await onA.pushManifest('admin/listed', 'v2', first.manifest.toString())).status).toBe(201);
  for (const reg of [a, b]) expect((await tags(reg)).tags).toEqual(['v1', 'v2']);
  expect(await tags(a, '?n=1')).toEqual({ tags: ['v1'], link: '</v2/admin/listed/tags/list?n=1&last=v1>; rel="next"' });

  // A push on B is seen by A, whose page was cached.
  await onB.pushImage('admin/listed', 'v0');
  expect((await tags(a)).tags).toEqual(['v0', 'v1', 'v2']);
  expect(await tags(a, '?n=1')).toEqual({ tags: ['v0'], link: '</v2/admin/listed/tags/list?n=1&last=v0>; rel="next"' });

  // A tag deleted through B disappears on A.
  const del = await onB.req('DELETE', '/v2/admin/listed/manifests/v2');
  expect(del.status).toBe(202);
  expect((await tags(a)).tags).toEqual(['v0', 'v1']);
  expect((await tags(a, '?n=1&last=v0')).link).toBeNull();

  // An expiry set through the API on B: the tag is listed until it passes, then gone without any write.
  const api = await signin(b, 'admin', a.admin.password);
  const expiresAt = Math.floor(Date.now() / 1000) + 3;
  await api.ok('PUT', '/repository/admin/listed/tag/v1', { expiration: expiresAt });
  for (const reg of [a, b]) expect((await tags(reg)).tags).toEqual(['v0', 'v1']);
  expect((await tags(a, '?n=1')).link).not.toBeNull();
  while (Date.now() < expiresAt * 1000 + 200) await sleep(200);
  for (const reg of [a, b]) expect((await tags(reg)).tags).toEqual(['v0']);
  expect((await tags(a, '?n=1')).link).toBeNull();
});
