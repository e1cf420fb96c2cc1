/**
 * The repository page's feature tabs in the browser, on Postgres and S3 with the features on: Settings →
 * Events and notifications (a webhook created, tested against a real receiver, deleted), Settings →
 * Repository state and the Mirroring tab (configuration saved, Sync Now, Cancel), and security scanning
 * (an image pushed with skopeo, scanned by the built-in scanner against OSV fixtures, its Security column
 * and Security Report compared with the API's report). Every step is checked through the API; axe runs on
 * each view.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { clientSandbox, INSECURE } from '../../setup/tools.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { buildScanImages } from '../scan/images.js';
import { launchBrowser, UiSession } from './browser.js';

let reg: RegistryProcess;
let browser: Browser;
let admin: Api;
let receiver: Receiver;

const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'];

beforeAll(async () => {
  // Webhooks go to a real receiver on an address the SSRF guard is told to allow; so does the mirror's source.
  receiver = await startReceiver({ host: '127.0.0.5' });
  const osvDir = workDir('ui-repo-features-osv');
  mkdirSync(osvDir, { recursive: true });
  for (const id of ['DSA-5343-1', 'DSA-5218-1', 'GHSA-jf85-cpcp-j695', 'GHSA-35jh-r3h4-6jhm', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-j8r2-6x86-q33q']) {
    cpSync(join(REPO_ROOT, 'test/fixtures/osv', `${id}.json`), join(osvDir, `${id}.json`));
  }
  const config = await scaleOutConfig({
    SUPER_USERS: ['admin'],
    SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'],
    FEATURE_REPO_MIRROR: true,
    FEATURE_SECURITY_SCANNER: true,
    SECURITY_SCANNER_INDEXING_INTERVAL: 1,
    SECURITY_SCANNER_OSV_DB_PATH: osvDir,
  });
  [reg, browser] = await Promise.all([startRegistry({ label: 'ui-repo-features', config }), launchBrowser()]);
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'mirrored', visibility: 'private', description: '' });
  await admin.ok('PUT', '/organization/acme/robots/mirrorbot', { description: 'pushes the mirror' });
});
afterAll(async () => {
  await browser?.close();
  await reg?.stop();
  await receiver?.close();
});

async function kebab(page: Page, testId: string, rowText: string, action: string): Promise<void> {
  await page.getByTestId(testId).filter({ hasText: rowText }).getByRole('button', { name: 'Kebab toggle' }).click();
  await page.getByRole('menuitem', { name: action }).click();
}

test('Settings → Events and notifications: create a webhook, test it against a receiver, delete it', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/app?tab=settings');
  await page.getByRole('heading', { name: 'Events and notifications' }).waitFor();
  await page.getByRole('button', { name: 'Create notification' }).click();
  const dialog = page.getByRole('dialog');
  // Only the events of features that are on: mirroring and scanning here, no builds.
  const events = await dialog.getByLabel('When this event occurs').locator('option').allInnerTexts();
  expect(events).toEqual(expect.arrayContaining(['Push to Repository', 'Package Vulnerability Found', 'Repository mirror started', 'Image expiry trigger']));
  expect(events.some((e) => e.startsWith('Image build'))).toBe(false);
  await dialog.getByLabel('When this event occurs').selectOption('repo_push');
  await dialog.getByLabel('Then issue a notification').selectOption('webhook');
  await dialog.getByLabel('Webhook URL').fill(`${receiver.url}/hook`);
  await dialog.getByLabel('Title (optional)').fill('CI hook');
  await ui.expectAccessible('create notification');
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await ui.toast('Created notification');
  const row = page.getByTestId('notification-entry').filter({ hasText: 'CI hook' });
  await row.getByText('Webhook POST').waitFor();
  await row.getByText('Enabled').waitFor();
  const [created] = (await admin.ok('GET', '/repository/acme/app/notification/')).notifications;
  expect(created).toMatchObject({ title: 'CI hook', event: 'repo_push', method: 'webhook', config: { url: `${receiver.url}/hook` }, number_of_failures: 0 });
  await ui.expectAccessible('repository settings with notifications');
  await ui.screenshot('repository-notifications');

  await kebab(page, 'notification-entry', 'CI hook', 'Test Notification');
  await ui.toast(/Test notification of CI hook queued/);
  const [delivery] = await receiver.waitFor(1);
  expect(delivery).toMatchObject({ method: 'POST', path: '/hook' });
  expect(JSON.parse(delivery.body)).toMatchObject({ updated_tags: ['latest', 'foo'] });

  await kebab(page, 'notification-entry', 'CI hook', 'Delete Notification');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete Notification' }).click();
  await ui.toast('Deleted notification CI hook');
  await page.getByText('No notifications').waitFor();
  expect((await admin.ok('GET', '/repository/acme/app/notification/')).notifications).toEqual([]);
  expect(ui.problems).toEqual([]);
  await ui.close();
});

test('Mirroring: the state set in Settings, the configuration saved, Sync Now and Cancel', async () => {
  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  await ui.goto('/repository/acme/mirrored?tab=mirroring');
  await page.getByRole('heading', { name: 'This repository is not a mirror' }).waitFor();
  await ui.expectAccessible('mirroring hint');
  await page.getByRole('link', { name: 'Settings' }).click();
  // The radio follows the repository's state, which changes once the server has answered.
  await page.getByLabel('Mirror', { exact: true }).click();
  await page.getByLabel('Mirror', { exact: true }).and(page.locator(':checked')).waitFor();
  await ui.toast('acme/mirrored is now in state Mirror');
  expect((await admin.ok('GET', '/repository/acme/mirrored')).state).toBe('MIRROR');

  await page.getByRole('tab', { name: 'Mirroring' }).click();
  await page.getByRole('heading', { name: 'Set up mirroring' }).waitFor();
  await page.locator('#mirror-location').fill('127.0.0.5:5000/library/busybox');
  await page.locator('#mirror-tags').fill('latest, 1.*');
  await page.locator('#mirror-start').fill('2030-01-02T03:04');
  await page.locator('#mirror-interval').fill('6');
  await page.getByLabel('Sync interval unit').selectOption({ label: 'hours' });
  await page.locator('#mirror-robot').selectOption('acme+mirrorbot');
  await page.locator('#mirror-username').fill('puller');
  await page.locator('#mirror-password').fill('upstream-secret');
  await page.getByRole('button', { name: 'Advanced Settings' }).click();
  await page.getByLabel('Verify TLS').uncheck();
  await ui.expectAccessible('mirroring form');
  await page.getByRole('button', { name: 'Enable Mirror' }).click();
  await ui.toast('Mirror configuration created');
  await page.getByTestId('mirror-status').getByText('Never run').waitFor();
  const startDate = await page.evaluate(() => new Date('2030-01-02T03:04').toISOString().replace(/\.\d{3}Z$/, 'Z'));
  expect(await admin.ok('GET', '/repository/acme/mirrored/mirror')).toMatchObject({
    is_enabled: true,
    external_reference: '127.0.0.5:5000/library/busybox',
    external_registry_username: 'puller',
    external_registry_config: { verify_tls: false, unsigned_images: false },
    sync_interval: 6 * 3600,
    sync_start_date: startDate,
    root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['latest', '1.*'] },
    robot_username: 'acme+mirrorbot',
    sync_status: 'NEVER_RUN',
  });
  await page.getByTestId('mirror-status').scrollIntoViewIfNeeded();
  await ui.screenshot('repository-mirroring');

  // An update keeps the stored password when none is typed.
  await page.locator('#mirror-tags').fill('latest');
  await page.getByRole('button', { name: 'Update Mirror' }).click();
  await ui.toast('Mirror configuration updated');
  const updated = await admin.ok('GET', '/repository/acme/mirrored/mirror');
  expect(updated.root_rule.rule_value).toEqual(['latest']);
  expect(updated.external_registry_username).toBe('puller');
  const logs = (await admin.ok('GET', '/repository/acme/mirrored/logs')).logs as { kind: string; metadata: { changed?: string } }[];
  expect(logs.filter((l) => l.kind === 'repo_mirror_config_changed').map((l) => l.metadata.changed)).not.toContain('external_registry_password');

  await page.getByRole('button', { name: 'Sync Now' }).click();
  await ui.toast('Sync requested');
  await page.getByTestId('mirror-status').getByText('Sync requested').waitFor();
  expect((await admin.ok('GET', '/repository/acme/mirrored/mirror')).sync_status).toBe('SYNC_NOW');
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await ui.toast('Sync cancelled');
  expect((await admin.ok('GET', '/repository/acme/mirrored/mirror')).sync_status).not.toMatch(/^SYNC(_NOW|ING)$/);
  await ui.expectAccessible('mirroring status');
  expect(ui.problems).toEqual([]);
  await ui.close();
});

interface Report {
  status: string;
  data: { Layer: { Features: { Name: string; AddedBy: string; Vulnerabilities: { Name: string; Severity: string; FixedBy: string }[] }[] } } | null;
}

test('Security: the Tags column and the Security Report show the scanner report of a pushed image', async () => {
  const sb = clientSandbox('ui-scan');
  const layout = await buildScanImages(sb);
  await sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', `admin:${reg.admin.password}`, `oci:${layout}:debian`, `docker://${reg.hostPort}/acme/app:debian`]);
  const digest = ((await admin.ok('GET', '/repository/acme/app/tag/?specificTag=debian')).tags[0] as { manifest_digest: string }).manifest_digest;

  // A second image and a second tag on the first: three rows, two manifests.
  await sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', `admin:${reg.admin.password}`, `oci:${layout}:alpine`, `docker://${reg.hostPort}/acme/app:alpine`]);
  await admin.ok('PUT', '/repository/acme/app/tag/debian-copy', { manifest_digest: digest });
  const alpine = ((await admin.ok('GET', '/repository/acme/app/tag/?specificTag=alpine')).tags[0] as { manifest_digest: string }).manifest_digest;

  const ui = await UiSession.open(browser, reg);
  const { page } = ui;
  await ui.signIn('admin', reg.admin.password);
  // No request per row: the Security column of the whole page comes from one request.
  const securityRequests: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (/\/security$/.test(u.pathname)) securityRequests.push(`${u.pathname}?${u.searchParams.toString()}`);
  });
  await ui.goto('/repository/acme/app?tab=tags');
  const headers = (await page.getByRole('grid', { name: 'Tags' }).locator('thead th').allInnerTexts()).map((h) => h.trim());
  expect(headers).toEqual(expect.arrayContaining(['Tag', 'Security', 'Size']));

  // Wait through the API for the scanner, then the page (which polls queued manifests) shows the result.
  let report: Report;
  for (;;) {
    report = await admin.ok<Report>('GET', `/repository/acme/app/manifest/${digest}/security?vulnerabilities=true`);
    if (report.status !== 'queued') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(report.status).toBe('scanned');
  const found = report.data!.Layer.Features.flatMap((f) => f.Vulnerabilities.map((v) => v.Severity));
  expect(found.length).toBeGreaterThan(0);
  const highest = SEVERITIES.find((s) => found.includes(s))!;
  const row = page.getByTestId('table-entry').filter({ has: page.getByRole('link', { name: 'debian', exact: true }) });
  await row.getByTestId('security-summary').getByText(`${found.length} ${highest}`, { exact: true }).waitFor({ timeout: 60_000 });
  const copyRow = page.getByTestId('table-entry').filter({ has: page.getByRole('link', { name: 'debian-copy', exact: true }) });
  await copyRow.getByTestId('security-summary').getByText(`${found.length} ${highest}`, { exact: true }).waitFor();
  // The alpine row shows what the summaries endpoint says, which agrees with alpine's own report.
  let alpineReport: Report;
  for (;;) {
    alpineReport = await admin.ok<Report>('GET', `/repository/acme/app/manifest/${alpine}/security?vulnerabilities=true`);
    if (alpineReport.status !== 'queued') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const alpineFound = alpineReport.data?.Layer.Features.flatMap((f) => f.Vulnerabilities.map((v) => v.Severity)) ?? [];
  const summaries = await admin.ok<{ manifests: Record<string, { status: string; vulnerabilities?: Record<string, number> }> }>(
    'GET',
    `/repository/acme/app/security?digests=${digest},${alpine}`,
  );
  expect(summaries.manifests[alpine].status).toBe(alpineReport.status);
  expect(Object.values(summaries.manifests[alpine].vulnerabilities ?? {}).reduce((a, n) => a + n, 0)).toBe(alpineFound.length);
  expect(summaries.manifests[digest].vulnerabilities).toEqual(Object.fromEntries(SEVERITIES.filter((s) => found.includes(s)).map((s) => [s, found.filter((x) => x === s).length])));
  const alpineRow = page.getByTestId('table-entry').filter({ has: page.getByRole('link', { name: 'alpine', exact: true }) });
  const alpineText = alpineFound.length ? `${alpineFound.length} ${SEVERITIES.find((s) => alpineFound.includes(s))}` : 'None Detected';
  await alpineRow.locator('td[data-label="Security"]').getByText(alpineText, { exact: true }).waitFor();
  await ui.settle();
  expect(securityRequests.length).toBeGreaterThan(0);
  for (const r of securityRequests) expect(r).toMatch(/^\/api\/v1\/repository\/acme\/app\/security\?digests=/);
  expect(new Set(securityRequests.map((r) => new URL(r, reg.url).searchParams.get('digests')!.split(',').sort().join(','))).size).toBe(1);
  expect(new URL(securityRequests[0], reg.url).searchParams.get('digests')!.split(',').sort()).toEqual([digest, alpine].sort());
  await ui.expectAccessible('tags with security column');
  await ui.screenshot('tags-security');

  await row.getByRole('link', { name: 'debian' }).click();
  await page.getByRole('tab', { name: 'Security Report' }).click();
  await page.getByTestId('vulnerability-total').getByText(`Quay Security Reporting has detected ${found.length} vulnerabilities.`).waitFor();
  // The donut (a lazily loaded chart): the total in its centre, one legend entry per severity found, and the same counts as labels.
  const donut = page.getByTestId('vulnerability-chart').getByRole('img', { name: 'Vulnerabilities by severity' });
  await donut.waitFor();
  expect((await donut.locator('text').allTextContents()).join(' ')).toContain(String(found.length));
  for (const s of SEVERITIES) {
    const n = found.filter((x) => x === s).length;
    if (n) {
      await donut.getByText(`${n} ${s}`, { exact: true }).waitFor();
      await page.getByTestId('vulnerability-labels').getByText(`${n} ${s}`, { exact: true }).waitFor();
    } else expect(await donut.getByText(new RegExp(`^\\d+ ${s}$`)).count()).toBe(0);
  }
  expect(await page.getByTestId('vulnerability-entry').count()).toBe(found.length);
  const lodash = page.getByTestId('vulnerability-entry').filter({ hasText: 'GHSA-35jh-r3h4-6jhm' });
  expect((await lodash.locator('td').allInnerTexts()).map((t) => t.trim()).slice(1)).toEqual(['GHSA-35jh-r3h4-6jhm', 'High', 'lodash', '4.17.20', '4.17.21']);
  await page.getByLabel('Filter vulnerabilities').fill('lodash');
  expect(await page.getByTestId('vulnerability-entry').count()).toBe(report.data!.Layer.Features.find((f) => f.Name === 'lodash')!.Vulnerabilities.length);
  await ui.expectAccessible('security report');
  await ui.screenshot('tag-security-report');

  // Packages: one row per package of the report, its findings, those without a fix, and its layer.
  await page.getByRole('tab', { name: 'Packages' }).click();
  const features = report.data!.Layer.Features;
  await page.getByTestId('package-total').getByText(`recognized ${features.length} packages`).waitFor();
  // Packages by their most severe finding: each package counted once.
  const byHighest = new Map<string, number>();
  for (const f of features) {
    const top = SEVERITIES.find((s) => f.Vulnerabilities.some((v) => v.Severity === s)) ?? 'None';
    byHighest.set(top, (byHighest.get(top) ?? 0) + 1);
  }
  const packageDonut = page.getByTestId('package-chart').getByRole('img', { name: 'Packages by highest severity' });
  for (const [s, n] of byHighest) await packageDonut.getByText(`${n} ${s}`, { exact: true }).waitFor();
  expect(await packageDonut.getByText(/^\d+ (Critical|High|Medium|Low|Negligible|Unknown|None)$/).count()).toBe(byHighest.size);
  expect(await page.getByTestId('package-entry').count()).toBe(features.length);
  const lodashFeature = features.find((f) => f.Name === 'lodash')!;
  const lodashRow = page.getByTestId('package-entry').filter({ has: page.locator('td[data-label="Package Name"]', { hasText: /^lodash$/ }) });
  const unfixed = lodashFeature.Vulnerabilities.filter((v) => !v.FixedBy).length;
  expect((await lodashRow.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([
    'lodash',
    '4.17.20',
    `${lodashFeature.Vulnerabilities.length} High`,
    unfixed ? `${unfixed} High` : 'None',
    lodashFeature.AddedBy.slice(0, 19),
  ]);
  await ui.expectAccessible('packages');
  expect(ui.problems).toEqual([]);
  await ui.close();
}, 600_000);
