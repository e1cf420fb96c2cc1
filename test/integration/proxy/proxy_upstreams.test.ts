/**
 * Proxy cache organizations against more upstreams, all real: a second quay-ts with the Docker token flow
 * (realm/service/scope, a robot's credentials), pulled by podman; Debian's docker-registry (Distribution 2.8)
 * behind a fault-injecting front for the upstream failure matrix (5xx, 429, a timeout: the cached copy is
 * served while the tag lives, a clear 404 otherwise); and two registry replicas on one Postgres and S3 with
 * 20 concurrent `skopeo copy` of an uncached umoci-built 64 MiB image, the upstream sending each blob once; an OCI index
 * with two platforms copied with `skopeo copy --all`.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { signin, type Api } from '../api/fixture.js';
import { OCI_INDEX, OCI_MANIFEST, V2Client, randomBlob, sha256 } from '../../helpers/v2.js';
import { pushLayout, umociImage, umociIndex } from '../../helpers/umoci.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault_front.js';

const MiB = 1024 * 1024;
let dist: DistributionService;
let front: FaultFront;
let reg: RegistryProcess;
let reg2: RegistryProcess;
let admin: Api;
let upstream: V2Client;
let dbUri: string;

async function pull(r: RegistryProcess, path: string, accept = `${OCI_MANIFEST}, ${OCI_INDEX}`): Promise<Response> {
  const repo = path.split(/\/(manifests|blobs)\//)[0];
  const token = await registryToken(r, [`repository:${repo}:pull`], r.admin);
  return fetch(`${r.url}/v2/${path}`, { headers: { authorization: `Bearer ${token}`, accept } });
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0];
}

beforeAll(async () => {
  dist = await startDistribution();
  front = await startFaultFront(dist.url);
  upstream = new V2Client({ url: dist.url } as RegistryProcess);
  // Two replicas of one registry: one Postgres database, one S3 bucket.
  const config = await scaleOutConfig({ FEATURE_PROXY_CACHE: true, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] });
  dbUri = String(config.DB_URI);
  reg = await startRegistry({ label: 'proxy-up-a', config });
  reg2 = await startRegistry({ label: 'proxy-up-b', config });
  admin = await signin(reg, 'admin', reg.admin.password);
}, 240_000);

afterAll(async () => {
  await reg2?.stop();
  await reg?.stop();
  await front?.close();
  await dist?.stop();
});

test('a quay-ts upstream with token auth: robot credentials through realm/service/scope, podman pull digest-exact, anonymous refused', async () => {
  const up = await startRegistry({ label: 'proxy-up-quay', config: await scaleOutConfig({}) });
  try {
    const upAdmin = await signin(up, 'admin', up.admin.password);
    await upAdmin.ok('POST', '/organization/', { name: 'team', email: 'team@example.com' });
    const built = await umociImage('proxy-token-build', 'v1', 'amd64', [2 * MiB]);
    await pushLayout(clientSandbox('proxy-token-push'), built.ref, `${up.hostPort}/team/app:v1`, `${up.admin.username}:${up.admin.password}`);
    const img = { digest: built.manifest.digest, layers: built.layers };
    const robot = await upAdmin.ok('PUT', '/organization/team/robots/puller', {});
    await upAdmin.ok('PUT', '/repository/team/app/permissions/user/team+puller', { role: 'read' });
    // The upstream answers 401 with a Bearer challenge: the token flow is what the proxy must speak.
    const challenge = (await fetch(`${up.url}/v2/`)).headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer realm="[^"]+",service="[^"]+"/);

    await admin.ok('POST', '/organization/', { name: 'tcache', email: 'tcache@example.com' });
    const cfg = { upstream_registry: `${up.hostPort}/team`, insecure: true, upstream_registry_username: 'team+puller' };
    const wrong = await admin.post('/organization/tcache/validateproxycache', { ...cfg, upstream_registry_password: 'not-the-token' });
    expect(wrong).toMatchObject({ status: 400, body: { error_message: 'Failed login to remote registry. Please verify entered details and try again.' } });
    expect(await admin.post('/organization/tcache/validateproxycache', { ...cfg, upstream_registry_password: robot.token })).toMatchObject({ status: 202, body: 'Valid' });
    expect((await admin.post('/organization/tcache/proxycache', { ...cfg, upstream_registry_password: robot.token })).status).toBe(201);

    const sb = clientSandbox('proxy-podman');
    await sb.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
    await sb.run('podman', ['pull', ...INSECURE.podman, `${reg.hostPort}/tcache/app:v1`]);
    const digest = (await sb.run('podman', ['image', 'inspect', '--format', '{{.Digest}}', `${reg.hostPort}/tcache/app:v1`])).stdout.trim();
    expect(digest).toBe(img.digest);
    // The layer came through whole: podman unpacked it (umoci's gzip tar, whose diff_id the config lists).
    const layer = await pull(reg, `tcache/app/blobs/${img.layers[0].digest}`);
    expect(sha256(Buffer.from(await layer.arrayBuffer()))).toBe(img.layers[0].digest);

    // Without credentials the private upstream repository is out of reach: validate says Anonymous, pulls 404.
    await admin.ok('POST', '/organization/', { name: 'tanon', email: 'tanon@example.com' });
    expect(await admin.post('/organization/tanon/validateproxycache', { upstream_registry: `${up.hostPort}/team`, insecure: true })).toMatchObject({
      status: 202,
      body: 'Anonymous',
    });
    expect((await admin.post('/organization/tanon/proxycache', { upstream_registry: `${up.hostPort}/team`, insecure: true })).status).toBe(201);
    const anon = await pull(reg, 'tanon/app/manifests/v1');
    expect(anon.status).toBe(404);
    expect((await errorOf(anon)).code).toBe('NAME_UNKNOWN');
  } finally {
    await up.stop();
  }
}, 240_000);

test('failure matrix: upstream 503, 429 and a timeout serve the cached tag while it lives, 404 when nothing is cached or it expired; blobs get Quay’s text; skopeo pulls the cached image with the upstream failing', async () => {
  const built = await umociImage('proxy-fm-build', 'v1', 'amd64', [64 * 1024]);
  await pushLayout(clientSandbox('proxy-fm-push'), built.ref, `${dist.hostPort}/fm/app:v1`);
  const img = { digest: built.manifest.digest, config: built.config, layers: built.layers };
  await admin.ok('POST', '/organization/', { name: 'fm', email: 'fm@example.com' });
  // expiration_s outlives the timeout row (30 s read timeout) but not the whole test.
  expect((await admin.post('/organization/fm/proxycache', { upstream_registry: `${front.hostPort}/fm`, insecure: true, expiration_s: 45 })).status).toBe(201);
  const cachedAt = Date.now();
  expect((await pull(reg, 'fm/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);

  for (const status of [503, 500, 429]) {
    front.mode = { kind: 'status', status };
    const cached = await pull(reg, 'fm/app/manifests/v1');
    expect({ status, got: cached.status, digest: cached.headers.get('docker-content-digest') }).toEqual({ status, got: 200, digest: img.digest });
    const unknownTag = await pull(reg, 'fm/app/manifests/v2');
    expect({ status, got: unknownTag.status, code: (await errorOf(unknownTag)).code }).toEqual({ status, got: 404, code: 'MANIFEST_UNKNOWN' });
    const unknownRepo = await pull(reg, 'fm/other/manifests/v1');
    expect({ status, got: unknownRepo.status, code: (await errorOf(unknownRepo)).code }).toEqual({ status, got: 404, code: 'NAME_UNKNOWN' });
    // The layer was never fetched: a blob pull needs the upstream and says why it failed, in Quay's words.
    const blob = await pull(reg, `fm/app/blobs/${img.layers[0].digest}`);
    const err = await errorOf(blob);
    expect({ status, got: blob.status, code: err.code }).toEqual({ status, got: 400, code: 'INVALID_REQUEST' });
    expect(err.message).toContain('the requested image may not exist in the upstream registry');
    expect(err.message).toContain(String(status));
  }

  // The upstream accepts connections and never answers: after the read timeout, the same answers.
  front.mode = { kind: 'hang' };
  const started = Date.now();
  const [cached, unknownRepo] = await Promise.all([pull(reg, 'fm/app/manifests/v1'), pull(reg, 'fm/slow/manifests/v1')]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(25_000);
  expect(cached.status).toBe(200);
  expect(cached.headers.get('docker-content-digest')).toBe(img.digest);
  expect(unknownRepo.status).toBe(404);
  expect((await errorOf(unknownRepo)).code).toBe('NAME_UNKNOWN');

  // Serving stale did not push the expiry forward: once expiration_s has passed since the last confirmed pull, 404.
  front.mode = { kind: 'status', status: 503 };
  await new Promise((r) => setTimeout(r, Math.max(0, cachedAt + 47_000 - Date.now())));
  const expired = await pull(reg, 'fm/app/manifests/v1');
  expect(expired.status).toBe(404);
  expect((await errorOf(expired)).code).toBe('MANIFEST_UNKNOWN');
  // The upstream is back: the tag is confirmed and served again, the blob fetched.
  front.mode = { kind: 'pass' };
  expect((await pull(reg, 'fm/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);
  const blob = await pull(reg, `fm/app/blobs/${img.layers[0].digest}`);
  expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(img.layers[0].digest);

  // Every upstream request answered 503: a runnable client still pulls the whole image (the tag was just
  // confirmed; its config and layer are stored), digest-exact.
  front.mode = { kind: 'status', status: 503 };
  const injectedBefore = front.injected.length;
  const sb = clientSandbox('proxy-fm-pull');
  try {
    await sb.run('skopeo', [
      'copy',
      '--preserve-digests',
      ...INSECURE.skopeoCopy,
      '--src-creds',
      `admin:${reg.admin.password}`,
      `docker://${reg.hostPort}/fm/app:v1`,
      `dir:${join(sb.dir, 'v1')}`,
    ]);
  } finally {
    front.mode = { kind: 'pass' };
  }
  expect(front.injected.length).toBeGreaterThan(injectedBefore);
  expect(sha256(readFileSync(join(sb.dir, 'v1', 'manifest.json')))).toBe(img.digest);
  for (const d of [img.config, ...img.layers]) expect(sha256(readFileSync(join(sb.dir, 'v1', d.digest.slice(7))))).toBe(d.digest);
}, 240_000);

test('20 concurrent skopeo copy of an uncached umoci-built 64 MiB image through two replicas: the manifest and every blob fetched from the upstream once', async () => {
  const built = await umociImage('proxy-20-build', 'v1', 'amd64', [64 * MiB + 65_536 + 123]);
  const [layer] = built.layers;
  // Not a whole number of the fill's 8 MiB pieces: the last, partial piece was once lost when the spool closed
  // between two pieces, and the other replica's clients were cut.
  expect(layer.size % (8 * MiB)).not.toBe(0);
  await pushLayout(clientSandbox('proxy-20-push'), built.ref, `${dist.hostPort}/big/image:v1`);
  await admin.ok('POST', '/organization/', { name: 'bigcache', email: 'bigcache@example.com' });
  expect((await admin.post('/organization/bigcache/proxycache', { upstream_registry: front.hostPort, insecure: true })).status).toBe(201);
  front.mode = { kind: 'pass' };
  front.forwarded.length = 0;
  const creds = ['--src-creds', `admin:${reg.admin.password}`];
  const sb = clientSandbox('proxy-skopeo-20');
  const outs = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const r = i % 2 === 0 ? reg : reg2;
      const out = join(sb.dir, `copy-${i}`);
      await sb.run('skopeo', ['copy', '--preserve-digests', ...INSECURE.skopeoCopy, ...creds, `docker://${r.hostPort}/bigcache/big/image:v1`, `dir:${out}`], {
        timeoutMs: 600_000,
      });
      return out;
    }),
  );
  for (const out of outs) {
    expect(sha256(readFileSync(join(out, 'manifest.json')))).toBe(built.manifest.digest);
    expect(sha256(readFileSync(join(out, layer.digest.slice(7))))).toBe(layer.digest);
  }
  const gets = (digest: string) => front.forwarded.filter((l) => l === `GET /v2/big/image/blobs/${digest}`).length;
  // The manifest too: one replica fetched it, the other served what it stored (by tag or by digest, one GET in all).
  const manifestGets = front.forwarded.filter((l) => l.startsWith('GET /v2/big/image/manifests/')).length;
  expect({ layer: gets(layer.digest), config: gets(built.config.digest), manifest: manifestGets }).toEqual({ layer: 1, config: 1, manifest: 1 });
}, 900_000);

test('a umoci-built OCI index with two platforms: skopeo copy --all through the proxy digest-exact, one platform with --override-arch, children by digest with the upstream failing', async () => {
  const multi = await umociIndex('proxy-multiarch-build', 'v1');
  const sb = clientSandbox('proxy-multiarch');
  await pushLayout(sb, multi.ref, `${dist.hostPort}/multi/app:v1`);
  await admin.ok('POST', '/organization/', { name: 'mcache', email: 'mcache@example.com' });
  expect((await admin.post('/organization/mcache/proxycache', { upstream_registry: `${front.hostPort}/multi`, insecure: true })).status).toBe(201);
  front.mode = { kind: 'pass' };
  const creds = ['--src-creds', `admin:${reg.admin.password}`];
  // One platform first: skopeo resolves the index and copies only the arm64 image.
  const one = join(sb.dir, 'arm64');
  await sb.run('skopeo', ['--override-arch', 'arm64', '--override-os', 'linux', 'copy', ...INSECURE.skopeoCopy, ...creds, `docker://${reg.hostPort}/mcache/app:v1`, `dir:${one}`]);
  expect(sha256(readFileSync(join(one, 'manifest.json')))).toBe(multi.images.arm64.manifest.digest);
  expect(sha256(readFileSync(join(one, multi.images.arm64.layers[0].digest.slice(7))))).toBe(multi.images.arm64.layers[0].digest);
  // The whole index.
  const out = join(sb.dir, 'layout');
  await sb.run('skopeo', ['copy', '--all', '--preserve-digests', ...INSECURE.skopeoCopy, ...creds, `docker://${reg.hostPort}/mcache/app:v1`, `oci:${out}:v1`]);
  const top = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  expect(top.manifests[0].digest).toBe(multi.index.digest);
  for (const img of Object.values(multi.images)) {
    for (const d of [img.manifest, img.config, ...img.layers]) expect(sha256(readFileSync(join(out, 'blobs', 'sha256', d.digest.slice(7))))).toBe(d.digest);
  }
  // Once cached, each child is served by digest without the upstream.
  front.mode = { kind: 'status', status: 503 };
  for (const img of Object.values(multi.images)) expect((await pull(reg, `mcache/app/manifests/${img.manifest.digest}`)).status).toBe(200);
  front.mode = { kind: 'pass' };
}, 240_000);

test('a configuration made or removed on one replica applies on the other at once; a warm tag pull moves the tag’s end without a tag_version bump', async () => {
  const img = await upstream.pushImage('wc/app', 'v1', { layers: [randomBlob(4096)] });
  await admin.ok('POST', '/organization/', { name: 'wc', email: 'wc@example.com' });
  const pushOn = async (r: RegistryProcess) => (await V2Client.basic(r).req('POST', '/v2/wc/pushed/blobs/uploads/')).status;
  // B learns that wc is no proxy organization (and may keep that in memory)...
  expect(await pushOn(reg2)).toBe(202);
  expect(await pushOn(reg2)).toBe(202);
  // ... and refuses pushes as soon as A has made it one, and takes them again as soon as A removed it.
  expect((await admin.post('/organization/wc/proxycache', { upstream_registry: `${front.hostPort}/wc`, insecure: true, expiration_s: 3600 })).status).toBe(201);
  expect(await pushOn(reg2)).toBe(403);
  expect((await admin.call('DELETE', '/organization/wc/proxycache')).status).toBe(201);
  expect(await pushOn(reg2)).toBe(202);
  expect((await admin.post('/organization/wc/proxycache', { upstream_registry: `${front.hostPort}/wc`, insecure: true, expiration_s: 3600 })).status).toBe(201);
  expect(await pushOn(reg2)).toBe(403);

  const db = new pg.Client({ connectionString: dbUri });
  await db.connect();
  try {
    const state = async () =>
      (
        await db.query<{ tag_version: string; end_ms: string }>(
          `SELECT r.tag_version, t.end_ms FROM repository r JOIN namespace n ON n.id = r.namespace_id JOIN tag t ON t.repository_id = r.id
            WHERE n.name = 'wc' AND r.name = 'app' AND t.name = 'v1' AND t.end_ms > $1`,
          [Date.now()],
        )
      ).rows[0];
    for (const r of [reg, reg2]) expect((await pull(r, 'wc/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);
    const cached = await state();
    for (let i = 0; i < 3; i++) {
      // Each warm pull asks the upstream and pushes the end forward (a later pull, a later end).
      const { end_ms } = await state();
      for (const r of [reg, reg2]) expect((await pull(r, 'wc/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);
      expect(Number((await state()).end_ms)).toBeGreaterThan(Number(end_ms));
    }
    expect((await state()).tag_version).toBe(cached.tag_version);
    expect(front.forwarded.filter((f) => f === 'HEAD /v2/wc/app/manifests/v1').length).toBeGreaterThanOrEqual(8);

    // A tag moved upstream is a tag change: fetched, and the version moves (both replicas serve the new one).
    const moved = await upstream.pushImage('wc/app', 'v1', { layers: [randomBlob(4096)] });
    for (const r of [reg, reg2]) expect((await pull(r, 'wc/app/manifests/v1')).headers.get('docker-content-digest')).toBe(moved.digest);
    expect(Number((await state()).tag_version)).toBeGreaterThan(Number(cached.tag_version));
  } finally {
    await db.end();
  }
}, 240_000);
