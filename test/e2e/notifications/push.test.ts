/**
 * Notifications end to end with real clients: a buildah-built image pushed with podman fires one repo_push
 * webhook with Quay's payload and one in-app notification for a team's member, while a second webhook to a
 * receiver that hangs does not hold the push up; a tag set to expire in 2 days fires one repo_image_expiry.
 */
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createUser, signin } from '../../integration/api/fixture.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { buildRandomImage } from '../quota/lib.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('podman push: one webhook, one in-app notification per team member, a hanging receiver does not slow the push; expiry fires once', async () => {
  const rx: Receiver = await startReceiver({ host: '127.0.0.5' });
  const hang: Receiver = await startReceiver({ host: '127.0.0.5' });
  hang.mode = { kind: 'hang' };
  let reg: RegistryProcess | null = null;
  try {
    reg = await startRegistry({
      label: 'notify-e2e',
      config: await scaleOutConfig({
        SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'],
        FEATURE_REQUIRE_TEAM_INVITE: false,
        TAG_EXPIRY_FREQUENCY: 1,
        NOTIFICATION_TASK_RUN_MINIMUM_INTERVAL_MINUTES: 0,
      }),
    });
    const admin = await signin(reg, reg.admin.username, reg.admin.password);
    await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
    await admin.ok('PUT', '/organization/acme/team/devs', { role: 'member' });
    const devPassword = await createUser(admin, 'dev');
    await admin.ok('PUT', '/organization/acme/team/devs/members/dev');
    const dev = await signin(reg, 'dev', devPassword);
    await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
    const hook = { event: 'repo_push', method: 'webhook', eventConfig: {} };
    await admin.ok('POST', '/repository/acme/app/notification/', { ...hook, config: { url: `${rx.url}/push` } });
    await admin.ok('POST', '/repository/acme/app/notification/', { ...hook, config: { url: `${hang.url}/slow` } });
    await admin.ok('POST', '/repository/acme/app/notification/', {
      event: 'repo_push',
      method: 'quay_notification',
      config: { target: { kind: 'team', name: 'devs' } },
      eventConfig: {},
    });
    await admin.ok('POST', '/repository/acme/app/notification/', { event: 'repo_image_expiry', method: 'webhook', config: { url: `${rx.url}/expiry` }, eventConfig: { days: 3 } });

    const sb = clientSandbox('notify-push');
    const ref = `${reg.hostPort}/acme/app:latest`;
    await buildRandomImage(sb, ref, 256 * 1024);
    const t0 = Date.now();
    await sb.run('podman', ['push', ...INSECURE.podman, '--creds', `${reg.admin.username}:${reg.admin.password}`, ref]);
    const pushMs = Date.now() - t0;

    const [got] = await rx.waitFor(1);
    expect(got.path).toBe('/push');
    expect(JSON.parse(got.body)).toEqual({
      repository: 'acme/app',
      namespace: 'acme',
      name: 'app',
      docker_url: `${reg.hostPort}/acme/app`,
      homepage: `http://${reg.hostPort}/repository/acme/app`,
      updated_tags: ['latest'],
    });
    // The hanging receiver got its request and holds it; the push did not wait for it (the send timeout is 10 s).
    await hang.waitFor(1);
    expect(pushMs).toBeLessThan(10_000);

    let mine: Array<{ kind: string; metadata: { updated_tags: string[] } }> = [];
    for (let i = 0; i < 100 && mine.length === 0; i++) {
      mine = (await dev.ok('GET', '/user/notifications')).notifications.filter((n: { kind: string }) => n.kind === 'repo_push');
      if (mine.length === 0) await sleep(100);
    }
    expect(mine).toHaveLength(1);
    expect(mine[0].metadata.updated_tags).toEqual(['latest']);

    // Expiry in 2 days, within the notification's 3: one event, and no second one on later scans.
    await admin.ok('PUT', '/repository/acme/app/tag/latest', { expiration: Math.floor(Date.now() / 1000) + 2 * 86400 });
    await rx.waitFor(2);
    await sleep(3000);
    const expiries = rx.received.filter((r) => r.path === '/expiry');
    expect(expiries).toHaveLength(1);
    expect(JSON.parse(expiries[0].body)).toMatchObject({ repository: 'acme/app', tags: ['latest'], expiring_in: '3 days' });
    expect(rx.received.filter((r) => r.path === '/push')).toHaveLength(1);
  } finally {
    await reg?.stop();
    await rx.close();
    await hang.close();
  }
});
