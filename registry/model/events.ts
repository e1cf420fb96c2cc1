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
      docker_url: `${this.config.SERVER_HOSTNAME}/${path}`,
      homepage: `${this.base}/repository/${path}${subpage ? `/${subpage.replace(/^\//, '')}` : ''}`,
      ...extra,
    };
  }

  /** The keys every namespace event starts with. */
  namespacePayload(namespace: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { namespace, homepage: `${this.base}/organization/${namespace}`, ...extra };
  }

  /**
   * Emit a repository event in the producer's transaction `q`: one queue item per enabled notification of the
   * repository for `event` (or only `onlyUuid`). Returns the number of items enqueued.
   */
  async emitRepository(
    q: Queryable,
    event: string,
    repo: RepoRefNames,
    data: Record<string, unknown>,
    performer?: Principal,
    opts: { subpage?: string; onlyUuid?: string; extraPath?: string[] } = {},
  ): Promise<number> {
    const rows = await q.query<{ uuid: string }>(
      `SELECT uuid FROM repository_notification
        WHERE repository_id = $1 AND event = $2 AND number_of_failures < $3 AND ($4::uuid IS NULL OR uuid = $4::uuid)`,
      [repo.id, event, MAX_NOTIFICATION_FAILURES, opts.onlyUuid ?? null],
    );
    return this.enqueueRepository(
      q,
      event,
      repo,
      rows.rows.map((r) => r.uuid),
      data,
      performer,
      opts,
    );
  }

  /** One queue item per notification uuid, in one INSERT. */
  private async enqueueRepository(
    q: Queryable,
    event: string,
    repo: RepoRefNames,
    uuids: string[],
    data: Record<string, unknown>,
    performer: Principal | undefined,
    opts: { subpage?: string; extraPath?: string[] },
  ): Promise<number> {
    if (uuids.length === 0) return 0;
    const eventData = this.repositoryPayload(repo.namespace, repo.name, data, opts.subpage);
    const pd = performerData(performer);
    const path = [repo.namespace, repo.name.replace(/\//g, '+'), event, ...(opts.extraPath ?? [])];
    const items = uuids.map((uuid) => {
      const body: NotificationItemBody = { notification_uuid: uuid, event, event_data: eventData, performer_data: pd, emitted_at: Date.now() };
      return { path, body: { ...body } };
    });
    await this.queues.queue(NOTIFICATION_QUEUE).putMany(items, { retries: NOTIFICATION_RETRIES }, q);
    return uuids.length;
  }

  /**
   * repo_push: one event per manifest PUT that created or moved tags, with all of them in `updated_tags`.
   * One query when the repository has no repo_push notification, three when it has any.
   */
  async emitRepositoryPush(q: Queryable, repositoryId: number, updatedTags: string[], performer?: Principal): Promise<number> {
    const r = await q.query<{ name: string; namespace: string; uuid: string }>(
      `SELECT r.name, n.name AS namespace, x.uuid FROM repository r JOIN namespace n ON n.id = r.namespace_id
         JOIN repository_notification x ON x.repository_id = r.id AND x.event = 'repo_push' AND x.number_of_failures < $2
        WHERE r.id = $1`,
      [repositoryId, MAX_NOTIFICATION_FAILURES],
    );
    if (r.rows.length === 0) return 0;
    const repo = { id: repositoryId, name: r.rows[0].name, namespace: r.rows[0].namespace };
    return this.enqueueRepository(
      q,
      'repo_push',
      repo,
      r.rows.map((x) => x.uuid),
      { updated_tags: updatedTags },
      performer,
      {},
    );
  }

  /** Emit a namespace event (quota_warning, quota_error) in the producer's transaction. */
  async emitNamespace(q: Queryable, event: string, namespace: { id: number; name: string }, data: Record<string, unknown>): Promise<number> {
    const rows = await q.query<{ uuid: string }>('SELECT uuid FROM namespace_notification WHERE namespace_id = $1 AND event = $2 AND number_of_failures < $3', [
      namespace.id,
      event,
      MAX_NOTIFICATION_FAILURES,
    ]);
    if (rows.rows.length === 0) return 0;
    const eventData = this.namespacePayload(namespace.name, data);
    const queue = this.queues.queue(NOTIFICATION_QUEUE);
    for (const n of rows.rows) {
      const body: NotificationItemBody = {
        notification_uuid: n.uuid,
        event,
        event_data: eventData,
        performer_data: {},
        notification_type: 'namespace',
        emitted_at: Date.now(),
      };
      await queue.put([namespace.name, event], { ...body }, { retries: NOTIFICATION_RETRIES }, q);
    }
    return rows.rows.length;
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
