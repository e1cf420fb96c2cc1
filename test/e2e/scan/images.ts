/**
 * Test images for the scanners, built offline with umoci (one `umoci insert` per layer) into one OCI
 * layout. Package versions are real releases that the advisories in test/fixtures/osv affect.
 *   debian: Debian 11 dpkg status (openssl 1.1.1n-0+deb11u3, zlib 1:1.2.11.dfsg-2+deb11u1), then an app
 *           layer (package-lock.json and node_modules: lodash 4.17.20, semver 7.5.1; Python requests
 *           2.30.0 and urllib3 1.26.5), then a whiteout layer deleting urllib3.
 *   alpine: Alpine 3.17 apk database (libssl3/libcrypto3 3.0.7-r2 from origin openssl, musl).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ClientSandbox } from '../../setup/tools.js';

export const DPKG_STATUS = `Package: base-files
Status: install ok installed
Priority: required
Version: 11.1+deb11u5
Architecture: amd64

Package: libssl1.1
Status: install ok installed
Source: openssl
Version: 1.1.1n-0+deb11u3
Architecture: amd64
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL and TLS
 cryptographic protocols for secure communication over the Internet.

Package: openssl
Status: install ok installed
Version: 1.1.1n-0+deb11u3
Architecture: amd64

Package: zlib1g
Status: install ok installed
Source: zlib
Version: 1:1.2.11.dfsg-2+deb11u1
Architecture: amd64
`;

const OS_RELEASE_DEBIAN = `PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian
`;

const PACKAGE_LOCK = {
  name: 'app',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'app', version: '1.0.0', dependencies: { lodash: '4.17.20', semver: '7.5.1' } },
    'node_modules/lodash': { version: '4.17.20', resolved: 'https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz' },
    'node_modules/semver': { version: '7.5.1', resolved: 'https://registry.npmjs.org/semver/-/semver-7.5.1.tgz' },
  },
};

const APK_INSTALLED = `C:Q1OoNRJbKMEAr3I+RkOQ0Zr1H4GfE=
P:musl
V:1.2.3-r4
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
o:musl
F:lib
R:ld-musl-x86_64.so.1

C:Q1h0Z5v1uQ1v0Ej0yZ8p9Y3vP0mXc=
P:libcrypto3
V:3.0.7-r2
A:x86_64
T:Crypto library from openssl
o:openssl
F:lib
R:libcrypto.so.3

P:libssl3
V:3.0.7-r2
A:x86_64
T:SSL shared libraries
o:openssl
F:lib
R:libssl.so.3
`;

function tree(root: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** Builds both images into one OCI layout; returns its path (tags `debian` and `alpine`). */
export async function buildScanImages(sb: ClientSandbox): Promise<string> {
  const layout = join(sb.dir, 'scan-layout');
  await sb.run('umoci', ['init', '--layout', layout]);
  const layer = (tag: string, dir: string) => sb.run('umoci', ['insert', '--image', `${layout}:${tag}`, dir, '/']);

  await sb.run('umoci', ['new', '--image', `${layout}:debian`]);
  await layer('debian', tree(join(sb.dir, 'debian-base'), { 'etc/os-release': OS_RELEASE_DEBIAN, 'etc/debian_version': '11.3\n', 'var/lib/dpkg/status': DPKG_STATUS }));
  await layer(
    'debian',
    tree(join(sb.dir, 'debian-app'), {
      'app/package.json': JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lodash: '4.17.20', semver: '7.5.1' } }),
      'app/package-lock.json': JSON.stringify(PACKAGE_LOCK, null, 2),
      // npm ≥ 7 writes this hidden lock file into node_modules when it installs
      'app/node_modules/.package-lock.json': JSON.stringify({
        name: 'app',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { 'node_modules/lodash': PACKAGE_LOCK.packages['node_modules/lodash'], 'node_modules/semver': PACKAGE_LOCK.packages['node_modules/semver'] },
      }),
      'app/node_modules/lodash/package.json': JSON.stringify({ name: 'lodash', version: '4.17.20', main: 'lodash.js' }),
      'app/node_modules/semver/package.json': JSON.stringify({ name: 'semver', version: '7.5.1', main: 'index.js' }),
      'usr/lib/python3/dist-packages/requests-2.30.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\nSummary: Python HTTP for Humans.\n',
      'usr/lib/python3/dist-packages/requests-2.30.0.dist-info/RECORD': '',
      'usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info/METADATA': 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5\nSummary: HTTP library\n',
      'usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info/RECORD': '',
    }),
  );
  await sb.run('umoci', ['insert', '--image', `${layout}:debian`, '--whiteout', '/usr/lib/python3/dist-packages/urllib3-1.26.5.dist-info']);

  await sb.run('umoci', ['new', '--image', `${layout}:alpine`]);
  await layer(
    'alpine',
    tree(join(sb.dir, 'alpine-base'), {
      'etc/os-release': 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.17.1\nPRETTY_NAME="Alpine Linux v3.17"\n',
      'etc/alpine-release': '3.17.1\n',
      'lib/apk/db/installed': APK_INSTALLED,
    }),
  );
  return layout;
}
