/**
 * Every registry client of the bench round-trips real content through Distribution (Debian's
 * docker-registry) on loopback, with the sandboxed environment from tools.ts: no container engine,
 * plain HTTP, private storage and credentials per test.
 */
import bcrypt from 'bcryptjs';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { workDir } from '../../setup/paths.js';
import { COSIGN, INSECURE, clientSandbox } from '../../setup/tools.js';

let reg: DistributionService;

beforeAll(async () => {
  reg = await startDistribution();
});

afterAll(async () => {
  await reg?.stop();
});

/** Manifest digest as the registry reports it. */
async function registryDigest(repo: string, ref: string): Promise<string> {
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: {
      Accept: ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', '),
    },
  });
  expect(r.status).toBe(200);
  return r.headers.get('docker-content-digest')!;
}

async function tags(repo: string): Promise<string[]> {
  const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { tags: string[] }).tags.sort();
}

describe('registry clients against Distribution on loopback', () => {
  test('buildah builds FROM scratch and pushes; skopeo inspects; podman pulls, tags and pushes; umoci unpacks', async () => {
    const a = clientSandbox('buildah');
    const ctx = join(a.dir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'hello.txt'), 'hello from the test bench\n');
    writeFileSync(join(ctx, 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL quay-ts.bench="yes"\n');
    const ref = `${reg.hostPort}/bench/hello`;
    await a.run('buildah', ['--storage-driver', 'vfs', 'bud', '--isolation', 'chroot', '-f', join(ctx, 'Containerfile'), '-t', `${ref}:v1`, ctx]);
    await a.run('buildah', ['push', ...INSECURE.buildah, `${ref}:v1`]);

    const inspect = JSON.parse((await a.run('skopeo', ['inspect', ...INSECURE.skopeo, `docker://${ref}:v1`])).stdout) as {
      Digest: string;
      Labels: Record<string, string>;
      Layers: string[];
    };
    expect(inspect.Labels['quay-ts.bench']).toBe('yes');
    expect(inspect.Layers).toHaveLength(1);
    expect(inspect.Digest).toBe(await registryDigest('bench/hello', 'v1'));

    // A second sandbox has an empty image store: podman must really pull.
    const b = clientSandbox('podman');
    expect((await b.run('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.trim()).toBe('');
    await b.run('podman', ['pull', ...INSECURE.podman, `${ref}:v1`]);
    const labels = JSON.parse((await b.run('podman', ['image', 'inspect', '--format', '{{json .Labels}}', `${ref}:v1`])).stdout);
    expect(labels['quay-ts.bench']).toBe('yes');
    await b.run('podman', ['tag', `${ref}:v1`, `${ref}:v2`]);
    await b.run('podman', ['push', ...INSECURE.podman, `${ref}:v2`]);
    expect(await tags('bench/hello')).toEqual(['v1', 'v2']);
    const listed = JSON.parse((await b.run('skopeo', ['list-tags', ...INSECURE.skopeo, `docker://${ref}`])).stdout) as { Tags: string[] };
    expect(listed.Tags.sort()).toEqual(['v1', 'v2']);

    // skopeo copies to an OCI layout; umoci lists and unpacks it: the file is there, byte for byte.
    const layout = join(b.dir, 'layout');
    await b.run('skopeo', ['copy', ...INSECURE.skopeoCopy, `docker://${ref}:v2`, `oci:${layout}:v2`]);
    expect((await b.run('umoci', ['ls', '--layout', layout])).stdout.trim()).toBe('v2');
    const bundle = join(b.dir, 'bundle');
    await b.run('umoci', ['unpack', '--image', `${layout}:v2`, bundle]);
    expect(readFileSync(join(bundle, 'rootfs', 'hello.txt'), 'utf8')).toBe('hello from the test bench\n');
  });

  test('oras pushes and pulls an artifact', async () => {
    const c = clientSandbox('oras');
    const content = `artifact ${Date.now()}\n`;
    writeFileSync(join(c.dir, 'notes.txt'), content);
    const ref = `${reg.hostPort}/bench/artifact:v1`;
    await c.run('oras', ['push', ...INSECURE.oras, '--artifact-type', 'application/vnd.quay-ts.test', ref, 'notes.txt:text/plain']);
    const manifest = JSON.parse((await c.run('oras', ['manifest', 'fetch', ...INSECURE.oras, ref])).stdout) as {
      artifactType: string;
      layers: { mediaType: string; annotations: Record<string, string> }[];
    };
    expect(manifest.artifactType).toBe('application/vnd.quay-ts.test');
    expect(manifest.layers.map((l) => [l.mediaType, l.annotations['org.opencontainers.image.title']])).toEqual([['text/plain', 'notes.txt']]);
    const out = join(c.dir, 'out');
    await c.run('oras', ['pull', ...INSECURE.oras, '-o', out, ref]);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe(content);
  });

  test('crane appends a layer, copies and exports the image', async () => {
    const c = clientSandbox('crane');
    mkdirSync(join(c.dir, 'layer'));
    writeFileSync(join(c.dir, 'layer', 'crane.txt'), 'made by crane\n');
    execFileSync('tar', ['-C', join(c.dir, 'layer'), '-cf', join(c.dir, 'layer.tar'), 'crane.txt']);
    const ref = `${reg.hostPort}/bench/crane:v1`;
    await c.run('crane', ['append', ...INSECURE.crane, '-f', join(c.dir, 'layer.tar'), '-t', ref]);
    const digest = (await c.run('crane', ['digest', ...INSECURE.crane, ref])).stdout.trim();
    expect(digest).toBe(await registryDigest('bench/crane', 'v1'));
    await c.run('crane', ['copy', ...INSECURE.crane, ref, `${reg.hostPort}/bench/crane-copy:v1`]);
    expect(await registryDigest('bench/crane-copy', 'v1')).toBe(digest);
    expect((await c.run('crane', ['ls', ...INSECURE.crane, `${reg.hostPort}/bench/crane`])).stdout.trim()).toBe('v1');
    await c.run('crane', ['export', ...INSECURE.crane, `${reg.hostPort}/bench/crane-copy:v1`, join(c.dir, 'fs.tar')]);
    const listing = execFileSync('tar', ['-tf', join(c.dir, 'fs.tar')], { encoding: 'utf8' });
    expect(listing.split('\n')).toContain('crane.txt');
  });

  test('helm pushes a chart to OCI and pulls it back', async () => {
    const c = clientSandbox('helm');
    await c.run('helm', ['create', 'benchchart']);
    await c.run('helm', ['package', 'benchchart', '--version', '1.2.3']);
    expect(existsSync(join(c.dir, 'benchchart-1.2.3.tgz'))).toBe(true);
    const push = await c.run('helm', ['push', 'benchchart-1.2.3.tgz', `oci://${reg.hostPort}/charts`, ...INSECURE.helm]);
    const pushed = /Digest:\s*(sha256:[0-9a-f]{64})/.exec(push.stdout + push.stderr)?.[1];
    expect(pushed).toBe(await registryDigest('charts/benchchart', '1.2.3'));
    const shown = await c.run('helm', ['show', 'chart', `oci://${reg.hostPort}/charts/benchchart`, '--version', '1.2.3', ...INSECURE.helm]);
    expect(shown.stdout).toMatch(/^name: benchchart$/m);
    expect(shown.stdout).toMatch(/^version: 1\.2\.3$/m);
    const out = join(c.dir, 'pulled');
    mkdirSync(out);
    await c.run('helm', ['pull', `oci://${reg.hostPort}/charts/benchchart`, '--version', '1.2.3', '-d', out, ...INSECURE.helm]);
    expect(readFileSync(join(out, 'benchchart-1.2.3.tgz')).equals(readFileSync(join(c.dir, 'benchchart-1.2.3.tgz')))).toBe(true);
  });

  test('cosign signs with a key and no transparency log, verifies, and rejects another key', async () => {
    const c = clientSandbox('cosign');
    mkdirSync(join(c.dir, 'layer'));
    writeFileSync(join(c.dir, 'layer', 'signed.txt'), 'sign me\n');
    execFileSync('tar', ['-C', join(c.dir, 'layer'), '-cf', join(c.dir, 'layer.tar'), 'signed.txt']);
    const repo = `${reg.hostPort}/bench/signed`;
    await c.run('crane', ['append', ...INSECURE.crane, '-f', join(c.dir, 'layer.tar'), '-t', `${repo}:v1`]);
    const digest = await registryDigest('bench/signed', 'v1');

    await c.run('cosign', ['generate-key-pair']);
    expect(readFileSync(join(c.dir, 'cosign.pub'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    await c.run('cosign', ['sign', ...COSIGN.sign, '--key', 'cosign.key', `${repo}@${digest}`]);
    // The signature is stored in the registry (tag-based fallback: Distribution 2.8 has no referrers API).
    expect((await tags('bench/signed')).length).toBeGreaterThan(1);

    const ok = await c.run('cosign', ['verify', ...COSIGN.verify, '--key', 'cosign.pub', `${repo}@${digest}`]);
    const claims = JSON.parse(ok.stdout) as { critical: { image: { 'docker-manifest-digest': string } } }[];
    expect(claims[0].critical.image['docker-manifest-digest']).toBe(digest);

    const other = join(c.dir, 'other');
    mkdirSync(other);
    await c.run('cosign', ['generate-key-pair'], { cwd: other });
    const bad = await c.run('cosign', ['verify', ...COSIGN.verify, '--key', join(other, 'cosign.pub'), `${repo}@${digest}`], {
      allowFail: true,
    });
    expect(bad.code).not.toBe(0);
  });
});

describe('Distribution options', () => {
  test('htpasswd auth: anonymous pull is refused, podman login then push and skopeo pull work', async () => {
    const dir = workDir('htpasswd');
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, `bench:${bcrypt.hashSync('s3cret', 10)}\n`);
    const sec = await startDistribution({ htpasswdFile: htpasswd });
    try {
      expect((await fetch(`${sec.url}/v2/`)).status).toBe(401);
      const c = clientSandbox('auth');
      writeFileSync(join(c.dir, 'layer.txt'), 'x');
      execFileSync('tar', ['-C', c.dir, '-cf', join(c.dir, 'layer.tar'), 'layer.txt']);
      const bad = await c.run('podman', ['login', ...INSECURE.podman, '-u', 'bench', '-p', 'wrong', sec.hostPort], { allowFail: true });
      expect(bad.code).not.toBe(0);
      await c.run('podman', ['login', ...INSECURE.podman, '-u', 'bench', '-p', 's3cret', sec.hostPort]);
      expect(JSON.parse(readFileSync(c.authFile, 'utf8')).auths[sec.hostPort]).toBeDefined();
      // skopeo reads the same auth file; crane reads DOCKER_CONFIG, which has no login: it is refused.
      const denied = await c.run('crane', ['append', '-f', join(c.dir, 'layer.tar'), '-t', `${sec.hostPort}/bench/auth:v1`], { allowFail: true });
      expect(denied.code).not.toBe(0);
      await c.run('crane', ['auth', 'login', sec.hostPort, '-u', 'bench', '-p', 's3cret']);
      await c.run('crane', ['append', '-f', join(c.dir, 'layer.tar'), '-t', `${sec.hostPort}/bench/auth:v1`]);
      const out = await c.run('skopeo', ['inspect', ...INSECURE.skopeo, `docker://${sec.hostPort}/bench/auth:v1`]);
      expect(JSON.parse(out.stdout).Layers).toHaveLength(1);
    } finally {
      await sec.stop();
    }
  });

  test('proxy: a pull-through cache serves what its upstream has', async () => {
    const c = clientSandbox('proxy');
    writeFileSync(join(c.dir, 'up.txt'), 'upstream');
    execFileSync('tar', ['-C', c.dir, '-cf', join(c.dir, 'layer.tar'), 'up.txt']);
    await c.run('crane', ['append', '-f', join(c.dir, 'layer.tar'), '-t', `${reg.hostPort}/library/upstream:v1`]);
    const digest = await registryDigest('library/upstream', 'v1');
    const cache = await startDistribution({ proxy: { remoteurl: reg.url } });
    try {
      const got = (await c.run('crane', ['digest', `${cache.hostPort}/library/upstream:v1`])).stdout.trim();
      expect(got).toBe(digest);
      await c.run('crane', ['export', `${cache.hostPort}/library/upstream:v1`, join(c.dir, 'fs.tar')]);
      expect(execFileSync('tar', ['-xOf', join(c.dir, 'fs.tar'), 'up.txt'], { encoding: 'utf8' })).toBe('upstream');
    } finally {
      await cache.stop();
    }
  });
});
