/** The registry itself: its Deployment, Service, ServiceAccount, TLS/CA secrets and the migration Job. */
import { isManaged, meta, overridesOf, prefixed, restrictedSecurityContext, secret, service, serviceAccount, deployment, deploymentHealth, notReady, ready, observedKey } from './common.js';
import type { ComponentModule, Named, RenderContext, Observed } from './common.js';
import type { KubeObject } from '../types.js';
import { REGISTRY_NODE_FLAGS } from '../../config/index.js';

/** Where the registry lives in the image built by the project's Dockerfile. */
export const REGISTRY_MAIN = '/app/dist/registry/main.js';
export const CONFIG_DIR = '/conf/stack';
export const CONFIG_FILE = `${CONFIG_DIR}/config.yaml`;

export const PORTS = { http: 8080, https: 8443, grpc: 55443, metrics: 9091 } as const;

export const appName = (ctx: Named) => prefixed(ctx, 'quay-app');
export const configTlsName = (ctx: Named) => prefixed(ctx, 'quay-config-tls');
export const extraCaName = (ctx: Named) => prefixed(ctx, 'extra-ca-certs');
export const upgradeJobName = (ctx: Named) => prefixed(ctx, 'quay-app-upgrade');

/**
 * The registry command line: `serve` (the web server and the background workers, which are safe on
 * every replica; the registry has no mirror-only role, so the mirror Deployment runs it too) or
 * `migrate` (the schema only, then exit).
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
  if (Object.keys(extraCas(ctx)).length) {
    volumes.push({ name: 'extra-ca-certs', secret: { secretName: extraCaName(ctx) } });
    mounts.push({ name: 'extra-ca-certs', mountPath: `${CONFIG_DIR}/extra_ca_certs`, readOnly: true });
  }
  const env = [
    { name: 'QE_K8S_CONFIG_SECRET', value: ctx.configSecretName },
    { name: 'QE_K8S_NAMESPACE', value: ctx.namespace },
    { name: 'QUAY_VERSION', value: ctx.quayVersion },
    { name: 'PORT', value: String(PORTS.http) },
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
    replicas: ctx.migrating ? 0 : scalableReplicas(ctx, 'quay'),
    podAnnotations: ctx.podHashes,
    volumes,
    containers: [
      {
        name: 'quay-app',
        image: ctx.images.quay,
        command: ['node', ...REGISTRY_NODE_FLAGS, REGISTRY_MAIN],
        args: registryArgs('serve'),
        env,
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
      service(ctx, appName(ctx), 'quay-app', 'quay', 'quay-app', [
        { name: 'http', port: 80, targetPort: PORTS.http },
        { name: 'https', port: 443, targetPort: PORTS.https },
        { name: 'grpc', port: PORTS.grpc, targetPort: PORTS.grpc },
      ]),
      appDeployment(ctx),
    ];
    if (ctx.tls) {
      objs.push(secret(ctx, configTlsName(ctx), 'quay-app', 'quay', { 'ssl.cert': ctx.tls.cert, 'ssl.key': ctx.tls.key }));
    }
    const cas = extraCas(ctx);
    if (Object.keys(cas).length) objs.push(secret(ctx, extraCaName(ctx), 'quay-app', 'quay', cas));
    return objs;
  },
  ready(ctx, observed: Observed) {
    const health = deploymentHealth(observed, appName(ctx), { scaledDownOk: overridesOf(ctx, 'quay').replicas === 0 });
    if (health.status !== 'True') return health;
    const job = observed.get(observedKey('Job', upgradeJobName(ctx)));
    if (ctx.migrating && !job?.status?.succeeded) return notReady(`job ${upgradeJobName(ctx)} not finished`);
    return ready(health.message);
  },
};
