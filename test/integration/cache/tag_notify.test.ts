/**
 * Which tag writes notify the caches (migration 081), on a real Postgres with the registry's schema: a
 * transaction that only creates tags bumps the repository's tag_version and sends nothing on `quay_cache`
 * (nothing cached can be stale); one that moves, ends or re-dates an existing tag, or changes the repository
 * row besides, sends `r:<namespace>/<name>` as before. Each case ends with a marker NOTIFY: notifications
 * arrive in commit order, so once the marker is in, anything the case sent is in too.
 */
import pg from 'pg';
import { openPostgres, type Db, type Queryable } from '../../../registry/db/index.js';
import { migrate } from '../../../registry/db/migrate.js';
import { Tags } from '../../../registry/model/tags.js';
import { CACHE_CHANNEL } from '../../../registry/cache/coherence.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';

let uri: string;
let db: Db;
let listener: pg.Client;
let tags: Tags;
let repoId: number;
const manifests: number[] = [];
const seen: string[] = [];
let markers = 0;

beforeAll(async () => {
  uri = await createTestDatabase('tag_notify');
  db = await openPostgres(uri, { max: 3 });
  await migrate(db);
  tags = new Tags(db);
  const ns = await db.query<{ id: number }>("INSERT INTO namespace (name, kind) VALUES ('acme', 'org') RETURNING id");
  const repo = await db.query<{ id: number }>("INSERT INTO repository (namespace_id, name) VALUES ($1, 'app') RETURNING id", [ns.rows[0].id]);
  repoId = repo.rows[0].id;
  for (const d of ['a', 'b']) {
    const m = await db.query<{ id: number }>(
      "INSERT INTO manifest (repository_id, digest, media_type, bytes, size) VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', '\\x7b7d', 2) RETURNING id",
      [repoId, `sha256:${d.repeat(64)}`],
    );
    manifests.push(m.rows[0].id);
  }
  listener = new pg.Client({ connectionString: uri });
  await listener.connect();
  listener.on('notification', (m) => seen.push(m.payload ?? ''));
  await listener.query(`LISTEN ${CACHE_CHANNEL}`);
});

afterAll(async () => {
  await listener.end();
  await db.close();
  await dropTestDatabase(uri);
});

async function tagVersion(): Promise<number> {
  return (await db.query<{ tag_version: number }>('SELECT tag_version FROM repository WHERE id = $1', [repoId])).rows[0].tag_version;
}

/** Run `write` in one transaction; what it sent on the channel (repository notifications only) and the tag_version bump. */
async function notified(write: (q: Queryable) => Promise<unknown>): Promise<{ sent: string[]; bump: number }> {
  const before = await tagVersion();
  seen.length = 0;
  await db.tx(write);
  const marker = `x:marker-${markers++}`;
  await db.query('SELECT pg_notify($1, $2)', [CACHE_CHANNEL, marker]);
  while (!seen.includes(marker)) await new Promise((r) => setTimeout(r, 10));
  return { sent: seen.filter((p) => p.startsWith('r:')), bump: (await tagVersion()) - before };
}

test('creating tags bumps tag_version and sends no notification', async () => {
  expect(await notified((q) => tags.set(q, repoId, 'v1', manifests[0]))).toEqual({ sent: [], bump: 1 });
  expect(
    await notified(async (q) => {
      await tags.set(q, repoId, 'v2', manifests[0]);
      await tags.set(q, repoId, 'v3', manifests[1]);
    }),
  ).toEqual({ sent: [], bump: 1 });
});

test('moving, re-dating or deleting an existing tag notifies, also after a creation in the same transaction', async () => {
  const repoChange = ['r:acme/app'];
  expect(await notified((q) => tags.set(q, repoId, 'v1', manifests[1]))).toEqual({ sent: repoChange, bump: 1 });
  expect(
    await notified(async (q) => {
      await tags.set(q, repoId, 'v4', manifests[0]);
      await q.query("UPDATE tag SET end_ms = start_ms + 86400000 WHERE repository_id = $1 AND name = 'v2' AND end_ms IS NULL", [repoId]);
    }),
  ).toEqual({ sent: repoChange, bump: 1 });
  expect(await notified((q) => q.query("UPDATE tag SET end_ms = start_ms WHERE repository_id = $1 AND name = 'v3' AND end_ms IS NULL", [repoId]))).toEqual({
    sent: repoChange,
    bump: 1,
  });
});

test('a repository change in a transaction that also created a tag notifies', async () => {
  expect(
    await notified(async (q) => {
      await tags.set(q, repoId, 'v5', manifests[0]);
      await q.query("UPDATE repository SET visibility = 'public' WHERE id = $1", [repoId]);
    }),
  ).toEqual({ sent: ['r:acme/app'], bump: 1 });
});
