/**
 * The operator against a real kube-apiserver in OpenShift mode: the Route, SecurityContextConstraints and
 * cluster Ingress config APIs are installed, plus ObjectBucketClaims and the Prometheus Operator's kinds.
 * The test plays the router (admits Routes), the bucket provisioner and the Deployment/Job controllers.
 */
import yaml from 'js-yaml';
import { validateConfig } from '../../config/index.js';
import { OPENSHIFT_APPS_DOMAIN, TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers, admitRoute, bindBucket } from '../setup/k8s/controllers.js';
import { generateCa, issueServingCert, type Pem } from '../../operator/tls.js';
import { caHash } from '../../operator/openshift.js';
import { applyYaml, bundleYaml, condition, createNamespace, get, registry, registryYaml, renderedConfig, secretData, sleep, waitCondition, waitFor } from './helpers.js';

let cluster: TestCluster;
let operator: OperatorProcess;
let controllers: FakeControllers;
const logs = () => `\n--- operator log (tail)\n${operator?.logs().split('\n').slice(-30).join('\n')}`;

beforeAll(async () => {
  cluster = await TestCluster.start({ openshift: true, objectBuckets: true, monitoring: true });
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
  await controllers.start();
  operator = await OperatorProcess.start(cluster, { QUAY_VERSION: '1.0.0' });
}, 20 * 60_000);

afterAll(async () => {
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

describe('an empty QuayRegistry on OpenShift', () => {
  const ns = 'quay-enterprise';
  const host = `reg-quay-${ns}.${OPENSHIFT_APPS_DOMAIN}`;

  beforeAll(async () => {
    await createNamespace(cluster, ns);
    await applyYaml(cluster, registryYaml(ns, 'reg', {}));
  });

  test('gets a generated config bundle and every component managed', async () => {
    const cr = await waitFor('components filled', async () => {
      const r = await registry(cluster, ns, 'reg');
      return r.spec?.configBundleSecret && r.spec.components?.length === 11 ? r : undefined;
    });
    expect(cr.spec!.configBundleSecret).toMatch(/^reg-config-bundle-/);
    expect(cr.spec!.components!.every((c) => c.managed)).toBe(true);
    const bundle = yaml.load(secretData(await get(cluster, 'v1', 'Secret', cr.spec!.configBundleSecret!, ns))['config.yaml']) as Record<string, unknown>;
    expect(bundle).toMatchObject({ SETUP_COMPLETE: true, FEATURE_BUILD_SUPPORT: false, AUTHENTICATION_TYPE: 'Database' });
  });

  test('waits for the bucket: the app is not deployed until the claim is bound', async () => {
    const cr = await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'False', 'AwaitingDependencies', 30_000, logs);
    expect(condition(cr, 'ComponentObjectStorageReady')).toMatchObject({ status: 'False', message: 'Object bucket claim not bound' });
    const obc = await get(cluster, 'objectbucket.io/v1alpha1', 'ObjectBucketClaim', 'reg-quay-datastore', ns);
    expect(obc.spec).toEqual({ generateBucketName: 'reg-quay-datastore', storageClassName: 'openshift-storage.noobaa.io' });
    expect(await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', ns)).toBeUndefined();
    expect(await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-database', ns)).toBeDefined();
    expect((await cluster.objects.list('v1', 'Secret', ns)).items.some((s) => s.metadata!.name!.startsWith('reg-quay-config-secret-'))).toBe(false);

    await bindBucket(cluster.kc, ns, 'reg-quay-datastore', { host: 's3.openshift-storage.svc', port: 443, bucket: 'quay-datastore-1234', accessKey: 'AK', secretKey: 'SK' });
    await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', undefined, 30_000, logs);
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config.DISTRIBUTED_STORAGE_CONFIG).toEqual({
      local_us: [
        'RHOCSStorage',
        {
          hostname: 's3.openshift-storage.svc.cluster.local',
          port: 443,
          is_secure: true,
          bucket_name: 'quay-datastore-1234',
          access_key: 'AK',
          secret_key: 'SK',
          storage_path: '/datastorage/registry',
        },
      ],
    });
    expect(validateConfig(config).errors).toEqual([]);
  });

  test('Routes on the apps domain, edge-terminated by the router', async () => {
    const route = await get(cluster, 'route.openshift.io/v1', 'Route', 'reg-quay', ns);
    expect(route.spec).toEqual({
      host,
      to: { kind: 'Service', name: 'reg-quay-app', weight: 100 },
      port: { targetPort: 'http' },
      tls: { termination: 'edge', insecureEdgeTerminationPolicy: 'Redirect' },
      wildcardPolicy: 'None',
    });
    expect(route.metadata.annotations['haproxy.router.openshift.io/timeout']).toBe('30m');
    const builder = await get(cluster, 'route.openshift.io/v1', 'Route', 'reg-quay-builder', ns);
    expect(builder.spec.port).toEqual({ targetPort: 'grpc' });
    expect(await get(cluster, 'networking.k8s.io/v1', 'Ingress', 'reg-quay', ns)).toBeUndefined();
    expect(await get(cluster, 'v1', 'Secret', 'reg-quay-tls', ns)).toBeUndefined(); // the router's certificate serves

    let cr = await registry(cluster, ns, 'reg');
    expect(condition(cr, 'ComponentRouteReady')).toMatchObject({ status: 'False', message: 'Route found but no ingress' });
    await admitRoute(cluster.kc, ns, 'reg-quay');
    cr = await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 30_000, logs);
    expect(condition(cr, 'ComponentRouteReady')).toMatchObject({ status: 'True', message: 'Route admitted' });
    expect(condition(cr, 'ComponentTLSReady')).toMatchObject({ status: 'True', message: 'Using cluster wildcard certs' });
    expect(cr.status!.registryEndpoint).toBe(`https://${host}`);
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config).toMatchObject({ SERVER_HOSTNAME: host, PREFERRED_URL_SCHEME: 'https', EXTERNAL_TLS_TERMINATION: true });
  });

  test('monitoring objects for the Prometheus Operator', async () => {
    const sm = await get(cluster, 'monitoring.coreos.com/v1', 'ServiceMonitor', 'reg-quay-metrics-monitor', ns);
    expect(sm.spec.endpoints).toEqual([{ port: 'quay-metrics', path: '/metrics' }]);
    const rule = await get(cluster, 'monitoring.coreos.com/v1', 'PrometheusRule', 'reg-quay-prometheus-rules', ns);
    expect(rule.spec.groups[0].rules[0].alert).toBe('QuayPodFrequentlyRestarting');
    expect((await get(cluster, 'v1', 'Service', 'reg-quay-metrics', ns)).spec.ports[0]).toMatchObject({ name: 'quay-metrics', port: 9091 });
    const rb = await get(cluster, 'rbac.authorization.k8s.io/v1', 'RoleBinding', 'reg-quay-metrics', ns);
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'openshift-monitoring' }]);
    expect(condition(await registry(cluster, ns, 'reg'), 'ComponentMonitoringReady')).toMatchObject({ status: 'True' });
    // The console dashboard (no ownerReference: another namespace) and the cluster-monitoring label.
    const dash = await get(cluster, 'v1', 'ConfigMap', 'reg-grafana-dashboard-quay', 'openshift-config-managed');
    expect(dash.metadata.labels['console.openshift.io/dashboard']).toBe('true');
    expect(dash.metadata.ownerReferences).toBeUndefined();
    const board = JSON.parse(dash.data['quay.json']);
    expect(board.title).toBe(`Quay - ${ns} - reg`);
    expect(board.panels[0].targets[0].expr).toContain(`namespace="${ns}",service="reg-quay-metrics"`);
    expect((await get(cluster, 'v1', 'Namespace', ns)).metadata.labels).toMatchObject({ 'openshift.io/cluster-monitoring': 'true', 'quay-operator/managed-label': 'true' });
  });

  test('CA ConfigMaps for OpenShift to fill; an injected CA rolls quay, mirror and Clair', async () => {
    const service = await get(cluster, 'v1', 'ConfigMap', 'reg-cluster-service-ca', ns);
    expect(service.metadata.annotations['service.beta.openshift.io/inject-cabundle']).toBe('true');
    expect((await get(cluster, 'v1', 'ConfigMap', 'reg-cluster-trusted-ca', ns)).metadata.labels['config.openshift.io/inject-trusted-cabundle']).toBe('true');
    const hashes = async () =>
      Promise.all(
        ['reg-quay-app', 'reg-quay-mirror', 'reg-clair-app'].map(
          async (d) => (await get(cluster, 'apps/v1', 'Deployment', d, ns)).spec.template.metadata.annotations['cluster-service-ca'],
        ),
      );
    const before = await hashes();
    expect(new Set(before).size).toBe(1);
    // What OpenShift's service CA operator does: it writes the bundle into the ConfigMap.
    const pem = (await generateCa('service CA')).cert;
    await cluster.objects.send(
      'PATCH',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'reg-cluster-service-ca', namespace: ns }, data: { 'service-ca.crt': pem } } as never,
      { fieldManager: 'service-ca-operator' },
      'application/merge-patch+json',
    );
    await waitFor('the new CA hash on the pods', async () => (await hashes()).every((h) => h === caHash(pem)), 30_000, logs);
    // The operator's applies never take the injected content away.
    await sleep(2000);
    expect((await get(cluster, 'v1', 'ConfigMap', 'reg-cluster-service-ca', ns)).data['service-ca.crt']).toBe(pem);
  });
});

describe('a user certificate on OpenShift', () => {
  const ns = 'own-cert';
  const host = 'quay.example.test';
  let pair: Pem;

  test("is served by the registry itself, behind passthrough Routes (as Quay's operator does)", async () => {
    pair = await issueServingCert(await generateCa('user CA'), [host, 'builder.example.test']);
    await createNamespace(cluster, ns);
    await applyYaml(cluster, bundleYaml(ns, 'bundle', { SERVER_HOSTNAME: host }, { 'ssl.cert': pair.cert, 'ssl.key': pair.key }));
    await applyYaml(cluster, registryYaml(ns, 'reg', { configBundleSecret: 'bundle' }));
    const cr = await waitFor('tls defaulted to unmanaged', async () => {
      const r = await registry(cluster, ns, 'reg');
      return r.spec?.components?.find((c) => c.kind === 'tls') ? r : undefined;
    });
    expect(cr.spec!.components!.find((c) => c.kind === 'tls')!.managed).toBe(false);
    const route = await waitFor('Route', async () => get(cluster, 'route.openshift.io/v1', 'Route', 'reg-quay', ns), 30_000, logs);
    expect(route.spec.host).toBe(host);
    expect(route.spec.tls).toEqual({ termination: 'passthrough', insecureEdgeTerminationPolicy: 'Redirect' });
    expect(route.spec.port).toEqual({ targetPort: 'https' });
    // No certificate in the Route: the pair stays in the bundle, which the registry reads beside config.yaml.
    expect(JSON.stringify(route)).not.toContain('PRIVATE KEY');
  });

  test("with tls unmanaged, the APIServer's TLS profile reaches the config unless the user set it", async () => {
    const certs = { 'ssl.cert': pair.cert, 'ssl.key': pair.key };
    await waitFor('bucket claim', async () => get(cluster, 'objectbucket.io/v1alpha1', 'ObjectBucketClaim', 'reg-quay-datastore', ns), 30_000, logs);
    await bindBucket(cluster.kc, ns, 'reg-quay-datastore', { host: 's3.openshift-storage.svc', port: 443, bucket: 'own-cert', accessKey: 'AK', secretKey: 'SK' });
    await waitFor('the app Deployment', () => get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', ns), 60_000, logs);
    expect((await renderedConfig(cluster, ns, 'reg')).config.SSL_PROTOCOLS).toBeUndefined();
    await cluster.objects.send(
      'POST',
      { apiVersion: 'config.openshift.io/v1', kind: 'APIServer', metadata: { name: 'cluster' }, spec: { tlsSecurityProfile: { type: 'Modern', modern: {} } } } as never,
      {},
    );
    // APIServer is not watched (as in Quay's operator): the next pass picks it up; a bundle edit starts one.
    await applyYaml(cluster, bundleYaml(ns, 'bundle', { SERVER_HOSTNAME: host, REGISTRY_TITLE: 'Own' }, certs));
    await waitFor('SSL_PROTOCOLS in the config', async () => (await renderedConfig(cluster, ns, 'reg')).config.SSL_PROTOCOLS?.[0] === 'TLSv1.3', 30_000, logs);
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config.SSL_PROTOCOLS).toEqual(['TLSv1.3']);
    expect(config.SSL_CIPHERS).toEqual(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);
    // The user's own value wins over the profile.
    await applyYaml(cluster, bundleYaml(ns, 'bundle', { SERVER_HOSTNAME: host, SSL_PROTOCOLS: ['TLSv1.2'] }, certs));
    await waitFor('the user value', async () => (await renderedConfig(cluster, ns, 'reg')).config.SSL_PROTOCOLS?.[0] === 'TLSv1.2', 30_000, logs);
    expect((await renderedConfig(cluster, ns, 'reg')).config.SSL_CIPHERS).toBeUndefined();
  });

  test('the registry is told it terminates TLS, and its Service carries the https port the Route targets', async () => {
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config).toMatchObject({ PREFERRED_URL_SCHEME: 'https', EXTERNAL_TLS_TERMINATION: false });
    const svc = await waitFor('the app Service', () => get(cluster, 'v1', 'Service', 'reg-quay-app', ns), 60_000, logs);
    expect(svc.spec.ports).toContainEqual(expect.objectContaining({ name: 'https', port: 443, targetPort: 8443 }));
    expect(secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-config-tls', ns))['ssl.cert']).toBe(pair.cert);
  });
});

describe('builders on OpenShift', () => {
  const builds = (namespace: string) => ({
    FEATURE_BUILD_SUPPORT: true,
    BUILD_MANAGER: ['ephemeral', { ALLOWED_WORKER_COUNT: 1, ORCHESTRATOR: { REDIS_PASSWORD: '' }, EXECUTORS: [{ EXECUTOR: 'kubernetes', BUILDER_NAMESPACE: namespace }] }],
  });

  async function builderRegistry(ns: string, builderNs: string): Promise<void> {
    await createNamespace(cluster, ns);
    await applyYaml(cluster, bundleYaml(ns, 'bundle', builds(builderNs)));
    await applyYaml(cluster, registryYaml(ns, 'reg', { configBundleSecret: 'bundle', components: [{ kind: 'objectstorage', managed: false }] }));
  }

  test('the quay-builder SCC and its use are granted, not Pod Security labels', async () => {
    await builderRegistry('b1', 'builder');
    // objectstorage is unmanaged without storage config: blocked, and nothing is provisioned yet.
    await waitCondition(cluster, 'b1', 'reg', 'RolloutBlocked', 'True', 'ConfigInvalid', 30_000, logs);
    expect(await get(cluster, 'v1', 'Namespace', 'builder')).toBeUndefined();
    const storage = { DISTRIBUTED_STORAGE_CONFIG: { s3: ['S3Storage', { host: 's3.example.test', s3_bucket: 'q', s3_access_key: 'a', s3_secret_key: 's' }] } };
    await applyYaml(cluster, bundleYaml('b1', 'bundle', { ...builds('builder'), ...storage }));
    await waitCondition(cluster, 'b1', 'reg', 'ComponentsCreated', 'True', undefined, 30_000, logs);

    const scc = await get(cluster, 'security.openshift.io/v1', 'SecurityContextConstraints', 'quay-builder');
    expect(scc).toMatchObject({ allowPrivilegedContainer: true, runAsUser: { type: 'RunAsAny' } });
    const role = await get(cluster, 'rbac.authorization.k8s.io/v1', 'Role', 'quay-builder-scc', 'builder');
    expect(role.rules).toEqual([{ apiGroups: ['security.openshift.io'], resources: ['securitycontextconstraints'], resourceNames: ['quay-builder'], verbs: ['use'] }]);
    const as = ['--as', 'system:serviceaccount:builder:quay-builder'];
    expect(cluster.kubectl(['auth', 'can-i', 'use', 'securitycontextconstraints/quay-builder', '-n', 'builder', ...as]).stdout.trim()).toBe('yes');
    expect(cluster.kubectl(['auth', 'can-i', 'create', 'jobs', '-n', 'builder', ...as]).stdout.trim()).toBe('yes');
    expect((await get(cluster, 'v1', 'Namespace', 'builder')).metadata.labels['pod-security.kubernetes.io/enforce']).toBeUndefined();

    const builderHost = `reg-quay-builder-b1.${OPENSHIFT_APPS_DOMAIN}`;
    expect((await get(cluster, 'route.openshift.io/v1', 'Route', 'reg-quay-builder', 'b1')).spec.host).toBe(builderHost);
    const { config } = await renderedConfig(cluster, 'b1', 'reg');
    expect(config.BUILDMAN_HOSTNAME).toBe(`${builderHost}:443`);
    expect(config.BUILD_MANAGER[1].EXECUTORS[0]).toMatchObject({ KUBERNETES_DISTRIBUTION: 'openshift', SERVICE_ACCOUNT_NAME: 'quay-builder' });
    expect(config.BUILD_MANAGER[1].EXECUTORS[0].SERVICE_ACCOUNT_TOKEN).toMatch(/^eyJ/);
    expect(config.BUILD_MANAGER[1].ORCHESTRATOR.REDIS_HOST).toBe('reg-quay-redis');
  });

  test('the shared SCC goes with the last registry that uses it', async () => {
    const storage = { DISTRIBUTED_STORAGE_CONFIG: { s3: ['S3Storage', { host: 's3.example.test', s3_bucket: 'q', s3_access_key: 'a', s3_secret_key: 's' }] } };
    await createNamespace(cluster, 'b2');
    await applyYaml(cluster, bundleYaml('b2', 'bundle', { ...builds('builder-two'), ...storage }));
    await applyYaml(cluster, registryYaml('b2', 'reg', { configBundleSecret: 'bundle', components: [{ kind: 'objectstorage', managed: false }] }));
    await waitCondition(cluster, 'b2', 'reg', 'ComponentsCreated', 'True', undefined, 30_000, logs);

    await cluster.objects.delete({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: 'b1' } });
    await waitFor('b1 registry gone', async () => (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', 'reg', 'b1')) === undefined, 30_000, logs);
    expect(await get(cluster, 'security.openshift.io/v1', 'SecurityContextConstraints', 'quay-builder')).toBeDefined();
    expect(await get(cluster, 'rbac.authorization.k8s.io/v1', 'RoleBinding', 'quay-builder-scc', 'builder')).toBeUndefined();

    await cluster.objects.delete({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: 'b2' } });
    await waitFor('b2 registry gone', async () => (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', 'reg', 'b2')) === undefined, 30_000, logs);
    expect(await get(cluster, 'security.openshift.io/v1', 'SecurityContextConstraints', 'quay-builder')).toBeUndefined();
  });
});
