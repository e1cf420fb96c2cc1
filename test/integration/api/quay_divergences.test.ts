/**
 * Answers that used to differ from Quay 3.8's, each against the real registry process on Postgres:
 *   - bare JSON strings (`"Created"`, `"Updated"`) as `application/json` (endpoints/api/namespacequota.py
 *     OrganizationQuotaList.post / OrganizationQuotaLimitList.post, endpoints/api/tag.py RepositoryTag.put);
 *   - 308 to the slashed URL for routes Quay declares with a trailing slash (werkzeug strict slashes);
 *   - tag expiration clamped to [pushed + 1 h, pushed + 104 weeks] with 201 (data/model/oci/tag.py
 *     change_tag_expiration, LABELED_EXPIRATION_MINIMUM / _MAXIMUM);
 *   - avatars: SHA-256 of the e-mail, one per account in every view (avatars/avatars.py BaseAvatar.get_data);
 *   - a private repository's `status_token` is its badge token (endpoints/api/repository_models_interface.py
 *     RepositoryDetails.to_dict), which opens its badge (endpoints/web.py build_status_badge);
 *   - usage-log metadata as Quay writes it (endpoints/api/tag.py, endpoints/api/manifest.py, util/audit.py
 *     track_and_log with auth/context_entity.py's public metadata);
 *   - error bodies with exactly ApiException's keys and jsonschema's texts (endpoints/exception.py,
 *     endpoints/api/__init__.py validate_json_request);
 *   - discovery with one `{repository}` parameter and Quay's operation ids (endpoints/api/discovery.py).
 */
import { createHash } from 'node:crypto';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob } from '../../helpers/v2.js';
import { Api, createUser, signin } from './fixture.js';

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

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** Quay 3.8's AVATAR_COLORS (config.py), indexed by the hash's first two hex digits. */
const QUAY_COLORS =
  '#969696 #aec7e8 #ff7f0e #ffbb78 #2ca02c #98df8a #d62728 #ff9896 #9467bd #c5b0d5 #8c564b #c49c94 #e377c2 #f7b6d2 #7f7f7f #c7c7c7 #bcbd22 #1f77b4 #17becf #9edae5 #393b79 #5254a3 #6b6ecf #9c9ede #9ecae1 #31a354 #b5cf6b #a1d99b #8c6d31 #ad494a #e7ba52 #a55194'.split(
    ' ',
  );

test('avatars: the SHA-256 of the e-mail, and one avatar per account in every view', async () => {
  await createUser(admin, 'avabob');
  const hash = sha256('avabob@example.com');
  const expected = { name: 'avabob', hash, color: QUAY_COLORS[parseInt(hash.slice(0, 2), 16) % 32], kind: 'user' };
  const users = (await admin.ok('GET', '/superuser/users/')).users as { name: string; avatar: unknown }[];
  expect(users.find((u) => u.name === 'avabob')?.avatar).toEqual(expected);
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'avatars', visibility: 'private', description: '' });
  await admin.ok('PUT', '/repository/acme/avatars/permissions/user/avabob', { role: 'read' });
  // The listing of repository permissions and a pending team member: the same avatar as everywhere else.
  expect((await admin.ok('GET', '/repository/acme/avatars/permissions/user/')).permissions.avabob.avatar).toEqual(expected);
  expect((await admin.ok('GET', '/repository/acme/avatars/permissions/user/avabob')).avatar).toEqual(expected);
  await admin.ok('PUT', '/organization/acme/team/avatarteam', { role: 'member' });
  await admin.ok('PUT', '/organization/acme/team/avatarteam/members/avabob');
  const members = (await admin.ok('GET', '/organization/acme/team/avatarteam/members?includePending=true')).members as { name: string; avatar: unknown }[];
  expect(members.find((m) => m.name === 'avabob')?.avatar).toEqual(expected);
  // Log entries that span namespaces show the namespace's avatar from its e-mail too.
  const org = await admin.ok('GET', '/organization/acme');
  expect(org.avatar).toEqual(expect.objectContaining({ hash: sha256('acme@example.com'), kind: 'org' }));
  const logs = (await admin.ok('GET', '/superuser/logs')).logs as { namespace?: { name: string; avatar: unknown } }[];
  expect(logs.find((l) => l.namespace?.name === 'acme')?.namespace?.avatar).toEqual(org.avatar);
});

test("a private repository's status_token is its badge token, which opens the build badge", async () => {
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'badge', visibility: 'private', description: '' });
  const token = (await admin.ok('GET', '/repository/acme/badge')).status_token as string;
  expect(token).toMatch(/^[0-9a-f-]{36}$/);
  const badge = await fetch(`${reg.url}/repository/acme/badge/status?token=${token}`);
  expect(badge.status).toBe(200);
  expect(badge.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  expect(badge.headers.get('etag')).toBe('none');
  expect(await badge.text()).toContain('none');
  expect((await fetch(`${reg.url}/repository/acme/badge/status`)).status).toBe(404);
  expect((await fetch(`${reg.url}/repository/acme/badge/status?token=${token.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}`)).status).toBe(404);
  expect((await fetch(`${reg.url}/repository/acme/badge/status?token=${token}`, { headers: { 'if-none-match': 'none' } })).status).toBe(304);
  // Public: no token in the view, and the badge needs none.
  await admin.ok('POST', '/repository/acme/badge/changevisibility', { visibility: 'public' });
  expect((await admin.ok('GET', '/repository/acme/badge')).status_token).toBe('');
  expect((await fetch(`${reg.url}/repository/acme/badge/status`)).status).toBe(200);
});

test('usage-log metadata carries the keys Quay writes', async () => {
  const v2 = V2Client.basic(reg);
  const one = await v2.pushImage('acme/logged', 'v1', { layers: [randomBlob(64)] });
  const two = await v2.pushImage('acme/logged', 'v2', { layers: [randomBlob(64)] });
  const pulled = await v2.req('GET', '/v2/acme/logged/manifests/v1', { headers: { 'user-agent': 'compat-client/1.0', accept: 'application/vnd.oci.image.manifest.v1+json' } });
  expect(pulled.status).toBe(200);
  await admin.ok('PUT', '/repository/acme/logged/tag/copy', { manifest_digest: one.digest });
  await admin.ok('PUT', '/repository/acme/logged/tag/copy', { manifest_digest: two.digest });
  await admin.ok('POST', `/repository/acme/logged/manifest/${one.digest}/labels`, { key: 'team', value: 'infra', media_type: 'text/plain' });
  await admin.ok('DELETE', '/repository/acme/logged/tag/copy');
  const entries = (await admin.ok('GET', '/repository/acme/logged/logs')).logs as { kind: string; metadata: Record<string, unknown> }[];
  const find = (kind: string, pred: (m: Record<string, unknown>) => boolean = () => true) => entries.find((e) => e.kind === kind && pred(e.metadata))?.metadata;
  const base = { repo: 'logged', namespace: 'acme' };
  expect(find('create_tag', (m) => m.tag === 'copy')).toEqual({ ...base, username: 'admin', tag: 'copy', manifest_digest: one.digest, original_manifest_digest: null });
  expect(find('move_tag', (m) => m.tag === 'copy')).toEqual({ ...base, username: 'admin', tag: 'copy', manifest_digest: two.digest, original_manifest_digest: one.digest });
  expect(find('delete_tag', (m) => m.tag === 'copy')).toMatchObject({ ...base, username: 'admin', tag: 'copy' });
  expect(find('manifest_label_add')).toMatchObject({ ...base, key: 'team', value: 'infra', media_type: 'text/plain', manifest_digest: one.digest });
  expect(find('pull_repo')).toMatchObject({ ...base, 'user-agent': 'compat-client/1.0', username: reg.admin.username, tag: 'v1', manifest_digest: one.digest });
  expect(find('push_repo', (m) => m.tag === 'v2')).toMatchObject({ ...base, username: reg.admin.username, manifest_digest: two.digest });
  expect(typeof find('push_repo')?.['user-agent']).toBe('string');
});

test("error bodies have exactly Quay's keys, and validation errors jsonschema's texts", async () => {
  const missing = await admin.call('POST', '/organization/', {});
  expect(missing.status).toBe(400);
  expect(Object.keys(missing.body).sort()).toEqual(['detail', 'error_message', 'error_type', 'status', 'title', 'type']);
  expect(missing.body).toMatchObject({ status: 400, title: 'invalid_request', error_type: 'invalid_request', detail: "'name' is a required property\n\nOn instance:\n    {}" });
  expect(missing.body.type).toBe(`http://${new URL(reg.url).host}/api/v1/error/invalid_request`);
  const line = async (method: string, path: string, body: unknown) => ((await admin.call(method, path, body)).body.error_message as string).split('\n');
  expect(await line('PUT', '/organization/acme/team/x', { role: 'owner' })).toEqual([
    "'owner' is not one of ['member', 'creator', 'admin']",
    '',
    "On instance['role']:",
    "    'owner'",
  ]);
  expect((await line('POST', '/repository', { namespace: 'acme', repository: 'r', visibility: 'secret', description: '' }))[0]).toBe(
    "'secret' is not one of ['public', 'private']",
  );
  expect((await line('PUT', '/organization/acme/robots/long', { description: 'x'.repeat(256) }))[0]).toBe(`'${'x'.repeat(256)}' is too long`);
  expect(await line('POST', '/organization/', { name: 'mail', email: "it's" })).toEqual([
    `"it's" does not match '^[^@\\\\s]+@[^@\\\\s.]+(\\\\.[^@\\\\s.]+)+$'`,
    '',
    "On instance['email']:",
    `    "it's"`,
  ]);
  const notFound = await admin.call('GET', '/repository/acme/nothing-here');
  expect(notFound.status).toBe(404);
  expect(Object.keys(notFound.body).sort()).toEqual(['detail', 'error_message', 'error_type', 'status', 'title', 'type']);
});

test("discovery has Quay's one {repository} path parameter and operation ids, and ns%2Fname is served", async () => {
  const doc = (await admin.ok('GET', '/discovery')) as { paths: Record<string, Record<string, { operationId: string; parameters?: { in: string; name: string }[] }>> };
  const paths = Object.keys(doc.paths);
  expect(paths).toContain('/api/v1/repository/{repository}');
  expect(paths).toContain('/api/v1/repository/{repository}/tag/');
  expect(paths).toContain('/api/v1/user/starred/{repository}');
  expect(paths.filter((p) => p.includes('{namespace}/{repository}'))).toEqual([]);
  const getRepo = doc.paths['/api/v1/repository/{repository}'].get;
  expect(getRepo.operationId).toBe('getRepo');
  expect(getRepo.parameters?.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(['repository']);
  const ids = paths.flatMap((p) => Object.values(doc.paths[p]).map((o) => o.operationId));
  for (const id of ['listUserQuotaSuperUser', 'createUserQuotaSuperUser', 'changeUserQuotaSuperUser', 'deleteUserQuotaSuperUser']) {
    expect(ids).toContain(id);
    expect(ids).toContain(id.replace('User', 'Organization'));
  }
  expect(new Set(ids).size).toBe(ids.length);
  // What a client generated from the document sends: the whole path in one encoded parameter.
  await V2Client.basic(reg).pushImage('acme/encoded', 'v1', { layers: [randomBlob(32)] });
  const viaEncoded = await raw('GET', '/repository/acme%2Fencoded');
  expect(viaEncoded.status).toBe(200);
  expect(JSON.parse(viaEncoded.text)).toMatchObject({ namespace: 'acme', name: 'encoded' });
  expect(JSON.parse((await raw('GET', '/repository/acme%2fencoded/tag/')).text).tags.map((t: { name: string }) => t.name)).toEqual(['v1']);
});
