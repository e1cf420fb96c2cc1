/**
 * vulnerability_found end to end: a vulnerable image (built offline with umoci) pushed with podman into the
 * real registry process (Postgres, S3) with the built-in scanner, indexed by the worker, and the events
 * delivered to a real webhook receiver through four notifications whose `level` differ: each receives
 * exactly the findings at or above its level, none below it. The image is pushed before the vulnerability
 * database exists: indexing waits for its first import, so the first-index events are not lost.
 */
import { cpSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { INSECURE, clientSandbox, type ClientSandbox } from '../../setup/tools.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { buildScanImages } from './images.js';

const PRIORITIES = ['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown'];

let reg: RegistryProcess;
let rx: Receiver;
let sb: ClientSandbox;
let admin: Api;
let layout: string;
let osvDir: string;
let osvStaging: string;

beforeAll(async () => {
  sb = clientSandbox('scan-events');
  layout = await buildScanImages(sb);
  // The database directory appears only after the push, whole (a rename), so no import sees half of it.
  const osvRoot = workDir('scan-events-osv');
  osvDir = join(osvRoot, 'db');
  osvStaging = join(osvRoot, 'staging');
  mkdirSync(osvStaging, { recursive: true });
  for (const id of ['DSA-5343-1', 'DSA-5218-1', 'GHSA-35jh-r3h4-6jhm', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-j8r2-6x86-q33q']) {
    cpSync(join(REPO_ROOT, 'test/fixtures/osv', `${id}.json`), join(osvStaging, `${id}.json`));
  }
  rx = await startReceiver({ host: '127.0.0.5' });
  reg = await startRegistry({
    label: 'scan-events',
    config: await scaleOutConfig({
      FEATURE_SECURITY_SCANNER: true,
      SECURITY_SCANNER_INDEXING_INTERVAL: 1,
      SECURITY_SCANNER_OSV_DB_PATH: osvDir,
      // Events for every finding of Low and above on a manifest's first index.
      NOTIFICATION_MIN_SEVERITY_ON_NEW_INDEX: 'Low',
      SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'],
    }),
  });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  await sb.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
});

afterAll(async () => {
  await reg?.stop();
  await rx?.close();
});

test('a push of a vulnerable image fires vulnerability_found for each notification level at or below the finding', async () => {
  await admin.ok('POST', '/repository', { namespace: 'admin', repository: 'vuln', visibility: 'private', description: '' });
  const levels: Record<string, string | undefined> = { critical: 'Critical', high: 'High', medium: 'Medium', all: undefined };
  for (const [path, level] of Object.entries(levels)) {
    await admin.ok('POST', '/repository/admin/vuln/notification/', {
      event: 'vulnerability_found',
      method: 'webhook',
      config: { url: `${rx.url}/${path}` },
      eventConfig: level ? { level } : {},
      title: path,
    });
  }
  await sb.run('skopeo', ['copy', `oci:${layout}:debian`, 'containers-storage:localhost/vuln:debian']);
  await sb.run('podman', ['push', ...INSECURE.podman, 'localhost/vuln:debian', `docker://${reg.hostPort}/admin/vuln:debian`]);
  const tags = (await admin.ok('GET', '/repository/admin/vuln/tag/?onlyActiveTags=true')) as { tags: Array<{ name: string; manifest_digest: string }> };
  const digest = tags.tags[0].manifest_digest;

  // Three indexing intervals without a database: the manifest is not indexed against an empty one.
  await sleep(3000);
  const waiting = (await admin.ok('GET', `/repository/admin/vuln/manifest/${digest}/security`)) as { status: string };
  expect(waiting.status).toBe('queued');
  renameSync(osvStaging, osvDir);

  let report: any;
  const end = Date.now() + 90_000;
  for (;;) {
    report = await admin.ok('GET', `/repository/admin/vuln/manifest/${digest}/security?vulnerabilities=true`);
    if (report.status === 'scanned') break;
    if (Date.now() > end) throw new Error(`not scanned: ${JSON.stringify(report)}`);
    await sleep(250);
  }
  // What the scan found, by advisory: the events each notification must get follow from it.
  const found = new Map<string, string>();
  for (const f of report.data.Layer.Features) for (const v of f.Vulnerabilities) found.set(v.Name, v.Severity);
  const wanted = (level: string | undefined) =>
    [...found]
      .filter(([, sev]) => PRIORITIES.indexOf(sev) <= PRIORITIES.indexOf('Low') && (level === undefined || PRIORITIES.indexOf(sev) <= PRIORITIES.indexOf(level)))
      .map(([id]) => id)
      .sort();
  // The fixtures give one High (lodash), two Medium (semver, requests) and Debian advisories without a severity.
  expect(wanted('High')).toEqual(['GHSA-35jh-r3h4-6jhm']);
  expect(wanted('Medium')).toEqual(['GHSA-35jh-r3h4-6jhm', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-j8r2-6x86-q33q']);
  expect(wanted('Critical')).toEqual([]);

  const total = Object.values(levels).reduce((n, l) => n + wanted(l).length, 0);
  await rx.waitFor(total, 60_000);
  await sleep(3000);
  for (const [path, level] of Object.entries(levels)) {
    const got = rx.received.filter((r) => r.path === `/${path}`).map((r) => JSON.parse(r.body));
    expect({ path, ids: got.map((b) => b.vulnerability.id).sort() }).toEqual({ path, ids: wanted(level) });
    for (const b of got) {
      expect(b).toMatchObject({
        repository: 'admin/vuln',
        namespace: 'admin',
        name: 'vuln',
        tags: ['debian'],
        vulnerable_index_report_created: 'true',
        vulnerability: { id: expect.any(String), priority: found.get(b.vulnerability.id), has_fix: true, link: expect.stringContaining('https://osv.dev/vulnerability/') },
      });
    }
  }
  expect(rx.received).toHaveLength(total);
});
