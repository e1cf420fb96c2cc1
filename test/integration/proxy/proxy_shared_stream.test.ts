/**
 * One upstream stream shared by every client of an uncached blob: concurrent pulls of a proxied layer through
 * a slow upstream (Distribution 2.8 behind a front that stalls each body after its first bytes) fetch it from
 * the upstream once, every client gets its first bytes while the fill is still stalled, clients that go away
 * mid-stream (the one that started the fill among them) break nothing for the others, each of the others gets
 * the exact bytes, and the blob is stored. Range requests during the fill are answered from it (206). A blob
 * whose bytes are not fetched yet cannot be mounted into another repository. On S3 (the store's writer reads
 * the spool like a client) and on LocalStorage; and across two replicas, where the clients of the replica that
 * does not fill the blob stream the pieces the other one stores (S3) or the staging file it writes (LocalStorage).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase, startDistribution, type DistributionService } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';
import { OCI_MANIFEST, V2Client, randomBlob } from '../../helpers/v2.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault_front.js';
import { signin } from '../api/fixture.js';
import { startPull } from '../../helpers/blob_pull.js';
import { waitFor as poll } from '../../helpers/poll.js';

const waitFor = (what: string, check: () => boolean | Promise<boolean>) => poll(what, check, 120_000, 20);

const MiB = 1024 * 1024;
const CLIENTS = 8;
let dist: DistributionService;
let front: FaultFront;
let upstream: V2Client;

beforeAll(async () => {
  dist = await startDistribution();
  front = await startFaultFront(dist.url);
  upstream = new V2Client({ url: dist.url } as RegistryProcess);
}, 240_000);

afterAll(async () => {
  await front?.close();
  await dist?.stop();
});

const sliceDigest = (data: Buffer, start: number, end: number) => `sha256:${createHash('sha256').update(data.subarray(start, end)).digest('hex')}`;

async function sharedStream(reg: RegistryProcess, org: string): Promise<void> {
  const layer = randomBlob(24 * MiB);
  const small = randomBlob(512 * 1024);
  const img = await upstream.pushImage(`${org}/app`, 'v1', { layers: [layer, small] });
  const admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: org, email: `${org}@example.com` });
  expect((await admin.post(`/organization/${org}/proxycache`, { upstream_registry: `${front.hostPort}/${org}`, insecure: true })).status).toBe(201);
  const token = await registryToken(reg, [`repository:${org}/app:pull`], reg.admin);
  const manifest = await fetch(`${reg.url}/v2/${org}/app/manifests/v1`, { headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST } });
  expect(manifest.headers.get('docker-content-digest')).toBe(img.digest);

  // The layers are placeholders now (rows without bytes): not mountable into another organization's repository,
  // with or without `from` (the client uploads instead: 202 and an upload session).
  const other = `${org}other`;
  await admin.ok('POST', '/organization/', { name: other, email: `${other}@example.com` });
  const pushToken = await registryToken(reg, [`repository:${other}/copy:push,pull`, `repository:${other}/copy2:push,pull`, `repository:${org}/app:pull`], reg.admin);
  const pusher = new V2Client(reg, `Bearer ${pushToken}`);
  const mount = (to: string, digest: string, from?: string) => pusher.req('POST', `/v2/${to}/blobs/uploads/?mount=${digest}${from ? `&from=${from}` : ''}`);
  expect((await mount(`${other}/copy`, layer.digest, `${org}/app`)).status).toBe(202);
  expect((await mount(`${other}/copy`, small.digest, `${org}/app`)).status).toBe(202);
  expect((await mount(`${other}/copy`, small.digest)).status).toBe(202);
  // A client pushing a placeholder's bytes stores them: mountable from there, and the proxy serves them without the upstream.
  expect((await pusher.pushBlob(`${other}/copy`, small)).status).toBe(201);
  expect((await mount(`${other}/copy2`, small.digest, `${other}/copy`)).status).toBe(201);
  front.mode = { kind: 'status', status: 503 };
  try {
    const stored = startPull(`${reg.url}/v2/${org}/app/blobs/${small.digest}`, token);
    await stored.done;
    expect(stored.state).toMatchObject({ status: 200, received: small.data.length, digest: small.digest });
  } finally {
    front.mode = { kind: 'pass' };
  }

  const blobPath = `/v2/${org}/app/blobs/${layer.digest}`;
  const fetches = () => front.forwarded.filter((f) => f === `GET ${blobPath}`).length;
  front.mode = { kind: 'stall', afterBytes: MiB };
  const url = `${reg.url}${blobPath}`;
  const leader = startPull(url, token);
  await waitFor('the fill to reach the upstream', () => fetches() === 1);
  const followers = Array.from({ length: CLIENTS - 1 }, () => startPull(url, token));
  const all = [leader, ...followers];
  // The upstream has sent its first MiB and holds the rest: every client already has bytes of the fill in flight.
  await waitFor('every client to get its first bytes', () => all.every((c) => c.state.received > 0));
  expect(all.map((c) => c.state.status)).toEqual(all.map(() => 200));
  expect(all.every((c) => !c.state.ended && c.state.received <= MiB)).toBe(true);
  // Ranges of the blob being filled: one within what the upstream sent gets its bytes (all but its last ones,
  // which wait for the verified blob), one beyond it nothing yet; both get their exact bytes later.
  const early = startPull(url, token, 'bytes=1000-400999');
  const late = startPull(url, token, `bytes=${20 * MiB}-`);
  await waitFor('the early range to get bytes', () => early.state.received > 0);
  expect(early.state).toMatchObject({ status: 206, contentRange: `bytes 1000-400999/${layer.data.length}`, ended: false });
  expect(early.state.received).toBeLessThan(400000);
  expect(late.state.received).toBe(0);

  // The client that started the fill and one follower go away mid-stream.
  leader.abort();
  followers[0].abort();
  await expect(leader.done).rejects.toThrow();
  await expect(followers[0].done).rejects.toThrow();
  front.release();
  await Promise.all([...followers.slice(1), early, late].map((c) => c.done));
  for (const c of followers.slice(1)) expect(c.state).toMatchObject({ status: 200, received: layer.data.length, digest: layer.digest, ended: true });
  expect(early.state).toMatchObject({ received: 400000, digest: sliceDigest(layer.data, 1000, 401000), ended: true });
  expect(late.state).toMatchObject({
    status: 206,
    contentRange: `bytes ${20 * MiB}-${layer.data.length - 1}/${layer.data.length}`,
    received: 4 * MiB,
    digest: sliceDigest(layer.data, 20 * MiB, 24 * MiB),
    ended: true,
  });
  expect(fetches()).toBe(1);
  // Once stored (the clients' bodies end when the bytes are verified, a moment before the blob row is), the
  // layer is mountable into the other organization.
  await waitFor('the fetched layer to be mountable', async () => (await mount(`${other}/copy`, layer.digest, `${org}/app`)).status === 201);

  // Stored whole although its first client left: served with the upstream refusing everything.
  front.mode = { kind: 'status', status: 503 };
  try {
    const again = startPull(url, token);
    await again.done;
    expect(again.state).toMatchObject({ status: 200, received: layer.data.length, digest: layer.digest });
  } finally {
    front.mode = { kind: 'pass' };
  }
  expect(fetches()).toBe(1);
}

test('S3 store: concurrent pulls of an uncached blob share one upstream stream; first bytes before the fill ends; leavers break nothing; ranges served from the fill; placeholders not mountable', async () => {
  const reg = await startRegistry({ label: 'proxy-shared-s3', config: await scaleOutConfig({ FEATURE_PROXY_CACHE: true, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] }) });
  try {
    await sharedStream(reg, 'shs3');
  } finally {
    await reg.stop();
  }
}, 240_000);

test('LocalStorage: concurrent pulls of an uncached blob share one upstream stream; first bytes before the fill ends; leavers break nothing; ranges served from the fill; placeholders not mountable', async () => {
  const reg = await startRegistry({
    label: 'proxy-shared-fs',
    config: {
      DB_URI: await createTestDatabase('proxy-shared-fs'),
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: join(workDir('proxy-shared-fs'), 'blobs') }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
      SUPER_USERS: ['admin'],
      FEATURE_PROXY_CACHE: true,
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
    },
  });
  try {
    await sharedStream(reg, 'shfs');
  } finally {
    await reg.stop();
  }
}, 240_000);

/**
 * Two replicas on one Postgres and one store: the upstream stalls after 12 MiB of a 24 MiB layer pulled on
 * replica A; B's clients (the whole blob, a range within the first bytes, a range beyond) are served from A's
 * fill, the first two before it ends, and all get the exact bytes once the upstream goes on, fetched once.
 */
async function crossReplica(config: Record<string, unknown>, org: string): Promise<void> {
  const a = await startRegistry({ label: `proxy-xrep-${org}-a`, config });
  const b = await startRegistry({ label: `proxy-xrep-${org}-b`, config });
  try {
    const size = 24 * MiB;
    const layer = randomBlob(size);
    const img = await upstream.pushImage(`${org}/app`, 'v1', { layers: [layer] });
    const admin = await signin(a, 'admin', a.admin.password);
    await admin.ok('POST', '/organization/', { name: org, email: `${org}@example.com` });
    expect((await admin.post(`/organization/${org}/proxycache`, { upstream_registry: `${front.hostPort}/${org}`, insecure: true })).status).toBe(201);
    const tokenA = await registryToken(a, [`repository:${org}/app:pull`], a.admin);
    const tokenB = await registryToken(b, [`repository:${org}/app:pull`], b.admin);
    const manifest = await fetch(`${a.url}/v2/${org}/app/manifests/v1`, { headers: { authorization: `Bearer ${tokenA}`, accept: OCI_MANIFEST } });
    expect(manifest.headers.get('docker-content-digest')).toBe(img.digest);

    const blobPath = `/v2/${org}/app/blobs/${layer.digest}`;
    const fetches = () => front.forwarded.filter((f) => f === `GET ${blobPath}`).length;
    // The upstream sends 12 MiB, then holds the rest (on S3 replica A has stored its first 8 MiB piece).
    front.mode = { kind: 'stall', afterBytes: 12 * MiB };
    const onA = startPull(`${a.url}${blobPath}`, tokenA);
    await waitFor('replica A to ask the upstream', () => fetches() === 1);
    const onB = startPull(`${b.url}${blobPath}`, tokenB);
    const rangeB = startPull(`${b.url}${blobPath}`, tokenB, `bytes=${MiB}-${3 * MiB - 1}`);
    const tailB = startPull(`${b.url}${blobPath}`, tokenB, `bytes=${20 * MiB}-`);
    await waitFor('replica B’s clients to get bytes of the fill in flight', () => onB.state.received > 0 && rangeB.state.received > 0);
    expect(onB.state).toMatchObject({ status: 200, ended: false });
    expect(onB.state.received).toBeLessThanOrEqual(12 * MiB);
    expect(rangeB.state).toMatchObject({ status: 206, contentRange: `bytes ${MiB}-${3 * MiB - 1}/${size}`, ended: false });
    expect(rangeB.state.received).toBeLessThan(2 * MiB);
    expect(tailB.state.received).toBe(0);
    expect(onA.state.ended).toBe(false);

    front.release();
    await Promise.all([onA, onB, rangeB, tailB].map((c) => c.done));
    expect(onA.state).toMatchObject({ status: 200, received: size, digest: layer.digest, ended: true });
    expect(onB.state).toMatchObject({ status: 200, received: size, digest: layer.digest, ended: true });
    expect(rangeB.state).toMatchObject({ received: 2 * MiB, digest: sliceDigest(layer.data, MiB, 3 * MiB), ended: true });
    expect(tailB.state).toMatchObject({
      status: 206,
      contentRange: `bytes ${20 * MiB}-${size - 1}/${size}`,
      received: 4 * MiB,
      digest: sliceDigest(layer.data, 20 * MiB, size),
      ended: true,
    });
    expect(fetches()).toBe(1);
  } finally {
    front.mode = { kind: 'pass' };
    await Promise.all([a.stop(), b.stop()]);
  }
}

test('two replicas on S3: the clients of the replica that does not fill a blob stream the pieces the other one stores, before the fill ends; ranges too', async () => {
  await crossReplica(await scaleOutConfig({ FEATURE_PROXY_CACHE: true, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] }), 'xrep');
}, 240_000);

test('two replicas on one LocalStorage directory: the clients of the replica that does not fill a blob read the staging file the other one writes, before the fill ends; ranges too', async () => {
  await crossReplica(
    {
      DB_URI: await createTestDatabase('proxy-xrep-fs'),
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: join(workDir('proxy-xrep-fs'), 'blobs') }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
      SUPER_USERS: ['admin'],
      FEATURE_PROXY_CACHE: true,
      SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
    },
    'xrepfs',
  );
}, 240_000);
