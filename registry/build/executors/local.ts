/**
 * The local executor (EXECUTOR: popen): the builder agent as a child process of the manager, in a process
 * group of its own so that stopping it also ends the buildah it runs. The embedded default, and the way
 * `npm start` builds. Keys: WORKER_COMMAND (argv of the agent; default the agent's own entry, dist/registry/build/agent_main.js),
 * BUILD_WORKDIR, DEBUG (never stop the worker).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutorSettings } from '../config.js';
import type { Executor, WorkerStart } from './index.js';

/** The agent's own entry (main.js's `builder` role without main.js's imports: a faster start). */
const AGENT = fileURLToPath(new URL('../agent_main.js', import.meta.url));

export interface LocalExecutorOptions {
  /** gRPC address the agent calls. */
  server: string;
  /** The manager serves gRPC over TLS: the name its certificate carries (the agent dials loopback). */
  grpcTls: { serverName: string } | null;
  /** PEM bundle the agent trusts (CA_CERT). */
  caCert: string;
  /** Plain-HTTP pushes (PREFERRED_URL_SCHEME http). */
  insecure: boolean;
  /** SERVER_HOSTNAME (REGISTRY_HOSTNAME for the worker). */
  registryHostname: string;
  /** Hosts the agent may download build packs from although private (the registry itself, SSRF_ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** Where each worker's output goes (one file per build), or null to discard it. */
  logDir: string | null;
}

export class LocalExecutor implements Executor {
  readonly name: string;
  private readonly children = new Map<string, ChildProcess>();

  constructor(
    readonly settings: ExecutorSettings,
    private readonly opts: LocalExecutorOptions,
  ) {
    this.name = settings.NAME ?? settings.EXECUTOR;
  }

  /** The pids of live workers (tests check that a stopped worker is gone). */
  pids(): number[] {
    return [...this.children.values()].map((c) => c.pid!).filter(Boolean);
  }

  async start(w: WorkerStart): Promise<string> {
    const id = randomUUID();
    const cmd = (this.settings.WORKER_COMMAND as string[] | undefined) ?? [process.execPath, AGENT];
    // The host's containers configuration (CONTAINERS_*, TMPDIR) applies to its local workers too.
    const host = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CONTAINERS_') || k === 'TMPDIR' || k === 'XDG_RUNTIME_DIR'));
    const env: NodeJS.ProcessEnv = {
      ...host,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TOKEN: w.registrationJwt,
      BUILD_UUID: w.buildUuid,
      SERVER: this.opts.server,
      REGISTRY_HOSTNAME: this.opts.registryHostname,
      CONTAINER_RUNTIME: 'podman',
      BUILDAH_ISOLATION: 'chroot',
      EXECUTOR: 'popen',
      SSRF_ALLOWED_HOSTS: this.opts.allowedHosts.join(','),
      ...(this.opts.insecure ? { INSECURE: 'true' } : {}),
      GRPC_TLS: this.opts.grpcTls ? 'true' : 'false',
      ...(this.opts.grpcTls ? { GRPC_SERVER_NAME: this.opts.grpcTls.serverName } : {}),
      ...(this.opts.caCert ? { CA_CERT: this.opts.caCert } : {}),
      ...(this.settings.BUILD_WORKDIR ? { BUILD_WORKDIR: String(this.settings.BUILD_WORKDIR) } : {}),
      ...(this.settings.DEBUG ? { DEBUG: 'true' } : {}),
      ...(this.settings.LAYER_CACHE === true ? { LAYER_CACHE: 'true' } : {}),
    };
    const child = spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (this.opts.logDir) {
      mkdirSync(this.opts.logDir, { recursive: true });
      const file = createWriteStream(join(this.opts.logDir, `${w.buildUuid}-${id}.log`));
      child.stdout!.pipe(file);
      child.stderr!.pipe(file);
    } else {
      child.stdout!.resume();
      child.stderr!.resume();
    }
    await new Promise<void>((ok, fail) => {
      child.once('spawn', ok);
      child.once('error', fail);
    });
    this.children.set(id, child);
    child.once('exit', () => this.children.delete(id));
    return id;
  }

  async stop(executionId: string): Promise<void> {
    if (this.settings.DEBUG) return;
    const child = this.children.get(executionId);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    };
    kill('SIGTERM');
    const t = setTimeout(() => kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async runningCount(): Promise<number> {
    return this.children.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.children.keys()].map((id) => this.stop(id)));
  }
}
