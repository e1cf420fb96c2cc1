/**
 * The rpm detector on a real rpmdb: packages built with Debian's `rpmbuild`, recorded with `rpm -i --justdb`
 * into a fresh sqlite rpmdb (`rpm --initdb`, the format RHEL 9 / AlmaLinux images carry at
 * /var/lib/rpm/rpmdb.sqlite), put in an image layer beside an AlmaLinux os-release and indexed.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { runTool } from '../../setup/tools.js';
import { workDir } from '../../setup/paths.js';
import { indexImage } from '../../../registry/scan/indexer.js';

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

test('packages installed with rpm into an sqlite rpmdb are found with epoch, version, release and arch', async () => {
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

  const layer = await layerOf({
    'etc/os-release': 'NAME="AlmaLinux"\nVERSION="8.7 (Stone Smilodon)"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.7"\n',
    'var/lib/rpm/rpmdb.sqlite': sqlite,
  });
  const report = await indexImage([{ digest: 'sha256:rpmlayer', open: async () => Readable.from([layer]) }]);
  expect(report.distribution).toMatchObject({ did: 'almalinux', versionId: '8.7' });
  const found = report.packages.map((p) => ({ name: p.name, version: p.version, arch: p.arch, ecosystem: p.ecosystem, packageDb: p.packageDb, addedBy: p.addedBy }));
  expect(found.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
    { name: 'curl', version: '7.61.1-25.el8', arch: 'x86_64', ecosystem: 'AlmaLinux:8', packageDb: 'var/lib/rpm/rpmdb.sqlite', addedBy: 'sha256:rpmlayer' },
    { name: 'openssl-libs', version: '1:1.1.1k-7.el8_6', arch: 'x86_64', ecosystem: 'AlmaLinux:8', packageDb: 'var/lib/rpm/rpmdb.sqlite', addedBy: 'sha256:rpmlayer' },
    { name: 'tzdata', version: '2022a-1.el8', arch: 'noarch', ecosystem: 'AlmaLinux:8', packageDb: 'var/lib/rpm/rpmdb.sqlite', addedBy: 'sha256:rpmlayer' },
  ]);
});
