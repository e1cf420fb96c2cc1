/**
 * Build triggers and the filedrop upload flow against the real registry on Postgres and S3: trigger CRUD and
 * activation (deploy key pair, sealed private key, webhook URL), a trigger of another repository, who may
 * manage triggers, auto-disable accounting, the usage logs, and filedrop/userfiles uploads with their limits.
 */
import pg from 'pg';
import sshpk from 'sshpk';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, signin } from '../api/fixture.js';
import { openPostgres, type Db } from '../../../registry/db/index.js';
import { loadTriggerDeployKey, recordTriggerOutcome } from '../../../registry/model/triggers.js';

let reg: RegistryProcess;
let dbUri: string;
let db: Db;
let admin: Api;
let writer: Api;

beforeAll(async () => {
  const config = await scaleOutConfig({ FEATURE_BUILD_SUPPORT: true, BUILD_MANAGER: ['external', {}], USERFILES_MAX_SIZE: '64K' });
  dbUri = config.DB_URI as string;
  reg = await startRegistry({ label: 'triggers', config });
  db = await openPostgres(dbUri);
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  for (const name of ['app', 'other']) await admin.ok('POST', '/repository', { namespace: 'acme', repository: name, visibility: 'private', description: '' });
  const pw = await createUser(admin, 'wendy');
  await admin.ok('PUT', '/repository/acme/app/permissions/user/wendy', { role: 'write' });
  writer = await signin(reg, 'wendy', pw);
});

afterAll(async () => {
  await db?.close();
  await reg?.stop();
});

async function sql<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

const customConfig = { build_source: 'ssh://git@git.example.com/app.git', dockerfile_path: '/Dockerfile', context: '/', tag_templates: ['${commit_info.short_sha}'] };

async function activeTrigger(repo = 'app'): Promise<any> {
  const created = await admin.ok('POST', `/repository/acme/${repo}/trigger/`, { service: 'custom-git' });
  return admin.ok('POST', `/repository/acme/${repo}/trigger/${created.id}/activate`, { config: customConfig });
}

describe('triggers', () => {
  test('create, activate: the public deploy key and the webhook URL are shown, the private key is sealed and only loadTriggerDeployKey opens it', async () => {
    const created = await admin.ok('POST', '/repository/acme/app/trigger/', { service: 'custom-git' });
    expect(created).toMatchObject({ service: 'custom-git', is_active: false, enabled: true, disabled_reason: null, config: {}, can_invoke: true });
    const t = await admin.ok('POST', `/repository/acme/app/trigger/${created.id}/activate`, { config: { ...customConfig, unknown_key: 'dropped' } });
    expect(t).toMatchObject({ id: created.id, is_active: true, build_source: customConfig.build_source, repository_url: null });
    expect(t.config.unknown_key).toBeUndefined();
    const [pub, hook] = t.config.credentials as { name: string; value: string }[];
    expect(pub.name).toBe('SSH Public Key');
    expect(pub.value).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ /);
    expect(hook.name).toBe('Webhook Endpoint URL');
    expect(hook.value).toMatch(new RegExp(`^http://\\$token:[A-Za-z0-9_-]{43}@[^/]+/webhooks/push/trigger/${created.id}$`));
    const everything = JSON.stringify(await admin.ok('GET', '/repository/acme/app/trigger/'));
    expect(everything).not.toContain('PRIVATE KEY');
    const [row] = await sql<{ secure_private_key: string; secure_webhook_token: string }>('SELECT secure_private_key, secure_webhook_token FROM build_trigger WHERE uuid = $1', [
      created.id,
    ]);
    expect(row.secure_private_key).not.toContain('PRIVATE');
    expect(row.secure_webhook_token).not.toContain(hook.value.split(':')[2].split('@')[0]);

    const privateKey = await loadTriggerDeployKey(db, created.id, {});
    expect(privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const fromPrivate = sshpk.parsePrivateKey(privateKey!, 'ssh-private').toPublic().fingerprint('sha256').toString();
    expect(fromPrivate).toBe(sshpk.parseKey(pub.value, 'ssh').fingerprint('sha256').toString());
    expect(await loadTriggerDeployKey(db, '00000000-0000-4000-8000-000000000000', {})).toBeNull();
    expect(await loadTriggerDeployKey(db, 'not-a-uuid', {})).toBeNull();

    const again = await admin.post(`/repository/acme/app/trigger/${created.id}/activate`, { config: customConfig });
    expect(again.status).toBe(400);
    expect(again.body.error_message).toBe('Trigger config is not sufficient for activation.');
  });

  test('activation refuses a config without build_source, with a bad type, a source git would read as an option, or one not on the network', async () => {
    const created = await admin.ok('POST', '/repository/acme/app/trigger/', { service: 'custom-git' });
    for (const [config, message] of [
      [{}, 'config.build_source (the git URL to clone) is required'],
      [{ build_source: 'x', tag_templates: 'not-a-list' }, 'config.tag_templates must be a list of strings'],
      [{ build_source: '--upload-pack=touch /tmp/x' }, 'config.build_source must not start with "-"'],
      [{ build_source: 'x', context: '/../..' }, 'config.context must not contain ".."'],
      // Nothing on the worker's own disk, no remote helper that runs a command.
      ...['x', '/srv/git/app.git', 'file:///srv/git/app.git', 'ext::sh -c touch% /tmp/x', '../app.git'].map(
        (source) => [{ build_source: source }, 'config.build_source must be a remote git URL: ssh://, git://, https:// or user@host:path'] as const,
      ),
    ] as const) {
      const r = await admin.post(`/repository/acme/app/trigger/${created.id}/activate`, { config });
      expect(r.status).toBe(400);
      expect(r.body.error_message).toBe(message);
    }
    expect((await admin.post('/repository/acme/app/trigger/', { service: 'svn' })).status).toBe(400);
  });

  test('a trigger of another repository is not found through this one', async () => {
    const t = await activeTrigger('other');
    for (const [method, path, body] of [
      ['GET', `/repository/acme/app/trigger/${t.id}`, undefined],
      ['PUT', `/repository/acme/app/trigger/${t.id}`, { enabled: false }],
      ['DELETE', `/repository/acme/app/trigger/${t.id}`, undefined],
      ['POST', `/repository/acme/app/trigger/${t.id}/activate`, { config: customConfig }],
    ] as const) {
      const r = await admin.call(method, path, body);
      expect([method, r.status]).toEqual([method, 404]);
    }
    expect((await admin.ok('GET', `/repository/acme/other/trigger/${t.id}`)).enabled).toBe(true);
    expect((await admin.get('/repository/acme/app/trigger/not-a-uuid')).status).toBe(404);
  });

  test('a writer (not admin) manages no trigger', async () => {
    const t = await activeTrigger();
    expect((await writer.get('/repository/acme/app/trigger/')).status).toBe(403);
    expect((await writer.get(`/repository/acme/app/trigger/${t.id}`)).status).toBe(403);
    expect((await writer.put(`/repository/acme/app/trigger/${t.id}`, { enabled: false })).status).toBe(403);
    expect((await writer.post('/repository/acme/app/trigger/', { service: 'custom-git' })).status).toBe(403);
    expect((await new Api(reg.url).get('/repository/acme/app/trigger/')).status).toBe(401);
  });

  test('disable and enable by hand; an inactive trigger cannot be toggled', async () => {
    const t = await activeTrigger();
    const off = await admin.ok('PUT', `/repository/acme/app/trigger/${t.id}`, { enabled: false });
    expect(off).toMatchObject({ enabled: false, disabled_reason: 'user_toggled', config: {} });
    expect(await admin.ok('PUT', `/repository/acme/app/trigger/${t.id}`, { enabled: true })).toMatchObject({ enabled: true, disabled_reason: null });
    const inactive = await admin.ok('POST', '/repository/acme/app/trigger/', { service: 'github' });
    const r = await admin.put(`/repository/acme/app/trigger/${inactive.id}`, { enabled: false });
    expect(r.status).toBe(400);
    expect(r.body.error_message).toBe('Cannot update an unactivated trigger');
  });

  test('auto-disable after successive internal errors or failures; complete resets; re-enabling resets', async () => {
    const t = await activeTrigger();
    const thresholds = { SUCCESSIVE_TRIGGER_FAILURE_DISABLE_THRESHOLD: 3, SUCCESSIVE_TRIGGER_INTERNAL_ERROR_DISABLE_THRESHOLD: 2 };
    const state = async () =>
      (await sql<any>('SELECT enabled, disabled_reason, successive_failure_count AS f, successive_internal_error_count AS i FROM build_trigger WHERE uuid = $1', [t.id]))[0];

    await recordTriggerOutcome(db, t.id, 'internalerror', thresholds);
    expect(await state()).toMatchObject({ enabled: true, i: 1 });
    await recordTriggerOutcome(db, t.id, 'complete', thresholds);
    expect(await state()).toMatchObject({ enabled: true, f: 0, i: 0 });
    await recordTriggerOutcome(db, t.id, 'internalerror', thresholds);
    await recordTriggerOutcome(db, t.id, 'cancelled', thresholds);
    await recordTriggerOutcome(db, t.id, 'internalerror', thresholds);
    expect(await state()).toMatchObject({ enabled: false, disabled_reason: 'successive_build_internal_errors', i: 2 });
    expect(await admin.ok('GET', `/repository/acme/app/trigger/${t.id}`)).toMatchObject({ enabled: false, disabled_reason: 'successive_build_internal_errors' });

    await admin.ok('PUT', `/repository/acme/app/trigger/${t.id}`, { enabled: true });
    expect(await state()).toMatchObject({ enabled: true, f: 0, i: 0 });
    // Concurrent completions all count.
    await Promise.all([1, 2, 3].map(() => recordTriggerOutcome(db, t.id, 'error', thresholds)));
    expect(await state()).toMatchObject({ enabled: false, disabled_reason: 'successive_build_failures', f: 3, i: 0 });

    // A threshold of null never disables.
    await admin.ok('PUT', `/repository/acme/app/trigger/${t.id}`, { enabled: true });
    for (let i = 0; i < 4; i++)
      await recordTriggerOutcome(db, t.id, 'error', { SUCCESSIVE_TRIGGER_FAILURE_DISABLE_THRESHOLD: null, SUCCESSIVE_TRIGGER_INTERNAL_ERROR_DISABLE_THRESHOLD: null });
    expect(await state()).toMatchObject({ enabled: true, f: 4 });
  });

  test('delete answers 204, and setup/toggle/delete are in the usage logs', async () => {
    const t = await activeTrigger();
    await admin.ok('PUT', `/repository/acme/app/trigger/${t.id}`, { enabled: false });
    const r = await admin.delete(`/repository/acme/app/trigger/${t.id}`);
    expect(r.status).toBe(204);
    expect((await admin.get(`/repository/acme/app/trigger/${t.id}`)).status).toBe(404);
    const logs = await admin.ok<{ logs: { kind: string; metadata: Record<string, unknown> }[] }>('GET', '/repository/acme/app/logs');
    const mine = logs.logs.filter((l) => l.metadata.trigger_id === t.id);
    expect(mine.map((l) => l.kind).sort()).toEqual(['delete_repo_trigger', 'setup_repo_trigger', 'toggle_repo_trigger']);
    const setup = mine.find((l) => l.kind === 'setup_repo_trigger')!;
    expect(setup.metadata).toMatchObject({ service: 'custom-git', repo: 'app', namespace: 'acme', config: { build_source: customConfig.build_source } });
    expect(JSON.stringify(setup.metadata)).not.toContain('$token');
  });
});

describe('filedrop', () => {
  test('an upload URL, one PUT, the same bytes back; a second PUT is refused', async () => {
    const drop = await admin.ok<{ url: string; file_id: string }>('POST', '/filedrop/', { mimeType: 'application/x-tar' });
    expect(drop.url).toMatch(new RegExp(`/userfiles/${drop.file_id}$`));
    const local = `${reg.url}/userfiles/${drop.file_id}`;
    const bytes = Buffer.from('FROM scratch\nCOPY a /a\n');
    expect((await fetch(local, { method: 'PUT', body: bytes })).status).toBe(200);
    const back = await fetch(local);
    expect(back.status).toBe(200);
    expect(back.headers.get('content-type')).toBe('application/x-tar');
    expect(Buffer.from(await back.arrayBuffer())).toEqual(bytes);
    const second = await fetch(local, { method: 'PUT', body: 'other' });
    expect(second.status).toBe(409);
    expect(Buffer.from(await (await fetch(local)).arrayBuffer())).toEqual(bytes);
  });

  test('over USERFILES_MAX_SIZE: 413, declared or streamed, and nothing is stored', async () => {
    const drop = await admin.ok<{ url: string; file_id: string }>('POST', '/filedrop/', { mimeType: 'application/gzip' });
    const local = `${reg.url}/userfiles/${drop.file_id}`;
    const big = Buffer.alloc(65 * 1024, 7);
    const declared = await fetch(local, { method: 'PUT', body: big });
    expect(declared.status).toBe(413);
    // Chunked, no Content-Length: refused while streaming.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(8 * 1024));
        c.close();
      },
    });
    const streamed = await fetch(local, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await fetch(local)).status).toBe(404);
    expect((await fetch(local, { method: 'PUT', body: 'small enough' })).status).toBe(200);
  });

  test('a streamed body refused while the client is still sending: the client reads the 413, not a reset', async () => {
    const drop = await admin.ok<{ url: string; file_id: string }>('POST', '/filedrop/', { mimeType: 'application/gzip' });
    const local = `${reg.url}/userfiles/${drop.file_id}`;
    // 8 MiB as fast as the connection takes it: the limit (64K) is passed while megabytes are still in flight.
    const burst = new ReadableStream({
      start(c) {
        for (let i = 0; i < 1024; i++) c.enqueue(new Uint8Array(8 * 1024));
        c.close();
      },
    });
    const res = await fetch(local, { method: 'PUT', body: burst, duplex: 'half' } as RequestInit);
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 413, body: { message: expect.stringContaining('maximum build pack size') } });
    expect((await fetch(local)).status).toBe(404);
  });

  test('unknown ids, anonymous callers and bad mime types are refused', async () => {
    expect((await fetch(`${reg.url}/userfiles/00000000-0000-4000-8000-000000000000`, { method: 'PUT', body: 'x' })).status).toBe(404);
    expect((await fetch(`${reg.url}/userfiles/..%2F..%2Fetc%2Fpasswd`, { method: 'PUT', body: 'x' })).status).toBe(404);
    expect((await fetch(`${reg.url}/userfiles/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    expect((await new Api(reg.url).post('/filedrop/', { mimeType: 'application/zip' })).status).toBe(401);
    expect((await admin.post('/filedrop/', {})).status).toBe(400);
    expect((await admin.post('/filedrop/', { mimeType: 'text/html\r\nX-Injected: 1' })).status).toBe(400);
  });
});
