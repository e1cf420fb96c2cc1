/**
 * The repository mirror worker: every REPO_MIRROR_INTERVAL seconds it claims due mirror configurations
 * (a lease in Postgres, so any number of `mirror` processes share the work without syncing one repository
 * twice at once) and runs one sync for each.
 *
 * A sync speaks the Distribution API to the upstream with the same client as the proxy cache (no skopeo
 * child processes): list tags, keep those matching the rule's globs, copy (a few tags at a time) each tag
 * whose upstream digest differs from the local one (index children filtered by architecture_filter, blobs
 * the registry already holds not fetched again, the rest streamed from the upstream into the blob store),
 * then end the local tags that no longer match. It writes as the configured robot: the robot needs write on the repository,
 * the namespace's quota applies and pushes are logged with the robot as performer.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Runtime } from '../runtime.js';
import type { Principal } from '../auth/principal.js';
import { atLeast } from '../auth/permissions.js';
import { ManifestError, parseManifest } from '../oci/manifest.js';
import { INDEX_TYPES, isNonDistributable } from '../oci/mediatypes.js';
import { LIVE } from '../model/tags.js';
import type { RepositoryRow } from '../model/repositories.js';
import type { NamespaceRow } from '../model/namespaces.js';
import { MIRROR_CHANNEL, MIRROR_LEASE_SECONDS, matchingTags, parseExternalReference, syncMessage, type MirrorRow } from '../model/mirror.js';
import { UpstreamClient, type UpstreamManifest } from '../proxy/upstream.js';

/** Syncs one process runs at the same time. */
const CONCURRENCY = 4;
/** Tags one sync copies at the same time (skopeo sync copies one after the other). */
const TAG_CONCURRENCY = 4;
/** Blobs (or index children) of one manifest fetched at the same time. */
const BLOB_CONCURRENCY = 4;

class SyncStopped extends Error {}

interface SyncContext {
  rt: Runtime;
  row: MirrorRow;
  repo: RepositoryRow;
  namespace: NamespaceRow;
  robot: Principal;
  client: UpstreamClient;
  upstreamRepo: string;
  deadline: number;
  /** Set when the claim is lost (sync-cancel, or another worker took over an expired lease). */
  lost: boolean;
}

function checkpoint(s: SyncContext): void {
  if (s.lost) throw new SyncStopped('cancelled');
  if (Date.now() > s.deadline) throw new Error(`the sync took longer than skopeo_timeout_interval (${s.row.skopeo_timeout_interval} s)`);
}

function log(s: SyncContext, kind: string, metadata: Record<string, unknown>): void {
  s.rt.logs.repoAction(kind, s.robot, null, s.repo, s.namespace.name, metadata);
}

/** Run `work` over `items`, at most `limit` at a time; every item is attempted and the first failure is thrown at the end. */
async function bounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  const results = await Promise.allSettled(lanes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Store a manifest's blobs in the repository: one look for those the registry already holds (referenced
 * from here at once), the rest streamed from the upstream, a few at a time (one fill per digest per process:
 * tags sharing a layer wait for the same fill).
 */
async function ensureBlobs(s: SyncContext, descriptors: ReadonlyArray<{ digest: string; size: number }>): Promise<void> {
  const wanted = [...new Map(descriptors.map((d) => [d.digest, d])).values()];
  if (wanted.length === 0) return;
  const held = await s.rt.db.tx(async (q) => {
    const r = await q.query<{ id: number; digest: string }>(
      `SELECT b.id, b.digest FROM blob b WHERE b.digest = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM proxy_blob_placeholder p WHERE p.blob_id = b.id) ORDER BY b.id FOR SHARE`,
      [wanted.map((d) => d.digest)],
    );
    for (const b of r.rows) await s.rt.blobs.holdTemporaryReference(q, s.repo.id, b.id);
    return new Set(r.rows.map((b) => b.digest));
  });
  await bounded(
    wanted.filter((d) => !held.has(d.digest)),
    BLOB_CONCURRENCY,
    async (d) => {
      checkpoint(s);
      const { done } = s.rt.proxyCache.filler.fill(
        { digest: d.digest, expectedSize: d.size, repositoryId: s.repo.id, source: { open: () => s.client.getBlob(s.upstreamRepo, d.digest) } },
        false,
      );
      const blob = await done;
      // The fill may have been another repository's (one fill per digest per process): reference it here too.
      await s.rt.db.tx((q) => s.rt.blobs.holdTemporaryReference(q, s.repo.id, blob.id));
    },
  );
}

async function copyManifest(s: SyncContext, m: UpstreamManifest, tag: string | null, depth = 0): Promise<void> {
  let parsed;
  try {
    parsed = parseManifest(m.bytes, m.mediaType);
  } catch (e) {
    if (e instanceof ManifestError) throw new Error(`the upstream manifest ${m.digest} is invalid: ${e.message}`, { cause: e });
    throw e;
  }
  let sparse = false;
  if (INDEX_TYPES.has(parsed.mediaType)) {
    if (depth > 0) throw new Error(`nested index ${m.digest} is not mirrored`);
    const filter = s.row.architecture_filter;
    const wanted = parsed.manifests.filter((c) => filter.length === 0 || (c.platform?.architecture !== undefined && filter.includes(c.platform.architecture)));
    sparse = wanted.length < parsed.manifests.length;
    if (wanted.length === 0) throw new Error(`no child of ${m.digest} matches the architecture filter ${filter.join(',')}`);
    await bounded(wanted, BLOB_CONCURRENCY, async (child) => {
      checkpoint(s);
      if (await s.rt.manifests.resolve(s.repo.id, child.digest)) return;
      await copyManifest(s, await s.client.getManifest(s.upstreamRepo, child.digest), null, depth + 1);
    });
  } else {
    checkpoint(s);
    await ensureBlobs(
      s,
      [...(parsed.config ? [parsed.config] : []), ...parsed.layers].filter((d) => !isNonDistributable(d.mediaType)),
    );
  }
  checkpoint(s);
  await s.rt.manifests.put(s.repo.id, tag ?? m.digest, m.bytes, m.mediaType, [], s.robot, { sparse });
}

/** Copy one tag; false when the local tag already names the upstream's manifest. */
async function copyTag(s: SyncContext, tag: string): Promise<boolean> {
  await s.rt.quotas.checkUploadAllowed(s.namespace.id);
  const head = await s.client.headManifest(s.upstreamRepo, tag);
  const local = await s.rt.manifests.resolve(s.repo.id, tag);
  if (local && head.digest && local.digest === head.digest) return false;
  const m = await s.client.getManifest(s.upstreamRepo, head.digest ?? tag);
  if (local?.digest === m.digest) return false;
  await copyManifest(s, m, tag);
  log(s, 'push_repo', { tag, manifest_digest: m.digest, via: 'mirror' });
  return true;
}

async function liveTagNames(rt: Runtime, repoId: number): Promise<string[]> {
  const r = await rt.db.query<{ name: string }>(`SELECT DISTINCT t.name FROM tag t WHERE t.repository_id = $1 AND ${LIVE('t', '$2')}`, [repoId, Date.now()]);
  return r.rows.map((x) => x.name);
}

export interface SyncResult {
  outcome: 'SUCCESS' | 'FAIL' | 'CANCEL';
  /** Matched tags copied, already up to date, and failed. */
  copied: number;
  unchanged: number;
  failed: number;
}

/** One sync run of a claimed configuration, counted in /metrics. */
export async function runSync(rt: Runtime, row: MirrorRow): Promise<SyncResult> {
  const m = rt.metrics;
  const timer = m.mirrorSyncDuration.startTimer();
  m.mirrorSyncsRunning.inc();
  try {
    const r = await syncOnce(rt, row);
    const result = r.outcome.toLowerCase();
    timer({ result });
    m.mirrorSyncs.inc({ result });
    m.mirrorTags.inc({ result: 'copied' }, r.copied);
    m.mirrorTags.inc({ result: 'unchanged' }, r.unchanged);
    m.mirrorTags.inc({ result: 'failed' }, r.failed);
    if (r.outcome === 'SUCCESS') m.mirrorLastSuccess.set(Date.now() / 1000);
    return r;
  } finally {
    m.mirrorSyncsRunning.dec();
  }
}

/** The run itself: releases the claim with its outcome. */
async function syncOnce(rt: Runtime, row: MirrorRow): Promise<SyncResult> {
  const repo = await rt.repositories.byId(row.repository_id);
  const robotRow = await rt.namespaces.byId(row.robot_id);
  const namespace = repo ? await rt.namespaces.byId(repo.namespace_id) : null;
  if (!repo || !namespace || !robotRow || robotRow.kind !== 'robot') {
    await rt.mirrors.release(row, 'FAIL', rt.config.REPO_MIRROR_INTERVAL, { kind: 'repo_mirror_sync_failed', message: `${syncMessage(row)}: the mirror robot no longer exists` });
    return { outcome: 'FAIL', copied: 0, unchanged: 0, failed: 0 };
  }
  const robot: Principal = { kind: 'robot', id: robotRow.id, name: robotRow.name, ownerId: robotRow.robot_owner_id!, ownerName: namespace.name };
  const patterns = row.tag_rules.join(',');
  const message = syncMessage(row);
  const s: SyncContext = {
    rt,
    row,
    repo,
    namespace,
    robot,
    client: undefined as unknown as UpstreamClient,
    upstreamRepo: '',
    deadline: Date.now() + row.skopeo_timeout_interval * 1000,
    lost: false,
  };
  const renewal = setInterval(
    () => {
      rt.mirrors.renew(row).then(
        (ok) => {
          if (!ok) s.lost = true;
        },
        (err) => rt.log.warn({ err, repositoryId: row.repository_id }, 'mirror: lease renewal failed'),
      );
    },
    (MIRROR_LEASE_SECONDS * 1000) / 3,
  );
  renewal.unref();
  log(s, 'repo_mirror_sync_started', { verb: 'start', message, tags: patterns });
  const failed: string[] = [];
  const copied: string[] = [];
  let unchanged = 0;
  let outcome: 'SUCCESS' | 'FAIL' | 'CANCEL' = 'SUCCESS';
  let error: string | null = null;
  try {
    const refusal = rt.writeGate.registryRefusal('v2');
    if (refusal) throw refusal;
    const ref = parseExternalReference(row.external_reference);
    await rt.proxyCache.checkAllowed(`${ref.host}`);
    if (
      !atLeast(
        await rt.permissions.repositoryRole(robot, { ref: { namespace: namespace.name, name: repo.name, full: `${namespace.name}/${repo.name}` }, namespace, repo }),
        'write',
      )
    ) {
      throw new Error(`the robot ${robot.name} may not write to ${namespace.name}/${repo.name}`);
    }
    s.upstreamRepo = ref.repository;
    s.client = new UpstreamClient({
      host: ref.host,
      verifyTls: row.verify_tls,
      httpFallback: true,
      username: row.username_enc ? rt.mirrors.box.open(row.username_enc) : null,
      password: row.password_enc ? rt.mirrors.box.open(row.password_enc) : null,
      proxy: { http_proxy: row.http_proxy, https_proxy: row.https_proxy, no_proxy: row.no_proxy },
      guard: rt.outboundGuard,
    });
    const listing = await s.client.listTags(s.upstreamRepo);
    const matched = matchingTags(listing.tags, row.tag_rules);
    if (matched.length === 0) {
      log(s, 'repo_mirror_sync_success', { verb: 'end', message, tags: 'No tags matched' });
      await rt.mirrors.release(row, 'SUCCESS', rt.config.REPO_MIRROR_INTERVAL, { kind: 'repo_mirror_sync_success', message });
      return { outcome: 'SUCCESS', copied: 0, unchanged: 0, failed: 0 };
    }
    try {
      await bounded(matched, TAG_CONCURRENCY, async (tag) => {
        // A sync-cancel rolls the transaction id: look before each tag, not only at lease renewal.
        if (!s.lost && !(await rt.mirrors.stillClaimed(row))) s.lost = true;
        checkpoint(s);
        try {
          if (await copyTag(s, tag)) copied.push(tag);
          else unchanged++;
          log(s, 'repo_mirror_sync_tag_success', { verb: 'finish', message, tag });
        } catch (e) {
          if (e instanceof SyncStopped) throw e;
          failed.push(tag);
          rt.log.warn({ err: e, repository: `${namespace.name}/${repo.name}`, tag }, 'mirror: copying a tag failed');
          log(s, 'repo_mirror_sync_tag_failed', { verb: 'finish', message, tag, stderr: (e as Error).message });
        }
      });
    } finally {
      // Tags gone upstream (or no longer matching) end here too, also after a partial run or a cancel, when
      // REPO_MIRROR_PRUNE_VANISHED_TAGS (Quay's behaviour) and only when the upstream listing was complete.
      if (rt.config.REPO_MIRROR_PRUNE_VANISHED_TAGS && listing.complete) {
        for (const name of await liveTagNames(rt, repo.id)) {
          if (matched.includes(name)) continue;
          if (await rt.tags.delete(repo.id, name)) log(s, 'delete_tag', { tag: name, via: 'mirror' });
        }
      } else if (!listing.complete) {
        rt.log.warn({ repository: `${namespace.name}/${repo.name}` }, 'mirror: the upstream tag listing was incomplete; no local tag is deleted');
      }
    }
    if (failed.length > 0) {
      outcome = 'FAIL';
      error = `${failed.length} of ${matched.length} tags failed: ${failed.join(', ')}`;
    }
  } catch (e) {
    outcome = e instanceof SyncStopped ? 'CANCEL' : 'FAIL';
    error = (e as Error).message;
  } finally {
    clearInterval(renewal);
    s.client?.close();
  }
  // The usage log entry and the repository notification carry the same message, as Quay's emit_log does.
  if (outcome === 'SUCCESS') {
    log(s, 'repo_mirror_sync_success', { verb: 'end', message, tags: copied.join(',') });
    await rt.mirrors.release(row, outcome, rt.config.REPO_MIRROR_INTERVAL, { kind: 'repo_mirror_sync_success', message });
  } else if (outcome === 'CANCEL') {
    log(s, 'repo_mirror_sync_failed', { verb: 'Cancelled', message, tags: copied.join(',') });
    await rt.mirrors.reportCancelled(row, message);
  } else {
    const failMessage = copied.length > 0 ? `${message}: PARTIAL SYNC` : message;
    log(s, 'repo_mirror_sync_failed', { verb: 'end', message: failMessage, tags: failed.map((t) => `${t}(FAILED)`).join(','), stderr: error });
    await rt.mirrors.release(row, outcome, rt.config.REPO_MIRROR_INTERVAL, { kind: 'repo_mirror_sync_failed', message: failMessage });
  }
  rt.log.info({ repositoryId: repo.id, repository: `${namespace.name}/${repo.name}`, outcome, copied: copied.length, failed: failed.length, error }, 'mirror sync finished');
  return { outcome, copied: copied.length, unchanged, failed: failed.length };
}

/**
 * The worker: claims due repositories every REPO_MIRROR_INTERVAL seconds, and at once when a configuration
 * is created or changed or a sync-now is asked for (MIRROR_CHANNEL), up to CONCURRENCY at once.
 */
export class MirrorWorker {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly running = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private claiming = false;
  /** A pass was asked for while one was claiming: claim again once it is done. */
  private again = false;
  private unlisten: Promise<(() => Promise<void>) | null> = Promise.resolve(null);

  constructor(private readonly rt: Runtime) {}

  start(): this {
    this.timer = setInterval(() => void this.pass(), this.rt.config.REPO_MIRROR_INTERVAL * 1000);
    this.timer.unref();
    this.unlisten = this.rt.db
      .listen(
        MIRROR_CHANNEL,
        () => void this.pass(),
        () => void this.pass(),
      )
      .catch((err: unknown) => {
        // The interval still finds due work; only the immediate start is lost.
        this.rt.log.warn({ err }, 'mirror worker: listening for configuration changes failed');
        return null;
      });
    void this.pass();
    return this;
  }

  /** Claim as many due repositories as there are free slots and start their syncs. */
  async pass(): Promise<void> {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    try {
      do {
        this.again = false;
        while (!this.stopped && this.running.size < CONCURRENCY) {
          const row = await this.rt.mirrors.claim(this.id);
          if (!row) break;
          const p = runSync(this.rt, row)
            .catch((err) => this.rt.log.error({ err, repositoryId: row.repository_id }, 'mirror sync failed'))
            .finally(() => {
              this.running.delete(p);
              void this.pass();
            });
          this.running.add(p);
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.rt.log.error({ err }, 'mirror worker: claiming failed');
    } finally {
      this.claiming = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await (
      await this.unlisten
    )?.();
    await Promise.all(this.running);
  }
}
