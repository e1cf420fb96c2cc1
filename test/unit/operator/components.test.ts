import { COMPONENTS } from '../../../operator/components/index.js';
import { builderNamespaces, builderObjects, fillBuilderConfig } from '../../../operator/components/builders.js';
import { createHash } from 'node:crypto';
import { tlsHash, type RenderContext } from '../../../operator/components/common.js';
import type { ComponentKind, KubeObject } from '../../../operator/types.js';
import { context, KUBERNETES, OPENSHIFT } from './fixtures.js';
import { clusterTlsSettings } from '../../../operator/openshift.js';
import { renderConfig } from '../../../operator/bundle.js';
import { CLUSTER_PROXY_NETWORKS, upgradeJob } from '../../../operator/components/quay.js';

function render(ctx: RenderContext): KubeObject[] {
  return (Object.keys(COMPONENTS) as ComponentKind[]).filter((k) => ctx.components[k].managed).flatMap((k) => COMPONENTS[k].objects(ctx));
}
const find = (objs: KubeObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;

describe('component renderers', () => {
  test('every object is named after the registry, labelled, and owned by it', () => {
    const ctx = context({ platform: OPENSHIFT });
    const objs = render(ctx);
    expect(objs.length).toBeGreaterThan(20);
    // Cluster-wide monitoring objects live elsewhere (see the OpenShift integrations tests).
    for (const o of objs.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace === 'ns1')) {
      expect(o.metadata.name.startsWith('reg-')).toBe(true);
      expect(o.metadata.namespace).toBe('ns1');
      expect(o.metadata.labels!['quay-operator/quayregistry']).toBe('reg');
      expect(o.metadata.ownerReferences).toEqual([{ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', name: 'reg', uid: 'uid-1' }]);
    }
    const names = objs.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const n of [
      'Deployment/reg-quay-app',
      'Service/reg-quay-app',
      'ServiceAccount/reg-quay-app',
      'Deployment/reg-quay-database',
      'PersistentVolumeClaim/reg-quay-postgres-13',
      'Secret/reg-postgres-config-secret',
      'Deployment/reg-clair-app',
      'Secret/reg-clair-config-secret',
      'Deployment/reg-clair-postgres',
      'PersistentVolumeClaim/reg-clair-postgres-15',
      'Deployment/reg-quay-redis',
      'Deployment/reg-quay-mirror',
      'HorizontalPodAutoscaler/reg-quay-app',
      'HorizontalPodAutoscaler/reg-clair-app',
      'ObjectBucketClaim/reg-quay-datastore',
      'Route/reg-quay',
      'Route/reg-quay-builder',
      'ServiceMonitor/reg-quay-metrics-monitor',
      'PrometheusRule/reg-quay-prometheus-rules',
    ])
      expect(names).toContain(n);
  });

  test("Quay's container names, selectors, anti-affinity and certificate hash annotation", () => {
    const ctx = context({ components: [{ kind: 'clair', managed: true, overrides: { affinity: { nodeAffinity: {} } } }] });
    ctx.tlsAnnotations = { 'quay.redhat.com/tls-secret-hash': 'abcd1234' };
    const objs = render(ctx);
    const d = (name: string) => find(objs, 'Deployment', name);
    expect(d('reg-quay-redis').spec.template.spec.containers[0].name).toBe('redis-master');
    expect(d('reg-clair-postgres').spec.template.spec.containers[0].name).toBe('clair-postgres');
    expect(d('reg-quay-database').spec.template.spec.containers[0].name).toBe('postgres');
    // One HTTP worker process per CPU of the quay-app container's limit.
    expect(d('reg-quay-app').spec.template.spec.containers[0].env).toContainEqual({
      name: 'WORKERS',
      valueFrom: { resourceFieldRef: { containerName: 'quay-app', resource: 'limits.cpu', divisor: '1' } },
    });
    // The build manager inside `serve` listens where the Service's grpc port (and the builder route) send builders.
    expect(d('reg-quay-app').spec.template.spec.containers[0].env).toContainEqual({ name: 'BUILDMAN_GRPC_PORT', value: '55443' });
    // Behind an Ingress the builder gRPC arrives in plaintext.
    expect(d('reg-quay-app').spec.template.spec.containers[0].env).toContainEqual({ name: 'BUILDMAN_GRPC_TLS', value: 'false' });
    expect(find(objs, 'Service', 'reg-quay-app').spec.ports).toContainEqual(expect.objectContaining({ name: 'grpc', port: 55443, targetPort: 55443 }));
    expect(d('reg-quay-app').spec.selector.matchLabels).toEqual({ app: 'quay', 'quay-component': 'quay-app', 'quay-operator/quayregistry': 'reg' });
    expect(find(objs, 'Service', 'reg-quay-app').spec.selector).toEqual({ app: 'quay', 'quay-component': 'quay-app', 'quay-operator/quayregistry': 'reg' });
    expect(d('reg-clair-postgres').spec.selector.matchLabels).toEqual({ 'quay-component': 'clair-postgres', 'quay-operator/quayregistry': 'reg' });
    for (const name of ['reg-quay-app', 'reg-quay-mirror']) {
      expect(d(name).spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
        {
          weight: 100,
          podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'quay-component', operator: 'In', values: [name.slice(4)] }] }, topologyKey: 'kubernetes.io/hostname' },
        },
      ]);
    }
    // An affinity override replaces the default wholesale.
    expect(d('reg-clair-app').spec.template.spec.affinity).toEqual({ nodeAffinity: {} });
    expect(d('reg-quay-redis').spec.template.spec.affinity).toBeUndefined();
    for (const name of ['reg-quay-app', 'reg-quay-mirror', 'reg-clair-app']) {
      expect(d(name).metadata.annotations['quay.redhat.com/tls-secret-hash']).toBe('abcd1234');
      expect(d(name).spec.template.metadata.annotations['quay.redhat.com/tls-secret-hash']).toBe('abcd1234');
    }
    expect(d('reg-quay-database').metadata.annotations['quay.redhat.com/tls-secret-hash']).toBeUndefined();
    expect(tlsHash({ cert: 'c', key: 'k' })).toBe(createHash('sha256').update('ck').digest('hex').slice(-8));
  });

  test('the quay-mirror Deployment runs the mirror role of the registry image', () => {
    const c = find(render(context()), 'Deployment', 'reg-quay-mirror').spec.template.spec.containers[0];
    expect(c.args).toEqual(['mirror', '--config', '/conf/stack/config.yaml']);
    // The mirror role's health endpoint on PORT backs the probes.
    expect(c.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/health/instance', port: 8080, scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health/instance', port: 8080, scheme: 'HTTP' });
  });

  test('a managed HPA owns replicas; without it the default is 2, an override wins, migration scales to 0', () => {
    let ctx = context();
    expect(find(render(ctx), 'Deployment', 'reg-quay-app').spec.replicas).toBeUndefined();
    ctx = context({ components: [{ kind: 'horizontalpodautoscaler', managed: false }] });
    expect(find(render(ctx), 'Deployment', 'reg-quay-app').spec.replicas).toBe(2);
    ctx = context({
      components: [
        { kind: 'horizontalpodautoscaler', managed: false },
        { kind: 'quay', managed: true, overrides: { replicas: 5 } },
      ],
    });
    expect(find(render(ctx), 'Deployment', 'reg-quay-app').spec.replicas).toBe(5);
    ctx.migrating = true;
    expect(find(render(ctx), 'Deployment', 'reg-quay-app').spec.replicas).toBe(0);
  });

  test('overrides land on the Deployment and its pods; protected labels stay', () => {
    const ctx = context({
      components: [
        {
          kind: 'quay',
          managed: true,
          overrides: {
            env: [
              { name: 'DEBUGLOG', value: 'true' },
              { name: 'PORT', value: '9000' },
            ],
            labels: { team: 'a', 'quay-component': 'hijack' },
            annotations: { note: 'x' },
            resources: { limits: { memory: '8Gi' } },
            tolerations: [{ key: 'dedicated', operator: 'Exists' }],
          },
        },
      ],
    });
    const d = find(render(ctx), 'Deployment', 'reg-quay-app');
    const c = d.spec.template.spec.containers[0];
    expect(c.env.filter((e: any) => e.name === 'PORT')).toEqual([{ name: 'PORT', value: '9000' }]);
    expect(c.env).toContainEqual({ name: 'DEBUGLOG', value: 'true' });
    expect(c.resources.limits).toEqual({ memory: '8Gi' });
    expect(d.metadata.labels).toMatchObject({ team: 'a', 'quay-component': 'quay-app' });
    expect(d.spec.template.metadata.labels).toMatchObject({ team: 'a', 'quay-component': 'quay-app' });
    expect(d.spec.template.metadata.annotations.note).toBe('x');
    expect(d.spec.template.spec.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists' }]);
    expect(d.spec.selector.matchLabels).toEqual({ app: 'quay', 'quay-operator/quayregistry': 'reg', 'quay-component': 'quay-app' });
  });

  test('behind a managed Route or Ingress, quay-app trusts X-Forwarded-For from the cluster networks only; overridable; none without one', () => {
    const trusted = (ctx: RenderContext) => find(render(ctx), 'Deployment', 'reg-quay-app').spec.template.spec.containers[0].env.filter((e: any) => e.name === 'TRUSTED_PROXIES');
    for (const platform of [OPENSHIFT, KUBERNETES]) {
      expect(trusted(context({ platform }))).toEqual([{ name: 'TRUSTED_PROXIES', value: CLUSTER_PROXY_NETWORKS }]);
    }
    expect(CLUSTER_PROXY_NETWORKS.split(',')).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fd00::/8']);
    const overridden = context({ components: [{ kind: 'quay', managed: true, overrides: { env: [{ name: 'TRUSTED_PROXIES', value: '10.128.0.0/14' }] } }] });
    expect(trusted(overridden)).toEqual([{ name: 'TRUSTED_PROXIES', value: '10.128.0.0/14' }]);
    expect(trusted(context({ components: [{ kind: 'route', managed: false }] }))).toEqual([]);
  });

  test('Kubernetes gets Ingresses with the generated certificate, OpenShift gets edge Routes', () => {
    const k8s = context({ platform: KUBERNETES });
    k8s.tls = { cert: 'CERT', key: 'KEY', ca: 'CA' };
    k8s.managedCa = { cert: 'CA', key: 'CAKEY' };
    const objs = render(k8s);
    const ing = find(objs, 'Ingress', 'reg-quay');
    expect(ing.spec.rules[0].host).toBe('registry.example.test');
    expect(ing.spec.tls).toEqual([{ hosts: ['registry.example.test'], secretName: 'reg-quay-tls' }]);
    expect(find(objs, 'Secret', 'reg-quay-tls').type).toBe('kubernetes.io/tls');
    expect(objs.some((o) => o.kind === 'Route')).toBe(false);
    const ocp = render(context({ platform: OPENSHIFT }));
    const route = find(ocp, 'Route', 'reg-quay');
    expect(route.spec).toMatchObject({ host: 'registry.example.test', port: { targetPort: 'http' }, tls: { termination: 'edge', insecureEdgeTerminationPolicy: 'Redirect' } });
    expect(find(ocp, 'Route', 'reg-quay-builder').spec.port).toEqual({ targetPort: 'grpc' });
    expect(ocp.some((o) => o.kind === 'Ingress')).toBe(false);
    expect(renderConfig(context({ platform: OPENSHIFT })).config).toMatchObject({ EXTERNAL_TLS_TERMINATION: true });
  });

  test("OpenShift with the user's own certificate: passthrough Routes, the registry terminates TLS", () => {
    const ctx = context({ platform: OPENSHIFT });
    ctx.components.tls = { kind: 'tls', managed: false };
    ctx.tls = { cert: 'CERT', key: 'KEY' };
    const objs = render(ctx);
    expect(find(objs, 'Route', 'reg-quay').spec).toMatchObject({ port: { targetPort: 'https' }, tls: { termination: 'passthrough', insecureEdgeTerminationPolicy: 'Redirect' } });
    expect(find(objs, 'Route', 'reg-quay-builder').spec).toMatchObject({ port: { targetPort: 'grpc' }, tls: { termination: 'passthrough' } });
    // The passthrough builder Route delivers TLS: the build manager serves gRPC with the user's pair.
    expect(find(objs, 'Deployment', 'reg-quay-app').spec.template.spec.containers[0].env).toContainEqual({ name: 'BUILDMAN_GRPC_TLS', value: 'true' });
    expect(renderConfig(ctx).config).toMatchObject({ EXTERNAL_TLS_TERMINATION: false, PREFERRED_URL_SCHEME: 'https' });
  });

  test('postgres credentials come from the generated DB_URI', () => {
    const ctx = context();
    const s = find(render(ctx), 'Secret', 'reg-postgres-config-secret');
    const data = Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(data['database-username']).toBe('reg-quay-database');
    expect(data['database-name']).toBe('reg-quay-database');
    expect(ctx.keys.DB_URI).toContain(`:${encodeURIComponent(data['database-password'])}@`);
  });
});

describe('builders', () => {
  const config = () => ({
    FEATURE_BUILD_SUPPORT: true,
    BUILD_MANAGER: [
      'ephemeral',
      {
        ALLOWED_WORKER_COUNT: 1,
        ORCHESTRATOR: { REDIS_PASSWORD: '' },
        EXECUTORS: [
          { EXECUTOR: 'kubernetesPodman', NAME: 'openshift', BUILDER_NAMESPACE: 'virtual-builders' },
          { EXECUTOR: 'kubernetes', BUILDER_NAMESPACE: 'vm-builders', SERVICE_ACCOUNT_NAME: 'vm', K8S_API_SERVER: 'api.other:6443' },
          { EXECUTOR: 'ec2' },
        ],
      },
    ],
  });

  test('one namespace per Kubernetes executor; VM builders are privileged', () => {
    expect(builderNamespaces(config())).toEqual([
      { namespace: 'virtual-builders', serviceAccount: 'quay-builder', privileged: false },
      { namespace: 'vm-builders', serviceAccount: 'vm', privileged: true },
    ]);
    expect(builderNamespaces({ ...config(), FEATURE_BUILD_SUPPORT: false })).toEqual([]);
  });

  test('Pod Security labels on Kubernetes, the quay-builder SCC on OpenShift', () => {
    for (const platform of [KUBERNETES, OPENSHIFT]) {
      const ctx = context({ platform, userConfig: config() });
      ctx.builders = builderNamespaces(config()).map((b) => ({ ...b, ours: true }));
      const objs = builderObjects(ctx);
      const ns = objs.filter((o) => o.kind === 'Namespace');
      expect(ns.map((o) => o.metadata.name)).toEqual(['virtual-builders', 'vm-builders']);
      expect(ns[0].metadata.annotations).toMatchObject({ 'quay.redhat.com/owner': 'ns1/reg', 'quay.redhat.com/created-by': 'ns1/reg' });
      const rb = objs.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'quay-builder' && o.metadata.namespace === 'vm-builders') as any;
      expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'vm', namespace: 'vm-builders' }]);
      const scc = objs.find((o) => o.kind === 'SecurityContextConstraints') as any;
      if (platform.scc) {
        expect(scc.allowPrivilegedContainer).toBe(true);
        expect(ns[0].metadata.labels!['pod-security.kubernetes.io/enforce']).toBeUndefined();
      } else {
        expect(scc).toBeUndefined();
        expect(ns.map((o) => o.metadata.labels!['pod-security.kubernetes.io/enforce'])).toEqual(['baseline', 'privileged']);
      }
    }
  });

  test('the config gets BUILDMAN_HOSTNAME, tokens and the in-cluster API where the user left them out', () => {
    const ctx = context({ userConfig: config() });
    ctx.builderHostname = 'reg-quay-builder-ns1.apps.example.test';
    ctx.builderTokens = { 'virtual-builders/quay-builder': 'TOKEN1', 'vm-builders/vm': 'TOKEN2' };
    const cfg = config() as any;
    fillBuilderConfig(ctx, cfg);
    expect(cfg.BUILDMAN_HOSTNAME).toBe('reg-quay-builder-ns1.apps.example.test:443');
    const [podman, vm] = cfg.BUILD_MANAGER[1].EXECUTORS;
    expect(podman).toMatchObject({
      SERVICE_ACCOUNT_NAME: 'quay-builder',
      SERVICE_ACCOUNT_TOKEN: 'TOKEN1',
      K8S_API_SERVER: 'kubernetes.default.svc:443',
      KUBERNETES_DISTRIBUTION: 'k8s',
    });
    expect(vm).toMatchObject({ SERVICE_ACCOUNT_TOKEN: 'TOKEN2', K8S_API_SERVER: 'api.other:6443' });
    expect(vm.K8S_API_TLS_CA).toBeUndefined();
    expect(cfg.BUILD_MANAGER[1].ORCHESTRATOR.REDIS_HOST).toBe('reg-quay-redis');
  });
});

describe('OpenShift integrations', () => {
  test("the APIServer's TLS profile as SSL_PROTOCOLS / SSL_CIPHERS, as Quay's operator translates it", () => {
    expect(clusterTlsSettings(undefined).SSL_PROTOCOLS).toEqual(['TLSv1.2', 'TLSv1.3']);
    expect(clusterTlsSettings({ type: 'Old' }).SSL_PROTOCOLS).toEqual(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    expect(clusterTlsSettings({ type: 'Old' }).SSL_CIPHERS).toContain('DES-CBC3-SHA');
    expect(clusterTlsSettings({ type: 'Modern' })).toEqual({
      SSL_PROTOCOLS: ['TLSv1.3'],
      SSL_CIPHERS: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'],
    });
    expect(clusterTlsSettings({ type: 'Custom', custom: { minTLSVersion: 'VersionTLS11', ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'] } })).toEqual({
      SSL_PROTOCOLS: ['TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
      SSL_CIPHERS: ['ECDHE-RSA-AES128-GCM-SHA256'],
    });
    expect(clusterTlsSettings({ type: 'Custom' })).toEqual(clusterTlsSettings({ type: 'Intermediate' }));
    expect(clusterTlsSettings({ type: 'Bogus' })).toEqual(clusterTlsSettings(undefined));
    const ctx = context();
    ctx.clusterTls = clusterTlsSettings({ type: 'Modern' });
    expect(renderConfig(ctx).config).toMatchObject({ SSL_PROTOCOLS: ['TLSv1.3'] });
  });

  test('the cluster proxy reaches quay, mirror, clair and the migration Job; NO_PROXY starts with the registry host', () => {
    const ctx = context();
    ctx.settings = { ...ctx.settings, proxy: { HTTP_PROXY: 'http://proxy:3128', HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '.cluster.local,.svc' } };
    const objs = render(ctx);
    const env = (o: any) => Object.fromEntries((o.spec.template.spec.containers[0].env ?? []).map((e: any) => [e.name, e.value]));
    for (const o of [find(objs, 'Deployment', 'reg-quay-app'), find(objs, 'Deployment', 'reg-quay-mirror'), find(objs, 'Deployment', 'reg-clair-app'), upgradeJob(ctx) as any]) {
      expect(env(o)).toMatchObject({ HTTP_PROXY: 'http://proxy:3128', HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'registry.example.test,.cluster.local,.svc' });
    }
    expect(env(find(objs, 'Deployment', 'reg-quay-redis')).HTTP_PROXY).toBeUndefined();
    expect(env(find(render(context()), 'Deployment', 'reg-quay-app')).HTTP_PROXY).toBeUndefined();
  });

  test('CA ConfigMaps for OpenShift to fill, mounted with their hashes; Clair trusts the CAs and the certificate, not the key', () => {
    const ctx = context({ platform: OPENSHIFT, bundle: { extra_ca_cert_corp: 'CA' } });
    ctx.tls = { cert: 'CERT', key: 'KEY' };
    ctx.caAnnotations = { 'cluster-service-ca': '11111111', 'cluster-trusted-ca': '22222222' };
    const objs = render(ctx);
    expect(find(objs, 'ConfigMap', 'reg-cluster-service-ca').metadata.annotations['service.beta.openshift.io/inject-cabundle']).toBe('true');
    expect(find(objs, 'ConfigMap', 'reg-cluster-trusted-ca').metadata.labels['config.openshift.io/inject-trusted-cabundle']).toBe('true');
    expect(find(objs, 'ConfigMap', 'reg-cluster-trusted-ca').data).toBeUndefined();
    const app = find(objs, 'Deployment', 'reg-quay-app');
    expect(app.spec.template.spec.volumes.find((v: any) => v.name === 'extra-ca-certs').projected.sources).toEqual([
      { configMap: { name: 'reg-cluster-service-ca', optional: true } },
      { configMap: { name: 'reg-cluster-trusted-ca', optional: true } },
      { secret: { name: 'reg-extra-ca-certs' } },
    ]);
    expect(app.spec.template.spec.volumes.find((v: any) => v.name === 'postgres-certs').projected.sources).toEqual([
      { secret: { name: 'postgresql-ca', optional: true } },
      { secret: { name: 'postgresql-client-certs', optional: true } },
    ]);
    expect(app.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'postgres-certs', mountPath: '/run/secrets/postgresql', readOnly: true });
    for (const d of ['reg-quay-app', 'reg-quay-mirror', 'reg-clair-app']) {
      expect(find(objs, 'Deployment', d).spec.template.metadata.annotations).toMatchObject(ctx.caAnnotations);
    }
    const clairPod = find(objs, 'Deployment', 'reg-clair-app').spec.template.spec;
    const certs = clairPod.volumes.find((v: any) => v.name === 'certificates').projected.sources;
    expect(certs).toContainEqual({ secret: { name: 'reg-quay-config-tls', items: [{ key: 'ssl.cert', path: 'ssl.cert' }] } });
    expect(certs).toContainEqual({ secret: { name: 'reg-extra-ca-certs' } });
    expect(clairPod.containers[0].volumeMounts).toContainEqual({ name: 'certificates', mountPath: '/var/run/certs', readOnly: true });
    expect(clairPod.containers[0].volumeMounts).toContainEqual({ name: 'cluster-trusted-ca', mountPath: '/etc/pki/ca-trust/extracted/pem', readOnly: true });
    // The console dashboard and the namespace labels, only when the operator watches every namespace.
    const dash = find(objs, 'ConfigMap', 'reg-grafana-dashboard-quay');
    expect(dash.metadata).toMatchObject({
      namespace: 'openshift-config-managed',
      labels: { 'console.openshift.io/dashboard': 'true' },
      annotations: { 'quay.redhat.com/owner': 'ns1/reg' },
    });
    expect(dash.metadata.ownerReferences).toBeUndefined();
    expect(JSON.parse(dash.data['quay.json']).title).toBe('Quay - ns1 - reg');
    expect(find(objs, 'Namespace', 'ns1').metadata.labels).toEqual({ 'openshift.io/cluster-monitoring': 'true', 'quay-operator/managed-label': 'true' });
    ctx.settings = { ...ctx.settings, clusterWide: false };
    expect(render(ctx).some((o) => o.kind === 'Namespace' || o.metadata.name === 'reg-grafana-dashboard-quay')).toBe(false);
    // Plain Kubernetes has no CA injection: no ConfigMaps, nothing mounted from them.
    const k8s = render(context());
    expect(k8s.some((o) => o.kind === 'ConfigMap')).toBe(false);
  });
});
