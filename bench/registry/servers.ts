/**
 * The two servers under test, side by side on loopback for the whole run:
 *   quay-ts       this registry, Postgres (a private server) + LocalStorage, token auth (the default)
 *   distribution  CNCF Distribution v3.1.2 built by test/setup/install.sh (or, with `anchor: '2.8'`, Debian's
 *                 docker-registry 2.8), filesystem storage, in-memory blob descriptor cache, no auth
 * Both are started with the test bench's helpers; each `Server` knows how to authenticate a client.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDistribution, startPostgres, createTestDatabase, type PostgresService, type DistributionService } from '../../test/setup/services.js';
import { startRegistry, basicAuth, type RegistryProcess } from '../../test/helpers/registry.js';
import { REPO_ROOT, workDir } from '../../test/setup/paths.js';
import { runTool } from '../../test/setup/tools.js';
import { casPath } from '../../registry/storage/blobstore.js';

export type ServerName = 'quay-ts' | 'distribution';

export interface Server {
  readonly name: ServerName;
  /** What `--version` of the binary says (the report names the real build). */
  readonly version: string;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** 127.0.0.1:<port> */
  readonly hostPort: string;
  /** The server process (for RSS). */
  readonly pid: number;
  /** Every process of the server: quay-ts' primary and its HTTP worker processes. */
  processes(): number[];
  readonly logFile: string;
  /** The file holding a blob's bytes in the server's storage. */
  blobFile(digest: string): string;
  /** skopeo `--src-creds`/`--dest-creds` value, or null (no auth). */
  readonly creds: string | null;
  /** Headers that authorise `actions` on `repos` (a bearer token from /v2/auth, or nothing). */
  authHeaders(repos: string[], actions: string[]): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface StartedServers {
  quay: Server;
  distribution: Server;
  postgres: PostgresService;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Log every request on both servers (each server's default) instead of warnings only. */
  requestLogs: boolean;
  /** Extra NODE_OPTIONS for the registry process (e.g. --cpu-prof). */
  nodeOptions?: string;
  /** Extra env for the registry process. */
  env?: NodeJS.ProcessEnv;
  /** quay-ts HTTP worker processes (`serve --workers`). */
  workers: number;
  /** The Distribution build to compare against: v3 (install.sh's `distribution`, default) or Debian's 2.8. */
  anchor: 'v3' | '2.8';
  /** quay-ts on its embedded database (PGlite, no DB_URI: one process) instead of the Postgres server. */
  embedded?: boolean;
}

/** The binary of each anchor. */
export const ANCHOR_BINARY = { v3: 'distribution', '2.8': 'docker-registry' } as const;

/** Direct children of a process (from /proc/<pid>/task/<pid>/children). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `registry github.com/distribution/distribution/v3 v3.1.2` → `v3.1.2`. */
async function binaryVersion(bin: string): Promise<string> {
  return (await runTool(bin, ['--version'])).stdout.trim().split(/\s+/).pop() ?? 'unknown';
}

const ADMIN_PASSWORD = 'bench-admin-password';

function quayServer(reg: RegistryProcess, storage: string, version: string): Server {
  const tokens = new Map<string, string>();
  return {
    name: 'quay-ts',
    version,
    url: reg.url,
    hostPort: reg.hostPort,
    pid: reg.process.pid,
    processes: () => [reg.process.pid, ...childrenOf(reg.process.pid)],
    logFile: reg.process.logFile,
    blobFile: (digest) => join(storage, casPath(digest)),
    creds: `${reg.admin.username}:${reg.admin.password}`,
    async authHeaders(repos, actions) {
      const key = `${repos.join(' ')}|${actions.join(',')}`;
      let token = tokens.get(key);
      if (!token) {
        const q = new URLSearchParams({ service: reg.hostPort });
        for (const r of repos) q.append('scope', `repository:${r}:${actions.join(',')}`);
        const res = await fetch(`${reg.url}/v2/auth?${q}`, { headers: { authorization: basicAuth(reg.admin.username, reg.admin.password) } });
        if (res.status !== 200) throw new Error(`quay-ts /v2/auth answered ${res.status}: ${await res.text()}`);
        token = ((await res.json()) as { token: string }).token;
        tokens.set(key, token);
      }
      return { authorization: `Bearer ${token}` };
    },
    stop: () => reg.stop(),
  };
}

function distributionServer(d: DistributionService, version: string): Server {
  return {
    name: 'distribution',
    version,
    url: d.url,
    hostPort: d.hostPort,
    pid: d.process.pid,
    processes: () => [d.process.pid],
    logFile: d.process.logFile,
    blobFile: (digest) => {
      const [algorithm, hex] = digest.split(':');
      return join(d.storageDir, 'docker/registry/v2/blobs', algorithm, hex.slice(0, 2), hex, 'data');
    },
    creds: null,
    authHeaders: async () => ({}),
    stop: () => d.stop(),
  };
}

export async function startServers(o: ServerOptions): Promise<StartedServers> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const postgres = await startPostgres();
    started.push(postgres);
    const dbUri = await createTestDatabase('bench', postgres.url);
    const storage = join(workDir('bench-quay-storage'), 'blobs');
    const reg = await startRegistry({
      label: 'bench-quay',
      adminPassword: ADMIN_PASSWORD,
      config: {
        ...(o.embedded ? {} : { DB_URI: dbUri }),
        DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: storage }] },
        DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
        SUPER_USERS: ['admin'],
      },
      env: {
        LOG_LEVEL: o.requestLogs ? 'info' : 'warn',
        WORKERS: String(o.workers),
        ...(o.nodeOptions ? { NODE_OPTIONS: [process.env.NODE_OPTIONS, o.nodeOptions].filter(Boolean).join(' ') } : {}),
        ...o.env,
      },
    });
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const quay = quayServer(reg, storage, pkg.version);
    // Worker 0 answers first; measure only once every HTTP worker process listens.
    for (let i = 0; ; i++) {
      const text = await (await fetch(`${reg.url}/metrics`)).text();
      if ((text.match(/^quay_worker_resident_memory_bytes\{/gm) ?? []).length >= o.workers) break;
      if (i > 600) throw new Error(`quay-ts did not start ${o.workers} worker processes within 2 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
    started.push(quay);
    const binary = ANCHOR_BINARY[o.anchor];
    const dist = await startDistribution({
      binary,
      config: { log: { level: o.requestLogs ? 'info' : 'warn', accesslog: { disabled: !o.requestLogs } } },
    });
    const distribution = distributionServer(dist, await binaryVersion(binary));
    started.push(distribution);
    return {
      quay,
      distribution,
      postgres,
      stop: async () => {
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}
