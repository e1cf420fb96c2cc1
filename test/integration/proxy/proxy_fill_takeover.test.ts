/**
 * The replica filling a proxied blob is SIGKILLed mid-fill, on LocalStorage (two replicas sharing the store's
 * directory and one Postgres) and on S3 (MinIO; the filler stores its bytes as pieces): nothing of the blob is
 * stored until the survivor took the fill over (its row stays a placeholder and the store holds no object for
 * the digest); the survivor, finding the dead replica's connection gone (its lease pushed an hour on), asks the
 * upstream again, and its clients that were streaming the dead replica's
 * bytes (the whole blob, and a range) go on from the new fill and get the exact bytes; the blob ends stored
 * once. When the dead replica's bytes were wrong (a lying upstream), the client that got them is cut instead.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase, s3Client, startDistribution, testS3, type DistributionService } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';
import { OCI_MANIFEST, V2Client, randomBlob } from '../../helpers/v2.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault_front.js';
import { casPath } from '../../../registry/storage/blobstore.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { signin } from '../api/fixture.js';
import { startPull } from '../../helpers/blob_pull.js';
import { waitFor as poll } from '../../helpers/poll.js';

const waitFor = (what: string, check: () => boolean | Promise<boolean>) => poll(what, check, 180_000, 50);

const MiB = 1024 * 1024;
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

/**
 * `copies(digest)`: how many stored objects hold the blob's bytes (staging uploads not counted). With `corrupt`,
 * the upstream's first answer (the one the killed replica gets) has a wrong byte.
 */
async function takeover(config: Record<string, unknown>, org: string, copies: (digest: string) => Promise<number>, corrupt = false): Promise<void> {
  const a = await startRegistry({ label: `proxy-kill-${org}-a`, config });
  const b = await startRegistry({ label: `proxy-kill-${org}-b`, config });
  const db = new pg.Client({ connectionString: String(config.DB_URI) });
  await db.connect();
  try {
    const size = 24 * MiB;
    const layer = randomBlob(size);
    const img = await upstream.pushImage(`${org}/app`, 'v1', { layers: [layer] });
    const admin = await signin(b, 'admin', b.admin.password);
    await admin.ok('POST', '/organization/', { name: org, email: `${org}@example.com` });
    expect((await admin.post(`/organization/${org}/proxycache`, { upstream_registry: `${front.hostPort}/${org}`, insecure: true })).status).toBe(201);
    const tokenA = await registryToken(a, [`repository:${org}/app:pull`], a.admin);
    const tokenB = await registryToken(b, [`repository:${org}/app:pull`], b.admin);
    const manifest = await fetch(`${a.url}/v2/${org}/app/manifests/v1`, { headers: { authorization: `Bearer ${tokenA}`, accept: OCI_MANIFEST } });
    expect(manifest.headers.get('docker-content-digest')).toBe(img.digest);
    /** The blob's bytes are stored: its row is no placeholder any more, and the store has the object. */
    const stored = async () => {
      const r = await db.query<{ placeholder: boolean }>(
        'SELECT EXISTS (SELECT 1 FROM proxy_blob_placeholder p JOIN blob b ON b.id = p.blob_id WHERE b.digest = $1) AS placeholder',
        [layer.digest],
      );
      return { row: !r.rows[0].placeholder, bytes: (await copies(layer.digest)) > 0 };
    };
    expect(await stored()).toEqual({ row: false, bytes: false });

    const blobPath = `/v2/${org}/app/blobs/${layer.digest}`;
    const fetches = () => front.forwarded.filter((f) => f === `GET ${blobPath}`).length;
    // The upstream sends 12 MiB, then holds the rest: replica A is mid-fill (on S3 with its first piece stored).
    front.mode = { kind: 'stall', afterBytes: 12 * MiB, corrupt };
    const onA = startPull(`${a.url}${blobPath}`, tokenA);
    await waitFor('replica A to ask the upstream', () => fetches() === 1);
    const onB = startPull(`${b.url}${blobPath}`, tokenB);
    const rangeB = startPull(`${b.url}${blobPath}`, tokenB, `bytes=${MiB}-${20 * MiB - 1}`);
    await waitFor('replica B’s clients to get bytes of A’s fill', () => onB.state.received > 0 && rangeB.state.received > 0);
    expect(onB.state).toMatchObject({ status: 200, ended: false });
    expect(rangeB.state).toMatchObject({ status: 206, contentRange: `bytes ${MiB}-${20 * MiB - 1}/${size}`, ended: false });

    expect(await stored()).toEqual({ row: false, bytes: false });
    const lease = await db.query<{ owner: string }>('SELECT owner FROM proxy_blob_fill WHERE digest = $1', [layer.digest]);
    // The upstream answers the next asker whole (A's body stays held), and A dies mid-fill.
    front.mode = { kind: 'pass' };
    await a.kill();
    // A's lease would hold for up to 10 s more: pushed an hour on (A renews nothing now), B can take the fill
    // over only by finding A's liveness connection gone.
    await db.query(`UPDATE proxy_blob_fill SET expires_at = now() + interval '1 hour' WHERE digest = $1 AND owner = $2`, [layer.digest, lease.rows[0].owner]);
    await waitFor('A’s client to be cut', () => onA.state.cut);
    front.release();
    // Until B takes the fill over (asking the upstream again), nothing of the blob is visible, and B's clients
    // have no more than A got from the upstream.
    for (;;) {
      const s = await stored();
      if (fetches() > 1) break;
      expect(s).toEqual({ row: false, bytes: false });
      expect(onB.state.received).toBeLessThanOrEqual(12 * MiB);
      expect(rangeB.state.received).toBeLessThanOrEqual(11 * MiB);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(fetches()).toBe(2);

    if (corrupt) {
      // B's whole-blob client got A's wrong first byte: it is cut, never ended as if whole. The range client,
      // which starts beyond that byte, got bytes that are the new fill's own: it goes on.
      await onB.done.catch(() => undefined);
      expect(onB.state).toMatchObject({ cut: true, ended: false });
    } else {
      // B's clients, fed A's unverified bytes, go on from B's own fill, which verified the whole blob.
      await onB.done;
      expect(onB.state).toMatchObject({ status: 200, received: size, digest: layer.digest, ended: true });
    }
    await rangeB.done;
    expect(rangeB.state).toMatchObject({ received: 19 * MiB, digest: sliceDigest(layer.data, MiB, 20 * MiB), ended: true });
    await waitFor('the blob to be stored', async () => {
      const s = await stored();
      return s.row && s.bytes;
    });
    expect(await copies(layer.digest)).toBe(1);
    const rows = await db.query<{ size: string }>('SELECT size FROM blob WHERE digest = $1', [layer.digest]);
    expect(rows.rows.map((r) => Number(r.size))).toEqual([size]);
    expect(fetches()).toBe(2);

    // Stored whole: served with the upstream refusing everything, on the survivor.
    front.mode = { kind: 'status', status: 503 };
    const cached = startPull(`${b.url}${blobPath}`, tokenB);
    await cached.done;
    expect(cached.state).toMatchObject({ status: 200, received: size, digest: layer.digest, ended: true });
  } finally {
    front.mode = { kind: 'pass' };
    await db.end();
    await Promise.all([a.stop(), b.stop()]);
  }
}

const sliceDigest = (data: Buffer, start: number, end: number) => `sha256:${createHash('sha256').update(data.subarray(start, end)).digest('hex')}`;

async function localStorageTakeover(org: string, corrupt: boolean): Promise<void> {
  const storage = join(workDir(`proxy-kill-${org}`), 'blobs');
  const config = {
    DB_URI: await createTestDatabase(`proxy-kill-${org}`),
    DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: storage }] },
    DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
    SUPER_USERS: ['admin'],
    FEATURE_PROXY_CACHE: true,
    SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
  };
  await takeover(config, org, async (digest) => (existsSync(join(storage, casPath(digest))) ? 1 : 0), corrupt);
}

test('LocalStorage shared by two replicas: the filling replica SIGKILLed mid-fill; nothing partial is stored, the survivor takes the fill over and its clients of the dead fill go on from it', async () => {
  await localStorageTakeover('killfs', false);
}, 300_000);

test('LocalStorage: the killed filler got a wrong byte from the upstream; the survivor’s client that got it is cut, a range client beyond it goes on', async () => {
  await localStorageTakeover('killbad', true);
}, 300_000);

test('S3 (MinIO) shared by two replicas: the filling replica SIGKILLed mid-fill with a piece stored; nothing partial is stored, the survivor takes the fill over and its clients of the dead fill go on from it', async () => {
  const config = await scaleOutConfig({ FEATURE_PROXY_CACHE: true, SSRF_ALLOWED_HOSTS: ['127.0.0.1'] });
  const { s3 } = config.DISTRIBUTED_STORAGE_CONFIG as { s3: [string, { s3_bucket: string; storage_path: string }] };
  const { s3_bucket: bucket, storage_path: prefix } = s3[1];
  const client = s3Client(testS3());
  try {
    await takeover(config, 'kills3', async (digest) => {
      const hex = digest.split(':')[1];
      let n = 0;
      let token: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix.replace(/^\/+/, '')}/`, ContinuationToken: token }));
        n += (r.Contents ?? []).filter((o) => !o.Key!.includes('/uploads/') && o.Key!.endsWith(hex)).length;
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return n;
    });
  } finally {
    client.destroy();
  }
}, 300_000);
