/**
 * Proxy cache organizations (user guide chapter 15): an organization's configuration, and pull-through of
 * manifests and blobs from its upstream registry.
 *
 * Manifest by tag: the upstream is asked (HEAD) on every pull (or, with PROXY_CACHE_MANIFEST_CHECK_INTERVAL, once
 * that long has passed since it last confirmed the tag); an unchanged digest serves the local copy and
 * pushes the tag's expiry `expiration_s` forward (that end time is the least-recently-pulled order quota
 * pruning uses); a changed digest fetches the new manifest. When the upstream is down, times out, answers
 * 5xx/429 or 404 on HEAD, a tag that has not expired is served as cached (the staleness period is its
 * remaining lifetime, or PROXY_CACHE_STALE_IF_ERROR seconds since the last confirmation); an auth failure is never masked by stale content. Manifest by digest never goes
 * upstream once cached. A manifest is fetched from the upstream once however many replicas are asked for it
 * at the same time. Blobs are rows with the descriptor's size until their bytes are fetched, on the
 * first request for them, streamed to that client while stored (see fill.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../db/index.js';
import type { CacheChange, CacheCoherence, Coherent } from '../cache/coherence.js';
import type { QuayConfig } from '../../config/index.js';
import type { BlobStore, ByteRange } from '../storage/index.js';
import type { Blobs, BlobRow } from '../model/blobs.js';
import type { Manifests, ManifestRow } from '../model/manifests.js';
import { LIVE, type Tags } from '../model/tags.js';
import type { NamespaceRow } from '../model/namespaces.js';
import type { RepoTarget, RepositoryRow, Repositories } from '../model/repositories.js';
import type { Principal } from '../auth/principal.js';
import type { SecretBox } from '../auth/secrets.js';
import { looksLikeDigest } from '../oci/digest.js';
import { ManifestError, parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { INDEX_TYPES, isNonDistributable } from '../oci/mediatypes.js';
import { Denied, DomainError, Invalid, NotFound, QuotaExceeded } from '../model/errors.js';
import { QUOTA_EXCEEDED, type Quotas } from '../model/quota.js';
import { BlobFiller, type FillHandle } from './fill.js';
import { UpstreamClient, UpstreamError, registryHost, type OutboundGuard, type UpstreamManifest } from './upstream.js';

export interface ProxyConfigRow {
  namespace_id: number;
  upstream_registry: string;
  username_enc: string | null;
  password_enc: string | null;
  expiration_s: number;
  insecure: boolean;
  created_at: Date;
}

export interface ProxyConfigInput {
  upstream_registry: string;
  upstream_registry_username?: string | null;
  upstream_registry_password?: string | null;
  expiration_s?: number;
  insecure?: boolean;
}

/** Thrown for configuration problems; the API answers 400 with the message (Quay's texts). */
export class ProxyConfigError extends Error {}

/** `host[:port]` and the optional upstream namespace of `upstream_registry` (`docker.io/library`). */
export function parseUpstreamRegistry(value: string): { host: string; namespace: string | null } {
  const v = value.trim();
  if (!v || /[\s\0]/.test(v) || v.includes('://') || v.includes('@')) throw new ProxyConfigError('The provided registry URL is not allowed');
  const [host, ...rest] = v.replace(/\/+$/, '').split('/');
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    throw new ProxyConfigError('The provided registry URL is not allowed');
  }
  if (url.host !== host.toLowerCase() || !url.hostname) throw new ProxyConfigError('The provided registry URL is not allowed');
  const namespace = rest.join('/');
  if (namespace && !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(namespace)) {
    throw new ProxyConfigError('The provided registry URL is not allowed');
  }
  return { host: host.toLowerCase(), namespace: namespace || null };
}

/** Where a local repository of a proxy organization lives upstream (Quay's rule: no automatic `library/`). */
export function upstreamRepository(cfg: Pick<ProxyConfigRow, 'upstream_registry'>, localName: string): string {
  const { namespace } = parseUpstreamRegistry(cfg.upstream_registry);
  return namespace ? `${namespace}/${localName}` : localName;
}

export interface ProxyDeps {
  db: Db;
  config: QuayConfig;
  store: BlobStore;
  blobs: Blobs;
  manifests: Manifests;
  tags: Tags;
  repositories: Repositories;
  quotas: Quotas;
  box: SecretBox;
  log: Logger;
  maxBlobSize: number;
  /** Keeps the configurations this process holds in memory coherent with the other processes'. */
  coherence: CacheCoherence;
  /** Where blob fills spool the upstream's bytes for the clients pulling them meanwhile (null: no sharing). */
  spoolDir: string | null;
  guard?: OutboundGuard;
  /** Grant a role on a repository to the principal that caused its creation. */
  grantRead(repo: RepositoryRow, principal: Principal): Promise<void>;
}

/** A manifest fill lease lives this long without renewal; its holder renews it every third of that. */
const MANIFEST_LEASE_SECONDS = 30;
/** How often a replica waiting for another's manifest fill looks whether it is done. */
const MANIFEST_WAIT_POLL_MS = 50;
/** Namespaces whose configuration (or its absence) is remembered. */
const CONFIG_MEMO_ENTRIES = 20_000;
/** Blob ids remembered as stored (a few hundred KiB at most). */
const STORED_MEMO_ENTRIES = 20_000;

export class ProxyCache implements Coherent {
  readonly filler: BlobFiller;
  /**
   * Each namespace's configuration, or its absence (every push and manifest GET asks), by namespace id: kept
   * while the cache channel is trusted and dropped on a change to the namespace (migration 054 notifies one
   * when a configuration changes).
   */
  private readonly configs = new Map<number, { row: ProxyConfigRow | null; namespace: string }>();
  private readonly clients = new Map<string, UpstreamClient>();
  private readonly manifestFlights = new Map<string, Promise<{ repo: RepositoryRow; manifest: ManifestRow }>>();
  /**
   * Blob rows whose bytes this process saw stored: a placeholder row is only ever made with a new blob row,
   * so once gone it never comes back for that id, and a warm blob pull needs no look at the placeholders.
   */
  private readonly stored = new Set<number>();

  constructor(private readonly d: ProxyDeps) {
    this.filler = new BlobFiller(d.db, d.store, d.blobs, d.maxBlobSize, d.spoolDir, d.log);
    d.coherence.register(this);
  }

  invalidate(change: CacheChange): void {
    if (change.kind !== 'n') return;
    for (const [id, e] of this.configs) if (e.namespace === change.key) this.configs.delete(id);
  }

  clear(): void {
    this.configs.clear();
  }

  /** At shutdown: closes the blob fills' liveness connection. */
  async close(): Promise<void> {
    await this.filler.close();
  }

  get enabled(): boolean {
    return this.d.config.FEATURE_PROXY_CACHE;
  }

  // ------------------------------------------------------------------ configuration

  async configFor(namespaceId: number, q: Queryable = this.d.db): Promise<ProxyConfigRow | null> {
    if (!this.enabled) return null;
    const coherence = this.d.coherence;
    const hit = q === this.d.db && coherence.trusted() ? this.configs.get(namespaceId) : undefined;
    if (hit) return hit.row;
    const startGen = coherence.generation;
    const r = await q.query<ProxyConfigRow & { namespace: string }>(
      'SELECT c.*, n.name AS namespace FROM namespace n LEFT JOIN proxy_cache_config c ON c.namespace_id = n.id WHERE n.id = $1',
      [namespaceId],
    );
    if (!r.rows[0]) return null;
    const { namespace, ...cfg } = r.rows[0];
    const row = cfg.namespace_id === null ? null : cfg;
    if (q === this.d.db && coherence.mayKeep({ kind: 'n', key: namespace }, startGen)) {
      if (this.configs.size >= CONFIG_MEMO_ENTRIES) this.configs.clear();
      this.configs.set(namespaceId, { row, namespace });
    }
    return row;
  }

  /** Validate an input the way create and validate both need; returns the normalised values. */
  normalise(input: ProxyConfigInput): Required<Omit<ProxyConfigInput, 'upstream_registry_username' | 'upstream_registry_password'>> & {
    username: string | null;
    password: string | null;
  } {
    if (typeof input.upstream_registry !== 'string') throw new ProxyConfigError('Missing upstream_registry');
    const { host, namespace } = parseUpstreamRegistry(input.upstream_registry);
    const expiration = input.expiration_s ?? 86400;
    if (typeof expiration !== 'number' || !Number.isSafeInteger(expiration) || expiration < 0)
      throw new ProxyConfigError('expiration_s must be a whole number of seconds, 0 or more');
    const insecure = input.insecure ?? false;
    if (typeof insecure !== 'boolean') throw new ProxyConfigError('insecure must be true or false');
    const username = input.upstream_registry_username ?? null;
    const password = input.upstream_registry_password ?? null;
    for (const [k, v] of [
      ['upstream_registry_username', username],
      ['upstream_registry_password', password],
    ] as const) {
      if (v !== null && (typeof v !== 'string' || v.length > 4096 || v.includes('\0'))) throw new ProxyConfigError(`Invalid ${k}`);
    }
    return {
      upstream_registry: namespace ? `${host}/${namespace}` : host,
      expiration_s: expiration,
      insecure,
      username: username || null,
      password: password || null,
    };
  }

  /** The SSRF rules for an upstream host (`SSRF_ALLOWED_HOSTS` exempts hosts), at configuration time. */
  async checkAllowed(upstreamRegistry: string): Promise<void> {
    const { host } = parseUpstreamRegistry(upstreamRegistry);
    if (!this.d.guard) return;
    try {
      await this.d.guard.check(`https://${registryHost(host)}/v2/`);
    } catch {
      throw new ProxyConfigError('The provided registry URL is not allowed');
    }
  }

  /** False when the organization already has a configuration. */
  async create(org: NamespaceRow, input: ProxyConfigInput): Promise<boolean> {
    const v = this.normalise(input);
    const r = await this.d.db.query(
      `INSERT INTO proxy_cache_config (namespace_id, upstream_registry, username_enc, password_enc, expiration_s, insecure)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (namespace_id) DO NOTHING`,
      [org.id, v.upstream_registry, v.username ? this.d.box.seal(v.username) : null, v.password ? this.d.box.seal(v.password) : null, v.expiration_s, v.insecure],
    );
    // Every process drops what it held for the organization before the caller answers (pushes are refused from now).
    await this.d.coherence.changed({ kind: 'n', key: org.name });
    return r.rowCount > 0;
  }

  async delete(org: NamespaceRow): Promise<boolean> {
    const r = await this.d.db.query('DELETE FROM proxy_cache_config WHERE namespace_id = $1', [org.id]);
    await this.d.coherence.changed({ kind: 'n', key: org.name });
    for (const [k, c] of this.clients) {
      if (k.startsWith(`${org.id}|`)) {
        c.close();
        this.clients.delete(k);
      }
    }
    return r.rowCount > 0;
  }

  /** Try the configuration against the upstream: `Valid` (credentials or none needed) or `Anonymous`. */
  async validate(input: ProxyConfigInput): Promise<'Valid' | 'Anonymous'> {
    const v = this.normalise(input);
    const client = new UpstreamClient({
      host: parseUpstreamRegistry(v.upstream_registry).host,
      insecure: v.insecure,
      username: v.username,
      password: v.password,
      guard: this.d.guard,
    });
    try {
      return (await client.validate()) === 'valid' ? 'Valid' : 'Anonymous';
    } finally {
      client.close();
    }
  }

  private client(cfg: ProxyConfigRow): UpstreamClient {
    const key = `${cfg.namespace_id}|${cfg.created_at.getTime()}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new UpstreamClient({
        host: parseUpstreamRegistry(cfg.upstream_registry).host,
        insecure: cfg.insecure,
        username: cfg.username_enc ? this.d.box.open(cfg.username_enc) : null,
        password: cfg.password_enc ? this.d.box.open(cfg.password_enc) : null,
        guard: this.d.guard,
        maxBackoffMs: this.d.config.PROXY_CACHE_UPSTREAM_MAX_BACKOFF * 1000,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  /** Pushes into a proxy organization are refused whatever the caller's role (Distribution's rule). */
  async refusePush(namespace: NamespaceRow | null): Promise<void> {
    if (namespace && (await this.configFor(namespace.id))) {
      throw new Denied(`${namespace.name} is a proxy cache organization: its repositories are filled from the upstream registry and cannot be pushed to`);
    }
  }

  // ------------------------------------------------------------------ manifests

  /**
   * The manifest a pull of `reference` gets in a proxy organization, or null when the namespace is not one.
   * Concurrent pulls of the same reference share one upstream exchange: in this process through a promise
   * map, across replicas through a lease row (see fillOnce).
   */
  async pullManifest(target: RepoTarget, reference: string, principal: Principal): Promise<{ repo: RepositoryRow; manifest: ManifestRow } | null> {
    if (!target.namespace) return null;
    const cfg = await this.configFor(target.namespace.id);
    if (!cfg) return null;
    const key = `${target.namespace.id}|${target.ref.name}|${reference}`;
    const running = this.manifestFlights.get(key);
    if (running) return running;
    const p = this.resolveManifest(cfg, target, reference, principal).finally(() => this.manifestFlights.delete(key));
    this.manifestFlights.set(key, p);
    return p;
  }

  private async resolveManifest(cfg: ProxyConfigRow, target: RepoTarget, reference: string, principal: Principal): Promise<{ repo: RepositoryRow; manifest: ManifestRow }> {
    const client = this.client(cfg);
    const upstreamRepo = upstreamRepository(cfg, target.ref.name);
    const repo = target.repo;
    const unknown = (why: string) =>
      repo ? new NotFound('manifest', 'manifest unknown', { reference, upstream: why }) : new NotFound('repository', 'repository not found', { upstream: why });
    const getManifest = async (ref: string): Promise<UpstreamManifest> => {
      try {
        return await client.getManifest(upstreamRepo, ref);
      } catch (e) {
        throw unknown(this.reason(e));
      }
    };
    const keep = async (fetched: UpstreamManifest, tag: string | null) => {
      const into = repo ?? (await this.createRepository(target, principal));
      return { repo: into, manifest: await this.store(cfg, client, upstreamRepo, into, fetched, tag) };
    };
    const stored = () => this.storedManifest(target, reference);

    if (looksLikeDigest(reference)) {
      const local = repo ? await this.d.manifests.resolve(repo.id, reference) : null;
      if (local) return { repo: repo!, manifest: local };
      return this.fillOnce(target, reference, stored, async () => keep(await getManifest(reference), null));
    }

    if (!repo) {
      // Nothing of the repository is cached: one replica asks the upstream, the others serve what it stored.
      return this.fillOnce(target, reference, stored, async () => {
        let head;
        try {
          head = await client.headManifest(upstreamRepo, reference);
        } catch (e) {
          throw unknown(this.reason(e));
        }
        return keep(await getManifest(head.digest ?? reference), reference);
      });
    }

    // The upstream is asked on every tag pull (Quay's rule) unless it confirmed the tag less than
    // PROXY_CACHE_MANIFEST_CHECK_INTERVAL seconds ago; the local lookup (the hot caches, as any pull's) runs meanwhile.
    const localLookup = this.d.manifests.resolve(repo.id, reference, repo.tag_version);
    const checkLookup = this.tracksChecks ? this.lastCheck(repo.id, reference) : Promise.resolve(null);
    const interval = this.d.config.PROXY_CACHE_MANIFEST_CHECK_INTERVAL;
    if (interval > 0) {
      const [local, check] = await Promise.all([localLookup, checkLookup]);
      if (local && check && check.manifest_id === local.id && Date.now() - check.checked_ms < interval * 1000) return { repo, manifest: local };
    }
    const [local, head, check] = await Promise.all([
      localLookup,
      client.headManifest(upstreamRepo, reference).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
      checkLookup,
    ]);
    if (head instanceof Error) {
      const stale = head instanceof UpstreamError && head.kind !== 'auth' ? await this.staleCopy(repo, local, check) : null;
      if (stale) return { repo, manifest: stale };
      throw unknown(this.reason(head));
    }
    // The live tag still names what the upstream names: serve it, its end pushed forward (unless it moved meanwhile).
    if (local && head.digest === local.digest && (await this.bumpTag(repo.id, reference, local.id, cfg))) return { repo, manifest: local };
    const landed = async () => {
      const got = await stored();
      return got && head.digest && got.manifest.digest === head.digest ? got : null;
    };
    return this.fillOnce(target, reference, landed, async () => {
      let fetched: UpstreamManifest;
      try {
        fetched = await client.getManifest(upstreamRepo, head.digest ?? reference);
      } catch (e) {
        const stale = e instanceof UpstreamError && e.kind === 'unavailable' ? await this.staleCopy(repo, local, check) : null;
        if (stale) return { repo, manifest: stale };
        throw unknown(this.reason(e));
      }
      return keep(fetched, reference);
    });
  }

  /** The manifest a reference names in the organization's repository, as stored now (another replica may just have stored it). */
  private async storedManifest(target: RepoTarget, reference: string): Promise<{ repo: RepositoryRow; manifest: ManifestRow } | null> {
    const r = await this.d.db.query<RepositoryRow>('SELECT * FROM repository WHERE namespace_id = $1 AND name = $2', [target.namespace!.id, target.ref.name]);
    const repo = r.rows[0];
    if (!repo) return null;
    const manifest = await this.d.manifests.resolve(repo.id, reference);
    return manifest ? { repo, manifest } : null;
  }

  /**
   * Fetch a manifest from the upstream once across replicas: the replica holding the reference's lease leads
   * (after a last look whether another one stored it meanwhile); the others wait for the lease to go and serve
   * what was stored. When the leader failed or died, a waiter leads in its turn.
   */
  private async fillOnce<T>(target: RepoTarget, reference: string, landed: () => Promise<T | null>, lead: () => Promise<T>): Promise<T> {
    const key = [target.namespace!.id, target.ref.name, reference];
    const owner = randomUUID();
    for (;;) {
      const claim = await this.d.db.query(
        `INSERT INTO proxy_manifest_fill (namespace_id, repository, reference, owner, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
         ON CONFLICT (namespace_id, repository, reference) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE proxy_manifest_fill.expires_at <= now()`,
        [...key, owner, MANIFEST_LEASE_SECONDS],
      );
      if (claim.rowCount > 0) {
        const renewal = setInterval(
          () => {
            this.d.db
              .query(
                `UPDATE proxy_manifest_fill SET expires_at = now() + make_interval(secs => $5)
                  WHERE namespace_id = $1 AND repository = $2 AND reference = $3 AND owner = $4`,
                [...key, owner, MANIFEST_LEASE_SECONDS],
              )
              .catch(() => undefined);
          },
          (MANIFEST_LEASE_SECONDS * 1000) / 3,
        );
        renewal.unref();
        try {
          return (await landed()) ?? (await lead());
        } finally {
          clearInterval(renewal);
          await this.d.db
            .query('DELETE FROM proxy_manifest_fill WHERE namespace_id = $1 AND repository = $2 AND reference = $3 AND owner = $4', [...key, owner])
            .catch(() => undefined);
        }
      }
      for (;;) {
        await sleep(MANIFEST_WAIT_POLL_MS);
        const lease = await this.d.db.query<{ lapsed: boolean }>(
          'SELECT expires_at <= now() AS lapsed FROM proxy_manifest_fill WHERE namespace_id = $1 AND repository = $2 AND reference = $3',
          key,
        );
        if (lease.rows[0]?.lapsed) break;
        if (!lease.rows[0]) {
          const got = await landed();
          if (got) return got;
          break;
        }
      }
    }
  }

  private reason(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
  }

  /** The repository a first pull creates; the puller gets `read` on it (never admin: Quay's CVE-2025-4374 fix). */
  private async createRepository(target: RepoTarget, principal: Principal): Promise<RepositoryRow> {
    const visibility = this.d.config.CREATE_PRIVATE_REPO_ON_PUSH ? 'private' : 'public';
    const { repo, created } = await this.d.repositories.create(target.namespace!.id, target.ref.name, { visibility });
    if (created) await this.d.grantRead(repo, principal);
    return repo;
  }

  /** Whether the upstream's confirmations of tags are recorded (proxy_tag_check): only a key that reads them needs them. */
  private get tracksChecks(): boolean {
    return this.d.config.PROXY_CACHE_MANIFEST_CHECK_INTERVAL > 0 || this.d.config.PROXY_CACHE_STALE_IF_ERROR !== null;
  }

  /** When the upstream last confirmed a tag, and the manifest it named then. */
  private async lastCheck(repoId: number, tag: string): Promise<{ manifest_id: number; digest: string; checked_ms: number } | null> {
    const r = await this.d.db.query<{ manifest_id: number; digest: string; checked_ms: string }>(
      'SELECT c.manifest_id, m.digest, c.checked_ms FROM proxy_tag_check c JOIN manifest m ON m.id = c.manifest_id WHERE c.repository_id = $1 AND c.name = $2',
      [repoId, tag],
    );
    const row = r.rows[0];
    return row ? { manifest_id: Number(row.manifest_id), digest: row.digest, checked_ms: Number(row.checked_ms) } : null;
  }

  /**
   * What a tag pull gets when the upstream fails (not on an auth failure): by default (Quay) the live tag while
   * it has not expired; with PROXY_CACHE_STALE_IF_ERROR the manifest the upstream last confirmed, expired or
   * not, while that confirmation is at most that many seconds old. Null: nothing may be served.
   */
  private async staleCopy(repo: RepositoryRow, local: ManifestRow | null, check: { manifest_id: number; digest: string; checked_ms: number } | null): Promise<ManifestRow | null> {
    const window = this.d.config.PROXY_CACHE_STALE_IF_ERROR;
    if (window === null) return local;
    if (!check || Date.now() - check.checked_ms > window * 1000) return null;
    if (local && local.id === check.manifest_id) return local;
    return this.d.manifests.resolve(repo.id, check.digest);
  }

  /**
   * The upstream confirmed that the tag names the manifest: push the live tag's end forward (`expiration_s`;
   * 0: cached tags never expire) and record the check when a key reads it. False when the tag no longer names it.
   */
  private async bumpTag(repoId: number, tag: string, manifestId: number, cfg: ProxyConfigRow): Promise<boolean> {
    if (cfg.expiration_s === 0 && !this.tracksChecks) return true;
    const now = Date.now();
    const live = `t.repository_id = $1 AND t.name = $2 AND t.manifest_id = $3 AND ${LIVE('t', '$4')}`;
    const tagged =
      cfg.expiration_s === 0
        ? `SELECT t.id FROM tag t WHERE ${live}`
        : `UPDATE tag t SET end_ms = ${now + cfg.expiration_s * 1000}, expiry_state = 'scheduled' WHERE ${live} RETURNING t.id`;
    if (!this.tracksChecks) return (await this.d.db.query(tagged, [repoId, tag, manifestId, now])).rowCount > 0;
    const r = await this.d.db.query(
      `WITH tagged AS (${tagged})
       INSERT INTO proxy_tag_check (repository_id, name, manifest_id, checked_ms) SELECT $1, $2, $3, $4 FROM tagged
       ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = EXCLUDED.manifest_id, checked_ms = EXCLUDED.checked_ms`,
      [repoId, tag, manifestId, now],
    );
    return r.rowCount > 0;
  }

  /**
   * Store a manifest fetched from the upstream: the children of an index first (each a manifest of its own),
   * then blob rows for what the manifest names (placeholders until their bytes are fetched), the quota gate
   * with least-recently-pulled pruning, the manifest, and the tag with its expiry.
   */
  private async store(
    cfg: ProxyConfigRow,
    client: UpstreamClient,
    upstreamRepo: string,
    repo: RepositoryRow,
    m: UpstreamManifest,
    tag: string | null,
    depth = 0,
  ): Promise<ManifestRow> {
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(m.bytes, m.mediaType);
    } catch (e) {
      if (e instanceof ManifestError) throw new NotFound('manifest', 'manifest unknown', { upstream: `the upstream manifest is invalid: ${e.message}` });
      throw e;
    }
    if (INDEX_TYPES.has(parsed.mediaType)) {
      if (depth > 0) throw new NotFound('manifest', 'manifest unknown', { upstream: 'nested indexes are not cached' });
      for (const child of parsed.manifests) {
        if (await this.d.manifests.resolve(repo.id, child.digest)) continue;
        let fetched: UpstreamManifest;
        try {
          fetched = await client.getManifest(upstreamRepo, child.digest);
        } catch (e) {
          throw new NotFound('manifest', 'manifest unknown', { upstream: this.reason(e) });
        }
        await this.store(cfg, client, upstreamRepo, repo, fetched, null, depth + 1);
      }
    }
    const descriptors = [...(parsed.config ? [parsed.config] : []), ...parsed.layers].filter((d) => !isNonDistributable(d.mediaType));
    await this.d.db.tx(async (q) => {
      // One cache fill at a time per namespace: the quota gate reads usage and prunes.
      await q.query('SELECT pg_advisory_xact_lock(774413, $1::int)', [repo.namespace_id % 2147483647]);
      if (!INDEX_TYPES.has(parsed.mediaType)) await this.makeRoom(q, repo.namespace_id, descriptors);
      await this.placeholders(q, repo.id, descriptors);
    });
    // The config is read when the manifest is stored (labels, artifact type): fetch it now; it is small.
    if (parsed.config && !isNonDistributable(parsed.config.mediaType)) await this.fetchNow(client, upstreamRepo, repo, parsed.config);
    await this.d.manifests.put(repo.id, tag ?? m.digest, m.bytes, m.mediaType);
    const stored = await this.d.manifests.resolve(repo.id, m.digest);
    if (!stored) throw new NotFound('manifest', 'manifest unknown');
    if (tag) await this.bumpTag(repo.id, tag, stored.id, cfg);
    return stored;
  }

  private async fetchNow(client: UpstreamClient, upstreamRepo: string, repo: RepositoryRow, d: { digest: string; size: number }): Promise<void> {
    const row = await this.d.db.query<{ id: number }>('SELECT b.id FROM blob b JOIN proxy_blob_placeholder p ON p.blob_id = b.id WHERE b.digest = $1', [d.digest]);
    if (!row.rows[0] && !this.filler.pending(d.digest)) return;
    const { done } = this.filler.fill({ digest: d.digest, expectedSize: d.size, repositoryId: repo.id, source: { open: () => client.getBlob(upstreamRepo, d.digest) } }, false);
    try {
      await done;
    } catch (e) {
      throw new NotFound('manifest', 'manifest unknown', { upstream: `config blob: ${this.reason(e)}` });
    }
  }

  /** Blob rows for descriptors not stored yet (with the declared size) and the repository's references to all. */
  private async placeholders(q: Queryable, repoId: number, descriptors: Array<{ digest: string; size: number }>): Promise<void> {
    if (descriptors.length === 0) return;
    const unique = [...new Map(descriptors.map((d) => [d.digest, d])).values()];
    if (unique.some((d) => !Number.isSafeInteger(d.size) || d.size < 0 || d.size > this.d.maxBlobSize)) {
      throw new NotFound('manifest', 'manifest unknown', { upstream: `blob too large, max allowed is ${this.d.maxBlobSize}` });
    }
    const ins = await q.query<{ id: number }>(
      `INSERT INTO blob (digest, size) SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1 ON CONFLICT (digest) DO NOTHING RETURNING id`,
      [unique.map((d) => d.digest), unique.map((d) => d.size)],
    );
    if (ins.rows.length > 0) await q.query('INSERT INTO proxy_blob_placeholder (blob_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING', [ins.rows.map((r) => r.id)]);
    const all = await q.query<{ id: number }>('SELECT id FROM blob WHERE digest = ANY($1::text[]) ORDER BY id FOR SHARE', [unique.map((d) => d.digest)]);
    for (const b of all.rows) await this.d.blobs.holdTemporaryReference(q, repoId, b.id);
  }

  /**
   * Quay's quota gate for proxy organizations (15.3.1): an image larger than the limit is refused; otherwise
   * tags are expired, least recently pulled first (soonest end time, since every pull pushes it forward),
   * until the live content plus the new image fits. Space is given back by GC later.
   */
  private async makeRoom(q: Queryable, namespaceId: number, descriptors: Array<{ digest: string; size: number }>): Promise<void> {
    if (!this.d.config.FEATURE_QUOTA_MANAGEMENT) return;
    const quota = await this.d.quotas.effective(namespaceId, q);
    if (!quota) return;
    const unique = [...new Map(descriptors.map((d) => [d.digest, d.size])).entries()];
    const imageSize = unique.reduce((n, [, s]) => n + s, 0);
    if (imageSize > quota.limitBytes) throw new QuotaExceeded(QUOTA_EXCEEDED);
    const needed = async () => {
      const now = Date.now();
      const r = await q.query<{ live: string; fresh: string }>(
        `WITH RECURSIVE live AS (
           SELECT t.manifest_id AS id FROM tag t JOIN repository r ON r.id = t.repository_id
            WHERE r.namespace_id = $1 AND (t.end_ms IS NULL OR t.end_ms > $2)
           UNION SELECT mc.child_manifest_id FROM manifest_child mc JOIN live ON mc.manifest_id = live.id),
         used AS (SELECT DISTINCT mb.blob_id FROM manifest_blob mb WHERE mb.manifest_id IN (SELECT id FROM live))
         SELECT (SELECT coalesce(sum(b.size), 0) FROM blob b WHERE b.id IN (SELECT blob_id FROM used)) AS live,
                (SELECT coalesce(sum(x.size), 0) FROM unnest($3::text[], $4::bigint[]) AS x(digest, size)
                  WHERE NOT EXISTS (SELECT 1 FROM blob b JOIN used u ON u.blob_id = b.id WHERE b.digest = x.digest)) AS fresh`,
        [namespaceId, now, unique.map(([d]) => d), unique.map(([, s]) => s)],
      );
      return Number(r.rows[0].live) + Number(r.rows[0].fresh) - quota.limitBytes;
    };
    for (let over = await needed(); over > 0; over = await needed()) {
      const now = Date.now();
      const victim = await q.query<{ id: number; repository_id: number; name: string }>(
        `SELECT t.id, t.repository_id, t.name FROM tag t JOIN repository r ON r.id = t.repository_id
          WHERE r.namespace_id = $1 AND t.end_ms IS NOT NULL AND t.end_ms > $2
          ORDER BY t.end_ms, t.id LIMIT 1`,
        [namespaceId, now],
      );
      if (!victim.rows[0]) throw new QuotaExceeded(QUOTA_EXCEEDED);
      await q.query('UPDATE tag SET end_ms = GREATEST($2::bigint, start_ms), expiry_state = NULL WHERE id = $1', [victim.rows[0].id, now]);
      this.d.log.info({ namespaceId, repositoryId: victim.rows[0].repository_id, tag: victim.rows[0].name }, 'proxy cache: tag pruned to stay within quota');
    }
  }

  // ------------------------------------------------------------------ blobs

  /**
   * Make a blob of a proxy repository servable for a GET of it (all of it, or `range`). Null when its bytes
   * are stored (serve it as usual); a stream of them (or of the range) as they arrive while a fill is under way,
   * here or on another replica (see fill.ts), or, when that fill cannot stream them, null once it stored them.
   */
  async prepareBlob(repo: RepositoryRow, blob: BlobRow, range: ByteRange | null): Promise<Readable | null> {
    const joined = this.filler.join(blob.digest, true);
    if (joined) return this.served(joined, range);
    if (this.stored.has(blob.id)) return null;
    const placeholder = await this.d.db.query('SELECT 1 FROM proxy_blob_placeholder WHERE blob_id = $1', [blob.id]);
    if (placeholder.rows.length === 0) {
      this.rememberStored(blob.id);
      return null;
    }
    const cfg = await this.configFor(repo.namespace_id);
    if (!cfg) throw new NotFound('blob', 'blob unknown to registry', { digest: blob.digest });
    const client = this.client(cfg);
    const upstreamRepo = upstreamRepository(cfg, repo.name);
    return this.served(
      this.filler.fill({ digest: blob.digest, expectedSize: blob.size, repositoryId: repo.id, source: { open: () => client.getBlob(upstreamRepo, blob.digest) } }, true),
      range,
    );
  }

  /**
   * The bytes of a fill (or of `range`) as they arrive, when it can stream them, or null once it is stored;
   * Quay's error while no byte is sent yet (once bytes flow, a failure can only cut the body).
   */
  private async served(fill: FillHandle, range: ByteRange | null): Promise<Readable | null> {
    try {
      await fill.started;
      const spooled = fill.reader(range ?? undefined);
      if (spooled) return spooled;
      await fill.done;
      return null;
    } catch (e) {
      throw this.blobError(e);
    }
  }

  private rememberStored(blobId: number): void {
    if (this.stored.size >= STORED_MEMO_ENTRIES) this.stored.clear();
    this.stored.add(blobId);
  }

  private blobError(e: unknown): DomainError {
    if (e instanceof DomainError) return e;
    return new Invalid(
      'request',
      `the requested image may not exist in the upstream registry, or the configured Quay organization credentials have insufficient rights to access it (${this.reason(e)})`,
    );
  }
}
