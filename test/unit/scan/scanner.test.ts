import { Readable } from 'node:stream';
import { gzipSync, createGzip } from 'node:zlib';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { compareApk, compareDpkg, comparePep440, compareRpm, compareSemver } from '../../../registry/scan/versions.js';
import { readLayer, LayerError } from '../../../registry/scan/layer.js';
import { indexImage, type LayerSource } from '../../../registry/scan/indexer.js';
import { PackageDbError, parseRpmHeader } from '../../../registry/scan/detect.js';
import { matchRecord, readOsvDatabase, severityOfScore, type OsvRecord } from '../../../registry/scan/osv.js';
import { buildSecurityData } from '../../../registry/scan/report.js';
import { parseGoBuildInfo, GoBuildInfoScanner } from '../../../registry/scan/gobuildinfo.js';
import { REPO_ROOT } from '../../setup/paths.js';

export const OSV_FIXTURES = join(REPO_ROOT, 'test/fixtures/osv');

type Entry = { name: string; data?: string | Buffer; type?: 'file' | 'symlink' | 'directory'; linkname?: string; mode?: number };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.data ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const layer = (digest: string, bytes: Buffer): LayerSource => ({ digest, open: async () => Readable.from([bytes]) });

const DPKG_STATUS = `Package: base-files
Status: install ok installed
Version: 11.1+deb11u5
Architecture: amd64

Package: libssl1.1
Status: install ok installed
Source: openssl
Version: 1.1.1n-0+deb11u3
Architecture: amd64
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation.

Package: zlib1g
Status: install ok installed
Source: zlib
Version: 1:1.2.11.dfsg-2+deb11u1
Architecture: amd64

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0
`;

async function osvRecords(): Promise<OsvRecord[]> {
  const out: OsvRecord[] = [];
  for await (const r of readOsvDatabase(OSV_FIXTURES)) out.push(r);
  return out;
}

describe('version ordering', () => {
  test.each([
    ['1.1.1n-0+deb11u3', '1.1.1n-0+deb11u4', -1],
    ['1:1.2.11.dfsg-2+deb11u1', '1.2.13', 1],
    ['1.0~rc1', '1.0', -1],
    ['1.0', '1.0-0', 0],
    ['2.30-1', '2.30-1', 0],
    ['1.2a', '1.2+', -1],
  ])('dpkg %s vs %s', (a, b, want) => expect(compareDpkg(a, b)).toBe(want));
  test.each([
    ['3.0.7-r2', '3.0.8-r0', -1],
    ['1.2.3_rc1', '1.2.3', -1],
    ['1.2.3_p1', '1.2.3', 1],
    ['1.2.3-r10', '1.2.3-r9', 1],
    ['1.2', '1.2.1', -1],
    ['1.2.3a', '1.2.3', 1],
  ])('apk %s vs %s', (a, b, want) => expect(compareApk(a, b)).toBe(want));
  test.each([
    ['1:1.0-1', '2.0-1', 1],
    ['7.61.1-30.el8_8.3', '7.61.1-30.el8_8.10', -1],
    ['1.0~rc1-1', '1.0-1', -1],
    ['1.0^git1-1', '1.0-1', 1],
    ['1.0a-1', '1.0-1', 1],
    ['1.01-1', '1.1-1', 0],
  ])('rpm %s vs %s', (a, b, want) => expect(compareRpm(a, b)).toBe(want));
  test('semver and PEP 440 from their libraries', () => {
    expect(compareSemver('7.5.1', '7.5.2')).toBe(-1);
    expect(compareSemver('v0.3.5', '0.3.7')).toBe(-1);
    expect(compareSemver('1.0.0-rc.1', '1.0.0')).toBe(-1);
    expect(comparePep440('2.31.0rc1', '2.31.0')).toBe(-1);
    expect(comparePep440('1.26.17', '1.26.5')).toBe(1);
  });
});

describe('layer reading', () => {
  test('gzip, zstd-less plain tar; whiteouts and opaque dirs are reported', async () => {
    const bytes = await tarOf([{ name: 'etc/os-release', data: 'ID=debian\n' }, { name: 'a/.wh.b' }, { name: 'c/.wh..wh..opq' }, { name: 'big/file', data: 'x' }]);
    for (const body of [bytes, gzipSync(bytes)]) {
      const entries = await readLayer(Readable.from([body]));
      expect(entries.map((e) => [e.kind, e.path])).toEqual([
        ['file', 'etc/os-release'],
        ['whiteout', 'a/b'],
        ['opaque', 'c'],
      ]);
    }
  });
  test('the tar walk: GNU and PAX long names, hard links, content split across any chunking, a corrupt header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tarwalk-'));
    try {
      // too long for a ustar name and prefix: GNU tar writes a long-name entry (gnu) or a PAX path (pax)
      const deep = `app/${'very-long-directory-name/'.repeat(7)}node_modules/left-pad/package.json`;
      mkdirSync(join(dir, deep, '..'), { recursive: true });
      writeFileSync(join(dir, deep), JSON.stringify({ name: 'left-pad', version: '1.3.0' }));
      mkdirSync(join(dir, 'var/lib/dpkg'), { recursive: true });
      writeFileSync(join(dir, 'var/lib/dpkg/status'), DPKG_STATUS);
      mkdirSync(join(dir, 'opt'), { recursive: true });
      writeFileSync(join(dir, 'opt/filler'), randomBytes(70_000));
      // a hard link: whichever of the two names tar meets second is a link entry to the first
      mkdirSync(join(dir, 'var/lib/dpkg/status.d'), { recursive: true });
      linkSync(join(dir, 'var/lib/dpkg/status'), join(dir, 'var/lib/dpkg/status.d/base'));
      for (const format of ['gnu', 'pax']) {
        const archive = execFileSync('tar', ['-c', `--format=${format}`, '-C', dir, 'var', 'opt', 'app']);
        for (const size of [7, 512, 4096, archive.length]) {
          const chunks = [];
          for (let at = 0; at < archive.length; at += size) chunks.push(archive.subarray(at, at + size));
          const entries = await readLayer(Readable.from(chunks));
          const files = entries.filter((e) => e.kind === 'file') as Array<{ path: string; data: Buffer }>;
          const byPath = Object.fromEntries(files.map((f) => [f.path, f.data.toString()]));
          expect(Object.keys(byPath).sort()).toEqual([deep, 'var/lib/dpkg/status', 'var/lib/dpkg/status.d/base']);
          expect(byPath['var/lib/dpkg/status']).toBe(DPKG_STATUS);
          expect(byPath['var/lib/dpkg/status.d/base']).toBe(DPKG_STATUS);
          expect(JSON.parse(byPath[deep])).toEqual({ name: 'left-pad', version: '1.3.0' });
        }
        const corrupt = Buffer.from(archive);
        corrupt[10] ^= 0xff;
        await expect(readLayer(Readable.from([corrupt]))).rejects.toThrow(/not a readable tar archive: Invalid tar header/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('a layer that is not a tarball fails with LayerError', async () => {
    await expect(readLayer(Readable.from([Buffer.from('this is not a tar archive at all, just text\n'.repeat(40))]))).rejects.toThrow(LayerError);
    await expect(readLayer(Readable.from([gzipSync(Buffer.from('short'))]))).rejects.toThrow(LayerError);
    await expect(readLayer(Readable.from([Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5, 6])]))).rejects.toThrow(LayerError);
  });
  test('an archive cut right after the last file (no padding, no end blocks) is read; one cut inside a file is not', async () => {
    const bytes = await tarOf([
      { name: 'etc/os-release', data: 'ID=alpine\n' },
      { name: 'lib/apk/db/installed', data: 'P:musl\nV:1.2.3-r4\n' },
    ]);
    const dataEnd = 512 * 3 + 'P:musl\nV:1.2.3-r4\n'.length;
    const entries = await readLayer(Readable.from([gzipSync(bytes.subarray(0, dataEnd))]));
    expect(entries.map((e) => e.path)).toEqual(['etc/os-release', 'lib/apk/db/installed']);
    await expect(readLayer(Readable.from([gzipSync(bytes.subarray(0, dataEnd - 3))]))).rejects.toThrow(/Unexpected end of data/);
  });
  test('a gzip bomb fails at the decompression limit without being held in memory', async () => {
    // 256 MiB of zeros compresses to about 256 KiB
    const zeros = Buffer.alloc(1024 * 1024);
    const gz = createGzip();
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => gz.on('end', r));
    for (let i = 0; i < 256; i++) gz.write(zeros);
    gz.end();
    await done;
    const bomb = Buffer.concat(chunks);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = process.memoryUsage().rss;
    await expect(readLayer(Readable.from([bomb]), { maxUncompressedBytes: 32 * 1024 * 1024, maxKeptBytes: 1 << 20, maxFileBytes: 1 << 20 })).rejects.toThrow(/decompression limit/);
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });
  test('the dead chunks of a large layer are collected as it streams: external memory stays bounded, not 64 MiB of garbage', async () => {
    // One 160 MiB file in a plain tar, streamed as fresh 64 KiB Buffers (as file reads and inflate output
    // arrive); the live ArrayBuffer memory is read at every chunk. V8 alone collected such dead Buffers only
    // after external memory had grown by about 64 MiB.
    const size = 160 * 1024 * 1024;
    const header = (await tarOf([{ name: 'opt/filler.bin', data: 'x' }])).subarray(0, 512);
    // The same header with the real size (octal) and its checksum recomputed.
    header.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    let peak = 0;
    async function* chunks() {
      yield Buffer.from(header);
      for (let sent = 0; sent < size; sent += 65536) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        yield Buffer.alloc(65536);
      }
      yield Buffer.alloc(1024);
    }
    const before = process.memoryUsage().arrayBuffers;
    expect(await readLayer(Readable.from(chunks(), { objectMode: false }))).toEqual([]);
    expect((peak - before) / 2 ** 20).toBeLessThan(24);
  });
  test('an oversized package database fails the layer', async () => {
    const bytes = await tarOf([{ name: 'var/lib/dpkg/status', data: Buffer.alloc(2048, 'a') }]);
    await expect(readLayer(Readable.from([bytes]), { maxUncompressedBytes: 1 << 30, maxKeptBytes: 1 << 20, maxFileBytes: 1024 })).rejects.toThrow(/over the scanner's limit/);
  });
  test('path traversal names never escape the root', async () => {
    const bytes = await tarOf([
      { name: '../../etc/os-release', data: 'ID=evil\n' },
      { name: './var/../etc/debian_version', data: '11.6\n' },
    ]);
    const entries = await readLayer(Readable.from([bytes]));
    expect(entries.map((e) => e.path)).toEqual(['etc/debian_version']);
  });
});

describe('image indexing', () => {
  test('dpkg, npm lock file, node_modules, Python metadata; whiteouts across layers; AddedBy per layer', async () => {
    const base = await tarOf([
      { name: 'usr/lib/os-release', data: 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\nID=debian\n' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'var/lib/dpkg/status', data: DPKG_STATUS },
    ]);
    const app = await tarOf([
      {
        name: 'app/package-lock.json',
        data: JSON.stringify({
          lockfileVersion: 3,
          packages: { '': { name: 'app' }, 'node_modules/lodash': { version: '4.17.20' }, 'node_modules/a/node_modules/semver': { version: '7.5.1' } },
        }),
      },
      { name: 'usr/lib/node_modules/npm/node_modules/ms/package.json', data: JSON.stringify({ name: 'ms', version: '2.1.2' }) },
      { name: 'usr/lib/python3/site-packages/requests-2.30.0.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n\nbody: x\n' },
      { name: 'usr/lib/python3/site-packages/urllib3-1.26.5.dist-info/METADATA', data: 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5\n' },
    ]);
    const top = await tarOf([{ name: 'usr/lib/python3/site-packages/.wh.urllib3-1.26.5.dist-info' }]);
    const report = await indexImage([layer('sha256:base', gzipSync(base)), layer('sha256:app', gzipSync(app)), layer('sha256:top', top)]);
    expect(report.distribution).toMatchObject({ did: 'debian', versionId: '11', versionCodeName: 'bullseye' });
    const pkgs = report.packages.map((p) => [p.ecosystem, p.name, p.version, p.matchName, p.addedBy]);
    expect(pkgs).toEqual(
      expect.arrayContaining([
        ['Debian:11', 'libssl1.1', '1.1.1n-0+deb11u3', 'openssl', 'sha256:base'],
        ['Debian:11', 'zlib1g', '1:1.2.11.dfsg-2+deb11u1', 'zlib', 'sha256:base'],
        ['npm', 'lodash', '4.17.20', 'lodash', 'sha256:app'],
        ['npm', 'semver', '7.5.1', 'semver', 'sha256:app'],
        ['npm', 'ms', '2.1.2', 'ms', 'sha256:app'],
        ['PyPI', 'requests', '2.30.0', 'requests', 'sha256:app'],
      ]),
    );
    expect(report.packages.find((p) => p.name === 'urllib3')).toBeUndefined();
    expect(report.packages.find((p) => p.name === 'removed-pkg')).toBeUndefined();
    expect(report.packages).toHaveLength(7);

    const records = await osvRecords();
    const byKey = new Map<string, OsvRecord[]>();
    for (const r of records)
      for (const a of r.affected ?? []) {
        const k = `${a.package!.ecosystem}\0${a.package!.name}`;
        if (!byKey.get(k)?.includes(r)) byKey.set(k, [...(byKey.get(k) ?? []), r]);
      }
    const data = buildSecurityData('sha256:m', report.distribution, report.packages, byKey, (p) => `${p.ecosystem}\0${p.matchName}`);
    const found = data.Layer.Features.flatMap((f) => f.Vulnerabilities.map((v) => `${f.Name} ${v.Name} ${v.FixedBy} ${v.Severity}`)).sort();
    expect(found).toEqual([
      'libssl1.1 DSA-5343-1 1.1.1n-0+deb11u4 Unknown',
      'lodash GHSA-35jh-r3h4-6jhm 4.17.21 High',
      'requests GHSA-j8r2-6x86-q33q 2.31.0 Medium',
      'semver GHSA-c2qf-rxjj-qqgw 7.5.2 Medium',
      'zlib1g DSA-5218-1 1:1.2.11.dfsg-2+deb11u2 Unknown',
    ]);
    const lodash = data.Layer.Features.find((f) => f.Name === 'lodash')!;
    expect(lodash).toEqual({
      Name: 'lodash',
      VersionFormat: '',
      NamespaceName: '',
      AddedBy: 'sha256:app',
      Version: '4.17.20',
      BaseScores: [7.2],
      CVEIds: ['CVE-2021-23337'],
      Vulnerabilities: [
        {
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
        },
      ],
    });
    const ssl = data.Layer.Features.find((f) => f.Name === 'libssl1.1')!;
    expect(ssl.CVEIds).toEqual(['CVE-2022-4304', 'CVE-2022-4450', 'CVE-2023-0215', 'CVE-2023-0286']);
    expect(ssl.Vulnerabilities[0].Metadata).toMatchObject({ DistroName: 'Debian GNU/Linux', DistroVersion: '11', NVD: { CVSSv3: { Vectors: '', Score: '' } } });
  });

  test('apk database with origin packages', async () => {
    const installed = 'C:Q1abc=\nP:libssl3\nV:3.0.7-r2\nA:x86_64\no:openssl\nF:lib\nR:libssl.so.3\n\nP:musl\nV:1.2.3-r4\nA:x86_64\no:musl\n';
    const l = await tarOf([
      { name: 'etc/os-release', data: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.17.1\n' },
      { name: 'lib/apk/db/installed', data: installed },
    ]);
    const report = await indexImage([layer('sha256:a', gzipSync(l))]);
    expect(report.packages.map((p) => [p.ecosystem, p.name, p.matchName, p.version])).toEqual([
      ['Alpine:v3.17', 'libssl3', 'openssl', '3.0.7-r2'],
      ['Alpine:v3.17', 'musl', 'musl', '1.2.3-r4'],
    ]);
    const [rec] = (await osvRecords()).filter((r) => r.id === 'ALPINE-CVE-2023-0286');
    expect(matchRecord(rec, 'Alpine:v3.17', 'openssl', '3.0.7-r2')).toEqual({ fixedBy: '3.0.8-r0' });
    expect(matchRecord(rec, 'Alpine:v3.17', 'openssl', '3.0.8-r0')).toBeNull();
    expect(matchRecord(rec, 'Alpine:v3.16', 'openssl', '3.0.7-r2')).toBeNull();
  });

  test.each([
    ['var/lib/dpkg/status', 'Package: a\nVersion: 1\n\x00garbage line without colon\n'],
    ['var/lib/dpkg/status', 'Version: 1.0\nStatus: install ok installed\n'],
    ['lib/apk/db/installed', 'P:musl\nthis is garbage\n'],
    ['app/package-lock.json', '{"packages": {'],
    ['var/lib/rpm/rpmdb.sqlite', 'SQLite format 3\x00 but then garbage'],
    ['usr/lib/python3/x-1.dist-info/METADATA', 'Metadata-Version: 2.1\nSummary: no name\n'],
  ])('a malformed package database (%s) is a PackageDbError naming it', async (path, data) => {
    const l = await tarOf([{ name: path, data }]);
    const err = await indexImage([layer('sha256:a', l)]).catch((e) => e);
    expect(err).toBeInstanceOf(PackageDbError);
    expect((err as PackageDbError).packageDb).toBe(path);
  });

  test('rpm header blobs', () => {
    // il=3, dl; entries NAME, VERSION, EPOCH; strings then an int32
    const strings = Buffer.from('curl\x007.61.1\x00\x00\x00');
    const epoch = Buffer.alloc(4);
    epoch.writeUInt32BE(2);
    const data = Buffer.concat([strings, epoch]);
    const index = Buffer.alloc(48);
    const put = (k: number, tag: number, type: number, off: number) => {
      index.writeUInt32BE(tag, k * 16);
      index.writeUInt32BE(type, k * 16 + 4);
      index.writeInt32BE(off, k * 16 + 8);
      index.writeUInt32BE(1, k * 16 + 12);
    };
    put(0, 1000, 6, 0);
    put(1, 1001, 6, 5);
    put(2, 1003, 4, strings.length);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(3, 0);
    head.writeUInt32BE(data.length, 4);
    const h = parseRpmHeader(Buffer.concat([head, index, data]));
    expect([h.get(1000), h.get(1001), h.get(1003)]).toEqual(['curl', '7.61.1', 2]);
    const lying = Buffer.concat([head, index, data]);
    lying.writeUInt32BE(1 << 20, 4);
    expect(() => parseRpmHeader(lying)).toThrow(/exceed/);
  });
});

describe('OSV matching rules', () => {
  const rec = (events: object[], extra: object = {}): OsvRecord => ({
    id: 'X',
    affected: [{ package: { ecosystem: 'npm', name: 'p' }, ranges: [{ type: 'SEMVER', events }], ...extra }],
  });
  test('introduced/fixed, last_affected, explicit versions, withdrawn', () => {
    expect(matchRecord(rec([{ introduced: '1.0.0' }, { fixed: '1.2.0' }]), 'npm', 'p', '0.9.0')).toBeNull();
    expect(matchRecord(rec([{ introduced: '1.0.0' }, { fixed: '1.2.0' }]), 'npm', 'p', '1.1.0')).toEqual({ fixedBy: '1.2.0' });
    expect(matchRecord(rec([{ introduced: '0' }, { last_affected: '1.2.0' }]), 'npm', 'p', '1.2.0')).toEqual({ fixedBy: '' });
    expect(matchRecord(rec([{ introduced: '0' }, { last_affected: '1.2.0' }]), 'npm', 'p', '1.2.1')).toBeNull();
    expect(matchRecord(rec([], { versions: ['3.0.0'] }), 'npm', 'p', '3.0.0')).toEqual({ fixedBy: '' });
    expect(matchRecord({ ...rec([{ introduced: '0' }]), withdrawn: '2024-01-01T00:00:00Z' }, 'npm', 'p', '1.0.0')).toBeNull();
    expect(matchRecord(rec([{ introduced: '0' }, { fixed: '2.0.0' }, { introduced: '3.0.0' }, { fixed: '3.1.0' }]), 'npm', 'p', '2.5.0')).toBeNull();
    expect(matchRecord(rec([{ introduced: '0' }, { fixed: '2.0.0' }, { introduced: '3.0.0' }, { fixed: '3.1.0' }]), 'npm', 'p', '3.0.5')).toEqual({ fixedBy: '3.1.0' });
  });
  test('Quay severity buckets (10.0 is Critical, unlike Quay)', () => {
    expect([0, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(severityOfScore)).toEqual(['Unknown', 'Low', 'Medium', 'Medium', 'High', 'High', 'Critical', 'Critical']);
  });
});

describe('Go build info', () => {
  test('module list text', () => {
    expect(
      parseGoBuildInfo(
        'go1.21.3\npath\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.5\th1:x\ndep\tgithub.com/a/b\tv1.0.0\th1:y\n=>\tgithub.com/c/b\tv1.0.1\th1:z\n',
      ),
    ).toEqual([
      { path: 'stdlib', version: '1.21.3' },
      { path: 'golang.org/x/text', version: 'v0.3.5' },
      { path: 'github.com/c/b', version: 'v1.0.1' },
    ]);
  });
  test('the header is found across chunk boundaries in a streamed ELF file', () => {
    const mod = 'path\tx\nmod\tx\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.5\th1:x\n';
    const framed = 'S'.repeat(16) + mod + 'E'.repeat(16);
    const varint = (n: number) => (n < 128 ? Buffer.from([n]) : Buffer.from([(n & 0x7f) | 0x80, n >> 7]));
    const header = Buffer.alloc(32);
    Buffer.from('\xff Go buildinf:', 'latin1').copy(header);
    header[14] = 8;
    header[15] = 2;
    const body = Buffer.concat([
      Buffer.from('\x7fELF'),
      Buffer.alloc(4092),
      header,
      varint(8),
      Buffer.from('go1.20.1'),
      varint(framed.length),
      Buffer.from(framed),
      Buffer.alloc(100),
    ]);
    const s = new GoBuildInfoScanner();
    for (let i = 0; i < body.length; i += 7) s.write(body.subarray(i, i + 7));
    expect(parseGoBuildInfo(s.result()!.toString())).toEqual([
      { path: 'stdlib', version: '1.20.1' },
      { path: 'golang.org/x/text', version: 'v0.3.5' },
    ]);
  });
});
