/**
 * Builder provisioning: what Quay's docs (user guide chapters 6 and 16) have admins do by hand.
 * For each Kubernetes executor in BUILD_MANAGER: the builder namespace, its ServiceAccount, a Role and
 * RoleBinding to run build Jobs and Pods, the `quay-builder` SecurityContextConstraints on OpenShift
 * (Pod Security labels elsewhere), a token, and the config keys that point the build manager at them.
 */
import { ANNOTATION_OWNER, LABEL_REGISTRY, type BuilderNamespace, type KubeObject } from '../types.js';
import { isManaged, prefixed } from './common.js';
import type { RenderContext } from './common.js';
import { hostOnly } from './route.js';

export const BUILDER_ROLE = 'quay-builder';
export const BUILDER_SCC = 'quay-builder';
export const LABEL_BUILDER_SCC = 'quay-operator/builder-scc';
/** On a builder namespace the operator created: it is deleted with the registry. */
export const ANNOTATION_CREATED_BY = 'quay.redhat.com/created-by';
export const DEFAULT_BUILDER_SA = 'quay-builder';
/** How the build manager reaches the API server of the cluster it runs in. */
export const IN_CLUSTER_API = 'kubernetes.default.svc:443';
export const IN_CLUSTER_CA = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

const KUBERNETES_EXECUTORS = new Set(['kubernetes', 'kubernetesPodman']);

type Executor = Record<string, unknown>;

/** Executors in BUILD_MANAGER (Quay's `[ephemeral, {..., EXECUTORS}]`) or a top-level EXECUTORS list. */
function executorLists(cfg: Record<string, unknown>): Executor[][] {
  const lists: Executor[][] = [];
  const bm = cfg.BUILD_MANAGER;
  if (Array.isArray(bm) && bm[1] && typeof bm[1] === 'object' && Array.isArray((bm[1] as Executor).EXECUTORS)) {
    lists.push((bm[1] as Executor).EXECUTORS as Executor[]);
  }
  if (Array.isArray(cfg.EXECUTORS)) lists.push(cfg.EXECUTORS as Executor[]);
  return lists;
}

export const buildsEnabled = (cfg: Record<string, unknown>): boolean => cfg.FEATURE_BUILD_SUPPORT === true;

function kubernetesExecutors(cfg: Record<string, unknown>): Executor[] {
  return executorLists(cfg)
    .flat()
    .filter((e) => e && KUBERNETES_EXECUTORS.has(String(e.EXECUTOR)) && typeof e.BUILDER_NAMESPACE === 'string' && e.BUILDER_NAMESPACE);
}

/** The builder namespaces a config asks for; `ours` is decided by the caller from what exists. */
export function builderNamespaces(cfg: Record<string, unknown>): Omit<BuilderNamespace, 'ours'>[] {
  if (!buildsEnabled(cfg)) return [];
  const byKey = new Map<string, Omit<BuilderNamespace, 'ours'>>();
  for (const e of kubernetesExecutors(cfg)) {
    const namespace = String(e.BUILDER_NAMESPACE);
    const serviceAccount = typeof e.SERVICE_ACCOUNT_NAME === 'string' && e.SERVICE_ACCOUNT_NAME ? e.SERVICE_ACCOUNT_NAME : DEFAULT_BUILDER_SA;
    const key = `${namespace}/${serviceAccount}`;
    // VM builders ("kubernetes") run QEMU with KVM and need privileged pods; podman builders run unprivileged.
    const privileged = e.EXECUTOR === 'kubernetes' || byKey.get(key)?.privileged === true;
    byKey.set(key, { namespace, serviceAccount, privileged });
  }
  return [...byKey.values()];
}

export const tokenKey = (b: Pick<BuilderNamespace, 'namespace' | 'serviceAccount'>): string => `${b.namespace}/${b.serviceAccount}`;

/** The host builders dial back to: BUILDMAN_HOSTNAME, else the builder route's host when one is known. */
export function resolveBuilderHostname(cfg: Record<string, unknown>, name: string, namespace: string, domain: string | undefined): string | undefined {
  if (typeof cfg.BUILDMAN_HOSTNAME === 'string' && cfg.BUILDMAN_HOSTNAME) return hostOnly(cfg.BUILDMAN_HOSTNAME);
  return domain ? `${name}-quay-builder-${namespace}.${domain}` : undefined;
}

function foreignMeta(ctx: RenderContext, name: string, namespace?: string, labels: Record<string, string> = {}) {
  const annotations: Record<string, string> = { [ANNOTATION_OWNER]: `${ctx.namespace}/${ctx.name}` };
  return {
    name,
    ...(namespace ? { namespace } : {}),
    labels: { [LABEL_REGISTRY]: ctx.name, ...labels },
    annotations,
  };
}

/** The SCC that OpenShift admins create by hand for builders (user guide 6.4.2). */
function builderScc(): KubeObject {
  const any = { type: 'RunAsAny' };
  return {
    apiVersion: 'security.openshift.io/v1',
    kind: 'SecurityContextConstraints',
    // Shared by every registry with builders; deleted with the last one (see finalize.ts).
    metadata: { name: BUILDER_SCC, labels: { [LABEL_BUILDER_SCC]: 'true' } },
    priority: null,
    readOnlyRootFilesystem: false,
    runAsUser: any,
    seLinuxContext: any,
    fsGroup: any,
    supplementalGroups: any,
    seccompProfiles: ['*'],
    volumes: ['*'],
    allowHostDirVolumePlugin: true,
    allowHostIPC: true,
    allowHostNetwork: true,
    allowHostPID: true,
    allowHostPorts: true,
    allowPrivilegeEscalation: true,
    allowPrivilegedContainer: true,
    allowedCapabilities: ['*'],
    allowedUnsafeSysctls: ['*'],
  };
}

export function builderObjects(ctx: RenderContext): KubeObject[] {
  const platform = ctx.platform;
  if (!ctx.builders.length) return [];
  const objs: KubeObject[] = [];
  for (const b of ctx.builders) {
    const nsMeta = foreignMeta(ctx, b.namespace);
    if (b.ours) nsMeta.annotations[ANNOTATION_CREATED_BY] = `${ctx.namespace}/${ctx.name}`;
    if (!platform.scc) {
      // Pod Security admission: VM builders need privileged pods, podman builders run as "baseline".
      const level = b.privileged ? 'privileged' : 'baseline';
      Object.assign(nsMeta.labels, { 'pod-security.kubernetes.io/enforce': level, 'pod-security.kubernetes.io/enforce-version': 'latest' });
    }
    objs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: nsMeta });
    objs.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: foreignMeta(ctx, b.serviceAccount, b.namespace) });
    objs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: foreignMeta(ctx, BUILDER_ROLE, b.namespace),
      rules: [
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'delete', 'get', 'list', 'watch', 'patch', 'update'] },
        { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch', 'delete'] },
      ],
    });
    const subjects = [{ kind: 'ServiceAccount', name: b.serviceAccount, namespace: b.namespace }];
    objs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: foreignMeta(ctx, BUILDER_ROLE, b.namespace),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: BUILDER_ROLE },
      subjects,
    });
    if (platform.scc) {
      const sccName = `${BUILDER_ROLE}-scc`;
      const labels = { [LABEL_BUILDER_SCC]: 'true' };
      objs.push({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: foreignMeta(ctx, sccName, b.namespace, labels),
        rules: [{ apiGroups: ['security.openshift.io'], resources: ['securitycontextconstraints'], resourceNames: [BUILDER_SCC], verbs: ['use'] }],
      });
      objs.push({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: foreignMeta(ctx, sccName, b.namespace, labels),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sccName },
        subjects,
      });
    }
  }
  if (platform.scc) objs.push(builderScc());
  return objs;
}

/**
 * Fill the build manager's settings the user left out: BUILDMAN_HOSTNAME, and per executor the service
 * account, its token and the in-cluster API server. Values the user wrote are kept. Mutates `cfg`.
 */
export function fillBuilderConfig(ctx: RenderContext, cfg: Record<string, unknown>): void {
  if (!buildsEnabled(cfg)) return;
  if (!cfg.BUILDMAN_HOSTNAME && ctx.builderHostname) {
    // The builder route/ingress terminates TLS on 443; the gRPC client needs the port spelled out.
    cfg.BUILDMAN_HOSTNAME = `${ctx.builderHostname}:443`;
  }
  const bm = cfg.BUILD_MANAGER;
  if (Array.isArray(bm) && bm[1] && typeof bm[1] === 'object') {
    const orchestrator = (bm[1] as Executor).ORCHESTRATOR as Executor | undefined;
    if (orchestrator && !orchestrator.REDIS_HOST && isManaged(ctx, 'redis')) orchestrator.REDIS_HOST = prefixed(ctx, 'quay-redis');
  }
  for (const e of kubernetesExecutors(cfg)) {
    const namespace = String(e.BUILDER_NAMESPACE);
    e.SERVICE_ACCOUNT_NAME ??= DEFAULT_BUILDER_SA;
    const token = ctx.builderTokens[`${namespace}/${e.SERVICE_ACCOUNT_NAME}`];
    if (!e.SERVICE_ACCOUNT_TOKEN && token) e.SERVICE_ACCOUNT_TOKEN = token;
    if (!e.K8S_API_SERVER) {
      e.K8S_API_SERVER = IN_CLUSTER_API;
      e.K8S_API_TLS_CA ??= IN_CLUSTER_CA;
    }
    e.KUBERNETES_DISTRIBUTION ??= ctx.platform.routes ? 'openshift' : 'k8s';
  }
}
