/**
 * Real registry clients against the registry process (embedded mode, credentials of the first superuser):
 * skopeo, buildah, podman, umoci, helm, oras, cosign and crane, each round-tripping real content.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { COSIGN, INSECURE, clientSandbox, type ClientSandbox } from '../../setup/tools.js';

const ARTIFACT_TYPE = 'application/vnd.quay-ts.notes';
const SBOM_TYPE = 'application/vnd.quay-ts.sbom';

let reg: RegistryProcess;
let creds: string;

beforeAll(async () => {
  reg = await startRegistry({
    label: 'clients',
    config: {
      SUPER_USERS: ['admin'],
      ALLOWED_OCI_ARTIFACT_TYPES: { [ARTIFACT_TYPE]: ['text/plain'], [SBOM_TYPE]: ['application/json'] },
    },
  });
  creds = `${reg.admin.username}:${reg.admin.password}`;
});

afterAll(async () => {
  await reg?.stop();
});

async function headDigest(repo: string, ref: string): Promise<string> {
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { authorization: `Basic ${Buffer.from(creds).toString('base64')}` },
  });
  expect(r.status).toBe(200);
  return r.headers.get('docker-content-digest')!;
}

async function login(c: ClientSandbox): Promise<void> {
  await c.run('podman', ['login', ...INSECURE.podman, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
  await c.run('crane', ['auth', 'login', reg.hostPort, '-u', reg.admin.username, '-p', reg.admin.password]);
}

/** An OCI layout with one image holding `files`, built offline with umoci. */
async function layoutWith(c: ClientSandbox, files: Record<string, string>): Promise<string> {
  const layout = join(c.dir, 'layout');
  const rootfs = join(c.dir, 'rootfs-src');
  mkdirSync(rootfs, { recursive: true });
  await c.run('umoci', ['init', '--layout', layout]);
  await c.run('umoci', ['new', '--image', `${layout}:v1`]);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(rootfs, name), content);
    await c.run('umoci', ['insert', '--image', `${layout}:v1`, join(rootfs, name), `/${name}`]);
  }
  return layout;
}

test('skopeo round trip is digest-exact: oci layout → registry → oci layout', async () => {
  const c = clientSandbox('skopeo-rt');
  const layout = await layoutWith(c, { 'a.txt': 'alpha\n', 'b.bin': 'x'.repeat(100_000) });
  const srcIndex = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const srcDigest = srcIndex.manifests[0].digest as string;
  await c.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', creds, `oci:${layout}:v1`, `docker://${reg.hostPort}/admin/roundtrip:v1`]);
  expect(await headDigest('admin/roundtrip', 'v1')).toBe(srcDigest);
  const back = join(c.dir, 'back');
  await c.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--src-creds', creds, `docker://${reg.hostPort}/admin/roundtrip:v1`, `oci:${back}:v1`]);
  const backIndex = JSON.parse(readFileSync(join(back, 'index.json'), 'utf8'));
  expect(backIndex.manifests[0].digest).toBe(srcDigest);
  // umoci leaves superseded blobs in the source layout; what travelled is the manifest, its config and its layers.
  const blob = (dir: string, digest: string) => readFileSync(join(dir, 'blobs', 'sha256', digest.split(':')[1]));
  const manifest = JSON.parse(blob(layout, srcDigest).toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const expected = [srcDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)].map((d) => d.split(':')[1]).sort();
  expect(readdirSync(join(back, 'blobs', 'sha256')).sort()).toEqual(expected);
  for (const hex of expected) expect(blob(back, `sha256:${hex}`).equals(blob(layout, `sha256:${hex}`))).toBe(true);
});

test('buildah builds FROM scratch and pushes; podman pulls it in a clean store', async () => {
  const a = clientSandbox('buildah');
  await login(a);
  const ctx = join(a.dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'hello.txt'), 'hello from buildah\n');
  writeFileSync(join(ctx, 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL org.example.built-by="buildah"\n');
  const ref = `${reg.hostPort}/admin/built`;
  await a.run('buildah', ['--storage-driver', 'vfs', 'bud', '--isolation', 'chroot', '-f', join(ctx, 'Containerfile'), '-t', `${ref}:v1`, ctx]);
  await a.run('buildah', ['push', ...INSECURE.buildah, `${ref}:v1`]);

  const b = clientSandbox('podman');
  const anonymous = await b.run('podman', ['pull', ...INSECURE.podman, `${ref}:v1`], { allowFail: true });
  expect(anonymous.code).not.toBe(0);
  await login(b);
  await b.run('podman', ['pull', ...INSECURE.podman, `${ref}:v1`]);
  const labels = JSON.parse((await b.run('podman', ['image', 'inspect', '--format', '{{json .Labels}}', `${ref}:v1`])).stdout);
  expect(labels['org.example.built-by']).toBe('buildah');
  await b.run('podman', ['tag', `${ref}:v1`, `${ref}:v2`]);
  await b.run('podman', ['push', ...INSECURE.podman, `${ref}:v2`]);
  expect(await headDigest('admin/built', 'v2')).toBe(await headDigest('admin/built', 'v1'));
});

test('helm pushes a chart and pulls it back byte for byte', async () => {
  const c = clientSandbox('helm');
  await c.run('helm', ['registry', 'login', reg.hostPort, '-u', reg.admin.username, '-p', reg.admin.password, ...INSECURE.helm]);
  await c.run('helm', ['create', 'mychart']);
  await c.run('helm', ['package', 'mychart', '--version', '0.1.0']);
  const push = await c.run('helm', ['push', 'mychart-0.1.0.tgz', `oci://${reg.hostPort}/admin/charts`, ...INSECURE.helm]);
  const pushed = /Digest:\s*(sha256:[0-9a-f]{64})/.exec(push.stdout + push.stderr)?.[1];
  expect(pushed).toBe(await headDigest('admin/charts/mychart', '0.1.0'));
  const out = join(c.dir, 'pulled');
  mkdirSync(out);
  await c.run('helm', ['pull', `oci://${reg.hostPort}/admin/charts/mychart`, '--version', '0.1.0', '-d', out, ...INSECURE.helm]);
  expect(readFileSync(join(out, 'mychart-0.1.0.tgz')).equals(readFileSync(join(c.dir, 'mychart-0.1.0.tgz')))).toBe(true);
});

test('oras pushes an allowed artifact, attaches a referrer found by oras discover; an unlisted type is refused', async () => {
  const c = clientSandbox('oras');
  await c.run('oras', ['login', ...INSECURE.oras, '-u', reg.admin.username, '-p', reg.admin.password, reg.hostPort]);
  writeFileSync(join(c.dir, 'notes.txt'), 'release notes\n');
  writeFileSync(join(c.dir, 'sbom.json'), '{"packages":[]}');
  const ref = `${reg.hostPort}/admin/artifact:v1`;
  await c.run('oras', ['push', ...INSECURE.oras, '--artifact-type', ARTIFACT_TYPE, ref, 'notes.txt:text/plain']);
  await c.run('oras', ['attach', ...INSECURE.oras, '--artifact-type', SBOM_TYPE, ref, 'sbom.json:application/json']);
  const found = JSON.parse((await c.run('oras', ['discover', ...INSECURE.oras, '--format', 'json', ref])).stdout);
  const text = JSON.stringify(found);
  expect(text).toContain(SBOM_TYPE);
  const subject = await headDigest('admin/artifact', 'v1');
  const referrers = await fetch(`${reg.url}/v2/admin/artifact/referrers/${subject}`, {
    headers: { authorization: `Basic ${Buffer.from(creds).toString('base64')}` },
  });
  const idx = (await referrers.json()) as { manifests: Array<{ artifactType: string }> };
  expect(idx.manifests.map((m) => m.artifactType)).toEqual([SBOM_TYPE]);
  const out = join(c.dir, 'out');
  await c.run('oras', ['pull', ...INSECURE.oras, '-o', out, ref]);
  expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');

  const refused = await c.run('oras', ['push', ...INSECURE.oras, '--artifact-type', 'application/vnd.unlisted', `${reg.hostPort}/admin/artifact:bad`, 'notes.txt:text/plain'], {
    allowFail: true,
  });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr + refused.stdout).toMatch(/ALLOWED_OCI_ARTIFACT_TYPES/);
});

test('cosign signs with a key (no transparency log) and verifies; another key fails', async () => {
  const c = clientSandbox('cosign');
  await login(c);
  mkdirSync(join(c.dir, 'layer'));
  writeFileSync(join(c.dir, 'layer', 'signed.txt'), 'sign me\n');
  execFileSync('tar', ['-C', join(c.dir, 'layer'), '-cf', join(c.dir, 'layer.tar'), 'signed.txt']);
  const repo = `${reg.hostPort}/admin/signed`;
  await c.run('crane', ['append', ...INSECURE.crane, '-f', join(c.dir, 'layer.tar'), '-t', `${repo}:v1`]);
  const digest = await headDigest('admin/signed', 'v1');
  await c.run('cosign', ['generate-key-pair']);
  await c.run('cosign', ['sign', ...COSIGN.sign, '--key', 'cosign.key', `${repo}@${digest}`]);
  const ok = await c.run('cosign', ['verify', ...COSIGN.verify, '--key', 'cosign.pub', `${repo}@${digest}`]);
  const claims = JSON.parse(ok.stdout) as Array<{ critical: { image: { 'docker-manifest-digest': string } } }>;
  expect(claims[0].critical.image['docker-manifest-digest']).toBe(digest);
  const other = join(c.dir, 'other');
  mkdirSync(other);
  await c.run('cosign', ['generate-key-pair'], { cwd: other });
  const bad = await c.run('cosign', ['verify', ...COSIGN.verify, '--key', join(other, 'cosign.pub'), `${repo}@${digest}`], { allowFail: true });
  expect(bad.code).not.toBe(0);
});

test('crane: catalog, ls, digest', async () => {
  const c = clientSandbox('crane');
  await login(c);
  writeFileSync(join(c.dir, 'f.txt'), 'crane');
  execFileSync('tar', ['-C', c.dir, '-cf', join(c.dir, 'layer.tar'), 'f.txt']);
  await c.run('crane', ['append', ...INSECURE.crane, '-f', join(c.dir, 'layer.tar'), '-t', `${reg.hostPort}/admin/crane:a`]);
  await c.run('crane', ['tag', ...INSECURE.crane, `${reg.hostPort}/admin/crane:a`, 'b']);
  const catalog = (await c.run('crane', ['catalog', ...INSECURE.crane, reg.hostPort])).stdout.split('\n');
  expect(catalog).toContain('admin/crane');
  expect((await c.run('crane', ['ls', ...INSECURE.crane, `${reg.hostPort}/admin/crane`])).stdout.trim().split('\n')).toEqual(['a', 'b']);
  const digest = (await c.run('crane', ['digest', ...INSECURE.crane, `${reg.hostPort}/admin/crane:b`])).stdout.trim();
  expect(digest).toBe(await headDigest('admin/crane', 'a'));
});
