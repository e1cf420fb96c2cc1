/**
 * Quota enforcement with real clients (user guide 14.4.5.3), using the system default Reject quota
 * (DEFAULT_SYSTEM_REJECT_QUOTA_BYTES) so no API call is involved: images built offline with buildah are
 * pushed with podman until the next one does not fit: as in Quay, its bytes count while they arrive, so it is
 * refused with the exact text podman prints; deleting a tag and letting GC run frees the space and it passes.
 */
import { createHash } from 'node:crypto';
import { startRegistry } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage, MiB } from './lib.js';
import { gcRuns, metric, sleep } from '../../integration/gc/lib.js';

test('podman push is refused over the Reject limit with "Quota has been exceeded on namespace", and passes after delete + GC', async () => {
  const dbUri = await createTestDatabase('quotae2e');
  const reg = await startRegistry({
    label: 'quota-e2e',
    config: {
      DB_URI: dbUri,
      SUPER_USERS: ['admin'],
      FEATURE_QUOTA_MANAGEMENT: true,
      DEFAULT_SYSTEM_REJECT_QUOTA_BYTES: 5 * MiB,
      DEFAULT_TAG_EXPIRATION: '0s',
      GARBAGE_COLLECTION_FREQUENCY: 1,
      PUSH_TEMP_TAG_EXPIRATION_SEC: 4,
    },
  });
  try {
    const sb = clientSandbox('quota-e2e');
    const creds = ['--creds', `admin:${reg.admin.password}`];
    const repo = `${reg.hostPort}/admin/big`;
    await buildRandomImage(sb, `${repo}:one`, 3 * MiB);
    await buildRandomImage(sb, `${repo}:two`, 3 * MiB);
    await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:one`]);
    // 3 MiB of 5: this push starts, but its 3 MiB layer does not fit.
    const refused = await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:two`], { allowFail: true });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('denied: Quota has been exceeded on namespace');
    expect(refused.stderr).toContain('/v2/admin/big/blobs/uploads/');

    // The raw answer is Quay's: 403 with the DENIED error (a monolithic upload of 3 MiB).
    const layer = Buffer.alloc(3 * MiB, 7);
    const digest = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
    const raw = await fetch(`${reg.url}/v2/admin/big/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`admin:${reg.admin.password}`).toString('base64')}`, 'content-type': 'application/octet-stream' },
      body: layer,
    });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toEqual({ errors: [{ code: 'DENIED', message: 'Quota has been exceeded on namespace', detail: {} }] });

    const del = await fetch(`${reg.url}/v2/admin/big/manifests/one`, {
      method: 'DELETE',
      headers: { authorization: `Basic ${Buffer.from(`admin:${reg.admin.password}`).toString('base64')}` },
    });
    expect(del.status).toBe(202);
    const freedBefore = await metric(reg, 'quay_gc_bytes_freed_total');
    // The layer's bytes stay while the push's temporary reference lives (PUSH_TEMP_TAG_EXPIRATION_SEC).
    await sleep(4500);
    await gcRuns(reg, 2);
    expect((await metric(reg, 'quay_gc_bytes_freed_total')) - freedBefore).toBeGreaterThanOrEqual(3 * MiB);
    await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:two`]);
    await sb.run('podman', ['pull', ...INSECURE.podman, ...creds, `${repo}:two`]);
  } finally {
    await reg.stop();
  }
});
