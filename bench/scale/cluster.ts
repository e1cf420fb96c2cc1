/**
 * The scale-out layout: N stateless registry replicas (`serve` processes, each on its own port with WORKERS
 * HTTP worker processes) sharing one Postgres, one S3 bucket (blob GETs redirected to pre-signed URLs, the
 * default) and one Redis, behind nginx. Used by `npm run bench -- scale` and by test/e2e/scale/.
 */
import { readFileSync } from 'node:fs';
import { startRegistry, type RegistryProcess } from '../../test/helpers/registry.js';
import { freePort } from '../../test/setup/procs.js';
import { startNginx, type Nginx } from './nginx.js';

export interface Replica {
  readonly index: number;
  readonly reg: RegistryProcess;
  /** 127.0.0.1:<port>, as nginx names it in X-Upstream */
  readonly hostPort: string;
  /** Every process of the replica: `serve` and, with WORKERS > 1, its HTTP worker processes. */
  processes(): number[];
  alive(): boolean;
}

export interface ScaleCluster {
  readonly replicas: Replica[];
  readonly nginx: Nginx;
  /** The registry as clients see it: nginx. */
  readonly url: string;
  readonly hostPort: string;
  readonly admin: { username: string; password: string };
  /** SIGKILL of a replica's processes (all of them at once, as a crashed machine). */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  replicas: number;
  /** HTTP worker processes per replica (`WORKERS`). */
  workers: number;
  /** config.yaml of every replica: database, storage, Redis (SERVER_HOSTNAME is set to nginx's address). */
  config: Record<string, unknown>;
  /** Extra environment of every replica (LOG_LEVEL, NODE_OPTIONS...). */
  env?: NodeJS.ProcessEnv;
  /** Extra environment of the first replica only (the profiled one). */
  firstEnv?: NodeJS.ProcessEnv;
  adminPassword?: string;
}

/** Direct children of a process (from /proc/<pid>/task/<pid>/children). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function startScaleCluster(o: ClusterOptions): Promise<ScaleCluster> {
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    // Clients reach the registry through nginx: the realm of its tokens and its absolute URLs name nginx.
    const lbPort = await freePort();
    const lbHostPort = `127.0.0.1:${lbPort}`;
    const config = { ...o.config, SERVER_HOSTNAME: lbHostPort };
    const env = { WORKERS: String(o.workers), ...o.env };
    const start = (i: number) => startRegistry({ label: `scale-replica-${i}`, config, env: i === 0 ? { ...env, ...o.firstEnv } : env, adminPassword: o.adminPassword });
    // The first replica applies the migrations and creates the superuser alone; the others then start together.
    const first = await start(0);
    started.push(first);
    const rest = await Promise.allSettled(Array.from({ length: o.replicas - 1 }, (_, i) => start(i + 1)));
    for (const r of rest) if (r.status === 'fulfilled') started.push(r.value);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const regs = [first, ...rest.map((r) => (r as PromiseFulfilledResult<RegistryProcess>).value)];
    const replicas: Replica[] = regs.map((reg, index) => ({
      index,
      reg,
      hostPort: reg.hostPort,
      processes: () => (reg.process.running() ? [reg.process.pid, ...childrenOf(reg.process.pid)] : []),
      alive: () => reg.process.running(),
    }));
    const nginx = await startNginx({ port: lbPort, upstreams: replicas.map((r) => r.hostPort) });
    started.push(nginx);
    return {
      replicas,
      nginx,
      url: nginx.url,
      hostPort: nginx.hostPort,
      admin: first.admin,
      async kill(index) {
        const r = replicas[index];
        // The worker processes first (they would outlive a killed primary for a moment), then `serve`.
        const [primary, ...workers] = r.processes();
        for (const pid of primary === undefined ? [] : [...workers, primary]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        await r.reg.process.exited;
      },
      stop: async () => {
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

/** BUILDLOGS_REDIS / USER_EVENTS_REDIS for a redis://host:port/db URL. */
export function redisConfig(url: string): { host: string; port: number; db: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) };
}
