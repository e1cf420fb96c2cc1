/**
 * Event emission. A producer (push, tag expiry, quota, build, mirror, scan) calls `emitRepository` or
 * `emitNamespace` inside its own transaction: the event fans out to one queue item per matching notification
 * (repository_notification / namespace_notification rows for that event) in that transaction, so the event
 * exists exactly when the producer's change commits. Delivery happens later from the 'notification' queue
 * (registry/workers/notification_worker.ts), never on the request path.
 *
 *   await rt.events.emitRepository(q, 'repo_mirror_sync_failed', repo, { message: 'upstream 503' }, performer);
 *
 * The payload starts with Quay's common keys (`repository`, `namespace`, `name`, `docker_url`, `homepage`)
 * followed by the event's own (see event_kinds.ts for each event's keys, levels, filters and samples).
 */
import type { Queryable } from '../db/index.js';
import type { QuayConfig } from '../../config/index.js';
import type { Principal } from '../auth/principal.js';
import type { Queues } from '../queue/index.js';

/** Quay's NOTIFICATION_QUEUE_NAME. */
export const NOTIFICATION_QUEUE = 'notification';
/** Deliveries a queue item gets (Quay puts notification items with 5 retries). */
export const NOTIFICATION_RETRIES = 5;
/** A notification whose deliveries failed this many times in a row is disabled until reset. */
export const MAX_NOTIFICATION_FAILURES = 3;

export interface RepoRefNames {
  /** repository id */
  id: number;
  namespace: string;
  name: string;
}

/** The body of a notification queue item (Quay's: notification_uuid, event_data, performer_data, notification_type). */
export interface NotificationItemBody {
  notification_uuid: string;
  event: string;
  event_data: Record<string, unknown>;
  performer_data: Record<string, unknown>;
  notification_type?: 'namespace';
  /** ms since epoch at emission: delivery latency is measured from it. */
  emitted_at: number;
  /** Set for /test deliveries. */
  test?: boolean;
}

/** Quay's performer_data: the acting user or robot, and the OAuth token when one was used. */
export function performerData(p: Principal | undefined): Record<string, unknown> {
  if (!p || (p.kind !== 'user' && p.kind !== 'robot')) return {};
  const out: Record<string, unknown> = { entity_id: p.id, entity_name: p.name };
  if (p.kind === 'user' && p.via === 'oauth' && p.credentialId) out.oauth_token_id = p.credentialId;
  return out;
}

export class Events {
  constructor(
    private readonly config: QuayConfig,
    private readonly queues: Queues,
  ) {}

  private get base(): string {
    return `${this.config.PREFERRED_URL_SCHEME}://${this.config.SERVER_HOSTNAME}`;
  }

  /** Quay's build_repo_payload: the keys every repository event starts with. */
  repositoryPayload(namespace: string, name: string, extra: Record<string, unknown> = {}, subpage?: string): Record<string, unknown> {
    const path = `${namespace}/${name}`;
    return {
      repository: path,
      namespace,
      name,
      docker_url: `${this.dockerUrlPrefix}${path}`,
      homepage: `${this.homepagePrefix}${path}${subpage ? `/${subpage.replace(/^\//, '')}` : ''}`,
      ...extra,
    };
  }

  private get dockerUrlPrefix(): string {
    return `${this.config.SERVER_HOSTNAME}/`;
  }

  private get homepagePrefix(): string {
    return `${this.base}/repository/`;
  }

  /** The keys every namespace event starts with. */
  namespacePayload(namespace: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { namespace, homepage: `${this.base}/organization/${namespace}`, ...extra };
  }

  /**
   * Emit a repository event in the producer's transaction `q`: one queue item per enabled notification of the
   * repository for `event` (or only `onlyUuid`), found and enqueued in one statement. Returns the number of
   * items enqueued.
   */
  async emitRepository(
    q: Queryable,
    event: string,
    repo: RepoRefNames,
    data: Record<string, unknown>,
    performer?: Principal,
    opts: { subpage?: string; onlyUuid?: string; extraPath?: string[] } = {},
  ): Promise<number> {
    const path = [repo.namespace, repo.name.replace(/\//g, '+'), event, ...(opts.extraPath ?? [])];
    const body = this.itemBody(event, this.repositoryPayload(repo.namespace, repo.name, data, opts.subpage), performerData(performer));
    return this.queues.queue(NOTIFICATION_QUEUE).putFromSelect(
      `SELECT $1::text AS path, $2::jsonb || jsonb_build_object('notification_uuid', uuid) AS body FROM repository_notification
        WHERE repository_id = $3 AND event = $4 AND number_of_failures < $5 AND ($6::uuid IS NULL OR uuid = $6::uuid)`,
      [path.join('/'), JSON.stringify(body), repo.id, event, MAX_NOTIFICATION_FAILURES, opts.onlyUuid ?? null],
      { retries: NOTIFICATION_RETRIES },
      q,
    );
  }

  /**
   * repo_push: one event per manifest PUT that created or moved tags, with all of them in `updated_tags`. One
   * statement whether or not the repository has repo_push notifications: it reads the repository's names and
   * its notifications and enqueues the event for each (the payload's repository keys are built by it, as
   * `repositoryPayload` builds them). When this process runs the notification worker with a free slot, the
   * items are put leased to it and `afterCommit` (call it once the push has committed) hands them over: the
   * pushing process delivers them without a wake-up or a lease query (WorkQueue.putFromSelectLocal).
   */
  async emitRepositoryPush(q: Queryable, repositoryId: number, updatedTags: string[], performer?: Principal): Promise<{ count: number; afterCommit: () => void }> {
    const body = this.itemBody('repo_push', {}, performerData(performer));
    return this.queues.queue(NOTIFICATION_QUEUE).putFromSelectLocal(
      `SELECT n.name || '/' || replace(r.name, '/', '+') || '/repo_push' AS path,
              $1::jsonb || jsonb_build_object('notification_uuid', x.uuid, 'event_data', jsonb_build_object(
                'repository', n.name || '/' || r.name, 'namespace', n.name, 'name', r.name,
                'docker_url', $2 || n.name || '/' || r.name, 'homepage', $3 || n.name || '/' || r.name, 'updated_tags', $4::jsonb)) AS body
         FROM repository r JOIN namespace n ON n.id = r.namespace_id
         JOIN repository_notification x ON x.repository_id = r.id AND x.event = 'repo_push' AND x.number_of_failures < $5
        WHERE r.id = $6`,
      [JSON.stringify(body), this.dockerUrlPrefix, this.homepagePrefix, JSON.stringify(updatedTags), MAX_NOTIFICATION_FAILURES, repositoryId],
      { retries: NOTIFICATION_RETRIES, prepare: 'emit_repo_push' },
      q,
    );
  }

  /** Emit a namespace event (quota_warning, quota_error) in the producer's transaction, in one statement. */
  async emitNamespace(q: Queryable, event: string, namespace: { id: number; name: string }, data: Record<string, unknown>): Promise<number> {
    const body: Omit<NotificationItemBody, 'notification_uuid'> = { ...this.itemBody(event, this.namespacePayload(namespace.name, data), {}), notification_type: 'namespace' };
    return this.queues.queue(NOTIFICATION_QUEUE).putFromSelect(
      `SELECT $1::text AS path, $2::jsonb || jsonb_build_object('notification_uuid', uuid) AS body FROM namespace_notification
        WHERE namespace_id = $3 AND event = $4 AND number_of_failures < $5`,
      [[namespace.name, event].join('/'), JSON.stringify(body), namespace.id, event, MAX_NOTIFICATION_FAILURES],
      { retries: NOTIFICATION_RETRIES },
      q,
    );
  }

  /** An item body without its notification's uuid (added per notification by the fan-out statement). */
  private itemBody(event: string, eventData: Record<string, unknown>, performer: Record<string, unknown>): Omit<NotificationItemBody, 'notification_uuid'> {
    return { event, event_data: eventData, performer_data: performer, emitted_at: Date.now() };
  }

  /** Enqueue a ready payload for one notification (the /test endpoints, per-notification producers). */
  async enqueueFor(
    q: Queryable,
    notification: { uuid: string; event: string; namespace: string; scope: 'repository' | 'namespace' },
    eventData: Record<string, unknown>,
    opts: { test?: boolean; performer?: Principal } = {},
  ): Promise<void> {
    const body: NotificationItemBody = {
      notification_uuid: notification.uuid,
      event: notification.event,
      event_data: eventData,
      performer_data: performerData(opts.performer),
      emitted_at: Date.now(),
      ...(notification.scope === 'namespace' ? { notification_type: 'namespace' as const } : {}),
      ...(opts.test ? { test: true } : {}),
    };
    await this.queues.queue(NOTIFICATION_QUEUE).put([notification.namespace, notification.uuid, notification.event], { ...body }, { retries: NOTIFICATION_RETRIES }, q);
  }
}
