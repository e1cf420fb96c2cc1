/**
 * The builder agent's unpacking against hostile packs made with Python's zipfile/tarfile (real archive
 * bytes): zip bombs and tar.gz bombs stop at the size limit, traversal, absolute names, escaping symlinks,
 * writes through a symlink, hard links out, device files; sniffing; context/Dockerfile paths that leave the pack.
 * And the download over real HTTP (a server of the test): the content type, a refused status, the size limit;
 * a standby's warm-up runs that path and leaves nothing in its work directory. The git clone allows network
 * protocols only: a repository on the worker's own disk is not cloned, nor one a submodule names there; over
 * git:// (Debian's git daemon) it checks out exactly the named commit, with its submodules.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { BuildSourceError, buildPaths, cloneGit, fetchPack, sniffPack, unpackTar, unpackZip } from '../../../registry/build/source.js';
import { warmUp } from '../../../registry/build/agent.js';
import { freePort } from '../../setup/procs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unpack-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a Python snippet with `out` = the archive path to write. */
function py(script: string): string {
  const out = join(dir, 'archive');
  execFileSync('python3', ['-c', `import sys, zipfile, tarfile, io, stat\nout = sys.argv[1]\n${script}`, out]);
  return out;
}

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BuildSourceError);
  expect((err as Error).message).toMatch(re);
}

const root = () => {
  const r = join(dir, 'src');
  mkdirSync(r, { recursive: true });
  return r;
};

test('a zip bomb stops at the size limit (the archive claims nothing true)', async () => {
  const f = py("z = zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED)\nz.writestr('Dockerfile', 'FROM scratch\\n')\nz.writestr('zeros', b'\\0' * (64 * 1024 * 1024))\nz.close()");
  expect(readFileSync(f).length).toBeLessThan(1024 * 1024);
  await refused(unpackZip(f, root(), 8 * 1024 * 1024), /larger than the build pack size limit/);
});

test('a tar.gz bomb stops at the size limit', async () => {
  const f = py("t = tarfile.open(out, 'w:gz')\ndata = b'\\0' * (64 * 1024 * 1024)\ni = tarfile.TarInfo('zeros'); i.size = len(data); t.addfile(i, io.BytesIO(data))\nt.close()");
  await refused(unpackTar(f, root(), true, 8 * 1024 * 1024), /larger than the build pack size limit|decompressed build pack/);
});

test('zip: traversal, absolute names and escaping symlinks are refused; a good zip unpacks', async () => {
  await refused(unpackZip(py("z = zipfile.ZipFile(out, 'w')\nz.writestr('../evil', 'x')\nz.close()"), root(), 1e6), /leaves the build context|invalid relative path/);
  await refused(unpackZip(py("z = zipfile.ZipFile(out, 'w')\nz.writestr('/etc/evil', 'x')\nz.close()"), root(), 1e6), /absolute path|leaves/);
  const link = py("z = zipfile.ZipFile(out, 'w')\ni = zipfile.ZipInfo('up')\ni.external_attr = (stat.S_IFLNK | 0o777) << 16\nz.writestr(i, '../../etc')\nz.close()");
  await refused(unpackZip(link, root(), 1e6), /points outside the build context/);
  const good = py(
    "z = zipfile.ZipFile(out, 'w')\nz.writestr('Dockerfile', 'FROM scratch\\n')\nz.writestr('app/a.txt', 'a')\ni = zipfile.ZipInfo('app/link')\ni.external_attr = (stat.S_IFLNK | 0o777) << 16\nz.writestr(i, 'a.txt')\nz.close()",
  );
  const r = join(dir, 'good');
  mkdirSync(r);
  await unpackZip(good, r, 1e6);
  expect(readFileSync(join(r, 'app/link'), 'utf8')).toBe('a');
  expect(readdirSync(r).sort()).toEqual(['Dockerfile', 'app']);
});

test('tar: device files, absolute symlinks, writes through a symlink and hard links out are refused', async () => {
  await refused(
    unpackTar(py("t = tarfile.open(out, 'w')\ni = tarfile.TarInfo('dev'); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; t.addfile(i)\nt.close()"), root(), false, 1e6),
    /character-device/,
  );
  await refused(
    unpackTar(py("t = tarfile.open(out, 'w')\ni = tarfile.TarInfo('fifo'); i.type = tarfile.FIFOTYPE; t.addfile(i)\nt.close()"), join(dir, 'src2'), false, 1e6),
    /fifo/,
  );
  await refused(
    unpackTar(py("t = tarfile.open(out, 'w')\ni = tarfile.TarInfo('etc'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; t.addfile(i)\nt.close()"), root(), false, 1e6),
    /absolute path/,
  );
  // A link to the parent, then a file written through it.
  const through = py(
    "t = tarfile.open(out, 'w')\ni = tarfile.TarInfo('d'); i.type = tarfile.DIRTYPE; t.addfile(i)\ni = tarfile.TarInfo('d/up'); i.type = tarfile.SYMTYPE; i.linkname = '..'; t.addfile(i)\ni = tarfile.TarInfo('d/up/x'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))\nt.close()",
  );
  const r = join(dir, 'through');
  mkdirSync(r);
  // 'd/up' -> '..' stays inside (it is the root itself); writing d/up/x lands at the root, which is allowed.
  await unpackTar(through, r, false, 1e6);
  expect(readFileSync(join(r, 'x'), 'utf8')).toBe('x');
  const escape = py(
    "t = tarfile.open(out, 'w')\ni = tarfile.TarInfo('up'); i.type = tarfile.SYMTYPE; i.linkname = '..'; t.addfile(i)\ni = tarfile.TarInfo('up/x'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))\nt.close()",
  );
  await refused(unpackTar(escape, join(dir, 'src3'), false, 1e6), /outside the build context/);
  await refused(
    unpackTar(py("t = tarfile.open(out, 'w')\ni = tarfile.TarInfo('h'); i.type = tarfile.LNKTYPE; i.linkname = '../../etc/passwd'; t.addfile(i)\nt.close()"), root(), false, 1e6),
    /leaves the build context/,
  );
});

test('sniffing: by type, then by magic; unknown types and binary data are refused', () => {
  const tar = Buffer.alloc(512);
  tar.write('ustar', 257, 'latin1');
  expect(sniffPack(Buffer.from([0x1f, 0x8b, 8, 0]), null)).toBe('tgz');
  expect(sniffPack(Buffer.from('PK\x03\x04', 'latin1'), 'application/octet-stream')).toBe('zip');
  expect(sniffPack(tar, null)).toBe('tar');
  expect(sniffPack(Buffer.from('FROM scratch\n'), 'text/plain; charset=utf-8')).toBe('dockerfile');
  expect(() => sniffPack(Buffer.from('x'), 'image/png')).toThrow(/Unknown build pack type image\/png/);
  expect(() => sniffPack(Buffer.from([0x89, 0x50, 0, 1]), null)).toThrow(/neither a Dockerfile/);
});

test('context and Dockerfile paths stay inside the pack, links included', async () => {
  const r = root();
  mkdirSync(join(r, 'sub'));
  writeFileSync(join(r, 'sub', 'Dockerfile'), 'FROM scratch\n');
  symlinkSync('/etc', join(r, 'out'));
  const p = await buildPaths(r, '/sub', '/sub/Dockerfile');
  expect(p.contextDir.endsWith('/src/sub')).toBe(true);
  // `..` is normalised against the root, never above it.
  expect((await buildPaths(r, '/../../sub', 'sub/Dockerfile')).contextDir).toBe(p.contextDir);
  await refused(buildPaths(r, '/out', '/sub/Dockerfile'), /leaves the build pack/);
  await refused(buildPaths(r, '/', '/missing/Dockerfile'), /does not exist/);
});

/** Serve `body` with `type` and `status` on loopback for the duration of `fn`. */
async function served<T>(status: number, type: string, body: Buffer, fn: (url: string) => Promise<T>): Promise<T> {
  const server: Server = createServer((_req, res) => res.writeHead(status, { 'content-type': type, 'content-length': body.length }).end(body));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as { port: number }).port}/pack`);
  } finally {
    server.close();
  }
}

test('fetchPack over HTTP: a tar.gz is unpacked by its content type; a refused status, an unknown type and an oversized pack fail', async () => {
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n');
  writeFileSync(join(ctx, 'a.txt'), 'a\n');
  const tgz = execFileSync('tar', ['-C', ctx, '-czf', '-', '.']);
  const opts = { maxBytes: 1024 * 1024, allowedHosts: ['127.0.0.1'] };
  const work = (name: string) => {
    const w = join(dir, name);
    mkdirSync(w);
    return w;
  };
  const got = await served(200, 'application/gzip', tgz, (url) => fetchPack(url, work('ok'), opts));
  expect(got.kind).toBe('tgz');
  expect(readFileSync(join(got.root, 'a.txt'), 'utf8')).toBe('a\n');
  expect(readdirSync(join(dir, 'ok')).sort()).toEqual(['src']);
  await refused(
    served(404, 'text/plain', Buffer.from('no'), (url) => fetchPack(url, work('404'), opts)),
    /HTTP 404/,
  );
  await refused(
    served(200, 'image/png', tgz, (url) => fetchPack(url, work('png'), opts)),
    /Unknown build pack type image\/png/,
  );
  await refused(
    served(200, 'application/gzip', tgz, (url) => fetchPack(url, work('big'), { ...opts, maxBytes: 16 })),
    /larger than the build pack size limit/,
  );
  // The address check still applies: loopback without being allowed is refused.
  await refused(
    served(200, 'application/gzip', tgz, (url) => fetchPack(url, work('ssrf'), { ...opts, allowedHosts: [] })),
    /Could not fetch the build pack/,
  );
});

test("a standby's warm-up fetches and unpacks in its work directory and leaves nothing there", async () => {
  const work = join(dir, 'work');
  mkdirSync(work);
  expect(await warmUp(null, { ...process.env, BUILD_WORKDIR: work })).toBe(true);
  expect(readdirSync(work)).toEqual([]);
});

const gitEnv = { GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.com' };
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, env: { ...process.env, ...gitEnv } })
    .toString()
    .trim();

/** A repository at `dir/<name>` with one commit of one file. */
function oneCommitRepo(name: string, file: string, content: string): string {
  const repo = join(dir, name);
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, file), content);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', name);
  return repo;
}

test("over git:// (git daemon) the clone checks out exactly the named commit, with its submodule; a submodule on the worker's disk is refused", async () => {
  const served = join(dir, 'served');
  mkdirSync(served);
  const lib = oneCommitRepo('lib', 'lib.txt', 'from the submodule\n');
  git(served, 'clone', '-q', '--bare', lib, 'lib.git');
  git(served, 'init', '-q', '--bare', '-b', 'main', 'app.git');
  const port = await freePort();
  const base = `git://127.0.0.1:${port}`;
  const daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${served}`, '--listen=127.0.0.1', `--port=${port}`, served], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        git(dir, 'ls-remote', `${base}/lib.git`);
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const app = join(dir, 'app');
    mkdirSync(app);
    git(app, 'init', '-q', '-b', 'main');
    writeFileSync(join(app, 'msg.txt'), 'first\n');
    git(app, 'submodule', 'add', '-q', `${base}/lib.git`, 'lib');
    git(app, 'add', '-A');
    git(app, 'commit', '-q', '-m', 'first, with lib');
    const first = git(app, 'rev-parse', 'HEAD');
    writeFileSync(join(app, 'msg.txt'), 'second\n');
    git(app, 'commit', '-q', '-am', 'second');
    git(app, 'push', '-q', join(served, 'app.git'), 'main:main');

    const out = join(dir, 'clone-ok');
    mkdirSync(out);
    const root = await cloneGit({ url: `${base}/app.git`, sha: first, private_key: '' }, out, () => undefined);
    expect(readFileSync(join(root, 'msg.txt'), 'utf8')).toBe('first\n');
    expect(readFileSync(join(root, 'lib', 'lib.txt'), 'utf8')).toBe('from the submodule\n');
    expect(git(root, 'rev-parse', 'HEAD')).toBe(first);

    // The same submodule named by a path on the worker's disk: refused, and nothing of it is checked out.
    git(app, 'config', '-f', '.gitmodules', 'submodule.lib.url', join(served, 'lib.git'));
    git(app, 'commit', '-q', '-am', 'lib from a path');
    const local = git(app, 'rev-parse', 'HEAD');
    git(app, 'push', '-q', join(served, 'app.git'), 'main:main');
    const bad = join(dir, 'clone-bad');
    mkdirSync(bad);
    const lines: string[] = [];
    await refused(
      cloneGit({ url: `${base}/app.git`, sha: local, private_key: '' }, bad, (l) => lines.push(l)),
      /git submodule failed/,
    );
    expect(lines.join('\n')).toMatch(/transport 'file' not allowed/);
    expect(existsSync(join(bad, 'src', 'lib', 'lib.txt'))).toBe(false);
  } finally {
    daemon.kill();
  }
});

test("the git clone refuses a repository on the worker's own disk (path or file://)", async () => {
  const secret = oneCommitRepo('secret', 'key', 'a secret of the worker host\n');
  for (const url of [secret, `file://${secret}`]) {
    const out = join(dir, `clone-${readdirSync(dir).length}`);
    mkdirSync(out);
    const lines: string[] = [];
    await refused(
      cloneGit({ url, sha: '', private_key: '' }, out, (l) => lines.push(l)),
      /git clone failed/,
    );
    expect(lines.join('\n')).toMatch(/transport 'file' not allowed/);
    expect(readdirSync(out).includes('src') && readdirSync(join(out, 'src')).includes('key')).toBe(false);
  }
  // Without the allow-list git would clone it: the refusal above is the protocol rule, not a broken repository.
  const plain = join(dir, 'plain');
  git(dir, 'clone', '-q', secret, plain);
  expect(readFileSync(join(plain, 'key'), 'utf8')).toBe('a secret of the worker host\n');
});
