/**
 * Child processes of the test bench (servers on loopback): started with their output in a log file,
 * recorded on disk so that nothing outlives a run, waited on until ready, stopped politely then firmly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WORK_ROOT } from './paths.js';

/** One pid file per live bench process: `.test-work/pids/<pid>.json`. */
const PID_DIR = join(WORK_ROOT, 'pids');

interface PidRecord {
  pid: number;
  name: string;
  bin: string;
  /** The pid of the `npm test` run (jest's main process) that owns it. */
  owner: number;
}

export interface StartOptions {
  /** Shown in errors, e.g. "postgres". */
  name: string;
  /** Absolute path of the executable. */
  bin: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Signal for a clean stop (default SIGTERM; postgres wants SIGINT, a "fast" shutdown). */
  stopSignal?: NodeJS.Signals;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  readonly exited: Promise<number | string>;
  /** True until the process has ended. */
  running(): boolean;
  /** Last lines of its log, for error messages. */
  logTail(lines?: number): string;
  /** Stop: stopSignal, then SIGKILL after timeoutMs. Safe to call twice. */
  stop(timeoutMs?: number): Promise<void>;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function ownerPid(): number {
  return Number(process.env.QUAY_TS_RUN_PID) || process.pid;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test forgets stop() or the process exits early: nothing may outlive us.
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Starts a process; it is not ready yet: use waitUntil(). */
export function startProcess(o: StartOptions): ManagedProcess {
  installExitHook();
  mkdirSync(PID_DIR, { recursive: true });
  const fd = openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(o.bin, o.args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      uid: o.uid,
      gid: o.gid,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  let ended = false;
  const exited = new Promise<number | string>((res) => {
    child.on('exit', (code, signal) => {
      ended = true;
      res(code ?? signal ?? 'unknown');
    });
    child.on('error', (err) => {
      ended = true;
      writeFileSync(o.logFile, `\nspawn failed: ${err.message}\n`, { flag: 'a' });
      res(`spawn error: ${err.message}`);
    });
  });
  const pid = child.pid ?? -1;
  const pidFile = join(PID_DIR, `${pid}.json`);
  if (pid > 0) {
    const rec: PidRecord = { pid, name: o.name, bin: o.bin, owner: ownerPid() };
    writeFileSync(pidFile, JSON.stringify(rec));
  }
  const proc: ManagedProcess = {
    name: o.name,
    pid,
    logFile: o.logFile,
    child,
    exited,
    running: () => !ended,
    logTail: (lines = 25) => {
      try {
        return readFileSync(o.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    stop: async (timeoutMs = 10_000) => {
      if (!ended) {
        try {
          child.kill(o.stopSignal ?? 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = sleep(timeoutMs, undefined, { ref: false }).then(() => 'timeout' as const);
        if ((await Promise.race([exited, t])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      }
      live.delete(proc);
      rmSync(pidFile, { force: true });
    },
  };
  live.add(proc);
  void exited.then(() => {
    live.delete(proc);
    rmSync(pidFile, { force: true });
  });
  return proc;
}

/**
 * Polls `check` until it returns true. Fails early, with the log tail, if the process ends; fails
 * after timeoutMs naming what it waited for.
 */
export async function waitUntil(proc: ManagedProcess, what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    if (!proc.running()) {
      throw new Error(`${proc.name} exited before ${what}; log ${proc.logFile}:\n${proc.logTail()}`);
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    if (Date.now() > deadline) {
      await proc.stop(2000);
      throw new Error(
        `${proc.name} did not become ready (${what}) within ${timeoutMs} ms${lastErr ? ` (last error: ${lastErr})` : ''}; ` + `log ${proc.logFile}:\n${proc.logTail()}`,
      );
    }
    await sleep(100);
  }
}

/** The kernel's range for the local ports of outgoing connections (`ip_local_port_range`). */
function ephemeralPorts(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux: use Linux's default
  }
  return [32768, 60999];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/** Above every port of the Fetch standard's "bad ports" list (the highest is 10080), which `fetch` refuses. */
const LOWEST_TEST_PORT = 10_100;

/**
 * A TCP port that was free on 127.0.0.1 a moment ago, for a server the tests start. It is picked below the
 * kernel's ephemeral range: a port from that range (what `listen(0)` hands out) can be taken as the local
 * port of any outgoing connection (a client of Postgres, of S3…) before the server gets to bind it.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralPorts();
  if (low - LOWEST_TEST_PORT >= 1000) {
    for (let i = 0; i < 100; i++) {
      const port = LOWEST_TEST_PORT + randomInt(low - LOWEST_TEST_PORT);
      if (await canBind(port)) return port;
    }
  }
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/**
 * Kills bench processes recorded in `.test-work/pids/` that belong to `owner` (this run), or, with no
 * owner, those whose owning run has ended (strays of a crashed run). A pid is killed only while its
 * command line still names the recorded binary, so a reused pid is never hit.
 */
export async function killRecorded(owner?: number): Promise<string[]> {
  if (!existsSync(PID_DIR)) return [];
  const killed: string[] = [];
  for (const f of readdirSync(PID_DIR)) {
    if (!f.endsWith('.json')) continue;
    const file = join(PID_DIR, f);
    let rec: PidRecord;
    try {
      rec = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
    } catch {
      continue;
    }
    const mine = owner !== undefined ? rec.owner === owner : !pidAlive(rec.owner);
    if (!mine) continue;
    if (pidAlive(rec.pid) && cmdline(rec.pid).includes(rec.bin)) {
      try {
        process.kill(rec.pid, 'SIGKILL');
        killed.push(`${rec.name} (pid ${rec.pid})`);
      } catch {
        /* gone */
      }
    }
    rmSync(file, { force: true });
  }
  return killed;
}

/** Stops every process this module started in this process (used by global teardown). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}
