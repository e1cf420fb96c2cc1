/**
 * What every component module shares: the render context (all inputs of the pure desired-state
 * functions), object naming and labelling, overrides, and Deployment health.
 */
import { createHash } from 'node:crypto';
import {
  API_VERSION,
  KIND,
  LABEL_COMPONENT,
  LABEL_REGISTRY,
  type BuilderNamespace,
  type Component,
  type ComponentKind,
  type Condition,
  type KubeObject,
  type Overrides,
  type Platform,
} from '../types.js';
import type { PgUpgrade } from '../pgupgrade.js';

export interface Images {
  quay: string;
  clair: string;
  postgres: string;
  clairpostgres: string;
  redis: string;
  /** RELATED_IMAGE_COMPONENT_*_PREVIOUS: where to pull the major a database runs before its upgrade (pgupgrade.ts). */
  postgresPrevious?: string;
  clairpostgresPrevious?: string;
}

/** Values generated once and kept in `<n>-quay-registry-managed-secret-keys` (see bundle.ts). */
export interface ManagedKeys {
  SECRET_KEY: string;
  DATABASE_SECRET_KEY: string;
  DB_URI?: string;
  DB_ROOT_PW: string;
  SECURITY_SCANNER_V4_PSK: string;
  CLAIR_DB_USER: string;
  CLAIR_DB_NAME: string;
  CLAIR_DB_PASSWORD: string;
  CLAIR_DB_ROOT_PW: string;
}

/** A certificate chain and its key, PEM. `ca` is the issuing CA when the operator made the pair. */
export interface TlsPair {
  cert: string;
  key: string;
  ca?: string;
}

export interface ObjectBucket {
  host: string;
  port: number;
  secure: boolean;
  bucket: string;
  accessKey: string;
  secretKey: string;
}

/** Operator-wide settings (from its environment). */
export interface Settings {
  /** StorageClass of managed ObjectBucketClaims. */
  bucketStorageClass: string;
  /** IngressClass of managed Ingresses; unset uses the cluster default. */
  ingressClassName?: string;
  /** The operator watches every namespace (cluster-scoped extras such as the console dashboard need it). */
  clusterWide: boolean;
  /** The operator's own proxy settings (the cluster proxy on OpenShift), passed to quay, clair and mirror. */
  proxy: { HTTP_PROXY?: string; HTTPS_PROXY?: string; NO_PROXY?: string };
  /** POSTGRES_UPGRADE_DELETE_BACKUP: delete a database's old volume after a major upgrade instead of keeping it. */
  deleteUpgradeBackup?: boolean;
}

/** Everything the pure render functions may look at. Built by reconcile.ts from the cluster. */
export interface RenderContext {
  name: string;
  namespace: string;
  uid: string;
  components: Record<ComponentKind, Component>;
  platform: Platform;
  settings: Settings;
  images: Images;
  quayVersion: string;
  /** Resolved SERVER_HOSTNAME, `host[:port]`. */
  hostname: string;
  /** The scheme clients use to reach `hostname`. */
  scheme: 'http' | 'https';
  /** Host the builders dial back to (BUILDMAN_HOSTNAME without its port), when builds are on. */
  builderHostname?: string;
  /** The user's config.yaml, parsed. */
  userConfig: Record<string, unknown>;
  /** The user's config bundle Secret, decoded. */
  bundle: Record<string, string>;
  keys: ManagedKeys;
  /** The TLS pair in use: generated (managed tls on Kubernetes) or the user's (unmanaged). */
  tls?: TlsPair;
  /** The operator's CA (managed tls on Kubernetes), kept so the serving certificate can be renewed. */
  managedCa?: { cert: string; key: string };
  /** Name of a kubernetes.io/tls Secret that already holds `tls` (unmanaged tls with secretRef). */
  tlsSecretName?: string;
  objectBucket?: ObjectBucket;
  /** Builder namespaces to provision (empty when builds are off). */
  builders: BuilderNamespace[];
  /** Service account tokens for the builders, by `namespace/serviceAccount`. */
  builderTokens: Record<string, string>;
  /** Database migrations must run before the app scales up (status.currentVersion != quayVersion). */
  migrating: boolean;
  /** Managed databases moving to a new Postgres major, and how far (pgupgrade.ts). */
  pgUpgrades: Partial<Record<'postgres' | 'clairpostgres', PgUpgrade>>;
  /** Set once bundle.ts has rendered the config Secret. */
  configSecretName: string;
  /**
   * On the Deployments (and their pod templates) that mount the registry certificate: Quay's
   * `quay.redhat.com/tls-secret-hash`, so a new certificate rolls them. Empty without a certificate.
   */
  tlsAnnotations: Record<string, string>;
  /** OpenShift's TLS security profile as config keys (tls unmanaged and the user set neither key). */
  clusterTls?: { SSL_PROTOCOLS: string[]; SSL_CIPHERS: string[] };
  /** On OpenShift: hashes of the CA ConfigMaps (`cluster-service-ca`, `cluster-trusted-ca`), on the pods that mount them. */
  caAnnotations: Record<string, string>;
}

export interface ComponentModule {
  kind: ComponentKind;
  /** config.yaml keys that mean "the user configures this component". */
  fieldGroup: readonly string[];
  /** The config.yaml overlay this component writes when managed. */
  config?(ctx: RenderContext): Record<string, unknown>;
  /** The objects this component owns when managed. */
  objects(ctx: RenderContext): KubeObject[];
  /**
   * Its `Component<Kind>Ready` condition when managed, from live objects (health.ts reads them).
   * tls has none here: its condition comes from the bundle and `secretRef` (health.ts).
   */
  ready?(ctx: HealthContext, observed: Observed): ComponentHealth;
}

/** What health checks know of a registry besides the live objects: its spec, filled with defaults. */
export interface HealthContext {
  name: string;
  namespace: string;
  uid: string;
  components: Record<ComponentKind, Component>;
  platform: Platform;
  /** A migration Job for this version is due (status.currentVersion != the operator's version). */
  migrating: boolean;
}

export type ComponentHealth = Pick<Condition, 'status' | 'reason' | 'message'>;

/** Live objects by `Kind/name`, as the API server returned them (apply responses or reads). */
export type Observed = Map<string, Record<string, any>>;

export const observedKey = (kind: string, name: string): string => `${kind}/${name}`;

export const ready = (message: string): ComponentHealth => ({ status: 'True', reason: 'ComponentReady', message });
export const notReady = (message: string, reason = 'ComponentNotReady'): ComponentHealth => ({ status: 'False', reason, message });

export function ownerReference(ctx: RenderContext): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind: KIND, name: ctx.name, uid: ctx.uid };
}

export function baseLabels(ctx: RenderContext, component: string): Record<string, string> {
  return { [LABEL_REGISTRY]: ctx.name, [LABEL_COMPONENT]: component, app: 'quay' };
}

/** Metadata of a namespaced object owned by the registry. */
export function meta(
  ctx: RenderContext,
  name: string,
  component: string,
  kind: ComponentKind,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): KubeObject['metadata'] {
  return {
    name,
    namespace: ctx.namespace,
    labels: { ...baseLabels(ctx, component), ...extra.labels },
    annotations: { 'quay-component': kind, ...extra.annotations },
    ownerReferences: [ownerReference(ctx)],
  };
}

/** `<name>-<suffix>`: every generated object is named after its registry. */
export const prefixed = (ctx: Named, suffix: string): string => `${ctx.name}-${suffix}`;
export type Named = Pick<RenderContext, 'name'>;

export function overridesOf(ctx: Pick<RenderContext, 'components'>, kind: ComponentKind): Overrides {
  return ctx.components[kind]?.overrides ?? {};
}

export const isManaged = (ctx: Pick<RenderContext, 'components'>, kind: ComponentKind): boolean => ctx.components[kind]?.managed === true;

/** Labels users may not override: selectors and ownership depend on them. */
const PROTECTED_LABELS = new Set([LABEL_COMPONENT, 'app', LABEL_REGISTRY]);

function userLabels(labels: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([k]) => !PROTECTED_LABELS.has(k)));
}

export interface DeploymentSpecInput {
  name: string;
  component: string;
  kind: ComponentKind;
  serviceAccount: string;
  containers: Record<string, any>[];
  initContainers?: Record<string, any>[];
  volumes?: Record<string, any>[];
  /** undefined leaves `spec.replicas` to someone else (an HPA); the field is then not applied. */
  replicas: number | undefined;
  strategy?: Record<string, unknown>;
  podAnnotations?: Record<string, string>;
  /** Annotations on the Deployment itself (also put on the pod template). */
  annotations?: Record<string, string>;
  /** Labels the selector has beyond registry and component (Quay's quay-app also selects `app: quay`). */
  selector?: Record<string, string>;
  /** Spread replicas over nodes (Quay's default for quay-app, clair-app, quay-mirror) unless `affinity` is overridden. */
  spread?: boolean;
}

/** Preferred anti-affinity by node for the pods of one component, as Quay's operator sets it. */
export function spreadByNode(component: string): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            labelSelector: { matchExpressions: [{ key: LABEL_COMPONENT, operator: 'In', values: [component] }] },
            topologyKey: 'kubernetes.io/hostname',
          },
        },
      ],
    },
  };
}

/** A Deployment with the component's overrides applied (spec.ts has rejected overrides a kind does not support). */
export function deployment(ctx: RenderContext, d: DeploymentSpecInput): KubeObject {
  const o = overridesOf(ctx, d.kind);
  const labels = baseLabels(ctx, d.component);
  const containers = d.containers.map((c, i) => {
    const env = mergeEnv(c.env ?? [], o.env ?? []);
    const out: Record<string, any> = { ...c };
    if (env.length) out.env = env;
    if (i === 0 && o.resources) out.resources = { ...c.resources, ...o.resources };
    if (o.securityContext) out.securityContext = o.securityContext;
    return out;
  });
  const podSpec: Record<string, any> = {
    serviceAccountName: d.serviceAccount,
    containers,
  };
  if (d.initContainers) podSpec.initContainers = d.initContainers;
  if (d.volumes?.length) podSpec.volumes = d.volumes;
  if (o.affinity) podSpec.affinity = o.affinity;
  else if (d.spread) podSpec.affinity = spreadByNode(d.component);
  if (o.tolerations) podSpec.tolerations = o.tolerations;
  if (o.nodeSelector) podSpec.nodeSelector = o.nodeSelector;
  const spec: Record<string, any> = {
    selector: { matchLabels: { ...d.selector, [LABEL_REGISTRY]: ctx.name, [LABEL_COMPONENT]: d.component } },
    template: {
      metadata: {
        labels: { ...userLabels(o.labels), ...labels },
        annotations: { ...o.annotations, ...d.podAnnotations, ...d.annotations },
      },
      spec: podSpec,
    },
  };
  if (d.replicas !== undefined) spec.replicas = d.replicas;
  if (d.strategy) spec.strategy = d.strategy;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(ctx, d.name, d.component, d.kind, { labels: userLabels(o.labels), annotations: { ...o.annotations, ...d.annotations } }),
    spec,
  };
}

/** Env overrides replace same-named variables and append the rest. */
export function mergeEnv(base: Record<string, any>[], extra: Record<string, any>[]): Record<string, any>[] {
  const out = base.filter((e) => !extra.some((x) => x.name === e.name));
  return [...out, ...extra];
}

export function service(
  ctx: RenderContext,
  name: string,
  component: string,
  kind: ComponentKind,
  selectorComponent: string,
  ports: { name: string; port: number; targetPort: number | string }[],
  selector: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(ctx, name, component, kind),
    spec: {
      type: 'ClusterIP',
      selector: { ...selector, [LABEL_REGISTRY]: ctx.name, [LABEL_COMPONENT]: selectorComponent },
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: 'TCP' })),
    },
  };
}

export function serviceAccount(ctx: RenderContext, name: string, component: string, kind: ComponentKind): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ctx, name, component, kind) };
}

export function secret(ctx: RenderContext, name: string, component: string, kind: ComponentKind, stringData: Record<string, string>, type = 'Opaque'): KubeObject {
  // Sorted keys and base64 `data` (not stringData) so the applied body equals what the server stores.
  const data = Object.fromEntries(
    Object.keys(stringData)
      .sort()
      .map((k) => [k, Buffer.from(stringData[k], 'utf8').toString('base64')]),
  );
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta(ctx, name, component, kind), type, data };
}

export function pvc(ctx: RenderContext, name: string, component: string, kind: ComponentKind, defaultSize: string): KubeObject {
  const o = overridesOf(ctx, kind);
  const spec: Record<string, unknown> = {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: String(o.volumeSize ?? defaultSize) } },
  };
  if (o.storageClassName) spec.storageClassName = o.storageClassName;
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta(ctx, name, component, kind), spec };
}

/** The object carries an ownerReference to this registry (Quay's operator checks the same). */
export const ownedBy = (ctx: Pick<HealthContext, 'uid'>, o: Record<string, any>): boolean => (o.metadata?.ownerReferences ?? []).some((r: any) => r.uid === ctx.uid);

/** Deployment health as Quay's operator words it: replicas available and the `Available` condition True. */
export function deploymentCheck(d: Record<string, any>): ComponentHealth {
  const name = d.metadata?.name;
  const status = d.status ?? {};
  if (!status.availableReplicas) return notReady(`Deployment ${name} has zero replicas available`);
  const available = (status.conditions ?? []).find((c: any) => c.type === 'Available');
  if (!available) return notReady(`Available condition not found for ${name}`);
  if (available.status !== 'True') return notReady(`Deployment ${name}: ${available.message ?? ''}`);
  return ready(`Deployment ${name} healthy`);
}

/**
 * A component Deployment: present, owned, healthy. `label` words the not-found/not-owned messages
 * (`Deployment <name>` for quay and clair, `Mirror deployment` for mirror, ...); `healthy` replaces
 * the "Deployment <name> healthy" message. With a replicas
 * override of 0, "scaled down" is healthy once no replica is left.
 */
export function deploymentHealth(
  ctx: HealthContext,
  observed: Observed,
  name: string,
  opts: { label?: string; healthy?: string; scaledDown?: { done: string; inProgress: string }; replicasOverride?: number | null } = {},
): ComponentHealth {
  const label = opts.label ?? `Deployment ${name}`;
  const d = observed.get(observedKey('Deployment', name));
  if (!d) return notReady(`${label} not found`);
  if (!ownedBy(ctx, d)) return notReady(`${label} not owned by QuayRegistry`);
  if (opts.scaledDown && opts.replicasOverride === 0) {
    return d.status?.availableReplicas ? notReady(opts.scaledDown.inProgress) : ready(opts.scaledDown.done);
  }
  const health = deploymentCheck(d);
  return health.status === 'True' && opts.healthy ? ready(opts.healthy) : health;
}

/**
 * A managed database as Quay's operator checks it: the Deployment (present, owned), the claim its
 * pod mounts (present; Pending reported as PVCPending, or PVCProvisioningFailed with the
 * provisioner's Event message), then the Deployment's health. `component` is `Postgres` or `ClairPostgres`.
 */
export function databaseHealth(ctx: HealthContext, observed: Observed, deploymentName: string, component: string): ComponentHealth {
  const d = observed.get(observedKey('Deployment', deploymentName));
  if (!d) return notReady(`${component} deployment ${deploymentName} not found`);
  if (!ownedBy(ctx, d)) return notReady(`${component} deployment ${deploymentName} not owned by QuayRegistry`);
  const claimName = claimOf(d);
  if (!claimName) return deploymentCheck(d);
  const claim = observed.get(observedKey('PersistentVolumeClaim', claimName));
  if (!claim) return notReady(`PersistentVolumeClaim ${claimName} not found`);
  if (claim.status?.phase === 'Pending') {
    const failed = observed.get(observedKey('ProvisioningFailed', claimName));
    if (failed) return notReady(`${component} PVC ${claimName} provisioning failed: ${failed.message}`, 'PVCProvisioningFailed');
    return notReady(`${component} PersistentVolumeClaim ${claimName} is pending`, 'PVCPending');
  }
  return deploymentCheck(d);
}

/** The first PersistentVolumeClaim a Deployment's pods mount. */
export function claimOf(d: Record<string, any>): string | undefined {
  return (d.spec?.template?.spec?.volumes ?? []).find((v: any) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
}

/** Standard container hardening; Quay's images run as non-root. */
export const restrictedSecurityContext = {
  allowPrivilegeEscalation: false,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export const TLS_HASH_ANNOTATION = 'quay.redhat.com/tls-secret-hash';

/** Quay's certificate hash: the last 8 hex digits of sha256(cert || key). */
export function tlsHash(pair: { cert: string; key: string }): string {
  return createHash('sha256').update(pair.cert).update(pair.key).digest('hex').slice(-8);
}

/** A short, stable hash of string data (keys sorted), for names and pod-template annotations. */
export function contentHash(data: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(data).sort()) h.update(`${k}\0${data[k]}\0`);
  return h.digest('hex').slice(0, 10);
}
