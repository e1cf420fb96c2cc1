/**
 * Uploaded build packs survive garbage collection of an image blob with the same bytes (real registry
 * process, Postgres, MinIO, GC every second): the pack is uploaded, the same bytes are pushed as a layer,
 * the image is deleted and GC frees the layer; the pack still downloads, byte for byte. Two concurrent PUTs
 * of one upload URL store one file, whose bytes match the recorded digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { blobOf } from '../../helpers/v2.js';
import { Client, gcRuns, makeImage } from '../gc/lib.js';
import { Api, signin } from '../api/fixture.js';

let reg: RegistryProcess;
let admin: Api;
let dbUri: string;

async function blobRows(digest: string): Promise<number> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    return (await c.query('SELECT 1 FROM blob WHERE digest = $1', [digest])).rowCount ?? 0;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  const config = await scaleOutConfig({
    FEATURE_BUILD_SUPPORT: true,
    BUILD_MANAGER: ['external', {}],
    FEATURE_GARBAGE_COLLECTION: true,
    GARBAGE_COLLECTION_FREQUENCY: 1,
    DEFAULT_TAG_EXPIRATION: '0s',
    PUSH_TEMP_TAG_EXPIRATION_SEC: 2,
  });
  dbUri = config.DB_URI as string;
  reg = await startRegistry({ label: 'pack-gc', config });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
});

async function filedrop(): Promise<string> {
  return (await admin.ok<{ file_id: string }>('POST', '/filedrop/', { mimeType: 'application/gzip' })).file_id;
}

test('a pack whose bytes are also an image layer survives GC of that layer', async () => {
  const bytes = Buffer.concat([Buffer.from('FROM scratch\n'), randomBytes(4096)]);
  const fileId = await filedrop();
  expect((await fetch(`${reg.url}/userfiles/${fileId}`, { method: 'PUT', body: bytes })).status).toBe(200);

  const client = new Client(reg);
  const layer = blobOf(bytes);
  await client.pushImage('admin/packs', 'v1', makeImage([layer]));
  expect(await blobRows(layer.digest)).toBe(1);
  expect((await client.req('DELETE', '/v2/admin/packs/manifests/v1')).status).toBe(202);
  // The layer's temporary references expire, then GC frees it (row and bytes).
  const deadline = Date.now() + 120_000;
  while ((await blobRows(layer.digest)) > 0) {
    if (Date.now() > deadline) throw new Error(`GC did not free ${layer.digest}\n${reg.output().slice(-2000)}`);
    await gcRuns(reg, 1);
  }

  const got = await fetch(`${reg.url}/userfiles/${fileId}`);
  expect(got.status).toBe(200);
  const body = Buffer.from(await got.arrayBuffer());
  expect(body.equals(bytes)).toBe(true);
}, 180_000);

test('two concurrent PUTs of one upload URL: one is stored, and it is what the digest says', async () => {
  const fileId = await filedrop();
  const bodies = [randomBytes(256 * 1024), randomBytes(256 * 1024)];
  const puts = await Promise.all(bodies.map((body) => fetch(`${reg.url}/userfiles/${fileId}`, { method: 'PUT', body })));
  expect(puts.map((r) => r.status).sort()).toEqual([200, 409]);
  const got = Buffer.from(await (await fetch(`${reg.url}/userfiles/${fileId}`)).arrayBuffer());
  const winner = bodies[puts.findIndex((r) => r.status === 200)];
  expect(got.equals(winner)).toBe(true);
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  const row = (await c.query<{ digest: string }>('SELECT digest FROM userfile WHERE uuid = $1', [fileId])).rows[0];
  await c.end();
  expect(row.digest).toBe(`sha256:${createHash('sha256').update(winner).digest('hex')}`);
}, 60_000);
