/**
 * The real clients the tests drive, and the environment each needs to work here: no container engine,
 * plain-HTTP registries on loopback, nothing read from or written to the machine's own config.
 *
 *   tool('skopeo')                      -> absolute path, or an Error naming the missing tool
 *   const c = clientSandbox('push')     -> a private HOME, containers storage (vfs), auth files, ...
 *   await c.run('podman', ['push', ...INSECURE.podman, ref])
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import yaml from 'js-yaml';
import { toolsDir, workDir } from './paths.js';

/** Built by test/setup/install.sh with Go into $QUAY_TS_TOOLS. */
export const GO_TOOLS = ['oras', 'crane', 'helm', 'cosign', 'conformance', 'minio', 'osv-scanner', 'mailpit', 'distribution', 'ctr', 'containerd'] as const;

/** Where a missing tool comes from, for the error message. */
const SOURCE: Record<string, string> = {
  oras: 'Go module oras.land/oras',
  crane: 'Go module github.com/google/go-containerregistry/cmd/crane',
  helm: 'Go module helm.sh/helm/v3',
  cosign: 'Go module github.com/sigstore/cosign/v3',
  conformance: 'Go module github.com/opencontainers/distribution-spec/conformance',
  minio: 'Go module github.com/minio/minio',
  'osv-scanner': 'Go module github.com/google/osv-scanner/v2/cmd/osv-scanner',
  mailpit: 'Go module github.com/axllent/mailpit',
  distribution: 'Go module github.com/distribution/distribution/v3/cmd/registry (CNCF Distribution v3)',
  ctr: 'Go module github.com/containerd/containerd/v2/cmd/ctr',
  containerd: 'Go module github.com/containerd/containerd/v2/cmd/containerd',
  initdb: 'Debian package postgresql',
  postgres: 'Debian package postgresql',
  pg_ctl: 'Debian package postgresql',
  psql: 'Debian package postgresql-client',
  'redis-server': 'Debian package redis-server',
  'redis-cli': 'Debian package redis-tools',
  skopeo: 'Debian package skopeo',
  podman: 'Debian package podman',
  buildah: 'Debian package buildah',
  umoci: 'Debian package umoci',
  'docker-registry': 'Debian package docker-registry',
  nginx: 'Debian package nginx',
  wrk: 'Debian package wrk',
  chromium: 'Debian package chromium',
  jq: 'Debian package jq',
  curl: 'Debian package curl',
  st: 'PyPI package schemathesis (a venv made by test/setup/install.sh)',
};

/** Directories holding the PostgreSQL server binaries (Debian keeps them off PATH), newest first. */
function postgresBinDirs(): string[] {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(base, v, 'bin'));
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const found = new Map<string, string>();

/**
 * Absolute path of a test tool: the Go-built ones from $QUAY_TS_TOOLS, then the PostgreSQL server
 * directory, then PATH (plus the sbin directories). Throws an Error naming the tool and where it
 * comes from when it is absent.
 */
export function tool(name: string): string {
  const hit = found.get(name);
  if (hit && executable(hit)) return hit;
  const dirs = [
    toolsDir(),
    ...postgresBinDirs(),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  for (const d of dirs) {
    const p = join(d, name);
    if (executable(p)) {
      found.set(name, p);
      return p;
    }
  }
  throw new Error(`test tool "${name}" is missing (${SOURCE[name] ?? 'unknown source'}): not in ${toolsDir()} (QUAY_TS_TOOLS) ` + 'nor on PATH; run test/setup/install.sh');
}

/** Version install.sh built a Go tool at, e.g. "v1.3.6" (from its stamp file `package@version [ldflags]`). */
export function toolVersion(name: (typeof GO_TOOLS)[number]): string {
  const stamp = readFileSync(join(toolsDir(), `.${name}.version`), 'utf8').trim();
  return /^[^@\s]+@(\S+)/.exec(stamp)?.[1] ?? stamp;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin. */
  input?: string | Buffer;
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit (then look at `code`). */
  allowFail?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a tool (a name for tool(), or an absolute path) and collects its output. Rejects on a non-zero
 * exit unless allowFail, with the command line, exit code and stderr in the message.
 */
export function runTool(nameOrPath: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const bin = nameOrPath.startsWith('/') ? nameOrPath : tool(nameOrPath);
  return new Promise((res, rej) => {
    const child = execFile(
      bin,
      args,
      { env: o.env ?? process.env, cwd: o.cwd, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const r = { code, stdout: String(stdout), stderr: String(stderr) };
        if (err && !o.allowFail) {
          const why = err.killed ? `killed after ${o.timeoutMs ?? 120_000} ms` : `exit ${String(err.code)}`;
          rej(new Error(`${nameOrPath} ${args.join(' ')}: ${why}\n${r.stderr.trim() || r.stdout.trim()}`));
        } else res(r);
      },
    );
    if (o.input !== undefined) child.stdin?.end(o.input);
    else child.stdin?.end();
  });
}

/**
 * Flags that make each client talk plain HTTP to a registry on loopback. (crane and cosign already use
 * HTTP for 127.0.0.1/localhost; the flags make that explicit and cover other host names.)
 */
export const INSECURE = {
  podman: ['--tls-verify=false'],
  buildah: ['--tls-verify=false'],
  /** skopeo inspect / list-tags / delete / login */
  skopeo: ['--tls-verify=false'],
  /** skopeo copy / sync: both ends */
  skopeoCopy: ['--src-tls-verify=false', '--dest-tls-verify=false'],
  oras: ['--plain-http'],
  helm: ['--plain-http'],
  crane: ['--insecure'],
  /** cosign sign / attest / tree / download / verify */
  cosign: ['--allow-http-registry', '--allow-insecure-registry'],
} as const;

/**
 * cosign v3 without any Sigstore service (no network here): sign with a key and no transparency log,
 * verify with the key and without tlog. The key pair is made with COSIGN_PASSWORD from the sandbox.
 *   cosign generate-key-pair                            (in the sandbox dir: cosign.key, cosign.pub)
 *   cosign sign   ...COSIGN.sign   --key cosign.key <ref@digest>
 *   cosign verify ...COSIGN.verify --key cosign.pub <ref>
 */
export const COSIGN = {
  sign: ['--yes', '--use-signing-config=false', '--tlog-upload=false', ...INSECURE.cosign],
  verify: ['--insecure-ignore-tlog=true', '--insecure-ignore-sct=true', ...INSECURE.cosign],
} as const;

/** The password the sandbox gives cosign for key pairs (COSIGN_PASSWORD). */
export const COSIGN_PASSWORD = 'quay-ts-test';

export interface ClientSandbox {
  /** The sandbox directory (under this run's .test-work dir). */
  readonly dir: string;
  /** Environment for every client: private HOME, XDG dirs, containers config, auth files. */
  readonly env: NodeJS.ProcessEnv;
  /** containers-auth.json used by podman, buildah and skopeo (REGISTRY_AUTH_FILE). */
  readonly authFile: string;
  /** Docker-style config dir used by crane, cosign and oras (DOCKER_CONFIG). */
  readonly dockerConfigDir: string;
  /** Runs a tool with this sandbox's env (cwd defaults to the sandbox dir). */
  run(nameOrPath: string, args: string[], o?: RunOptions): Promise<RunResult>;
}

/**
 * A private world for registry clients: podman/buildah/skopeo with vfs storage under the sandbox
 * (no container engine, builds with `--isolation chroot`, i.e. BUILDAH_ISOLATION=chroot), no
 * unqualified-search registries, an accept-anything signature policy; helm/oras/crane/cosign with
 * their config and caches under the sandbox. Each call makes a new one, so tests never share logins
 * or image stores.
 */
export function clientSandbox(label = 'clients'): ClientSandbox {
  const dir = workDir(label);
  const home = join(dir, 'home');
  const cfg = join(dir, 'containers');
  const dockerConfigDir = join(dir, 'docker');
  const authFile = join(dir, 'containers-auth.json');
  for (const d of [home, join(home, '.config', 'containers'), cfg, dockerConfigDir, join(dir, 'run'), join(dir, 'tmp'), join(dir, 'helm')]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  const policy = JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] });
  writeFileSync(join(cfg, 'policy.json'), policy);
  writeFileSync(join(home, '.config', 'containers', 'policy.json'), policy);
  writeFileSync(join(cfg, 'storage.conf'), `[storage]\ndriver = "vfs"\nrunroot = "${join(dir, 'run', 'storage')}"\ngraphroot = "${join(dir, 'storage')}"\n`);
  writeFileSync(join(cfg, 'registries.conf'), 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
  writeFileSync(join(cfg, 'containers.conf'), '[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n');
  writeFileSync(authFile, '{"auths":{}}\n');
  writeFileSync(join(dockerConfigDir, 'config.json'), '{"auths":{}}\n');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: home,
    TMPDIR: join(dir, 'tmp'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    // podman, buildah, skopeo
    CONTAINERS_STORAGE_CONF: join(cfg, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(cfg, 'registries.conf'),
    CONTAINERS_CONF: join(cfg, 'containers.conf'),
    REGISTRY_AUTH_FILE: authFile,
    BUILDAH_ISOLATION: 'chroot',
    STORAGE_DRIVER: 'vfs',
    // crane, cosign, oras
    DOCKER_CONFIG: dockerConfigDir,
    // helm
    HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
    HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
    HELM_DATA_HOME: join(dir, 'helm', 'data'),
    HELM_REGISTRY_CONFIG: join(dockerConfigDir, 'config.json'),
    // cosign: no prompts, no Sigstore services
    COSIGN_PASSWORD,
    COSIGN_YES: 'true',
    TUF_ROOT: join(home, '.sigstore', 'root'),
  };
  return {
    dir,
    env,
    authFile,
    dockerConfigDir,
    run: (nameOrPath, args, o = {}) => runTool(nameOrPath, args, { ...o, cwd: o.cwd ?? dir, env: { ...env, ...o.env } }),
  };
}

export interface ConformanceOptions {
  /** host:port of the registry under test */
  registry: string;
  repo1?: string;
  repo2?: string;
  username?: string;
  password?: string;
  /** OCI_VERSION: 1.1 (default), 1.0 or dev */
  version?: string;
  /** Where results.yaml, junit.xml and report.html go (default: a fresh work dir). */
  resultsDir?: string;
  /** Further OCI_* settings, e.g. { OCI_API_REFERRER: 'false' }. */
  extraEnv?: Record<string, string>;
}

export interface ConformanceResult {
  /** The binary's exit code: 1 when any test failed. */
  code: number;
  stdout: string;
  stderr: string;
  resultsDir: string;
  /** results.yaml, parsed (undefined if the run did not get that far, e.g. a bad config). */
  results: Record<string, unknown> | undefined;
}

/**
 * Environment for the OCI distribution-spec conformance suite (the redesigned runner from the
 * module's main branch; it reads OCI_* variables, see docs/ reference §11.4), plain HTTP.
 */
export function conformanceEnv(o: ConformanceOptions & { resultsDir: string }): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: o.resultsDir,
    OCI_REGISTRY: o.registry,
    OCI_TLS: 'disabled',
    OCI_VERSION: o.version ?? '1.1',
    OCI_REPO1: o.repo1 ?? 'conformance/repo1',
    OCI_REPO2: o.repo2 ?? 'conformance/repo2',
    OCI_RESULTS_DIR: o.resultsDir,
    OCI_LOG: 'warn',
    ...(o.username ? { OCI_USERNAME: o.username, OCI_PASSWORD: o.password ?? '' } : {}),
    ...o.extraEnv,
  };
}

/**
 * Runs the conformance suite against a registry and returns its exit code and parsed results.yaml.
 * Note: the runner exits 0 without results when its configuration is invalid, so check `results`.
 */
export async function runConformance(o: ConformanceOptions): Promise<ConformanceResult> {
  const resultsDir = o.resultsDir ?? workDir('conformance');
  mkdirSync(resultsDir, { recursive: true });
  const r = await runTool('conformance', [], {
    env: conformanceEnv({ ...o, resultsDir }),
    cwd: resultsDir,
    allowFail: true,
    timeoutMs: 600_000,
  });
  const file = join(resultsDir, 'results.yaml');
  const results = existsSync(file) ? (yaml.load(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
  return { ...r, resultsDir, results };
}
