/**
 * Proxy cache organizations against a real upstream: Debian's docker-registry (Distribution 2.8) without
 * auth, then with htpasswd Basic auth; the registry on Postgres and S3. Configuration API with Quay's texts,
 * pull-through of manifests and blobs (digest-exact), a second pull with the upstream stopped, staleness,
 * concurrent pulls fetching each blob once (the upstream's access log), pushes refused, failure matrix.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { join } from 'node:path';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { clientSandbox, INSECURE, tool } from '../../setup/tools.js';
import { startProcess, waitUntil } from '../../setup/procs.js';
import { workDir } from '../../setup/paths.js';
import { Api, createUser, signin } from '../api/fixture.js';
import { OCI_INDEX, OCI_MANIFEST, V2Client, randomBlob, sha256 } from '../../helpers/v2.js';
import { pushLayout, umociImage } from '../../helpers/umoci.js';

let up: DistributionService;
let reg: RegistryProcess;
let admin: Api;
let upstream: V2Client;

const accessLog = () => readFileSync(join(up.dir, 'registry.log'), 'utf8');
const blobGets = (digest: string) =>
  accessLog()
    .split('\n')
    .filter((l) => l.includes(`"GET /v2/`) && l.includes(`/blobs/${digest}`) && / 200 /.test(l)).length;

async function pull(path: string, accept = `${OCI_MANIFEST}, ${OCI_INDEX}`): Promise<Response> {
  const repo = path.split(/\/(manifests|blobs)\//)[0];
  const token = await registryToken(reg, [`repository:${repo}:pull`], reg.admin);
  return fetch(`${reg.url}/v2/${path}`, { headers: { authorization: `Bearer ${token}`, accept } });
}

beforeAll(async () => {
  up = await startDistribution({ config: { log: { level: 'info', accesslog: { disabled: false } } } });
  upstream = new V2Client({ url: up.url } as RegistryProcess);
  reg = await startRegistry({
    label: 'proxy-cache',
    config: await scaleOutConfig({ FEATURE_PROXY_CACHE: true, FEATURE_QUOTA_MANAGEMENT: true, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] }),
  });
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'cache', email: 'cache@example.com' });
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  await up?.stop();
});

test('configuration API: Quay bodies and texts, bad input refused, credentials never returned, one config per org', async () => {
  expect(await admin.ok('GET', '/organization/cache/proxycache')).toEqual({ upstream_registry: '', expiration_s: '', insecure: '' });
  for (const bad of ['http://127.0.0.1:5000', '', 'user@host', 'host/UPPER', 'a b']) {
    const r = await admin.post('/organization/cache/validateproxycache', { upstream_registry: bad });
    expect(r.status).toBe(400);
  }
  expect((await admin.post('/organization/cache/proxycache', { upstream_registry: 'http://127.0.0.1:5000' })).body.error_message).toBe('The provided registry URL is not allowed');
  // SSRF: the metadata address and localhost (not in SSRF_ALLOWED_HOSTS) are refused, on create and validate.
  for (const blocked of ['169.254.169.254', 'localhost:5000/library', '10.0.0.1:5000']) {
    for (const path of ['proxycache', 'validateproxycache']) {
      const r = await admin.post(`/organization/cache/${path}`, { upstream_registry: blocked, insecure: true });
      expect({ blocked, path, status: r.status, text: r.body.error_message }).toEqual({ blocked, path, status: 400, text: 'The provided registry URL is not allowed' });
    }
  }
  const v = await admin.post('/organization/cache/validateproxycache', { upstream_registry: up.hostPort, insecure: true });
  expect(v).toMatchObject({ status: 202, body: 'Valid' });
  const c = await admin.post('/organization/cache/proxycache', { upstream_registry: up.hostPort, insecure: true, expiration_s: 3600, upstream_registry_username: null });
  expect(c).toMatchObject({ status: 201, body: 'Created' });
  expect(await admin.ok('GET', '/organization/cache/proxycache')).toEqual({ upstream_registry: up.hostPort, expiration_s: 3600, insecure: true });
  const again = await admin.post('/organization/cache/proxycache', { upstream_registry: up.hostPort, insecure: true });
  expect(again.status).toBe(400);
  expect(again.body.error_message).toBe('Proxy Cache Configuration already exists');
  // A user outside the organization: 403; anonymous: 401.
  const pw = await createUser(admin, 'outsider');
  const outsider = await signin(reg, 'outsider', pw);
  expect((await outsider.get('/organization/cache/proxycache')).status).toBe(403);
  expect((await outsider.post('/organization/cache/proxycache', { upstream_registry: 'quay.io' })).status).toBe(403);
  expect((await new Api(reg.url).get('/organization/cache/proxycache')).status).toBe(401);
  const logs = await admin.ok('GET', '/organization/cache/logs');
  expect(
    logs.logs.some((l: { kind: string; metadata: { upstream_registry?: string } }) => l.kind === 'create_proxy_cache_config' && l.metadata.upstream_registry === up.hostPort),
  ).toBe(true);
}, 60_000);

test('pull-through: skopeo copy is digest-exact, blobs stream from the upstream once, then serve with the upstream stopped', async () => {
  const built = await umociImage('proxy-alpine-build', '3', 'amd64', [3 * 1024 * 1024]);
  const sb = clientSandbox('proxy-skopeo');
  await pushLayout(sb, built.ref, `${up.hostPort}/library/alpine:3`);
  const img = { digest: built.manifest.digest };
  const layer = built.layers[0];
  const creds = ['--src-creds', `admin:${reg.admin.password}`];
  const out = join(sb.dir, 'alpine-oci');
  await sb.run('skopeo', ['copy', '--preserve-digests', ...INSECURE.skopeoCopy, ...creds, `docker://${reg.hostPort}/cache/library/alpine:3`, `oci:${out}:3`]);
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  expect(index.manifests[0].digest).toBe(img.digest);
  for (const d of [built.config, layer]) expect(sha256(readFileSync(join(out, 'blobs', 'sha256', d.digest.slice(7))))).toBe(d.digest);
  expect(blobGets(layer.digest)).toBe(1);

  // Concurrent cold pulls of one blob: the upstream sends it once.
  const layer2 = randomBlob(4 * 1024 * 1024);
  const img2 = await upstream.pushImage('library/busybox', 'latest', { layers: [layer2] });
  expect((await pull('cache/library/busybox/manifests/latest')).headers.get('docker-content-digest')).toBe(img2.digest);
  const bodies = await Promise.all(Array.from({ length: 20 }, async () => Buffer.from(await (await pull(`cache/library/busybox/blobs/${layer2.digest}`)).arrayBuffer())));
  for (const b of bodies) expect(sha256(b)).toBe(layer2.digest);
  expect(blobGets(layer2.digest)).toBe(1);

  // Pushes into the proxy organization are refused with DENIED, even for its admin.
  const push = await V2Client.basic(reg).req('POST', '/v2/cache/library/alpine/blobs/uploads/');
  expect(push.status).toBe(403);
  expect(JSON.stringify(await push.json())).toContain('proxy cache organization');

  // The upstream stopped: tag and blobs still served (the tag has not expired).
  await up.process.stop();
  try {
    const sb2 = clientSandbox('proxy-skopeo-offline');
    await sb2.run('skopeo', ['copy', '--preserve-digests', ...INSECURE.skopeoCopy, ...creds, `docker://${reg.hostPort}/cache/library/alpine:3`, `oci:${join(sb2.dir, 'o')}:3`]);
    const idx = JSON.parse(readFileSync(join(sb2.dir, 'o', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(idx.manifests[0].digest).toBe(img.digest);
    // Nothing cached for this name: 404.
    const missing = await pull('cache/library/nothere/manifests/1');
    expect(missing.status).toBe(404);
  } finally {
    up = await restartDistribution(up);
  }
}, 240_000);

/** Start the same Distribution again on its port and storage (the test bench service cannot restart itself). */
async function restartDistribution(old: DistributionService): Promise<DistributionService> {
  const proc = startProcess({
    name: 'docker-registry',
    bin: tool('docker-registry'),
    args: ['serve', join(old.dir, 'config.yml')],
    cwd: old.dir,
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
    logFile: join(old.dir, 'registry.log'),
  });
  await waitUntil(proc, 'upstream back', async () => (await fetch(`${old.url}/v2/`).catch(() => null))?.status === 200);
  return { ...old, process: proc, stop: async () => proc.stop() };
}

test('htpasswd upstream with credentials: wrong ones refused on validate, a moved tag re-fetched, staleness bounded by expiration_s, upstream 404', async () => {
  const dir = workDir('proxy-htpasswd');
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `puller:${bcrypt.hashSync('pull-s3cret', 8)}\n`);
  const locked = await startDistribution({ htpasswdFile: htpasswd });
  try {
    const pusher = new V2Client({ url: locked.url } as RegistryProcess, `Basic ${Buffer.from('puller:pull-s3cret').toString('base64')}`);
    const first = await pusher.pushImage('team/app', 'v1');
    await admin.ok('POST', '/organization/', { name: 'hcache', email: 'hcache@example.com' });
    const cfg = { upstream_registry: `${locked.hostPort}/team`, insecure: true, upstream_registry_username: 'puller', expiration_s: 4 };
    const wrong = await admin.post('/organization/hcache/validateproxycache', { ...cfg, upstream_registry_password: 'nope' });
    expect(wrong).toMatchObject({ status: 400, body: { error_message: 'Failed login to remote registry. Please verify entered details and try again.' } });
    expect(await admin.post('/organization/hcache/validateproxycache', { ...cfg, upstream_registry_password: 'pull-s3cret' })).toMatchObject({ status: 202, body: 'Valid' });
    expect((await admin.post('/organization/hcache/proxycache', { ...cfg, upstream_registry_password: 'pull-s3cret' })).status).toBe(201);
    expect(JSON.stringify(await admin.ok('GET', '/organization/hcache/proxycache'))).not.toContain('pull-s3cret');

    // With an upstream namespace, `hcache/app` is `team/app` upstream.
    expect((await pull('hcache/app/manifests/v1')).headers.get('docker-content-digest')).toBe(first.digest);
    // The tag moves upstream: the next pull sees it at once (HEAD on every tag pull).
    const moved = await pusher.pushImage('team/app', 'v1');
    expect((await pull('hcache/app/manifests/v1')).headers.get('docker-content-digest')).toBe(moved.digest);
    // An unknown tag upstream: 404.
    const unknown = await pull('hcache/app/manifests/nope');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errors: { code: string }[] }).errors[0].code).toBe('MANIFEST_UNKNOWN');

    // Upstream down: served as cached while the tag lives (expiration_s: 4), then 404.
    await locked.process.stop();
    const stale = await pull('hcache/app/manifests/v1');
    expect(stale.status).toBe(200);
    expect(stale.headers.get('docker-content-digest')).toBe(moved.digest);
    await new Promise((r) => setTimeout(r, 5_000));
    const expired = await pull('hcache/app/manifests/v1');
    expect(expired.status).toBe(404);
  } finally {
    await locked.stop();
  }
}, 120_000);

test('15.3.1.1 at full size: quota 150 MiB, podman pulls three 60 MiB images, the least recently pulled tag pruned; an image above the quota refused', async () => {
  const MiB = 1024 * 1024;
  const images: Record<string, string> = {};
  const sbPush = clientSandbox('proxy-walkthrough-push');
  for (const t of ['3.7.9', '3.6.2', '3.5.1']) {
    const built = await umociImage(`proxy-walkthrough-${t}`, t, 'amd64', [60 * MiB]);
    await pushLayout(sbPush, built.ref, `${up.hostPort}/projectquay/quay:${t}`);
    images[t] = built.manifest.digest;
  }
  await upstream.pushImage('projectquay/huge', 'latest', { layers: [randomBlob(151 * MiB)] });
  await admin.ok('POST', '/organization/', { name: 'proxytest', email: 'proxytest@example.com' });
  expect((await admin.post('/organization/proxytest/quota', { limit_bytes: 150 * MiB })).status).toBe(201);
  expect((await admin.post('/organization/proxytest/proxycache', { upstream_registry: up.hostPort, insecure: true })).status).toBe(201);
  const active = async () => ((await admin.ok('GET', '/repository/proxytest/projectquay%2Fquay/tag/?onlyActiveTags=true')).tags as { name: string }[]).map((t) => t.name).sort();
  const sb = clientSandbox('proxy-walkthrough');
  await sb.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
  const podmanPull = async (tag: string) => {
    const ref = `${reg.hostPort}/proxytest/projectquay/quay:${tag}`;
    await sb.run('podman', ['pull', ...INSECURE.podman, ref], { timeoutMs: 300_000 });
    expect((await sb.run('podman', ['image', 'inspect', '--format', '{{.Digest}}', ref])).stdout.trim()).toBe(images[tag]);
    // podman keeps what it pulled; drop it so the sandbox stays small.
    await sb.run('podman', ['rmi', ref]);
  };
  // Steps 1-3: 3.7.9 then 3.6.2 fit (about 120 MiB of 150); both are tagged.
  await podmanPull('3.7.9');
  await podmanPull('3.6.2');
  expect(await active()).toEqual(['3.6.2', '3.7.9']);
  // Steps 4-5: 3.5.1 would exceed the quota: 3.7.9, pulled least recently, is auto-pruned.
  await podmanPull('3.5.1');
  expect(await active()).toEqual(['3.5.1', '3.6.2']);
  // An image larger than the whole quota is refused with Quay's text, and nothing is pruned for it.
  const huge = await pull('proxytest/projectquay/huge/manifests/latest');
  expect(huge.status).toBe(403);
  expect(await huge.json()).toMatchObject({ errors: [{ code: 'DENIED', message: 'Quota has been exceeded on namespace' }] });
  expect(await active()).toEqual(['3.5.1', '3.6.2']);
}, 600_000);
