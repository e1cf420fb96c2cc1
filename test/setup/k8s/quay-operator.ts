/**
 * The objects Quay's operator (quay/quay-operator, kustomize output) leaves for an all-managed
 * QuayRegistry on OpenShift: names, labels, selectors, container names, ownerReferences, the
 * managed-keys Secret, claims, and its field manager (`quay-operator`, server-side apply). Written
 * from its kustomize/ and pkg/kustomize as read for the takeover test; values that do not matter for
 * adoption (probes, most env) are shortened, everything adoption depends on is as Quay writes it.
 */
import yaml from 'js-yaml';
import type { KubernetesObject } from '@kubernetes/client-node';

export interface QuayOperatorInstall {
  name: string;
  namespace: string;
  uid: string;
  /** Generated once by Quay's operator and persisted in `<n>-quay-registry-managed-secret-keys`. */
  keys: Record<string, string>;
  bundleName: string;
  hostname: string;
}

export const QUAY_OPERATOR_VERSION = 'v3.12.0';

/** Quay's base config (pkg/kustomize/secrets.go), as in a bundle it generated. */
export const QUAY_BASE_CONFIG = {
  SETUP_COMPLETE: true,
  FEATURE_MAILING: false,
  REGISTRY_TITLE: 'Quay',
  REGISTRY_TITLE_SHORT: 'Quay',
  AUTHENTICATION_TYPE: 'Database',
  ENTERPRISE_LOGO_URL: '/static/img/quay-horizontal-color.svg',
  DEFAULT_TAG_EXPIRATION: '2w',
  ALLOW_PULLS_WITHOUT_STRICT_LOGGING: false,
  TAG_EXPIRATION_OPTIONS: ['2w'],
  TEAM_RESYNC_STALE_TIME: '60m',
  FEATURE_DIRECT_LOGIN: true,
  FEATURE_BUILD_SUPPORT: false,
  TESTING: false,
};

export function quayOperatorObjects(q: QuayOperatorInstall): KubernetesObject[] {
  const n = (s: string) => `${q.name}-${s}`;
  const owner = [{ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', name: q.name, uid: q.uid }];
  const common = {
    'quay-registry-hostname': q.hostname,
    'quay-buildmanager-hostname': '',
    'quay-operator-service-endpoint': 'http://quay-operator.openshift-operators.svc.cluster.local:7071',
  };
  const meta = (name: string, component: string, kind: string, base = false) => ({
    name: n(name),
    namespace: q.namespace,
    labels: { 'quay-operator/quayregistry': q.name, 'quay-component': component, ...(base ? { app: 'quay' } : {}) },
    annotations: { 'quay-component': kind, ...common },
    ownerReferences: owner,
  });
  const b64 = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const secret = (name: string, component: string, kind: string, data: Record<string, string>, base = false) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(name, component, kind, base),
    type: 'Opaque',
    data: b64(data),
  });
  const selector = (component: string, base = false) => ({ 'quay-operator/quayregistry': q.name, 'quay-component': component, ...(base ? { app: 'quay' } : {}) });
  const spread = (component: string) => ({
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'quay-component', operator: 'In', values: [component] }] }, topologyKey: 'kubernetes.io/hostname' },
        },
      ],
    },
  });
  const deployment = (name: string, labelComponent: string, podComponent: string, kind: string, pod: Record<string, any>, extra: Record<string, any> = {}, base = false) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, labelComponent, kind, base),
    spec: {
      ...extra,
      selector: { matchLabels: selector(podComponent, base) },
      template: {
        metadata: {
          labels: selector(podComponent, base),
          annotations: { 'quay-managed-fieldgroups': 'SecurityScanner,Database,Redis,DistributedStorage,HostSettings,RepoMirror', ...common },
        },
        spec: pod,
      },
    },
  });
  const quayImage = 'quay.io/projectquay/quay:v3.12.0';
  const configSecret = n('quay-config-secret-7f8dk2m9bb');
  const quayVolumes = [
    { name: 'config', projected: { sources: [{ secret: { name: configSecret } }, { secret: { name: n('quay-config-tls-6t2bmf5k8h') } }] } },
    {
      name: 'extra-ca-certs',
      projected: {
        sources: [{ configMap: { name: n('cluster-service-ca') } }, { configMap: { name: n('cluster-trusted-ca') } }, { secret: { name: n('extra-ca-certs-9d7f6bm2h4') } }],
      },
    },
    { name: 'postgres-certs', projected: { sources: [{ secret: { name: 'postgresql-ca', optional: true } }, { secret: { name: 'postgresql-client-certs', optional: true } }] } },
    { name: 'postgres-certs-store', emptyDir: { sizeLimit: '5Mi' } },
  ];
  const quayEnv = [
    { name: 'QE_K8S_CONFIG_SECRET', value: configSecret },
    { name: 'QE_K8S_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'DEBUGLOG', value: 'false' },
    { name: 'QUAY_VERSION', value: QUAY_OPERATOR_VERSION },
  ];
  const pgContainer = (name: string, image: string, secretName: string) => ({
    name,
    image,
    ports: [{ containerPort: 5432, protocol: 'TCP' }],
    env: ['database-username:POSTGRESQL_USER', 'database-name:POSTGRESQL_DATABASE', 'database-root-password:POSTGRESQL_ADMIN_PASSWORD', 'database-password:POSTGRESQL_PASSWORD']
      .map((p) => p.split(':'))
      .map(([key, env]) => ({ name: env, valueFrom: { secretKeyRef: { name: secretName, key } } })),
    volumeMounts: [{ name: 'postgres-data', mountPath: '/var/lib/pgsql/data' }],
  });
  const dbUri = new URL(q.keys.DB_URI);
  const pvc = (name: string, component: string, kind: string) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(name, component, kind),
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '50Gi' } } },
  });
  const service = (name: string, component: string, kind: string, ports: Record<string, any>[], base = false) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, component, kind, base),
    spec: { type: 'ClusterIP', selector: selector(name === 'quay-app' ? 'quay-app' : component, base), ports: ports.map((p) => ({ protocol: 'TCP', ...p })) },
  });
  const sa = (name: string, component: string, kind: string, base = false) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name, component, kind, base) });
  const hpa = (name: string, min: number, max: number) => ({
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(name, name, 'horizontalpodautoscaler'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: n(name) },
      minReplicas: min,
      maxReplicas: max,
      metrics: ['cpu', 'memory'].map((r) => ({ type: 'Resource', resource: { name: r, target: { type: 'Utilization', averageUtilization: 90 } } })),
    },
  });
  const route = (name: string, component: string, port: string, host?: string) => ({
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { ...meta(name, component, 'route'), annotations: { ...meta(name, component, 'route').annotations, 'haproxy.router.openshift.io/timeout': '30m' } },
    spec: {
      ...(host ? { host } : {}),
      to: { kind: 'Service', name: n('quay-app') },
      port: { targetPort: port },
      tls: { termination: 'edge', insecureEdgeTerminationPolicy: 'Redirect' },
    },
  });
  return [
    secret('quay-registry-managed-secret-keys', 'quay-app', 'quay', q.keys),
    secret(
      'quay-config-secret-7f8dk2m9bb',
      'quay-app',
      'quay',
      {
        'config.yaml': yaml.dump({
          ...QUAY_BASE_CONFIG,
          SERVER_HOSTNAME: q.hostname,
          DB_URI: q.keys.DB_URI,
          SECRET_KEY: q.keys.SECRET_KEY,
          DATABASE_SECRET_KEY: q.keys.DATABASE_SECRET_KEY,
        }),
      },
      true,
    ),
    secret('quay-config-tls-6t2bmf5k8h', 'quay-app', 'quay', {}, true),
    secret('extra-ca-certs-9d7f6bm2h4', 'quay-app', 'quay', {}, true),
    secret('quay-proxy-config-2k8h5d7g9f', 'quay-app', 'quay', { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: q.hostname }, true),
    secret('postgres-config-secret', 'postgres', 'postgres', {
      'database-username': dbUri.username,
      'database-password': decodeURIComponent(dbUri.password),
      'database-name': dbUri.pathname.slice(1),
      'database-root-password': q.keys.DB_ROOT_PW,
    }),
    secret('clairpostgres-config-secret', 'clair-postgres', 'clairpostgres', {
      'database-username': q.keys.CLAIR_DB_USER,
      'database-password': q.keys.CLAIR_DB_PASSWORD,
      'database-name': q.keys.CLAIR_DB_NAME,
      'database-root-password': q.keys.CLAIR_DB_ROOT_PW,
    }),
    secret('clair-config-secret', 'clair-app', 'clair', { 'config.yaml': 'http_listen_addr: :8080\n' }),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        ...meta('cluster-service-ca', 'quay-app', 'quay', true),
        annotations: { ...meta('cluster-service-ca', 'quay', 'quay').annotations, 'service.beta.openshift.io/inject-cabundle': 'true' },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        ...meta('cluster-trusted-ca', 'quay-app', 'quay', true),
        labels: { ...meta('cluster-trusted-ca', 'quay-app', 'quay', true).labels, 'config.openshift.io/inject-trusted-cabundle': 'true' },
      },
      data: { 'ca-bundle.crt': '' },
    },
    sa('quay-app', 'quay', 'quay', true),
    sa('quay-database', 'postgres', 'postgres'),
    sa('clair-app', 'clair-app', 'clair'),
    sa('clair-postgres', 'clair-postgres', 'clairpostgres'),
    sa('quay-redis', 'redis', 'redis'),
    pvc('quay-postgres-13', 'postgres', 'postgres'),
    pvc('clair-postgres-15', 'clair-postgres', 'clairpostgres'),
    service(
      'quay-app',
      'quay',
      'quay',
      [
        { name: 'https', port: 443, targetPort: 8443 },
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'jwtproxy', port: 8081, targetPort: 8081 },
        { name: 'grpc', port: 55443, targetPort: 55443 },
      ],
      true,
    ),
    service('quay-database', 'postgres', 'postgres', [{ port: 5432, targetPort: 5432 }]),
    service('clair-app', 'clair-app', 'clair', [
      { name: 'clair-http', port: 80, targetPort: 8080 },
      { name: 'clair-introspection', port: 8089, targetPort: 8089 },
    ]),
    service('clair-postgres', 'clair-postgres', 'clairpostgres', [{ port: 5432, targetPort: 5432 }]),
    service('quay-redis', 'redis', 'redis', [{ port: 6379, targetPort: 6379 }]),
    deployment(
      'quay-app',
      'quay',
      'quay-app',
      'quay',
      {
        serviceAccountName: n('quay-app'),
        volumes: quayVolumes,
        affinity: spread('quay-app'),
        containers: [
          {
            name: 'quay-app',
            image: quayImage,
            args: ['registry-nomigrate'],
            env: quayEnv,
            ports: [8443, 8080, 8081, 9091, 55443].map((containerPort) => ({ containerPort, protocol: 'TCP' })),
          },
        ],
      },
      {},
      true,
    ),
    deployment(
      'quay-mirror',
      'quay-mirror',
      'quay-mirror',
      'mirror',
      {
        serviceAccountName: n('quay-app'),
        volumes: quayVolumes,
        affinity: spread('quay-mirror'),
        initContainers: [{ name: 'quay-mirror-init', image: quayImage, command: ['sh', '-c', 'true'] }],
        containers: [{ name: 'quay-mirror', image: quayImage, args: ['repomirror-nomigrate'], env: [...quayEnv, { name: 'ENSURE_NO_MIGRATION', value: 'true' }] }],
      },
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } },
    ),
    deployment(
      'quay-database',
      'postgres',
      'postgres',
      'postgres',
      {
        serviceAccountName: n('quay-database'),
        volumes: [{ name: 'postgres-data', persistentVolumeClaim: { claimName: n('quay-postgres-13') } }],
        containers: [pgContainer('postgres', 'quay.io/sclorg/postgresql-13-c9s:latest', n('postgres-config-secret'))],
      },
      { replicas: 1, strategy: { type: 'Recreate' } },
    ),
    deployment(
      'clair-postgres',
      'clair-postgres',
      'clair-postgres',
      'clair-postgres',
      {
        serviceAccountName: n('clair-postgres'),
        volumes: [{ name: 'postgres-data', persistentVolumeClaim: { claimName: n('clair-postgres-15') } }],
        containers: [pgContainer('clair-postgres', 'quay.io/sclorg/postgresql-15-c9s:latest', n('clairpostgres-config-secret'))],
      },
      { replicas: 1, strategy: { type: 'Recreate' } },
    ),
    deployment('clair-app', 'clair-app', 'clair-app', 'clair', {
      serviceAccountName: n('clair-app'),
      affinity: spread('clair-app'),
      volumes: [{ name: 'config', secret: { secretName: n('clair-config-secret') } }],
      containers: [
        {
          name: 'clair-app',
          image: 'quay.io/projectquay/clair:4.8.0',
          env: [
            { name: 'CLAIR_CONF', value: '/clair/config.yaml' },
            { name: 'CLAIR_MODE', value: 'combo' },
          ],
        },
      ],
    }),
    deployment(
      'quay-redis',
      'redis',
      'redis',
      'redis',
      {
        serviceAccountName: n('quay-redis'),
        containers: [{ name: 'redis-master', image: 'quay.io/sclorg/redis-7-c9s:latest', ports: [{ containerPort: 6379, protocol: 'TCP' }] }],
      },
      { replicas: 1 },
    ),
    hpa('quay-app', 2, 20),
    hpa('clair-app', 2, 10),
    hpa('quay-mirror', 2, 20),
    route('quay', 'quay-app-route', 'http', q.hostname),
    route('quay-builder', 'quay-builder-route', 'grpc'),
    {
      apiVersion: 'objectbucket.io/v1alpha1',
      kind: 'ObjectBucketClaim',
      metadata: meta('quay-datastore', 'objectstorage', 'objectstorage'),
      spec: { generateBucketName: 'quay-datastore', storageClassName: 'openshift-storage.noobaa.io', additionalConfig: { bucketclass: 'noobaa-default-bucket-class' } },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta('quay-app-upgrade', 'quay-app-upgrade', 'quay'),
      spec: {
        template: {
          metadata: { labels: { 'quay-operator/quayregistry': q.name, 'quay-component': 'quay-app-upgrade' } },
          spec: {
            restartPolicy: 'OnFailure',
            serviceAccountName: n('quay-app'),
            volumes: quayVolumes,
            containers: [{ name: 'quay-app-upgrade', image: quayImage, args: ['migrate', 'head'], env: quayEnv }],
          },
        },
      },
    },
  ] as KubernetesObject[];
}
