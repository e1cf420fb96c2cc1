/**
 * Quota events at every place usage can cross a limit, against a real registry process on Postgres + S3 and a
 * real webhook receiver: pushes over Warning then Reject limits (the upload check), a single push whose
 * manifest PUT crosses both limits at once (no later upload needed), limits changed under existing usage
 * (retroactive), and a proxy-cache fill from a real upstream (Debian's docker-registry). Each event fires once
 * per namespace and threshold within the cooldown.
 */
import { scaleOutConfig, startRegistry, registryToken, type RegistryProcess } from '../../helpers/registry.js';
import { signin, type Api } from '../api/fixture.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, V2Client, jsonBlob, randomBlob } from '../../helpers/v2.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { startDistribution, type DistributionService } from '../../setup/services.js';

const KB = 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rx: Receiver;
let up: DistributionService;
let reg: RegistryProcess;
let admin: Api;

beforeAll(async () => {
  rx = await startReceiver({ host: '127.0.0.5' });
  up = await startDistribution();
  reg = await startRegistry({
    label: 'notify-quota',
    config: await scaleOutConfig({
      SSRF_ALLOWED_HOSTS: ['127.0.0.5/32', '127.0.0.1'],
      FEATURE_QUOTA_MANAGEMENT: true,
      FEATURE_QUOTA_NOTIFICATIONS: true,
      FEATURE_PROXY_CACHE: true,
    }),
  });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
});

afterAll(async () => {
  await reg?.stop();
  await up?.stop();
  await rx?.close();
});

/** An organization with a quota, its limits, and webhooks for both quota events at /<org>/<event>. */
async function org(name: string, limitBytes: number, limits: Array<['Warning' | 'Reject', number]>): Promise<number> {
  await admin.ok('POST', '/organization/', { name, email: `${name}@example.com` });
  await admin.ok('POST', `/organization/${name}/quota`, { limit_bytes: limitBytes });
  const [quota] = await admin.ok('GET', `/organization/${name}/quota`);
  for (const [type, threshold_percent] of limits) await admin.ok('POST', `/organization/${name}/quota/${quota.id}/limit`, { type, threshold_percent });
  for (const event of ['quota_warning', 'quota_error'])
    await admin.ok('POST', `/organization/${name}/notifications`, { event, method: 'webhook', config: { url: `${rx.url}/${name}/${event}` } });
  await admin.ok('POST', '/repository', { namespace: name, repository: 'app', visibility: 'private', description: '' });
  return quota.id;
}

const pusher = async (name: string) => new V2Client(reg, `Bearer ${await registryToken(reg, [`repository:${name}/app:pull,push`], reg.admin)}`);
const hooks = (name: string) => rx.received.filter((r) => r.path.startsWith(`/${name}/`));
/** Waits for `n` deliveries of the organization, then a little longer to see that no more come. */
async function settled(name: string, n: number) {
  const end = Date.now() + 30_000;
  while (hooks(name).length < n) {
    if (Date.now() > end) throw new Error(`${name}: ${hooks(name).length} of ${n} quota events arrived:\n${reg.output().slice(-2000)}`);
    await sleep(100);
  }
  await sleep(2000);
  return hooks(name).map((r) => ({ path: r.path, body: JSON.parse(r.body) }));
}

test('pushes over Warning then Reject limits fire quota_warning and quota_error once each', async () => {
  await org('steady', 100 * KB, [
    ['Warning', 50],
    ['Reject', 90],
  ]);
  const client = await pusher('steady');
  let refused = 0;
  for (let i = 0; i < 8; i++) {
    try {
      await client.pushImage('steady/app', `t${i}`, { layers: [randomBlob(20 * KB)] });
    } catch {
      refused++;
    }
  }
  expect(refused).toBeGreaterThan(0);
  const got = await settled('steady', 2);
  expect(got.map((g) => g.path).sort()).toEqual(['/steady/quota_error', '/steady/quota_warning']);
  expect(got.find((g) => g.path.endsWith('warning'))!.body).toMatchObject({ namespace: 'steady', threshold_percent: 50, limit_bytes: 100 * KB });
  expect(got.find((g) => g.path.endsWith('error'))!.body).toMatchObject({ namespace: 'steady', threshold_percent: 90 });
});

test('one manifest PUT that crosses both limits fires both events at its commit, without a later upload', async () => {
  await org('jump', 100 * KB, [
    ['Warning', 50],
    ['Reject', 90],
  ]);
  // The layer is mounted from a namespace without quota, so it is never an upload in progress here (those are
  // refused before they pass Reject): usage is 0 % at the upload checks, about 95 % once the manifest lands.
  const layer = randomBlob(95 * KB);
  expect((await V2Client.basic(reg).pushBlob(`${reg.admin.username}/staging`, layer)).status).toBe(201);
  const client = new V2Client(reg, `Bearer ${await registryToken(reg, ['repository:jump/app:pull,push', `repository:${reg.admin.username}/staging:pull`], reg.admin)}`);
  expect((await client.req('POST', `/v2/jump/app/blobs/uploads/?mount=${layer.digest}&from=${reg.admin.username}/staging`)).status).toBe(201);
  const config = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  expect((await client.pushBlob('jump/app', config)).status).toBe(201);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
  };
  expect((await client.pushManifest('jump/app', 'big', manifest)).status).toBe(201);
  const got = await settled('jump', 2);
  expect(got.map((g) => g.path).sort()).toEqual(['/jump/quota_error', '/jump/quota_warning']);
  const error = got.find((g) => g.path.endsWith('error'))!.body;
  expect(error).toEqual({
    namespace: 'jump',
    homepage: expect.stringMatching(/\/organization\/jump$/),
    threshold_percent: 90,
    usage_bytes: expect.any(Number),
    limit_bytes: 100 * KB,
    usage_percent: expect.any(Number),
    usage_bytes_formatted: expect.stringMatching(/KiB$/),
    limit_bytes_formatted: '100.0 KiB',
  });
  expect(error.usage_percent).toBeGreaterThanOrEqual(95);
  // The next push is refused at its upload check and fires nothing new (cooldown).
  await expect(client.pushImage('jump/app', 'more', { layers: [randomBlob(KB)] })).rejects.toThrow();
  await sleep(1500);
  expect(hooks('jump')).toHaveLength(2);
});

test('limits changed under existing usage fire retroactively: a new limit, a lower quota', async () => {
  const quotaId = await org('limits', 1024 * KB, []);
  await (await pusher('limits')).pushImage('limits/app', 'v1', { layers: [randomBlob(60 * KB)] });
  await sleep(1500);
  expect(hooks('limits')).toHaveLength(0);
  // A Warning limit at 5 % of 1 MiB: usage (~6 %) is already past it.
  await admin.ok('POST', `/organization/limits/quota/${quotaId}/limit`, { type: 'Warning', threshold_percent: 5 });
  let got = await settled('limits', 1);
  expect(got[0]).toMatchObject({ path: '/limits/quota_warning', body: { threshold_percent: 5, limit_bytes: 1024 * KB } });
  // A Reject limit at 80 %, then the quota lowered to 70 KiB: usage is now past 80 % of it.
  await admin.ok('POST', `/organization/limits/quota/${quotaId}/limit`, { type: 'Reject', threshold_percent: 80 });
  await sleep(1000);
  expect(hooks('limits')).toHaveLength(1);
  await admin.ok('PUT', `/organization/limits/quota/${quotaId}`, { limit_bytes: 70 * KB });
  got = await settled('limits', 2);
  expect(got[1]).toMatchObject({ path: '/limits/quota_error', body: { threshold_percent: 80, limit_bytes: 70 * KB } });
});

test('a proxy-cache fill that crosses a limit fires the event', async () => {
  await org('cache', 100 * KB, [['Warning', 50]]);
  await admin.ok('POST', '/organization/cache/proxycache', { upstream_registry: up.hostPort, insecure: true, expiration_s: 3600 });
  await new V2Client({ url: up.url } as RegistryProcess).pushImage('library/big', 'v1', { layers: [randomBlob(60 * KB)] });
  const token = await registryToken(reg, ['repository:cache/library/big:pull'], reg.admin);
  const res = await fetch(`${reg.url}/v2/cache/library/big/manifests/v1`, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
  expect(res.status).toBe(200);
  const got = await settled('cache', 1);
  expect(got[0]).toMatchObject({ path: '/cache/quota_warning', body: { namespace: 'cache', threshold_percent: 50, limit_bytes: 100 * KB } });
});
