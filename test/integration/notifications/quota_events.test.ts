/**
 * Quota events from real pushes: with Warning 50 % and Reject 90 % limits and namespace notifications for both
 * events, pushes that cross the limits fire quota_warning then quota_error, each once within the cooldown.
 */
import { scaleOutConfig, startRegistry, registryToken } from '../../helpers/registry.js';
import { signin } from '../api/fixture.js';
import { V2Client, randomBlob } from '../../helpers/v2.js';
import { startReceiver } from '../../helpers/receiver.js';

test('pushes over Warning then Reject limits fire quota_warning and quota_error once each', async () => {
  const rx = await startReceiver({ host: '127.0.0.5' });
  const reg = await startRegistry({
    label: 'notify-quota',
    config: await scaleOutConfig({ SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'], FEATURE_QUOTA_MANAGEMENT: true, FEATURE_QUOTA_NOTIFICATIONS: true }),
  });
  try {
    const admin = await signin(reg, reg.admin.username, reg.admin.password);
    await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
    await admin.ok('POST', '/organization/acme/quota', { limit_bytes: 100 * 1024 });
    const [quota] = await admin.ok('GET', '/organization/acme/quota');
    await admin.ok('POST', `/organization/acme/quota/${quota.id}/limit`, { type: 'Warning', threshold_percent: 50 });
    await admin.ok('POST', `/organization/acme/quota/${quota.id}/limit`, { type: 'Reject', threshold_percent: 90 });
    for (const event of ['quota_warning', 'quota_error']) await admin.ok('POST', '/organization/acme/notifications', { event, method: 'webhook', config: { url: `${rx.url}/${event}` } });
    await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
    const client = new V2Client(reg, `Bearer ${await registryToken(reg, ['repository:acme/app:pull,push'], reg.admin)}`);
    let refused = 0;
    for (let i = 0; i < 8; i++) {
      try {
        await client.pushImage('acme/app', `t${i}`, { layers: [randomBlob(20 * 1024)] });
      } catch {
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    await rx.waitFor(2);
    await new Promise((r) => setTimeout(r, 2000));
    const paths = rx.received.map((r) => r.path).sort();
    expect(paths).toEqual(['/quota_error', '/quota_warning']);
    const warning = JSON.parse(rx.received.find((r) => r.path === '/quota_warning')!.body);
    expect(warning).toMatchObject({ namespace: 'acme', threshold_percent: 50, limit_bytes: 100 * 1024 });
    const error = JSON.parse(rx.received.find((r) => r.path === '/quota_error')!.body);
    expect(error).toMatchObject({ namespace: 'acme', threshold_percent: 90 });
  } finally {
    await reg.stop();
    await rx.close();
  }
});
