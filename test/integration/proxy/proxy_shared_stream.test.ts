/**
 * One upstream stream shared by every client of an uncached blob: concurrent pulls of a proxied layer through
 * a slow upstream (Distribution 2.8 behind a front that stalls each body after its first MiB) fetch it from
 * the upstream once, every client gets its first bytes while the fill is still stalled, clients that go away
 * mid-stream (the one that started the fill among them) break nothing for the others, each of the others gets
 * the exact bytes, and the blob is stored. On S3 (the store's writer reads the spool like a client) and on
 * LocalStorage.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase, startDistribution, type DistributionService } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';
import { OCI_MANIFEST, V2Client, randomBlob } from '../../helpers/v2.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault_front.js';
import { signin } from '../api/fixture.js';

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

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 120_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A client reading a blob body: bytes so far, their digest at the end, and whether the body ended whole. */
function startPull(url: string, token: string) {
  const abort = new AbortController();
  const state = { received: 0, status: 0, digest: '', ended: false };
  const hash = createHash('sha256');
  const done = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    state.status = res.status;
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      state.received += value.length;
      hash.update(value);
    }
    state.digest = `sha256:${hash.digest('hex')}`;
    state.ended = true;
  })();
  done.catch(() => undefined);
  return { state, done, abort: () => abort.abort() };
}

async function sharedStream(reg: RegistryProcess, org: string): Promise<void> {
  const layer = randomBlob(24 * MiB);
  const img = await upstream.pushImage(`${org}/app`, 'v1', { layers: [layer] });
  const admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: org, email: `${org}@example.com` });
  expect((await admin.post(`/organization/${org}/proxycache`, { upstream_registry: `${front.hostPort}/${org}`, insecure: true })).status).toBe(201);
  const token = await registryToken(reg, [`repository:${org}/app:pull`], reg.admin);
  const manifest = await fetch(`${reg.url}/v2/${org}/app/manifests/v1`, { headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST } });
  expect(manifest.headers.get('docker-content-digest')).toBe(img.digest);

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

  // The client that started the fill and one follower go away mid-stream.
  leader.abort();
  followers[0].abort();
  await expect(leader.done).rejects.toThrow();
  await expect(followers[0].done).rejects.toThrow();
  front.release();
  await Promise.all(followers.slice(1).map((c) => c.done));
  for (const c of followers.slice(1)) expect(c.state).toMatchObject({ status: 200, received: layer.data.length, digest: layer.digest, ended: true });
  expect(fetches()).toBe(1);

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

test('S3 store: concurrent pulls of an uncached blob share one upstream stream; first bytes before the fill ends; leavers break nothing', async () => {
  const reg = await startRegistry({ label: 'proxy-shared-s3', config: await scaleOutConfig({ FEATURE_PROXY_CACHE: true, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] }) });
  try {
    await sharedStream(reg, 'shs3');
  } finally {
    await reg.stop();
  }
}, 240_000);

test('LocalStorage: concurrent pulls of an uncached blob share one upstream stream; first bytes before the fill ends; leavers break nothing', async () => {
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
