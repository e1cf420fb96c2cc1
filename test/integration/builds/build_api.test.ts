/**
 * The build REST API and the trigger webhook against the real registry on Postgres, Redis (build logs) and S3:
 * manual builds from a filedrop upload or an archive URL, Quay's Build view, the request checks (tags, archive
 * URL through the SSRF guard, paths, pull robot, 403, 429), cancel, trigger runs, and the custom-git webhook
 * (token, skips, filters, tags from templates). BUILD_MANAGER is `external` (no manager in this process): builds stay queued.
 */
import pg from 'pg';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestRedisUrl } from '../../setup/services.js';
import { startReceiver } from '../../helpers/receiver.js';
import { Api, createUser, signin } from '../api/fixture.js';

let reg: RegistryProcess;
let dbUri: string;
let admin: Api;
let writer: Api;
let reader: Api;

async function sql<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  const redis = new URL(await createTestRedisUrl());
  const config = await scaleOutConfig({
    FEATURE_BUILD_SUPPORT: true,
    BUILD_MANAGER: ['external', {}],
    SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'],
    BUILDLOGS_REDIS: { host: redis.hostname, port: Number(redis.port), db: Number(redis.pathname.slice(1)) },
  });
  dbUri = config.DB_URI as string;
  reg = await startRegistry({ label: 'build-api', config });
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/organization/', { name: 'limited', email: 'limited@example.com' });
  for (const [ns, name] of [
    ['acme', 'app'],
    ['acme', 'other'],
    ['limited', 'app'],
  ])
    await admin.ok('POST', '/repository', { namespace: ns, repository: name, visibility: 'private', description: '' });
  for (const [user, role] of [
    ['wendy', 'write'],
    ['rita', 'read'],
  ]) {
    const pw = await createUser(admin, user);
    await admin.ok('PUT', `/repository/acme/app/permissions/user/${user}`, { role });
    if (user === 'wendy') writer = await signin(reg, user, pw);
    else reader = await signin(reg, user, pw);
  }
});

afterAll(async () => {
  await reg?.stop();
});

async function upload(api: Api, bytes: string | Buffer, mimeType = 'text/plain'): Promise<string> {
  const drop = await api.ok<{ url: string; file_id: string }>('POST', '/filedrop/', { mimeType });
  const put = await fetch(`${reg.url}/userfiles/${drop.file_id}`, { method: 'PUT', body: bytes });
  expect(put.status).toBe(200);
  return drop.file_id;
}

describe('manual builds', () => {
  test('from an uploaded Dockerfile: 201, Location, the Build view; list, get, status and logs', async () => {
    const fileId = await upload(writer, 'FROM scratch\n');
    const r = await writer.post('/repository/acme/app/build/', { file_id: fileId, docker_tags: ['v1', 'latest'] });
    expect(r.status).toBe(201);
    const b = r.body;
    expect(r.headers.get('location')).toBe(`/api/v1/repository/acme/app/build/${b.id}/status`);
    expect(b).toMatchObject({
      phase: 'waiting',
      status: {},
      subdirectory: '/Dockerfile',
      dockerfile_path: '/Dockerfile',
      context: '/',
      tags: ['v1', 'latest'],
      manual_user: 'wendy',
      is_writer: true,
      trigger: null,
      trigger_metadata: {},
      resource_key: fileId,
      pull_robot: null,
      repository: { namespace: 'acme', name: 'app' },
      error: null,
    });
    expect(b.archive_url).toMatch(new RegExp(`^http://[^/]+/userfiles/${fileId}$`));
    expect(b.display_name).toMatch(/^[0-9a-f]{7}$/);
    expect(b.started).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$/);

    const list = await reader.ok<{ builds: any[] }>('GET', '/repository/acme/app/build/?limit=1');
    expect(list.builds.map((x) => x.id)).toEqual([b.id]);
    // A reader sees the build but neither the pack URL nor the logs.
    expect(list.builds[0].is_writer).toBe(false);
    expect(list.builds[0].archive_url).toBeUndefined();
    expect(await reader.ok('GET', `/repository/acme/app/build/${b.id}`)).toMatchObject({ id: b.id, phase: 'waiting' });
    expect(await reader.ok('GET', `/repository/acme/app/build/${b.id}/status`)).toMatchObject({ id: b.id });
    expect((await reader.get(`/repository/acme/app/build/${b.id}/logs`)).status).toBe(403);
    const logs = await writer.ok<{ start: number; total: number; logs: unknown[] }>('GET', `/repository/acme/app/build/${b.id}/logs?start=0`);
    expect(logs).toEqual({ start: 0, total: logs.logs.length, logs: logs.logs });
    // The build of another repository is not found through this one.
    expect((await admin.get(`/repository/acme/other/build/${b.id}`)).status).toBe(404);
    expect((await admin.get(`/repository/acme/other/build/${b.id}/logs`)).status).toBe(404);
    expect((await admin.get('/repository/acme/app/build/not-a-uuid')).status).toBe(404);

    const audit = await admin.ok<{ logs: { kind: string; metadata: any }[] }>('GET', '/repository/acme/app/logs');
    expect(audit.logs.find((l) => l.kind === 'build_dockerfile' && l.metadata.build_id === b.id)?.metadata).toMatchObject({
      docker_tags: ['v1', 'latest'],
      is_manual: true,
      manual_user: 'wendy',
    });
  });

  test.each([
    [{}, '/Dockerfile', '/'],
    [{ context: '/c' }, '/c/Dockerfile', '/c'],
    // Paths are normalized to absolute POSIX paths (Quay keeps `s/` as given).
    [{ subdirectory: 's/' }, '/s/Dockerfile', '/s'],
    [{ dockerfile_path: 's/Dockerfile.dev' }, '/s/Dockerfile.dev', '/s'],
    [{ dockerfile_path: '/x/Dockerfile', context: '/' }, '/x/Dockerfile', '/'],
    [{ dockerfile_path: 'a/Dockerfile', subdirectory: 'b' }, '/a/Dockerfile', '/a'],
  ])('Dockerfile path and context of %j', async (paths, dockerfilePath, context) => {
    const r = await writer.ok('POST', '/repository/acme/app/build/', { archive_url: 'http://archives.example.com/app.tar.gz', ...paths });
    expect([r.dockerfile_path, r.context]).toEqual([dockerfilePath, context]);
    expect(r.archive_url).toBe('http://archives.example.com/app.tar.gz');
    expect(r.display_name).toMatch(/^[0-9a-f]{7}$/);
  });

  const A = 'http://archives.example.com/x.tgz';
  const TAG_RULE = 'use letters, digits, _ . - (at most 128, not starting with . or -)';
  test.each([
    [{ archive_url: A, docker_tags: ['ok', 'bad tag'] }, `Invalid tag name "bad tag": ${TAG_RULE}`],
    [{ archive_url: A, docker_tags: ['-dash'] }, `Invalid tag name "-dash": ${TAG_RULE}`],
    [{ archive_url: A, docker_tags: ['x'.repeat(129)] }, `Invalid tag name "${'x'.repeat(129)}": ${TAG_RULE}`],
    [{ archive_url: 'http://169.254.169.254/latest/meta-data/' }, 'Invalid Archive URL: Address 169.254.169.254 is not allowed'],
    [{ archive_url: 'http://metadata.google.internal/x.tgz' }, "Invalid Archive URL: Host 'metadata.google.internal' is not allowed"],
    [{ archive_url: 'http://127.0.0.1:9/x.tgz' }, 'Invalid Archive URL: Address 127.0.0.1 is not allowed'],
    [{ archive_url: 'ftp://archives.example.com/x.tgz' }, 'Invalid Archive URL: Must be http or https'],
    [{ archive_url: 'not a url' }, 'Invalid Archive URL: Must be a valid URI'],
    [{ archive_url: A, context: '/../../etc' }, 'Invalid context: ".." is not allowed'],
    [{ archive_url: A, dockerfile_path: 'a/../../Dockerfile' }, 'Invalid dockerfile_path: ".." is not allowed'],
    [{ file_id: '00000000-0000-4000-8000-000000000000' }, 'File 00000000-0000-4000-8000-000000000000 could not be found or is invalid'],
    [{ docker_tags: ['v1'] }, 'file_id or archive_url required'],
  ])('refused with 400: %j', async (body, message) => {
    const before = (await sql<{ n: string }>('SELECT count(*) AS n FROM repository_build'))[0].n;
    const r = await writer.post('/repository/acme/app/build/', body);
    expect(r.status).toBe(400);
    expect(r.body.error_message).toBe(message);
    expect((await sql<{ n: string }>('SELECT count(*) AS n FROM repository_build'))[0].n).toBe(before);
  });

  test('docker_tags must be a non-empty list of distinct names', async () => {
    for (const docker_tags of [[], ['a', 'a']]) {
      expect((await writer.post('/repository/acme/app/build/', { archive_url: 'http://archives.example.com/x.tgz', docker_tags })).status).toBe(400);
    }
  });

  test('an upload not yet PUT cannot be built', async () => {
    const drop = await writer.ok<{ file_id: string }>('POST', '/filedrop/', { mimeType: 'application/x-tar' });
    const r = await writer.post('/repository/acme/app/build/', { file_id: drop.file_id });
    expect(r.status).toBe(400);
  });

  test('reusing a file an earlier build of another repository used needs write there', async () => {
    const fileId = await upload(admin, 'FROM scratch\nLABEL x=1\n');
    await admin.ok('POST', '/repository/acme/other/build/', { file_id: fileId });
    const r = await writer.post('/repository/acme/app/build/', { file_id: fileId });
    expect(r.status).toBe(400);
    expect((await admin.post('/repository/acme/app/build/', { file_id: fileId })).status).toBe(201);
  });

  test('readers and anonymous callers cannot request builds', async () => {
    const body = { archive_url: 'http://archives.example.com/x.tgz' };
    const r = await reader.post('/repository/acme/app/build/', body);
    expect(r.status).toBe(403);
    expect(r.body.error_type).toBe('insufficient_scope');
    expect((await new Api(reg.url).post('/repository/acme/app/build/', body)).status).toBe(401);
    expect((await writer.post('/repository/acme/other/build/', body)).status).toBe(403);
  });

  test('pull robot: a robot of a namespace the caller administers; unknown 404; not a robot 403', async () => {
    const bot = await admin.ok<{ name: string }>('PUT', '/organization/acme/robots/puller');
    const b = await admin.ok('POST', '/repository/acme/app/build/', { archive_url: 'http://archives.example.com/x.tgz', pull_robot: bot.name });
    expect(b.pull_robot).toEqual({ name: 'acme+puller', kind: 'user', is_robot: true });
    expect((await admin.post('/repository/acme/app/build/', { archive_url: 'http://archives.example.com/x.tgz', pull_robot: 'acme+nobody' })).status).toBe(404);
    expect((await admin.post('/repository/acme/app/build/', { archive_url: 'http://archives.example.com/x.tgz', pull_robot: 'wendy' })).status).toBe(403);
    // wendy writes acme/app but does not administer acme.
    expect((await writer.post('/repository/acme/app/build/', { archive_url: 'http://archives.example.com/x.tgz', pull_robot: bot.name })).status).toBe(403);
  });

  test("over the namespace's maximum_queued_builds_count: 429 with Quay's message, nothing created", async () => {
    await sql("UPDATE namespace SET maximum_queued_builds_count = 1 WHERE name = 'limited'");
    const body = { archive_url: 'http://archives.example.com/x.tgz' };
    expect((await admin.post('/repository/limited/app/build/', body)).status).toBe(201);
    const r = await admin.post('/repository/limited/app/build/', body);
    expect(r.status).toBe(429);
    expect(r.body).toEqual({ message: 'Maximum queued build rate exceeded.' });
    expect(r.headers.get('retry-after')).toBe('1');
    expect((await admin.ok<{ builds: unknown[] }>('GET', '/repository/limited/app/build/?limit=10')).builds).toHaveLength(1);
  });

  test('cancel: admins only; a waiting build is cancelled once', async () => {
    const b = await writer.ok('POST', '/repository/acme/app/build/', { archive_url: 'http://archives.example.com/cancel.tgz' });
    expect((await writer.delete(`/repository/acme/app/build/${b.id}`)).status).toBe(403);
    expect((await admin.delete(`/repository/acme/other/build/${b.id}`)).status).toBe(404);
    const r = await admin.delete(`/repository/acme/app/build/${b.id}`);
    expect([r.status, r.body]).toEqual([201, 'Okay']);
    expect((await admin.ok('GET', `/repository/acme/app/build/${b.id}/status`)).phase).toBe('cancelled');
    const again = await admin.delete(`/repository/acme/app/build/${b.id}`);
    expect(again.status).toBe(400);
    expect(again.body.error_message).toBe('Build is currently running or has finished');
    const audit = await admin.ok<{ logs: { kind: string; metadata: any }[] }>('GET', '/repository/acme/app/logs');
    expect(audit.logs.some((l) => l.kind === 'cancel_build' && l.metadata.build_uuid === b.id)).toBe(true);
  });
});

describe("the superuser's build views (Quay: endpoints/api/superuser.py)", () => {
  test('build, status and logs of any build by uuid, as the repository views show them; others refused', async () => {
    const b = await writer.ok('POST', '/repository/acme/app/build/', { archive_url: 'http://archives.example.com/support.tgz', docker_tags: ['su'] });
    await admin.ok('DELETE', `/repository/acme/app/build/${b.id}`);
    const view = await admin.ok('GET', `/repository/acme/app/build/${b.id}`);
    expect(await admin.ok('GET', `/superuser/${b.id}/build`)).toEqual(view);
    expect(await admin.ok('GET', `/superuser/${b.id}/status`)).toEqual(view);
    const logs = await admin.ok<{ start: number; total: number; logs: { message: string }[] }>('GET', `/superuser/${b.id}/logs`);
    expect(logs).toEqual(await writer.ok('GET', `/repository/acme/app/build/${b.id}/logs`));
    expect(logs.logs.map((l) => l.message)).toContain('cancelled');
    expect(await admin.ok('GET', `/superuser/${b.id}/logs?start=${logs.total}`)).toEqual({ start: logs.total, total: logs.total, logs: [] });
    // Unknown and malformed uuids are not found; a repository writer and anonymous callers are refused.
    for (const path of ['00000000-0000-4000-8000-000000000000/build', '00000000-0000-4000-8000-000000000000/logs', 'not-a-uuid/status'])
      expect((await admin.get(`/superuser/${path}`)).status).toBe(404);
    for (const what of ['build', 'status', 'logs']) {
      expect((await writer.get(`/superuser/${b.id}/${what}`)).status).toBe(403);
      expect((await new Api(reg.url).get(`/superuser/${b.id}/${what}`)).status).toBe(401);
    }
  });
});

describe('trigger builds', () => {
  const config = {
    build_source: 'ssh://git@git.example.com/app.git',
    dockerfile_path: '/sub/Dockerfile',
    context: '/sub',
    branchtag_regex: 'heads/(main|release/.+)',
    tag_templates: ['${commit_info.short_sha}', 'br-${parsed_ref.branch}'],
  };
  let trigger: any;
  let token: string;
  const hook = (uuid: string, body: unknown, auth: string | null = `$token:${token}`, path = `/webhooks/push/trigger/${uuid}`) =>
    fetch(`${reg.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const payload = (ref: string, message = 'Update', commit = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678') => ({
    commit,
    ref,
    default_branch: 'main',
    commit_info: { url: 'https://git.example.com/c', message, date: '2024-05-01T12:00:00Z', author: { username: 'dev', url: 'u', avatar_url: 'a' } },
  });
  const buildCount = async () => Number((await sql<{ n: string }>('SELECT count(*) AS n FROM repository_build WHERE trigger_uuid = $1', [trigger.id]))[0].n);

  beforeAll(async () => {
    const created = await admin.ok('POST', '/repository/acme/app/trigger/', { service: 'custom-git' });
    trigger = await admin.ok('POST', `/repository/acme/app/trigger/${created.id}/activate`, { config });
    token = /\$token:([^@]+)@/.exec(trigger.config.credentials[1].value)![1];
  });

  test('run now with a commit: 201, the trigger in the view, tags from the templates', async () => {
    const r = await admin.post(`/repository/acme/app/trigger/${trigger.id}/start`, { commit_sha: 'abcdef1234567890' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      display_name: 'abcdef1',
      tags: ['abcdef1'],
      dockerfile_path: '/sub/Dockerfile',
      context: '/sub',
      trigger: { id: trigger.id, service: 'custom-git', is_active: true, build_source: config.build_source },
      trigger_metadata: { commit: 'abcdef1234567890', git_url: config.build_source },
      manual_user: 'admin',
    });
    expect(r.body.trigger.pull_robot).toBeUndefined();
    const list = await admin.ok<{ builds: any[] }>('GET', `/repository/acme/app/trigger/${trigger.id}/builds?limit=10`);
    expect(list.builds.map((b) => b.id)).toContain(r.body.id);
    expect((await admin.post(`/repository/acme/app/trigger/${trigger.id}/start`, {})).body.error_message).toBe('missing required parameter');
    expect((await admin.post(`/repository/acme/app/trigger/${trigger.id}/start`, { commit_sha: 'xyz' })).status).toBe(400);
    expect((await admin.post(`/repository/acme/other/trigger/${trigger.id}/start`, { commit_sha: 'abcdef1' })).status).toBe(404);
    expect((await writer.post(`/repository/acme/app/trigger/${trigger.id}/start`, { commit_sha: 'abcdef1' })).status).toBe(403);
  });

  test('webhook: a push to a matching branch queues a build with the template tags, the ref tag and latest', async () => {
    const before = await buildCount();
    const r = await hook(trigger.id, payload('refs/heads/main'));
    expect([r.status, await r.text()]).toEqual([200, 'Okay']);
    expect(await buildCount()).toBe(before + 1);
    const [build] = (await admin.ok<{ builds: any[] }>('GET', `/repository/acme/app/trigger/${trigger.id}/builds?limit=1`)).builds;
    expect(build.tags).toEqual(['a1b2c3d', 'br-main', 'latest', 'main']);
    expect(build.trigger_metadata).toMatchObject({ commit: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', ref: 'refs/heads/main', git_url: config.build_source });
    expect(build.manual_user).toBeNull();
    // Quay's older path with the repository in it works too.
    expect((await hook(trigger.id, payload('refs/heads/release/2.0'), undefined, `/webhooks/push/acme/app/trigger/${trigger.id}`)).status).toBe(200);
    const [release] = (await admin.ok<{ builds: any[] }>('GET', `/repository/acme/app/trigger/${trigger.id}/builds?limit=1`)).builds;
    expect(release.tags).toEqual(['a1b2c3d', 'br-release_2.0', 'release_2.0']);
  });

  test('webhook skips: [skip build], [build skip], a branch the regex filters out (200, no build)', async () => {
    const before = await buildCount();
    for (const body of [
      payload('refs/heads/main', 'wip [skip build]'),
      payload('refs/heads/main', '[build skip] docs'),
      payload('refs/heads/feature/x'),
      payload('refs/tags/v1'),
    ]) {
      const r = await hook(trigger.id, body);
      expect([r.status, await r.text()]).toEqual([200, 'Okay']);
    }
    expect(await buildCount()).toBe(before);
  });

  test('webhook refusals: a wrong token and an unknown trigger look the same; no credentials 401; bad payloads 400', async () => {
    const before = await buildCount();
    const wrong = await hook(trigger.id, payload('refs/heads/main'), '$token:wrong');
    const unknown = await hook('00000000-0000-4000-8000-000000000000', payload('refs/heads/main'));
    const notUuid = await hook('nope', payload('refs/heads/main'));
    const userPassword = await hook(trigger.id, payload('refs/heads/main'), `admin:${reg.admin.password}`);
    const otherRepoPath = await hook(trigger.id, payload('refs/heads/main'), undefined, `/webhooks/push/acme/other/trigger/${trigger.id}`);
    const bodies = await Promise.all([wrong, unknown, notUuid, userPassword, otherRepoPath].map(async (r) => [r.status, await r.text()]));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0][0]).toBe(403);
    const anonymous = await hook(trigger.id, payload('refs/heads/main'), null);
    expect(anonymous.status).toBe(401);
    for (const body of ['{not json', JSON.stringify({ commit: 'zz', ref: 'refs/heads/main', default_branch: 'main' }), '', '[]']) {
      const r = await hook(trigger.id, body);
      expect([body, r.status]).toEqual([body, 400]);
      expect(((await r.json()) as { message: string }).message).toEqual(expect.any(String));
    }
    expect(await buildCount()).toBe(before);
  });

  test('a disabled trigger builds nothing: webhook 400, run now 400', async () => {
    await admin.ok('PUT', `/repository/acme/app/trigger/${trigger.id}`, { enabled: false });
    try {
      const before = await buildCount();
      const r = await hook(trigger.id, payload('refs/heads/main'));
      expect(r.status).toBe(400);
      const start = await admin.post(`/repository/acme/app/trigger/${trigger.id}/start`, { commit_sha: 'abcdef1' });
      expect([start.status, start.body.error_message]).toEqual([400, 'Trigger is not enabled.']);
      expect(await buildCount()).toBe(before);
    } finally {
      await admin.ok('PUT', `/repository/acme/app/trigger/${trigger.id}`, { enabled: true });
    }
  });

  test('build_queued is delivered with the trigger metadata, and a ref-regex notification only for matching refs', async () => {
    const receiver = await startReceiver({ host: '127.0.0.5' });
    try {
      for (const [title, refRegex] of [
        ['all', ''],
        ['main', 'refs/heads/main'],
      ]) {
        await admin.ok('POST', '/repository/acme/app/notification/', {
          event: 'build_queued',
          method: 'webhook',
          config: { url: `${receiver.url}/${title}` },
          eventConfig: refRegex ? { 'ref-regex': refRegex } : {},
          title,
        });
      }
      expect((await hook(trigger.id, payload('refs/heads/release/3', 'x', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'))).status).toBe(200);
      const [first] = await receiver.waitFor(1);
      expect(first.path).toBe('/all');
      expect(JSON.parse(first.body)).toMatchObject({
        repository: 'acme/app',
        trigger_id: trigger.id,
        trigger_kind: 'custom-git',
        trigger_manual: false,
        is_manual: false,
        docker_tags: ['bbbbbbb', 'br-release_3', 'release_3'],
        trigger_metadata: { ref: 'refs/heads/release/3', commit: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' },
      });
      expect((await hook(trigger.id, payload('refs/heads/main', 'y', 'cccccccccccccccccccccccccccccccccccccccc'))).status).toBe(200);
      const all = await receiver.waitFor(3);
      await new Promise((r) => setTimeout(r, 1000));
      expect(receiver.received).toHaveLength(3);
      const toMain = all.filter((r) => r.path === '/main').map((r) => JSON.parse(r.body).trigger_metadata.ref);
      expect(toMain).toEqual(['refs/heads/main']);
    } finally {
      await receiver.close();
    }
  });
});
