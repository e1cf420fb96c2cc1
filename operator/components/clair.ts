/** Clair, the security scanner: Deployment, Service and its config Secret. */
import yaml from 'js-yaml';
import { contentHash, deployment, deploymentHealth, isManaged, overridesOf, prefixed, restrictedSecurityContext, secret, service, serviceAccount } from './common.js';
import type { ComponentModule, Named, RenderContext } from './common.js';
import { clairDatabaseName } from './clairpostgres.js';
import { caSources, configTlsName, proxyEnv, rolloutAnnotations, scalableReplicas, trustedCaName } from './quay.js';
import { writersStopped } from '../pgupgrade.js';

export const clairName = (ctx: Named) => prefixed(ctx, 'clair-app');
export const clairConfigName = (ctx: Named) => prefixed(ctx, 'clair-config-secret');
export const USER_CLAIR_CONFIG = 'clair-config.yaml';

/** Clair's config.yaml; a user's `clair-config.yaml` from the bundle is layered on top as a drop-in. */
export function clairConfig(ctx: RenderContext): Record<string, unknown> {
  const k = ctx.keys;
  const poolMax = isManaged(ctx, 'horizontalpodautoscaler') ? 33 : 10;
  const connstring = isManaged(ctx, 'clairpostgres')
    ? `host=${clairDatabaseName(ctx)} port=5432 dbname=${k.CLAIR_DB_NAME} user=${k.CLAIR_DB_USER} password=${k.CLAIR_DB_PASSWORD} sslmode=disable pool_max_conns=${poolMax}`
    : undefined;
  const db = connstring ? { connstring } : {};
  return {
    http_listen_addr: ':8080',
    introspection_addr: ':8089',
    log_level: 'info',
    indexer: { ...db, scanlock_retry: 10, layer_scan_concurrency: 5, migrations: true },
    matcher: { ...db, migrations: true },
    notifier: {
      ...db,
      migrations: true,
      delivery_interval: '1m',
      poll_interval: '5m',
      webhook: {
        target: `${ctx.scheme}://${ctx.hostname}/secscan/notification`,
        callback: `http://${clairName(ctx)}/notifier/api/v1/notifications`,
      },
    },
    auth: { psk: { key: k.SECURITY_SCANNER_V4_PSK, iss: ['quay', 'clairctl'] } },
    metrics: { name: 'prometheus' },
    updaters: {
      sets: ['alpine', 'aws', 'clair.cvss', 'debian', 'oracle', 'photon', 'rhcc', 'rhel-vex', 'suse', 'ubuntu'],
      config: { 'rhel-vex': { ignore_unpatched: true } },
    },
  };
}

/**
 * What Clair trusts when it fetches layers through the registry and talks to updaters: the CAs and the
 * registry's certificate (not its key) at /var/run/certs, and on OpenShift the cluster's trusted bundle
 * as the system bundle.
 */
function clairTrust(ctx: RenderContext): { volumes: Record<string, any>[]; mounts: Record<string, any>[] } {
  const sources = caSources(ctx);
  if (ctx.tls) sources.push({ secret: { name: configTlsName(ctx), items: [{ key: 'ssl.cert', path: 'ssl.cert' }] } });
  const volumes: Record<string, any>[] = [];
  const mounts: Record<string, any>[] = [];
  if (sources.length) {
    volumes.push({ name: 'certificates', projected: { sources } });
    mounts.push({ name: 'certificates', mountPath: '/var/run/certs', readOnly: true });
  }
  if (ctx.platform.routes) {
    volumes.push({ name: 'cluster-trusted-ca', configMap: { name: trustedCaName(ctx), optional: true, items: [{ key: 'ca-bundle.crt', path: 'tls-ca-bundle.pem' }] } });
    mounts.push({ name: 'cluster-trusted-ca', mountPath: '/etc/pki/ca-trust/extracted/pem', readOnly: true });
  }
  return { volumes, mounts };
}

export const clair: ComponentModule = {
  kind: 'clair',
  fieldGroup: [
    'FEATURE_SECURITY_SCANNER',
    'SECURITY_SCANNER_ENDPOINT',
    'SECURITY_SCANNER_INDEXING_INTERVAL',
    'SECURITY_SCANNER_NOTIFICATIONS',
    'SECURITY_SCANNER_V4_ENDPOINT',
    'SECURITY_SCANNER_V4_NAMESPACE_WHITELIST',
  ],
  config(ctx) {
    return {
      FEATURE_SECURITY_SCANNER: true,
      FEATURE_SECURITY_NOTIFICATIONS: true,
      SECURITY_SCANNER_INDEXING_INTERVAL: 30,
      SECURITY_SCANNER_V4_ENDPOINT: `http://${clairName(ctx)}.${ctx.namespace}.svc.cluster.local`,
      SECURITY_SCANNER_V4_NAMESPACE_WHITELIST: ['admin'],
      SECURITY_SCANNER_V4_PSK: ctx.keys.SECURITY_SCANNER_V4_PSK,
    };
  },
  objects(ctx) {
    const name = clairName(ctx);
    const files: Record<string, string> = { 'config.yaml': yaml.dump(clairConfig(ctx), { sortKeys: true, lineWidth: -1 }) };
    const userConfig = ctx.bundle[USER_CLAIR_CONFIG];
    if (userConfig) files['01_user_config.yaml'] = userConfig;
    for (const key of ['clair-ssl.crt', 'clair-ssl.key']) if (ctx.bundle[key]) files[key] = ctx.bundle[key];
    const items = [{ key: 'config.yaml', path: 'config.yaml' }];
    if (userConfig) items.push({ key: '01_user_config.yaml', path: 'config.yaml.d/01_user_config.yaml' });
    const o = overridesOf(ctx, 'clair');
    const scratch: Record<string, unknown> = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: String(o.volumeSize ?? '20Gi') } } };
    if (o.storageClassName) scratch.storageClassName = o.storageClassName;
    const probe = { httpGet: { path: '/healthz', port: 8089 }, periodSeconds: 15, timeoutSeconds: 5 };
    const trust = clairTrust(ctx);
    return [
      serviceAccount(ctx, name, 'clair-app', 'clair'),
      secret(ctx, clairConfigName(ctx), 'clair-app', 'clair', files),
      service(ctx, name, 'clair-app', 'clair', 'clair-app', [
        { name: 'clair-http', port: 80, targetPort: 8080 },
        { name: 'clair-introspection', port: 8089, targetPort: 8089 },
      ]),
      deployment(ctx, {
        name,
        component: 'clair-app',
        kind: 'clair',
        serviceAccount: name,
        replicas: writersStopped(ctx, 'clairpostgres') ? 0 : scalableReplicas(ctx, 'clair'),
        podAnnotations: { 'quay-clair-config-hash': contentHash(files) },
        annotations: rolloutAnnotations(ctx),
        spread: true,
        volumes: [
          { name: 'config', secret: { secretName: clairConfigName(ctx), items } },
          ...trust.volumes,
          // Layer extraction scratch space on its own claim, so it cannot fill the node's disk.
          { name: 'indexer-layer-storage', ephemeral: { volumeClaimTemplate: { spec: scratch } } },
        ],
        containers: [
          {
            name: 'clair-app',
            image: ctx.images.clair,
            env: [{ name: 'CLAIR_CONF', value: '/clair/config.yaml' }, { name: 'CLAIR_MODE', value: 'combo' }, ...proxyEnv(ctx)],
            ports: [
              { name: 'clair-http', containerPort: 8080, protocol: 'TCP' },
              { name: 'clair-intro', containerPort: 8089, protocol: 'TCP' },
            ],
            volumeMounts: [{ name: 'config', mountPath: '/clair', readOnly: true }, ...trust.mounts, { name: 'indexer-layer-storage', mountPath: '/var/tmp' }],
            readinessProbe: probe,
            livenessProbe: { ...probe, failureThreshold: 5 },
            resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '8Gi' } },
            securityContext: restrictedSecurityContext,
          },
        ],
      }),
    ];
  },
  ready(ctx, observed) {
    return deploymentHealth(ctx, observed, clairName(ctx), {
      healthy: 'Clair component healthy',
      replicasOverride: overridesOf(ctx, 'clair').replicas,
      scaledDown: { done: 'Clair manually scaled down', inProgress: 'Clair component is being scaled down' },
    });
  },
};
