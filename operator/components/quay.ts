/** The registry itself: its Deployment, Service, ServiceAccount, TLS/CA secrets and the migration Job. */
import {
  isManaged,
  meta,
  overridesOf,
  prefixed,
  restrictedSecurityContext,
  secret,
  service,
  serviceAccount,
  deployment,
  deploymentHealth,
  notReady,
  observedKey,
} from './common.js';
import type { ComponentModule, Named, RenderContext, Observed } from './common.js';
import type { KubeObject } from '../types.js';
import { REGISTRY_NODE_FLAGS } from '../../config/index.js';
import { writersStopped } from '../pgupgrade.js';
import { passthrough } from './route.js';

/** Where the registry lives in the image built by the project's Dockerfile. */
export const REGISTRY_MAIN = '/app/dist/registry/main.js';
export const CONFIG_DIR = '/conf/stack';
export const CONFIG_FILE = `${CONFIG_DIR}/config.yaml`;

export const PORTS = { http: 8080, https: 8443, grpc: 55443, metrics: 9091 } as const;

export const appName = (ctx: Named) => prefixed(ctx, 'quay-app');
export const configTlsName = (ctx: Named) => prefixed(ctx, 'quay-config-tls');
export const extraCaName = (ctx: Named) => prefixed(ctx, 'extra-ca-certs');
export const upgradeJobName = (ctx: Named) => prefixed(ctx, 'quay-app-upgrade');
/** ConfigMaps OpenShift fills: the service CA (annotation) and the cluster's trusted CA bundle (label). */
export const serviceCaName = (ctx: Named) => prefixed(ctx, 'cluster-service-ca');
export const trustedCaName = (ctx: Named) => prefixed(ctx, 'cluster-trusted-ca');
/** Client certificates for an external Postgres, Secrets the user creates (Quay's names). */
export const POSTGRES_CERT_SECRETS = ['postgresql-ca', 'postgresql-client-certs'];

/** CA sources every pod that talks to the registry's dependencies trusts: OpenShift's CA ConfigMaps and the bundle's CAs. */
export function caSources(ctx: RenderContext): Record<string, any>[] {
  const sources: Record<string, any>[] = [];
  if (ctx.platform.routes) {
    sources.push({ configMap: { name: serviceCaName(ctx), optional: true } }, { configMap: { name: trustedCaName(ctx), optional: true } });
  }
  if (Object.keys(extraCas(ctx)).length) sources.push({ secret: { name: extraCaName(ctx) } });
  return sources;
}

/** HTTP_PROXY, HTTPS_PROXY and NO_PROXY when the operator runs behind a proxy; NO_PROXY starts with the registry's host (as Quay's operator sets it). */
export function proxyEnv(ctx: RenderContext): Record<string, any>[] {
  const p = ctx.settings.proxy;
  if (!p.HTTP_PROXY && !p.HTTPS_PROXY) return [];
  const noProxy = [ctx.hostname.replace(/:\d+$/, ''), ...(p.NO_PROXY ? [p.NO_PROXY] : [])].join(',');
  return [
    { name: 'HTTP_PROXY', value: p.HTTP_PROXY ?? '' },
    { name: 'HTTPS_PROXY', value: p.HTTPS_PROXY ?? '' },
    { name: 'NO_PROXY', value: noProxy },
  ];
}

/** Annotations that roll a pod when the certificate or the CAs it mounts change. */
export const rolloutAnnotations = (ctx: RenderContext): Record<string, string> => ({ ...ctx.tlsAnnotations, ...ctx.caAnnotations });

/**
 * The registry command line: `serve` (the web server and the background workers, which are safe on
 * every replica), `mirror` (the repository mirror worker, for the quay-mirror Deployment) or `migrate`
 * (the schema only, then exit).
 */
export function registryArgs(command: 'serve' | 'mirror' | 'migrate'): string[] {
  return [command, '--config', CONFIG_FILE];
}

/** CAs the registry trusts beyond the system's: the bundle's `extra_ca_cert_<name>` keys and the operator's own CA. */
export function extraCas(ctx: RenderContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.bundle)) {
    if (k.startsWith('extra_ca_cert_')) out[k.slice('extra_ca_cert_'.length)] = v;
  }
  if (ctx.tls?.ca) out['quay-operator-ca.crt'] = ctx.tls.ca;
  return out;
}

/** Env, volumes and mounts every registry process (app, mirror, migration) shares. */
export function registryPod(ctx: RenderContext): { env: Record<string, any>[]; volumes: Record<string, any>[]; mounts: Record<string, any>[] } {
  const sources: Record<string, any>[] = [{ secret: { name: ctx.configSecretName } }];
  if (ctx.tls) sources.push({ secret: { name: configTlsName(ctx) } });
  const volumes: Record<string, any>[] = [{ name: 'configvolume', projected: { sources } }];
  const mounts: Record<string, any>[] = [{ name: 'configvolume', mountPath: CONFIG_DIR, readOnly: true }];
  const cas = caSources(ctx);
  if (cas.length) {
    volumes.push({ name: 'extra-ca-certs', projected: { sources: cas } });
    mounts.push({ name: 'extra-ca-certs', mountPath: `${CONFIG_DIR}/extra_ca_certs`, readOnly: true });
  }
  // Client certificates for an external database, where Quay's images look for them; optional, so
  // nothing is needed unless DB_CONNECTION_ARGS points at them.
  volumes.push(
    { name: 'postgres-certs', projected: { sources: POSTGRES_CERT_SECRETS.map((name) => ({ secret: { name, optional: true } })) } },
    { name: 'postgres-certs-store', emptyDir: { sizeLimit: '5Mi' } },
  );
  mounts.push({ name: 'postgres-certs', mountPath: '/run/secrets/postgresql', readOnly: true }, { name: 'postgres-certs-store', mountPath: '/.postgresql' });
  const env = [
    { name: 'QE_K8S_CONFIG_SECRET', value: ctx.configSecretName },
    { name: 'QE_K8S_NAMESPACE', value: ctx.namespace },
    { name: 'QUAY_VERSION', value: ctx.quayVersion },
    { name: 'PORT', value: String(PORTS.http) },
    ...proxyEnv(ctx),
  ];
  return { env, volumes, mounts };
}

/** Replicas for quay/clair/mirror (Quay's rules): a managed HPA owns the count unless scaled to 0. */
export function scalableReplicas(ctx: RenderContext, kind: 'quay' | 'clair' | 'mirror'): number | undefined {
  const o = ctx.components[kind]?.overrides;
  if (isManaged(ctx, 'horizontalpodautoscaler')) return o?.replicas === 0 ? 0 : undefined;
  if (!o) return 2;
  return o.replicas ?? undefined;
}

/** Quay's base objects also select `app: quay`; the same selector lets this operator adopt its Deployment. */
export const APP_SELECTOR = { app: 'quay' };

/**
 * The networks the OpenShift router or the Ingress controller connects from: its pods (the pod network) or,
 * with host networking, its nodes. The operator cannot learn the cluster's CIDRs, so it trusts the private
 * ranges clusters use; a `TRUSTED_PROXIES` entry in the quay component's `overrides.env` replaces it.
 */
export const CLUSTER_PROXY_NETWORKS = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fd00::/8';

/** TRUSTED_PROXIES (X-Forwarded-For from these sets the client address) when a managed Route/Ingress fronts quay-app. */
export function trustedProxiesEnv(ctx: RenderContext): Record<string, any>[] {
  return isManaged(ctx, 'route') ? [{ name: 'TRUSTED_PROXIES', value: CLUSTER_PROXY_NETWORKS }] : [];
}

function appDeployment(ctx: RenderContext): KubeObject {
  const { env, volumes, mounts } = registryPod(ctx);
  const probe = (failureThreshold: number) => ({
    httpGet: { path: '/health/instance', port: PORTS.http, scheme: 'HTTP' },
    periodSeconds: 15,
    timeoutSeconds: 5,
    failureThreshold,
  });
  return deployment(ctx, {
    name: appName(ctx),
    component: 'quay-app',
    kind: 'quay',
    serviceAccount: appName(ctx),
    replicas: ctx.migrating || writersStopped(ctx, 'postgres') ? 0 : scalableReplicas(ctx, 'quay'),
    annotations: rolloutAnnotations(ctx),
    selector: APP_SELECTOR,
    spread: true,
    volumes,
    containers: [
      {
        name: 'quay-app',
        image: ctx.images.quay,
        command: ['node', ...REGISTRY_NODE_FLAGS, REGISTRY_MAIN],
        args: registryArgs('serve'),
        // One HTTP worker process per CPU of the container's limit (rounded up; the node's CPUs without a limit).
        // The build manager in `serve` listens for builders' gRPC on the port the Service and builder route expose.
        env: [
          { name: 'WORKERS', valueFrom: { resourceFieldRef: { containerName: 'quay-app', resource: 'limits.cpu', divisor: '1' } } },
          { name: 'BUILDMAN_GRPC_PORT', value: String(PORTS.grpc) },
          // gRPC TLS only behind the passthrough builder Route; an edge Route or Ingress forwards plaintext gRPC.
          { name: 'BUILDMAN_GRPC_TLS', value: String(passthrough(ctx)) },
          ...trustedProxiesEnv(ctx),
          ...env,
        ],
        ports: Object.entries(PORTS).map(([name, containerPort]) => ({ name, containerPort, protocol: 'TCP' })),
        volumeMounts: mounts,
        readinessProbe: probe(3),
        livenessProbe: probe(5),
        startupProbe: { ...probe(10), periodSeconds: 15 },
        resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '4Gi' } },
        securityContext: restrictedSecurityContext,
      },
    ],
  });
}

/** The schema migration Job, rendered while status.currentVersion differs from the operator's version. */
export function upgradeJob(ctx: RenderContext): KubeObject {
  const { env, volumes, mounts } = registryPod(ctx);
  const o = overridesOf(ctx, 'quay');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(ctx, upgradeJobName(ctx), 'quay-app-upgrade', 'quay', {
      annotations: { 'quay-version': ctx.quayVersion, 'quay-config-secret': ctx.configSecretName },
    }),
    spec: {
      backoffLimit: 10,
      template: {
        metadata: { labels: { 'quay-operator/quayregistry': ctx.name, 'quay-component': 'quay-app-upgrade' } },
        spec: {
          serviceAccountName: appName(ctx),
          restartPolicy: 'OnFailure',
          volumes,
          containers: [
            {
              name: 'quay-app-upgrade',
              image: ctx.images.quay,
              command: ['node', REGISTRY_MAIN],
              args: registryArgs('migrate'),
              env: [...env, ...(o.env ?? [])],
              volumeMounts: mounts,
              resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } },
              securityContext: o.securityContext ?? restrictedSecurityContext,
            },
          ],
        },
      },
    },
  };
}

export const quay: ComponentModule = {
  kind: 'quay',
  fieldGroup: [],
  objects(ctx) {
    const objs: KubeObject[] = [
      serviceAccount(ctx, appName(ctx), 'quay-app', 'quay'),
      service(
        ctx,
        appName(ctx),
        'quay-app',
        'quay',
        'quay-app',
        [
          { name: 'http', port: 80, targetPort: PORTS.http },
          { name: 'https', port: 443, targetPort: PORTS.https },
          { name: 'grpc', port: PORTS.grpc, targetPort: PORTS.grpc },
        ],
        APP_SELECTOR,
      ),
      appDeployment(ctx),
    ];
    if (ctx.tls) {
      objs.push(secret(ctx, configTlsName(ctx), 'quay-app', 'quay', { 'ssl.cert': ctx.tls.cert, 'ssl.key': ctx.tls.key }));
    }
    const cas = extraCas(ctx);
    if (Object.keys(cas).length) objs.push(secret(ctx, extraCaName(ctx), 'quay-app', 'quay', cas));
    if (ctx.platform.routes) {
      // Only metadata: OpenShift's injectors own the content, so applying these never fights them.
      objs.push(
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: meta(ctx, serviceCaName(ctx), 'quay-app', 'quay', { annotations: { 'service.beta.openshift.io/inject-cabundle': 'true' } }),
        },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(ctx, trustedCaName(ctx), 'quay-app', 'quay', { labels: { 'config.openshift.io/inject-trusted-cabundle': 'true' } }) },
      );
    }
    return objs;
  },
  ready(ctx, observed: Observed) {
    // The migration Job counts only while one is due: a registry on its version needs none (Quay's
    // operator also fails a healthy registry whose finished Job was deleted).
    if (ctx.migrating) {
      const job = observed.get(observedKey('Job', upgradeJobName(ctx)));
      if (!job) return notReady(`job ${upgradeJobName(ctx)} not found`);
      if (!job.status?.succeeded) return notReady(`job ${upgradeJobName(ctx)} not finished`);
    }
    return deploymentHealth(ctx, observed, appName(ctx), {
      healthy: 'Quay component healthy',
      replicasOverride: overridesOf(ctx, 'quay').replicas,
      scaledDown: { done: 'Quay component healthy', inProgress: 'Quay component is being scaled down' },
    });
  },
};
