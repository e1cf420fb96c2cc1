/**
 * The quota walkthrough of user guide chapter 14, scaled down (a few MiB instead of ubuntu images, built
 * offline with buildah) and run with real clients: a superuser sets a quota on an organization, images are
 * pushed with podman, quota_report is read, Warning 50 % and Reject 80 % limits are added, the push over the
 * limit is refused while its bytes arrive with the text podman prints in 14.4.5.3, a tag is deleted, GC frees the space, the size
 * drops and the next push passes.
 */
import { startRegistry } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage, MiB } from './lib.js';
import { gcRuns, sleep } from '../../integration/gc/lib.js';
import { signin } from '../../integration/api/fixture.js';

test('chapter 14 walkthrough with podman: quota, quota_report, Warning and Reject limits, refusal, delete, GC, push again', async () => {
  const reg = await startRegistry({
    label: 'quota-walkthrough',
    config: {
      DB_URI: await createTestDatabase('quotawalk'),
      SUPER_USERS: ['admin'],
      FEATURE_QUOTA_MANAGEMENT: true,
      // A zero time machine window and a short temporary reference let GC free a deleted tag's bytes quickly.
      DEFAULT_TAG_EXPIRATION: '0s',
      GARBAGE_COLLECTION_FREQUENCY: 1,
      PUSH_TEMP_TAG_EXPIRATION_SEC: 3,
    },
  });
  try {
    const api = await signin(reg, 'admin', reg.admin.password);
    await api.ok('POST', '/organization/', { name: 'testorg', email: 'testorg@example.com' });
    // 14.4.1: a 10 MiB quota for the organization (the guide uses 10 GiB).
    expect((await api.call('POST', '/organization/testorg/quota', { limit: '10 MiB' })).status).toBe(201);
    const [quota] = await api.ok('GET', '/organization/testorg/quota');
    expect(quota.limit_bytes).toBe(10 * MiB);

    const sb = clientSandbox('quota-walkthrough');
    const creds = ['--creds', `admin:${reg.admin.password}`];
    const repo = `${reg.hostPort}/testorg/ubuntu`;
    await buildRandomImage(sb, `${repo}:18.04`, 3 * MiB);
    await buildRandomImage(sb, `${repo}:20.04`, 3 * MiB);
    await buildRandomImage(sb, `${repo}:22.04`, 3 * MiB);

    // 14.4.2: push, then read quota_report on the repository listing and the organization.
    await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:18.04`]);
    const size = async () => ((await api.ok('GET', '/organization/testorg')).quota_report as { quota_bytes: number }).quota_bytes;
    const listing = await api.ok('GET', '/repository?namespace=testorg');
    expect(listing.repositories[0].quota_report).toMatchObject({ configured_quota: 10 * MiB });
    expect(listing.repositories[0].quota_report.quota_bytes).toBeGreaterThan(3 * MiB);
    const afterFirst = await size();
    expect(afterFirst).toBeGreaterThan(3 * MiB);
    expect(afterFirst).toBeLessThan(4 * MiB);

    // 14.4.3: Warning at 50 %, Reject at 80 %.
    expect((await api.call('POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Warning', threshold_percent: 50 })).status).toBe(201);
    expect((await api.call('POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Reject', threshold_percent: 80 })).status).toBe(201);

    // About 30 % used: the second push goes through and ends above the Warning limit (about 60 %).
    await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:20.04`]);
    // 14.4.5.3: the third starts above Warning (a notification, not a refusal), and its bytes would pass Reject
    // (about 90 %): as in Quay, uploads in progress count, so it is refused with the text podman prints.
    const refused = await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:22.04`], { allowFail: true });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('denied: Quota has been exceeded on namespace');
    const notes = await api.ok('GET', '/user/notifications');
    expect(notes.notifications.some((n: { kind: string; organization: string }) => n.kind === 'quota_warning' && n.organization === 'testorg')).toBe(true);
    expect(await size()).toBeLessThan(8 * MiB);

    // Delete a tag; once GC has run past the (zero) time machine window the size drops and the push passes.
    expect((await api.call('DELETE', '/repository/testorg/ubuntu/tag/18.04')).status).toBe(204);
    const deadline = Date.now() + 60_000;
    while ((await size()) > 4 * MiB && Date.now() < deadline) await sleep(500);
    expect(await size()).toBeLessThan(4 * MiB);
    await sleep(3500); // the deleted push's temporary references expire
    await gcRuns(reg, 2);
    await sb.run('podman', ['push', ...INSECURE.podman, ...creds, `${repo}:22.04`]);
    const tags = await api.ok('GET', '/repository/testorg/ubuntu/tag/?onlyActiveTags=true');
    expect(tags.tags.map((t: { name: string }) => t.name).sort()).toEqual(['20.04', '22.04']);
  } finally {
    await reg.stop();
  }
});
