/**
 * The rpm detector on a real rpmdb: packages built with Debian's `rpmbuild`, recorded with `rpm -i --justdb`
 * into a fresh sqlite rpmdb (`rpm --initdb`, the format RHEL 9 / AlmaLinux images carry at
 * /var/lib/rpm/rpmdb.sqlite), put in an image layer beside an AlmaLinux os-release and indexed; then the
 * same layer pushed to a registry process (Postgres, S3) whose OSV database holds AlmaLinux's ALSA-2023:1405,
 * which the installed openssl-libs is older than: the finding comes out of /security in Quay's shape.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import tar from 'tar-stream';
import { runTool } from '../../setup/tools.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { indexImage } from '../../../registry/scan/indexer.js';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, blobOf } from '../../helpers/v2.js';
import { signin } from '../api/fixture.js';

interface Rpm {
  name: string;
  epoch?: number;
  version: string;
  release: string;
  arch: string;
}

const RPMS: Rpm[] = [
  { name: 'openssl-libs', epoch: 1, version: '1.1.1k', release: '7.el8_6', arch: 'x86_64' },
  { name: 'curl', version: '7.61.1', release: '25.el8', arch: 'x86_64' },
  { name: 'tzdata', version: '2022a', release: '1.el8', arch: 'noarch' },
];

/** A package without files: rpmbuild writes the header the rpmdb stores. */
async function buildRpm(top: string, p: Rpm): Promise<string> {
  const spec = join(top, `${p.name}.spec`);
  writeFileSync(
    spec,
    [
      `Name: ${p.name}`,
      ...(p.epoch !== undefined ? [`Epoch: ${p.epoch}`] : []),
      `Version: ${p.version}`,
      `Release: ${p.release}`,
      'Summary: test package',
      'License: MIT',
      `BuildArch: ${p.arch}`,
      '%description',
      'A package for the rpm detector test.',
      '%files',
      '',
    ].join('\n'),
  );
  await runTool('rpmbuild', ['-bb', '--define', `_topdir ${top}`, '--define', '_build_id_links none', '--target', `${p.arch}-redhat-linux`, spec]);
  const dir = join(top, 'RPMS', p.arch);
  const file = readdirSync(dir).find((f) => f.startsWith(`${p.name}-${p.version}-${p.release}`));
  if (!file) throw new Error(`rpmbuild wrote no ${p.name} package into ${dir}`);
  return join(dir, file);
}

async function layerOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const OS_RELEASE = 'NAME="AlmaLinux"\nVERSION="8.7 (Stone Smilodon)"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.7"\n';
let layer: Buffer;

beforeAll(async () => {
  const dir = workDir('rpmdb');
  const top = join(dir, 'rpmbuild');
  mkdirSync(top, { recursive: true });
  const files = [];
  for (const p of RPMS) files.push(await buildRpm(top, p));
  const root = join(dir, 'root');
  const dbpath = join(root, 'var/lib/rpm');
  mkdirSync(dbpath, { recursive: true });
  await runTool('rpm', ['--dbpath', dbpath, '--define', '_db_backend sqlite', '--initdb']);
  await runTool('rpm', ['--dbpath', dbpath, '--define', '_db_backend sqlite', '-i', '--justdb', '--nodeps', '--noscripts', '--ignorearch', '--ignoreos', ...files]);
  const listed = (await runTool('rpm', ['--dbpath', dbpath, '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\\n'])).stdout.trim().split('\n').sort();
  expect(listed).toEqual(['curl 0:7.61.1-25.el8 x86_64', 'openssl-libs 1:1.1.1k-7.el8_6 x86_64', 'tzdata 0:2022a-1.el8 noarch']);
  const sqlite = readFileSync(join(dbpath, 'rpmdb.sqlite'));
  expect(sqlite.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
  layer = await layerOf({ 'etc/os-release': OS_RELEASE, 'var/lib/rpm/rpmdb.sqlite': sqlite });
});

test('packages installed with rpm into an sqlite rpmdb are found with epoch, version, release and arch', async () => {
  const report = await indexImage([{ digest: 'sha256:rpmlayer', open: async () => Readable.from([layer]) }]);
  expect(report.distribution).toMatchObject({ did: 'almalinux', versionId: '8.7' });
  const found = report.packages.map((p) => ({ name: p.name, version: p.version, arch: p.arch, ecosystem: p.ecosystem, packageDb: p.packageDb, addedBy: p.addedBy }));
  expect(found.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
    { name: 'curl', version: '7.61.1-25.el8', arch: 'x86_64', ecosystem: 'AlmaLinux:8', packageDb: 'var/lib/rpm/rpmdb.sqlite', addedBy: 'sha256:rpmlayer' },
    { name: 'openssl-libs', version: '1:1.1.1k-7.el8_6', arch: 'x86_64', ecosystem: 'AlmaLinux:8', packageDb: 'var/lib/rpm/rpmdb.sqlite', addedBy: 'sha256:rpmlayer' },
    { name: 'tzdata', version: '2022a-1.el8', arch: 'noarch', ecosystem: 'AlmaLinux:8', packageDb: 'var/lib/rpm/rpmdb.sqlite', addedBy: 'sha256:rpmlayer' },
  ]);
});

describe('an AlmaLinux advisory on the rpm image, through the registry', () => {
  let reg: RegistryProcess;

  beforeAll(async () => {
    const osvDir = workDir('rpm-osv');
    mkdirSync(osvDir, { recursive: true });
    cpSync(join(REPO_ROOT, 'test/fixtures/osv/ALSA-2023-1405.json'), join(osvDir, 'ALSA-2023-1405.json'));
    // an advisory of another ecosystem for the same software stays out of the report
    cpSync(join(REPO_ROOT, 'test/fixtures/osv/DSA-5343-1.json'), join(osvDir, 'DSA-5343-1.json'));
    const config = await scaleOutConfig({ SUPER_USERS: ['admin'], FEATURE_SECURITY_SCANNER: true, SECURITY_SCANNER_INDEXING_INTERVAL: 1, SECURITY_SCANNER_OSV_DB_PATH: osvDir });
    reg = await startRegistry({ label: 'rpm-alsa', config });
  });

  afterAll(async () => {
    await reg?.stop();
  });

  test("ALSA-2023:1405 is found on openssl-libs 1:1.1.1k-7.el8_6 and reported in Quay's shape", async () => {
    const gz = blobOf(gzipSync(layer));
    const pushed = await V2Client.basic(reg).pushImage('admin/alma', '8.7', { layers: [gz] });
    const admin = await signin(reg, reg.admin.username, reg.admin.password);
    let report: { status: string; data: any } = { status: '', data: null };
    for (const end = Date.now() + 120_000; report.status !== 'scanned'; await sleep(250)) {
      const r = await admin.get(`/repository/admin/alma/manifest/${pushed.digest}/security?vulnerabilities=true`);
      expect(r.status).toBe(200);
      report = r.body;
      if (report.status === 'failed' || Date.now() > end) throw new Error(`not scanned: ${JSON.stringify(report)}\n${reg.output().slice(-3000)}`);
    }
    const features = report.data.Layer.Features as Array<Record<string, any>>;
    expect(features.map((f) => [f.Name, f.Version]).sort()).toEqual([
      ['curl', '7.61.1-25.el8'],
      ['openssl-libs', '1:1.1.1k-7.el8_6'],
      ['tzdata', '2022a-1.el8'],
    ]);
    const openssl = features.find((f) => f.Name === 'openssl-libs')!;
    expect(openssl).toEqual({
      Name: 'openssl-libs',
      VersionFormat: '',
      NamespaceName: '',
      AddedBy: gz.digest,
      Version: '1:1.1.1k-7.el8_6',
      BaseScores: [],
      CVEIds: ['CVE-2022-4304', 'CVE-2022-4450', 'CVE-2023-0215', 'CVE-2023-0286'],
      Vulnerabilities: [
        {
          Severity: 'Unknown',
          NamespaceName: 'osv/AlmaLinux:8',
          Link: 'https://osv.dev/vulnerability/ALSA-2023:1405 https://errata.almalinux.org/8/ALSA-2023-1405.html',
          FixedBy: '1:1.1.1k-9.el8_7',
          Description: 'Important: openssl security and bug fix update',
          Name: 'ALSA-2023:1405',
          Metadata: {
            UpdatedBy: 'osv/AlmaLinux:8',
            RepoName: null,
            RepoLink: null,
            DistroName: 'AlmaLinux',
            DistroVersion: '8.7',
            NVD: { CVSSv3: { Vectors: '', Score: '' } },
          },
        },
      ],
    });
    for (const f of features.filter((x) => x.Name !== 'openssl-libs')) expect(f.Vulnerabilities).toEqual([]);
  });
});
