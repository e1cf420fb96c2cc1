/**
 * Crash safety: the registry is killed with SIGKILL while GC is deleting and while uploads are in flight.
 * After a restart nothing a live tag references is missing, the next GC finishes the job (storage and the
 * blob table hold exactly what live tags reference) and the abandoned uploads are cleaned up.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import pg from 'pg';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { Client, fsDigests, gcRuns, makeImage, metric, sleep, type Image } from './lib.js';
import { randomBlob } from '../../helpers/v2.js';

const BASE = {
  SUPER_USERS: ['admin'],
  DEFAULT_TAG_EXPIRATION: '0s',
  GARBAGE_COLLECTION_FREQUENCY: 1,
  PUSH_TEMP_TAG_EXPIRATION_SEC: 3,
  BLOBUPLOAD_DELETION_DATE_THRESHOLD: 3,
  BLOBUPLOAD_CLEANUP_FREQUENCY: 1,
};

async function query<T extends pg.QueryResultRow>(dbUri: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** A monolithic blob upload whose body is still streaming: it never finishes before the kill. */
function hangingUpload(reg: RegistryProcess, client: Client, location: string): http.ClientRequest {
  const url = new URL(`${location}?digest=sha256:${'0'.repeat(64)}`, reg.url);
  const req = http.request(url, { method: 'PUT', headers: { authorization: client.auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } });
  req.on('error', () => undefined);
  req.write(Buffer.alloc(256 * 1024, 7));
  return req;
}

test('SIGKILL during GC and during pushes: nothing referenced is lost, the next run finishes', async () => {
  const dbUri = await createTestDatabase('gccrash');
  // First life: no GC; 5 images stay tagged, 100 become garbage (3 own layers each).
  // (A long upload threshold: on a busy machine a POST and its PUT may be seconds apart.)
  let reg = await startRegistry({ label: 'gc-crash', config: { DB_URI: dbUri, ...BASE, FEATURE_GARBAGE_COLLECTION: false, BLOBUPLOAD_DELETION_DATE_THRESHOLD: 600 } });
  const { dataDir, port } = reg;
  const storage = join(dataDir, 'blobs');
  const shared = randomBlob(32 * 1024);
  const live: Array<{ tag: string; image: Image }> = [];
  let client = new Client(reg);
  for (let i = 0; i < 105; i++) {
    const image = makeImage([shared, randomBlob(1024 + i), randomBlob(2048 + i), randomBlob(512 + i)]);
    await client.pushImage('admin/crash', `t${i}`, image);
    if (i % 21 === 0) live.push({ tag: `t${i}`, image });
    else expect((await client.req('DELETE', `/v2/admin/crash/manifests/t${i}`)).status).toBe(202);
  }
  await reg.stop();
  const expected = new Set(live.flatMap((l) => [l.image.config.digest, ...l.image.layers.map((b) => b.digest)]));
  const before = fsDigests(storage).size;
  expect(before).toBe(1 + 105 * 4);

  // Second life: GC on. Kill it as soon as GC has deleted its first blobs, with uploads in flight.
  // (Uploads are not abandoned yet in this life: a long threshold.)
  reg = await startRegistry({ label: 'gc-crash', dataDir, port, config: { DB_URI: dbUri, ...BASE, FEATURE_GARBAGE_COLLECTION: true, BLOBUPLOAD_DELETION_DATE_THRESHOLD: 600 } });
  client = new Client(reg);
  const started = await client.req('POST', '/v2/admin/crash/blobs/uploads/');
  expect(started.status).toBe(202);
  const patched = await fetch(new URL(started.headers.get('location')!, reg.url), {
    method: 'PATCH',
    headers: { authorization: client.auth, 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(64 * 1024, 1),
  });
  expect(patched.status).toBe(202);
  const second = await client.req('POST', '/v2/admin/crash/blobs/uploads/');
  const hanging = hangingUpload(reg, client, second.headers.get('location')!);
  const deadline = Date.now() + 60_000;
  while ((await metric(reg, 'quay_gc_blobs_deleted_total')) === 0 && Date.now() < deadline) await sleep(5);
  await reg.kill();
  hanging.destroy();
  const left = fsDigests(storage);
  // The kill interrupted GC: garbage remains (GC deletes one blob per transaction).
  expect(left.size).toBeGreaterThan(expected.size);
  for (const d of expected) expect(left.has(d)).toBe(true);
  expect((await query<{ n: number }>(dbUri, 'SELECT count(*)::int AS n FROM blob_upload'))[0].n).toBeGreaterThan(0);

  // Third life: everything live pulls; GC and upload cleanup finish the job.
  reg = await startRegistry({ label: 'gc-crash', dataDir, port, config: { DB_URI: dbUri, ...BASE, FEATURE_GARBAGE_COLLECTION: true } });
  try {
    const sb = clientSandbox('gc-crash-pull');
    for (const l of live) {
      await sb.run('skopeo', [
        'copy',
        ...INSECURE.skopeoCopy,
        '--src-creds',
        `admin:${reg.admin.password}`,
        `docker://${reg.hostPort}/admin/crash:${l.tag}`,
        `dir:${join(sb.dir, l.tag)}`,
      ]);
    }
    await sleep(3500);
    await gcRuns(reg, 2);
    expect([...fsDigests(storage)].sort()).toEqual([...expected].sort());
    const rows = await query<{ digest: string }>(dbUri, 'SELECT digest FROM blob');
    expect(rows.map((r) => r.digest).sort()).toEqual([...expected].sort());
    expect((await query<{ n: number }>(dbUri, 'SELECT count(*)::int AS n FROM blob_upload'))[0].n).toBe(0);
    expect(readdirSync(join(storage, 'uploads'))).toEqual([]);
    // Quota sizes stayed consistent through the crash: they equal a recount of what is referenced.
    const [size] = await query<{ kept: number; recount: number }>(
      dbUri,
      `SELECT (SELECT size_bytes FROM quota_namespace_size s JOIN namespace n ON n.id = s.namespace_id WHERE n.name = 'admin')::bigint AS kept,
              (SELECT coalesce(sum(size), 0) FROM blob WHERE id IN (SELECT blob_id FROM manifest_blob))::bigint AS recount`,
    );
    expect(size.kept).toBe(size.recount);
  } finally {
    await reg.stop();
  }
});
