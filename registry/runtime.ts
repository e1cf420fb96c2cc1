/** The composition root: builds every service from the config. Routes and workers receive this object. */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { QuayConfig } from '../config/index.js';
import { openDatabase, type Db } from './db/index.js';
import { migrate } from './db/migrate.js';
import { createBlobStore, type BlobStore } from './storage/index.js';
import { Metrics } from './metrics.js';
import { TokenService } from './auth/tokens.js';
import type { Authenticator } from './auth/credentials.js';
import type { Permissions } from './auth/permissions.js';
import { generateSecret } from './auth/passwords.js';
import { Namespaces, type NamespaceRow } from './model/namespaces.js';
import { Repositories } from './model/repositories.js';
import { Blobs } from './model/blobs.js';
import { Uploads } from './model/uploads.js';
import { Tags } from './model/tags.js';
import { Manifests } from './model/manifests.js';
import { UsageLogs } from './model/logs.js';
import { GarbageCollector } from './model/gc.js';
import { Quotas } from './model/quota.js';
import { Labels } from './model/labels.js';
import { Notifications } from './model/notifications.js';
import { createTenancy, type Tenancy } from './model/tenancy.js';
import { AccountMail } from './model/account_mail.js';
import { SecurityScanner, parseLayerSize } from './model/secscan.js';
import { BuiltinScanner } from './scan/builtin.js';
import { DEFAULT_LIMITS } from './scan/layer.js';
import { ClairScanner } from './scan/clair.js';
import { LayerUrlSigner } from './scan/layer_urls.js';
import type { WriteGate } from './model/write_gate.js';
import { Queues } from './queue/index.js';
import { Outbound } from './net/outbound.js';
import { RecaptchaVerifier, type CaptchaVerifier } from './auth/captcha.js';
import { Events } from './model/events.js';
import { NotificationConfigs } from './model/notification_configs.js';
import { NotificationDelivery } from './model/notification_delivery.js';
import { Mailer } from './net/mail.js';
import { SecretBox, secretMaterial } from './auth/secrets.js';
import { ProxyCache } from './proxy/cache.js';
import type { OutboundGuard } from './proxy/upstream.js';
import { RepoMirrors, mirrorRobot } from './model/mirror.js';
import { CacheCoherence } from './cache/coherence.js';
import type { ByteLru } from './cache/lru.js';
import { HotCaches } from './cache/hot.js';
import { Builds } from './model/builds.js';
import { MemoryBuildLogs, RedisBuildLogs } from './build/logs.js';
import { buildManagerSettings, type BuildManagerSettings } from './build/config.js';
import { MemoryOrchestrator, RedisOrchestrator, type Orchestrator } from './build/orchestrator.js';
import { ServiceKeys } from './model/service_keys.js';
import { Triggers, triggerSecretBox } from './model/triggers.js';
import { Userfiles } from './model/userfiles.js';
import { BuildRequests } from './model/build_requests.js';
import { LogExports } from './model/log_export.js';
import { SignedLinks } from './auth/signed_links.js';
import { logView } from './http/api/views.js';

export interface Runtime {
  config: QuayConfig;
  dataDir: string;
  log: Logger;
  db: Db;
  store: BlobStore;
  metrics: Metrics;
  tokens: TokenService;
  auth: Authenticator;
  permissions: Permissions;
  namespaces: Namespaces;
  repositories: Repositories;
  blobs: Blobs;
  uploads: Uploads;
  tags: Tags;
  manifests: Manifests;
  logs: UsageLogs;
  gc: GarbageCollector;
  quotas: Quotas;
  labels: Labels;
  notifications: Notifications;
  /** Service keys: the instance's signing keys, preshared keys, keys services submit for approval. */
  serviceKeys: ServiceKeys;
  /** Organizations, teams, robots, repository permissions, OAuth and app tokens, sessions, log reading. */
  tenancy: Tenancy;
  /** Security scanning (FEATURE_SECURITY_SCANNER): statuses, indexing, the /security lookup. */
  secscan: SecurityScanner;
  /** The built-in scanner (also the OSV database importer), when Clair is not configured. */
  builtinScanner: BuiltinScanner | null;
  /** The Clair v4 client, when SECURITY_SCANNER_V4_ENDPOINT is set. */
  clairScanner: ClairScanner | null;
  /** Signs the short-lived single-blob URLs Clair downloads layers from. */
  layerUrls: LayerUrlSigner;
  /** Whether a write may happen now (REGISTRY_STATE, DISABLE_PUSHES, repository state): every write path asks it. */
  writeGate: WriteGate;
  /** The durable work queues (registry/queue/). */
  queues: Queues;
  /** The SSRF guard every outbound HTTP call goes through. */
  outbound: Outbound;
  /** Event emission inside producers' transactions. */
  events: Events;
  /** Repository and namespace notification configurations, authorized e-mails, failure accounting. */
  notificationConfigs: NotificationConfigs;
  /** Delivery of an event to a notification by its method. */
  delivery: NotificationDelivery;
  /** Outgoing e-mail (MAIL_*, FEATURE_MAILING). */
  mailer: Mailer;
  accountMail: AccountMail;
  /** The reCAPTCHA check of sign-ups and new organizations (FEATURE_RECAPTCHA); null when off. */
  captcha: CaptchaVerifier | null;
  /** The directory of config.yaml (ssl.cert / ssl.key for webhook client certificates); null in embedded mode. */
  configDir: string | null;
  /** Proxy cache organizations: configuration and pull-through (FEATURE_PROXY_CACHE). */
  proxyCache: ProxyCache;
  /** Repository mirroring configuration and sync leases (FEATURE_REPO_MIRROR). */
  mirrors: RepoMirrors;
  /** The SSRF guard as the upstream registry client uses it (proxy cache, mirroring). */
  outboundGuard: OutboundGuard;
  /** BUILDLOGS_REDIS, when configured (build logs, events, shared queues). */
  redis: Redis | null;
  /** The pull path's in-process caches and what keeps them coherent (registry/cache/). */
  caches: HotCaches;
  /** Dockerfile builds: creation, phases, cancellation, completion, logs. */
  builds: Builds;
  /** BUILD_MANAGER resolved (null when FEATURE_BUILD_SUPPORT is off). */
  buildSettings: BuildManagerSettings | null;
  /** The build orchestrator shared with the build managers (in memory when BUILD_MANAGER names no Redis). */
  buildOrchestrator: Orchestrator | null;
  /** Build triggers (model/triggers.ts). */
  triggers: Triggers;
  /** Build packs uploaded through /api/v1/filedrop/. */
  userfiles: Userfiles;
  /** The checks of a build request (manual, webhook, trigger run) before Builds.startBuild. */
  buildRequests: BuildRequests;
  /** Usage-log export (FEATURE_LOG_EXPORT): requests, the export run, the signed local download links. */
  logExports: LogExports;
  close(): Promise<void>;
}

/** `20G`-style sizes (MAXIMUM_LAYER_SIZE) in bytes. */
export function parseSize(s: string): number {
  const m = /^([0-9]+)([KMGT]?)$/.exec(s);
  if (!m) throw new Error(`invalid size "${s}"`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]]!;
  return Number(m[1]) * unit;
}

export async function createRuntime(config: QuayConfig, dataDir: string, log: Logger, opts: { configDir?: string } = {}): Promise<Runtime> {
  const db = await openDatabase(config, dataDir);
  try {
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ applied }, 'database migrations applied');
    const metrics = new Metrics();
    const store = metrics.instrument(await createBlobStore(config, dataDir));
    const tokens = new TokenService(db, config.SERVER_HOSTNAME);
    await tokens.init();
    const caches = new HotCaches(await new CacheCoherence(db).start());
    const namespaces = new Namespaces(db, config);
    const blobs = new Blobs(db, store, config.PUSH_TEMP_TAG_EXPIRATION_SEC);
    const tags = new Tags(db);
    const logs = new UsageLogs(db, (err) => log.error({ err }, 'writing usage logs failed'));
    const repositories = new Repositories(db, caches);
    const upstreamSecrets = new SecretBox(await secretMaterial(db, 'DATABASE_SECRET_KEY', config.DATABASE_SECRET_KEY), 'upstream-credentials');
    // A repository in the MIRROR state takes pushes only from the robot of its mirror configuration.
    const tenancy = await createTenancy(db, config, namespaces, repositories, logs, {
      mirrorRobot: (repositoryId, q) => mirrorRobot(config, repositoryId, q),
    });
    const allowed = config.ALLOWED_OCI_ARTIFACT_TYPES;
    const notifications = new Notifications(db);
    const queues = new Queues(db);
    metrics.watchQueues(() => queues.depth());
    const outbound = new Outbound(config);
    const events = new Events(config, queues);
    const mirrors = new RepoMirrors(db, upstreamSecrets, tenancy.writeGate, events);
    const notificationConfigs = new NotificationConfigs(db, config, outbound);
    const mailer = new Mailer(config);
    const accountMail = new AccountMail(db, config, mailer, namespaces);
    const configDir = opts.configDir ?? null;
    const delivery = new NotificationDelivery({ db, config, outbound, mailer, notifications, configDir });
    const labels = new Labels(db, blobs, config.LABEL_KEY_RESERVED_PREFIXES);
    metrics.watchCaches(
      [...caches.all, tokens.verified as ByteLru<unknown>, tenancy.auth.verified as ByteLru<unknown>, labels.configLabelCache as ByteLru<unknown>],
      caches.coherence,
    );
    const layerUrls = new LayerUrlSigner(await secretMaterial(db, 'SECSCAN_LAYER_URL_KEY', undefined), `${config.PREFERRED_URL_SCHEME}://${config.SERVER_HOSTNAME}`);
    const clairEndpoint = config.SECURITY_SCANNER_V4_ENDPOINT;
    // Clair is the admin's own service: its host is allowed through the SSRF guard, which still applies its other rules.
    const clairScanner = clairEndpoint
      ? new ClairScanner(
          clairEndpoint,
          config.SECURITY_SCANNER_V4_PSK ? Buffer.from(config.SECURITY_SCANNER_V4_PSK, 'base64') : null,
          new Outbound({ ...config, SSRF_ALLOWED_HOSTS: [...(config.SSRF_ALLOWED_HOSTS ?? []), new URL(clairEndpoint).hostname] }),
          async (_job, layer) => ({ uri: layerUrls.url(layer.digest), headers: {} }),
        )
      : null;
    const builtinScanner = clairScanner
      ? null
      : new BuiltinScanner(
          db,
          { ...DEFAULT_LIMITS, maxUncompressedBytes: parseLayerSize(config.SECURITY_SCANNER_MAX_UNCOMPRESSED_LAYER_SIZE) },
          Boolean(config.SECURITY_SCANNER_OSV_DB_PATH),
        );
    const secscan = new SecurityScanner(db, store, config, log, clairScanner ?? builtinScanner!, events, queues);
    const maxBlobSize = parseSize(config.MAXIMUM_LAYER_SIZE);
    const manifests = new Manifests(
      db,
      tags,
      { generalOci: config.FEATURE_GENERAL_OCI_SUPPORT, helm: config.FEATURE_HELM_OCI_SUPPORT, allowed },
      {
        configLabels: (repoId, m) => labels.configLabels(repoId, m),
        async pushed(q, p) {
          await labels.onManifestPushed(q, p);
          const push = p.movedTags.length > 0 ? await events.emitRepositoryPush(q, p.repositoryId, p.movedTags, p.performer) : null;
          await secscan.onManifestPushed(q, p);
          return push?.afterCommit;
        },
        // A quota event must never fail the push that caused it: the next check fires it.
        usageGrew: (repositoryId) =>
          quotas
            .usageGrew(repositoryId)
            .catch((err) => log.warn({ err, repositoryId }, 'quota event check failed'))
            .then(() => undefined),
      },
      caches,
    );
    const quotas = new Quotas(db, config, notifications, events);
    const outboundGuard: OutboundGuard = {
      check: async (url) => {
        outbound.parse(url, 'upstream');
      },
      lookup: outbound.guardedLookup(),
    };
    const proxyCache = new ProxyCache({
      guard: outboundGuard,
      db,
      config,
      store,
      blobs,
      manifests,
      tags,
      repositories,
      quotas,
      box: upstreamSecrets,
      log,
      maxBlobSize,
      spoolDir: join(dataDir, 'proxy-spool'),
      coherence: caches.coherence,
      grantRead: async (repo, principal) => {
        if (principal.kind === 'user' || principal.kind === 'robot') await tenancy.repoPermissions.setUser(repo, principal, 'read');
      },
    });
    const logExports = new LogExports({
      config,
      store,
      queues,
      outbound,
      mailer,
      reader: tenancy.logReader,
      logs,
      links: new SignedLinks(
        await secretMaterial(db, 'EXPORT_LINK_KEY', undefined),
        `${config.PREFERRED_URL_SCHEME}://${config.SERVER_HOSTNAME}`,
        'exported-logs',
        '/exportedlogs/',
      ),
      view: (row) => logView(row, false),
      log,
    });
    const r = config.BUILDLOGS_REDIS;
    // ioredis is loaded only when Redis is configured.
    const redis = r
      ? new (await import('ioredis')).Redis({
          host: r.host,
          port: r.port ?? 6379,
          password: r.password ?? undefined,
          db: r.db ?? 0,
          tls: r.ssl ? {} : undefined,
          lazyConnect: true,
          maxRetriesPerRequest: 2,
        })
      : null;
    redis?.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
    const userfiles = new Userfiles(db, store, parseSize(config.USERFILES_MAX_SIZE));
    const buildSettings = buildManagerSettings(config);
    const buildOrchestrator = buildSettings
      ? buildSettings.orchestrator
        ? await RedisOrchestrator.create(buildSettings.orchestrator, buildSettings.prefix)
        : new MemoryOrchestrator()
      : null;
    const builds = new Builds(
      db,
      config,
      queues,
      events,
      redis ? new RedisBuildLogs(redis) : new MemoryBuildLogs(),
      store,
      new SecretBox(await secretMaterial(db, 'DATABASE_SECRET_KEY', config.DATABASE_SECRET_KEY), 'build-push-token'),
    );
    if (buildOrchestrator) {
      const prefix = buildOrchestrator.prefix;
      builds.cancelSignal = async (uuid) => {
        await buildOrchestrator.set(`${prefix}cancel/${uuid}`, uuid, 60);
      };
    }
    return {
      config,
      dataDir,
      log,
      db,
      store,
      metrics,
      tokens,
      auth: tenancy.auth,
      permissions: tenancy.permissions,
      namespaces,
      repositories,
      blobs,
      uploads: new Uploads(db, store, blobs, maxBlobSize),
      tags,
      manifests,
      logs,
      gc: new GarbageCollector(
        db,
        store,
        metrics,
        log,
        config.PUSH_TEMP_TAG_EXPIRATION_SEC,
        config.PROXY_CACHE_STALE_IF_ERROR ?? 0,
        // built-in reports go with the manifest rows (ON DELETE CASCADE); Clair keeps its own
        clairScanner && config.FEATURE_SECURITY_SCANNER && config.SECURITY_SCANNER_V4_MANIFEST_CLEANUP ? (digest) => clairScanner.deleteReport(digest) : undefined,
      ),
      quotas,
      labels,
      notifications,
      serviceKeys: new ServiceKeys(db, notifications, async () =>
        (await db.query<{ id: number }>(`SELECT id FROM namespace WHERE kind = 'user' AND (superuser OR name = ANY($1::text[]))`, [config.SUPER_USERS])).rows.map((r) => r.id),
      ),
      tenancy,
      secscan,
      builtinScanner,
      clairScanner,
      layerUrls,
      writeGate: tenancy.writeGate,
      queues,
      outbound,
      events,
      notificationConfigs,
      delivery,
      mailer,
      accountMail,
      captcha: config.FEATURE_RECAPTCHA ? new RecaptchaVerifier(outbound, config.RECAPTCHA_VERIFY_URL, config.RECAPTCHA_SECRET_KEY!) : null,
      configDir,
      proxyCache,
      mirrors,
      outboundGuard,
      redis,
      caches,
      builds,
      buildSettings,
      buildOrchestrator,
      triggers: new Triggers(db, config, await triggerSecretBox(db, config)),
      userfiles,
      buildRequests: new BuildRequests(db, builds, userfiles, outbound, logs),
      logExports,
      async close() {
        await caches.coherence.stop();
        await proxyCache.close();
        await buildOrchestrator?.close();
        await logs.flush();
        outbound.close();
        mailer.close();
        redis?.disconnect();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}

/**
 * On first start with no user (and FEATURE_USER_INITIALIZE off), create the superuser: `admin`, or the first
 * name in SUPER_USERS. Returns its generated password once, or null when nothing was created.
 */
export async function bootstrapSuperuser(rt: Runtime, password = generateSecret(20)): Promise<{ user: NamespaceRow; password: string } | null> {
  if (rt.config.FEATURE_USER_INITIALIZE) return null;
  return rt.db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock(774412)');
    if ((await rt.namespaces.countUsers(q)) > 0) return null;
    const name = rt.config.SUPER_USERS[0] ?? 'admin';
    const user = await rt.namespaces.createUser({ name, password, email: null, superuser: true }, q);
    return { user, password };
  });
}
