/**
 * The pull path's in-process caches (registry/cache/) on two replicas sharing one Postgres: a manifest GET
 * is answered from memory, and every change made through either replica (tag moved or deleted, manifest
 * deleted, permission revoked, repository made private) shows on both at once; when the notification
 * connection drops, nothing older than the staleness bound is served.
 */
import pg from 'pg';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { OCI_MANIFEST, V2Client, errorCode } from '../../helpers/v2.js';
import { createUser, signin, type Api } from '../api/fixture.js';
import { sleep } from '../gc/lib.js';

let a: RegistryProcess;
let b: RegistryProcess;
let dbUri: string;
let adminApi: Api;

beforeAll(async () => {
  const config = await scaleOutConfig({ FEATURE_GARBAGE_COLLECTION: false });
  dbUri = config.DB_URI as string;
  a = await startRegistry({ label: 'cache-a', config });
  b = await startRegistry({ label: 'cache-b', config, adminPassword: a.admin.password });
  adminApi = await signin(a, 'admin', a.admin.password);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

/** One sample of a /metrics line, summed over its label sets matching `labels`. */
async function metric(reg: RegistryProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${reg.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function getManifest(reg: RegistryProcess, repo: string, ref: string, authorization?: string): Promise<Response> {
  return fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST, ...(authorization ? { authorization } : {}) } });
}

async function bearer(reg: RegistryProcess, repo: string): Promise<string> {
  return `Bearer ${await registryToken(reg, [`repository:${repo}:pull`], reg.admin)}`;
}

test('manifest GETs come from memory; tag moves, tag deletes and manifest deletes through either replica show on both at once', async () => {
  const repo = 'admin/hot';
  const onA = V2Client.basic(a);
  const onB = V2Client.basic(b);
  const first = await onA.pushImage(repo, 'v1');
  const auth = { a: await bearer(a, repo), b: await bearer(b, repo) };
  for (const reg of [a, b]) {
    const r = await getManifest(reg, repo, 'v1', auth[reg === a ? 'a' : 'b']);
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(first.digest);
  }
  // The second GET of the same tag on B is served from the caches: repository, tag and manifest hits.
  const hits = async () => ({
    repository: await metric(b, 'quay_cache_lookups_total', 'cache="repository",result="hit"'),
    tag: await metric(b, 'quay_cache_lookups_total', 'cache="tag",result="hit"'),
    manifest: await metric(b, 'quay_cache_lookups_total', 'cache="manifest",result="hit"'),
    token: await metric(b, 'quay_cache_lookups_total', 'cache="token",result="hit"'),
  });
  const before = await hits();
  const again = await getManifest(b, repo, 'v1', auth.b);
  expect(again.status).toBe(200);
  expect(Buffer.from(await again.arrayBuffer()).equals(first.manifest)).toBe(true);
  const after = await hits();
  for (const k of ['repository', 'tag', 'manifest', 'token'] as const) expect(after[k]).toBeGreaterThan(before[k]);
  expect(await metric(b, 'quay_cache_bytes', 'cache="manifest"')).toBeGreaterThanOrEqual(first.manifest.length);
  expect(await metric(b, 'quay_cache_max_bytes', 'cache="manifest"')).toBeGreaterThan(0);
  expect(await metric(b, 'quay_cache_trusted')).toBe(1);

  // The tag moves through B: A, which had it cached, answers the new manifest on the next request.
  const second = await onB.pushImage(repo, 'v1');
  for (const reg of [a, b]) expect((await getManifest(reg, repo, 'v1', auth[reg === a ? 'a' : 'b'])).headers.get('docker-content-digest')).toBe(second.digest);

  // The tag is deleted through A: gone on B.
  expect((await onA.req('DELETE', `/v2/${repo}/manifests/v1`)).status).toBe(202);
  for (const reg of [a, b]) {
    const r = await getManifest(reg, repo, 'v1', auth[reg === a ? 'a' : 'b']);
    expect(r.status).toBe(404);
    expect(await errorCode(r)).toBe('MANIFEST_UNKNOWN');
  }

  // A manifest cached by digest on both is deleted through B: gone on A.
  for (const reg of [a, b]) expect((await getManifest(reg, repo, first.digest, auth[reg === a ? 'a' : 'b'])).status).toBe(200);
  expect((await onB.req('DELETE', `/v2/${repo}/manifests/${first.digest}`)).status).toBe(202);
  for (const reg of [a, b]) expect((await getManifest(reg, repo, first.digest, auth[reg === a ? 'a' : 'b'])).status).toBe(404);
});

test('a push that only creates a tag answers without a fence, and the other replica lists and serves the tag at once', async () => {
  const repo = 'admin/fresh';
  const onA = V2Client.basic(a);
  const onB = V2Client.basic(b);
  await onA.pushImage(repo, 'base');
  const auth = { a: await bearer(a, repo), b: await bearer(b, repo) };
  // A caches the repository (its tag_version), the tag list and a tag.
  for (let i = 0; i < 2; i++) {
    expect((await getManifest(a, repo, 'base', auth.a)).status).toBe(200);
    expect(((await (await onA.req('GET', `/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags).toEqual(['base']);
  }
  expect(await metric(a, 'quay_cache_peers')).toBe(1);
  const fences = await metric(b, 'quay_cache_fences_total');
  for (const tag of ['new1', 'new2', 'new3']) {
    const pushed = await onB.pushImage(repo, tag);
    const r = await getManifest(a, repo, tag, auth.a);
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toBe(pushed.digest);
    const listed = ((await (await onA.req('GET', `/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags;
    expect(listed).toContain(tag);
  }
  // Creating tags sent no fence; moving one does, and A serves the moved tag at once.
  expect(await metric(b, 'quay_cache_fences_total')).toBe(fences);
  const moved = await onB.pushImage(repo, 'base');
  expect(await metric(b, 'quay_cache_fences_total')).toBeGreaterThan(fences);
  expect((await getManifest(a, repo, 'base', auth.a)).headers.get('docker-content-digest')).toBe(moved.digest);
});

test('a revoked permission and a repository made private take effect on both replicas at once', async () => {
  const repo = 'admin/guarded';
  await V2Client.basic(a).pushImage(repo, 'latest');
  const password = await createUser(adminApi, 'cachereader');
  const reader = (reg: RegistryProcess) => V2Client.basic(reg, 'cachereader', password);
  await adminApi.ok('PUT', `/repository/${repo}/permissions/user/cachereader`, { role: 'read' });
  for (const reg of [a, b]) expect((await reader(reg).req('GET', `/v2/${repo}/manifests/latest`, { headers: { accept: OCI_MANIFEST } })).status).toBe(200);
  // Revoked through B: A refuses at once, and neither grants it in a new token.
  const onB = await signin(b, 'admin', a.admin.password);
  await onB.ok('DELETE', `/repository/${repo}/permissions/user/cachereader`);
  for (const reg of [a, b]) {
    const r = await reader(reg).req('GET', `/v2/${repo}/manifests/latest`, { headers: { accept: OCI_MANIFEST } });
    expect(r.status).toBe(403);
    expect(await errorCode(r)).toBe('DENIED');
    const t = await fetch(`${reg.url}/v2/auth?service=${reg.hostPort}&scope=repository:${repo}:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`cachereader:${password}`).toString('base64')}` },
    });
    const { token } = (await t.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { access: Array<{ actions: string[] }> };
    expect(claims.access.flatMap((e) => e.actions)).not.toContain('pull');
  }

  // Public through A: anonymous pulls on both (cached); private through B: anonymous pulls refused on A.
  await adminApi.ok('POST', `/repository/${repo}/changevisibility`, { visibility: 'public' });
  for (const reg of [a, b]) expect((await getManifest(reg, repo, 'latest')).status).toBe(200);
  await onB.ok('POST', `/repository/${repo}/changevisibility`, { visibility: 'private' });
  for (const reg of [a, b]) expect((await getManifest(reg, repo, 'latest')).status).toBe(401);
});

test('when the notification connections drop, a deleted tag disappears everywhere within the staleness bound', async () => {
  const repo = 'admin/dropped';
  await V2Client.basic(a).pushImage(repo, 'v1');
  const auth = { a: await bearer(a, repo), b: await bearer(b, repo) };
  for (const reg of [a, b]) expect((await getManifest(reg, repo, 'v1', auth[reg === a ? 'a' : 'b'])).status).toBe(200);
  const resets = { a: await metric(a, 'quay_cache_resets_total'), b: await metric(b, 'quay_cache_resets_total') };

  const db = new pg.Client({ connectionString: dbUri });
  await db.connect();
  try {
    const killed = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'quay-listen:quay_cache'`);
    expect(killed.rowCount).toBeGreaterThanOrEqual(2);
    // The tag ends in the database while nobody listens: its notification is lost.
    await db.query(
      `UPDATE tag SET end_ms = $1 WHERE name = 'v1' AND end_ms IS NULL AND repository_id = (SELECT r.id FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE n.name = 'admin' AND r.name = 'dropped')`,
      [Date.now()],
    );
  } finally {
    await db.end();
  }
  const t0 = Date.now();
  const gone = { a: 0, b: 0 };
  while (gone.a === 0 || gone.b === 0) {
    for (const reg of [a, b] as const) {
      const k = reg === a ? 'a' : 'b';
      if (gone[k] === 0 && (await getManifest(reg, repo, 'v1', auth[k])).status === 404) gone[k] = Date.now() - t0;
    }
    if (Date.now() - t0 > 10_000) break;
    await sleep(50);
  }
  // STALENESS_MS (3 s) plus one heartbeat and a reconnection's wait.
  expect(gone.a).toBeGreaterThan(0);
  expect(gone.b).toBeGreaterThan(0);
  expect(Math.max(gone.a, gone.b)).toBeLessThan(5000);
  // Both emptied their caches when they listened again, and serve from them once more.
  expect(await metric(a, 'quay_cache_resets_total')).toBeGreaterThan(resets.a);
  expect(await metric(b, 'quay_cache_resets_total')).toBeGreaterThan(resets.b);
  expect(await metric(a, 'quay_cache_trusted')).toBe(1);
});
