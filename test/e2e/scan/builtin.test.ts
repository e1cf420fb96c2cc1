/**
 * The built-in scanner end to end on the real registry process (Postgres, S3): images built offline with
 * umoci, pushed with podman and skopeo, indexed by the worker, read back through the REST API in Quay's
 * exact shape, with the OSV database imported from a directory and updated by re-import.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { INSECURE, clientSandbox, type ClientSandbox } from '../../setup/tools.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { buildScanImages } from './images.js';
import { OCI_INDEX, OCI_MANIFEST, V2Client, randomBlob } from '../../helpers/v2.js';

let reg: RegistryProcess;
let sb: ClientSandbox;
let layout: string;
let osvDir: string;
let config: Record<string, unknown>;
let admin: Api;

async function security(repo: string, digest: string): Promise<{ status: string; data: any }> {
  const r = await admin.get(`/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`);
  expect(r.status).toBe(200);
  return r.body as { status: string; data: any };
}

async function start(label: string, cfg: Record<string, unknown>): Promise<void> {
  reg = await startRegistry({ label, config: cfg });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
}

const pushCreds = (): string => `${reg.admin.username}:${reg.admin.password}`;

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function layoutDigest(tag: string): string {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  return index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!.digest;
}

function layersOf(digest: string): string[] {
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.split(':')[1]), 'utf8')) as { layers: Array<{ digest: string }> };
  return m.layers.map((l) => l.digest);
}

beforeAll(async () => {
  sb = clientSandbox('scan-e2e');
  layout = await buildScanImages(sb);
  osvDir = workDir('scan-osv');
  mkdirSync(osvDir, { recursive: true });
  for (const id of ['DSA-5343-1', 'DSA-5139-1', 'DSA-5218-1', 'GHSA-jf85-cpcp-j695', 'GHSA-35jh-r3h4-6jhm', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-j8r2-6x86-q33q', 'GHSA-v845-jxx5-vc9f']) {
    cpSync(join(REPO_ROOT, 'test/fixtures/osv', `${id}.json`), join(osvDir, `${id}.json`));
  }
  config = await scaleOutConfig({
    SUPER_USERS: ['admin'],
    FEATURE_SECURITY_SCANNER: true,
    // first start: the API answers, nothing is indexed yet (every manifest stays `queued`)
    SECURITY_SCANNER_V4_INDEXING: false,
    SECURITY_SCANNER_INDEXING_INTERVAL: 1,
    SECURITY_SCANNER_OSV_DB_PATH: osvDir,
  });
  await start('scan-e2e', config);
  await sb.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
});

afterAll(async () => {
  await reg?.stop();
});

test('push → queued → scanned; /security in Quay shape key by key; whiteouts; apk', async () => {
  const alpine = layoutDigest('alpine');
  // podman: from the OCI layout into its store, then push
  await sb.run('skopeo', ['copy', `oci:${layout}:debian`, 'containers-storage:localhost/scanme:debian']);
  await sb.run('podman', ['push', ...INSECURE.podman, 'localhost/scanme:debian', `docker://${reg.hostPort}/admin/scanme:debian`]);
  await sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', pushCreds(), `oci:${layout}:alpine`, `docker://${reg.hostPort}/admin/scanme:alpine`]);

  const tags = (await admin.get('/repository/admin/scanme/tag/?onlyActiveTags=true')).body as { tags: Array<{ name: string; manifest_digest: string }> };
  const pushedDebian = tags.tags.find((t) => t.name === 'debian')!.manifest_digest;
  expect(tags.tags.find((t) => t.name === 'alpine')!.manifest_digest).toBe(alpine);
  expect(await security('admin/scanme', pushedDebian)).toEqual({ status: 'queued', data: null });
  expect(await security('admin/scanme', alpine)).toEqual({ status: 'queued', data: null });

  // second start on the same database and storage, with indexing on
  await reg.stop();
  await start('scan-e2e-2', { ...config, SECURITY_SCANNER_V4_INDEXING: true });
  const report = await until('debian scanned', async () => {
    const s = await security('admin/scanme', pushedDebian);
    return s.status === 'scanned' ? s : null;
  });
  expect(Object.keys(report)).toEqual(['status', 'data']);
  expect(Object.keys(report.data)).toEqual(['Layer']);
  expect(Object.keys(report.data.Layer)).toEqual(['Name', 'ParentName', 'NamespaceName', 'IndexedByVersion', 'Features']);
  expect(report.data.Layer).toMatchObject({ Name: pushedDebian, ParentName: '', NamespaceName: '', IndexedByVersion: 4 });
  const features = report.data.Layer.Features as Array<Record<string, any>>;
  for (const f of features) {
    expect(Object.keys(f)).toEqual(['Name', 'VersionFormat', 'NamespaceName', 'AddedBy', 'Version', 'BaseScores', 'CVEIds', 'Vulnerabilities']);
    for (const v of f.Vulnerabilities) {
      expect(Object.keys(v)).toEqual(['Severity', 'NamespaceName', 'Link', 'FixedBy', 'Description', 'Name', 'Metadata']);
      expect(Object.keys(v.Metadata)).toEqual(['UpdatedBy', 'RepoName', 'RepoLink', 'DistroName', 'DistroVersion', 'NVD']);
      expect(Object.keys(v.Metadata.NVD.CVSSv3)).toEqual(['Vectors', 'Score']);
    }
  }
  // podman may recompress, so layer digests are read from what was pushed
  const pushed = JSON.parse((await admin.get(`/repository/admin/scanme/manifest/${pushedDebian}`)).body.manifest_data) as { layers: Array<{ digest: string }> };
  const [base, app] = pushed.layers.map((l) => l.digest);
  const byName = Object.fromEntries(features.map((f) => [f.Name, f]));
  expect(Object.keys(byName).sort()).toEqual(['base-files', 'libssl1.1', 'lodash', 'openssl', 'requests', 'semver', 'zlib1g']);
  expect(byName['libssl1.1']).toMatchObject({ Version: '1.1.1n-0+deb11u3', AddedBy: base, CVEIds: ['CVE-2022-4304', 'CVE-2022-4450', 'CVE-2023-0215', 'CVE-2023-0286'] });
  expect(byName['libssl1.1'].Vulnerabilities.map((v: any) => [v.Name, v.FixedBy, v.NamespaceName])).toEqual([['DSA-5343-1', '1.1.1n-0+deb11u4', 'osv/Debian:11']]);
  expect(byName.zlib1g.Vulnerabilities[0]).toMatchObject({
    Name: 'DSA-5218-1',
    FixedBy: '1:1.2.11.dfsg-2+deb11u2',
    Metadata: { DistroName: 'Debian GNU/Linux', DistroVersion: '11' },
  });
  expect(byName.lodash).toMatchObject({ AddedBy: app, BaseScores: [7.2], CVEIds: ['CVE-2021-23337'] });
  expect(byName.lodash.Vulnerabilities[0]).toEqual({
    Severity: 'High',
    NamespaceName: 'osv/npm',
    Link: 'https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm https://nvd.nist.gov/vuln/detail/CVE-2021-23337',
    FixedBy: '4.17.21',
    Description: 'Command Injection in lodash',
    Name: 'GHSA-35jh-r3h4-6jhm',
    Metadata: {
      UpdatedBy: 'osv/npm',
      RepoName: null,
      RepoLink: null,
      DistroName: null,
      DistroVersion: null,
      NVD: { CVSSv3: { Vectors: 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', Score: 7.2 } },
    },
  });
  expect(byName.semver.Vulnerabilities.map((v: any) => [v.Name, v.FixedBy, v.Severity])).toEqual([['GHSA-c2qf-rxjj-qqgw', '7.5.2', 'Medium']]);
  expect(byName.requests.Vulnerabilities.map((v: any) => v.Name)).toEqual(['GHSA-j8r2-6x86-q33q']);
  // urllib3 1.26.5 is affected by GHSA-v845-jxx5-vc9f, but the top layer's whiteout deleted it
  expect(byName.urllib3).toBeUndefined();
  expect(byName['base-files'].Vulnerabilities).toEqual([]);

  const alpineReport = await until('alpine scanned', async () => {
    const s = await security('admin/scanme', alpine);
    return s.status === 'scanned' ? s : null;
  });
  const apk = Object.fromEntries((alpineReport.data.Layer.Features as any[]).map((f) => [f.Name, f]));
  expect(Object.keys(apk).sort()).toEqual(['libcrypto3', 'libssl3', 'musl']);
  // ALPINE-CVE-2023-0286 is not in the database yet
  expect(apk.libssl3.Vulnerabilities).toEqual([]);
  expect(layersOf(alpine)).toEqual([alpineReport.data.Layer.Features[0].AddedBy]);

  // A new advisory: re-import picks it up for the already-scanned manifest
  cpSync(join(REPO_ROOT, 'test/fixtures/osv/ALPINE-CVE-2023-0286.json'), join(osvDir, 'ALPINE-CVE-2023-0286.json'));
  const updated = await until('new advisory applied', async () => {
    const s = await security('admin/scanme', alpine);
    const f = (s.data?.Layer.Features as any[] | undefined)?.find((x) => x.Name === 'libssl3');
    return f?.Vulnerabilities.length ? f : null;
  });
  expect(updated.Vulnerabilities.map((v: any) => [v.Name, v.FixedBy])).toEqual([['ALPINE-CVE-2023-0286', '3.0.8-r0']]);

  const backfill = await (await fetch(`${reg.url}/secscan/_backfill_status`)).json();
  expect(backfill).toEqual({ backfill_percent: 100 });
  const ping = await fetch(`${reg.url}/secscan/_internal_ping`);
  expect([ping.status, await ping.text()]).toEqual([200, 'true']);
});

test('unknown manifest → 404; malformed digest → 400; anonymous on a private repository → 401', async () => {
  const missing = await admin.get(`/repository/admin/scanme/manifest/sha256:${'0'.repeat(64)}/security`);
  expect(missing.status).toBe(404);
  const bad = await admin.get('/repository/admin/scanme/manifest/latest/security');
  expect(bad.status).toBe(400);
  const anon = await fetch(`${reg.url}/api/v1/repository/admin/scanme/manifest/sha256:${'0'.repeat(64)}/security`);
  expect(anon.status).toBe(401);
});

test('a garbage package database makes the manifest `failed`; the worker carries on', async () => {
  const dir = workDir('scan-bad');
  const garbage = join(dir, 'garbage');
  mkdirSync(join(garbage, 'var/lib/dpkg'), { recursive: true });
  writeFileSync(join(garbage, 'var/lib/dpkg/status'), 'Package: x\nVersion: 1\n\x00\x01 not a field line\n');
  const bad = join(dir, 'layout');
  await sb.run('umoci', ['init', '--layout', bad]);
  await sb.run('umoci', ['new', '--image', `${bad}:garbage`]);
  await sb.run('umoci', ['insert', '--image', `${bad}:garbage`, garbage, '/']);
  await sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', pushCreds(), `oci:${bad}:garbage`, `docker://${reg.hostPort}/admin/bad:garbage`]);
  const digest = JSON.parse(readFileSync(join(bad, 'index.json'), 'utf8')).manifests[0].digest as string;
  const s = await until('garbage failed', async () => {
    const r = await security('admin/bad', digest);
    return r.status !== 'queued' ? r : null;
  });
  expect(s).toEqual({ status: 'failed', data: null });
  // the worker is still alive: a good image pushed afterwards is scanned
  await sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', pushCreds(), `oci:${layout}:alpine`, `docker://${reg.hostPort}/admin/bad:alpine`]);
  await until('alpine scanned after the failure', async () => (await security('admin/bad', layoutDigest('alpine'))).status === 'scanned');
});

test('a layer that is not a tarball is `failed`; a manifest list is `unsupported` and each child is scanned on its own', async () => {
  const v2 = V2Client.basic(reg);
  const junk = await v2.pushImage('admin/lists', 'junk', { layers: [randomBlob(4096)] });
  const alpineLayers = layersOf(layoutDigest('alpine'));
  await sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', pushCreds(), `oci:${layout}:alpine`, `docker://${reg.hostPort}/admin/lists:alpine`]);
  const alpine = layoutDigest('alpine');
  const size = (d: string) => readFileSync(join(layout, 'blobs', 'sha256', d.split(':')[1])).length;
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: alpine, size: size(alpine), platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: OCI_MANIFEST, digest: junk.digest, size: junk.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
    ],
  };
  const put = await v2.pushManifest('admin/lists', 'multi', index, OCI_INDEX);
  expect(put.status).toBe(201);
  const listDigest = put.headers.get('docker-content-digest')!;
  const settled = async (d: string) =>
    until(`${d} settled`, async () => {
      const s = await security('admin/lists', d);
      return s.status !== 'queued' ? s : null;
    });
  expect(await settled(listDigest)).toEqual({ status: 'unsupported', data: null });
  expect(await settled(junk.digest)).toEqual({ status: 'failed', data: null });
  const child = await settled(alpine);
  expect(child.status).toBe('scanned');
  expect(child.data.Layer.Features.map((f: any) => f.AddedBy)).toEqual([alpineLayers[0], alpineLayers[0], alpineLayers[0]]);

  // The summaries of several manifests in one request (the UI's Tags list) agree with each one's report.
  const unknown = `sha256:${'0'.repeat(64)}`;
  const summaries = await admin.get(`/repository/admin/lists/security?digests=${[listDigest, junk.digest, alpine, unknown, alpine].join(',')}`);
  expect(summaries.status).toBe(200);
  const perSeverity: Record<string, number> = {};
  for (const f of child.data.Layer.Features) for (const v of f.Vulnerabilities) perSeverity[v.Severity] = (perSeverity[v.Severity] ?? 0) + 1;
  expect(summaries.body).toEqual({
    manifests: {
      [listDigest]: { status: 'unsupported' },
      [junk.digest]: { status: 'failed' },
      [alpine]: { status: 'scanned', vulnerabilities: perSeverity, fixable: child.data.Layer.Features.flatMap((f: any) => f.Vulnerabilities).filter((v: any) => v.FixedBy).length },
    },
  });
  for (const bad of ['', 'latest', `${alpine},not-a-digest`, Array.from({ length: 201 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`).join(',')]) {
    const r = await admin.get(`/repository/admin/lists/security?digests=${bad}`);
    expect([r.status, r.body.error_message]).toEqual([400, expect.any(String)]);
  }
  expect((await fetch(`${reg.url}/api/v1/repository/admin/lists/security?digests=${alpine}`)).status).toBe(401);
});
