/**
 * Dockerfile builds (Quay's RepositoryBuild and data/model/build.py): the one place that creates a build,
 * moves its phase, cancels it and settles it.
 *
 * startBuild writes, in one transaction, the build row, its temporary push token (role write, kind
 * build-worker, on that repository only), its item on the `dockerfilebuild` queue and the build_queued event.
 * The token is inert until the manager schedules the build (markScheduled makes it valid until
 * MACHINE_MAX_TIME from then) and is expired again when the attempt ends, so a build's credential works only
 * while its worker runs. finishBuild is the completion (Quay's on_job_complete): phase, queue item, events and
 * token in one transaction. Phase writes are compare-and-set: complete, error and cancelled are final and
 * sticky. Logs live in the BuildLogStore while the build runs and are archived (gzipped JSON) to blob storage
 * after it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { pipeline, Readable, Transform } from 'node:stream';
import { createGzip, gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Db, Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Principal } from '../auth/principal.js';
import type { BlobStore } from '../storage/index.js';
import type { Queues, WorkQueue } from '../queue/index.js';
import type { Events } from './events.js';
import type { SecretBox } from '../auth/secrets.js';
import type { BuildLogEntry, BuildLogStore } from '../build/logs.js';
import { NotFound, ReadOnly, TooManyRequests, Unsupported } from './errors.js';
import { createAccessToken, setAccessTokenExpiry } from './access_tokens.js';
import { recordTriggerOutcome } from './triggers.js';

export const BUILD_QUEUE = 'dockerfilebuild';
/** Leases a build item gets (Quay's builds use 3, not the queue default). */
export const BUILD_RETRIES = 3;
/** Seconds before a failed attempt is tried again (Quay's retry_after for INCOMPLETE and EXPIRED). */
export const BUILD_RETRY_AFTER_S = 30;
/** A build still unarchived after this long is archived whatever its phase (Quay's archiver). */
const ARCHIVE_AFTER_S = 15 * 24 * 3600;
/** Where a build's archived logs are stored (Quay's LOG_ARCHIVE_PATH default). */
const logArchivePath = (uuid: string) => `logarchive/${uuid}`;

export const BUILD_PHASES = ['waiting', 'build-scheduled', 'unpacking', 'pulling', 'building', 'pushing', 'complete', 'error', 'internalerror', 'cancelled'] as const;
export type BuildPhase = (typeof BUILD_PHASES)[number];
/** Phases a build never leaves. */
export const FINAL_PHASES: ReadonlySet<BuildPhase> = new Set(['complete', 'error', 'cancelled']);
/** Phases the worker reports while it runs (SetPhase). */
export type WorkerPhase = 'unpacking' | 'pulling' | 'building' | 'pushing';
/** How an attempt ended (Quay's BuildJobResult). */
export type BuildResult = 'complete' | 'error' | 'internalerror' | 'cancelled' | 'expired';

export interface JobConfig {
  docker_tags: string[];
  registry: string;
  /** The Dockerfile path (Quay's name), absolute from the root of the build pack. */
  build_subdir: string;
  context: string;
  trigger_metadata?: Record<string, unknown>;
  is_manual: boolean;
  manual_user: string | null;
  archive_url?: string | null;
}

export interface BuildRow {
  id: number;
  uuid: string;
  repository_id: number;
  namespace: string;
  namespace_id: number;
  repository: string;
  phase: BuildPhase;
  started: Date;
  completed_at: Date | null;
  display_name: string;
  job_config: JobConfig;
  resource_key: string | null;
  archive_url: string | null;
  pull_robot_id: number | null;
  pull_robot_name: string | null;
  access_token_id: number | null;
  queue_id: number | null;
  logs_archived: boolean;
  logs_archive_digest: string | null;
  trigger_uuid: string | null;
  /** The trigger's kind (github, gitlab, bitbucket, custom-git) when a trigger started the build. */
  trigger_service: string | null;
}

export interface StartBuildInput {
  repository: { id: number; namespace: string; name: string };
  /** Tags to push (sanitised here as Quay does); default ["latest"]. */
  dockerTags?: string[];
  /** Absolute Dockerfile path in the pack (default "/Dockerfile"). */
  dockerfilePath?: string;
  /** Absolute context directory in the pack (default "/"). */
  context?: string;
  displayName: string;
  archiveUrl?: string | null;
  /** file_id of an uploaded pack (filedrop). */
  resourceKey?: string | null;
  pullRobot?: { id: number; name: string } | null;
  manualUser?: { name: string } | null;
  trigger?: { uuid: string; kind: string; metadata: Record<string, unknown>; manual?: boolean } | null;
  performer?: Principal;
}

/** The namespace already has its maximum of queued builds (the API answers 429). */
export class BuildQueueFullError extends TooManyRequests {
  constructor() {
    super('Maximum queued build rate exceeded.', 1, 'queued_builds');
    this.name = 'BuildQueueFullError';
  }
}

/** The queue item of a running attempt: enough for any manager to settle it. */
export interface BuildJobItem {
  id: number;
  state_id: string;
  retries_remaining: number;
}

/** Quay's tag sanitising: empty -> latest; a non-word first character -> _; other characters outside [\w.-] -> _; 127 chars. */
export function sanitizeTag(tag: string): string {
  if (tag === '') return 'latest';
  let t = tag.replace(/[^\w.-]/g, '_');
  if (!/^\w/.test(t)) t = `_${t.slice(1)}`;
  return t.slice(0, 127);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SELECT_BUILD = `
  SELECT b.id, b.uuid::text AS uuid, b.repository_id, n.name AS namespace, n.id AS namespace_id, r.name AS repository, b.phase, b.started,
         b.completed_at, b.display_name, b.job_config, b.resource_key, b.archive_url, b.pull_robot_id, pr.name AS pull_robot_name,
         b.access_token_id, b.queue_id, b.logs_archived, b.logs_archive_digest, b.trigger_uuid, b.trigger_service
    FROM repository_build b JOIN repository r ON r.id = b.repository_id JOIN namespace n ON n.id = r.namespace_id
    LEFT JOIN namespace pr ON pr.id = b.pull_robot_id`;

/** The local time string Quay puts in log entries' data.datetime. */
function logTime(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '');
}

export class Builds {
  /** Set by the build manager wiring: signals the manager that runs `uuid` to stop it (orchestrator cancel key). */
  cancelSignal: ((uuid: string) => Promise<void>) | null = null;

  constructor(
    private readonly db: Db,
    private readonly config: QuayConfig,
    private readonly queues: Queues,
    private readonly events: Events,
    readonly logStore: BuildLogStore,
    private readonly store: BlobStore,
    private readonly tokenBox: SecretBox,
  ) {}

  get queue(): WorkQueue {
    return this.queues.queue(BUILD_QUEUE);
  }

  /** Queue path of a repository's builds (Quay's dockerfilebuild/<namespace>/<repo>/). */
  static queuePath(namespace: string, repository: string): string[] {
    return [namespace, repository.replace(/\//g, '+')];
  }

  /** Create a build (see the file comment). Pass `q` to join the caller's transaction. */
  async startBuild(input: StartBuildInput, q?: Queryable): Promise<BuildRow> {
    const work = async (tx: Queryable): Promise<string> => {
      const repo = (
        await tx.query<{ namespace_id: number; state: string; kind: string; max: number | null }>(
          `SELECT r.namespace_id, r.state, r.kind, n.maximum_queued_builds_count AS max
             FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE r.id = $1`,
          [input.repository.id],
        )
      ).rows[0];
      if (!repo) throw new NotFound('repository', 'repository not found');
      if (repo.kind !== 'image') throw new Unsupported('repository_kind', 'Builds are only supported for image repositories');
      if (repo.state !== 'NORMAL') {
        throw new ReadOnly('repository_state', `Repository is in ${repo.state} state: builds cannot push to it`, { name: input.repository.name, state: repo.state });
      }
      const limit = repo.max ?? this.config.DEFAULT_NAMESPACE_MAXIMUM_BUILD_COUNT;
      if (limit !== null && limit !== undefined) {
        // Serialise the count-then-insert of one namespace, or two concurrent starts could both pass the check.
        await tx.query('SELECT pg_advisory_xact_lock(774413, $1::int)', [repo.namespace_id % 2147483647]);
        if ((await this.queue.alive([input.repository.namespace], tx)) >= limit) throw new BuildQueueFullError();
      }
      const tags = [...new Set((input.dockerTags?.length ? input.dockerTags : ['latest']).map(sanitizeTag))];
      const jobConfig: JobConfig = {
        docker_tags: tags,
        registry: this.config.SERVER_HOSTNAME,
        build_subdir: input.dockerfilePath ?? '/Dockerfile',
        context: input.context ?? '/',
        trigger_metadata: input.trigger?.metadata ?? {},
        is_manual: !input.trigger || input.trigger.manual === true,
        manual_user: input.manualUser?.name ?? null,
        archive_url: input.archiveUrl ?? null,
      };
      // Inert (expired) until the manager schedules the build.
      const token = await createAccessToken(tx, { repositoryId: input.repository.id, role: 'write', kind: 'build-worker', friendlyName: 'Build worker', expiresAt: new Date(0) });
      const uuid = randomUUID();
      const queueId = await this.queue.put(Builds.queuePath(input.repository.namespace, input.repository.name), { build_uuid: uuid }, { retries: BUILD_RETRIES }, tx);
      await tx.query(
        `INSERT INTO repository_build (uuid, repository_id, display_name, job_config, resource_key, archive_url, pull_robot_id, access_token_id,
                                       push_token_sealed, queue_id, trigger_uuid, trigger_service)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          uuid,
          input.repository.id,
          input.displayName,
          JSON.stringify(jobConfig),
          input.resourceKey ?? null,
          input.archiveUrl ?? null,
          input.pullRobot?.id ?? null,
          token.id,
          this.tokenBox.seal(token.code),
          queueId,
          input.trigger?.uuid ?? null,
          input.trigger?.kind ?? null,
        ],
      );
      const data: Record<string, unknown> = {
        build_id: uuid,
        docker_tags: tags,
        repo: input.repository.name,
        namespace: input.repository.namespace,
        is_manual: jobConfig.is_manual,
        manual_user: jobConfig.manual_user,
      };
      if (input.trigger) {
        Object.assign(data, {
          trigger_id: input.trigger.uuid,
          trigger_kind: input.trigger.kind,
          trigger_metadata: input.trigger.metadata,
          trigger_manual: input.trigger.manual === true,
        });
      }
      await this.events.emitRepository(tx, 'build_queued', { id: input.repository.id, namespace: input.repository.namespace, name: input.repository.name }, data, input.performer, {
        subpage: `build/${uuid}`,
      });
      return uuid;
    };
    const uuid = q ? await work(q) : await this.db.tx(work);
    const row = await this.getBuild(uuid, q);
    return row!;
  }

  /**
   * The tag a worker may pull to prime its layer cache (Quay's DetermineCachedTag): the first of the build's
   * tags that the repository has, else its most recently pushed tag, else "" (none, or no such build).
   */
  async cachedTag(uuid: string): Promise<string> {
    const build = await this.getBuild(uuid);
    if (!build) return '';
    const r = await this.db.query<{ name: string }>(
      `SELECT name FROM tag WHERE repository_id = $1 AND (end_ms IS NULL OR end_ms > $2)
        ORDER BY array_position($3::text[], name) NULLS LAST, start_ms DESC, id DESC LIMIT 1`,
      [build.repository_id, Date.now(), build.job_config.docker_tags ?? []],
    );
    return r.rows[0]?.name ?? '';
  }

  async getBuild(uuid: string, q: Queryable = this.db): Promise<BuildRow | null> {
    if (!UUID_RE.test(uuid)) return null;
    const r = await q.query<BuildRow>(`${SELECT_BUILD} WHERE b.uuid = $1`, [uuid]);
    return r.rows[0] ?? null;
  }

  /** A repository's builds, newest first; `since` (epoch seconds) keeps those started after it. */
  async listBuilds(repositoryId: number, opts: { limit?: number; since?: number; after?: { started: string; id: number } } = {}): Promise<BuildRow[]> {
    // `after`: the last row of the previous page (newest first, ties on started broken by id).
    const r = await this.db.query<BuildRow>(
      `${SELECT_BUILD} WHERE b.repository_id = $1 AND ($3::float8 IS NULL OR b.started >= to_timestamp($3::float8))
        AND ($4::timestamptz IS NULL OR (b.started, b.id) < ($4::timestamptz, $5::bigint))
        ORDER BY b.started DESC, b.id DESC LIMIT $2`,
      [repositoryId, Math.max(0, Math.min(opts.limit ?? 5, 1001)), opts.since ?? null, opts.after?.started ?? null, opts.after?.id ?? null],
    );
    return r.rows;
  }

  /** A trigger's builds, newest first. */
  async listTriggerBuilds(triggerUuid: string, limit = 5): Promise<BuildRow[]> {
    const r = await this.db.query<BuildRow>(`${SELECT_BUILD} WHERE b.trigger_uuid = $1 ORDER BY b.started DESC, b.id DESC LIMIT $2`, [
      triggerUuid,
      Math.max(0, Math.min(limit, 1000)),
    ]);
    return r.rows;
  }

  /** The push token's code for the worker's BuildPack (valid only while the build is scheduled). */
  async pushToken(uuid: string): Promise<string | null> {
    if (!UUID_RE.test(uuid)) return null;
    const r = await this.db.query<{ push_token_sealed: string | null }>('SELECT push_token_sealed FROM repository_build WHERE uuid = $1', [uuid]);
    const sealed = r.rows[0]?.push_token_sealed ?? null;
    return sealed ? this.tokenBox.open(sealed) : null;
  }

  /**
   * Cancel (Quay's cancel_repository_build): the queue item is deleted whatever the phase; a build still
   * waiting is then cancelled; one that runs but has not reached pushing gets the cancel signal (its manager
   * stops the worker). True when cancelled; false when it is pushing or finished.
   */
  async cancelBuild(uuid: string, performer?: Principal): Promise<boolean> {
    if (!UUID_RE.test(uuid)) return false;
    let signal = false;
    const ok = await this.db.tx(async (q) => {
      const row = (await q.query<BuildRow>(`${SELECT_BUILD} WHERE b.uuid = $1 FOR UPDATE OF b`, [uuid])).rows[0];
      if (!row) return false;
      const deleted = row.queue_id !== null && (await q.query('DELETE FROM queue_item WHERE id = $1', [row.queue_id])).rowCount > 0;
      if (!(deleted && row.phase === 'waiting')) {
        if (['pushing', 'complete', 'error', 'internalerror', 'cancelled'].includes(row.phase)) return false;
        signal = true;
      }
      await this.writeFinal(q, row, 'cancelled');
      await this.emitBuildEvent(q, row, 'build_cancelled', performer);
      return true;
    });
    if (ok) {
      await this.appendPhaseLog(uuid, 'cancelled');
      if (signal && this.cancelSignal) await this.cancelSignal(uuid);
    }
    return ok;
  }

  /**
   * The worker's progress (unpacking, pulling, building, pushing) or the manager's build-scheduled. False when
   * the build is final (the worker must stop). Reaching `building` emits build_start.
   */
  async setPhase(uuid: string, phase: WorkerPhase | 'build-scheduled', pullMetadata?: Record<string, unknown>): Promise<boolean> {
    if (!UUID_RE.test(uuid)) return false;
    const changed =
      phase === 'building'
        ? await this.db.tx(async (q) => {
            const row = (await q.query<BuildRow>(`${SELECT_BUILD} WHERE b.uuid = $1 FOR UPDATE OF b`, [uuid])).rows[0];
            if (!row || FINAL_PHASES.has(row.phase)) return null;
            if (row.phase === phase) return false;
            await q.query('UPDATE repository_build SET phase = $2 WHERE id = $1', [row.id, phase]);
            await this.emitBuildEvent(q, row, 'build_start');
            return true;
          })
        : await this.movePhase(uuid, phase);
    if (changed === null) return false;
    if (changed) await this.appendPhaseLog(uuid, phase, pullMetadata);
    return true;
  }

  /**
   * A phase without an event, in one statement (one round trip on the build's way, instead of a transaction's
   * four): true when it moved, false when the build already had it, null when the build is final or unknown.
   */
  private async movePhase(uuid: string, phase: WorkerPhase | 'build-scheduled'): Promise<boolean | null> {
    const r = await this.db.query<{ before: string; moved: boolean }>(
      `WITH cur AS (SELECT id, phase FROM repository_build WHERE uuid = $1 FOR UPDATE),
            moved AS (UPDATE repository_build b SET phase = $2 FROM cur WHERE b.id = cur.id AND cur.phase <> ALL($3::text[]) AND cur.phase <> $2 RETURNING b.id)
       SELECT cur.phase AS before, EXISTS (SELECT 1 FROM moved) AS moved FROM cur`,
      [uuid, phase, [...FINAL_PHASES]],
    );
    const row = r.rows[0];
    if (!row || FINAL_PHASES.has(row.before as BuildPhase)) return null;
    return row.moved;
  }

  /**
   * The manager started a worker: phase build-scheduled and the push token valid until `maxExpiration`.
   * False when the build is final meanwhile (cancelled): the worker must be stopped.
   */
  async markScheduled(uuid: string, maxExpiration: Date): Promise<boolean> {
    if (!UUID_RE.test(uuid)) return false;
    // One statement (it is on the way from the request to the worker's start): the phase moves unless the
    // build is final, and the token becomes valid only then (a data-modifying WITH runs whether read or not).
    const r = await this.db.query<{ before: string; moved: boolean }>(
      `WITH cur AS (SELECT id, phase, access_token_id FROM repository_build WHERE uuid = $1 FOR UPDATE),
            ok AS (SELECT * FROM cur WHERE cur.phase <> ALL($3::text[])),
            moved AS (UPDATE repository_build b SET phase = 'build-scheduled' FROM ok WHERE b.id = ok.id AND ok.phase <> 'build-scheduled' RETURNING b.id),
            token AS (UPDATE access_token t SET expires_at = $2 FROM ok WHERE t.id = ok.access_token_id RETURNING t.id)
       SELECT cur.phase AS before, EXISTS (SELECT 1 FROM moved) AS moved FROM cur`,
      [uuid, maxExpiration, [...FINAL_PHASES]],
    );
    const row = r.rows[0];
    if (!row || FINAL_PHASES.has(row.before as BuildPhase)) return false;
    if (row.moved) await this.appendPhaseLog(uuid, 'build-scheduled');
    return true;
  }

  /**
   * The completion (Quay's on_job_complete), one transaction:
   *   complete  -> phase complete, item deleted, build_success
   *   error     -> phase error, item deleted, build_failure (Quay sends it only on the last retry, so a user's
   *                failing Dockerfile usually notified nobody; here every failed build does)
   *   cancelled -> phase cancelled, item deleted
   *   internalerror -> phase internalerror, item back after 30 s with the attempt refunded
   *   expired   -> phase internalerror, item back after 30 s (attempt spent); none left: final, build_failure
   * The push token is expired in every case (a retry's scheduling makes it valid again). Returns the phase and
   * whether the build is over.
   */
  async finishBuild(uuid: string, result: BuildResult, item: BuildJobItem | null, opts: { errorMessage?: string } = {}): Promise<{ phase: BuildPhase; final: boolean }> {
    let logged: BuildPhase | null = null;
    const out = await this.db.tx(async (q) => {
      const row = (await q.query<BuildRow & { access_token_id: number | null }>(`${SELECT_BUILD} WHERE b.uuid = $1 FOR UPDATE OF b`, [uuid])).rows[0];
      if (!row) return { phase: 'internalerror' as BuildPhase, final: true };
      const queueItem = item;
      if (FINAL_PHASES.has(row.phase)) {
        await this.expireToken(q, row);
        if (queueItem) await this.queue.complete(queueItem, q);
        return { phase: row.phase, final: true };
      }
      // The trigger's auto-disable accounting (an expired worker counts as an internal error).
      if (row.trigger_uuid) await recordTriggerOutcome(q, row.trigger_uuid, result === 'expired' ? 'internalerror' : result, this.config);
      switch (result) {
        case 'complete':
        case 'error':
        case 'cancelled': {
          if (queueItem) await this.queue.complete(queueItem, q);
          await this.writeFinal(q, row, result);
          const event = { complete: 'build_success', error: 'build_failure', cancelled: 'build_cancelled' }[result];
          await this.emitBuildEvent(q, row, event, undefined, result === 'error' && opts.errorMessage ? { error_message: opts.errorMessage } : {});
          logged = result;
          return { phase: result, final: true };
        }
        case 'internalerror': {
          await this.expireToken(q, row);
          await q.query("UPDATE repository_build SET phase = 'internalerror' WHERE id = $1", [row.id]);
          if (queueItem) await this.queue.postpone(queueItem, BUILD_RETRY_AFTER_S, q);
          logged = 'internalerror';
          return { phase: 'internalerror' as BuildPhase, final: !queueItem };
        }
        case 'expired': {
          await this.expireToken(q, row);
          logged = 'internalerror';
          if (queueItem && queueItem.retries_remaining > 0) {
            await q.query("UPDATE repository_build SET phase = 'internalerror' WHERE id = $1", [row.id]);
            await this.queue.retry(queueItem, BUILD_RETRY_AFTER_S, 'build worker expired', q);
            return { phase: 'internalerror' as BuildPhase, final: false };
          }
          if (queueItem) await this.queue.complete(queueItem, q);
          await q.query("UPDATE repository_build SET phase = 'internalerror', completed_at = now() WHERE id = $1", [row.id]);
          await this.emitBuildEvent(q, row, 'build_failure', undefined, { error_message: opts.errorMessage ?? 'The build worker expired and no retries are left' });
          return { phase: 'internalerror' as BuildPhase, final: true };
        }
      }
    });
    if (logged) await this.appendPhaseLog(uuid, logged);
    return out;
  }

  /** The final phase, and the push token expired. */
  private async writeFinal(q: Queryable, row: BuildRow, phase: 'complete' | 'error' | 'cancelled'): Promise<void> {
    await q.query('UPDATE repository_build SET phase = $2, completed_at = now() WHERE id = $1', [row.id, phase]);
    await this.expireToken(q, row);
  }

  private async expireToken(q: Queryable, row: BuildRow): Promise<void> {
    if (row.access_token_id !== null) await setAccessTokenExpiry(q, row.access_token_id, 'now');
  }

  /** build_start/success/failure/cancelled with Quay's keys. */
  private async emitBuildEvent(q: Queryable, row: BuildRow, event: string, performer?: Principal, extra: Record<string, unknown> = {}): Promise<void> {
    await this.events.emitRepository(
      q,
      event,
      { id: row.repository_id, namespace: row.namespace, name: row.repository },
      {
        build_id: row.uuid,
        build_name: row.display_name,
        docker_tags: row.job_config.docker_tags,
        trigger_id: row.trigger_uuid,
        trigger_kind: row.trigger_service,
        trigger_metadata: row.job_config.trigger_metadata ?? {},
        ...extra,
      },
      performer,
      { subpage: `build/${row.uuid}` },
    );
  }

  async appendLog(uuid: string, entries: BuildLogEntry[]): Promise<void> {
    await this.logStore.append(uuid, entries);
  }

  private async appendPhaseLog(uuid: string, phase: BuildPhase, pullMetadata: Record<string, unknown> = {}): Promise<void> {
    await this.logStore.append(uuid, [{ type: 'phase', message: phase, data: { ...pullMetadata, datetime: logTime() } }]);
  }

  /**
   * Logs from `start`: `{start, total, logs}` (Quay's paging; clients poll with start = previous total). Read
   * from the archive once the build's logs were archived.
   */
  async readBuildLogs(uuid: string, start = 0): Promise<{ start: number; total: number; logs: BuildLogEntry[] } | null> {
    const build = await this.getBuild(uuid);
    if (!build) return null;
    const from = Math.max(0, Math.floor(start));
    if (build.logs_archived) {
      const all = await this.readArchive(build);
      return { start: from, total: all.length, logs: all.slice(from) };
    }
    const { total, logs } = await this.logStore.read(uuid, from);
    return { start: from, total, logs };
  }

  private async readArchive(build: Pick<BuildRow, 'uuid' | 'logs_archive_digest'>): Promise<BuildLogEntry[]> {
    const chunks: Buffer[] = [];
    for await (const c of await this.openArchive(build)) chunks.push(c as Buffer);
    const doc = JSON.parse((await promisify(gunzip)(Buffer.concat(chunks))).toString('utf8')) as { logs: BuildLogEntry[] };
    return doc.logs;
  }

  private async openArchive(build: Pick<BuildRow, 'uuid' | 'logs_archive_digest'>): Promise<Readable> {
    try {
      return await this.store.readFile(logArchivePath(build.uuid));
    } catch (err) {
      // Archived before archives had their own area: stored as a blob under their digest.
      if (build.logs_archive_digest) return this.store.read(build.logs_archive_digest);
      throw err;
    }
  }

  /** The archived logs, gzipped JSON `{start:0,total,logs}` (for a download route); null when not archived. */
  async logArchive(uuid: string): Promise<Readable | null> {
    const build = await this.getBuild(uuid);
    if (!build?.logs_archived) return null;
    return this.openArchive(build);
  }

  /**
   * Archive one finished build's logs (Quay's buildlogsarchiver): gzip them into the store's file area under
   * `logarchive/<uuid>` (not under their digest as image blobs are, so GC of a blob with the same bytes can
   * never delete an archive), mark the build (compare-and-set, so two archivers do not both win) and delete
   * the live list. False when already done.
   */
  async archiveLogs(uuid: string): Promise<boolean> {
    const build = await this.getBuild(uuid);
    if (!build || build.logs_archived) return false;
    const hash = createHash('sha256');
    const logStore = this.logStore;
    const PAGE = 1000;
    async function* json(): AsyncGenerator<string> {
      const first = await logStore.read(uuid, 0, PAGE);
      yield `{"start":0,"total":${first.total},"logs":[`;
      let n = 0;
      let page = first.logs;
      while (page.length > 0) {
        for (const e of page) yield (n++ === 0 ? '' : ',') + JSON.stringify(e);
        if (n >= first.total) break;
        page = (await logStore.read(uuid, n, PAGE)).logs;
      }
      yield ']}';
    }
    const tee = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const gzipped = pipeline(Readable.from(json()), createGzip(), tee, () => undefined);
    await this.store.writeFile(logArchivePath(uuid), gzipped);
    const digest = `sha256:${hash.digest('hex')}`;
    const r = await this.db.query('UPDATE repository_build SET logs_archived = true, logs_archive_digest = $2 WHERE uuid = $1 AND NOT logs_archived', [uuid, digest]);
    if (r.rowCount === 0) return false;
    await this.logStore.delete(uuid);
    return true;
  }

  /**
   * Archive the logs of up to `limit` builds finished at least `minAgeS` ago (or very old); returns how many
   * were archived.
   */
  async archivePending(limit = 50, minAgeS = 0): Promise<number> {
    const r = await this.db.query<{ uuid: string }>(
      `SELECT uuid::text AS uuid FROM repository_build
        WHERE NOT logs_archived AND (completed_at <= now() - make_interval(secs => $3) OR started < now() - make_interval(secs => $2))
        ORDER BY started LIMIT $1`,
      [limit, ARCHIVE_AFTER_S, minAgeS],
    );
    let n = 0;
    for (const { uuid } of r.rows) if (await this.archiveLogs(uuid)) n++;
    return n;
  }
}
