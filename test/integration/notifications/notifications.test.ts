/**
 * Repository and namespace notifications against a real registry process (Postgres + S3), real receivers
 * (an HTTPS server that requires the registry's client certificate, a plain HTTP one that can answer 500,
 * hang or redirect) and a real SMTP server (Mailpit): Quay's API and texts, every bad input of the issue,
 * deliveries of each method, failure rounds and the three-strikes disable, reset, e-mail authorization by
 * the mailed link, in-app notifications for a team, audit logs and metrics.
 */
import { join } from 'node:path';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createUser, signin, type Api } from '../api/fixture.js';
import { startMailpit, type MailpitService } from '../../setup/services.js';
import { makeTestPki, type TestPki } from '../../helpers/pki.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { workDir } from '../../setup/paths.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('repository notifications', () => {
  let reg: RegistryProcess;
  let mail: MailpitService;
  let pki: TestPki;
  let https: Receiver;
  let plain: Receiver;
  let admin: Api;
  let dev: Api;
  let other: Api;
  const repoPath = '/repository/acme/app';

  beforeAll(async () => {
    pki = makeTestPki(join(workDir('notify-pki'), 'pki'));
    mail = await startMailpit();
    https = await startReceiver({ host: '127.0.0.5', tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true } });
    plain = await startReceiver({ host: '127.0.0.5' });
    reg = await startRegistry({
      label: 'notify',
      config: await scaleOutConfig({
        FEATURE_MAILING: true,
        MAIL_SERVER: '127.0.0.1',
        MAIL_PORT: mail.smtpPort,
        MAIL_USE_TLS: false,
        MAIL_DEFAULT_SENDER: 'registry@example.com',
        SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'],
        NOTIFICATION_SEND_TIMEOUT: 2,
        NOTIFICATION_RETRY_SECONDS: 1,
        FEATURE_REQUIRE_TEAM_INVITE: false,
        PREFERRED_URL_SCHEME: 'http',
      }),
      // The webhook client certificate, beside config.yaml as in Quay; the receiver trusts its CA.
      files: { 'ssl.cert': pki.clientCert, 'ssl.key': pki.clientKey },
      env: { NODE_EXTRA_CA_CERTS: pki.caFile },
    });
    admin = await signin(reg, reg.admin.username, reg.admin.password);
    await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
    await admin.ok('POST', '/organization/', { name: 'other', email: 'other@example.com' });
    await admin.ok('PUT', '/organization/other/team/outsiders', { role: 'member' });
    await admin.ok('PUT', '/organization/acme/team/devs', { role: 'member' });
    const devPassword = await createUser(admin, 'dev');
    await admin.ok('PUT', '/organization/acme/team/devs/members/dev');
    dev = await signin(reg, 'dev', devPassword);
    const otherPassword = await createUser(admin, 'stranger');
    other = await signin(reg, 'stranger', otherPassword);
    await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
    await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'second', visibility: 'private', description: '' });
    await admin.ok('PUT', `${repoPath}/permissions/team/devs`, { role: 'write' });
  });

  afterAll(async () => {
    await reg?.stop();
    await https?.close();
    await plain?.close();
    await mail?.stop();
  });

  const create = (body: Record<string, unknown>, path = repoPath) => admin.post(`${path}/notification/`, body);
  const webhook = (url: string, extra: Record<string, unknown> = {}) => ({ event: 'repo_push', method: 'webhook', config: { url, ...extra }, eventConfig: {}, title: 'hook' });
  const notification = async (uuid: string) => (await admin.ok('GET', `${repoPath}/notification/${uuid}`)) as { number_of_failures: number };
  const waitFailures = async (uuid: string, n: number) => {
    for (let i = 0; i < 100; i++) {
      if ((await notification(uuid)).number_of_failures === n) return;
      await sleep(100);
    }
    throw new Error(`number_of_failures never reached ${n}: ${JSON.stringify(await notification(uuid))}`);
  };

  test.each([
    ['missing webhook URL', { event: 'repo_push', method: 'webhook', config: {}, eventConfig: {} }, 'Missing webhook URL'],
    ['missing Slack URL', { event: 'repo_push', method: 'slack', config: {}, eventConfig: {} }, 'Missing Slack Callback URL'],
    ['missing e-mail', { event: 'repo_push', method: 'email', config: {}, eventConfig: {} }, 'Missing e-mail address'],
    ['missing target', { event: 'repo_push', method: 'quay_notification', config: {}, eventConfig: {} }, 'Missing target'],
    ['unknown user', { event: 'repo_push', method: 'quay_notification', config: { target: { kind: 'user', name: 'nobody' } }, eventConfig: {} }, 'Unknown user nobody'],
    ['unknown org', { event: 'repo_push', method: 'quay_notification', config: { target: { kind: 'org', name: 'nope' } }, eventConfig: {} }, 'Unknown organization nope'],
    [
      'org of another namespace',
      { event: 'repo_push', method: 'quay_notification', config: { target: { kind: 'org', name: 'other' } }, eventConfig: {} },
      'Organization name must match repository namespace',
    ],
    [
      'team of another org',
      { event: 'repo_push', method: 'quay_notification', config: { target: { kind: 'team', name: 'outsiders' } }, eventConfig: {} },
      'Unknown team outsiders',
    ],
    ['missing Flowdock token', { event: 'repo_push', method: 'flowdock', config: {}, eventConfig: {} }, 'Missing Flowdock API Token'],
    ['missing HipChat token', { event: 'repo_push', method: 'hipchat', config: { room_id: '1' }, eventConfig: {} }, 'Missing Hipchat Room Notification Token'],
    ['missing HipChat room', { event: 'repo_push', method: 'hipchat', config: { notification_token: 't' }, eventConfig: {} }, 'Missing Hipchat Room ID'],
    ['unknown event', { event: 'repo_exploded', method: 'webhook', config: { url: 'http://127.0.0.5/' }, eventConfig: {} }, "Unknown event 'repo_exploded'"],
    ['unknown method', { event: 'repo_push', method: 'carrier_pigeon', config: {}, eventConfig: {} }, "Unknown notification method 'carrier_pigeon'"],
    ['namespace-only event on a repository', { event: 'quota_warning', method: 'webhook', config: { url: 'http://127.0.0.5/' }, eventConfig: {} }, "Unknown event 'quota_warning'"],
    [
      'unauthorized e-mail',
      { event: 'repo_push', method: 'email', config: { email: 'nobody@example.com' }, eventConfig: {} },
      'The specified e-mail address is not authorized to receive notifications for this repository',
    ],
    ['metadata address', webhook('http://169.254.169.254/latest/meta-data/'), 'Invalid webhook URL: Address 169.254.169.254 is not allowed'],
    ['loopback not in SSRF_ALLOWED_HOSTS', webhook('http://127.0.0.1:8080/'), 'Invalid webhook URL: Address 127.0.0.1 is not allowed'],
    ['a DNS name resolving to a private address', webhook('http://vm/'), "Invalid webhook URL: Host 'vm' resolves to 127.0.0.1, which is not allowed"],
    ['file URL', webhook('file:///etc/passwd'), "Invalid webhook URL: Invalid URL scheme 'file': only HTTP and HTTPS are allowed"],
    [
      'Slack URL on the metadata address',
      { event: 'repo_push', method: 'slack', config: { url: 'http://169.254.169.254/' }, eventConfig: {} },
      'Invalid Slack Callback URL: Address 169.254.169.254 is not allowed',
    ],
    ['template with invalid JSON', webhook('http://127.0.0.5/', { template: '{"a": ' }), /^Invalid webhook template: not JSON/],
    [
      'repo_image_expiry without days',
      { event: 'repo_image_expiry', method: 'webhook', config: { url: 'http://127.0.0.5/' }, eventConfig: {} },
      'days must be a whole number of days between 1 and 365',
    ],
    [
      'invalid vulnerability level',
      { event: 'vulnerability_found', method: 'webhook', config: { url: 'http://127.0.0.5/' }, eventConfig: { level: 'Apocalyptic' } },
      'Invalid vulnerability level: Apocalyptic',
    ],
    ['invalid ref-regex', { event: 'build_success', method: 'webhook', config: { url: 'http://127.0.0.5/' }, eventConfig: { 'ref-regex': '(' } }, 'Invalid ref-regex: ('],
    ['missing eventConfig', { event: 'repo_push', method: 'webhook', config: { url: 'http://127.0.0.5/' } }, "'eventConfig' is a required property"],
  ])('400 for %s, nothing stored', async (_name, body, text) => {
    const before = (await admin.ok('GET', `${repoPath}/notification/`)).notifications.length;
    const r = await create(body);
    expect(r.status).toBe(400);
    if (typeof text === 'string') expect(r.body.error_message).toBe(text);
    else expect(r.body.error_message).toMatch(text);
    expect((await admin.ok('GET', `${repoPath}/notification/`)).notifications.length).toBe(before);
  });

  test('non-admins get 403; a uuid of another repository is not found there and nothing changes', async () => {
    expect((await dev.post(`${repoPath}/notification/`, webhook(`${plain.url}/x`))).status).toBe(403);
    expect((await dev.get(`${repoPath}/notification/`)).status).toBe(403);
    expect((await other.get(`${repoPath}/notification/`)).status).toBe(403);
    const n = (await create(webhook(`${plain.url}/elsewhere`), '/repository/acme/second')).body;
    expect(n.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await admin.get(`${repoPath}/notification/${n.uuid}`)).status).toBe(404);
    const del = await admin.delete(`${repoPath}/notification/${n.uuid}`);
    expect(del.status).toBe(400);
    expect(del.body.error_message).toBe(`No repository notification found for: acme, app, ${n.uuid}`);
    expect((await admin.post(`${repoPath}/notification/${n.uuid}/test`)).status).toBe(400);
    expect((await admin.post(`${repoPath}/notification/${n.uuid}`)).status).toBe(400);
    expect((await admin.ok('GET', `/repository/acme/second/notification/${n.uuid}`)).uuid).toBe(n.uuid);
    expect((await admin.get(`${repoPath}/notification/not-a-uuid`)).status).toBe(404);
    await admin.ok('DELETE', `/repository/acme/second/notification/${n.uuid}`);
  });

  test('webhook over https with the client certificate and a template; /test sends the sample payload', async () => {
    const n = (await create({ ...webhook(`${https.url}/hook`), title: 'ci' })).body;
    expect(n).toEqual({ uuid: n.uuid, title: 'ci', event: 'repo_push', method: 'webhook', config: { url: `${https.url}/hook` }, event_config: {}, number_of_failures: 0 });
    expect(await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`)).toEqual({});
    const [got] = await https.waitFor(1);
    expect(got.clientCN).toBe('quay-ts registry');
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.body)).toEqual({
      repository: 'acme/app',
      namespace: 'acme',
      name: 'app',
      docker_url: `${reg.hostPort}/acme/app`,
      homepage: `http://${reg.hostPort}/repository/acme/app`,
      updated_tags: ['latest', 'foo'],
      pruned_image_count: 3,
    });

    const templated = (
      await create(webhook(`${https.url}/templated`, { template: '{"text": "${repository} got ${updated_tags}", "tags": "${updated_tags}", "none": "x ${nothing}"}' }))
    ).body;
    await admin.ok('POST', `${repoPath}/notification/${templated.uuid}/test`);
    const all = await https.waitFor(2);
    expect(JSON.parse(all[1].body)).toEqual({ text: 'acme/app got latest,foo', tags: ['latest', 'foo'], none: 'x (none)' });
    await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
    await admin.ok('DELETE', `${repoPath}/notification/${templated.uuid}`);
  });

  test('failures count in rounds; three failed rounds disable the notification until reset; a redirect is a failure and is not followed', async () => {
    const target = await startReceiver({ host: '127.0.0.6' });
    try {
      const n = (await create(webhook(`${plain.url}/flaky`))).body;
      plain.mode = { kind: 'status', status: 500 };
      await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
      await waitFailures(n.uuid, 1);
      // Two more rounds (each retry after NOTIFICATION_RETRY_SECONDS): the same queued item fails again.
      await waitFailures(n.uuid, 2);
      plain.mode = { kind: 'redirect', location: `${target.url}/stolen` };
      await waitFailures(n.uuid, 3);
      expect(target.received.length).toBe(0);
      // Disabled: a new event is not even attempted.
      plain.mode = { kind: 'ok' };
      const seen = plain.received.length;
      await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
      await sleep(2500);
      expect(plain.received.length).toBe(seen);
      expect((await notification(n.uuid)).number_of_failures).toBe(3);
      // Reset: counter back to 0 and deliveries flow again.
      expect((await admin.post(`${repoPath}/notification/${n.uuid}`)).status).toBe(204);
      expect((await notification(n.uuid)).number_of_failures).toBe(0);
      await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
      await plain.waitFor(seen + 1);
      expect(plain.received[seen].path).toBe('/flaky');
      await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
    } finally {
      plain.mode = { kind: 'ok' };
      await target.close();
    }
  });

  test('a hanging receiver times out (NOTIFICATION_SEND_TIMEOUT) and counts as a failure', async () => {
    const n = (await create(webhook(`${plain.url}/slow`))).body;
    plain.mode = { kind: 'hang' };
    try {
      await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
      await waitFailures(n.uuid, 1);
    } finally {
      plain.mode = { kind: 'ok' };
    }
    await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
  });

  test('Slack message shape', async () => {
    const n = (await create({ event: 'repo_push', method: 'slack', config: { url: `${plain.url}/slack` }, eventConfig: {} })).body;
    const seen = plain.received.length;
    await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
    const got = (await plain.waitFor(seen + 1))[seen];
    const body = JSON.parse(got.body);
    expect(body).toEqual({
      text: 'Repository acme/app updated',
      username: 'quayiobot',
      attachments: [{ fallback: 'Repository acme/app updated', text: expect.any(String), color: 'good', mrkdwn_in: ['text'] }],
    });
    expect(body.attachments[0].text).toBe(
      `Repository <http://${reg.hostPort}/repository/acme/app|acme/app> has been pushed with the following tags updated: ` +
        `<http://${reg.hostPort}/repository/acme/app?tag=latest&tab=tags|latest>, <http://${reg.hostPort}/repository/acme/app?tag=foo&tab=tags|foo>`,
    );
    await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
  });

  test('e-mail: authorize the address by the mailed link, then events arrive by mail', async () => {
    const address = 'ops@example.com';
    expect((await admin.get(`${repoPath}/authorizedemail/${address}`)).status).toBe(404);
    const started = await admin.ok('POST', `${repoPath}/authorizedemail/${address}`);
    expect(started).toEqual({ email: address, repository: 'app', namespace: 'acme', confirmed: false });
    const [confirmation] = await mail.waitFor((m) => m.To.some((t) => t.Address === address) && m.Subject.startsWith('Verify e-mail address'));
    expect(confirmation.Subject).toBe('Verify e-mail address for notifications on acme/app');
    const link = /href="([^"]+)"/.exec((await mail.body(confirmation.ID)).HTML)![1];
    expect(link.startsWith(`http://${reg.hostPort}/authrepoemail?code=`)).toBe(true);
    expect((await create({ event: 'repo_push', method: 'email', config: { email: address }, eventConfig: {} })).status).toBe(400);
    expect((await fetch(`${reg.url}/authrepoemail?code=wrong-code-wrong-code`)).status).toBe(404);
    const page = await fetch(link.replace(`http://${reg.hostPort}`, reg.url));
    expect(page.status).toBe(200);
    expect(await admin.ok('GET', `${repoPath}/authorizedemail/${address}`)).toEqual({ email: address, repository: 'app', namespace: 'acme', confirmed: true });
    const n = (await create({ event: 'repo_push', method: 'email', config: { email: address }, eventConfig: {} })).body;
    await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
    const [pushMail] = await mail.waitFor((m) => m.To.some((t) => t.Address === address) && m.Subject === 'Repository acme/app updated');
    expect(pushMail.From.Address).toBe('registry@example.com');
    expect((await mail.body(pushMail.ID)).HTML).toContain('has been pushed with the following tags updated');
    await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
  });

  test('in-app notification for each member of a team, dismissable', async () => {
    const n = (await create({ event: 'repo_push', method: 'quay_notification', config: { target: { kind: 'team', name: 'devs' } }, eventConfig: {} })).body;
    await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
    let items: Array<{ id: string; kind: string; metadata: Record<string, unknown>; dismissed: boolean }> = [];
    for (let i = 0; i < 100 && items.length === 0; i++) {
      items = (await dev.ok('GET', '/user/notifications')).notifications.filter((x: { kind: string }) => x.kind === 'repo_push');
      if (items.length === 0) await sleep(100);
    }
    expect(items).toHaveLength(1);
    expect(items[0].metadata.repository).toBe('acme/app');
    expect(items[0].metadata.updated_tags).toEqual(['latest', 'foo']);
    await dev.ok('PUT', `/user/notifications/${items[0].id}`, { dismissed: true });
    expect((await dev.ok('GET', '/user/notifications')).notifications.filter((x: { kind: string }) => x.kind === 'repo_push')).toHaveLength(0);
    // The admin is not in the team: nothing for them.
    expect((await admin.ok('GET', '/user/notifications')).notifications.filter((x: { kind: string }) => x.kind === 'repo_push')).toHaveLength(0);
    await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
  });

  test('event filters: vulnerability level and build ref-regex decide what is delivered', async () => {
    const high = (await create({ event: 'vulnerability_found', method: 'webhook', config: { url: `${plain.url}/vuln-high` }, eventConfig: { level: 'High' } })).body;
    const branch = (await create({ event: 'build_success', method: 'webhook', config: { url: `${plain.url}/build-main` }, eventConfig: { 'ref-regex': 'refs/heads/main' } })).body;
    const some = (await create({ event: 'build_success', method: 'webhook', config: { url: `${plain.url}/build-some` }, eventConfig: { 'ref-regex': 'refs/heads/some' } })).body;
    const seen = plain.received.length;
    // Samples: a Critical vulnerability (passes "High or worse"), a build of refs/heads/somebranch.
    for (const n of [high, branch, some]) await admin.ok('POST', `${repoPath}/notification/${n.uuid}/test`);
    await plain.waitFor(seen + 2);
    await sleep(1000);
    const paths = plain.received
      .slice(seen)
      .map((r) => r.path)
      .sort();
    expect(paths).toEqual(['/build-some', '/vuln-high']);
    const vuln = JSON.parse(plain.received.slice(seen).find((r) => r.path === '/vuln-high')!.body);
    expect(vuln.vulnerability.priority).toBe('Critical');
    for (const n of [high, branch, some]) await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
  });

  test('audit logs and metrics', async () => {
    const n = (await create(webhook(`${plain.url}/audit`))).body;
    await admin.ok('POST', `${repoPath}/notification/${n.uuid}`);
    await admin.ok('DELETE', `${repoPath}/notification/${n.uuid}`);
    await sleep(600);
    const logs = (await admin.ok('GET', `${repoPath}/logs`)).logs as Array<{ kind: string; metadata: Record<string, unknown> }>;
    for (const kind of ['add_repo_notification', 'reset_repo_notification', 'delete_repo_notification']) {
      const entry = logs.find((l) => l.kind === kind && l.metadata.notification_id === n.uuid);
      expect(entry?.metadata).toEqual({ repo: 'app', namespace: 'acme', notification_id: n.uuid, event: 'repo_push', method: 'webhook' });
    }
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    expect(metrics).toMatch(/quay_notification_deliveries_total\{method="webhook",outcome="success"\} [1-9]/);
    expect(metrics).toMatch(/quay_notification_deliveries_total\{method="webhook",outcome="failure"\} [1-9]/);
    expect(metrics).toMatch(/quay_notification_delivery_latency_seconds_count\{method="webhook"\} [1-9]/);
    expect(metrics).toMatch(/quay_queue_jobs_total\{queue="notification",outcome="done"\} [1-9]/);
  });

  test('namespace notifications: quota events only, org admins only, delivered from /test', async () => {
    const bad = await admin.post('/organization/acme/notifications', { event: 'repo_push', method: 'webhook', config: { url: `${plain.url}/ns` } });
    expect(bad.status).toBe(400);
    expect(bad.body.error_message).toBe("Invalid event 'repo_push'. Must be one of: quota_error, quota_warning");
    expect((await admin.post('/organization/acme/notifications', { event: 'quota_warning', method: 'pager', config: {} })).body.error_message).toBe(
      "Unknown notification method 'pager'",
    );
    expect((await dev.post('/organization/acme/notifications', { event: 'quota_warning', method: 'webhook', config: { url: `${plain.url}/ns` } })).status).toBe(403);
    const n = (await admin.post('/organization/acme/notifications', { event: 'quota_warning', method: 'webhook', config: { url: `${plain.url}/ns` } })).body;
    expect(n.event).toBe('quota_warning');
    expect((await admin.ok('GET', '/organization/acme/notifications')).notifications.map((x: { uuid: string }) => x.uuid)).toEqual([n.uuid]);
    const seen = plain.received.length;
    await admin.ok('POST', `/organization/acme/notifications/${n.uuid}/test`);
    const got = JSON.parse((await plain.waitFor(seen + 1))[seen].body);
    expect(got).toMatchObject({ namespace: 'acme', homepage: `http://${reg.hostPort}/organization/acme`, threshold_percent: 80, usage_percent: 80 });
    expect((await admin.delete('/organization/acme/notifications/00000000-0000-0000-0000-000000000000')).status).toBe(400);
    await admin.ok('DELETE', `/organization/acme/notifications/${n.uuid}`);
    const mine = await dev.post('/user/namespacenotifications', { event: 'quota_error', method: 'webhook', config: { url: `${plain.url}/user-ns` } });
    expect(mine.status).toBe(201);
    expect((await dev.ok('GET', '/user/namespacenotifications')).notifications).toHaveLength(1);
    expect((await admin.ok('GET', '/user/namespacenotifications')).notifications).toHaveLength(0);
  });
});
