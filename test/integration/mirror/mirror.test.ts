/**
 * Repository mirroring against a real upstream (Debian's docker-registry, Distribution 2.8, with htpasswd
 * Basic auth), the registry on Postgres and S3, and the mirror worker as separate `mirror` processes (two of
 * them on one database). API validation texts, 30 tags with globs, an upstream deletion mirrored, an OCI
 * index with two platforms and an architecture_filter, wrong credentials counting retries down, twenty
 * repositories synced by two workers without overlap, a worker killed mid-blob, and a worker with an hour
 * between passes starting new configurations and sync-now at once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import yaml from 'js-yaml';
import { basicAuth, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../../setup/procs.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { Api, createUser, signin } from '../api/fixture.js';
import { OCI_INDEX, OCI_MANIFEST, V2Client, randomBlob, sha256 } from '../../helpers/v2.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { startFaultFront } from '../../helpers/fault_front.js';
import { pushLayout, umociImage, umociIndex, umociTags, type UmociImage } from '../../helpers/umoci.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { waitFor } from '../../helpers/poll.js';

let up: DistributionService;
/** Build a small umoci image and push it to the upstream as `repo:tag` with skopeo. */
async function pushUmoci(repo: string, tag: string): Promise<UmociImage> {
  const label = `mirror-${repo.replace('/', '-')}-${tag}`;
  const img = await umociImage(`${label}-build`, tag);
  await pushLayout(clientSandbox(`${label}-push`), img.ref, `${up.hostPort}/${repo}:${tag}`, `${UP_USER}:${UP_PASSWORD}`);
  return img;
}

let reg: RegistryProcess;
let admin: Api;
let upstream: V2Client;
let rx: Receiver;
const workers: ManagedProcess[] = [];
/** /metrics of each mirror process, by label. */
const metricsUrl: Record<string, string> = {};
const UP_USER = 'mirror';
const UP_PASSWORD = 'upstream-s3cret';

async function startMirror(label: string, configPath = reg.configPath!): Promise<ManagedProcess> {
  const port = await freePort();
  const dir = workDir(label);
  const proc = startProcess({
    name: label,
    bin: process.execPath,
    args: [join(REPO_ROOT, 'dist/registry/main.js'), 'mirror', '--config', configPath, '--port', String(port), '--host', '127.0.0.1'],
    logFile: join(dir, 'mirror.log'),
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  await waitUntil(proc, `${label} health`, async () => (await fetch(`http://127.0.0.1:${port}/health/instance`).catch(() => null))?.status === 200, 120_000);
  // Only health and metrics: the API and /v2 are not served by a mirror process.
  expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  workers.push(proc);
  metricsUrl[label] = `http://127.0.0.1:${port}/metrics`;
  return proc;
}

const body = (repoUpstream: string, extra: Record<string, unknown> = {}) => ({
  external_reference: `${up.hostPort}/${repoUpstream}`,
  external_registry_username: UP_USER,
  external_registry_password: UP_PASSWORD,
  external_registry_config: { verify_tls: false, unsigned_images: false },
  sync_interval: 3600,
  sync_start_date: '2020-01-01T00:00:00Z',
  robot_username: 'mirrors+bot',
  skopeo_timeout_interval: 300,
  root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['*'] },
  ...extra,
});

async function createMirroredRepo(name: string, b: Record<string, unknown>): Promise<void> {
  await admin.ok('POST', '/repository', { namespace: 'mirrors', repository: name, visibility: 'private', description: '' });
  const r = await admin.post(`/repository/mirrors/${name}/mirror`, b);
  if (r.status !== 201) throw new Error(`mirror config for ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** A mirror process's /metrics: `value('name{labels}')` is the sample's value (0 when absent). */
async function mirrorMetrics(label: string): Promise<{ text: string; value(name: string): number }> {
  const text = await (await fetch(metricsUrl[label])).text();
  return { text, value: (name) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0) };
}

async function mirrorState(name: string): Promise<{ sync_status: string; sync_retries_remaining: number }> {
  return admin.ok('GET', `/repository/mirrors/${name}/mirror`);
}

async function localTags(name: string): Promise<Record<string, string>> {
  const r = await admin.ok('GET', `/repository/mirrors/${name}/tag/?onlyActiveTags=true&limit=100`);
  return Object.fromEntries((r.tags as { name: string; manifest_digest: string }[]).map((t) => [t.name, t.manifest_digest]));
}

/** Every usage log entry of a repository, oldest first (the API pages 20 at a time, newest first). */
async function repoLogs(name: string): Promise<{ kind: string; datetime: string; metadata: Record<string, string> }[]> {
  const all = [];
  let next = '';
  do {
    const page = await admin.ok('GET', `/repository/mirrors/${name}/logs${next ? `?next_page=${encodeURIComponent(next)}` : ''}`);
    all.push(...page.logs);
    next = page.next_page ?? '';
  } while (next);
  return all.reverse();
}

const pullAuth = () => ({ authorization: basicAuth(reg.admin.username, reg.admin.password) });

beforeAll(async () => {
  const dir = workDir('mirror-upstream');
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `${UP_USER}:${bcrypt.hashSync(UP_PASSWORD, 8)}\n`);
  up = await startDistribution({ htpasswdFile: htpasswd });
  // Webhooks go to a loopback address of their own (127.0.0.1 is always refused for webhooks, as in Quay).
  rx = await startReceiver({ host: '127.0.0.5' });
  upstream = new V2Client({ url: up.url } as RegistryProcess, basicAuth(UP_USER, UP_PASSWORD));
  reg = await startRegistry({
    label: 'mirror-registry',
    config: await scaleOutConfig({
      FEATURE_REPO_MIRROR: true,
      FEATURE_SPARSE_INDEX: true,
      REPO_MIRROR_INTERVAL: 1,
      V2_AUTH_CHALLENGE: 'basic',
      SSRF_ALLOWED_HOSTS: ['127.0.0.1', '127.0.0.5/32'],
    }),
  });
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'mirrors', email: 'mirrors@example.com' });
  await admin.ok('PUT', '/organization/mirrors/robots/bot', {});
  await admin.ok('POST', '/organization/', { name: 'other', email: 'other@example.com' });
  await admin.ok('PUT', '/organization/other/robots/bot', {});
}, 180_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  await reg?.stop();
  await up?.stop();
  await rx?.close();
});

test('API: Quay validation texts, one config per repository, credentials never returned, audit entries, admins only', async () => {
  await admin.ok('POST', '/repository', { namespace: 'mirrors', repository: 'api', visibility: 'private', description: '' });
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ external_reference: `http://${up.hostPort}/x` }, 'External registry reference must not include a URL scheme'],
    [{ external_reference: up.hostPort }, 'External registry reference must include a repository path'],
    [{ external_reference: '169.254.169.254/latest/meta-data' }, 'The provided registry location is not allowed'],
    [{ external_reference: 'localhost:5000/team/app' }, 'The provided registry location is not allowed'],
    [{ skopeo_timeout_interval: 299 }, 'Skopeo timeout interval cannot be less than 300 seconds'],
    [{ sync_start_date: '2020-01-01 00:00:00' }, 'Incorrect DateTime format for sync_start_date.'],
    [{ sync_start_date: '2020-02-30T00:00:00Z' }, 'Incorrect DateTime format for sync_start_date.'],
    [{ architecture_filter: ['amd64', 'mips'] }, 'Invalid architectures: mips'],
    [{ robot_username: 'other+bot' }, 'Invalid robot'],
    [{ external_registry_username: null }, 'Unable to set a new password without also specifying a username.'],
    [{ root_rule: { rule_kind: 'tag_glob_csv', rule_value: [] } }, 'validation failed: rule_value for TAG_GLOB_CSV must be a list with at least one rule'],
  ];
  for (const [extra, text] of bad) {
    const r = await admin.post('/repository/mirrors/api/mirror', body('up/api', extra));
    expect({ extra, status: r.status, text: r.body?.error_message }).toEqual({ extra, status: 400, text });
  }
  expect((await admin.get('/repository/mirrors/api/mirror')).status).toBe(404);
  expect((await admin.post('/repository/mirrors/api/mirror', body('up/api'))).status).toBe(201);
  const again = await admin.post('/repository/mirrors/api/mirror', body('up/api'));
  expect(again).toMatchObject({ status: 409, body: { detail: 'Mirror configuration already exits for repository mirrors/api' } });
  const view = await admin.ok('GET', '/repository/mirrors/api/mirror');
  expect(view).toMatchObject({
    is_enabled: true,
    mirror_type: 'PULL',
    external_reference: `${up.hostPort}/up/api`,
    external_registry_username: UP_USER,
    sync_status: 'NEVER_RUN',
    sync_retries_remaining: 3,
    sync_start_date: '2020-01-01T00:00:00Z',
    root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['*'] },
    robot_username: 'mirrors+bot',
    skopeo_timeout_interval: 300,
    architecture_filter: [],
  });
  expect(JSON.stringify(view)).not.toContain(UP_PASSWORD);
  // PUT: each key applied and audited on its own; a password needs a username.
  expect((await admin.put('/repository/mirrors/api/mirror', { external_registry_password: 'x' })).body.error_message).toBe(
    'Unable to set a new password without also specifying a username.',
  );
  expect((await admin.put('/repository/mirrors/api/mirror', { skopeo_timeout_interval: 10 })).body.error_message).toBe('Skopeo timeout interval cannot be less than 300 seconds.');
  expect((await admin.put('/repository/mirrors/api/mirror', { is_enabled: false, sync_interval: 60, root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v*'] } })).status).toBe(
    201,
  );
  expect(await admin.ok('GET', '/repository/mirrors/api/mirror')).toMatchObject({ is_enabled: false, sync_interval: 60, root_rule: { rule_value: ['v*'] } });
  const logs = await repoLogs('api');
  const changed = logs
    .filter((l) => l.kind === 'repo_mirror_config_changed')
    .map((l) => l.metadata.changed)
    .sort();
  expect(changed).toEqual(['external_reference', 'is_enabled', 'mirror_rule', 'sync_interval']);
  // Not running: sync-cancel has nothing to cancel; sync-now is accepted.
  expect((await admin.post('/repository/mirrors/api/mirror/sync-cancel')).status).toBe(404);
  // A user without admin on the repository: 403; anonymous: 401.
  const pw = await createUser(admin, 'notadmin');
  const user = await signin(reg, 'notadmin', pw);
  expect((await user.get('/repository/mirrors/api/mirror')).status).toBe(403);
  expect((await user.post('/repository/mirrors/api/mirror/sync-now')).status).toBe(403);
  expect((await new Api(reg.url).get('/repository/mirrors/api/mirror')).status).toBe(401);
}, 120_000);

test('30 umoci-built tags with globs v1.* and latest, unmatched tags left out, an upstream deletion mirrored, sync-now', async () => {
  const names = [...Array.from({ length: 29 }, (_, i) => `v1.${i}`), 'latest', 'v2.0', 'dev'];
  // One image per tag over one shared layer (umoci), pushed with skopeo.
  const built = await umociTags('mirror-glob-build', names);
  const push = clientSandbox('mirror-glob-push');
  for (const t of names) await pushLayout(push, built[t].ref, `${up.hostPort}/team/app:${t}`, `${UP_USER}:${UP_PASSWORD}`);
  const digests = Object.fromEntries(names.map((t) => [t, built[t].manifest.digest]));
  await createMirroredRepo('app', body('team/app', { root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1.*', 'latest'] } }));
  await startMirror('mirror-a');
  await waitFor('first sync', async () => (await mirrorState('app')).sync_status === 'SUCCESS');
  const expected = Object.fromEntries(Object.entries(digests).filter(([t]) => t !== 'v2.0' && t !== 'dev'));
  expect(Object.keys(expected)).toHaveLength(30);
  expect(await localTags('app')).toEqual(expected);
  // A runnable client pulls one mirrored image back: manifest, config and the shared layer digest-exact.
  const sb = clientSandbox('mirror-glob-pull');
  await sb.run('skopeo', [
    'copy',
    ...INSECURE.skopeoCopy,
    '--src-creds',
    `${reg.admin.username}:${reg.admin.password}`,
    `docker://${reg.hostPort}/mirrors/app:v1.7`,
    `dir:${join(sb.dir, 'v1.7')}`,
  ]);
  expect(sha256(readFileSync(join(sb.dir, 'v1.7', 'manifest.json')))).toBe(digests['v1.7']);
  for (const d of [built['v1.7'].config, ...built['v1.7'].layers]) expect(sha256(readFileSync(join(sb.dir, 'v1.7', d.digest.split(':')[1])))).toBe(d.digest);

  // Upstream deletes v1.3: the next sync (sync-now) ends the local tag.
  expect((await upstream.req('DELETE', `/v2/team/app/manifests/${digests['v1.3']}`)).status).toBe(202);
  expect((await admin.post('/repository/mirrors/app/mirror/sync-now')).status).toBe(204);
  await waitFor('v1.3 gone', async () => !('v1.3' in (await localTags('app'))) && (await mirrorState('app')).sync_status === 'SUCCESS');
  const after = await localTags('app');
  expect(Object.keys(after)).toHaveLength(29);
  // Usage logs are written in batches: wait for the second run's entry.
  const logs = await waitFor('two successes logged', async () => {
    const l = await repoLogs('app');
    return l.filter((x) => x.kind === 'repo_mirror_sync_success').length >= 2 && l;
  });
  expect(logs.some((l) => l.kind === 'repo_mirror_sync_started' && l.metadata.message === `'${up.hostPort}/team/app' with tag pattern 'v1.*,latest'`)).toBe(true);
  expect(logs.some((l) => l.kind === 'repo_mirror_config_changed' && l.metadata.changed === 'sync_status' && l.metadata.to === 'SYNC_NOW')).toBe(true);
  expect(logs.some((l) => l.kind === 'delete_tag' && l.metadata.tag === 'v1.3')).toBe(true);
}, 240_000);

test('a umoci-built OCI index with two platforms and architecture_filter [arm64]: same index digest, only the arm64 image', async () => {
  const multi = await umociIndex('mirror-multiarch-build', 'latest');
  await pushLayout(clientSandbox('mirror-multiarch-push'), multi.ref, `${up.hostPort}/team/multi:latest`, `${UP_USER}:${UP_PASSWORD}`);
  await createMirroredRepo('multi', body('team/multi', { architecture_filter: ['arm64'], root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['latest'] } }));
  await waitFor('multi synced', async () => (await mirrorState('multi')).sync_status === 'SUCCESS');
  expect(await localTags('multi')).toEqual({ latest: multi.index.digest });
  const idx = await fetch(`${reg.url}/v2/mirrors/multi/manifests/latest`, { headers: { ...pullAuth(), accept: OCI_INDEX } });
  expect(sha256(Buffer.from(await idx.arrayBuffer()))).toBe(multi.index.digest);
  const arm = await fetch(`${reg.url}/v2/mirrors/multi/manifests/${multi.images.arm64.manifest.digest}`, { headers: { ...pullAuth(), accept: OCI_MANIFEST } });
  expect(sha256(Buffer.from(await arm.arrayBuffer()))).toBe(multi.images.arm64.manifest.digest);
  for (const d of [multi.images.arm64.config, ...multi.images.arm64.layers]) {
    const b = await fetch(`${reg.url}/v2/mirrors/multi/blobs/${d.digest}`, { headers: pullAuth() });
    expect(sha256(Buffer.from(await b.arrayBuffer()))).toBe(d.digest);
  }
  const amd = await fetch(`${reg.url}/v2/mirrors/multi/manifests/${multi.images.amd64.manifest.digest}`, { headers: { ...pullAuth(), accept: OCI_MANIFEST } });
  expect(amd.status).toBe(404);
  const amdLayer = await fetch(`${reg.url}/v2/mirrors/multi/blobs/${multi.images.amd64.layers[0].digest}`, { headers: pullAuth() });
  expect(amdLayer.status).toBe(404);
  // A runnable client pulls the arm64 image of the mirrored index by its tag.
  const sb = clientSandbox('mirror-multiarch-pull');
  await sb.run('skopeo', [
    '--override-arch',
    'arm64',
    'copy',
    ...INSECURE.skopeoCopy,
    '--src-creds',
    `${reg.admin.username}:${reg.admin.password}`,
    `docker://${reg.hostPort}/mirrors/multi:latest`,
    `dir:${join(sb.dir, 'arm')}`,
  ]);
  expect(sha256(readFileSync(join(sb.dir, 'arm', 'manifest.json')))).toBe(multi.images.arm64.manifest.digest);
}, 120_000);

test('wrong upstream credentials: FAIL with the retries counted down', async () => {
  await pushUmoci('team/locked', 'v1');
  await createMirroredRepo('locked', body('team/locked', { external_registry_password: 'wrong' }));
  await waitFor('first failure', async () => {
    const s = await mirrorState('locked');
    return s.sync_status === 'FAIL' && s.sync_retries_remaining === 2;
  });
  await waitFor('second failure', async () => (await mirrorState('locked')).sync_retries_remaining === 1);
  const logs = await waitFor('two failures logged', async () => {
    const l = await repoLogs('locked');
    return l.filter((x) => x.kind === 'repo_mirror_sync_failed').length >= 2 && l;
  });
  expect(logs.filter((l) => l.kind === 'repo_mirror_sync_failed').every((l) => l.metadata.stderr?.includes('401'))).toBe(true);
  expect(await localTags('locked')).toEqual({});
}, 120_000);

test('repo_mirror_sync_started/_success/_failed notifications reach a real webhook receiver', async () => {
  const img = await upstream.pushImage('team/notified', 'v1', { layers: [randomBlob(2048)] });
  await upstream.pushImage('team/notified', 'other');
  await admin.ok('POST', '/repository', { namespace: 'mirrors', repository: 'notified', visibility: 'private', description: '' });
  for (const event of ['repo_mirror_sync_started', 'repo_mirror_sync_success', 'repo_mirror_sync_failed']) {
    await admin.ok('POST', '/repository/mirrors/notified/notification/', { event, method: 'webhook', config: { url: `${rx.url}/${event}` }, eventConfig: {} });
  }
  const metricsBefore = await mirrorMetrics('mirror-a');
  const r = await admin.post('/repository/mirrors/notified/mirror', body('team/notified', { root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1'] } }));
  expect(r.status).toBe(201);
  const message = `'${up.hostPort}/team/notified' with tag pattern 'v1'`;
  const mine = () => rx.received.filter((x) => x.path.startsWith('/repo_mirror_sync_')).map((x) => ({ path: x.path, body: JSON.parse(x.body) }));
  await waitFor('started and success delivered', async () => mine().length >= 2);
  const common = { repository: 'mirrors/notified', namespace: 'mirrors', name: 'notified', message };
  expect(mine()).toEqual(
    expect.arrayContaining([
      { path: '/repo_mirror_sync_started', body: expect.objectContaining(common) },
      { path: '/repo_mirror_sync_success', body: expect.objectContaining(common) },
    ]),
  );
  expect(await localTags('notified')).toEqual({ v1: img.digest });

  // Wrong credentials, disabled so that only sync-now runs it (no retries): one run, one failure event.
  await admin.ok('PUT', '/repository/mirrors/notified/mirror', { external_registry_username: UP_USER, external_registry_password: 'wrong', is_enabled: false });
  expect((await admin.post('/repository/mirrors/notified/mirror/sync-now')).status).toBe(204);
  await waitFor('failure delivered', async () => mine().some((x) => x.path === '/repo_mirror_sync_failed'));
  await new Promise((res) => setTimeout(res, 3000));
  expect(
    mine()
      .filter((x) => x.path === '/repo_mirror_sync_failed')
      .map((x) => x.body),
  ).toEqual([expect.objectContaining(common)]);
  expect(mine().filter((x) => x.path === '/repo_mirror_sync_started')).toHaveLength(2);
  expect(mine().filter((x) => x.path === '/repo_mirror_sync_success')).toHaveLength(1);
  expect((await mirrorState('notified')).sync_status).toBe('FAIL');

  // The only worker so far counted these two runs in its /metrics (other repositories' retries may add failures).
  const after = await mirrorMetrics('mirror-a');
  const delta = (name: string) => after.value(name) - metricsBefore.value(name);
  expect(delta('quay_repository_mirror_syncs_total{result="success"}')).toBe(1);
  expect(delta('quay_repository_mirror_syncs_total{result="fail"}')).toBeGreaterThanOrEqual(1);
  expect(delta('quay_repository_mirror_tags_total{result="copied"}')).toBe(1);
  expect(delta('quay_repository_mirror_sync_duration_seconds_count{result="success"}')).toBe(1);
  expect(after.value('quay_repository_mirror_last_success_timestamp_seconds') * 1000).toBeGreaterThan(Date.now() - 120_000);
  expect(after.text).toContain('# TYPE quay_repository_mirror_syncs_running gauge');
}, 120_000);

test('two mirror processes, twenty repositories syncing every second: every repository synced, never two runs of one at once', async () => {
  await startMirror('mirror-b');
  const img = await pushUmoci('team/many', 'v1');
  const repos = Array.from({ length: 20 }, (_, i) => `many${i}`);
  for (const r of repos) await createMirroredRepo(r, body('team/many', { sync_interval: 1 }));
  const syncLogs = async (r: string) =>
    (await repoLogs(r)).filter((l) => l.kind === 'repo_mirror_sync_started' || l.kind === 'repo_mirror_sync_success' || l.kind === 'repo_mirror_sync_failed');
  // Every repository synced twice (two runs that could have overlapped), by both workers between them.
  await waitFor(
    'two runs of every repository, on both workers',
    async () =>
      workers.every((w) =>
        w
          .logTail(100000)
          .split('\n')
          .some((l) => l.includes('mirror sync finished') && l.includes('mirrors/many')),
      ) && (await Promise.all(repos.map(async (r) => (await syncLogs(r)).length >= 4))).every(Boolean),
    150_000,
  );
  for (const r of repos) await admin.ok('PUT', `/repository/mirrors/${r}/mirror`, { is_enabled: false });
  for (const r of repos) {
    // started, finished, started, finished ...: a start never follows a start.
    (await syncLogs(r)).forEach((l, i) =>
      expect({ r, i, kind: l.kind }).toEqual({ r, i, kind: i % 2 === 0 ? 'repo_mirror_sync_started' : expect.stringMatching(/success|failed/) }),
    );
    expect(await localTags(r)).toHaveProperty('v1', img.manifest.digest);
  }
}, 240_000);

test('a mirrored repository takes pushes from its mirror robot only', async () => {
  const robot = await admin.ok('GET', '/organization/mirrors/robots/bot');
  const asRobot = V2Client.basic(reg, 'mirrors+bot', robot.token);
  const asAdmin = V2Client.basic(reg);
  const refused = await asAdmin.req('POST', '/v2/mirrors/app/blobs/uploads/');
  expect(refused.status).toBe(403);
  expect(JSON.stringify(await refused.json())).toContain('mirror');
  expect((await asRobot.pushBlob('mirrors/app', randomBlob(512))).status).toBe(201);
}, 60_000);

test('sync-cancel during a sync, then a worker killed mid-blob: the next worker completes, nothing partial is visible', async () => {
  const layers = [randomBlob(24 * 1024 * 1024), randomBlob(24 * 1024 * 1024), randomBlob(24 * 1024 * 1024)];
  for (let i = 0; i < 6; i++) await upstream.pushImage('team/big', `v${i}`, { layers: [layers[i % 3], randomBlob(1024)] });
  await admin.ok('POST', '/repository', { namespace: 'mirrors', repository: 'big', visibility: 'private', description: '' });
  await admin.ok('POST', '/repository/mirrors/big/notification/', {
    event: 'repo_mirror_sync_failed',
    method: 'webhook',
    config: { url: `${rx.url}/big-failed` },
    eventConfig: {},
  });
  // The upstream behind a front that holds its answers: the sync cannot finish before the test cancels it.
  const front = await startFaultFront(up.url);
  front.mode = { kind: 'hold' };
  expect((await admin.post('/repository/mirrors/big/mirror', body('team/big', { external_reference: `${front.hostPort}/team/big` }))).status).toBe(201);
  await waitFor('big syncing', async () => (await mirrorState('big')).sync_status === 'SYNCING', 60_000);
  expect((await admin.post('/repository/mirrors/big/mirror/sync-cancel')).status).toBe(204);
  expect((await mirrorState('big')).sync_status).toBe('CANCEL');
  front.release();
  await waitFor('cancel logged', async () => (await repoLogs('big')).some((l) => l.kind === 'repo_mirror_sync_failed' && l.metadata.verb === 'Cancelled'), 60_000);
  // The cancelled run fires repo_mirror_sync_failed, as Quay's does.
  const cancelled = await waitFor('cancel notified', async () => rx.received.find((x) => x.path === '/big-failed') ?? null, 60_000);
  expect(JSON.parse(cancelled.body)).toMatchObject({ repository: 'mirrors/big', message: `'${front.hostPort}/team/big' with tag pattern '*'` });
  expect((await mirrorState('big')).sync_status).toBe('CANCEL');
  // Stop the two workers; one new worker takes the next run and is killed while it copies.
  for (const w of workers.splice(0)) await w.stop();
  const doomed = await startMirror('mirror-doomed');
  front.mode = { kind: 'hold' };
  expect((await admin.post('/repository/mirrors/big/mirror/sync-now')).status).toBe(204);
  await waitFor('big syncing again', async () => (await mirrorState('big')).sync_status === 'SYNCING', 60_000);
  // Killed once a layer's worth of bytes has come through (or earlier, if the sync is slower than the poll).
  const before = front.bytesFromUpstream;
  front.release();
  await waitFor('a layer in flight', async () => front.bytesFromUpstream - before >= 24 * 1024 * 1024 || (await mirrorState('big')).sync_status !== 'SYNCING', 60_000);
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  // Whatever is visible is whole: every blob the repository serves has its digest.
  for (const l of layers) {
    const r = await fetch(`${reg.url}/v2/mirrors/big/blobs/${l.digest}`, { headers: pullAuth() });
    if (r.status === 200) expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(l.digest);
    else expect(r.status).toBe(404);
  }
  await startMirror('mirror-after-kill');
  await waitFor('big synced after the lease lapsed', async () => (await mirrorState('big')).sync_status === 'SUCCESS', 150_000);
  expect(Object.keys(await localTags('big')).sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  for (const l of layers) {
    const r = await fetch(`${reg.url}/v2/mirrors/big/blobs/${l.digest}`, { headers: pullAuth() });
    expect(sha256(Buffer.from(await r.arrayBuffer()))).toBe(l.digest);
  }
  await front.close();
}, 300_000);

test('a worker with REPO_MIRROR_INTERVAL of an hour starts a new configuration and a sync-now at once (woken by NOTIFY)', async () => {
  for (const w of workers.splice(0)) await w.stop();
  const config = yaml.load(readFileSync(reg.configPath!, 'utf8')) as Record<string, unknown>;
  const hourly = join(workDir('mirror-hourly'), 'config.yaml');
  writeFileSync(hourly, yaml.dump({ ...config, REPO_MIRROR_INTERVAL: 3600 }));
  await startMirror('mirror-hourly', hourly);
  const v1 = await upstream.pushImage('team/hourly', 'v1', { layers: [randomBlob(2048)] });
  await createMirroredRepo('hourly', body('team/hourly'));
  await waitFor('first sync', async () => (await mirrorState('hourly')).sync_status === 'SUCCESS');
  expect(await localTags('hourly')).toEqual({ v1: v1.digest });
  // The worker's pass after that run found nothing due; the next timed pass is an hour away.
  const v2 = await upstream.pushImage('team/hourly', 'v2', { layers: [randomBlob(2048)] });
  expect((await admin.post('/repository/mirrors/hourly/mirror/sync-now')).status).toBe(204);
  await waitFor('v2 mirrored', async () => (await mirrorState('hourly')).sync_status === 'SUCCESS' && (await localTags('hourly')).v2 === v2.digest);
  expect(await localTags('hourly')).toEqual({ v1: v1.digest, v2: v2.digest });
}, 300_000);

test('REPO_MIRROR_PRUNE_VANISHED_TAGS: false: a tag deleted upstream stays mirrored', async () => {
  for (const w of workers.splice(0)) await w.stop();
  const config = yaml.load(readFileSync(reg.configPath!, 'utf8')) as Record<string, unknown>;
  const keep = join(workDir('mirror-keep'), 'config.yaml');
  writeFileSync(keep, yaml.dump({ ...config, REPO_MIRROR_PRUNE_VANISHED_TAGS: false }));
  await startMirror('mirror-keep', keep);
  const v1 = await upstream.pushImage('team/keep', 'v1', { layers: [randomBlob(2048)] });
  const v2 = await upstream.pushImage('team/keep', 'v2', { layers: [randomBlob(2048)] });
  await createMirroredRepo('keep', body('team/keep'));
  await waitFor('first sync', async () => (await mirrorState('keep')).sync_status === 'SUCCESS');
  expect(await localTags('keep')).toEqual({ v1: v1.digest, v2: v2.digest });
  expect((await upstream.req('DELETE', `/v2/team/keep/manifests/${v2.digest}`)).status).toBe(202);
  // v3 arriving marks the second run: its tags are copied before vanished ones would be deleted, and it ends after.
  const v3 = await upstream.pushImage('team/keep', 'v3', { layers: [randomBlob(2048)] });
  expect((await admin.post('/repository/mirrors/keep/mirror/sync-now')).status).toBe(204);
  await waitFor('v3 mirrored', async () => (await localTags('keep')).v3 === v3.digest && (await mirrorState('keep')).sync_status === 'SUCCESS');
  expect(await localTags('keep')).toEqual({ v1: v1.digest, v2: v2.digest, v3: v3.digest });
}, 300_000);
