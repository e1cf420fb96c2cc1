/**
 * The ephemeral build manager (Quay's buildman EphemeralBuilderManager) and its gRPC server (buildman_pb).
 * Any number of managers cooperate through the queue (leases, one running build per repository) and the
 * orchestrator (job keys, expiry, cancel); a worker may talk to any of them.
 *
 * Work loop (woken by the queue's NOTIFY, a freed worker slot, or every WORK_CHECK_MS):
 *   live workers >= ALLOWED_WORKER_COUNT -> wait; else lease one item (530 s), create the job key
 *   (set-if-absent, TTL JOB_REGISTRATION_TIMEOUT), mint a registration JWT (that timeout + 30 s), try the
 *   executors in order; on success rewrite the key with executor_name/execution_id and TTL SETUP_TIME, set
 *   phase build-scheduled (which makes the push token valid until max_expiration) and extend the lease to
 *   SETUP_TIME + 60 s. No executor: the key is removed and the item retried after 20 s.
 * Worker RPCs: RegisterBuildJob hands out the BuildPack and the job JWT (lifetime up to MACHINE_MAX_TIME);
 * each heartbeat/log message sets the key TTL to min(60 s, time left) and extends the lease to 300 s; SetPhase
 * COMPLETE/ERROR completes the job. Key expiry (no heartbeat, never registered, MACHINE_MAX_TIME reached) is
 * EXPIRED: the worker is stopped, the build retried while retries are left. A cancel key stops the worker.
 */
import * as grpc from '@grpc/grpc-js';
import type { Runtime } from '../runtime.js';
import { QUEUE_CHANNEL, type QueueItem } from '../queue/index.js';
import { BUILD_QUEUE, type BuildJobItem, type BuildResult, type WorkerPhase } from '../model/builds.js';
import type { BuildManagerSettings } from './config.js';
import { OrchestratorEvent, type Orchestrator } from './orchestrator.js';
import { BuildJwts, BuildTokenError, type BuildTokenContext } from './jwt.js';
import { buildManagerService, type BuildPackMessage } from './proto.js';
import { candidates, setupTimeS, type Executor } from './executors/index.js';
import type { BuildLogEntry } from './logs.js';
import { grpcServerCredentials, type GrpcTlsOptions } from './grpc_tls.js';

/** Initial lease after get (Quay's EPHEMERAL_SETUP_TIMEOUT + SETUP_LEEWAY_SECONDS). */
const INITIAL_LEASE_S = 530;
/** Key TTL cap at each heartbeat. */
const HEARTBEAT_TTL_S = 60;
/** A heartbeat after a gap longer than this finds the job stale (internalerror). */
const HEARTBEAT_DELTA_S = 60;
/** Lease extension at each heartbeat (Quay's JOB_TIMEOUT_SECONDS), at most once a minute. */
const JOB_TIMEOUT_S = 300;
const LEASE_EXTEND_MIN_S = 60;
const WORK_CHECK_MS = 10_000;
const NO_EXECUTOR_RETRY_S = 20;
/** A log stream's lines count as a heartbeat at most this often. */
const LOG_ALIVE_EVERY_MS = 1000;
const ARCHIVE_EVERY_MS = 30_000;
/** Seconds the completion lock of a job lives when its holder dies before releasing it. */
const COMPLETION_LOCK_S = 60;
/** Lifetime of the signed URL of an uploaded pack (Quay: 300 s). */
export const PACKAGE_URL_TTL_S = 300;

export interface JobValue {
  job_queue_item: BuildJobItem & { body: Record<string, unknown> };
  /** epoch seconds */
  max_expiration: number;
  last_heartbeat: string | null;
  created_at: number;
  namespace: string;
  executor_name?: string;
  execution_id?: string;
  /** The manager that started the worker (local workers can only be stopped by it). */
  manager?: string;
}

/** What the manager needs from builds-api at registration: the trigger's deploy key and the pack URL of an upload. */
export interface BuildSources {
  /** The decrypted deploy private key of a trigger, or null. */
  deployKey(triggerUuid: string): Promise<string | null>;
  /** A URL the worker can GET an uploaded pack (filedrop file id) from for PACKAGE_URL_TTL_S. */
  uploadUrl(resourceKey: string): Promise<string>;
}

const PHASES: Record<string, WorkerPhase | 'complete' | 'error' | null> = {
  WAITING: null,
  UNPACKING: 'unpacking',
  PULLING: 'pulling',
  BUILDING: 'building',
  PUSHING: 'pushing',
  COMPLETE: 'complete',
  ERROR: 'error',
};

class Unauthenticated extends Error {}

function grpcError(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() }) as grpc.ServiceError;
}

/** Quay's log parsing: the first of error/status/stream of a JSON line; "Step N/M :" lines are commands. */
export function logEntryOf(raw: string): BuildLogEntry {
  let message = raw;
  let type: BuildLogEntry['type'];
  try {
    const j = JSON.parse(raw) as Record<string, unknown>;
    if (j && typeof j === 'object') {
      const key = ['error', 'status', 'stream'].find((k) => typeof j[k] === 'string');
      if (key) message = String(j[key]);
      if (key === 'error') type = 'error';
    }
  } catch {
    // a plain line
  }
  message = message.replace(/\n$/, '');
  if (!type && /^(Step \d+(\/\d+)? :|STEP \d+(\/\d+)?:)/.test(message)) type = 'command';
  return { message, ...(type ? { type } : {}), data: { datetime: new Date().toISOString().replace('T', ' ').replace('Z', '') } };
}

export class BuildManager {
  readonly id = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private server: grpc.Server | null = null;
  private stopped = false;
  private wake: () => void = () => undefined;
  private woken = false;
  private loop: Promise<void> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private archiveTimer: NodeJS.Timeout | null = null;
  private unwatchTls: () => void = () => undefined;
  /** gRPC is served over TLS. */
  tls = false;
  private readonly jwts: BuildJwts;
  /** Lease extensions done by this process (epoch ms per build). */
  private readonly extendedAt = new Map<string, number>();
  /** Builds this manager is scheduling, settled once the job key names the worker (see registerBuildJob). */
  private readonly scheduling = new Map<string, Promise<void>>();
  port = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly settings: BuildManagerSettings,
    private readonly orch: Orchestrator,
    readonly executors: Executor[],
    private readonly sources: BuildSources,
  ) {
    this.jwts = new BuildJwts(rt.db, settings.buildmanHostname);
  }

  private get prefix(): string {
    return this.orch.prefix;
  }

  private jobKey(uuid: string): string {
    return `${this.prefix}building/${uuid}`;
  }

  /** Serve gRPC on host:port (port 0: any free one; `port` then holds it), over TLS when given a pair. */
  async listen(host: string, port: number, tls: GrpcTlsOptions | null = null): Promise<number> {
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 5 * 1024 * 1024 });
    server.addService(buildManagerService().service, this.handlers());
    let credentials = grpc.ServerCredentials.createInsecure();
    if (tls) {
      const served = grpcServerCredentials(tls, this.rt.log);
      credentials = served.credentials;
      this.unwatchTls = served.unwatch;
    }
    this.port = await new Promise<number>((ok, fail) => server.bindAsync(`${host}:${port}`, credentials, (err, p) => (err ? fail(err) : ok(p))));
    this.server = server;
    this.tls = Boolean(tls);
    return this.port;
  }

  /** Start watching the orchestrator and taking work. */
  async start(): Promise<void> {
    this.orch.watch(`${this.prefix}building/`, (event, key, value) => {
      if (event === OrchestratorEvent.EXPIRE && !key.slice(`${this.prefix}building/`.length).includes('/')) void this.onExpired(key, value);
    });
    this.orch.watch(`${this.prefix}cancel/`, (event, _key, value) => {
      if (event === OrchestratorEvent.CREATE || event === OrchestratorEvent.SET) void this.onCancel(value);
    });
    await (this.orch as { ready?: () => Promise<void> }).ready?.();
    this.unlisten = await this.rt.db
      .listen(QUEUE_CHANNEL, (name) => {
        if (name === BUILD_QUEUE) this.poke();
      })
      .catch(() => null);
    this.archiveTimer = setInterval(() => void this.rt.builds.archivePending(50, 5).catch((err) => this.rt.log.warn({ err }, 'build log archiving failed')), ARCHIVE_EVERY_MS);
    this.archiveTimer.unref();
    for (const e of this.executors) e.warm?.();
    this.loop = this.workLoop();
    this.rt.log.info(
      { manager: this.id, grpcPort: this.port, grpcTls: this.tls, executors: this.executors.map((e) => e.name), allowed: this.settings.allowedWorkerCount },
      'build manager running',
    );
  }

  poke(): void {
    this.woken = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    if (this.archiveTimer) clearInterval(this.archiveTimer);
    await this.loop;
    await this.unlisten?.();
    await new Promise<void>((ok) => (this.server ? this.server.tryShutdown(() => ok()) : ok()));
    this.unwatchTls();
    for (const e of this.executors) await e.close();
  }

  private async liveWorkers(): Promise<number> {
    let n = 0;
    for (const e of this.executors) n += await e.runningCount().catch(() => 0);
    return n;
  }

  private async workLoop(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      let progressed = false;
      try {
        // Beside the scheduling, not before it: a build just requested should not wait for this query.
        const purged = this.purgeDead();
        try {
          if ((await this.liveWorkers()) < this.settings.allowedWorkerCount) progressed = await this.workOnce();
          else if ((await this.rt.builds.queue.nextDueMs()) === 0) for (const e of this.executors) e.warm?.(true);
        } finally {
          await purged;
        }
      } catch (err) {
        this.rt.log.error({ err }, 'build manager work check failed');
      }
      if (this.stopped) break;
      if (progressed || this.woken) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, WORK_CHECK_MS);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.wake = done;
      });
      this.wake = () => undefined;
    }
  }

  /** Items that ran out of retries while nobody held them (a manager died with the last attempt): final. */
  private async purgeDead(): Promise<void> {
    const ids = await this.rt.builds.queue.purgeDead();
    if (ids.length === 0) return;
    const r = await this.rt.db.query<{ uuid: string }>('SELECT uuid::text AS uuid FROM repository_build WHERE queue_id = ANY($1::bigint[])', [ids]);
    for (const { uuid } of r.rows) await this.rt.builds.finishBuild(uuid, 'expired', null);
  }

  /** One scheduling attempt; true when an item was taken. */
  private async workOnce(): Promise<boolean> {
    const queue = this.rt.builds.queue;
    const item = await queue.leaseOnePerPath<{ build_uuid?: string }>(INITIAL_LEASE_S);
    if (!item) return false;
    const uuid = item.body.build_uuid;
    const build = uuid ? await this.rt.builds.getBuild(uuid) : null;
    if (!build || ['complete', 'error', 'cancelled'].includes(build.phase)) {
      await queue.complete(item);
      return true;
    }
    const now = Date.now() / 1000;
    const job: JobValue = {
      job_queue_item: { id: item.id, state_id: item.state_id, retries_remaining: item.retries_remaining, body: item.body },
      max_expiration: Math.floor(now + this.settings.machineMaxTimeS),
      last_heartbeat: null,
      created_at: now,
      namespace: build.namespace,
    };
    const key = this.jobKey(build.uuid);
    try {
      if (!(await this.orch.setIfAbsent(key, JSON.stringify(job), this.settings.jobRegistrationTimeoutS))) {
        // A stale job of this build: clean it and put the item back with its attempt refunded.
        await this.orch.delete(key);
        await queue.postpone(item, 10);
        return true;
      }
    } catch (err) {
      this.rt.log.error({ err, build: build.uuid }, 'orchestrator unavailable');
      await queue.postpone(item, 10);
      return true;
    }
    const jwt = await this.jwts.sign('build_job_registration', build.uuid, key, this.settings.jobRegistrationTimeoutS + 30);
    let scheduled!: () => void;
    this.scheduling.set(build.uuid, new Promise<void>((ok) => (scheduled = ok)));
    try {
      return await this.startWorker(item, build, key, job, jwt, now, scheduled);
    } finally {
      this.scheduling.delete(build.uuid);
      scheduled();
    }
  }

  /**
   * Start the job's worker through the first executor that can, and record it in the build and in the job key
   * (then `recorded` is called: the worker may register).
   */
  private async startWorker(
    item: QueueItem<{ build_uuid?: string }>,
    build: { uuid: string; namespace: string },
    key: string,
    job: JobValue,
    jwt: string,
    now: number,
    recorded: () => void,
  ): Promise<boolean> {
    const queue = this.rt.builds.queue;
    let started: { executor: Executor; id: string } | null = null;
    for (const e of candidates(this.executors, build.namespace, item.retries_remaining)) {
      try {
        started = { executor: e, id: await e.start({ buildUuid: build.uuid, registrationJwt: jwt, namespace: build.namespace }) };
        break;
      } catch (err) {
        this.rt.log.warn({ err, executor: e.name, build: build.uuid }, 'executor could not start a worker; trying the next');
      }
    }
    if (!started) {
      await this.orch.delete(key);
      await queue.retry(item, NO_EXECUTOR_RETRY_S, 'no executor could start a worker');
      this.rt.log.warn({ build: build.uuid }, 'no executor could start a build worker');
      return true;
    }
    const setup = setupTimeS(started.executor);
    const scheduled: JobValue = { ...job, executor_name: started.executor.name, execution_id: started.id, manager: this.id };
    // The phase and the push token first, then the job key's execution_id: a worker registers only once the key
    // has it (a standby agent calls within milliseconds), so it never races these writes.
    if (!(await this.rt.builds.markScheduled(build.uuid, new Date(job.max_expiration * 1000)))) {
      // Cancelled meanwhile.
      await this.completeJob(build.uuid, 'cancelled', scheduled);
      return true;
    }
    await this.orch.set(key, JSON.stringify(scheduled), setup);
    recorded();
    await this.orch.set(`${this.prefix}metric/${build.uuid}`, JSON.stringify({ executor_name: started.executor.name, start_time: now }), this.settings.machineMaxTimeS + 60);
    // Extended now: the worker's registration, right after, need not extend it again (alive: once a minute).
    this.extendedAt.set(build.uuid, Date.now());
    await queue.extend(item, setup + 60);
    this.rt.log.info({ build: build.uuid, executor: started.executor.name, execution: started.id }, 'build scheduled');
    return true;
  }

  private async stopWorker(job: JobValue): Promise<void> {
    if (!job.execution_id) return;
    const e = this.executors.find((x) => x.name === job.executor_name);
    await e?.stop(job.execution_id).catch((err) => this.rt.log.warn({ err, executor: e.name }, 'stopping a build worker failed'));
  }

  /** Quay's on_job_complete + cleanup: settle the build, stop the worker, remove the keys. */
  private async completeJob(uuid: string, result: BuildResult, job: JobValue, errorMessage?: string): Promise<void> {
    const lock = `${this.prefix}lock/${uuid}`;
    if (!(await this.orch.lock(lock, COMPLETION_LOCK_S))) return;
    try {
      const out = await this.rt.builds.finishBuild(uuid, result, job.job_queue_item, { errorMessage });
      await this.stopWorker(job);
      await this.orch.delete(this.jobKey(uuid));
      await this.orch.delete(`${this.prefix}metric/${uuid}`);
      this.extendedAt.delete(uuid);
      this.rt.log.info({ build: uuid, result, phase: out.phase, final: out.final }, 'build job completed');
    } finally {
      await this.orch.delete(lock);
      this.poke();
    }
  }

  private async onExpired(key: string, value: string): Promise<void> {
    const uuid = key.slice(`${this.prefix}building/`.length);
    let job: JobValue;
    try {
      job = JSON.parse(value) as JobValue;
    } catch {
      return;
    }
    this.rt.log.warn({ build: uuid, registered: job.last_heartbeat !== null }, 'build job expired');
    await this.completeJob(uuid, 'expired', job, job.last_heartbeat === null ? 'The build worker did not register in time' : 'The build worker stopped sending heartbeats').catch(
      (err) => this.rt.log.error({ err, build: uuid }, 'handling an expired build job failed'),
    );
  }

  private async onCancel(uuid: string): Promise<void> {
    const raw = await this.orch.get(this.jobKey(uuid));
    if (!raw) return;
    const job = JSON.parse(raw) as JobValue;
    // Local workers can only be stopped by the manager that started them.
    const e = this.executors.find((x) => x.name === job.executor_name);
    if (job.manager && job.manager !== this.id && e?.settings.EXECUTOR === 'popen') return;
    await this.completeJob(uuid, 'cancelled', job).catch((err) => this.rt.log.error({ err, build: uuid }, 'cancelling a build failed'));
  }

  private async verify(token: string, type: 'build_job_registration' | 'build_job_token'): Promise<BuildTokenContext> {
    try {
      return await this.jwts.verify(token, type);
    } catch (err) {
      if (err instanceof BuildTokenError) throw new Unauthenticated(err.message);
      throw err;
    }
  }

  private async job(ctx: BuildTokenContext): Promise<JobValue | null> {
    const raw = await this.orch.get(ctx.job_id);
    return raw ? (JSON.parse(raw) as JobValue) : null;
  }

  /**
   * A sign of life (heartbeat, log line): the key's TTL becomes min(60 s, time left), the lease is extended.
   * False when the job is gone or went stale (then it is completed as internalerror).
   */
  private async alive(ctx: BuildTokenContext): Promise<boolean> {
    const job = await this.job(ctx);
    if (!job) return false;
    const now = Date.now() / 1000;
    if (job.last_heartbeat && now - Date.parse(job.last_heartbeat) / 1000 > HEARTBEAT_DELTA_S) {
      await this.completeJob(ctx.build_id, 'internalerror', job, 'The build worker went silent');
      return false;
    }
    const left = job.max_expiration - now;
    if (left <= 0) return false;
    // Cancelled through a process whose cancel signal did not reach this manager (in-memory orchestrator).
    if ((await this.rt.builds.getBuild(ctx.build_id))?.phase === 'cancelled') {
      await this.completeJob(ctx.build_id, 'cancelled', job);
      return false;
    }
    const updated: JobValue = { ...job, last_heartbeat: new Date().toISOString() };
    if (!(await this.orch.set(ctx.job_id, JSON.stringify(updated), Math.min(HEARTBEAT_TTL_S, left), { overwrite: false }))) return false;
    const last = this.extendedAt.get(ctx.build_id) ?? 0;
    if (Date.now() - last > LEASE_EXTEND_MIN_S * 1000) {
      this.extendedAt.set(ctx.build_id, Date.now());
      await this.rt.builds.queue.extend(job.job_queue_item, JOB_TIMEOUT_S);
    }
    return true;
  }

  private async registerBuildJob(registerJwt: string): Promise<BuildPackMessage> {
    const ctx = await this.verify(registerJwt, 'build_job_registration');
    let job = await this.job(ctx);
    if (!job) throw grpcError(grpc.status.INTERNAL, 'the build job is gone (expired or cancelled)');
    // Its manager has not recorded the worker yet: a write of this job now could lose execution_id.
    // A worker of this manager (a standby calls within milliseconds) waits here instead of calling again.
    if (!job.execution_id && this.scheduling.has(ctx.build_id)) {
      await this.scheduling.get(ctx.build_id);
      job = await this.job(ctx);
      if (!job) throw grpcError(grpc.status.INTERNAL, 'the build job is gone (expired or cancelled)');
    }
    if (!job.execution_id) throw grpcError(grpc.status.UNAVAILABLE, 'the build is being scheduled; register again');
    const [build, token] = await Promise.all([this.rt.builds.getBuild(ctx.build_id), this.rt.builds.pushToken(ctx.build_id)]);
    if (!build || ['complete', 'error', 'cancelled'].includes(build.phase)) throw grpcError(grpc.status.FAILED_PRECONDITION, 'the build is over');
    if (!token) throw grpcError(grpc.status.INTERNAL, 'the build has no push token');
    const jobJwt = await this.jwts.sign('build_job_token', build.uuid, ctx.job_id, Math.max(1, job.max_expiration - Date.now() / 1000));
    const cfg = build.job_config;
    const pack: BuildPackMessage = {
      job_jwt: jobJwt,
      context: cfg.context || '/',
      dockerfile_path: cfg.build_subdir || '/Dockerfile',
      repository: `${build.namespace}/${build.repository}`,
      registry: this.rt.config.SERVER_HOSTNAME,
      pull_token: token,
      push_token: token,
      tag_names: cfg.docker_tags?.length ? cfg.docker_tags : ['latest'],
      base_image: null,
    };
    const meta = cfg.trigger_metadata ?? {};
    const privateKey = build.trigger_uuid ? await this.sources.deployKey(build.trigger_uuid) : null;
    if (privateKey && typeof meta.git_url === 'string') {
      pack.git_package = { url: meta.git_url, sha: String(meta.commit ?? meta.commit_sha ?? ''), private_key: privateKey };
    } else if (build.archive_url) {
      try {
        await this.rt.outbound.checkUrl(build.archive_url, 'archive', true);
      } catch (err) {
        await this.rt.builds.appendLog(build.uuid, [{ message: `The archive URL is refused: ${(err as Error).message}`, type: 'error', data: {} }]);
        await this.completeJob(build.uuid, 'error', job, `The archive URL is refused: ${(err as Error).message}`);
        throw grpcError(grpc.status.FAILED_PRECONDITION, 'the archive URL is refused');
      }
      pack.package_url = build.archive_url;
    } else if (build.resource_key) {
      pack.package_url = await this.sources.uploadUrl(build.resource_key);
    } else {
      await this.completeJob(build.uuid, 'internalerror', job, 'The build has no source');
      throw grpcError(grpc.status.FAILED_PRECONDITION, 'the build has no source');
    }
    if (build.pull_robot_name) {
      const [ownerName, short] = build.pull_robot_name.split('+');
      const owner = await this.rt.namespaces.byName(ownerName);
      const robot = owner ? await this.rt.tenancy.robots.get(owner, short).catch(() => null) : null;
      if (robot?.token) pack.base_image = { username: build.pull_robot_name, password: robot.token };
    }
    // The job's first sign of life (its TTL from SETUP_TIME down to the heartbeat's) beside the answer, not
    // before it: the worker's first heartbeat follows at once anyway.
    void this.alive({ ...ctx, token_type: 'build_job_token' }).catch((err) => this.rt.log.warn({ err, build: build.uuid }, 'recording a registration failed'));
    return pack;
  }

  private async setPhase(req: {
    job_jwt: string;
    sequence_number: number;
    phase: string;
    pull_metadata?: Record<string, string> | null;
  }): Promise<{ success: boolean; sequence_number: number }> {
    const ctx = await this.verify(req.job_jwt, 'build_job_token');
    const phase = PHASES[req.phase];
    const seq = req.sequence_number;
    if (phase === undefined) return { success: false, sequence_number: seq };
    if (phase === null) return { success: true, sequence_number: seq };
    const job = await this.job(ctx);
    if (phase === 'complete' || phase === 'error') {
      if (!job) return { success: false, sequence_number: seq };
      const errorLine = phase === 'error' ? (await this.rt.builds.readBuildLogs(ctx.build_id, 0))?.logs.filter((l) => l.type === 'error').pop()?.message : undefined;
      await this.completeJob(ctx.build_id, phase, job, errorLine);
      const after = await this.rt.builds.getBuild(ctx.build_id);
      return { success: after?.phase === phase, sequence_number: seq };
    }
    if (!job) return { success: false, sequence_number: seq };
    const pull = req.pull_metadata ? Object.fromEntries(Object.entries(req.pull_metadata).filter(([, v]) => v)) : undefined;
    return { success: await this.rt.builds.setPhase(ctx.build_id, phase, pull), sequence_number: seq };
  }

  private async cachedTag(req: { job_jwt: string }): Promise<string> {
    const ctx = await this.verify(req.job_jwt, 'build_job_token');
    return this.rt.builds.cachedTag(ctx.build_id);
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const unary =
      <Q, R>(fn: (req: Q) => Promise<R>) =>
      (call: grpc.ServerUnaryCall<Q, R>, cb: grpc.sendUnaryData<R>) => {
        fn(call.request).then(
          (r) => cb(null, r),
          (err: unknown) => {
            if (err instanceof Unauthenticated) cb(grpcError(grpc.status.UNAUTHENTICATED, err.message));
            else if ((err as grpc.ServiceError).code !== undefined && (err as grpc.ServiceError).metadata) cb(err as grpc.ServiceError);
            else {
              this.rt.log.error({ err }, 'build manager RPC failed');
              cb(grpcError(grpc.status.INTERNAL, 'internal error'));
            }
          },
        );
      };
    /** A bidi stream whose every message carries a job JWT; a bad one ends the call with UNAUTHENTICATED. */
    const stream =
      <Q extends { job_jwt: string }, R>(fn: (req: Q, ctx: BuildTokenContext, state: { lastSeq: number; aliveAt: number }) => Promise<R>) =>
      (call: grpc.ServerDuplexStream<Q, R>) => {
        const state = { lastSeq: 0, aliveAt: 0 };
        let chain = Promise.resolve();
        let verified: { token: string; ctx: BuildTokenContext } | null = null;
        call.on('data', (req: Q) => {
          chain = chain.then(async () => {
            try {
              if (verified?.token !== req.job_jwt || verified.ctx.expiration < Date.now() / 1000) {
                verified = { token: req.job_jwt, ctx: await this.verify(req.job_jwt, 'build_job_token') };
              }
              call.write(await fn(req, verified.ctx, state));
            } catch (err) {
              if (err instanceof Unauthenticated) call.destroy(grpcError(grpc.status.UNAUTHENTICATED, err.message));
              else {
                this.rt.log.error({ err }, 'build manager stream failed');
                call.destroy(grpcError(grpc.status.INTERNAL, 'internal error'));
              }
            }
          });
        });
        call.on('end', () => void chain.then(() => call.end()));
        call.on('error', () => undefined);
      };
    return {
      Ping: unary(async () => ({ reply: 'pong' })),
      RegisterBuildJob: unary((req: { register_jwt: string }) => this.registerBuildJob(req.register_jwt)),
      SetPhase: unary((req: { job_jwt: string; sequence_number: number; phase: string; pull_metadata?: Record<string, string> | null }) => this.setPhase(req)),
      DetermineCachedTag: unary(async (req: { job_jwt: string }) => ({ CachedTag: await this.cachedTag(req) })),
      Heartbeat: stream(async (_req: { job_jwt: string }, ctx) => ({ reply: await this.alive(ctx) })),
      LogMessage: stream(async (req: { job_jwt: string; sequence_number: number; log_message: string }, ctx, state) => {
        if (req.sequence_number <= state.lastSeq) return { success: false, sequence_number: req.sequence_number };
        state.lastSeq = req.sequence_number;
        // A log line counts as a sign of life, checked at most once a second per stream: a burst of lines (buildah
        // prints several as its push ends, just before the build can complete) costs no database round trips.
        if (Date.now() - state.aliveAt >= LOG_ALIVE_EVERY_MS) {
          if (!(await this.alive(ctx))) return { success: false, sequence_number: req.sequence_number };
          state.aliveAt = Date.now();
        }
        await this.rt.builds.appendLog(ctx.build_id, [logEntryOf(req.log_message)]);
        return { success: true, sequence_number: req.sequence_number };
      }),
    };
  }
}
