/**
 * The write gate on every write path of /v2 and /api/v1, against the real registry process:
 *   - `PUT /api/v1/repository/{repo}/changestate` (Quay: endpoints/api/repository.py RepositoryStateResource.put),
 *   - a READ_ONLY repository refuses every /v2 write (tokens issued before the change included) and every tag
 *     and label change of the REST API (Quay: disallow_for_non_normal_repositories), pulls still work,
 *   - `REGISTRY_STATE: readonly` refuses /v2 writes with 405 and REST writes with 503 `{message, is_readonly}`
 *     (Quay: endpoints/decorators.py check_readonly, endpoints/v2/errors.py ReadOnlyMode),
 *   - `DISABLE_PUSHES` refuses /v2 writes with 405 and leaves the REST API alone (Quay: check_pushes_disabled).
 */
import { startRegistry, registryToken, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob, jsonBlob, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER } from '../../helpers/v2.js';
import { Api, createUser, signin } from './fixture.js';

const READ_ONLY_TEXT = 'System is currently read-only. Pulls will succeed but all write operations are currently suspended.';
const DISABLED_TEXT = 'Pushes to the registry are currently disabled. Please contact the administrator for more information.';

let reg: RegistryProcess;
let admin: Api;
let v2: V2Client;
let digest: string;
let labelId: string;
let bobPassword: string;

async function errorOf(res: Response): Promise<{ status: number; code?: string; message?: string }> {
  const body = (await res.json().catch(() => ({}))) as { errors?: { code: string; message: string }[] };
  return { status: res.status, code: body.errors?.[0]?.code, message: body.errors?.[0]?.message };
}

/** An upload session left open, to try PATCH/PUT/DELETE on it later. */
async function openUpload(client: V2Client, repo: string): Promise<string> {
  const r = await client.req('POST', `/v2/${repo}/blobs/uploads/`);
  expect(r.status).toBe(202);
  return r.headers.get('location')!;
}

function manifestFor(config: { digest: string; size: number }, layer: { digest: string; size: number }): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...config }, layers: [{ mediaType: OCI_LAYER, ...layer }] });
}

beforeAll(async () => {
  reg = await startRegistry({ label: 'write-gate', config: { SUPER_USERS: ['admin'] } });
  admin = await signin(reg, 'admin', reg.admin.password);
  bobPassword = await createUser(admin, 'bob');
  v2 = V2Client.basic(reg);
  digest = (await v2.pushImage('admin/app', 'v1')).digest;
  await v2.pushImage('admin/app', 'v2');
  labelId = (await admin.ok('POST', `/repository/admin/app/manifest/${digest}/labels`, { key: 'team', value: 'a', media_type: null })).label.id;
});

afterAll(async () => {
  await reg?.stop();
});

describe('repository state', () => {
  test("changestate: Quay's body, texts and permissions, and the audit log", async () => {
    expect((await admin.put('/repository/admin/app/changestate', { state: 'BOGUS' })).status).toBe(400);
    const mirror = await admin.put('/repository/admin/app/changestate', { state: 'MIRROR' });
    expect(mirror).toMatchObject({ status: 400, body: { detail: 'Unknown Repository State: MIRROR' } });
    expect(Object.keys(mirror.body)).toEqual(['detail']);
    const bob = await signin(reg, 'bob', bobPassword);
    expect((await bob.put('/repository/admin/app/changestate', { state: 'READ_ONLY' })).status).toBe(403);
    expect((await new Api(reg.url).put('/repository/admin/app/changestate', { state: 'READ_ONLY' })).status).toBe(401);
    expect((await admin.put('/repository/admin/missing/changestate', { state: 'READ_ONLY' })).status).toBe(404);

    expect(await admin.ok('PUT', '/repository/admin/app/changestate', { state: 'NORMAL' })).toEqual({ success: true });
    const logs = await admin.ok('GET', '/repository/admin/app/logs');
    expect(logs.logs.find((l: { kind: string }) => l.kind === 'change_repo_state')).toMatchObject({ metadata: { repo: 'app', namespace: 'admin', state_changed: 'NORMAL' } });
  });

  test('READ_ONLY: every /v2 write is refused (an earlier push token too), pulls work, and the token service withholds push', async () => {
    const earlierToken = await registryToken(reg, ['repository:admin/app:pull,push,delete'], reg.admin);
    const upload = await openUpload(v2, 'admin/app');
    await admin.ok('PUT', '/repository/admin/app/changestate', { state: 'READ_ONLY' });
    const view = await admin.ok('GET', '/repository/admin/app');
    expect(view).toMatchObject({ state: 'READ_ONLY', can_write: false, can_admin: true });

    const blob = randomBlob(64);
    const config = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const sep = upload.includes('?') ? '&' : '?';
    const writes: [string, () => Promise<Response>][] = [
      ['start upload', () => v2.req('POST', '/v2/admin/app/blobs/uploads/')],
      [
        'monolithic upload',
        () => v2.req('POST', `/v2/admin/app/blobs/uploads/?digest=${blob.digest}`, { headers: { 'content-type': 'application/octet-stream' }, body: blob.data }),
      ],
      ['mount', () => v2.req('POST', `/v2/admin/app/blobs/uploads/?mount=${blob.digest}&from=admin/other`)],
      ['patch upload', () => v2.req('PATCH', upload, { headers: { 'content-type': 'application/octet-stream' }, body: blob.data })],
      ['finish upload', () => v2.req('PUT', `${upload}${sep}digest=${blob.digest}`, { headers: { 'content-type': 'application/octet-stream' }, body: blob.data })],
      ['cancel upload', () => v2.req('DELETE', upload)],
      ['put manifest', () => v2.pushManifest('admin/app', 'v3', manifestFor(config, blob))],
      ['delete manifest', () => v2.req('DELETE', `/v2/admin/app/manifests/${digest}`)],
      ['delete blob', () => v2.req('DELETE', `/v2/admin/app/blobs/${config.digest}`)],
    ];
    for (const [name, write] of writes) {
      const e = await errorOf(await write());
      expect({ name, ...e }).toEqual({ name, status: 403, code: 'DENIED', message: 'repository app is in read-only mode' });
    }
    const withToken = new V2Client(reg, `Bearer ${earlierToken}`);
    expect(await errorOf(await withToken.req('DELETE', `/v2/admin/app/manifests/${digest}`))).toMatchObject({ status: 403, code: 'DENIED' });
    expect(await errorOf(await withToken.req('POST', '/v2/admin/app/blobs/uploads/'))).toMatchObject({ status: 403, code: 'DENIED' });

    expect((await v2.req('GET', `/v2/admin/app/manifests/v1`, { headers: { accept: OCI_MANIFEST } })).status).toBe(200);
    const fresh = await registryToken(reg, ['repository:admin/app:pull,push,delete'], reg.admin);
    const claims = JSON.parse(Buffer.from(fresh.split('.')[1], 'base64url').toString()) as { access: { actions: string[] }[] };
    expect(claims.access[0].actions).toEqual(['pull']);
  });

  test("READ_ONLY: tag and label changes of the REST API answer Quay's 503; other repository settings still change", async () => {
    const refused = { status: 503, body: { message: 'Repository is in read only or mirror mode: READ_ONLY' } };
    expect(await admin.put('/repository/admin/app/tag/v9', { manifest_digest: digest })).toMatchObject(refused);
    expect(await admin.delete('/repository/admin/app/tag/v1')).toMatchObject(refused);
    expect(await admin.post('/repository/admin/app/tag/v1/restore', { manifest_digest: digest })).toMatchObject(refused);
    expect(await admin.post(`/repository/admin/app/manifest/${digest}/labels`, { key: 'x', value: 'y', media_type: null })).toMatchObject(refused);
    expect(await admin.delete(`/repository/admin/app/manifest/${digest}/labels/${labelId}`)).toMatchObject(refused);
    expect(Object.keys((await admin.delete('/repository/admin/app/tag/v1')).body)).toEqual(['message']);
    // The state is about content; the description is not content (Quay allows it too).
    await admin.ok('PUT', '/repository/admin/app', { description: 'frozen' });
    const tags = await admin.ok('GET', '/repository/admin/app/tag/?onlyActiveTags=true');
    expect(tags.tags.map((t: { name: string }) => t.name).sort()).toEqual(['v1', 'v2']);
  });

  test('back to NORMAL: pushes and tag changes work again', async () => {
    await admin.ok('PUT', '/repository/admin/app/changestate', { state: 'NORMAL' });
    await v2.pushImage('admin/app', 'v3');
    await admin.ok('PUT', '/repository/admin/app/tag/v9', { manifest_digest: digest });
    expect((await admin.get('/repository/admin/app')).body).toMatchObject({ state: 'NORMAL', can_write: true });
  });
});

describe('registry-wide switches (restarts on the same data)', () => {
  test("REGISTRY_STATE readonly: /v2 writes 405 with Quay's text, REST writes 503 {message, is_readonly}; pulls and sign-in work", async () => {
    await reg.stop();
    reg = await startRegistry({ label: 'write-gate-ro', dataDir: reg.dataDir, config: { SUPER_USERS: ['admin'], REGISTRY_STATE: 'readonly' } });
    v2 = V2Client.basic(reg);
    admin = await signin(reg, 'admin', reg.admin.password);
    for (const res of [
      await v2.req('POST', '/v2/admin/app/blobs/uploads/'),
      await v2.req('POST', '/v2/admin/fresh/blobs/uploads/'),
      await v2.req('DELETE', `/v2/admin/app/manifests/${digest}`),
      await v2.pushManifest('admin/app', 'v4', '{}'),
    ]) {
      expect(await errorOf(res)).toEqual({ status: 405, code: 'DENIED', message: READ_ONLY_TEXT });
    }
    expect((await v2.req('GET', '/v2/admin/app/manifests/v1', { headers: { accept: OCI_MANIFEST } })).status).toBe(200);
    for (const res of [
      await admin.post('/organization/', { name: 'neworg' }),
      await admin.put('/repository/admin/app/tag/v10', { manifest_digest: digest }),
      await admin.put('/repository/admin/app/changestate', { state: 'READ_ONLY' }),
      await admin.delete('/repository/admin/app'),
    ]) {
      expect(res).toMatchObject({ status: 503, body: { message: READ_ONLY_TEXT, is_readonly: true } });
      expect(Object.keys(res.body).sort()).toEqual(['is_readonly', 'message']);
    }
    expect((await admin.get('/repository/admin/app')).status).toBe(200);
  });

  test("DISABLE_PUSHES: /v2 writes 405 with Quay's text; the REST API still changes tags", async () => {
    await reg.stop();
    reg = await startRegistry({ label: 'write-gate-nopush', dataDir: reg.dataDir, config: { SUPER_USERS: ['admin'], DISABLE_PUSHES: true } });
    v2 = V2Client.basic(reg);
    admin = await signin(reg, 'admin', reg.admin.password);
    for (const res of [
      await v2.req('POST', '/v2/admin/app/blobs/uploads/'),
      await v2.req('DELETE', `/v2/admin/app/manifests/${digest}`),
      await v2.pushManifest('admin/app', 'v4', '{}'),
    ]) {
      expect(await errorOf(res)).toEqual({ status: 405, code: 'DENIED', message: DISABLED_TEXT });
    }
    await admin.ok('PUT', '/repository/admin/app/tag/v11', { manifest_digest: digest });
    expect((await v2.req('GET', '/v2/admin/app/manifests/v11', { headers: { accept: OCI_MANIFEST } })).status).toBe(200);
  });
});
