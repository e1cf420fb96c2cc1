/**
 * The builder agent (`node dist/registry/main.js builder`): the worker side of the buildman gRPC API, as
 * Quay's quay-builder does it. One process per build, configured by its environment (what the executors set):
 *   TOKEN       the registration JWT            SERVER   gRPC host:port of the build manager
 *   INSECURE    "true": plain-HTTP registry pushes, and plaintext gRPC unless GRPC_TLS says otherwise
 *   GRPC_TLS    "true"/"false": gRPC over TLS or not (default: TLS unless INSECURE)
 *   GRPC_SERVER_NAME  the name the manager's certificate is checked against when it differs from SERVER's host
 *   CA_CERT     PEM bundle trusted for gRPC TLS and, unless INSECURE, by buildah for the registry
 *   SSRF_ALLOWED_HOSTS  comma list the build-pack download may reach although private (the registry itself)
 *   BUILD_WORKDIR       scratch directory (default: the OS temp dir); MAX_PACK_BYTES (default 1 GiB)
 *   LAYER_CACHE "true": build with --layers, each step's image pushed to / looked up in the build's repository
 * Sequence: LogMessage stream, RegisterBuildJob -> BuildPack, Heartbeat loop (every 2 s; three refusals
 * in a row stop the build), SetPhase(UNPACKING) + fetch/unpack or git clone, SetPhase(PULLING),
 * SetPhase(BUILDING) + `buildah bud` (vfs storage of its own, chroot isolation), SetPhase(PUSHING) + the push
 * with the build's token (one tag: bud commits straight to the registry; several: `buildah push` of each),
 * SetPhase(COMPLETE). A failure logs the error line and ends in SetPhase(ERROR). The registry's own
 * credentials are never here: only the build's token.
 * A standby agent (agent_main.ts, JOB_FROM_STDIN) is started before its build: it connects, then reads TOKEN
 * and BUILD_UUID from its stdin and runs that one build.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buffer } from 'node:stream/consumers';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { BuildSourceError, DEFAULT_MAX_PACK_BYTES, buildPaths, cloneGit, fetchPack } from './source.js';
import { manifestOf } from './retag.js';
import { buildManagerService, type BuildPackMessage, type PhaseName } from './proto.js';

export type AgentClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type Client = AgentClient;

/** The build was refused by the manager (cancelled, expired): stop without reporting an error. */
class Rejected extends Error {}

function unary<T>(client: Client, method: string, req: unknown, deadlineS = 30): Promise<T> {
  return new Promise((ok, fail) => {
    client[method](req, { deadline: Date.now() + deadlineS * 1000 }, (err: grpc.ServiceError | null, res: T) => (err ? fail(err) : ok(res)));
  });
}

/**
 * RegisterBuildJob, called again while the manager answers UNAVAILABLE (it is still recording the worker it
 * just started, or is not reachable yet), after 5 ms at first and then less often, for at most 60 s (the
 * registration JWT's lifetime at least).
 */
async function register(client: Client, token: string): Promise<BuildPackMessage> {
  const end = Date.now() + 60_000;
  for (let wait = 5; ; wait = Math.min(wait * 2, 1000)) {
    try {
      return await unary<BuildPackMessage>(client, 'RegisterBuildJob', { register_jwt: token }, 60);
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE || Date.now() + wait > end) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** The first FROM image of a Dockerfile, for the PULLING phase's metadata. */
export function baseImageOf(dockerfile: string): { image: string; tag: string } | null {
  for (const raw of dockerfile.split(/\r?\n/)) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(raw);
    if (!m) continue;
    const ref = m[1];
    const at = ref.indexOf('@');
    const colon = ref.lastIndexOf(':');
    if (at >= 0) return { image: ref.slice(0, at), tag: ref.slice(at + 1) };
    if (colon > ref.lastIndexOf('/')) return { image: ref.slice(0, colon), tag: ref.slice(colon + 1) };
    return { image: ref, tag: 'latest' };
  }
  return null;
}

/** The last error line of a command's output with the lines after it (buildah prints "errors:" then the causes). */
function failureText(lines: string[]): string {
  const at = lines.findLastIndex((l) => /error/i.test(l));
  if (at < 0) return lines[lines.length - 1] ?? '';
  return lines
    .slice(at, at + 4)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

/** The gRPC client of the build manager at SERVER (TLS per GRPC_TLS/INSECURE, trusting CA_CERT); null without SERVER. */
export function connectAgent(env: NodeJS.ProcessEnv): AgentClient | null {
  const server = env.SERVER;
  if (!server) return null;
  const grpcTls = env.GRPC_TLS ? env.GRPC_TLS === 'true' : env.INSECURE !== 'true';
  const creds = grpcTls ? grpc.credentials.createSsl(env.CA_CERT ? Buffer.from(env.CA_CERT) : undefined) : grpc.credentials.createInsecure();
  const Service = buildManagerService();
  return new Service(server, creds, {
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    ...(grpcTls && env.GRPC_SERVER_NAME ? { 'grpc.ssl_target_name_override': env.GRPC_SERVER_NAME, 'grpc.default_authority': env.GRPC_SERVER_NAME } : {}),
  }) as unknown as AgentClient;
}

/**
 * A standby agent's warm-up while it waits for its job (niced, so at no running build's expense): in a fresh
 * process the first run of a code path costs several times the later ones (lazy parts of modules, the JIT),
 * ~40 ms of a build's critical path for the pack's download and unpack alone. So the steps every build takes
 * first run once on nothing of a build: a Ping over the manager's channel, a small tar.gz pack served by this
 * process on loopback, fetched and unpacked as a build's pack is, and a `buildah --version` started as the
 * build's buildah is (its binary read from disk too). True when the pack went through; failures are ignored
 * (nothing depends on it; the agent's output stays clean).
 */
export async function warmUp(client: AgentClient | null, env: NodeJS.ProcessEnv): Promise<boolean> {
  const dir = await mkdtemp(join(env.BUILD_WORKDIR || tmpdir(), 'quay-build-warm-'));
  const server = createServer();
  try {
    if (client) await unary(client, 'Ping', {}, 10).catch(() => undefined);
    const pack = tarPack();
    pack.entry({ name: 'Dockerfile' }, 'FROM scratch\n');
    pack.finalize();
    const tgz = await buffer(pack.pipe(createGzip()));
    server.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': tgz.length }).end(tgz));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as { port: number };
    const got = await fetchPack(`http://127.0.0.1:${port}/pack.tgz`, dir, { maxBytes: 1024 * 1024, allowedHosts: ['127.0.0.1'] });
    const { dockerfile } = await buildPaths(got.root, '/', '/Dockerfile');
    baseImageOf(await readFile(dockerfile, 'utf8'));
    await new Promise<void>((ok) => {
      const child = spawn('buildah', ['--version'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child.stdout.resume();
      child.stderr.resume();
      child.on('error', () => ok());
      child.on('close', () => ok());
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Run one build. `connected` is a client made beforehand by connectAgent (a standby agent connects while it
 * waits for its job); runAgent closes it.
 */
export async function runAgent(env: NodeJS.ProcessEnv = process.env, connected: AgentClient | null = null): Promise<number> {
  const token = env.TOKEN;
  const client = connected ?? connectAgent(env);
  if (!token || !client) {
    console.error('builder: TOKEN and SERVER must be set (the executor sets them)');
    client?.close();
    return 2;
  }
  const insecure = env.INSECURE === 'true';
  const layerCache = env.LAYER_CACHE === 'true';
  const work = await mkdtemp(join(env.BUILD_WORKDIR || tmpdir(), 'quay-build-'));
  let jobJwt = '';
  let seq = 0;
  let logSeq = 0;
  let current: ChildProcess | null = null;
  let stopped = false;
  const abort = new AbortController();
  const logStream = client.LogMessage() as grpc.ClientDuplexStream<unknown, { success: boolean; sequence_number: number }>;
  let logAcked = 0;
  let onAck: (() => void) | null = null;
  logStream.on('data', (r: { sequence_number: number }) => {
    logAcked = Math.max(logAcked, r.sequence_number);
    onAck?.();
  });
  logStream.on('error', () => undefined);
  const log = (message: unknown) => {
    if (!jobJwt) return;
    const text = typeof message === 'string' ? JSON.stringify({ stream: message }) : JSON.stringify(message);
    logStream.write({ job_jwt: jobJwt, sequence_number: ++logSeq, log_message: text, phase: '' });
  };
  const stopBuild = () => {
    stopped = true;
    abort.abort();
    if (current?.pid) {
      try {
        process.kill(-current.pid, 'SIGKILL');
      } catch {
        current.kill('SIGKILL');
      }
    }
  };
  const setPhase = async (phase: PhaseName, pull?: Record<string, string>) => {
    // A final phase settles the build and archives its logs: the log lines before it must have arrived.
    if (phase === 'COMPLETE' || phase === 'ERROR') {
      // Woken by each acknowledgement (not polled: the last lines' ack is usually a millisecond away).
      const deadline = Date.now() + 10_000;
      while (logAcked < logSeq && Date.now() < deadline) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, deadline - Date.now());
          onAck = () => {
            clearTimeout(t);
            r();
          };
        });
        onAck = null;
      }
    }
    const n = ++seq;
    const res = await unary<{ success: boolean; sequence_number: number }>(client, 'SetPhase', { job_jwt: jobJwt, sequence_number: n, phase, pull_metadata: pull ?? null });
    if (!res.success || res.sequence_number !== n) throw new Rejected(`the manager refused the phase ${phase}`);
  };
  /**
   * The phases on the way (unpacking, pulling, building, pushing) are reported in order but not waited for:
   * each answer is a round trip through the manager's database, off the build's critical path. A refusal
   * (the build was cancelled or expired) stops the build as soon as it arrives; the final phase waits for them.
   */
  let phases: Promise<void> = Promise.resolve();
  let refused: Error | null = null;
  const reportPhase = (phase: PhaseName, pull?: Record<string, string>) => {
    phases = phases.then(async () => {
      if (refused) return;
      try {
        await setPhase(phase, pull);
      } catch (err) {
        refused = err instanceof Rejected ? err : new Error(`reporting the phase ${phase} failed: ${(err as Error).message}`);
        stopBuild();
      }
    });
  };
  const finalPhase = async (phase: 'COMPLETE' | 'ERROR') => {
    await phases;
    if (refused && phase === 'COMPLETE') throw refused;
    await setPhase(phase);
  };
  /** Run a command in its own process group, every output line to the build log. */
  const exec = (what: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void } = {}) =>
    new Promise<void>((ok, fail) => {
      if (stopped) return fail(new Rejected('stopped'));
      const child = spawn(cmd, args, { cwd: opts.cwd ?? work, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      current = child;
      const lines: string[] = [];
      for (const s of [child.stdout, child.stderr]) {
        createInterface({ input: s }).on('line', (l) => {
          lines.push(l);
          if (lines.length > 20) lines.shift();
          log(l);
          opts.onLine?.(l);
        });
      }
      child.on('error', fail);
      child.on('close', (code, signal) => {
        current = null;
        if (stopped) fail(new Rejected('stopped'));
        else if (code === 0) ok();
        else fail(new Error(`${what} failed (${signal ?? `exit code ${code}`}): ${failureText(lines)}`));
      });
    });

  let heartbeat: NodeJS.Timeout | null = null;
  let hbStream: grpc.ClientDuplexStream<unknown, { reply: boolean }> | null = null;
  try {
    // No Ping first: registering is the first call (one round trip less; its failure says as much).
    const pack = await register(client, token);
    jobJwt = pack.job_jwt;

    hbStream = client.Heartbeat() as grpc.ClientDuplexStream<unknown, { reply: boolean }>;
    let refusals = 0;
    hbStream.on('data', (r: { reply: boolean }) => {
      refusals = r.reply ? 0 : refusals + 1;
      if (refusals >= 3) stopBuild();
    });
    // The manager went away (its process died): stop, so that the retry on another manager is the only push.
    hbStream.on('error', () => stopBuild());
    const beat = () => hbStream?.write({ job_jwt: jobJwt });
    beat();
    heartbeat = setInterval(beat, 2000);

    // Which process runs the build (and on which host): the operator's handle on a worker.
    log(`builder agent: process ${process.pid} on ${hostname()}`);
    reportPhase('UNPACKING');
    let root: string;
    if (pack.git_package?.url) {
      log(`cloning ${pack.git_package.url} at ${pack.git_package.sha}`);
      root = await cloneGit(pack.git_package, work, log);
    } else if (pack.package_url) {
      // The registry itself serves uploaded packs: its host is allowed although its address may be private.
      const allowed = [...(env.SSRF_ALLOWED_HOSTS ?? '').split(','), pack.registry.replace(/:\d+$/, '')].map((h) => h.trim()).filter(Boolean);
      const got = await fetchPack(pack.package_url, work, {
        maxBytes: Number(env.MAX_PACK_BYTES) || DEFAULT_MAX_PACK_BYTES,
        allowedHosts: allowed,
        ca: env.CA_CERT || undefined,
        signal: abort.signal,
      });
      log(`unpacked the build pack (${got.kind})`);
      root = got.root;
    } else {
      throw new BuildSourceError('The build has neither a package URL nor a git source', 'io.quay.builder.missingorinvalidargument');
    }
    const { contextDir, dockerfile } = await buildPaths(root, pack.context, pack.dockerfile_path);

    const base = baseImageOf(await readFile(dockerfile, 'utf8'));
    reportPhase('PULLING', base ? { registry_url: pack.registry, base_image: base.image, base_image_tag: base.tag, pull_username: pack.base_image?.username ?? '' } : undefined);

    // Credentials for the registry only: the pull robot for base images when given, else the build token;
    // buildah reads them from an auth file (never from the command line).
    const authFile = join(work, 'auth.json');
    const basic = (u: string, p: string) => ({ auth: Buffer.from(`${u}:${p}`).toString('base64') });
    const auth = (u: string, p: string) => ({ auths: { [pack.registry]: basic(u, p) } });
    const image = `${pack.registry}/${pack.repository}`;
    const pullAuth = pack.base_image?.username ? auth(pack.base_image.username, pack.base_image.password) : auth('$token', pack.pull_token);
    // `buildah bud` commits the first tag straight to the registry (no second buildah process to reopen the
    // store and push) and the other tags get the same manifest through the registry's API (retag.ts), except with
    // the layer cache (buildah 1.28 then fails to push the last step's cache image): then it builds into the
    // local store and pushes each tag. The layer cache lives in the build's repository too. Only the build's
    // token may push there: an entry for that repository (more specific than the registry's, so buildah picks
    // it there) carries it.
    const tags = pack.tag_names.length > 0 ? pack.tag_names : ['latest'];
    const direct = !layerCache;
    Object.assign(pullAuth.auths, { [image]: basic('$token', pack.push_token) });
    await writeFile(authFile, JSON.stringify(pullAuth), { mode: 0o600 });
    const storage = ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
    let tls = insecure ? ['--tls-verify=false'] : [];
    if (!insecure && env.CA_CERT) {
      // buildah reads a registry's extra CAs from a directory of *.crt files.
      await mkdir(join(work, 'certs'), { recursive: true });
      await writeFile(join(work, 'certs', 'ca.crt'), env.CA_CERT);
      tls = ['--cert-dir', join(work, 'certs')];
    }
    const isolation = env.BUILDAH_ISOLATION || env.BULDAH_ISOLATION || 'chroot';
    let cache = ['--layers=false'];
    if (layerCache) {
      // Quay's DetermineCachedTag says whether the repository has an image to start from. buildah does not
      // reuse the layers of a pulled image (its cache matches per step), so instead every step's image is
      // pushed under buildah's cache key (--cache-to) and looked up by it (--cache-from) in the repository.
      const cached = await unary<{ CachedTag: string }>(client, 'DetermineCachedTag', {
        job_jwt: jobJwt,
        base_image_name: base?.image ?? '',
        base_image_tag: base?.tag ?? '',
        base_image_id: '',
      });
      cache = ['--layers', '--cache-to', image, ...(cached.CachedTag ? ['--cache-from', image] : [])];
      log(cached.CachedTag ? `layer cache: ${image} (it has ${cached.CachedTag})` : `layer cache: ${image} (empty: nothing to reuse yet)`);
    }

    reportPhase('BUILDING');
    const bud = (target: string, onLine?: (line: string) => void) =>
      exec('buildah bud', 'buildah', [...storage, 'bud', '--isolation', isolation, '--authfile', authFile, ...tls, ...cache, '-f', dockerfile, '-t', target, contextDir], {
        env: { BUILDAH_ISOLATION: isolation, REGISTRY_AUTH_FILE: authFile },
        onLine,
      });
    /** Three tries of a push (a failed build is not retried: only a failure once the push began). */
    const pushing = async <T>(what: string, push: (begun: () => void) => Promise<T>): Promise<T> => {
      for (let tries = 1; ; tries++) {
        let begun = false;
        try {
          return await push(() => (begun = true));
        } catch (err) {
          if (err instanceof Rejected || !begun || tries >= 3) throw err;
          log(`${what} failed, trying again`);
        }
      }
    };
    if (direct) {
      // buildah prints "COMMIT docker://…" when the final image's commit, which is the push, begins.
      let reported = false;
      await pushing(`push of ${tags[0]}`, (begun) =>
        bud(`docker://${image}:${tags[0]}`, (line) => {
          if (!line.startsWith('COMMIT docker://')) return;
          begun();
          if (!reported) reportPhase('PUSHING');
          reported = true;
        }),
      );
      // Keep Quay's phase sequence should a buildah print its commit differently.
      if (!reported) reportPhase('PUSHING');
      if (tags.length > 1) {
        const target = { registry: pack.registry, repository: pack.repository, insecure, ca: env.CA_CERT || undefined, pushToken: pack.push_token };
        const tagAs = await pushing(`reading the manifest of ${tags[0]}`, (begun) => {
          begun();
          return manifestOf(target, tags[0]);
        });
        for (const tag of tags.slice(1)) {
          await pushing(`tagging ${tag}`, async (begun) => {
            begun();
            await tagAs(tag);
          });
          log(`tagged ${image}:${tag} (the manifest of ${tags[0]})`);
        }
      }
    } else {
      await bud(`${image}:${tags[0]}`);
      reportPhase('PUSHING');
      await writeFile(authFile, JSON.stringify(auth('$token', pack.push_token)), { mode: 0o600 });
      for (const tag of tags) {
        await pushing(`push of ${tag}`, async (begun) => {
          begun();
          await exec(`buildah push of ${tag}`, 'buildah', [...storage, 'push', '--authfile', authFile, ...tls, `${image}:${tags[0]}`, `docker://${image}:${tag}`]);
        });
      }
    }
    await finalPhase('COMPLETE');
    return 0;
  } catch (err) {
    if (err instanceof Rejected || stopped || refused) {
      console.error(`builder: stopped: ${(err as Error).message}`);
      return 3;
    }
    const message = (err as Error).message ?? String(err);
    console.error(`builder: ${message}`);
    try {
      if (jobJwt) {
        log({ error: message, errorDetail: { code: err instanceof BuildSourceError ? err.code : 'io.quay.builder.builderror' } });
        await finalPhase('ERROR');
      }
    } catch {
      // The manager is gone or refused: the job expires on its side.
    }
    return 1;
  } finally {
    if (heartbeat) clearInterval(heartbeat);
    hbStream?.end();
    await new Promise<void>((ok) => logStream.end(ok));
    client.close();
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}
