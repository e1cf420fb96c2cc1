/**
 * Builds benchmark (issue #11): the registry on Postgres + LocalStorage with Redis build logs, and the build
 * manager as its own process (`buildmanager`, local executor: one builder agent process per build, buildah
 * with vfs storage and chroot isolation) so that its memory is measured alone.
 *
 *   npm run bench -- builds [--builds 20] [--workers 1,2,4] [--by-hand 3] [--paired 3] [--markdown FILE] [--keep]
 *
 * For each ALLOWED_WORKER_COUNT: `--builds` builds of a small `FROM scratch` Dockerfile (COPY of one file),
 * requested at once through the REST API (POST …/build/ with an archive URL served by the bench), one
 * repository each (a repository runs one build at a time). Measured from the database, without polling: a
 * trigger the bench adds to its own database NOTIFYs every committed phase change, and the bench takes the time
 * it hears of it (a poll would add up to its interval to every figure; an earlier version polled every 10 ms):
 * builds/minute from the first request to the last `complete`; request -> `build-scheduled`, overall and for
 * the builds that found a free worker (the first ALLOWED_WORKER_COUNT); request -> `complete` for those
 * builds, against `buildah bud` + `buildah push` of the same Dockerfile by hand (median of `--by-hand` runs);
 * the build manager's peak RSS; and where a free-worker build's time goes, step by step (PHASE_STEPS). The load
 * average is printed with the results: on a busy machine the ratios mean more than the absolute times.
 * Paired runs (`--paired N`, after each worker count's batch, with the manager idle and its standby agents
 * started and warmed up, as before the batch): N times a by-hand
 * `bud` + `push` and right after it one build requested alone, each pair's ratio taken at the same moment
 * (on a machine whose load moves, the by-hand median of the start and a build minutes later compare badly),
 * with the same step-by-step profile over the paired builds. Each pair also starts two builds from push
 * webhooks of custom-git triggers on the same context as a git repository, served on loopback by `git daemon`
 * (git://) and by Debian's sshd (ssh://, cloned with the trigger's deploy key): webhook -> `complete` against the
 * same by-hand run. Their "pack download + unpack" step is the `git clone` and checkout (over ssh, an ssh
 * connection costs ~0.3 s of sshd's own start-up on this machine).
 */
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, cpus, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { REPO_ROOT, runDir, workDir } from '../../test/setup/paths.js';
import { signin } from '../../test/integration/api/fixture.js';
import { createTestDatabase, startPostgres, startRedis } from '../../test/setup/services.js';
import { freePort, startProcess, waitUntil } from '../../test/setup/procs.js';
import { startRegistry } from '../../test/helpers/registry.js';
import { clientSandbox, INSECURE } from '../../test/setup/tools.js';
import { git, startGitSshd } from '../../test/e2e/builds/git_sshd.js';
import { gitSshCommand } from '../../registry/build/source.js';
import { PeakWatch } from '../registry/rss.js';

const USAGE = `usage: npm run bench -- builds [options]
  --builds N        builds queued at once per worker count, default 20
  --workers LIST    ALLOWED_WORKER_COUNT values, comma-separated, default 1,2,4
  --by-hand N       runs of buildah bud + push by hand for the baseline, default 3
  --paired N        pairs (by hand, then one build alone from the API, then one from a push webhook
                    over git:// and one over ssh) per worker count, default 3; 0: none
  --markdown FILE   also write the result table (Markdown) to FILE
  --keep            keep the run's directory (.test-work/run-<pid>) afterwards
`;

const ADMIN_PASSWORD = 'bench-admin-password';
const DOCKERFILE = 'FROM scratch\nCOPY hello.txt /hello.txt\n';

/**
 * Every committed phase change of a build, as a notification on channel `bench_build_phase` ("<uuid> <phase>"),
 * from the commit that makes it visible (the bench's own database only).
 */
const PHASE_NOTIFY_SQL = [
  `CREATE FUNCTION bench_build_phase() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_notify('bench_build_phase', NEW.uuid::text || ' ' || NEW.phase); RETURN NEW; END $$`,
  'CREATE TRIGGER bench_build_phase AFTER INSERT OR UPDATE OF phase ON repository_build FOR EACH ROW EXECUTE FUNCTION bench_build_phase()',
  'LISTEN bench_build_phase',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface RunResult {
  workers: number;
  buildsPerMinute: number;
  scheduledMedianMs: number;
  scheduledFreeMedianMs: number;
  completeFreeMedianMs: number;
  failed: number;
  managerPeakBytes: number;
  /** Median time spent in each step of the free-worker builds (see PHASE_STEPS). */
  stepMedianMs: number[];
  /**
   * Paired runs, per pair: request -> complete of a build requested alone through the REST API, webhook ->
   * complete of one started by a custom-git trigger's push webhook per git server (gitSources), the by-hand time
   * (bud + push) just before them, and per git server a `git clone` + checkout of the commit by hand.
   */
  pairs: { buildMs: number; webhookMs: number[]; handMs: number; cloneMs: number[] }[];
  /** Median time spent in each step of the paired builds (see PHASE_STEPS): from the API, and per git server. */
  pairStepMedianMs: number[];
  webhookStepMedianMs: number[][];
}

/**
 * The steps of a build as its phases show them (first seen in the database): from the request to
 * `build-scheduled` (the manager leases the item and starts a worker), to `unpacking` (the agent process
 * starts, pings, registers, starts heart-beating and reports the phase), to `pulling` (the pack downloaded and
 * unpacked), to `building` (auth and storage set up), to `pushing` (`buildah bud`), to `complete` (`buildah push`,
 * the log lines flushed, the build settled).
 */
const PHASE_STEPS = ['build-scheduled', 'unpacking', 'pulling', 'building', 'pushing', 'complete'] as const;
const STEP_NAMES = ['request → scheduled', 'agent start + register', 'pack download + unpack', 'pull setup', 'buildah bud', 'buildah push + settle'];

/** CPU ticks (user + system) of `pid`'s child processes, by pid. */
function childTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) out.set(Number(p), Number(f[11]) + Number(f[12]));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Until the manager's standby agents are started and warmed up: at least one child process, and none used CPU
 * for 300 ms (at most 30 s). A measurement then shares the machine with no agent's start-up.
 */
async function standbysSettled(managerPid: number): Promise<void> {
  const end = Date.now() + 30_000;
  let before = childTicks(managerPid);
  while (Date.now() < end) {
    await new Promise((ok) => setTimeout(ok, 300));
    const now = childTicks(managerPid);
    if (now.size > 0 && now.size === before.size && [...now].every(([p, t]) => before.get(p) === t)) return;
    before = now;
  }
}

/** The build context as a .tar.gz served over HTTP (the archive URL of every build). */
function archive(dir: string): Buffer {
  const ctx = join(dir, 'context');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
  writeFileSync(join(ctx, 'hello.txt'), 'hello from the builds benchmark\n');
  return execFileSync('tar', ['-C', ctx, '-czf', '-', '.']);
}

async function oneRun(opts: {
  workers: number;
  builds: number;
  paired: number;
  byHand: ByHand;
  pgUrl: string;
  redisPort: number;
  archiveUrl: string;
  /** The git repository of the webhook builds, per git server (gitSources). */
  git: GitSource[];
  log: (m: string) => void;
}): Promise<RunResult> {
  const dbUri = await createTestDatabase(`bench-builds-${opts.workers}`, opts.pgUrl);
  const grpcPort = await freePort();
  const redis = { host: '127.0.0.1', port: opts.redisPort, db: opts.workers };
  const reg = await startRegistry({
    label: `bench-builds-${opts.workers}`,
    adminPassword: ADMIN_PASSWORD,
    config: {
      DB_URI: dbUri,
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: workDir(`bench-builds-storage-${opts.workers}`) }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
      SUPER_USERS: ['admin'],
      SSRF_ALLOWED_HOSTS: ['127.0.0.1/32'],
      FEATURE_BUILD_SUPPORT: true,
      BUILDLOGS_REDIS: redis,
      BUILD_MANAGER: [
        'ephemeral',
        {
          ALLOWED_WORKER_COUNT: opts.workers,
          ORCHESTRATOR: { REDIS_HOST: redis.host, REDIS_PORT: redis.port, REDIS_DB: redis.db },
          ORCHESTRATOR_PREFIX: 'buildman/bench/',
          EXECUTORS: [{ EXECUTOR: 'popen', NAME: 'local', SETUP_TIME: 120 }],
        },
      ],
    },
    env: { LOG_LEVEL: 'warn', BUILDMAN_IN_SERVE: 'false' },
  });
  const sandbox = clientSandbox(`bench-builds-worker-${opts.workers}`);
  const manager = startProcess({
    name: 'buildmanager',
    bin: process.execPath,
    args: [
      join(REPO_ROOT, 'dist/registry/main.js'),
      'buildmanager',
      '--config',
      reg.configPath!,
      '--port',
      String(await freePort()),
      '--host',
      '127.0.0.1',
      '--grpc-port',
      String(grpcPort),
    ],
    cwd: REPO_ROOT,
    logFile: join(workDir(`bench-builds-manager-${opts.workers}`), 'manager.log'),
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      DATA_DIR: reg.dataDir,
      CONTAINERS_REGISTRIES_CONF: sandbox.env.CONTAINERS_REGISTRIES_CONF,
      CONTAINERS_CONF: sandbox.env.CONTAINERS_CONF,
      TMPDIR: sandbox.env.TMPDIR,
    },
  });
  const db = new pg.Client({ connectionString: dbUri });
  try {
    await waitUntil(manager, `the build manager's gRPC port ${grpcPort}`, async () => {
      const { connect } = await import('node:net');
      return new Promise<boolean>((ok) => {
        const s = connect(grpcPort, '127.0.0.1', () => (s.destroy(), ok(true))).on('error', () => ok(false));
      });
    });
    const peak = new PeakWatch([manager.pid]);
    const session = await signin(reg, 'admin', ADMIN_PASSWORD);
    await session.ok('POST', '/organization/', { name: 'bench', email: 'bench@example.com' });
    const repos = Array.from({ length: opts.builds }, (_, i) => `r${i}`);
    for (const r of repos) await session.ok('POST', '/repository', { namespace: 'bench', repository: r, visibility: 'private', description: '' });
    await db.connect();

    opts.log(`ALLOWED_WORKER_COUNT ${opts.workers}: ${opts.builds} builds`);
    const requested = new Map<string, number>();
    const scheduled = new Map<string, number>();
    const finished = new Map<string, { at: number; phase: string }>();
    const seen = new Map<string, Map<string, number>>();
    let changed: () => void = () => undefined;
    db.on('notification', (n) => {
      const now = Date.now();
      const [uuid, phase] = (n.payload ?? '').split(' ');
      const phases = seen.get(uuid) ?? new Map<string, number>();
      seen.set(uuid, phases);
      if (!phases.has(phase)) phases.set(phase, now);
      if (phase !== 'waiting' && !scheduled.has(uuid)) scheduled.set(uuid, now);
      if (['complete', 'error', 'cancelled'].includes(phase) && !finished.has(uuid)) finished.set(uuid, { at: now, phase });
      changed();
    });
    for (const sql of PHASE_NOTIFY_SQL) await db.query(sql);
    const deadline = Date.now() + 30 * 60_000;
    /** Until `done()` holds, woken by each phase change (the 1 s timer only checks the deadline). */
    const until = async (done: () => boolean, what: () => string) => {
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`${what()}\n${manager.logTail(40)}`);
        await new Promise<void>((ok) => {
          const t = setTimeout(ok, 1000);
          changed = () => (clearTimeout(t), ok());
        });
      }
    };
    await standbysSettled(manager.pid);
    const t0 = Date.now();
    // Requests in order, so that the first ones are those that find a free worker.
    const order: string[] = [];
    for (const r of repos) {
      const at = Date.now();
      const b = await session.ok<{ id: string }>('POST', `/repository/bench/${r}/build/`, { archive_url: opts.archiveUrl, docker_tags: ['latest'] });
      requested.set(b.id, at);
      order.push(b.id);
    }
    await until(
      () => order.every((u) => finished.has(u)),
      () => 'builds did not finish within 30 min',
    );
    const last = Math.max(...[...finished.values()].map((f) => f.at));
    const free = order.slice(0, opts.workers);
    const peaks = peak.stop();
    /** Median time per step of these builds, from the phases first seen. */
    const stepMedians = (uuids: string[]) =>
      PHASE_STEPS.map((phase, i) =>
        median(
          uuids.map((u) => {
            const at = seen.get(u)!;
            // A phase the build skipped counts 0 (its time goes to the next step).
            const prev = Math.max(requested.get(u)!, ...PHASE_STEPS.slice(0, i).map((p) => at.get(p) ?? -Infinity));
            return (at.get(phase) ?? prev) - prev;
          }),
        ),
      );
    const pairs: RunResult['pairs'] = [];
    const paired: string[] = [];
    const hooked: string[][] = opts.git.map(() => []);
    /** request -> complete of `uuid`, requested at `at`. */
    const completed = async (uuid: string, at: number) => {
      await until(
        () => ['complete', 'error', 'cancelled'].some((p) => seen.get(uuid)?.has(p)),
        () => `paired build ${uuid} did not finish within 30 min`,
      );
      const phases = seen.get(uuid)!;
      if (!phases.has('complete')) throw new Error(`paired build ${uuid}: ${[...phases.keys()].pop()}\n${manager.logTail(40)}`);
      return phases.get('complete')! - at;
    };
    const hooks = opts.paired > 0 ? await Promise.all(opts.git.map((g, n) => customGitTrigger(session, `hook${n}`, g))) : [];
    for (let i = 0; i < opts.paired; i++) {
      await standbysSettled(manager.pid);
      const handMs = (await opts.byHand.measure()).total;
      await session.ok('POST', '/repository', { namespace: 'bench', repository: `p${i}`, visibility: 'private', description: '' });
      let at = Date.now();
      const b = await session.ok<{ id: string }>('POST', `/repository/bench/p${i}/build/`, { archive_url: opts.archiveUrl, docker_tags: ['latest'] });
      requested.set(b.id, at);
      paired.push(b.id);
      const buildMs = await completed(b.id, at);

      const webhookMs: number[] = [];
      const cloneMs: number[] = [];
      for (const [n, hook] of hooks.entries()) {
        await standbysSettled(manager.pid);
        cloneMs.push(cloneByHand(opts.git[n], join(runDir(), `clone-${opts.workers}-${i}-${n}`)));
        const known = new Set(seen.keys());
        at = Date.now();
        await hook.post();
        // The webhook answers "Okay" (as Quay's does): its build is the one uuid not seen before.
        await until(
          () => [...seen.keys()].some((u) => !known.has(u)),
          () => 'the webhook started no build within 30 min',
        );
        const uuid = [...seen.keys()].find((u) => !known.has(u))!;
        requested.set(uuid, at);
        hooked[n].push(uuid);
        webhookMs.push(await completed(uuid, at));
      }
      pairs.push({ buildMs, webhookMs, handMs, cloneMs });
      opts.log(
        `pair ${i + 1}/${opts.paired}: by hand ${handMs} ms, from the API ${buildMs} ms, ${opts.git.map((g, n) => `from a webhook over ${g.label} ${webhookMs[n]} ms (its clone by hand ${cloneMs[n]} ms)`).join(', ')}`,
      );
    }
    return {
      workers: opts.workers,
      buildsPerMinute: (order.length * 60_000) / (last - t0),
      scheduledMedianMs: median(order.map((u) => scheduled.get(u)! - requested.get(u)!)),
      scheduledFreeMedianMs: median(free.map((u) => scheduled.get(u)! - requested.get(u)!)),
      completeFreeMedianMs: median(free.map((u) => finished.get(u)!.at - requested.get(u)!)),
      failed: [...finished.values()].filter((f) => f.phase !== 'complete').length,
      managerPeakBytes: peaks.get(manager.pid) ?? 0,
      stepMedianMs: stepMedians(free),
      pairs,
      pairStepMedianMs: stepMedians(paired),
      webhookStepMedianMs: hooked.map(stepMedians),
    };
  } finally {
    await db.end().catch(() => undefined);
    await manager.stop(30_000);
    await reg.stop();
  }
}

interface GitSource {
  label: string;
  url: string;
  sha: string;
  /** The git server's authorized_keys, for the trigger's deploy key, and the key of the clone by hand (ssh only). */
  authorizedKeys?: string;
  handKey?: string;
}

/** `git clone` + checkout of the source's commit by hand, as the builder agent does it; milliseconds. */
function cloneByHand(source: GitSource, into: string): number {
  rmSync(into, { recursive: true, force: true });
  const env = {
    ...process.env,
    ...(source.handKey ? { GIT_SSH_COMMAND: gitSshCommand(source.handKey) } : {}),
  };
  const t = Date.now();
  execFileSync('git', ['clone', '-q', '--no-checkout', source.url, into], { env, stdio: 'ignore' });
  execFileSync('git', ['checkout', '-q', source.sha], { cwd: into, env, stdio: 'ignore' });
  const ms = Date.now() - t;
  rmSync(into, { recursive: true, force: true });
  return ms;
}

/**
 * The same build context as a git repository with one commit on `main`, served on loopback by `git daemon`
 * (git://) and by sshd (ssh://, git-shell forced).
 */
async function gitSources(dir: string): Promise<{ sources: GitSource[]; stop: () => Promise<void> }> {
  const gitDir = join(dir, 'git');
  rmSync(gitDir, { recursive: true, force: true });
  mkdirSync(gitDir, { recursive: true });
  const bare = join(gitDir, 'context.git');
  git(gitDir, 'init', '-q', '--bare', '-b', 'main', bare);
  // A copy of the context: a .git in the by-hand build's context would be more for buildah to look at.
  const work = join(dir, 'git-work');
  rmSync(work, { recursive: true, force: true });
  cpSync(join(dir, 'context'), work, { recursive: true });
  git(work, 'init', '-q', '-b', 'main');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'the benchmark context');
  git(work, 'push', '-q', bare, 'main:main');
  const sha = git(work, 'rev-parse', 'HEAD');
  const sshd = await startGitSshd(gitDir);
  const handKey = join(gitDir, 'hand_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', handKey]);
  appendFileSync(sshd.authorizedKeys, readFileSync(`${handKey}.pub`));
  const daemonPort = await freePort();
  const daemon = startProcess({
    name: 'git-daemon',
    bin: 'git',
    args: ['daemon', '--reuseaddr', '--export-all', `--base-path=${gitDir}`, '--listen=127.0.0.1', `--port=${daemonPort}`, gitDir],
    cwd: gitDir,
    logFile: join(gitDir, 'daemon.log'),
  });
  await waitUntil(daemon, `git daemon's port ${daemonPort}`, async () => {
    try {
      git(gitDir, 'ls-remote', `git://127.0.0.1:${daemonPort}/context.git`);
      return true;
    } catch {
      return false;
    }
  });
  return {
    sources: [
      { label: 'git://', url: `git://127.0.0.1:${daemonPort}/context.git`, sha },
      { label: 'ssh', url: `ssh://${userInfo().username}@127.0.0.1:${sshd.port}${bare}`, sha, authorizedKeys: sshd.authorizedKeys, handKey },
    ],
    stop: async () => {
      await daemon.stop(5000);
      await sshd.stop();
    },
  };
}

/** A custom-git trigger on a new repository `bench/<name>`, its deploy key trusted by the git server; post() sends its push webhook. */
async function customGitTrigger(session: Awaited<ReturnType<typeof signin>>, name: string, source: GitSource): Promise<{ post: () => Promise<void> }> {
  await session.ok('POST', '/repository', { namespace: 'bench', repository: name, visibility: 'private', description: '' });
  const created = await session.ok<{ id: string }>('POST', `/repository/bench/${name}/trigger/`, { service: 'custom-git' });
  const t = await session.ok<{ id: string; config: { credentials: { value: string }[] } }>('POST', `/repository/bench/${name}/trigger/${created.id}/activate`, {
    // One tag, as the by-hand run pushes (by default a push to main would tag `main` and `latest`).
    config: { build_source: source.url, dockerfile_path: '/Dockerfile', context: '/', default_tag_from_ref: false, latest_for_default_branch: false, tag_templates: ['latest'] },
  });
  const [pub, hook] = t.config.credentials;
  if (source.authorizedKeys) appendFileSync(source.authorizedKeys, `${pub.value}\n`);
  const auth = `Basic ${Buffer.from(`$token:${/\$token:([^@]+)@/.exec(hook.value)![1]}`).toString('base64')}`;
  const body = JSON.stringify({
    commit: source.sha,
    ref: 'refs/heads/main',
    default_branch: 'main',
    commit_info: { url: `https://git.example.com/c/${source.sha}`, message: 'the benchmark context', date: '2026-12-06T00:00:00Z' },
  });
  return {
    async post() {
      const res = await fetch(`${session.base}/webhooks/push/trigger/${t.id}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body });
      if (res.status !== 200) throw new Error(`webhook: ${res.status} ${await res.text()}`);
    },
  };
}

interface ByHand {
  /** One `buildah bud` + `buildah push` with a fresh store, as each build worker has. */
  measure(): Promise<{ total: number; bud: number }>;
  stop(): Promise<void>;
}

/** `buildah bud` + `buildah push` of the same context by hand, into a registry of its own. */
async function startByHand(pgUrl: string, dir: string): Promise<ByHand> {
  const reg = await startRegistry({
    label: 'bench-builds-byhand',
    adminPassword: ADMIN_PASSWORD,
    config: {
      DB_URI: await createTestDatabase('bench-builds-byhand', pgUrl),
      DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: workDir('bench-builds-byhand-storage') }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['local'],
      SUPER_USERS: ['admin'],
    },
    env: { LOG_LEVEL: 'warn' },
  });
  try {
    const session = await signin(reg, 'admin', ADMIN_PASSWORD);
    await session.ok('POST', '/organization/', { name: 'bench', email: 'bench@example.com' });
    await session.ok('POST', '/repository', { namespace: 'bench', repository: 'byhand', visibility: 'private', description: '' });
  } catch (err) {
    await reg.stop();
    throw err;
  }
  let n = 0;
  return {
    async measure() {
      const i = n++;
      const sb = clientSandbox(`bench-builds-byhand-${i}`);
      const image = `${reg.hostPort}/bench/byhand:h${i}`;
      const t = Date.now();
      await sb.run('buildah', ['bud', '--isolation', 'chroot', '--layers=false', '-f', join(dir, 'context', 'Dockerfile'), '-t', image, join(dir, 'context')]);
      const bud = Date.now() - t;
      await sb.run('buildah', ['push', ...INSECURE.buildah, '--creds', `admin:${ADMIN_PASSWORD}`, image, `docker://${image}`]);
      return { total: Date.now() - t, bud };
    },
    stop: () => reg.stop(),
  };
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      builds: { type: 'string', default: '20' },
      workers: { type: 'string', default: '1,2,4' },
      'by-hand': { type: 'string', default: '3' },
      paired: { type: 'string', default: '3' },
      markdown: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const builds = Number(values.builds);
  const workerCounts = values.workers.split(',').map(Number);
  const handRuns = Number(values['by-hand']);
  const paired = Number(values.paired);
  if (!(builds > 0) || workerCounts.some((w) => !(w > 0)) || !(handRuns > 0) || !(paired >= 0)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const log = (m: string) => process.stderr.write(`[bench builds] ${m}\n`);
  const load0 = loadavg();
  const cleanup: Array<() => Promise<void>> = [];
  let files: Server | null = null;
  try {
    const postgres = await startPostgres();
    cleanup.push(() => postgres.stop());
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const dir = workDir('bench-builds');
    const tgz = archive(dir);
    files = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': tgz.length }).end(tgz));
    await new Promise<void>((ok) => files!.listen(0, '127.0.0.1', ok));
    const archiveUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}/context.tgz`;

    const gitServer = await gitSources(dir);
    cleanup.push(() => gitServer.stop());
    const gitLabels = gitServer.sources.map((g) => g.label);
    const byHand = await startByHand(postgres.url, dir);
    cleanup.push(() => byHand.stop());
    const hand: { total: number; bud: number }[] = [];
    for (let i = 0; i < handRuns; i++) {
      hand.push(await byHand.measure());
      log(`by hand ${i + 1}/${handRuns}: ${hand[i].total} ms (bud ${hand[i].bud} ms)`);
    }
    const handMedian = median(hand.map((h) => h.total));
    const handBud = median(hand.map((h) => h.bud));
    const results: RunResult[] = [];
    for (const workers of workerCounts)
      results.push(await oneRun({ workers, builds, paired, byHand, pgUrl: postgres.url, redisPort: redis.port, archiveUrl, git: gitServer.sources, log }));

    const load1 = loadavg();
    const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
    const lines = [
      `Builds benchmark: ${builds} queued builds of \`${DOCKERFILE.trim().replace(/\n/g, '; ')}\`, local executor (buildah vfs, chroot)`,
      `${cpus().length} CPUs, load average ${load0[0].toFixed(1)} at start, ${load1[0].toFixed(1)} at end; buildah bud + push by hand: median ${handMedian} ms of ${hand.length} (bud ${handBud} ms, push ${handMedian - handBud} ms)`,
      '',
      '| ALLOWED_WORKER_COUNT | builds/min | request → build-scheduled, median (free worker) | request → build-scheduled, median (all) | request → complete, median (free worker) | vs by hand | failed | manager peak RSS |',
      '|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.workers} | ${r.buildsPerMinute.toFixed(1)} | ${r.scheduledFreeMedianMs.toFixed(0)} ms | ${(r.scheduledMedianMs / 1000).toFixed(1)} s | ${r.completeFreeMedianMs.toFixed(0)} ms | ${(r.completeFreeMedianMs / handMedian).toFixed(2)}× | ${r.failed} | ${mb(r.managerPeakBytes)} MB |`,
      ),
      '',
      'Where the time of a free-worker build goes (medians; each step ends when its phase is committed):',
      '',
      `| ALLOWED_WORKER_COUNT | ${STEP_NAMES.join(' | ')} |`,
      `|---|${STEP_NAMES.map(() => '---').join('|')}|`,
      ...results.map((r) => `| ${r.workers} | ${r.stepMedianMs.map((m) => `${m.toFixed(0)} ms`).join(' | ')} |`),
      ...(paired > 0
        ? [
            '',
            `Paired runs (each: bud + push by hand, then one build requested alone through the API, then one from a custom-git push webhook per git server; ${paired} per worker count; medians; ratios: median of the pairs):`,
            '',
            `| ALLOWED_WORKER_COUNT | by hand (bud + push), just before | request → complete, alone | ratio | ${gitLabels.map((l) => `webhook (${l}) → complete | ratio | git clone by hand | ratio to clone + bud + push`).join(' | ')} |`,
            `|---|---|---|---|${gitLabels.map(() => '---|---|---|---').join('|')}|`,
            ...results.map((r) => {
              const ms = (f: (p: RunResult['pairs'][number]) => number) => `${median(r.pairs.map(f)).toFixed(0)} ms`;
              const ratio = (f: (p: RunResult['pairs'][number]) => number) => `${median(r.pairs.map(f)).toFixed(2)}×`;
              const hooks = gitLabels.map(
                (_, n) =>
                  `${ms((p) => p.webhookMs[n])} | ${ratio((p) => p.webhookMs[n] / p.handMs)} | ${ms((p) => p.cloneMs[n])} | ${ratio((p) => p.webhookMs[n] / (p.handMs + p.cloneMs[n]))}`,
              );
              return `| ${r.workers} | ${ms((p) => p.handMs)} | ${ms((p) => p.buildMs)} | ${ratio((p) => p.buildMs / p.handMs)} | ${hooks.join(' | ')} |`;
            }),
            '',
            'Where the time of a paired build goes (medians of the pairs; from the webhook, "pack download + unpack" is the git clone and checkout):',
            '',
            `| ALLOWED_WORKER_COUNT | started by | ${STEP_NAMES.join(' | ')} |`,
            `|---|---|${STEP_NAMES.map(() => '---').join('|')}|`,
            ...results.flatMap((r) => [
              `| ${r.workers} | API | ${r.pairStepMedianMs.map((m) => `${m.toFixed(0)} ms`).join(' | ')} |`,
              ...gitLabels.map((l, n) => `| ${r.workers} | webhook (${l}) | ${r.webhookStepMedianMs[n].map((m) => `${m.toFixed(0)} ms`).join(' | ')} |`),
            ]),
          ]
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (values.markdown) writeFileSync(values.markdown, `${lines.join('\n')}\n`);
    return results.some((r) => r.failed > 0) ? 1 : 0;
  } finally {
    await new Promise((ok) => (files ? files.close(ok) : ok(undefined)));
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    if (!values.keep) rmSync(runDir(), { recursive: true, force: true });
  }
}
