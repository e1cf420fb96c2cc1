/**
 * Garbage collection against a real registry process on Postgres, with filesystem and with S3 storage:
 * pushes sharing layers race a GC that runs every second with a zero time machine window while tags are
 * deleted; right after each push every blob its manifest references reads back whole and hashes to its digest
 * (no manifest ever references a missing blob); afterwards every live tag pulls completely with skopeo and
 * storage holds exactly the bytes the live tags reference.
 *
 * GC_RACE_ITERATIONS pushes per storage (default 51, three pushers); `npm run bench -- faults` runs 1000.
 */
import { join } from 'node:path';
import pg from 'pg';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { Client, fsDigests, gcRuns, metric, makeImage, s3Digests, sleep, type Image } from './lib.js';
import { randomBlob, sha256, type Blob } from '../../helpers/v2.js';

const TEMP_REF_SECONDS = 6;
/** Pushes per pusher (three pushers). */
const ITERATIONS = Math.ceil(Number(process.env.GC_RACE_ITERATIONS ?? 51) / 3);
const TEST_TIMEOUT_MS = 120_000 + ITERATIONS * 4_000;
const GC = { FEATURE_GARBAGE_COLLECTION: true, GARBAGE_COLLECTION_FREQUENCY: 1, DEFAULT_TAG_EXPIRATION: '0s', PUSH_TEMP_TAG_EXPIRATION_SEC: TEMP_REF_SECONDS };

interface Live {
  repo: string;
  tag: string;
  image: Image;
}

/** Pushes that raced GC and were verified, across the file's tests (reported at the end). */
let races = 0;
/** Manifests refused with MANIFEST_BLOB_UNKNOWN because a HEADed layer was collected meanwhile (then pushed again). */
let refused = 0;
afterAll(() => {
  process.stdout.write(`gc race: ${races} pushes raced GC, every referenced blob present and whole (${refused} manifests refused for a collected layer, pushed again)\n`);
});

/** Three pushers, each pushing then deleting tags, with layers shared across tags and recycled from deleted ones. */
async function race(client: Client, iterations: number): Promise<Live[]> {
  const shared = [randomBlob(48 * 1024), randomBlob(48 * 1024)];
  const live = new Map<string, Live>();
  const recent: Blob[] = [];
  const pusher = async (w: number) => {
    for (let i = 0; i < iterations; i++) {
      const repo = `admin/race${(i + w) % 2}`;
      // A layer of an image whose tag was just deleted (GC may be freeing it right now), one shared by all, one new.
      const recycled = recent.length > 3 ? [recent[recent.length - 3]] : [];
      const fresh = randomBlob(16 * 1024 + i);
      recent.push(fresh);
      const image = makeImage([shared[i % 2], ...recycled, fresh]);
      const tag = `w${w}-i${i}`;
      try {
        await client.pushImage(repo, tag, image);
      } catch (err) {
        // A layer the client HEADed was collected before its manifest came (its temporary reference, a few seconds
        // here, ran out on a slow machine): the registry refuses the manifest rather than store it with a missing
        // blob. The client uploads again, as a user re-running the push would.
        if (!/MANIFEST_BLOB_UNKNOWN/.test((err as Error).message)) throw err;
        refused++;
        await client.pushImage(repo, tag, image);
      }
      // The manifest just landed while GC ran: every blob it references is there, whole.
      for (const b of [image.config, ...image.layers]) {
        const got = await client.req('GET', `/v2/${repo}/blobs/${b.digest}`);
        expect({ tag, blob: b.digest, status: got.status, digest: sha256(Buffer.from(await got.arrayBuffer())) }).toEqual({ tag, blob: b.digest, status: 200, digest: b.digest });
      }
      races++;
      live.set(`${repo}:${tag}`, { repo, tag, image });
      if (i >= 2) {
        const old = `w${w}-i${i - 2}`;
        const key = [...live.keys()].find((k) => k.endsWith(`:${old}`))!;
        const { repo: oldRepo } = live.get(key)!;
        const del = await client.req('DELETE', `/v2/${oldRepo}/manifests/${old}`);
        if (del.status !== 202) throw new Error(`delete ${oldRepo}:${old}: ${del.status}`);
        live.delete(key);
      }
    }
  };
  await Promise.all([0, 1, 2].map(pusher));
  return [...live.values()];
}

async function pullAll(reg: RegistryProcess, live: Live[]): Promise<void> {
  const sb = clientSandbox('gc-pull');
  for (const l of live) {
    const dest = join(sb.dir, `${l.repo.replace('/', '_')}-${l.tag}`);
    await sb.run('skopeo', [
      'copy',
      ...INSECURE.skopeoCopy,
      '--src-creds',
      `${reg.admin.username}:${reg.admin.password}`,
      `docker://${reg.hostPort}/${l.repo}:${l.tag}`,
      `dir:${dest}`,
    ]);
  }
}

function expectedDigests(live: Live[]): Set<string> {
  return new Set(live.flatMap((l) => [l.image.config.digest, ...l.image.layers.map((b) => b.digest)]));
}

async function dbDigests(dbUri: string): Promise<Set<string>> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    return new Set((await c.query<{ digest: string }>('SELECT digest FROM blob')).rows.map((r) => r.digest));
  } finally {
    await c.end();
  }
}

async function settle(reg: RegistryProcess): Promise<void> {
  // Temporary references (uploads, HEADs) expire, then two full GC runs.
  await sleep(TEMP_REF_SECONDS * 1000 + 500);
  await gcRuns(reg, 2);
}

describe('GC under concurrent pushes', () => {
  test(
    'Postgres + filesystem: live tags pull completely, no orphaned bytes',
    async () => {
      const dbUri = await createTestDatabase('gcfs');
      const reg0 = await startRegistry({ label: 'gc-fs', config: { DB_URI: dbUri, SUPER_USERS: ['admin'], ...GC } });
      const storage = join(reg0.dataDir, 'blobs');
      try {
        const client = new Client(reg0);
        const live = await race(client, ITERATIONS);
        expect(live.length).toBe(6);
        await settle(reg0);
        // All but the last two tags of each pusher were deleted: their manifests and their own layers went while pushes ran.
        expect(await metric(reg0, 'quay_gc_manifests_deleted_total')).toBeGreaterThanOrEqual(3 * (ITERATIONS - 2));
        expect(await metric(reg0, 'quay_gc_blobs_deleted_total')).toBeGreaterThan(30);
        await pullAll(reg0, live);
        const expected = expectedDigests(live);
        expect([...fsDigests(storage)].sort()).toEqual([...expected].sort());
        expect([...(await dbDigests(dbUri))].sort()).toEqual([...expected].sort());
      } finally {
        await reg0.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'Postgres + S3: live tags pull completely, no orphaned bytes',
    async () => {
      const config = await scaleOutConfig(GC);
      const reg = await startRegistry({ label: 'gc-s3', config });
      const [, params] = (config.DISTRIBUTED_STORAGE_CONFIG as Record<string, [string, Record<string, string>]>).s3;
      try {
        const client = new Client(reg);
        const live = await race(client, ITERATIONS);
        await settle(reg);
        expect(await metric(reg, 'quay_gc_manifests_deleted_total')).toBeGreaterThanOrEqual(3 * (ITERATIONS - 2));
        await pullAll(reg, live);
        const expected = expectedDigests(live);
        expect([...(await s3Digests(params.s3_bucket, 'registry'))].sort()).toEqual([...expected].sort());
        expect([...(await dbDigests(config.DB_URI as string))].sort()).toEqual([...expected].sort());
      } finally {
        await reg.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
