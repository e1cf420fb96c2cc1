/**
 * The local executor (EXECUTOR: popen): the builder agent as a child process of the manager, in a process
 * group of its own so that stopping it also ends the buildah it runs. The embedded default, and the way
 * `npm start` builds. Keys: WORKER_COMMAND (argv of the agent; default the agent's own entry, dist/registry/build/agent_main.js),
 * BUILD_WORKDIR, DEBUG (never stop the worker).
 *
 * Standby agents: with the default agent, the executor keeps agents started ahead of the next builds (Node
 * started, modules loaded, gRPC connected), one per free slot of ALLOWED_WORKER_COUNT, plus one while every slot
 * is taken and a build waits for one (the manager says so: warm(true)), so a build's start costs a message on a
 * standby's stdin instead of a process start. No standby starts beside running builds when none waits: its
 * start-up would compete with them for nothing. A standby holds no credentials: its environment is the
 * executor's (no TOKEN, no BUILD_UUID); the registration JWT reaches it with its job, and it registers for its
 * push token like any worker. It runs that one build and exits (never
 * a second build). It is not a worker until it has a job (ALLOWED_WORKER_COUNT counts agents with a build),
 * so the agent processes are at most ALLOWED_WORKER_COUNT + 1. Standbys end with the manager (close(), or
 * the end of their stdin when the manager dies), and one that dies idle is replaced (after a pause that grows
 * while replacements keep dying young). A WORKER_COMMAND gets Quay's popen behaviour: a process per build,
 * started with TOKEN in its environment.
 *
 * A standby starts at the lowest CPU priority (nice 19) when the manager may raise it back (CAP_SYS_NICE): its
 * start-up (Node, modules: ~0.2 s of CPU) then runs on what the builds leave, instead of competing with the
 * build that just took its predecessor. It gets the manager's own priority back with its job, before buildah
 * starts (which inherits it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutorSettings } from '../config.js';
import { jobLine } from '../standby.js';
import type { Executor, WorkerStart } from './index.js';

/** The agent's own entry (main.js's `builder` role without main.js's imports: a faster start). */
const AGENT = fileURLToPath(new URL('../agent_main.js', import.meta.url));
/** A standby that lived less than this counts as dying young: its replacement waits (1 s, 2 s, ... 60 s). */
const STANDBY_YOUNG_MS = 10_000;
const STANDBY_RETRY_MAX_MS = 60_000;
/** A standby's niceness until it has a job. */
const STANDBY_NICE = 19;
const CAP_SYS_NICE = 23n;

/** This process may raise a process's priority (Linux: CAP_SYS_NICE in its effective set). */
function mayRaisePriority(): boolean {
  try {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_SYS_NICE) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** Set the priority of every thread of a process (a Linux niceness is per thread; new threads and children inherit their creator's). */
function renice(pid: number, priority: number): void {
  let tids: number[];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    tids = [pid];
  }
  for (const tid of tids) {
    try {
      setPriority(tid, priority);
    } catch (err) {
      // A thread may end meanwhile; the main thread's failure is the process's.
      if (tid === pid) throw err;
    }
  }
}

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
  /** ALLOWED_WORKER_COUNT: the standby agents kept are one per free slot of it. */
  allowedWorkers: number;
  /** Where the executor's own warnings go. */
  warn?: (message: string) => void;
}

interface Agent {
  id: string;
  child: ChildProcess;
  /** Its output file (a standby's is renamed after its build when taken). */
  logFile: string | null;
  startedAt: number;
}

export class LocalExecutor implements Executor {
  readonly name: string;
  private readonly children = new Map<string, ChildProcess>();
  private readonly standbys: Agent[] = [];
  /** Standbys being spawned. */
  private readonly spawning = new Set<Promise<void>>();
  private standbyRetry: NodeJS.Timeout | null = null;
  private youngDeaths = 0;
  private closed = false;
  /** Standbys start niced (only when their priority can be raised back with their job). */
  private niceStandbys = mayRaisePriority();
  /** A build waits for a worker slot (warm(true)); cleared when a build starts, until the manager says so again. */
  private buildWaiting = false;

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

  /** The pids of the standby agents. */
  standbyPids(): number[] {
    return this.standbys.map((a) => a.child.pid!).filter(Boolean);
  }

  /** Standbys wanted now: one per free worker slot, or one while a build waits for a slot (it then starts warm too). */
  private get standbyTarget(): number {
    if (this.settings.WORKER_COMMAND) return 0;
    return Math.max(this.buildWaiting ? 1 : 0, this.opts.allowedWorkers - this.children.size);
  }

  private get command(): string[] {
    return (this.settings.WORKER_COMMAND as string[] | undefined) ?? [process.execPath, AGENT];
  }

  /** The environment every worker of this executor gets: no credentials, nothing of one build. */
  private baseEnv(): NodeJS.ProcessEnv {
    // The host's containers configuration (CONTAINERS_*, TMPDIR) applies to its local workers too.
    const host = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CONTAINERS_') || k === 'TMPDIR' || k === 'XDG_RUNTIME_DIR'));
    return {
      ...host,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
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
  }

  private async spawnAgent(env: NodeJS.ProcessEnv, logName: string, standby: boolean): Promise<Agent> {
    const id = randomUUID();
    const cmd = this.command;
    // A niced standby is forked from this thread at the standby's niceness, so that every thread it starts
    // inherits it (renicing it after the fork could miss threads it starts meanwhile).
    const niced = standby && this.niceStandbys;
    const own = getPriority();
    if (niced) setPriority(STANDBY_NICE);
    let child: ChildProcess;
    try {
      child = spawn(cmd[0], cmd.slice(1), { env, stdio: [standby ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true });
    } finally {
      if (niced) setPriority(own);
    }
    // A write to a standby that died meanwhile fails here, not as an unhandled error; the build then expires and is retried.
    child.stdin?.on('error', () => undefined);
    let logFile: string | null = null;
    if (this.opts.logDir) {
      mkdirSync(this.opts.logDir, { recursive: true });
      logFile = join(this.opts.logDir, `${logName}-${id}.log`);
      const file = createWriteStream(logFile);
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
    return { id, child, logFile, startedAt: Date.now() };
  }

  warm(buildWaiting = false): void {
    this.buildWaiting ||= buildWaiting;
    this.ensureStandbys();
  }

  /** Start standby agents up to the target (unless replacements of young deaths are due later). */
  private ensureStandbys(): void {
    while (!this.closed && !this.standbyRetry && this.standbys.length + this.spawning.size < this.standbyTarget) {
      const spawning: Promise<void> = this.spawnAgent({ ...this.baseEnv(), JOB_FROM_STDIN: 'true' }, 'standby', true).then(
        async (agent) => {
          this.spawning.delete(spawning);
          if (this.closed) return this.end(agent.child);
          this.standbys.push(agent);
          agent.child.once('exit', () => this.standbyExited(agent));
        },
        () => {
          this.spawning.delete(spawning);
          this.youngDeaths++;
          this.retryStandbyLater();
        },
      );
      this.spawning.add(spawning);
    }
  }

  private standbyExited(agent: Agent): void {
    const at = this.standbys.indexOf(agent);
    if (at < 0) return;
    this.standbys.splice(at, 1);
    this.youngDeaths = Date.now() - agent.startedAt < STANDBY_YOUNG_MS ? this.youngDeaths + 1 : 0;
    if (this.youngDeaths === 0) this.ensureStandbys();
    else this.retryStandbyLater();
  }

  private retryStandbyLater(): void {
    if (this.closed || this.standbyRetry) return;
    const delay = Math.min(STANDBY_RETRY_MAX_MS, 1000 * 2 ** Math.max(0, this.youngDeaths - 1));
    this.standbyRetry = setTimeout(() => {
      this.standbyRetry = null;
      this.ensureStandbys();
    }, delay);
    this.standbyRetry.unref();
  }

  /** Hand the build to a standby agent (the oldest: the most likely to be ready); null when none is alive. */
  private async takeStandby(w: WorkerStart): Promise<Agent | null> {
    const agent = this.standbys.find((a) => a.child.exitCode === null && a.child.signalCode === null);
    if (!agent) return null;
    this.standbys.splice(this.standbys.indexOf(agent), 1);
    if (this.niceStandbys) {
      try {
        renice(agent.child.pid!, getPriority());
      } catch (err) {
        // This build runs niced; later standbys start at the manager's priority.
        this.niceStandbys = false;
        this.opts.warn?.(`a standby builder agent's priority could not be raised back (${(err as Error).message}); standbys are no longer started niced`);
      }
    }
    const stdin = agent.child.stdin!;
    const sent = await new Promise<boolean>((ok) => stdin.end(jobLine({ TOKEN: w.registrationJwt, BUILD_UUID: w.buildUuid }), (err?: Error | null) => ok(!err && !stdin.errored)));
    if (!sent) {
      this.kill(agent.child, 'SIGKILL');
      return null;
    }
    if (agent.logFile) {
      const named = join(this.opts.logDir!, `${w.buildUuid}-${agent.id}.log`);
      try {
        renameSync(agent.logFile, named);
        agent.logFile = named;
      } catch {
        // The output stays in its standby file.
      }
    }
    return agent;
  }

  async start(w: WorkerStart): Promise<string> {
    this.buildWaiting = false;
    const taken = await this.takeStandby(w);
    const agent = taken ?? (await this.spawnAgent({ ...this.baseEnv(), TOKEN: w.registrationJwt, BUILD_UUID: w.buildUuid }, w.buildUuid, false));
    this.children.set(agent.id, agent.child);
    agent.child.once('exit', () => {
      this.children.delete(agent.id);
      // A slot is free again: it gets its standby.
      this.ensureStandbys();
    });
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) this.children.delete(agent.id);
    this.ensureStandbys();
    return agent.id;
  }

  private kill(child: ChildProcess, sig: NodeJS.Signals): void {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      child.kill(sig);
    }
  }

  /** SIGTERM to the process group, SIGKILL after 5 s; resolves when the agent has exited. */
  private async end(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    this.kill(child, 'SIGTERM');
    const t = setTimeout(() => this.kill(child, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async stop(executionId: string): Promise<void> {
    if (this.settings.DEBUG) return;
    const child = this.children.get(executionId);
    if (child) await this.end(child);
  }

  async runningCount(): Promise<number> {
    return this.children.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.standbyRetry) clearTimeout(this.standbyRetry);
    this.standbyRetry = null;
    await Promise.all(this.spawning);
    const standbys = this.standbys.splice(0);
    await Promise.all([...standbys.map((a) => this.end(a.child)), ...[...this.children.keys()].map((id) => this.stop(id))]);
  }
}
