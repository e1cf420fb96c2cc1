/** The QuayRegistry resource and the plain-data shapes the reconciler passes between its pure parts. */
export const GROUP = 'quay.redhat.com';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'QuayRegistry';
export const PLURAL = 'quayregistries';
export const FIELD_MANAGER = 'quay-operator';
export const FINALIZER = 'quay-operator/finalizer';

/** Labels and annotations on generated objects (names kept from Quay's operator). */
export const LABEL_REGISTRY = 'quay-operator/quayregistry';
export const LABEL_COMPONENT = 'quay-component';
/** On objects outside the registry's namespace, where an ownerReference cannot point: `<namespace>/<name>`. */
export const ANNOTATION_OWNER = 'quay.redhat.com/owner';

export const COMPONENT_KINDS = ['quay', 'postgres', 'clair', 'clairpostgres', 'redis', 'horizontalpodautoscaler', 'objectstorage', 'route', 'mirror', 'monitoring', 'tls'] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

export interface Overrides {
  volumeSize?: string | number;
  storageClassName?: string;
  replicas?: number | null;
  env?: EnvVar[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  affinity?: Record<string, unknown>;
  tolerations?: Record<string, unknown>[];
  nodeSelector?: Record<string, string>;
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  securityContext?: Record<string, unknown>;
}

export interface Component {
  kind: ComponentKind;
  managed: boolean;
  overrides?: Overrides;
  secretRef?: { name?: string };
}

export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface QuayRegistryStatus {
  currentVersion?: string;
  registryEndpoint?: string;
  lastUpdated?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface QuayRegistry {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { configBundleSecret?: string; components?: Component[] };
  status?: QuayRegistryStatus;
}

/** A desired object: plain JSON, exactly what is sent as a server-side apply body. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Record<string, unknown>[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** What the cluster offers, found by API discovery. */
export interface Platform {
  /** route.openshift.io Routes exist: OpenShift mode (Routes, SCCs) instead of Ingress and Pod Security labels. */
  routes: boolean;
  /** security.openshift.io SecurityContextConstraints exist. */
  scc: boolean;
  /** objectbucket.io ObjectBucketClaims exist. */
  objectBuckets: boolean;
  /** monitoring.coreos.com ServiceMonitors and PrometheusRules exist. */
  monitoring: boolean;
  /** autoscaling/v2 is served (else v2beta2). */
  hpaV2: boolean;
  /** The OpenShift console's dashboard namespace (openshift-config-managed) exists. */
  consoleDashboards: boolean;
}

/** Which executor a builder namespace serves: VM builders need privileged pods, podman builders do not. */
export interface BuilderNamespace {
  namespace: string;
  serviceAccount: string;
  privileged: boolean;
  /** The namespace did not exist (or was made by this registry): it is ours to delete with the registry. */
  ours: boolean;
}
