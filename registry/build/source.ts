/**
 * The builder agent's build sources: a build pack fetched over HTTP (zip, tar, tar.gz or a bare Dockerfile,
 * by Content-Type as Quay accepts them, sniffed when the type says nothing) unpacked without trusting it, or
 * a git clone of one exact commit with the trigger's deploy key.
 *
 * Unpacking refuses, with a BuildSourceError the user sees: absolute paths and `..` segments, NUL bytes in
 * names, symlinks (and hard links) whose target leaves the unpack root, device files and FIFOs, more than
 * MAX_ENTRIES entries, and more than maxBytes of content (counted while writing, never from the archive's own
 * size claims, so a zip bomb stops at the limit).
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, open, realpath, rm, symlink, writeFile, link } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, resolve, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { extract as tarExtract } from 'tar-stream';
import type yauzlTypes from 'yauzl';
import { rootCertificates } from 'node:tls';
import { Outbound, type OutboundResponse } from '../net/outbound.js';

/** A problem with the user's source: reported as the build's error (not retried). */
export class BuildSourceError extends Error {
  constructor(
    message: string,
    readonly code = 'io.quay.builder.cannotextractbuildpack',
  ) {
    super(message);
    this.name = 'BuildSourceError';
  }
}

export const DEFAULT_MAX_PACK_BYTES = 1024 ** 3;
const MAX_ENTRIES = 100_000;
const ZIP_TYPES = new Set(['application/zip', 'application/x-zip-compressed']);
const TAR_TYPES = new Set(['application/x-tar', 'application/gzip', 'application/x-gzip']);
const PLAIN_TYPES = new Set(['text/plain', 'application/octet-stream']);

export type PackKind = 'zip' | 'tar' | 'tgz' | 'dockerfile';

/** Counts bytes through a stream and fails past `max`. */
class Limit extends Transform {
  constructor(
    private readonly budget: { left: number },
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.budget.left -= chunk.length;
    if (this.budget.left < 0) cb(new BuildSourceError(`${this.what} is larger than the build pack size limit`));
    else cb(null, chunk);
  }
}

/** The kind of a fetched pack from its first bytes (the Content-Type decides when it is specific). */
export function sniffPack(head: Buffer, contentType: string | null): PackKind {
  const type = contentType?.split(';')[0].trim().toLowerCase() || null;
  const isGzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const isZip = head.length >= 4 && head.readUInt32LE(0) === 0x04034b50;
  const isTar = head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  if (type && ZIP_TYPES.has(type)) return 'zip';
  if (type && TAR_TYPES.has(type)) return isGzip ? 'tgz' : 'tar';
  if (type !== null && !PLAIN_TYPES.has(type))
    throw new BuildSourceError(`Unknown build pack type ${type}: send a Dockerfile, a zip, a tar or a tar.gz archive`, 'io.quay.builder.buildpackissue');
  if (isGzip) return 'tgz';
  if (isZip) return 'zip';
  if (isTar) return 'tar';
  if (head.includes(0)) throw new BuildSourceError('The build pack is neither a Dockerfile nor a zip, tar or tar.gz archive', 'io.quay.builder.buildpackissue');
  return 'dockerfile';
}

/** The path inside `root` an archive entry names; throws for absolute paths, `..` and NUL. */
export function entryPath(root: string, name: string): string {
  if (name.includes('\0')) throw new BuildSourceError('an archive entry name contains a NUL byte');
  const n = name.replace(/\\/g, '/');
  if (n.startsWith('/') || /^[a-zA-Z]:/.test(n)) throw new BuildSourceError(`the archive entry "${name}" has an absolute path`);
  const parts = n.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new BuildSourceError(`the archive entry "${name}" leaves the build context (..)`);
  return join(root, ...parts);
}

function within(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** A symlink at `at` pointing to `target` must resolve inside `root` (lexically; parents are checked below). */
function checkLinkTarget(root: string, at: string, target: string, name: string): void {
  if (target.includes('\0')) throw new BuildSourceError(`the link "${name}" has a NUL byte in its target`);
  if (isAbsolute(target) || posix.isAbsolute(target)) throw new BuildSourceError(`the link "${name}" points to an absolute path (${target})`);
  if (!within(root, resolve(dirname(at), target))) throw new BuildSourceError(`the link "${name}" points outside the build context (${target})`);
}

/** Before writing at `p`, no existing parent may be a symlink leading out of `root` (a link then a file through it). */
async function checkParents(root: string, p: string, name: string): Promise<void> {
  if (p === root) throw new BuildSourceError(`the archive entry "${name}" would replace the build context itself`);
  await mkdir(dirname(p), { recursive: true });
  const real = await realpath(dirname(p));
  if (!within(await realpath(root), real)) throw new BuildSourceError(`the archive entry "${name}" would be written outside the build context`);
  const existing = await lstat(p).catch(() => null);
  if (existing?.isSymbolicLink()) throw new BuildSourceError(`the archive entry "${name}" would be written through a link`);
}

async function writeEntry(root: string, name: string, body: Readable, mode: number, budget: { left: number }): Promise<void> {
  const p = entryPath(root, name);
  await checkParents(root, p, name);
  await pipeline(body, new Limit(budget, 'The unpacked build pack'), createWriteStream(p, { mode: (mode & 0o777) | 0o600 }));
}

export async function unpackTar(file: string, root: string, gz: boolean, maxBytes: number): Promise<void> {
  const budget = { left: maxBytes };
  let entries = 0;
  const ex = tarExtract();
  const done = new Promise<void>((ok, fail) => {
    ex.on('entry', (header, stream, next) => {
      const go = async () => {
        if (++entries > MAX_ENTRIES) throw new BuildSourceError(`the build pack has more than ${MAX_ENTRIES} entries`);
        const name = header.name;
        const p = entryPath(root, name);
        switch (header.type) {
          case 'file':
          case 'contiguous-file':
            await writeEntry(root, name, stream as unknown as Readable, header.mode ?? 0o644, budget);
            return;
          case 'directory':
            if (p === root) break;
            await checkParents(root, p, name);
            await mkdir(p, { recursive: true });
            break;
          case 'symlink':
            checkLinkTarget(root, p, header.linkname ?? '', name);
            await checkParents(root, p, name);
            await symlink(header.linkname!, p);
            break;
          case 'link': {
            const target = entryPath(root, header.linkname ?? '');
            await checkParents(root, p, name);
            const st = await lstat(target).catch(() => null);
            if (!st?.isFile()) throw new BuildSourceError(`the hard link "${name}" does not point to a file of the build pack`);
            await link(target, p);
            break;
          }
          default:
            throw new BuildSourceError(`the archive entry "${name}" is a ${header.type}: only files, directories and links are allowed`);
        }
        stream.resume();
      };
      go().then(
        () => next(),
        (err) => {
          stream.resume();
          ex.destroy(err);
        },
      );
    });
    ex.on('finish', ok);
    ex.on('error', fail);
  });
  const src = (await open(file)).createReadStream();
  const wrap = (err: Error) => {
    throw err instanceof BuildSourceError ? err : new BuildSourceError(`the tar archive cannot be read: ${err.message}`);
  };
  // The tar stream itself is bounded too: a gzip bomb of empty blocks would otherwise inflate without limit.
  const piped = gz ? pipeline(src, createGunzip(), new Limit({ left: maxBytes * 2 + 1024 ** 2 }, 'The decompressed build pack'), ex) : pipeline(src, ex);
  await Promise.all([piped.catch(wrap), done.catch(wrap)]);
}

export async function unpackZip(file: string, root: string, maxBytes: number): Promise<void> {
  const budget = { left: maxBytes };
  // Loaded here, not with the agent: most packs are tarballs or a bare Dockerfile, and every build pays its start.
  const { default: yauzl } = await import('yauzl');
  const zip = await new Promise<yauzlTypes.ZipFile>((ok, fail) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true, validateEntrySizes: true }, (err, z) =>
      err ? fail(new BuildSourceError(`the zip archive cannot be read: ${err.message}`)) : ok(z!),
    ),
  );
  try {
    if (zip.entryCount > MAX_ENTRIES) throw new BuildSourceError(`the build pack has more than ${MAX_ENTRIES} entries`);
    for (;;) {
      const entry = await new Promise<yauzlTypes.Entry | null>((ok, fail) => {
        zip.once('entry', ok);
        zip.once('end', () => ok(null));
        zip.once('error', fail);
        zip.readEntry();
      });
      if (!entry) break;
      zip.removeAllListeners('entry');
      zip.removeAllListeners('end');
      zip.removeAllListeners('error');
      const name = entry.fileName;
      const p = entryPath(root, name);
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const kind = mode & 0o170000;
      const open = () => new Promise<Readable>((ok, fail) => zip.openReadStream(entry, (err, s) => (err ? fail(err) : ok(s!))));
      if (name.endsWith('/') || kind === 0o040000) {
        if (p === root) continue;
        await checkParents(root, p, name);
        await mkdir(p, { recursive: true });
      } else if (kind === 0o120000) {
        const chunks: Buffer[] = [];
        for await (const c of (await open()).pipe(new Limit({ left: 4096 }, `The link target of ${name}`))) chunks.push(c as Buffer);
        const target = Buffer.concat(chunks).toString('utf8');
        checkLinkTarget(root, p, target, name);
        await checkParents(root, p, name);
        await symlink(target, p);
      } else if (kind === 0 || kind === 0o100000) {
        await writeEntry(root, name, await open(), mode || 0o644, budget);
      } else {
        throw new BuildSourceError(`the archive entry "${name}" is a special file: only files, directories and links are allowed`);
      }
    }
  } catch (err) {
    zip.close();
    if (err instanceof BuildSourceError) throw err;
    throw new BuildSourceError(`the zip archive cannot be read: ${(err as Error).message}`);
  }
}

/** Download `url` (SSRF-guarded) into `dir/pack`, then unpack it into `dir/src`; returns the unpacked root. */
export async function fetchPack(
  url: string,
  dir: string,
  opts: { maxBytes: number; allowedHosts: string[]; /** PEM trusted beside the system's CAs (the worker's CA_CERT). */ ca?: string; signal?: AbortSignal },
): Promise<{ root: string; kind: PackKind }> {
  const out = new Outbound({ SSRF_ALLOWED_HOSTS: opts.allowedHosts });
  // A Node stream, not fetch's WHATWG Response: a worker fetches once, and the web-stream machinery's first use
  // costs a fresh process ~50 ms of start-up on the build's critical path.
  let res: OutboundResponse;
  try {
    res = await out.request(url, {
      purpose: 'archive',
      maxResponseBytes: Infinity,
      timeoutMs: 300_000,
      idleTimeoutMs: 120_000,
      ...(opts.ca ? { tls: { ca: [...rootCertificates, opts.ca] } } : {}),
      signal: opts.signal,
    });
  } catch (err) {
    out.close();
    throw new BuildSourceError(`Could not fetch the build pack: ${(err as Error).message}`, 'io.quay.builder.buildpackissue');
  }
  if (res.status !== 200) {
    res.discard();
    out.close();
    throw new BuildSourceError(`Could not fetch the build pack: HTTP ${res.status}`, 'io.quay.builder.buildpackissue');
  }
  const packFile = join(dir, 'pack');
  try {
    await pipeline(res.body, new Limit({ left: opts.maxBytes }, 'The build pack'), createWriteStream(packFile), { signal: opts.signal });
  } catch (err) {
    if (err instanceof BuildSourceError) throw err;
    throw new BuildSourceError(`Could not fetch the build pack: ${(err as Error).message}`, 'io.quay.builder.buildpackissue');
  } finally {
    out.close();
  }
  const fh = await open(packFile);
  const head = Buffer.alloc(512);
  const { bytesRead } = await fh.read(head, 0, 512, 0);
  await fh.close();
  const contentType = res.headers['content-type'];
  const kind = sniffPack(head.subarray(0, bytesRead), contentType ?? null);
  const root = join(dir, 'src');
  await mkdir(root, { recursive: true });
  if (kind === 'zip') await unpackZip(packFile, root, opts.maxBytes);
  else if (kind === 'tar' || kind === 'tgz') await unpackTar(packFile, root, kind === 'tgz', opts.maxBytes);
  else await pipeline((await open(packFile)).createReadStream(), createWriteStream(join(root, 'Dockerfile')));
  await rm(packFile, { force: true });
  return { root, kind };
}

const run = promisify(execFile);

/** git's ssh command for a clone with the deploy key in `keyFile` (and nothing else: no agent, no prompt). */
export function gitSshCommand(keyFile: string): string {
  return `ssh -i ${keyFile} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes`;
}

/**
 * `git clone` + `checkout <sha>` + submodules (when the commit has a .gitmodules) with the deploy key
 * (GIT_SSH_COMMAND names the key file; host keys are not pinned: the trigger names the server, as in Quay). A
 * clone that prints nothing for a minute is killed (Quay's rule).
 */
export async function cloneGit(git: { url: string; sha: string; private_key: string }, dir: string, log: (line: string) => void): Promise<string> {
  const root = join(dir, 'src');
  // Network protocols only, for the clone and its submodules: no local path or file:// on the worker, no ext::.
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ALLOW_PROTOCOL: 'ssh:git:http:https' };
  if (git.private_key) {
    const keyFile = join(dir, 'deploy_key');
    await writeFile(keyFile, git.private_key.endsWith('\n') ? git.private_key : `${git.private_key}\n`, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    env.GIT_SSH_COMMAND = gitSshCommand(keyFile);
  }
  const step = (args: string[], cwd: string, idleMs: number) =>
    new Promise<void>((ok, fail) => {
      const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let timer = setTimeout(() => child.kill('SIGKILL'), idleMs);
      const onData = (b: Buffer) => {
        clearTimeout(timer);
        timer = setTimeout(() => child.kill('SIGKILL'), idleMs);
        for (const l of b.toString('utf8').split(/\r?\n/)) if (l.trim()) log(l);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', fail);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) ok();
        else
          fail(
            new BuildSourceError(
              `git ${args[0]} failed (${signal ? `killed: no output for ${idleMs / 1000} s` : `exit ${code}`})`,
              args[0] === 'clone' ? 'io.quay.builder.gitfailure' : 'io.quay.builder.gitcheckout',
            ),
          );
      });
    });
  // With a commit named, the clone checks out nothing: that commit's is the only checkout.
  await step(['clone', '--progress', ...(git.sha ? ['--no-checkout'] : []), git.url, root], dir, 60_000);
  if (git.sha) await step(['checkout', '--quiet', git.sha], root, 60_000);
  if (existsSync(join(root, '.gitmodules'))) await step(['submodule', 'update', '--init', '--recursive'], root, 15 * 60_000);
  const head = (await run('git', ['rev-parse', 'HEAD'], { cwd: root, env })).stdout.trim();
  log(`checked out ${head}`);
  return root;
}

/**
 * The build directory and the Dockerfile path relative to it, from the pack's root and the BuildPack's
 * context/dockerfile_path; both must stay inside the root (after resolving links).
 */
export async function buildPaths(root: string, context: string, dockerfilePath: string): Promise<{ contextDir: string; dockerfile: string }> {
  const realRoot = await realpath(root);
  const contextDir = resolve(realRoot, `.${posix.normalize(`/${context || '/'}`)}`);
  const relDockerfile = posix.normalize(`/${dockerfilePath || 'Dockerfile'}`);
  const dockerfile = resolve(realRoot, `.${relDockerfile}`);
  for (const [what, p] of [
    ['context', contextDir],
    ['Dockerfile', dockerfile],
  ] as const) {
    const real = await realpath(p).catch(() => null);
    if (real === null)
      throw new BuildSourceError(`The ${what} ${what === 'context' ? context : dockerfilePath} does not exist in the build pack`, 'io.quay.builder.dockerfileissue');
    if (!within(realRoot, real)) throw new BuildSourceError(`The ${what} leaves the build pack`, 'io.quay.builder.dockerfileissue');
  }
  return { contextDir, dockerfile };
}
