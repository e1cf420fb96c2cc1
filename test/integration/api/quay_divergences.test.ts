/**
 * Answers that used to differ from Quay 3.8's, each against the real registry process on Postgres:
 *   - bare JSON strings (`"Created"`, `"Updated"`) as `application/json` (endpoints/api/namespacequota.py
 *     OrganizationQuotaList.post / OrganizationQuotaLimitList.post, endpoints/api/tag.py RepositoryTag.put);
 *   - 308 to the slashed URL for routes Quay declares with a trailing slash (werkzeug strict slashes);
 *   - tag expiration clamped to [pushed + 1 h, pushed + 104 weeks] with 201 (data/model/oci/tag.py
 *     change_tag_expiration, LABELED_EXPIRATION_MINIMUM / _MAXIMUM).
 */
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob } from '../../helpers/v2.js';
import { Api, signin } from './fixture.js';

let reg: RegistryProcess;
let admin: Api;

beforeAll(async () => {
  reg = await startRegistry({ label: 'divergences', config: await scaleOutConfig({ SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true }) });
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
});

afterAll(async () => {
  await reg?.stop();
});

/** The raw answer: status, content type and body text. */
async function raw(method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { cookie: admin.auth.cookie!, 'x-csrf-token': admin.auth.csrf! };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${reg.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  return { status: r.status, type: r.headers.get('content-type') ?? '', location: r.headers.get('location'), text: await r.text() };
}

test('"Created" and "Updated" are JSON strings, as Quay answers them', async () => {
  const created = await raw('POST', '/organization/acme/quota', { limit_bytes: 1024 ** 3 });
  expect(created).toMatchObject({ status: 201, text: '"Created"' });
  expect(created.type).toMatch(/^application\/json/);
  const [quota] = await admin.ok('GET', '/organization/acme/quota');
  const limit = await raw('POST', `/organization/acme/quota/${quota.id}/limit`, { type: 'Warning', threshold_percent: 70 });
  expect(limit).toMatchObject({ status: 201, text: '"Created"' });
  expect(limit.type).toMatch(/^application\/json/);
  const image = await V2Client.basic(reg).pushImage('acme/app', 'v1', { layers: [randomBlob(256)] });
  const tagged = await raw('PUT', '/repository/acme/app/tag/v2', { manifest_digest: image.digest });
  expect(tagged).toMatchObject({ status: 201, text: '"Updated"' });
  expect(tagged.type).toMatch(/^application\/json/);
  expect(JSON.parse(tagged.text)).toBe('Updated');
});

test('routes Quay declares with a trailing slash answer 308 to it without one; others stay 404', async () => {
  const user = await raw('GET', '/user');
  expect(user).toMatchObject({ status: 308, location: '/api/v1/user/' });
  expect((await raw('GET', '/superuser/users?limit=5')).location).toBe('/api/v1/superuser/users/?limit=5');
  expect(await raw('POST', '/organization', { name: 'other', email: 'o@example.com' })).toMatchObject({ status: 308, location: '/api/v1/organization/' });
  expect(await raw('GET', '/repository/acme/app/tag')).toMatchObject({ status: 308, location: '/api/v1/repository/acme/app/tag/' });
  // Following the redirect works, method and body kept (fetch follows 308 with them).
  const followed = await fetch(`${reg.url}/api/v1/user`, { headers: { cookie: admin.auth.cookie! } });
  expect(followed.status).toBe(200);
  expect(((await followed.json()) as { username: string }).username).toBe('admin');
  expect((await raw('GET', '/nothing-like-this')).status).toBe(404);
  expect((await raw('DELETE', '/user')).status).toBe(308);
  expect((await raw('PATCH', '/user')).status).toBe(404);
});

test('a tag expiration is clamped to [pushed + 1 h, pushed + 104 weeks] and answered 201, not stored as given', async () => {
  await V2Client.basic(reg).pushImage('acme/clamp', 'v1', { layers: [randomBlob(128)] });
  const tag = async () => (await admin.ok('GET', '/repository/acme/clamp/tag/?specificTag=v1&onlyActiveTags=true')).tags[0] as { start_ts: number; end_ts?: number };
  const { start_ts } = await tag();
  const now = Math.floor(Date.now() / 1000);
  expect((await admin.put('/repository/acme/clamp/tag/v1', { expiration: now + 61 })).status).toBe(201);
  expect((await tag()).end_ts).toBe(start_ts + 3600);
  expect((await admin.put('/repository/acme/clamp/tag/v1', { expiration: now + 3 * 365 * 86400 })).status).toBe(201);
  expect((await tag()).end_ts).toBe(start_ts + 104 * 7 * 86400);
  // The year 2100: clamped as well, not refused.
  expect((await admin.put('/repository/acme/clamp/tag/v1', { expiration: Date.UTC(2100, 0, 1) / 1000 })).status).toBe(201);
  expect((await tag()).end_ts).toBe(start_ts + 104 * 7 * 86400);
  // Inside the bounds: stored as given; in the past: refused, as Quay.
  expect((await admin.put('/repository/acme/clamp/tag/v1', { expiration: now + 7200 })).status).toBe(201);
  expect((await tag()).end_ts).toBe(now + 7200);
  expect((await admin.put('/repository/acme/clamp/tag/v1', { expiration: now - 10 })).status).toBe(400);
});
