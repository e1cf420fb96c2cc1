/**
 * TLS served by the registry itself, with verification on everywhere (a test CA, never an insecure flag):
 * ssl.cert/ssl.key beside config.yaml → HTTPS with HTTP/2 by ALPN and HTTP/1.1, plain HTTP beside it;
 * skopeo and podman with the CA in a certs.d-style directory, oras and helm with --ca-file, crane with
 * SSL_CERT_FILE; the pair rotated in place under load without a failed request; a mismatched or expired
 * pair refused at start; containerd's ctr (a daemon of the test's own) pulling and pushing with --user through the
 * registry's token auth, the CA in its --hosts-dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';
import { freePort } from '../../setup/procs.js';
import { clientSandbox } from '../../setup/tools.js';
import { V2Client, blobOf } from '../../helpers/v2.js';
import { gzipSync } from 'node:zlib';
import forge from 'node-forge';
import { startContainerd } from '../../helpers/containerd.js';
import { pushRunnableImage, tarLayer } from '../../helpers/image.js';

const dir = workDir('tls-pki');
let reg: RegistryProcess;
let tlsPort: number;
let ca: Buffer;

/** A CA, and server pairs it signs for 127.0.0.1 (openssl, as an operator would make them). */
function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}
function makeCa(): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=quay-ts test CA']);
}
function makeServer(name: string): { cert: string; key: string } {
  writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** The certificate the server presents to a new connection (verified against the CA), and the ALPN protocol chosen. */
function handshake(alpn: string[]): Promise<{ cn: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, ca, ALPNProtocols: alpn }, () => {
      const cn = socket.getPeerX509Certificate()!.subject;
      resolve({ cn, alpn: socket.alpnProtocol });
      socket.end();
    });
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  makeCa();
  ca = readFileSync(join(dir, 'ca.crt'));
  const first = makeServer('first');
  tlsPort = await freePort();
  reg = await startRegistry({
    label: 'tls',
    // The public name is the HTTPS one: token realms point there.
    config: {
      SUPER_USERS: ['admin'],
      PREFERRED_URL_SCHEME: 'https',
      SERVER_HOSTNAME: `127.0.0.1:${tlsPort}`,
      ALLOWED_OCI_ARTIFACT_TYPES: { 'application/vnd.quay-ts.notes': ['text/plain'] },
    },
    files: { 'ssl.cert': readFileSync(first.cert), 'ssl.key': readFileSync(first.key) },
    env: { TLS_PORT: String(tlsPort) },
  });
  // Content to copy (a real gzipped tar layer, which podman unpacks), pushed over the plain HTTP port beside HTTPS.
  writeFileSync(join(dir, 'hello.txt'), 'hello over tls\n');
  execFileSync('tar', ['-C', dir, '-cf', join(dir, 'layer.tar'), 'hello.txt']);
  await V2Client.basic(reg).pushImage('admin/source', 'v1', { layers: [blobOf(gzipSync(readFileSync(join(dir, 'layer.tar'))))] });
});

afterAll(async () => {
  await reg?.stop();
});

test('HTTPS: HTTP/2 by ALPN, HTTP/1.1 for clients that ask for it, plain HTTP beside it', async () => {
  expect(await handshake(['h2', 'http/1.1'])).toMatchObject({ alpn: 'h2', cn: 'CN=first' });
  expect(await handshake(['http/1.1'])).toMatchObject({ alpn: 'http/1.1' });
  const session = h2connect(`https://127.0.0.1:${tlsPort}`, { ca });
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':path': '/v2/', ':method': 'GET' });
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
    stream.end();
  });
  session.close();
  expect(status).toBe(401);
  expect((await fetch(`${reg.url}/v2/`)).status).toBe(401);
});

test('skopeo and podman verify the registry with the CA in a certs.d directory', async () => {
  const c = clientSandbox('tls-containers');
  const certs = join(c.dir, 'certs.d', `127.0.0.1:${tlsPort}`);
  mkdirSync(certs, { recursive: true });
  writeFileSync(join(certs, 'ca.crt'), ca);
  const creds = `${reg.admin.username}:${reg.admin.password}`;
  const host = `127.0.0.1:${tlsPort}`;
  await c.run('skopeo', [
    'copy',
    '--src-cert-dir',
    certs,
    '--dest-cert-dir',
    certs,
    '--src-creds',
    creds,
    '--dest-creds',
    creds,
    `docker://${host}/admin/source:v1`,
    `docker://${host}/admin/skopeo:v1`,
  ]);
  const inspect = JSON.parse((await c.run('skopeo', ['inspect', '--cert-dir', certs, '--creds', creds, `docker://${host}/admin/skopeo:v1`])).stdout) as { Digest: string };
  expect(inspect.Digest).toMatch(/^sha256:/);
  // Without the CA the same call fails verification: the test proves verification is on.
  const unverified = await c.run('skopeo', ['inspect', '--creds', creds, `docker://${host}/admin/skopeo:v1`], { allowFail: true });
  expect(unverified.code).not.toBe(0);
  expect(unverified.stderr).toMatch(/certificate|x509/i);

  await c.run('podman', ['login', '--cert-dir', certs, '-u', reg.admin.username, '-p', reg.admin.password, host]);
  await c.run('podman', ['pull', '--cert-dir', certs, `${host}/admin/skopeo:v1`]);
  await c.run('podman', ['tag', `${host}/admin/skopeo:v1`, `${host}/admin/podman:v1`]);
  await c.run('podman', ['push', '--cert-dir', certs, `${host}/admin/podman:v1`]);
  expect(
    (
      await V2Client.basic(reg).req('HEAD', '/v2/admin/podman/manifests/v1', {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
      })
    ).status,
  ).toBe(200);
});

test('oras and helm with --ca-file, crane with SSL_CERT_FILE', async () => {
  const c = clientSandbox('tls-go');
  const caFile = join(c.dir, 'ca.crt');
  writeFileSync(caFile, ca);
  const host = `127.0.0.1:${tlsPort}`;
  await c.run('oras', ['login', '--ca-file', caFile, '-u', reg.admin.username, '-p', reg.admin.password, host]);
  writeFileSync(join(c.dir, 'notes.txt'), 'over tls');
  await c.run('oras', ['push', '--ca-file', caFile, '--artifact-type', 'application/vnd.quay-ts.notes', `${host}/admin/oras:v1`, 'notes.txt:text/plain']);
  const out = join(c.dir, 'out');
  await c.run('oras', ['pull', '--ca-file', caFile, '-o', out, `${host}/admin/oras:v1`]);
  expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('over tls');

  await c.run('helm', ['registry', 'login', host, '--ca-file', caFile, '-u', reg.admin.username, '-p', reg.admin.password]);
  await c.run('helm', ['create', 'tlschart']);
  await c.run('helm', ['package', 'tlschart', '--version', '0.1.0']);
  await c.run('helm', ['push', 'tlschart-0.1.0.tgz', `oci://${host}/admin/charts`, '--ca-file', caFile]);

  await c.run('crane', ['auth', 'login', host, '-u', reg.admin.username, '-p', reg.admin.password], { env: { SSL_CERT_FILE: caFile } });
  const digest = (await c.run('crane', ['digest', `${host}/admin/oras:v1`], { env: { SSL_CERT_FILE: caFile } })).stdout.trim();
  expect(digest).toMatch(/^sha256:/);
});

test("containerd's ctr pulls and pushes with --user, the registry's token auth and the CA in --hosts-dir", async () => {
  const host = `127.0.0.1:${tlsPort}`;
  const hostsToml = (caFile: string) => `server = "https://${host}"\n[host."https://${host}"]\n  capabilities = ["pull", "resolve", "push"]\n  ca = "${caFile}"\n`;
  const hostsDir = join(workDir('tls-ctr'), 'hosts');
  mkdirSync(join(hostsDir, host), { recursive: true });
  writeFileSync(join(hostsDir, 'ca.crt'), ca);
  writeFileSync(join(hostsDir, host, 'hosts.toml'), hostsToml(join(hostsDir, 'ca.crt')));
  const user = `${reg.admin.username}:${reg.admin.password}`;
  // ctr unpacks what it pulls: real tar layers listed in the config's diff_ids.
  const { digest } = await pushRunnableImage(V2Client.basic(reg), 'admin/ctrsource', 'v1', [tarLayer(4096)]);
  const containerd = await startContainerd();
  try {
    // Through containerd's transfer service (ctr's default) and through ctr's own client-side path (--local).
    await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, '--user', user, '--snapshotter', 'native', `${host}/admin/ctrsource:v1`]);
    await containerd.ctr(['images', 'pull', '--local', '--hosts-dir', hostsDir, '--user', user, '--snapshotter', 'native', `${host}/admin/ctrsource:v1`]);
    const listed = (await containerd.ctr(['images', 'ls'])).stdout;
    expect(listed).toContain(`${host}/admin/ctrsource:v1`);
    expect(listed).toContain(digest);
    // Unpacked into the native snapshotter: one committed layer.
    expect((await containerd.ctr(['snapshots', '--snapshotter', 'native', 'ls'])).stdout).toMatch(/Committed/);

    await containerd.ctr(['images', 'tag', `${host}/admin/ctrsource:v1`, `${host}/admin/ctr:v1`, `${host}/admin/ctr:local`]);
    await containerd.ctr(['images', 'push', '--hosts-dir', hostsDir, '--user', user, `${host}/admin/ctr:v1`]);
    await containerd.ctr(['images', 'push', '--local', '--hosts-dir', hostsDir, '--user', user, `${host}/admin/ctr:local`]);
    for (const tag of ['v1', 'local']) {
      const pushed = await V2Client.basic(reg).req('HEAD', `/v2/admin/ctr/manifests/${tag}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(pushed.status).toBe(200);
      expect(pushed.headers.get('docker-content-digest')).toBe(digest);
    }

    // Verification is on: with another CA in hosts.toml the pull fails on the certificate. (Without any hosts.toml,
    // containerd skips verification for loopback hosts, so the test names the host's CA explicitly.)
    const otherDir = workDir('tls-ctr-other');
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(otherDir, 'other.key'),
      '-out',
      join(otherDir, 'other.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=another CA',
    ]);
    const wrongHosts = join(otherDir, 'hosts');
    mkdirSync(join(wrongHosts, host), { recursive: true });
    writeFileSync(join(wrongHosts, host, 'hosts.toml'), hostsToml(join(otherDir, 'other.crt')));
    const wrongCa = await containerd.ctr(['images', 'pull', '--local', '--hosts-dir', wrongHosts, '--user', user, '--snapshotter', 'native', `${host}/admin/ctr:v1`], {
      allowFail: true,
    });
    expect(wrongCa.code).not.toBe(0);
    expect(wrongCa.stderr).toMatch(/certificate|x509/i);
    const anonymous = await containerd.ctr(['images', 'pull', '--local', '--hosts-dir', hostsDir, '--snapshotter', 'native', `${host}/admin/ctr:v1`], { allowFail: true });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/401|unauthorized|not found|denied/i);
  } finally {
    await containerd.stop();
  }
});

test('the pair rotated in place under load: new handshakes get the new certificate, no request fails', async () => {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 4 });
  const failures: string[] = [];
  let done = 0;
  let running = true;
  const load = async () => {
    while (running) {
      await new Promise<void>((resolve) => {
        const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path: '/v2/', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 401) failures.push(`status ${res.statusCode}`);
            done++;
            resolve();
          });
        });
        req.on('error', (e) => {
          failures.push(e.message);
          resolve();
        });
        req.end();
      });
    }
  };
  const workers = [load(), load(), load(), load()];
  await sleep(500);
  const second = makeServer('second');
  const confDir = dirname(reg.configPath!);
  // As a Secret volume changes: each file replaced whole (rename), one after the other.
  for (const [from, to] of [
    [second.cert, 'ssl.cert'],
    [second.key, 'ssl.key'],
  ]) {
    writeFileSync(join(confDir, `${to}.new`), readFileSync(from));
    renameSync(join(confDir, `${to}.new`), join(confDir, to));
  }
  let seen = '';
  for (let i = 0; i < 40 && seen !== 'CN=second'; i++) {
    await sleep(250);
    seen = (await handshake(['http/1.1'])).cn;
  }
  await sleep(500);
  running = false;
  await Promise.all(workers);
  agent.destroy();
  expect(seen).toBe('CN=second');
  expect(failures).toEqual([]);
  expect(done).toBeGreaterThan(20);
  expect(reg.output()).toMatch(/TLS certificate loaded/);
});

describe('SSL_PROTOCOLS and SSL_CIPHERS (Quay hands them to its nginx; here they bound the listener)', () => {
  let strict: RegistryProcess;
  let port: number;
  const connectWith = (opts: { maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string }) =>
    new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca, ...opts }, () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
        socket.end();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(`refused ${err.code}`));
    });

  beforeAll(async () => {
    const pair = makeServer('strict');
    port = await freePort();
    strict = await startRegistry({
      label: 'tls-policy',
      config: {
        PREFERRED_URL_SCHEME: 'https',
        SERVER_HOSTNAME: `127.0.0.1:${port}`,
        SSL_PROTOCOLS: ['TLSv1.3'],
        SSL_CIPHERS: ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'],
      },
      files: { 'ssl.cert': readFileSync(pair.cert), 'ssl.key': readFileSync(pair.key) },
      env: { TLS_PORT: String(port) },
    });
  });
  afterAll(async () => {
    await strict?.stop();
  });

  test('a TLS 1.2 client is refused; TLS 1.3 gets only a listed suite', async () => {
    expect(await connectWith({ maxVersion: 'TLSv1.2' })).toMatch(/^refused /);
    expect(await connectWith({})).toMatch(/^TLSv1\.3 TLS_(AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
    expect(await connectWith({ ciphers: 'TLS_AES_128_GCM_SHA256' })).toMatch(/^refused /);
  });

  test('a protocol list with a hole is refused at start and by verify', () => {
    const conf = join(dir, 'holey');
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, 'config.yaml'), 'SSL_PROTOCOLS: [TLSv1.1, TLSv1.3]\n');
    const pair = makeServer('holey');
    writeFileSync(join(conf, 'ssl.cert'), readFileSync(pair.cert));
    writeFileSync(join(conf, 'ssl.key'), readFileSync(pair.key));
    const main = join(REPO_ROOT, 'dist/registry/main.js');
    const serve = spawnSync(process.execPath, [main, 'serve', '--port', '0', '--tls-port', '0', '--data-dir', join(conf, 'data'), '--config', join(conf, 'config.yaml')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(serve.status).toBe(2);
    expect(serve.stderr).toContain('cannot serve TLS: SSL_PROTOCOLS must be a contiguous range of versions, got TLSv1.1, TLSv1.3');
    const verify = spawnSync(process.execPath, [main, 'verify', '--config', join(conf, 'config.yaml')], { encoding: 'utf8', timeout: 60_000 });
    expect(verify.status).toBe(1);
    expect(verify.stdout).toContain('error: SSL_PROTOCOLS must be a contiguous range of versions');
  });
});

describe('refusal to start', () => {
  const start = (cert: string, key: string) =>
    spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'dist/registry/main.js'), 'serve', '--port', '0', '--tls-port', '0', '--data-dir', join(dir, 'never'), '--tls-cert', cert, '--tls-key', key],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );

  test("a key that is not the certificate's", () => {
    const a = makeServer('pair-a');
    const b = makeServer('pair-b');
    const r = start(a.cert, b.key);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`cannot serve TLS: ${b.key} is not the private key of ${a.cert} (CN=pair-a)`);
  });

  test('an expired certificate', () => {
    // OpenSSL 3.0 cannot back-date a certificate; node-forge can.
    const keys = forge.pki.rsa.generateKeyPair(1024);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date('2020-01-01T00:00:00Z');
    cert.validity.notAfter = new Date('2021-01-01T00:00:00Z');
    cert.setSubject([{ name: 'commonName', value: 'expired' }]);
    cert.setIssuer([{ name: 'commonName', value: 'expired' }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    writeFileSync(join(dir, 'expired.crt'), forge.pki.certificateToPem(cert));
    writeFileSync(join(dir, 'expired.key'), forge.pki.privateKeyToPem(keys.privateKey));
    const r = start(join(dir, 'expired.crt'), join(dir, 'expired.key'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`cannot serve TLS: ${join(dir, 'expired.crt')} (CN=expired) expired on 2021-01-01T00:00:00.000Z`);
  });

  test('https URLs with no certificate and no terminating proxy (PREFERRED_URL_SCHEME https, EXTERNAL_TLS_TERMINATION false)', () => {
    const conf = join(dir, 'https-only');
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, 'config.yaml'), 'PREFERRED_URL_SCHEME: https\nSERVER_HOSTNAME: registry.example\n');
    const r = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'dist/registry/main.js'), 'serve', '--port', '0', '--data-dir', join(conf, 'data'), '--config', join(conf, 'config.yaml')],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PREFERRED_URL_SCHEME is https and EXTERNAL_TLS_TERMINATION is false, but there is no certificate');
  });
});
