/**
 * One reconcile pass for one QuayRegistry: read the CR and its bundle, check them, compute the desired
 * objects (pure functions in components/), apply them with server-side apply, then write status.
 * Nothing is applied when a check fails, and a pass over a converged registry writes nothing.
 */
import { createHash } from 'node:crypto';
import yaml from 'js-yaml';
import { validateConfig } from '../config/index.js';
import {
  ANNOTATION_OWNER,
  API_VERSION,
  KIND,
  LABEL_COMPONENT,
  LABEL_REGISTRY,
  FIELD_MANAGER,
  type BuilderNamespace,
  type Component,
  type ComponentKind,
  type Condition,
  type KubeObject,
  type Platform,
  type QuayRegistry,
  type QuayRegistryStatus,
} from './types.js';
import { COMPONENTS } from './components/index.js';
import {
  TLS_HASH_ANNOTATION,
  observedKey,
  tlsHash,
  ownerReference,
  prefixed,
  type HealthContext,
  type Images,
  type ObjectBucket,
  type Observed,
  type RenderContext,
  type Settings,
  type TlsPair,
} from './components/common.js';
import { appName, serviceCaName, trustedCaName, upgradeJob, upgradeJobName } from './components/quay.js';
import { MONITORING_LABELS } from './components/monitoring.js';
import { SERVICE_CA_ANNOTATION, TRUSTED_CA_ANNOTATION, caHash, clusterTlsSettings } from './openshift.js';
import { databaseName, postgresPvcName, postgresSecretName } from './components/postgres.js';
import { clairDatabaseName, clairPostgresSecretName, clairPvcName } from './components/clairpostgres.js';
import { clairName } from './components/clair.js';
import { UPGRADE_FROM_VOLUME, pgMajor, pgUpgradeJob, pgUpgradeJobName, upgradeState, type DbKind, type PgUpgrade } from './pgupgrade.js';
import { mirrorName } from './components/mirror.js';
import { bucketClaimName } from './components/objectstorage.js';
import { caSecretName } from './components/tls.js';
import { hostOnly } from './components/route.js';
import {
  ANNOTATION_CREATED_BY,
  BUILDER_ROLE,
  BUILDER_SCC,
  LABEL_BUILDER_SCC,
  builderNamespaces,
  builderObjects,
  buildsEnabled,
  resolveBuilderHostname,
  tokenKey,
} from './components/builders.js';
import { CONFIG_KEY, baseConfig, configSecretPrefix, managedKeysName, managedKeysSecret, renderConfig, resolveManagedKeys } from './bundle.js';
import { componentMap, configProblems, dependencyProblems, fillComponents, hasBundleCerts, validateOverrides, type Blocked } from './spec.js';
import { caUsable, generateCa, issueServingCert, pairProblem, servingCertUsable } from './tls.js';
import { CONDITION, KNOWN_CONDITIONS, changedConditions, componentConditions, componentHealth, mergeConditions, sameStatus } from './status.js';
import { observeHealth, tlsHealth } from './health.js';
import { Kube, errorMessage, isStatus, type Live } from './kube.js';

export interface OperatorOptions {
  quayVersion: string;
  images: Images;
  settings: Settings;
  /** Apps domain for generated hostnames: `<n>-quay-<ns>.<domain>` (OpenShift's is discovered). */
  ingressDomain?: string;
  /** How long a converged registry waits for its next pass. */
  resyncMs: number;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Writes status.conditions etc.; resolves false when the write lost a race (the pass is retried). */
export type StatusWriter = (cr: QuayRegistry, status: QuayRegistryStatus) => Promise<boolean>;

export interface PassResult {
  requeueAfterMs: number;
}

const WAIT_MS = 10_000;
const APPLY_CONCURRENCY = 8;
/** How often every object is applied even when its watch says nothing changed. */
const FULL_APPLY_MS = 10 * 60_000;
const BUILDER_TOKEN_SECONDS = 365 * 24 * 3600;
const TLS_SECRET_LABEL = 'quay.redhat.com/tls-secret';
/** How long a replaced Deployment may take to go (the garbage collector orphans its ReplicaSets first). */
const REPLACE_TIMEOUT_MS = 30_000;

const decode = (data: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));

const nowSeconds = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

const objectKey = (kind: string, namespace: string | undefined, name: string) => `${kind}/${namespace ?? ''}/${name}`;

/** Kinds whose live state readiness and rollout checks read; of the others only existence matters. */
const READ_KINDS = new Set(['Deployment', 'Job', 'PersistentVolumeClaim', 'Route', 'Ingress']);

/** What readiness checks read of a live object; the rest (managedFields, pod templates) is not kept. */
function trim(live: Live): Live {
  const { apiVersion, kind, metadata, spec, status } = live;
  if (!READ_KINDS.has(kind)) return { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace } };
  return {
    apiVersion,
    kind,
    metadata: { name: metadata.name, namespace: metadata.namespace, generation: metadata.generation, resourceVersion: metadata.resourceVersion, annotations: metadata.annotations },
    spec: spec && 'replicas' in spec ? { replicas: spec.replicas } : {},
    status,
  };
}

const DB_KINDS: readonly DbKind[] = ['postgres', 'clairpostgres'];
/** Each managed database: its Deployment (and Service, service account), credentials, and the Deployments that write to it. */
const DB_OBJECTS: Record<DbKind, { deployment: (ctx: { name: string }) => string; secret: (ctx: { name: string }) => string; writers: (ctx: RenderContext) => string[] }> = {
  postgres: { deployment: databaseName, secret: postgresSecretName, writers: (ctx) => [appName(ctx), ...(ctx.components.mirror.managed ? [mirrorName(ctx)] : [])] },
  clairpostgres: { deployment: clairDatabaseName, secret: clairPostgresSecretName, writers: (ctx) => (ctx.components.clair.managed ? [clairName(ctx)] : []) },
};

/** Objects applied before the app: everything but Deployments and Jobs, then the databases and Redis. */
const EARLY_WORKLOADS = new Set(['postgres', 'clair-postgres', 'redis']);
const isEarly = (o: KubeObject) => (o.kind !== 'Deployment' && o.kind !== 'Job') || EARLY_WORKLOADS.has(o.metadata.labels?.[LABEL_COMPONENT] ?? '');

export class Reconciler {
  /** Per applied object: what was applied, the response, and the time of our last change (managedFields). */
  private readonly applied = new Map<string, { hash: string; rv: string; at: number; time?: string; live: Live }>();
  /** Latest resourceVersion of each owned object, from the watches (see noteObject). */
  private readonly seen = new Map<string, string>();
  private platformCache?: { at: number; value: Platform };
  /** Secrets/ConfigMaps a registry reads but does not own (bundle, secretRef, bucket): `Kind/ns/name` -> registry keys. */
  readonly references = new Map<string, Set<string>>();

  constructor(
    private readonly kube: Kube,
    private readonly opts: OperatorOptions,
    private readonly log: Logger,
    private readonly writeStatus: StatusWriter,
  ) {}

  /** Discovery is cached briefly: it changes only when APIs are installed. */
  private async platform(): Promise<Platform> {
    if (!this.platformCache || Date.now() - this.platformCache.at > 30_000) {
      this.platformCache = { at: Date.now(), value: await this.kube.discover() };
    }
    return this.platformCache.value;
  }

  private reference(cr: QuayRegistry, kind: string, name: string): void {
    const key = `${kind}/${cr.metadata.namespace}/${name}`;
    const set = this.references.get(key) ?? new Set<string>();
    set.add(`${cr.metadata.namespace}/${cr.metadata.name}`);
    this.references.set(key, set);
  }

  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    for (const [ref, set] of this.references) {
      set.delete(key);
      if (!set.size) this.references.delete(ref);
    }
    for (const k of this.applied.keys()) if (k.startsWith(`${key}|`)) this.applied.delete(k);
  }

  async event(cr: QuayRegistry, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    try {
      await this.kube.create({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${cr.metadata.name}.${now.getTime().toString(16)}${Math.random().toString(16).slice(2, 6)}`, namespace: cr.metadata.namespace },
        involvedObject: { apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, namespace: cr.metadata.namespace, uid: cr.metadata.uid },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: 'quayregistry-controller' },
        reportingComponent: FIELD_MANAGER,
        firstTimestamp: now.toISOString(),
        lastTimestamp: now.toISOString(),
        count: 1,
      });
    } catch (err) {
      this.log.warn(`event for ${cr.metadata.namespace}/${cr.metadata.name} not recorded: ${errorMessage(err)}`);
    }
  }

  /**
   * Status write with Events for the conditions that changed. A pass records that it saw the CR's
   * generation; a health refresh between passes does not (`pass` false).
   */
  private async setStatus(cr: QuayRegistry, updates: Condition[], extra: Partial<QuayRegistryStatus> = {}, pass = true): Promise<boolean> {
    const old = cr.status ?? {};
    const now = nowSeconds();
    const conditions = mergeConditions(old.conditions, updates, now, (t) => KNOWN_CONDITIONS.has(t));
    const changed = changedConditions(old.conditions, conditions);
    const status: QuayRegistryStatus = {
      ...old,
      ...extra,
      observedGeneration: pass ? cr.metadata.generation : old.observedGeneration,
      conditions,
      lastUpdated: changed.length ? now : old.lastUpdated,
    };
    if (sameStatus(old, status)) return true;
    const ok = await this.writeStatus(cr, status);
    if (!ok) return false;
    for (const c of changed) {
      if (c.type !== CONDITION.RolloutBlocked && c.type !== CONDITION.ComponentsCreated && c.type !== CONDITION.Available) continue;
      const warning = (c.type === CONDITION.RolloutBlocked && c.status === 'True') || c.reason === 'MigrationsFailed';
      void this.event(cr, warning ? 'Warning' : 'Normal', c.reason, c.message);
    }
    return true;
  }

  /** OpenShift's `apiservers.config.openshift.io/cluster`; undefined where that API does not exist. */
  private async apiServer(): Promise<Live | undefined> {
    try {
      return await this.kube.get('config.openshift.io/v1', 'APIServer', 'cluster');
    } catch (err) {
      if (/serves no APIServer/.test(errorMessage(err))) return undefined;
      throw err;
    }
  }

  /** A blocked pass applies nothing, but the component conditions still tell what runs and what does not. */
  private async block(cr: QuayRegistry, b: Blocked, retryMs = this.opts.resyncMs): Promise<PassResult> {
    this.log.warn(`${cr.metadata.namespace}/${cr.metadata.name}: rollout blocked (${b.reason}): ${b.message}`);
    const health = await this.healthConditions(cr).catch((err) => {
      this.log.warn(`${cr.metadata.namespace}/${cr.metadata.name}: health not evaluated: ${errorMessage(err)}`);
      return [];
    });
    const ok = await this.setStatus(cr, [{ type: CONDITION.RolloutBlocked, status: 'True', reason: b.reason, message: b.message }, ...health]);
    return { requeueAfterMs: ok ? retryMs : 1000 };
  }

  /**
   * Every component condition and `Available`, from fresh reads of the bundle, the tls `secretRef`
   * and the registry's objects (health.ts), whatever state the last pass left.
   */
  async healthConditions(cr: QuayRegistry, currentVersion = cr.status?.currentVersion): Promise<Condition[]> {
    const { name, namespace, uid } = cr.metadata;
    const platform = await this.platform();
    const bundleName = cr.spec?.configBundleSecret;
    if (bundleName) this.reference(cr, 'Secret', bundleName);
    const bundleSecret = bundleName ? await this.kube.get('v1', 'Secret', bundleName, namespace) : undefined;
    const bundle = bundleSecret ? decode(bundleSecret.data) : undefined;
    const components = componentMap(fillComponents(cr.spec?.components, platform, bundle ?? {}).components);
    const ctx: HealthContext = { name, namespace, uid, components, platform, migrating: currentVersion !== this.opts.quayVersion };
    const secretRef = components.tls.managed ? undefined : components.tls.secretRef?.name;
    if (secretRef) this.reference(cr, 'Secret', secretRef);
    const managedTls = components.tls.managed && !platform.routes;
    const [refSecret, serving, observed] = await Promise.all([
      secretRef ? this.kube.get('v1', 'Secret', secretRef, namespace) : undefined,
      managedTls ? this.kube.get('v1', 'Secret', prefixed(ctx, 'quay-tls'), namespace) : undefined,
      observeHealth(this.kube, ctx),
    ]);
    const tls = tlsHealth(ctx, { bundleName, bundle, refSecret, servingSecret: Boolean(serving) });
    return componentConditions(componentHealth(ctx, observed, tls));
  }

  /** Between passes: the component conditions and `Available` brought up to date, nothing else. */
  async refreshHealth(cr: QuayRegistry): Promise<void> {
    await this.setStatus(cr, await this.healthConditions(cr), {}, false);
  }

  /** The API server's latest resourceVersion of an object the operator owns, as its watches report it. */
  noteObject(kind: string, namespace: string | undefined, name: string, resourceVersion: string | undefined): void {
    const key = objectKey(kind, namespace, name);
    if (resourceVersion) this.seen.set(key, resourceVersion);
    else this.seen.delete(key);
  }

  /**
   * Apply one object and record whether the apply changed it. Skipped when the object is what this
   * operator last applied and nothing has written it since (its watch reports the resourceVersion of
   * our apply): then the last response is still the live object. Entries expire after FULL_APPLY_MS,
   * so a watch event that was missed cannot hide a change for long.
   */
  private async apply(cr: QuayRegistry, obj: KubeObject, observed: Observed, changed: string[], passStart: number): Promise<void> {
    const key = objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const cacheKey = `${cr.metadata.namespace}/${cr.metadata.name}|${key}`;
    const hash = createHash('sha1').update(JSON.stringify(obj)).digest('base64');
    const last = this.applied.get(cacheKey);
    if (last && last.hash === hash && this.seen.get(key) === last.rv && passStart - last.at < FULL_APPLY_MS) {
      observed.set(observedKey(obj.kind, obj.metadata.name), last.live);
      return;
    }
    let live: Live;
    try {
      live = await this.kube.apply(obj);
    } catch (err) {
      if (!isStatus(err, 422)) throw err;
      if (obj.kind === 'Deployment' && /spec\.selector[^]*field is immutable/.test(errorMessage(err))) {
        live = await this.replaceDeployment(cr, obj, errorMessage(err));
      } else {
        // Someone changed a list-map key (say, a Service port): apply adds ours next to theirs and the
        // result is invalid. An update with our whole object replaces those lists; then apply again.
        this.log.warn(`${obj.kind} ${obj.metadata.name}: ${errorMessage(err)}; resetting it to the desired state`);
        await this.kube.mergePatch(obj);
        live = await this.kube.apply(obj);
      }
    }
    const trimmed = trim(live);
    observed.set(observedKey(obj.kind, obj.metadata.name), trimmed);
    const time: string | undefined = (live.metadata?.managedFields ?? []).find((f: any) => f.manager === FIELD_MANAGER && f.operation === 'Apply')?.time;
    if (time && (last ? last.time !== time : Date.parse(time) >= Math.floor(passStart / 1000) * 1000 - 1000)) {
      changed.push(`${obj.kind} ${obj.metadata.name}`);
    }
    this.applied.set(cacheKey, { hash, rv: live.metadata.resourceVersion, at: passStart, time, live: trimmed });
  }

  /**
   * A Deployment whose selector differs from ours (one made by Quay's operator, or by an older
   * version of this one) cannot be changed in place: it is deleted orphaning its ReplicaSets and pods,
   * which keep serving, and created again; its selector matches those pods' labels, so it adopts
   * them and rolls them as any template change would.
   * Volumes are separate objects and stay.
   */
  private async replaceDeployment(cr: QuayRegistry, obj: KubeObject, why: string): Promise<Live> {
    const { name, namespace } = obj.metadata;
    this.log.warn(`Deployment ${name}: ${why}; replacing it, its pods kept`);
    await this.kube.delete('apps/v1', 'Deployment', name, namespace, 'Orphan');
    const deadline = Date.now() + REPLACE_TIMEOUT_MS;
    while (await this.kube.get('apps/v1', 'Deployment', name, namespace)) {
      if (Date.now() > deadline) throw new Error(`Deployment ${name} is still being deleted (orphaning its ReplicaSets); retrying`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const live = await this.kube.apply(obj);
    await this.event(cr, 'Normal', 'DeploymentReplaced', `Deployment ${name} had another selector: replaced, its pods kept running until rolled`);
    return live;
  }

  async reconcile(current: QuayRegistry): Promise<PassResult> {
    const passStart = Date.now();
    let cr = current;
    const { name, namespace } = cr.metadata;
    const platform = await this.platform();

    // 1. The config bundle: created when the spec names none.
    if (!cr.spec?.configBundleSecret) {
      const created = await this.kube.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: '',
          generateName: `${name}-config-bundle-`,
          namespace,
          labels: { [LABEL_REGISTRY]: name },
          ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name, uid: cr.metadata.uid }],
        },
        stringData: { [CONFIG_KEY]: yaml.dump(baseConfig(), { sortKeys: true }) },
      } as KubeObject);
      // The spec writes below go on in the same pass with the CR the API server returned.
      cr = (await this.kube.mergePatch({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace, resourceVersion: cr.metadata.resourceVersion },
        spec: { configBundleSecret: created.metadata.name },
      })) as QuayRegistry;
      void this.event(cr, 'Normal', 'ConfigBundleCreated', `Created config bundle Secret ${created.metadata.name}`);
    }
    const bundleName = cr.spec!.configBundleSecret!;
    this.reference(cr, 'Secret', bundleName);
    const bundleSecret = await this.kube.get('v1', 'Secret', bundleName, namespace);
    if (!bundleSecret) {
      return this.block(cr, { reason: 'ConfigInvalid', message: `unable to get \`configBundleSecret\`: Secret "${bundleName}" not found` });
    }
    const bundle = decode(bundleSecret.data);

    // 2. Every component kind present in the spec, written back once.
    const filled = fillComponents(cr.spec!.components, platform, bundle);
    if (filled.changed) {
      cr = (await this.kube.mergePatch({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace, resourceVersion: cr.metadata.resourceVersion },
        spec: { components: filled.components },
      })) as QuayRegistry;
    }
    const components = componentMap(filled.components);

    // 3. Checks that block the rollout before anything is touched.
    let userConfig: Record<string, unknown>;
    try {
      const loaded = yaml.load(bundle[CONFIG_KEY] ?? '') ?? {};
      if (typeof loaded !== 'object' || Array.isArray(loaded)) throw new Error('config.yaml must be a YAML mapping');
      userConfig = loaded as Record<string, unknown>;
    } catch (err) {
      return this.block(cr, { reason: 'ConfigInvalid', message: `invalid config.yaml: ${(err as Error).message}` });
    }
    const schemaErrors = validateConfig(userConfig).errors;
    if (schemaErrors.length) return this.block(cr, { reason: 'ConfigInvalid', message: `invalid config.yaml: ${schemaErrors.join('; ')}` });
    const blocked = validateOverrides(components) ?? dependencyProblems(components, platform) ?? configProblems(components, userConfig, bundle);
    if (blocked) return this.block(cr, blocked);

    // 4. Hostnames.
    const domain = this.opts.ingressDomain ?? (platform.routes ? await this.kube.openshiftAppsDomain() : undefined);
    const hostname =
      typeof userConfig.SERVER_HOSTNAME === 'string' && userConfig.SERVER_HOSTNAME ? userConfig.SERVER_HOSTNAME : domain ? `${name}-quay-${namespace}.${domain}` : undefined;
    if (!hostname) {
      return this.block(cr, {
        reason: 'RouteComponentDependencyError',
        message: platform.routes
          ? 'cannot determine the cluster apps domain (ingresses.config.openshift.io/cluster): set SERVER_HOSTNAME in config.yaml or INGRESS_DOMAIN on the operator'
          : 'the route component makes an Ingress, which needs a host: set SERVER_HOSTNAME in config.yaml, or INGRESS_DOMAIN on the operator',
      });
    }
    const builds = buildsEnabled(userConfig);
    const builderHostname = builds ? resolveBuilderHostname(userConfig, name, namespace, domain) : undefined;
    if (builds && components.route.managed && !platform.routes && !builderHostname) {
      return this.block(cr, {
        reason: 'ConfigInvalid',
        message: 'builds are enabled but the builder Ingress has no host: set BUILDMAN_HOSTNAME in config.yaml, or INGRESS_DOMAIN on the operator',
      });
    }
    const tlsHosts = [hostOnly(hostname), ...(builderHostname ? [builderHostname] : [])];

    // 5. What the render reads back from the cluster, fetched at once.
    const secretRef = components.tls.managed ? undefined : components.tls.secretRef?.name;
    const managedTls = components.tls.managed && !platform.routes;
    const claim = bucketClaimName({ name });
    const wanted = builderNamespaces(userConfig);
    const getSecret = (n: string) => this.kube.get('v1', 'Secret', n, namespace);
    const none = Promise.resolve(undefined);
    const wantProfile = !components.tls.managed && !('SSL_PROTOCOLS' in userConfig) && !('SSL_CIPHERS' in userConfig);
    const [caSecret, servingSecret, persistedSecret, bucketSecret, bucketMap, refSecret, apiServer, serviceCa, trustedCa, ...builderNs] = await Promise.all([
      managedTls ? getSecret(caSecretName({ name })) : none,
      managedTls ? getSecret(prefixed({ name }, 'quay-tls')) : none,
      getSecret(managedKeysName(name)),
      components.objectstorage.managed ? getSecret(claim) : none,
      components.objectstorage.managed ? this.kube.get('v1', 'ConfigMap', claim, namespace) : none,
      secretRef ? getSecret(secretRef) : none,
      wantProfile ? this.apiServer() : none,
      platform.routes ? this.kube.get('v1', 'ConfigMap', serviceCaName({ name }), namespace) : none,
      platform.routes ? this.kube.get('v1', 'ConfigMap', trustedCaName({ name }), namespace) : none,
      ...wanted.map((b) => this.kube.get('v1', 'Namespace', b.namespace)),
    ]);

    // 6. TLS material: the user's pair (checked), or the operator's CA and serving pair (made or renewed).
    let tls: TlsPair | undefined;
    let tlsSecretName: string | undefined;
    let managedCa: { cert: string; key: string } | undefined;
    if (secretRef) {
      this.reference(cr, 'Secret', secretRef);
      const d = decode(refSecret?.data);
      const problem = !refSecret
        ? `Secret "${secretRef}" not found`
        : refSecret.type !== 'kubernetes.io/tls'
          ? `Secret "${secretRef}" has type ${refSecret.type}, want kubernetes.io/tls`
          : !d['tls.crt'] || !d['tls.key']
            ? `Secret "${secretRef}" needs non-empty tls.crt and tls.key`
            : undefined;
      if (problem) return this.block(cr, { reason: 'ConfigInvalid', message: `external TLS secret error: ${problem}` });
      if (refSecret!.metadata.labels?.[TLS_SECRET_LABEL] !== 'true') {
        // Quay's operator marks the Secrets it reads so cluster tooling can find them; same label here.
        await this.kube.mergePatch({ apiVersion: 'v1', kind: 'Secret', metadata: { name: secretRef, namespace, labels: { [TLS_SECRET_LABEL]: 'true' } } });
      }
      tls = { cert: d['tls.crt'], key: d['tls.key'] };
      tlsSecretName = secretRef;
    } else if (!components.tls.managed && hasBundleCerts(bundle)) {
      tls = { cert: bundle['ssl.cert'], key: bundle['ssl.key'] };
    }
    const tlsProblem = tls && pairProblem(tls, tlsHosts);
    if (tlsProblem) return this.block(cr, { reason: 'ConfigInvalid', message: `TLS certificate problem: ${tlsProblem}` });
    if (managedTls) {
      const caData = decode(caSecret?.data);
      let ca = caData['tls.crt'] ? { cert: caData['tls.crt'], key: caData['tls.key'] } : undefined;
      if (!ca || !caUsable(ca)) ca = await generateCa(`${name}.${namespace} quay-operator CA`);
      const servingData = decode(servingSecret?.data);
      let serving = servingData['tls.crt'] ? { cert: servingData['tls.crt'], key: servingData['tls.key'] } : undefined;
      const servingHosts = [...tlsHosts, appName({ name }), `${appName({ name })}.${namespace}.svc`];
      if (!serving || !servingCertUsable(serving, ca, tlsHosts)) serving = await issueServingCert(ca, servingHosts);
      managedCa = ca;
      tls = { ...serving, ca: ca.cert };
    }

    // 7. Generated secrets, object bucket, builders.
    const keys = resolveManagedKeys(name, decode(persistedSecret?.data), userConfig, components);
    let objectBucket: ObjectBucket | undefined;
    if (components.objectstorage.managed) {
      this.reference(cr, 'Secret', claim);
      this.reference(cr, 'ConfigMap', claim);
      if (bucketSecret && bucketMap) {
        const creds = decode(bucketSecret.data);
        let host = String(bucketMap.data?.BUCKET_HOST ?? '');
        if (host.endsWith('.svc')) host += '.cluster.local';
        const port = Number(bucketMap.data?.BUCKET_PORT ?? 443);
        objectBucket = { host, port, secure: port !== 80, bucket: bucketMap.data?.BUCKET_NAME, accessKey: creds.AWS_ACCESS_KEY_ID, secretKey: creds.AWS_SECRET_ACCESS_KEY };
      }
    }
    const builders: BuilderNamespace[] = wanted.map((b, i) => ({
      ...b,
      ours: !builderNs[i] || builderNs[i]?.metadata?.annotations?.[ANNOTATION_CREATED_BY] === `${namespace}/${name}`,
    }));

    // 7b. Managed databases whose Postgres major the operator's image raises (pgupgrade.ts).
    const pgUpgrades: RenderContext['pgUpgrades'] = {};
    const finishedCopies: Live[] = [];
    for (const kind of DB_KINDS) {
      if (!components[kind].managed) continue;
      const [live, job] = await Promise.all([
        this.kube.get('apps/v1', 'Deployment', DB_OBJECTS[kind].deployment({ name }), namespace),
        this.kube.get('batch/v1', 'Job', pgUpgradeJobName({ name }, kind), namespace),
      ]);
      const liveImage: string | undefined = live?.spec?.template?.spec?.containers?.[0]?.image;
      const want = this.opts.images[kind];
      const u = upgradeState(liveImage, want, this.opts.images[`${kind}Previous`], job);
      if (u === 'downgrade') {
        return this.block(cr, {
          reason: 'UpgradeUnsupported',
          message: `${kind} holds Postgres ${pgMajor(liveImage!)} data but the operator's image ${want} is Postgres ${pgMajor(want)}: Postgres cannot read a newer major's data; set RELATED_IMAGE_COMPONENT_${kind.toUpperCase()} to Postgres ${pgMajor(liveImage!)} or newer`,
        });
      }
      if (u) pgUpgrades[kind] = u;
      // A copy that went through (now, or before a restart of the operator) is finished after the applies below.
      if (job?.status?.succeeded && (!u || u.state === 'succeeded')) finishedCopies.push(job);
    }

    const migrating = cr.status?.currentVersion !== this.opts.quayVersion;
    const ctx: RenderContext = {
      name,
      namespace,
      uid: cr.metadata.uid,
      components,
      platform,
      settings: this.opts.settings,
      images: this.opts.images,
      quayVersion: this.opts.quayVersion,
      hostname,
      scheme: 'https',
      builderHostname,
      userConfig,
      bundle,
      keys,
      tls,
      managedCa,
      tlsSecretName,
      objectBucket,
      builders,
      builderTokens: {},
      migrating,
      pgUpgrades,
      configSecretName: '',
      tlsAnnotations: {},
      // Quay's operator reads the profile only when the registry terminates TLS itself (tls unmanaged).
      clusterTls: apiServer ? clusterTlsSettings(apiServer.spec?.tlsSecurityProfile) : undefined,
      caAnnotations: platform.routes
        ? { [SERVICE_CA_ANNOTATION]: caHash(serviceCa?.data?.['service-ca.crt'] ?? ''), [TRUSTED_CA_ANNOTATION]: caHash(trustedCa?.data?.['ca-bundle.crt'] ?? '') }
        : {},
    };
    if (!components.route.managed) ctx.scheme = userConfig.PREFERRED_URL_SCHEME === 'http' ? 'http' : 'https';

    const observed: Observed = new Map();
    const changed: string[] = [];
    const apply = (o: KubeObject) => this.apply(cr, o, observed, changed, passStart);
    // Objects of one phase do not depend on each other: apply them a few at a time.
    const applyAll = async (objs: KubeObject[]) => {
      for (let i = 0; i < objs.length; i += APPLY_CONCURRENCY) await Promise.all(objs.slice(i, i + APPLY_CONCURRENCY).map(apply));
    };
    try {
      // 8. What the config needs to exist first: the generated secrets, builder access and its tokens.
      const access = builderObjects(ctx);
      await applyAll([managedKeysSecret(ctx), ...access.filter((o) => o.kind === 'Namespace')]);
      await applyAll(access.filter((o) => o.kind !== 'Namespace'));
      ctx.builderTokens = await this.builderTokens(cr, ctx, apply);

      // 9. The rendered config, then every component's objects.
      const rendered = renderConfig(ctx);
      const generated = validateConfig(rendered.config);
      if (generated.errors.length) {
        return this.block(cr, { reason: 'ComponentCreationFailed', message: `generated config.yaml is invalid: ${generated.errors.join('; ')}` }, WAIT_MS);
      }
      ctx.configSecretName = rendered.name;
      if (rendered.config.PREFERRED_URL_SCHEME === 'http') ctx.scheme = 'http';
      ctx.tlsAnnotations = tls ? { [TLS_HASH_ANNOTATION]: tlsHash(tls) } : {};
      const render = () => (Object.entries(components) as [ComponentKind, Component][]).flatMap(([kind, c]) => (c.managed ? COMPONENTS[kind].objects(ctx) : []));
      const desired = render();
      await applyAll(desired.filter(isEarly));
      if (components.objectstorage.managed) {
        this.observe(observed, await this.kube.get('objectbucket.io/v1alpha1', 'ObjectBucketClaim', bucketClaimName(ctx), namespace));
      }

      // 10. The app waits for its databases and bucket (Quay's order), so it never starts half-configured.
      const dbReady = (kind: 'postgres' | 'clairpostgres', deployment: string) =>
        !components[kind].managed || (observed.get(observedKey('Deployment', deployment))?.status?.availableReplicas ?? 0) > 0;
      const waitingFor = [
        ...(dbReady('postgres', databaseName(ctx)) ? [] : ['postgres']),
        ...(dbReady('clairpostgres', clairDatabaseName(ctx)) ? [] : ['clairpostgres']),
        ...(components.objectstorage.managed && !objectBucket ? ['objectstorage'] : []),
      ];
      let migration: Condition | undefined;
      let currentVersion = cr.status?.currentVersion;
      const copying = (Object.values(pgUpgrades) as PgUpgrade[]).some((u) => u.state === 'pending' || u.state === 'running');
      if (!waitingFor.length) {
        await apply(rendered.object);
        await applyAll(desired.filter((d) => !isEarly(d)));
        await this.startCopies(ctx, observed, apply);
        if (migrating && !copying) {
          migration = await this.migrate(
            ctx,
            observed,
            apply,
            cr.status?.conditions?.find((c) => c.type === CONDITION.ComponentsCreated),
          );
          if (migration.status === 'True') {
            // Migrated: scale the app back up in this same pass, so the pass ends converged.
            currentVersion = this.opts.quayVersion;
            ctx.migrating = false;
            await applyAll(render().filter((d) => !isEarly(d)));
          }
        }
        await this.pruneConfigSecrets(cr, ctx, observed);
      } else {
        const late = await Promise.all(desired.filter((d) => !isEarly(d)).map((o) => this.kube.get(o.apiVersion, o.kind, o.metadata.name, namespace)));
        for (const live of late) this.observe(observed, live);
      }
      await this.releaseVolumes(cr, ctx);
      await this.finishCopies(cr, ctx, finishedCopies);
      if (changed.length) {
        this.log.info(`${namespace}/${name}: applied ${changed.join(', ')}`);
        await this.event(cr, 'Normal', 'ObjectsUpdated', `Created or updated ${changed.length} object(s): ${changed.join(', ')}`);
      }

      // 11. Status.
      const updates: Condition[] = [
        { type: CONDITION.RolloutBlocked, status: 'False', reason: 'ComponentsCreationSuccess', message: 'All objects created/updated successfully' },
        ...(await this.healthConditions(cr, currentVersion)),
      ];
      const failedCopy = (Object.entries(pgUpgrades) as [DbKind, PgUpgrade][]).find(([, u]) => u.state === 'failed');
      if (waitingFor.length) {
        updates.push({
          type: CONDITION.ComponentsCreated,
          status: 'False',
          reason: 'AwaitingDependencies',
          message: `Awaiting for component ${waitingFor.join(',')} to become available`,
        });
      } else if (copying) {
        updates.push({ type: CONDITION.ComponentsCreated, status: 'False', reason: 'PostgresUpgradeInProgress', message: 'running postgres update operations' });
      } else if (failedCopy) {
        const [kind, u] = failedCopy;
        updates.push({
          type: CONDITION.ComponentsCreated,
          status: 'False',
          reason: 'PostgresUpgradeFailed',
          message: `postgres upgrade job ${pgUpgradeJobName(ctx, kind)} failed: ${u.message}; ${kind} still runs Postgres ${u.fromMajor} on its old volume (delete the Job to try again)`,
        });
      } else {
        updates.push(migration ?? { type: CONDITION.ComponentsCreated, status: 'True', reason: 'ComponentsCreationSuccess', message: 'All registry components created' });
      }
      const ok = await this.setStatus(cr, updates, { registryEndpoint: `${ctx.scheme}://${hostname}`, currentVersion });
      if (!ok) return { requeueAfterMs: 1000 };
      const waiting = waitingFor.length > 0 || copying || (migration !== undefined && migration.status !== 'True');
      return { requeueAfterMs: migration?.reason === 'MigrationsJobMissing' ? 1000 : waiting ? WAIT_MS : this.opts.resyncMs };
    } catch (err) {
      const message = errorMessage(err);
      await this.event(cr, 'Warning', 'ComponentCreationFailed', message);
      return this.block(cr, { reason: 'ComponentCreationFailed', message: `error creating/updating objects: ${message}` }, WAIT_MS);
    }
  }

  private observe(observed: Observed, live: Live | undefined): void {
    if (live) observed.set(observedKey(live.kind, live.metadata.name), live);
  }

  /**
   * Tokens for builder service accounts, kept in `<n>-quay-builder-tokens` and renewed when a fifth of
   * their lifetime is left, so the rendered config (and the app's pods) change about once a year.
   */
  private async builderTokens(cr: QuayRegistry, ctx: RenderContext, apply: (o: KubeObject) => Promise<void>): Promise<Record<string, string>> {
    if (!ctx.builders.length) return {};
    const storeName = prefixed(ctx, 'quay-builder-tokens');
    const stored = decode((await this.kube.get('v1', 'Secret', storeName, ctx.namespace))?.data);
    const tokens: Record<string, { token: string; expires: string }> = stored['tokens.json'] ? JSON.parse(stored['tokens.json']) : {};
    const out: Record<string, { token: string; expires: string }> = {};
    let issued = false;
    for (const b of ctx.builders) {
      const key = tokenKey(b);
      const t = tokens[key];
      if (t && Date.parse(t.expires) - Date.now() > (BUILDER_TOKEN_SECONDS * 1000) / 5) {
        out[key] = t;
        continue;
      }
      const fresh = await this.kube.requestToken(b.namespace, b.serviceAccount, BUILDER_TOKEN_SECONDS);
      out[key] = { token: fresh.token, expires: fresh.expires.toISOString() };
      issued = true;
    }
    const body = Object.keys(out)
      .sort()
      .map((k) => [k, out[k]]);
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: storeName, namespace: ctx.namespace, labels: { [LABEL_REGISTRY]: ctx.name }, ownerReferences: [ownerReference(ctx)] },
      type: 'Opaque',
      data: { 'tokens.json': Buffer.from(JSON.stringify(Object.fromEntries(body))).toString('base64') },
    });
    if (issued) await this.event(cr, 'Normal', 'BuilderTokenIssued', `Issued service account tokens for builders in ${ctx.builders.map((b) => b.namespace).join(', ')}`);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.token]));
  }

  /**
   * The migration Job for this version: created once, recreated only when it is not running and was
   * made for another version or config; its success moves status.currentVersion.
   */
  private async migrate(ctx: RenderContext, observed: Observed, apply: (o: KubeObject) => Promise<void>, previous: Condition | undefined): Promise<Condition> {
    const jobName = upgradeJobName(ctx);
    const desired = upgradeJob(ctx);
    let job = await this.kube.get('batch/v1', 'Job', jobName, ctx.namespace);
    if (job?.metadata.deletionTimestamp || (!job && previous?.reason === 'MigrationsInProgress')) {
      // Someone deleted the running Job: say so (as Quay's operator does); the next pass makes a new one.
      return { type: CONDITION.ComponentsCreated, status: 'False', reason: 'MigrationsJobMissing', message: 'upgrade job not found' };
    }
    const stale = job && (job.metadata.annotations?.['quay-version'] !== ctx.quayVersion || job.metadata.annotations?.['quay-config-secret'] !== ctx.configSecretName);
    if (stale && !job!.status?.active) {
      await this.kube.delete('batch/v1', 'Job', jobName, ctx.namespace, 'Background');
      job = undefined;
    }
    if (!job) {
      await apply(desired);
      job = observed.get(observedKey('Job', jobName));
    }
    this.observe(observed, job);
    const failed = (job!.status?.conditions ?? []).find((c: any) => c.type === 'Failed' && c.status === 'True');
    const created = { type: CONDITION.ComponentsCreated };
    if (job!.status?.succeeded && !stale) return { ...created, status: 'True', reason: 'ComponentsCreationSuccess', message: 'All registry components created' };
    if (failed) return { ...created, status: 'False', reason: 'MigrationsFailed', message: `migration job ${jobName} failed: ${failed.message ?? failed.reason ?? 'unknown'}` };
    return { ...created, status: 'False', reason: 'MigrationsInProgress', message: 'running database migrations' };
  }

  /**
   * The copy Job of a database upgrade starts once its writers have no pods left (they were scaled to
   * zero in this or an earlier pass), so the dump sees no write in flight.
   */
  private async startCopies(ctx: RenderContext, observed: Observed, apply: (o: KubeObject) => Promise<void>): Promise<void> {
    for (const kind of DB_KINDS) {
      const u = ctx.pgUpgrades[kind];
      if (u?.state !== 'pending') continue;
      const writers = DB_OBJECTS[kind].writers(ctx).map((w) => observed.get(observedKey('Deployment', w)));
      if (writers.some((w) => (w?.status?.replicas ?? 0) > 0)) continue;
      const db = DB_OBJECTS[kind];
      await apply(pgUpgradeJob(ctx, kind, { serviceName: db.deployment(ctx), secretName: db.secret(ctx), serviceAccount: db.deployment(ctx) }));
      u.state = 'running';
    }
  }

  /**
   * After a database moved to its new major: the copy Job goes, and the old volume is kept as a backup
   * no longer owned by the registry (deleted when the operator runs with POSTGRES_UPGRADE_DELETE_BACKUP=true).
   */
  private async finishCopies(cr: QuayRegistry, ctx: RenderContext, jobs: Live[]): Promise<void> {
    for (const job of jobs) {
      const volume = job.metadata.annotations?.[UPGRADE_FROM_VOLUME];
      const pvc = volume ? await this.kube.get('v1', 'PersistentVolumeClaim', volume, ctx.namespace) : undefined;
      if (pvc && this.opts.settings.deleteUpgradeBackup) {
        await this.kube.delete('v1', 'PersistentVolumeClaim', volume!, ctx.namespace);
      } else if (pvc?.metadata.ownerReferences?.length) {
        await this.kube.mergePatch({
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: volume!, namespace: ctx.namespace, resourceVersion: pvc.metadata.resourceVersion, ownerReferences: null } as unknown as KubeObject['metadata'],
        });
      }
      await this.kube.delete('batch/v1', 'Job', job.metadata.name, ctx.namespace, 'Background');
      const kept = pvc && !this.opts.settings.deleteUpgradeBackup ? `; the old volume ${volume} is kept as a backup, no longer owned by the registry` : '';
      await this.event(cr, 'Normal', 'PostgresUpgraded', `Postgres ${job.metadata.annotations?.['quay-ts.io/upgrade'] ?? ''} done by ${job.metadata.name}${kept}`);
    }
  }

  /**
   * A database switched to unmanaged keeps its data: its PVC loses the ownerReference, so deleting the
   * QuayRegistry later does not garbage-collect it either.
   */
  private async releaseVolumes(cr: QuayRegistry, ctx: RenderContext): Promise<void> {
    const claims: [ComponentKind, string][] = [
      ['postgres', postgresPvcName(ctx)],
      ['clairpostgres', clairPvcName(ctx)],
    ];
    for (const [kind, claim] of claims) {
      if (ctx.components[kind].managed) continue;
      const pvc = await this.kube.get('v1', 'PersistentVolumeClaim', claim, ctx.namespace);
      if (!pvc?.metadata.ownerReferences?.some((r: any) => r.uid === ctx.uid)) continue;
      await this.kube.mergePatch({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claim, namespace: ctx.namespace, resourceVersion: pvc.metadata.resourceVersion, ownerReferences: null } as unknown as KubeObject['metadata'],
      });
      await this.event(cr, 'Normal', 'VolumeReleased', `${kind} is unmanaged: PersistentVolumeClaim ${claim} and its data are kept, no longer owned by the registry`);
    }
  }

  /** Old rendered config Secrets go once every pod that could mount them has been replaced. */
  private async pruneConfigSecrets(cr: QuayRegistry, ctx: RenderContext, observed: Observed): Promise<void> {
    const rolledOut = (name: string) => {
      const d = observed.get(observedKey('Deployment', name));
      if (!d) return true;
      const want = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) && (s.updatedReplicas ?? 0) === want && (s.availableReplicas ?? 0) === want && (s.replicas ?? 0) === want;
    };
    if (!rolledOut(appName(ctx)) || (ctx.components.mirror.managed && !rolledOut(mirrorName(ctx)))) return;
    const secrets = await this.kube.list('v1', 'Secret', ctx.namespace, `${LABEL_REGISTRY}=${ctx.name}`);
    const old = secrets.filter((s) => s.metadata.name.startsWith(configSecretPrefix(ctx.name)) && s.metadata.name !== ctx.configSecretName);
    for (const s of old) await this.kube.delete('v1', 'Secret', s.metadata.name, ctx.namespace);
    if (old.length) await this.event(cr, 'Normal', 'ConfigSecretsPruned', `Deleted old config Secret(s) ${old.map((s) => s.metadata.name).join(', ')} after rollout`);
  }

  /**
   * The monitoring labels this operator put on the registry's namespace go with its last registry
   * there (applying the Namespace without them releases them; labels others also set stay).
   */
  private async releaseNamespaceLabels(cr: QuayRegistry): Promise<void> {
    const ns = await this.kube.get('v1', 'Namespace', cr.metadata.namespace);
    if (ns?.metadata.labels?.[Object.keys(MONITORING_LABELS)[1]] !== 'true') return;
    const others = (await this.kube.list(API_VERSION, KIND, cr.metadata.namespace)).filter((r) => r.metadata.uid !== cr.metadata.uid && !r.metadata.deletionTimestamp);
    if (!others.length) await this.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: cr.metadata.namespace } });
  }

  /**
   * Before the CR goes: delete what ownerReferences cannot reach (objects in builder namespaces, a
   * builder namespace the operator created, the shared builder SCC once no registry uses it).
   */
  async finalize(cr: QuayRegistry): Promise<void> {
    const owner = `${cr.metadata.namespace}/${cr.metadata.name}`;
    const selector = `${LABEL_REGISTRY}=${cr.metadata.name}`;
    const mine = (o: Live) => o.metadata.annotations?.[ANNOTATION_OWNER] === owner;
    try {
      for (const ns of (await this.kube.list('v1', 'Namespace', undefined, selector)).filter(mine)) {
        if (ns.metadata.annotations?.[ANNOTATION_CREATED_BY] === owner) {
          await this.kube.delete('v1', 'Namespace', ns.metadata.name);
        } else {
          // A namespace the user made: give back the labels and annotations this registry applied.
          await this.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.metadata.name } });
        }
      }
      for (const [apiVersion, kind] of [
        ['v1', 'ConfigMap'],
        ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
        ['rbac.authorization.k8s.io/v1', 'Role'],
        ['v1', 'ServiceAccount'],
      ]) {
        for (const o of (await this.kube.list(apiVersion, kind, undefined, selector)).filter(mine)) {
          await this.kube.delete(apiVersion, kind, o.metadata.name, o.metadata.namespace);
        }
      }
      await this.releaseNamespaceLabels(cr);
      const platform = await this.platform();
      if (platform.scc) {
        const users = await this.kube.list('rbac.authorization.k8s.io/v1', 'RoleBinding', undefined, `${LABEL_BUILDER_SCC}=true`);
        const others = users.filter((rb) => rb.metadata.name === `${BUILDER_ROLE}-scc` && rb.metadata.annotations?.[ANNOTATION_OWNER] !== owner);
        if (!others.length) await this.kube.delete('security.openshift.io/v1', 'SecurityContextConstraints', BUILDER_SCC);
      }
      void this.event(cr, 'Normal', 'Finalized', 'Deleted the objects outside the registry namespace');
    } catch (err) {
      // Watching one namespace, the operator may lack cluster-wide rights: the CR must still go.
      if (!isStatus(err, 403)) throw err;
      this.log.warn(`${owner}: cleanup outside the namespace not allowed: ${errorMessage(err)}`);
      void this.event(cr, 'Warning', 'FinalizeIncomplete', `Objects outside the namespace were left: ${errorMessage(err)}`);
    }
    this.forget(cr.metadata.namespace, cr.metadata.name);
  }
}
