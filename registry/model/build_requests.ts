/**
 * Asking for a build (Quay: endpoints/building.py start_build and the request checks of endpoints/api/build.py):
 * a manual build from an uploaded pack or an archive URL, or a trigger build (webhook or "run now"). The
 * checks live here once for every entry point; the build itself is created by builds-core's
 * Builds.startBuild (row, push token, queue item, build_queued event in one transaction).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { Db } from '../db/index.js';
import type { Principal } from '../auth/principal.js';
import type { Outbound } from '../net/outbound.js';
import { OutboundError, OutboundRefused } from '../net/outbound.js';
import { validTag } from '../oci/names.js';
import { Invalid } from './errors.js';
import type { Builds, BuildRow } from './builds.js';
import type { UsageLogs } from './logs.js';
import type { Userfiles } from './userfiles.js';
import type { PreparedTriggerBuild, TriggerRow } from './triggers.js';

/** A request refused with 400 and this message. */
export class BuildRequestInvalid extends Invalid {
  constructor(message: string) {
    super('request', message);
  }
}

export interface ManualBuildRequest {
  file_id?: string;
  archive_url?: string;
  subdirectory?: string;
  dockerfile_path?: string;
  context?: string;
  docker_tags?: string[];
}

export interface BuildRepository {
  id: number;
  namespace_id: number;
  namespace: string;
  name: string;
}

/** The caller, for the build's manual_user, the usage log and the build_queued performer. */
export interface BuildRequester {
  principal: Principal;
  ip: string | null;
}

function normalized(path: string, what: string): string {
  if (/[\0\r\n]/.test(path)) throw new BuildRequestInvalid(`Invalid ${what}`);
  if (path.split('/').includes('..')) throw new BuildRequestInvalid(`Invalid ${what}: ".." is not allowed`);
  const n = posix.normalize(`/${path}`);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/**
 * The Dockerfile path and context of a manual build (Quay's get_dockerfile_context), as absolute POSIX
 * paths: dockerfile_path beats subdirectory; without a context the Dockerfile's directory is the context.
 */
export function dockerfileAndContext(req: Pick<ManualBuildRequest, 'subdirectory' | 'dockerfile_path' | 'context'>): { dockerfilePath: string; context: string } {
  if (req.dockerfile_path !== undefined) {
    const dockerfilePath = normalized(req.dockerfile_path, 'dockerfile_path');
    const context = req.context !== undefined ? normalized(req.context, 'context') : posix.dirname(dockerfilePath);
    return { dockerfilePath, context };
  }
  if (req.subdirectory !== undefined) {
    const dir = normalized(req.subdirectory, 'subdirectory');
    return { dockerfilePath: posix.join(dir, 'Dockerfile'), context: dir };
  }
  const context = normalized(req.context ?? '/', 'context');
  return { dockerfilePath: posix.join(context, 'Dockerfile'), context };
}

export class BuildRequests {
  constructor(
    private readonly db: Db,
    private readonly builds: Builds,
    private readonly userfiles: Userfiles,
    private readonly outbound: Outbound,
    private readonly logs: UsageLogs,
  ) {}

  /**
   * A manual build. Throws BuildRequestInvalid (400), and builds-core's BuildQueueFullError (429) and
   * BuildRefusedError (501/503). `canWriteRepository` answers whether the caller may write a repository an
   * earlier build of the same file belongs to (reusing someone else's upload needs that).
   */
  async manual(
    repo: BuildRepository,
    req: ManualBuildRequest,
    who: BuildRequester,
    opts: { pullRobot: { id: number; name: string } | null; canWriteRepository: (repositoryId: number) => Promise<boolean> },
  ): Promise<BuildRow> {
    if (!req.file_id && !req.archive_url) throw new BuildRequestInvalid('file_id or archive_url required');
    if (req.file_id && req.archive_url) throw new BuildRequestInvalid('Specify file_id or archive_url, not both');
    const tags = req.docker_tags ?? ['latest'];
    if (tags.length === 0) throw new BuildRequestInvalid('docker_tags must name at least one tag');
    if (new Set(tags).size !== tags.length) throw new BuildRequestInvalid('docker_tags must not name a tag twice');
    for (const tag of tags) {
      if (!validTag(tag)) throw new BuildRequestInvalid(`Invalid tag name "${tag}": use letters, digits, _ . - (at most 128, not starting with . or -)`);
    }
    const { dockerfilePath, context } = dockerfileAndContext(req);
    let displayName: string;
    if (req.archive_url) {
      await this.checkArchiveUrl(req.archive_url);
      displayName = createHash('sha224').update(req.archive_url).digest('hex').slice(0, 7);
    } else {
      const file = await this.userfiles.get(req.file_id!);
      if (!file?.digest) throw new BuildRequestInvalid(`File ${req.file_id} could not be found or is invalid`);
      const used = await this.db.query<{ repository_id: number }>('SELECT DISTINCT repository_id FROM repository_build WHERE resource_key = $1 AND repository_id <> $2', [
        req.file_id,
        repo.id,
      ]);
      for (const { repository_id } of used.rows) {
        if (!(await opts.canWriteRepository(repository_id))) throw new BuildRequestInvalid(`File ${req.file_id} could not be found or is invalid`);
      }
      displayName = file.digest.slice('sha256:'.length, 'sha256:'.length + 7);
    }
    const manualUser = who.principal.kind === 'user' || who.principal.kind === 'robot' ? { name: who.principal.name } : null;
    const build = await this.builds.startBuild({
      repository: { id: repo.id, namespace: repo.namespace, name: repo.name },
      dockerTags: tags,
      dockerfilePath,
      context,
      displayName,
      archiveUrl: req.archive_url ?? null,
      resourceKey: req.file_id ?? null,
      pullRobot: opts.pullRobot,
      manualUser,
      performer: who.principal,
    });
    this.logBuild(repo, build, who);
    return build;
  }

  /** A trigger's build (prepared by Triggers from a webhook body or run parameters). Disabled triggers are refused. */
  async fromTrigger(repo: BuildRepository, trigger: TriggerRow, prepared: PreparedTriggerBuild, who: BuildRequester): Promise<BuildRow> {
    if (!trigger.enabled) throw new BuildRequestInvalid('Build trigger is disabled');
    const manualUser = prepared.isManual && who.principal.kind === 'user' ? { name: who.principal.name } : null;
    const build = await this.builds.startBuild({
      repository: { id: repo.id, namespace: repo.namespace, name: repo.name },
      dockerTags: prepared.dockerTags,
      dockerfilePath: prepared.dockerfilePath,
      context: prepared.context,
      displayName: prepared.displayName,
      pullRobot: trigger.pull_robot_id !== null && trigger.pull_robot_name ? { id: trigger.pull_robot_id, name: trigger.pull_robot_name } : null,
      manualUser,
      trigger: { uuid: trigger.uuid, kind: trigger.service, metadata: prepared.metadata as unknown as Record<string, unknown>, manual: prepared.isManual },
      performer: who.principal,
    });
    this.logBuild(repo, build, who, trigger);
    return build;
  }

  /** archive_url: http(s), and through the SSRF guard (resolved now when it resolves; the builder checks again when it fetches). */
  private async checkArchiveUrl(url: string): Promise<void> {
    let scheme: string;
    try {
      scheme = new URL(url).protocol;
    } catch {
      throw new BuildRequestInvalid('Invalid Archive URL: Must be a valid URI');
    }
    if (scheme !== 'http:' && scheme !== 'https:') throw new BuildRequestInvalid('Invalid Archive URL: Must be http or https');
    try {
      await this.outbound.checkUrl(url, 'archive', true);
    } catch (err) {
      if (err instanceof OutboundRefused) throw new BuildRequestInvalid(`Invalid Archive URL: ${err.message}`);
      // A name that does not resolve yet is not refused: the builder's fetch resolves and checks it again.
      if (err instanceof OutboundError) return;
      throw err;
    }
  }

  /** Quay's build_dockerfile usage log entry. */
  private logBuild(repo: BuildRepository, build: BuildRow, who: BuildRequester, trigger?: TriggerRow): void {
    const metadata: Record<string, unknown> = {
      build_id: build.uuid,
      docker_tags: build.job_config.docker_tags,
      is_manual: build.job_config.is_manual,
      manual_user: build.job_config.manual_user,
    };
    if (trigger)
      Object.assign(metadata, {
        trigger_id: trigger.uuid,
        trigger_kind: trigger.service,
        config: { ...trigger.config, credentials: undefined },
        trigger_metadata: build.job_config.trigger_metadata,
      });
    this.logs.repoAction('build_dockerfile', who.principal, who.ip, { id: repo.id, namespace_id: repo.namespace_id, name: repo.name }, repo.namespace, metadata);
  }
}
