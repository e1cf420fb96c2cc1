/**
 * Tag expiry from the image config label `quay.expires-after`, built with buildah: the tag stops resolving
 * at its expiry, the expiry worker records it once in the usage logs, and the label is kept on the manifest.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { basicAuth, startRegistry } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { sleep } from '../gc/lib.js';

test('an image labelled quay.expires-after=5s expires 5 s after its push; 2h gives a 2 h expiry', async () => {
  const dbUri = await createTestDatabase('expiry');
  const reg = await startRegistry({ label: 'expiry', config: { DB_URI: dbUri, SUPER_USERS: ['admin'], TAG_EXPIRY_FREQUENCY: 1 } });
  const db = new pg.Client({ connectionString: dbUri });
  await db.connect();
  try {
    const sb = clientSandbox('expiry');
    const repo = `${reg.hostPort}/admin/expiring`;
    for (const [tag, after] of [
      ['soon', '5s'],
      ['later', '2h'],
    ]) {
      const ctx = join(sb.dir, tag);
      mkdirSync(ctx);
      writeFileSync(join(ctx, 'f.txt'), `expires after ${after}\n`);
      writeFileSync(join(ctx, 'Containerfile'), `FROM scratch\nCOPY f.txt /f.txt\nLABEL quay.expires-after=${after} org.example.team=builds\n`);
      await sb.run('buildah', ['--storage-driver', 'vfs', 'bud', '--isolation', 'chroot', '-f', join(ctx, 'Containerfile'), '-t', `${repo}:${tag}`, ctx]);
    }
    const auth = basicAuth('admin', reg.admin.password);
    const get = (tag: string) => fetch(`${reg.url}/v2/admin/expiring/manifests/${tag}`, { headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });

    const pushedAt = Date.now();
    await sb.run('buildah', ['push', ...INSECURE.buildah, '--creds', `admin:${reg.admin.password}`, `${repo}:soon`]);
    await sb.run('buildah', ['push', ...INSECURE.buildah, '--creds', `admin:${reg.admin.password}`, `${repo}:later`]);
    const doneAt = Date.now();
    expect((await get('soon')).status).toBe(200);

    const rows = (await db.query<{ name: string; end_ms: string; expiry_state: string }>('SELECT name, end_ms, expiry_state FROM tag ORDER BY name')).rows;
    const later = rows.find((r) => r.name === 'later')!;
    expect(Number(later.end_ms)).toBeGreaterThanOrEqual(pushedAt + 2 * 3600_000);
    expect(Number(later.end_ms)).toBeLessThanOrEqual(doneAt + 2 * 3600_000);
    const soon = rows.find((r) => r.name === 'soon')!;
    expect(soon.expiry_state).toBe('scheduled');

    // The labels of the image config are the manifest's labels.
    const labels = (
      await db.query<{ key: string; value: string; source_type: string }>(
        `SELECT l.key, l.value, l.source_type FROM manifest_label l JOIN tag t ON t.manifest_id = l.manifest_id WHERE t.name = 'soon' AND l.key IN ('org.example.team', 'quay.expires-after') ORDER BY l.key`,
      )
    ).rows;
    expect(labels).toEqual([
      { key: 'org.example.team', value: 'builds', source_type: 'manifest' },
      { key: 'quay.expires-after', value: '5s', source_type: 'manifest' },
    ]);

    await sleep(Math.max(0, Number(soon.end_ms) - Date.now()) + 50);
    expect((await get('soon')).status).toBe(404);
    expect((await get('later')).status).toBe(200);
    const list = (await (await fetch(`${reg.url}/v2/admin/expiring/tags/list`, { headers: { authorization: auth } })).json()) as { tags: string[] };
    expect(list.tags).toEqual(['later']);

    // The worker records the passed expiry exactly once.
    const deadline = Date.now() + 15_000;
    let logged: Array<{ metadata: { tag: string } }> = [];
    while (Date.now() < deadline) {
      logged = (await db.query("SELECT metadata FROM log_entry WHERE kind = 'tag_expiration'")).rows;
      if (logged.length > 0) break;
      await sleep(250);
    }
    await sleep(2500);
    logged = (await db.query("SELECT metadata FROM log_entry WHERE kind = 'tag_expiration'")).rows;
    expect(logged.map((l) => l.metadata.tag)).toEqual(['soon']);
  } finally {
    await db.end();
    await reg.stop();
  }
});
