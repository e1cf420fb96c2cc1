/**
 * The quota walkthrough of user guide chapter 14, scaled down (MiB instead of ubuntu), over the REST API and
 * the distribution API of a real registry process; plus bad quota input refused with nothing changed.
 */
import { startRegistry } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { Client, makeImage } from '../gc/lib.js';
import { randomBlob } from '../../helpers/v2.js';
import { signin } from '../api/fixture.js';

const MiB = 1024 * 1024;

test('set a quota, push, read quota_report, Warning 50 % notifies, Reject 80 % refuses; bad input is refused', async () => {
  const dbUri = await createTestDatabase('quotaapi');
  const reg = await startRegistry({ label: 'quota-api', config: { DB_URI: dbUri, SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true } });
  try {
    const api = await signin(reg, 'admin', reg.admin.password);
    await api.ok('POST', '/organization/', { name: 'testorg', email: 'testorg@example.com' });
    expect(await api.ok('GET', '/organization/testorg/quota')).toEqual([]);
    expect(await api.call('POST', '/organization/testorg/quota', { limit_bytes: 10 * MiB })).toMatchObject({ status: 201, body: 'Created' });
    const [quota] = await api.ok('GET', '/organization/testorg/quota');
    expect(quota).toMatchObject({ limit_bytes: 10 * MiB, default_config: false, limits: [], default_config_exists: false });

    const before = JSON.stringify(await api.ok('GET', '/organization/testorg/quota'));
    const bad: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/organization/testorg/quota', { limit_bytes: 1 }, /already exists/],
      ['PUT', `/organization/testorg/quota/${quota.id}`, { limit_bytes: -5 }, /greater than zero/],
      ['PUT', `/organization/testorg/quota/${quota.id}`, { limit_bytes: 1e30 }, /whole number|at most/],
      ['PUT', `/organization/testorg/quota/${quota.id}`, { limit: 'lots' }, /Invalid limit/],
      ['POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Reject', threshold_percent: 0 }, /1 to 100/],
      ['POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Reject', threshold_percent: 101 }, /1 to 100/],
      ['POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Block', threshold_percent: 50 }, /Warning.*Reject/],
    ];
    for (const [method, path, body, message] of bad) {
      const r = await api.call(method, path, body);
      expect({ path, body, status: r.status }).toEqual({ path, body, status: 400 });
      expect(r.body.detail).toMatch(message);
    }
    expect(JSON.stringify(await api.ok('GET', '/organization/testorg/quota'))).toBe(before);
    expect((await api.call('GET', '/organization/testorg/quota/999999')).status).toBe(404);

    const v2 = new Client(reg);
    const shared = randomBlob(3 * MiB);
    await v2.pushImage('testorg/ubuntu', '18.04', makeImage([shared]));
    // The same layer in a second repository counts once for the organization.
    await v2.pushImage('testorg/nginx', 'latest', makeImage([shared, randomBlob(2 * MiB)]));
    const repos = await api.ok('GET', '/repository?namespace=testorg');
    const reports = Object.fromEntries(repos.repositories.map((r: { name: string; quota_report: unknown }) => [r.name, r.quota_report]));
    expect((reports.ubuntu as { quota_bytes: number }).quota_bytes).toBeGreaterThan(3 * MiB);
    expect((reports.nginx as { quota_bytes: number }).quota_bytes).toBeGreaterThan(5 * MiB);
    expect((reports.ubuntu as { configured_quota: number }).configured_quota).toBe(10 * MiB);
    const org = await api.ok('GET', '/organization/testorg');
    expect(org.quota_report.quota_bytes).toBeGreaterThan(5 * MiB);
    expect(org.quota_report.quota_bytes).toBeLessThan(6 * MiB);

    expect((await api.call('POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Reject', threshold_percent: 80 })).status).toBe(201);
    expect((await api.call('POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Warning', threshold_percent: 50 })).status).toBe(201);
    expect((await api.call('POST', `/organization/testorg/quota/${quota.id}/limit`, { type: 'Warning', threshold_percent: 50 })).body.detail).toBe('Quota limit already exists');
    const [withLimits] = await api.ok('GET', '/organization/testorg/quota');
    expect(withLimits.limits.map((l: { type: string; limit_percent: number }) => [l.type, l.limit_percent])).toEqual([
      ['Warning', 50],
      ['Reject', 80],
    ]);

    // Over Warning (about 77 %): the push goes through and the org's admins are notified.
    await v2.pushImage('testorg/ubuntu', '20.04', makeImage([randomBlob(2.5 * MiB)]));
    const notes = await api.ok('GET', '/user/notifications');
    const warning = notes.notifications.find((n: { kind: string }) => n.kind === 'quota_warning');
    expect(warning).toMatchObject({ organization: 'testorg', dismissed: false, metadata: { threshold_percent: 50, limit_bytes: 10 * MiB } });
    expect((await api.call('PUT', `/user/notifications/${warning.id}`, { dismissed: true })).body.dismissed).toBe(true);

    // A push that would pass Reject (80 %) is refused while its bytes arrive, as Quay counts uploads in progress.
    await expect(v2.pushImage('testorg/ubuntu', '22.04', makeImage([randomBlob(MiB)]))).rejects.toThrow(/403.*Quota has been exceeded on namespace/);
    // Lowering the quota puts the namespace over Reject (about 86 %): the next upload is refused at its start.
    expect((await api.call('PUT', `/organization/testorg/quota/${quota.id}`, { limit_bytes: 9 * MiB })).status).toBe(200);
    const start = await v2.req('POST', '/v2/testorg/ubuntu/blobs/uploads/');
    expect(start.status).toBe(403);
    expect(await start.json()).toEqual({ errors: [{ code: 'DENIED', message: 'Quota has been exceeded on namespace', detail: {} }] });

    // Raising the quota lets pushes through again.
    expect((await api.call('PUT', `/organization/testorg/quota/${quota.id}`, { limit: '100 MiB' })).body.limit_bytes).toBe(100 * MiB);
    expect((await v2.req('POST', '/v2/testorg/ubuntu/blobs/uploads/')).status).toBe(202);
  } finally {
    await reg.stop();
  }
});
