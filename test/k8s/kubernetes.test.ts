/**
 * The operator against a real kube-apiserver in plain Kubernetes mode (no Route, SCC or ObjectBucketClaim
 * APIs): Ingresses, generated TLS, Pod Security labels for builders. The test plays the Deployment, Job
 * and volume controllers.
 */
import { X509Certificate } from 'node:crypto';
import yaml from 'js-yaml';
import { validateConfig } from '../../config/index.js';
import { TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers, completeJob, markDeploymentAvailable } from '../setup/k8s/controllers.js';
import { generateCa, issueServingCert, type Pem } from '../../operator/tls.js';
import { tlsHash } from '../../operator/components/common.js';
import {
  applyYaml,
  bundleYaml,
  condition,
  createNamespace,
  diff,
  expectQuiet,
  get,
  logCount,
  registry,
  registryYaml,
  renderedConfig,
  secretData,
  sleep,
  snapshot,
  waitBlocked,
  waitCondition,
  waitFor,
} from './helpers.js';

const S3 = {
  DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', port: 443, s3_bucket: 'quay', s3_access_key: 'AK', s3_secret_key: 'SK' }] },
  DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
};
const HOST = 'registry.example.test';

let cluster: TestCluster;
let operator: OperatorProcess;
let controllers: FakeControllers;
const logs = () => `\n--- operator log (tail)\n${operator?.logs().split('\n').slice(-40).join('\n')}`;

beforeAll(async () => {
  cluster = await TestCluster.start();
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
  await controllers.start();
  // A short resync, so the quietness checks below see many passes over converged registries.
  operator = await OperatorProcess.start(cluster, { RESYNC_SECONDS: '4', HEALTH_SECONDS: '2', QUAY_VERSION: '1.0.0', RELATED_IMAGE_COMPONENT_QUAY: 'quay-ts:test' });
}, 20 * 60_000);

afterAll(async () => {
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

/** A registry whose only non-default is S3 storage (plain Kubernetes has no ObjectBucketClaims). */
async function createDefaultRegistry(ns: string, name = 'reg', config: Record<string, unknown> = {}): Promise<void> {
  await createNamespace(cluster, ns);
  await applyYaml(cluster, bundleYaml(ns, `${name}-bundle`, { SERVER_HOSTNAME: HOST, ...S3, ...config }));
  await applyYaml(cluster, registryYaml(ns, name, { configBundleSecret: `${name}-bundle` }));
}

describe('an all-managed registry on Kubernetes', () => {
  const ns = 'all';

  beforeAll(async () => {
    await createDefaultRegistry(ns);
    await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 60_000, logs);
  }, 90_000);

  test('fills spec.components, adds the finalizer and reports status', async () => {
    const cr = await registry(cluster, ns, 'reg');
    expect(cr.spec!.components!.map((c) => `${c.kind}:${c.managed}`)).toEqual([
      'quay:true',
      'postgres:true',
      'clair:true',
      'clairpostgres:true',
      'redis:true',
      'horizontalpodautoscaler:true',
      'objectstorage:false',
      'route:true',
      'mirror:true',
      'monitoring:false',
      'tls:true',
    ]);
    expect(cr.metadata.finalizers).toEqual(['quay-operator/finalizer']);
    expect(cr.status).toMatchObject({ currentVersion: '1.0.0', registryEndpoint: `https://${HOST}`, observedGeneration: cr.metadata.generation });
    for (const type of [
      'ComponentsCreated',
      'ComponentQuayReady',
      'ComponentPostgresReady',
      'ComponentClairReady',
      'ComponentClairPostgresReady',
      'ComponentRedisReady',
      'ComponentHPAReady',
      'ComponentRouteReady',
      'ComponentMirrorReady',
      'ComponentTLSReady',
    ]) {
      expect(condition(cr, type)).toMatchObject({ status: 'True' });
    }
    expect(condition(cr, 'RolloutBlocked')).toMatchObject({ status: 'False', reason: 'ComponentsCreationSuccess' });
    expect(condition(cr, 'ComponentObjectStorageReady')).toMatchObject({ status: 'True', reason: 'ComponentNotManaged' });
  });

  test('every object exists with the right spec, owned by the registry', async () => {
    const cr = await registry(cluster, ns, 'reg');
    const app = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', ns);
    const c = app.spec.template.spec.containers[0];
    expect(c.image).toBe('quay-ts:test');
    expect(c.args).toEqual(['serve', '--config', '/conf/stack/config.yaml']);
    expect(c.env).toContainEqual({ name: 'QUAY_VERSION', value: '1.0.0' });
    expect(app.spec.replicas).toBe(1); // HPA-owned: not applied, the API server's default stands
    const svc = await get(cluster, 'v1', 'Service', 'reg-quay-app', ns);
    expect(svc.spec.ports.map((p: any) => `${p.name}:${p.port}->${p.targetPort}`)).toEqual(['http:80->8080', 'https:443->8443', 'grpc:55443->55443']);
    const db = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-database', ns);
    expect(db.spec.strategy.type).toBe('Recreate');
    expect(db.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe('reg-quay-postgres-13');
    expect((await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns)).spec.resources.requests.storage).toBe('50Gi');
    expect((await get(cluster, 'autoscaling/v2', 'HorizontalPodAutoscaler', 'reg-quay-app', ns)).spec).toMatchObject({ minReplicas: 2, maxReplicas: 20 });
    const clair = await get(cluster, 'apps/v1', 'Deployment', 'reg-clair-app', ns);
    expect(clair.spec.template.spec.volumes.find((v: any) => v.name === 'indexer-layer-storage').ephemeral.volumeClaimTemplate.spec.resources.requests.storage).toBe('20Gi');
    const clairConfig = yaml.load(secretData(await get(cluster, 'v1', 'Secret', 'reg-clair-config-secret', ns))['config.yaml']) as any;
    expect(clairConfig.indexer.connstring).toMatch(/^host=reg-clair-postgres port=5432 /);
    expect((await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-mirror', ns)).spec.template.spec.containers[0].args).toEqual(['mirror', '--config', '/conf/stack/config.yaml']);
    expect((await get(cluster, 'batch/v1', 'Job', 'reg-quay-app-upgrade', ns)).metadata.annotations['quay-version']).toBe('1.0.0');

    // Ownership: everything labelled for the registry is owned by it.
    for (const [apiVersion, kind] of [
      ['apps/v1', 'Deployment'],
      ['v1', 'Service'],
      ['v1', 'Secret'],
      ['v1', 'PersistentVolumeClaim'],
      ['v1', 'ServiceAccount'],
      ['networking.k8s.io/v1', 'Ingress'],
      ['batch/v1', 'Job'],
      ['autoscaling/v2', 'HorizontalPodAutoscaler'],
    ]) {
      const items = (await cluster.objects.list(apiVersion, kind, ns, undefined, undefined, undefined, undefined, 'quay-operator/quayregistry=reg')).items;
      expect(items.length).toBeGreaterThan(0);
      for (const o of items) expect(o.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'QuayRegistry', name: 'reg', uid: cr.metadata.uid })]);
    }
  });

  test('the rendered config merges the bundle with generated values and validates', async () => {
    const { secretName, config } = await renderedConfig(cluster, ns, 'reg');
    expect(secretName).toMatch(/^reg-quay-config-secret-[0-9a-f]{10}$/);
    expect(validateConfig(config).errors).toEqual([]);
    expect(config).toMatchObject({ SERVER_HOSTNAME: HOST, PREFERRED_URL_SCHEME: 'https', EXTERNAL_TLS_TERMINATION: true, ...S3 });
    expect(config.BUILDLOGS_REDIS).toEqual({ host: 'reg-quay-redis', port: 6379 });
    expect(config.SECURITY_SCANNER_V4_ENDPOINT).toBe(`http://reg-clair-app.${ns}.svc.cluster.local`);
    const keys = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-registry-managed-secret-keys', ns));
    expect(config.DB_URI).toBe(keys.DB_URI);
    expect(config.SECRET_KEY).toBe(keys.SECRET_KEY);
    expect(keys.SECRET_KEY).toHaveLength(80);
    const pg = secretData(await get(cluster, 'v1', 'Secret', 'reg-postgres-config-secret', ns));
    expect(config.DB_URI).toBe(`postgresql://reg-quay-database:${pg['database-password']}@reg-quay-database:5432/reg-quay-database`);
  });

  test('an Ingress serves the host with a generated certificate chained to a generated CA', async () => {
    const ing = await get(cluster, 'networking.k8s.io/v1', 'Ingress', 'reg-quay', ns);
    expect(ing.spec.rules[0]).toMatchObject({ host: HOST, http: { paths: [{ path: '/', backend: { service: { name: 'reg-quay-app', port: { name: 'http' } } } }] } });
    expect(ing.spec.tls).toEqual([{ hosts: [HOST], secretName: 'reg-quay-tls' }]);
    const tls = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls', ns));
    const ca = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls-ca', ns));
    const cert = new X509Certificate(tls['tls.crt']);
    expect(cert.checkHost(HOST)).toBe(HOST);
    expect(cert.verify(new X509Certificate(ca['tls.crt']).publicKey)).toBe(true);
    expect(tls['ca.crt']).toBe(ca['tls.crt']);
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(300 * 24 * 3600_000);
    // The Deployments that mount the certificate carry its hash (Quay's annotation), Clair's included.
    for (const d of ['reg-quay-app', 'reg-quay-mirror', 'reg-clair-app']) {
      const dep = await get(cluster, 'apps/v1', 'Deployment', d, ns);
      expect(dep.metadata.annotations['quay.redhat.com/tls-secret-hash']).toBe(tlsHash({ cert: tls['tls.crt'], key: tls['tls.key'] }));
      expect(dep.spec.template.metadata.annotations['quay.redhat.com/tls-secret-hash']).toBe(tlsHash({ cert: tls['tls.crt'], key: tls['tls.key'] }));
    }
  });

  test('converged: resyncs and ten re-applies of the same CR write nothing', async () => {
    const before = await snapshot(cluster, [ns]);
    const cr = await registry(cluster, ns, 'reg');
    for (let i = 0; i < 10; i++) {
      const r = cluster.kubectl(['apply', '-f', '-'], registryYaml(ns, 'reg', { configBundleSecret: 'reg-bundle' }));
      expect(r.status).toBe(0);
      await applyYaml(cluster, bundleYaml(ns, 'reg-bundle', { SERVER_HOSTNAME: HOST, ...S3 }));
    }
    // Two resync periods: at least two passes, and health refreshes, that write nothing. kubectl
    // records its last-applied annotation on the CR the first time; nothing else may move.
    const healthBefore = logCount(operator.logs(), `${ns}/reg`, 'health evaluated');
    await expectQuiet(cluster, () => operator.logs(), { namespaces: [ns], keys: [`${ns}/reg`], windowMs: 9000, minPasses: 2, allow: /^QuayRegistry\//, before });
    expect(logCount(operator.logs(), `${ns}/reg`, 'health evaluated') - healthBefore).toBeGreaterThanOrEqual(2);
    expect((await registry(cluster, ns, 'reg')).status).toEqual(cr.status);
  }, 60_000);

  test('a deleted Deployment and a hand-edited Service are restored', async () => {
    const old = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-redis', ns);
    await cluster.objects.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'reg-quay-redis', namespace: ns } });
    await waitFor('redis Deployment recreated', async () => {
      const d = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-redis', ns);
      return d && d.metadata.uid !== old.metadata.uid;
    });
    const r = cluster.kubectl(['patch', 'service', 'reg-quay-app', '-n', ns, '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":8888}]']);
    expect(r.stderr).toBe('');
    await waitFor('Service port restored', async () => (await get(cluster, 'v1', 'Service', 'reg-quay-app', ns)).spec.ports[0].port === 80);
    await waitCondition(cluster, ns, 'reg', 'Available', 'True');
  });

  test('a config change renders a new config Secret; the old one goes only after the rollout', async () => {
    const { secretName: oldName } = await renderedConfig(cluster, ns, 'reg');
    controllers.paused = true;
    try {
      await applyYaml(cluster, bundleYaml(ns, 'reg-bundle', { SERVER_HOSTNAME: HOST, ...S3, SUPER_USERS: ['admin'] }));
      const { secretName, config } = await waitFor('new config Secret', async () => {
        const r = await renderedConfig(cluster, ns, 'reg');
        return r.secretName !== oldName ? r : undefined;
      });
      expect(config.SUPER_USERS).toEqual(['admin']);
      await sleep(3000);
      expect(await get(cluster, 'v1', 'Secret', oldName, ns)).toBeDefined(); // pods still mount it
      expect(await get(cluster, 'v1', 'Secret', secretName, ns)).toBeDefined();
    } finally {
      controllers.paused = false;
    }
    for (const d of ['reg-quay-app', 'reg-quay-mirror']) await markDeploymentAvailable(cluster.kc, ns, d);
    await waitFor('old config Secret deleted', async () => (await get(cluster, 'v1', 'Secret', oldName, ns)) === undefined);
    const left = (await cluster.objects.list('v1', 'Secret', ns)).items.filter((s) => s.metadata!.name!.startsWith('reg-quay-config-secret-'));
    expect(left).toHaveLength(1);
  });

  test('generated secrets survive reconciles; the serving certificate is renewed before it expires', async () => {
    const keys = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-registry-managed-secret-keys', ns));
    const ca = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls-ca', ns));
    // Swap in a pair from the same CA that expires in ten days.
    const expiring = await issueServingCert({ cert: ca['tls.crt'], key: ca['tls.key'] }, [HOST], new Date(), 10);
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const r = cluster.kubectl([
      'patch',
      'secret',
      'reg-quay-tls',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { 'tls.crt': b64(expiring.cert), 'tls.key': b64(expiring.key) } }),
    ]);
    expect(r.stderr).toBe('');
    const fresh = await waitFor(
      'serving certificate renewed',
      async () => {
        const d = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls', ns));
        return d['tls.crt'] && d['tls.crt'] !== expiring.cert ? d : undefined;
      },
      30_000,
      logs,
    );
    const cert = new X509Certificate(fresh['tls.crt']);
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(300 * 24 * 3600_000);
    expect(cert.verify(new X509Certificate(ca['tls.crt']).publicKey)).toBe(true);
    expect(secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls-ca', ns))).toEqual(ca);
    expect(secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-registry-managed-secret-keys', ns))).toEqual(keys);
  });
});

describe('unmanaged components', () => {
  const ns = 'unmanaged';
  let ca: Pem;
  let pair: Pem;

  beforeAll(async () => {
    ca = await generateCa('user CA');
    pair = await issueServingCert(ca, [HOST]);
    await createNamespace(cluster, ns);
    await applyYaml(
      cluster,
      bundleYaml(
        ns,
        'bundle',
        {
          SERVER_HOSTNAME: HOST,
          DB_URI: 'postgresql://quay:secret@db.example.test:5432/quay',
          BUILDLOGS_REDIS: { host: 'redis.example.test', port: 6379 },
          USER_EVENTS_REDIS: { host: 'redis.example.test', port: 6379 },
          ...S3,
        },
        { 'ssl.cert': pair.cert, 'ssl.key': pair.key },
      ),
    );
    await applyYaml(
      cluster,
      registryYaml(ns, 'reg', {
        configBundleSecret: 'bundle',
        components: ['postgres', 'redis', 'objectstorage', 'tls', 'clair', 'clairpostgres', 'horizontalpodautoscaler', 'monitoring'].map((kind) => ({ kind, managed: false })),
      }),
    );
    await waitCondition(cluster, ns, 'reg', 'Available', 'True', undefined, 60_000, logs);
  }, 90_000);

  test('no database, Redis or Clair is deployed, and the user settings reach the config', async () => {
    for (const d of ['reg-quay-database', 'reg-quay-redis', 'reg-clair-app', 'reg-clair-postgres']) {
      expect(await get(cluster, 'apps/v1', 'Deployment', d, ns)).toBeUndefined();
    }
    expect(await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns)).toBeUndefined();
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config.DB_URI).toBe('postgresql://quay:secret@db.example.test:5432/quay');
    expect(config.BUILDLOGS_REDIS).toEqual({ host: 'redis.example.test', port: 6379 });
    expect(config.DISTRIBUTED_STORAGE_CONFIG).toEqual(S3.DISTRIBUTED_STORAGE_CONFIG);
    expect(config.FEATURE_SECURITY_SCANNER).toBeUndefined();
    expect(validateConfig(config).errors).toEqual([]);
    // Without a managed HPA the app runs two replicas.
    expect((await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', ns)).spec.replicas).toBe(2);
    const cr = await registry(cluster, ns, 'reg');
    expect(condition(cr, 'ComponentPostgresReady')).toMatchObject({ status: 'True', reason: 'ComponentNotManaged' });
    expect(condition(cr, 'ComponentTLSReady')).toMatchObject({ status: 'True', reason: 'ComponentReady', message: 'Config bundle contains certs' });
  });

  test("the user's certificate serves the Ingress", async () => {
    const tls = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls', ns));
    expect(tls['tls.crt']).toBe(pair.cert);
    expect(tls['tls.key']).toBe(pair.key);
    expect(await get(cluster, 'v1', 'Secret', 'reg-quay-tls-ca', ns)).toBeUndefined();
    expect((await get(cluster, 'networking.k8s.io/v1', 'Ingress', 'reg-quay', ns)).spec.tls[0].secretName).toBe('reg-quay-tls');
  });

  /** The user's own certificate in the Secret `my-tls` (created or replaced). */
  const putTlsSecret = (cert: { cert: string; key: string }) =>
    applyYaml(
      cluster,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: 'my-tls', namespace: ns },
        stringData: { 'tls.crt': cert.cert, 'tls.key': cert.key },
      }),
    );

  test('tls from a secretRef: the Secret is labelled and used as it is', async () => {
    await putTlsSecret(pair);
    const bundle = secretData(await get(cluster, 'v1', 'Secret', 'bundle', ns));
    await cluster.objects.replace({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bundle', namespace: ns }, stringData: { 'config.yaml': bundle['config.yaml'] } } as never);
    cluster.kubectl([
      'patch',
      'quayregistry',
      'reg',
      '-n',
      ns,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/components/3', value: { kind: 'tls', managed: false, secretRef: { name: 'my-tls' } } }]),
    ]);
    await waitFor('Ingress on my-tls', async () => (await get(cluster, 'networking.k8s.io/v1', 'Ingress', 'reg-quay', ns)).spec.tls[0].secretName === 'my-tls', 30_000, logs);
    expect((await get(cluster, 'v1', 'Secret', 'my-tls', ns)).metadata.labels['quay.redhat.com/tls-secret']).toBe('true');
    const cr = await waitCondition(cluster, ns, 'reg', 'ComponentTLSReady', 'True');
    expect(condition(cr, 'ComponentTLSReady')!.message).toBe('Using externally managed TLS certificate');
    const hashes = async () =>
      Promise.all(
        ['reg-quay-app', 'reg-quay-mirror'].map(
          async (d) => (await get(cluster, 'apps/v1', 'Deployment', d, ns)).spec.template.metadata.annotations['quay.redhat.com/tls-secret-hash'],
        ),
      );
    expect(await hashes()).toEqual([tlsHash(pair), tlsHash(pair)]);
    // Rotating the certificate in the Secret rolls the pods that mount it.
    const rotated = await issueServingCert(ca, [HOST]);
    await putTlsSecret(rotated);
    await waitFor('the new hash on quay-app and mirror', async () => (await hashes()).every((h) => h === tlsHash(rotated)), 30_000, logs);
    await putTlsSecret(pair);
    await waitFor('the first hash back', async () => (await hashes()).every((h) => h === tlsHash(pair)), 30_000, logs);
  });

  test('the secretRef Secret deleted: ComponentTLSReady goes False at once, and back when it returns', async () => {
    const secret = await get(cluster, 'v1', 'Secret', 'my-tls', ns);
    await cluster.objects.delete({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'my-tls', namespace: ns } });
    const started = Date.now();
    const cr = await waitFor(
      'ComponentTLSReady False',
      async () => {
        const r = await registry(cluster, ns, 'reg');
        return condition(r, 'ComponentTLSReady')?.status === 'False' ? r : undefined;
      },
      10_000,
      logs,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(condition(cr, 'ComponentTLSReady')).toMatchObject({ reason: 'ComponentNotReady', message: 'External TLS secret not found' });
    expect(condition(cr, 'Available')).toMatchObject({ status: 'False', reason: 'ComponentNotReady' });
    expect(condition(cr, 'ComponentQuayReady')!.message).toBe('Awaiting for component tls to become available');
    expect(condition(await waitBlocked(cluster, ns, 'reg', 'ConfigInvalid', /external TLS secret error/, logs), 'RolloutBlocked')!.message).toMatch(/my-tls/);
    await applyYaml(cluster, yaml.dump({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'my-tls', namespace: ns }, data: secret.data }));
    await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 30_000, logs);
    expect(condition(await registry(cluster, ns, 'reg'), 'ComponentTLSReady')!.message).toBe('Using externally managed TLS certificate');
  });

  test('an unmanaged route: no Ingress for a new registry, and the user scheme is kept', async () => {
    const ns2 = 'noroute';
    await createNamespace(cluster, ns2);
    await applyYaml(
      cluster,
      bundleYaml(ns2, 'bundle', { SERVER_HOSTNAME: 'quay.internal:8080', PREFERRED_URL_SCHEME: 'http', ...S3 }, { 'ssl.cert': pair.cert, 'ssl.key': pair.key }),
    );
    await applyYaml(
      cluster,
      registryYaml(ns2, 'reg', {
        configBundleSecret: 'bundle',
        components: [
          { kind: 'route', managed: false },
          { kind: 'tls', managed: false },
        ],
      }),
    );
    // The user's certificate names registry.example.test, not quay.internal: that blocks the rollout.
    await waitBlocked(cluster, ns2, 'reg', 'ConfigInvalid', /^TLS certificate problem: provided certificate pair not valid for host 'quay.internal'$/, logs);
    const good = await issueServingCert(ca, ['quay.internal']);
    await applyYaml(
      cluster,
      bundleYaml(ns2, 'bundle', { SERVER_HOSTNAME: 'quay.internal:8080', PREFERRED_URL_SCHEME: 'http', ...S3 }, { 'ssl.cert': good.cert, 'ssl.key': good.key }),
    );
    const cr = await waitCondition(cluster, ns2, 'reg', 'ComponentsCreated', 'True', undefined, 30_000, logs);
    expect(cr.status!.registryEndpoint).toBe('http://quay.internal:8080');
    expect(await get(cluster, 'networking.k8s.io/v1', 'Ingress', 'reg-quay', ns2)).toBeUndefined();
    const { config } = await renderedConfig(cluster, ns2, 'reg');
    expect(config).toMatchObject({ SERVER_HOSTNAME: 'quay.internal:8080', PREFERRED_URL_SCHEME: 'http' });
  });
});

describe('bad input blocks the rollout and changes nothing that runs', () => {
  const ns = 'bad';
  const good = { SERVER_HOSTNAME: HOST, ...S3 };
  let before: Map<string, string>;

  beforeAll(async () => {
    await createNamespace(cluster, ns);
    await applyYaml(cluster, bundleYaml(ns, 'bundle', good));
    await applyYaml(cluster, registryYaml(ns, 'reg', { configBundleSecret: 'bundle' }));
    await waitCondition(cluster, ns, 'reg', 'Available', 'True', undefined, 60_000, logs);
  }, 90_000);

  /** Applies a broken bundle and/or spec, expects the block, checks nothing moved, then restores. */
  async function expectBlocked(change: { config?: Record<string, unknown>; raw?: string; components?: unknown[] }, reason: string, message: RegExp) {
    before = await snapshot(cluster, [ns]);
    const original = await registry(cluster, ns, 'reg');
    try {
      if (change.config || change.raw) {
        const text = change.raw ?? yaml.dump(change.config);
        await cluster.objects.replace({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bundle', namespace: ns }, stringData: { 'config.yaml': text } } as never);
      }
      if (change.components) {
        cluster.kubectl(['patch', 'quayregistry', 'reg', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { components: change.components } })]);
      }
      await waitBlocked(cluster, ns, 'reg', reason, message, logs);
      // A resync over the blocked registry runs and changes nothing but the inputs, the CR and the
      // Events about the block.
      await expectQuiet(cluster, () => operator.logs(), {
        namespaces: [ns],
        keys: [`${ns}/reg`],
        windowMs: 4500,
        minPasses: 1,
        allow: /^(QuayRegistry\/|Event\/|Secret\/bad\/bundle:)/,
        before,
      });
      const events = (await cluster.objects.list('v1', 'Event', ns)).items as any[];
      expect(events.some((e) => e.reason === reason && e.type === 'Warning' && message.test(e.message))).toBe(true);
    } finally {
      await cluster.objects.replace({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bundle', namespace: ns }, stringData: { 'config.yaml': yaml.dump(good) } } as never);
      if (change.components) {
        cluster.kubectl(['patch', 'quayregistry', 'reg', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { components: original.spec!.components } })]);
      }
      await waitCondition(cluster, ns, 'reg', 'RolloutBlocked', 'False', undefined, 30_000, logs);
    }
  }

  test('unmanaged objectstorage without DISTRIBUTED_STORAGE_CONFIG', async () => {
    await expectBlocked(
      { config: { SERVER_HOSTNAME: HOST } },
      'ConfigInvalid',
      /^required component `objectstorage` marked as unmanaged, but `configBundleSecret` is missing necessary fields/,
    );
  });

  test('unmanaged tls without certificates', async () => {
    const cr = await registry(cluster, ns, 'reg');
    const components = cr.spec!.components!.map((c) => (c.kind === 'tls' ? { kind: 'tls', managed: false } : c));
    await expectBlocked({ components }, 'ConfigInvalid', /^required component `tls` marked as unmanaged, but `configBundleSecret` is missing necessary fields/);
  });

  test('a managed component whose keys the user also set', async () => {
    await expectBlocked(
      { config: { ...good, DB_URI: 'postgresql://x:y@elsewhere/db' } },
      'ConfigInvalid',
      /^`postgres` component marked as managed, but `configBundleSecret` contains required fields: DB_URI/,
    );
  });

  test('config.yaml that is not YAML, or breaks the shared schema', async () => {
    await expectBlocked({ raw: 'SERVER_HOSTNAME: [unclosed' }, 'ConfigInvalid', /^invalid config.yaml: /);
    await expectBlocked({ config: { ...good, PREFERRED_URL_SCHEME: 'ftp', SUPER_USERS: 'admin' } }, 'ConfigInvalid', /^invalid config.yaml: .*PREFERRED_URL_SCHEME.*SUPER_USERS/);
  });

  test('overrides an HPA-managed component cannot take', async () => {
    const cr = await registry(cluster, ns, 'reg');
    const components = cr.spec!.components!.map((c) => (c.kind === 'quay' ? { kind: 'quay', managed: true, overrides: { replicas: 3 } } : c));
    await expectBlocked({ components }, 'ComponentOverrideInvalid', /^invalid overrides: component quay: cannot override replicas with managed HPA/);
  });

  test('a bundle Secret that does not exist', async () => {
    before = await snapshot(cluster, [ns]);
    cluster.kubectl(['patch', 'quayregistry', 'reg', '-n', ns, '--type=merge', '-p', '{"spec":{"configBundleSecret":"missing"}}']);
    await waitBlocked(cluster, ns, 'reg', 'ConfigInvalid', /^unable to get `configBundleSecret`: Secret "missing" not found$/, logs);
    expect(diff(before, await snapshot(cluster, [ns])).filter((d) => !/^(QuayRegistry|Event)\//.test(d))).toEqual([]);
    cluster.kubectl(['patch', 'quayregistry', 'reg', '-n', ns, '--type=merge', '-p', '{"spec":{"configBundleSecret":"bundle"}}']);
    await waitCondition(cluster, ns, 'reg', 'RolloutBlocked', 'False');
  });

  test('the API server rejects what the CRD forbids', () => {
    const r = cluster.kubectl(
      ['apply', '-f', '-'],
      registryYaml(ns, 'invalid', {
        components: [
          { kind: 'postgres', managed: false, overrides: { volumeSize: '1Gi' } },
          { kind: 'tls', managed: true, secretRef: { name: 'x' } },
        ],
      }),
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('cannot set overrides on unmanaged component');
    expect(r.stderr).toContain('secretRef cannot be set on a managed component');
  });
});

describe('switching the database to unmanaged', () => {
  test('keeps the PVC and its data, no longer owned by the registry', async () => {
    const ns = 'switch';
    await createDefaultRegistry(ns);
    await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', undefined, 60_000, logs);
    const pvc = await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns);
    expect(pvc.metadata.ownerReferences).toHaveLength(1);
    await applyYaml(cluster, bundleYaml(ns, 'reg-bundle', { SERVER_HOSTNAME: HOST, ...S3, DB_URI: 'postgresql://quay:pw@external-db:5432/quay' }));
    const cr = await registry(cluster, ns, 'reg');
    cluster.kubectl([
      'patch',
      'quayregistry',
      'reg',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { components: cr.spec!.components!.map((c) => (c.kind === 'postgres' ? { kind: 'postgres', managed: false } : c)) } }),
    ]);
    await waitFor('PVC released', async () => !(await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns)).metadata.ownerReferences, 30_000, logs);
    const kept = await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns);
    expect(kept.metadata.uid).toBe(pvc.metadata.uid);
    expect(kept.metadata.deletionTimestamp).toBeUndefined();
    const { config } = await waitFor('config with the external database', async () => {
      const r = await renderedConfig(cluster, ns, 'reg');
      return r.config.DB_URI === 'postgresql://quay:pw@external-db:5432/quay' ? r : undefined;
    });
    expect(config.DB_CONNECTION_ARGS).toBeUndefined();
  });
});

describe('builders on Kubernetes', () => {
  const ns = 'builds';
  const buildConfig = {
    FEATURE_BUILD_SUPPORT: true,
    BUILDMAN_HOSTNAME: 'builder.example.test',
    BUILD_MANAGER: [
      'ephemeral',
      {
        ALLOWED_WORKER_COUNT: 1,
        ORCHESTRATOR_PREFIX: 'buildman/production/',
        ORCHESTRATOR: { REDIS_PASSWORD: '', REDIS_SSL: false },
        EXECUTORS: [{ EXECUTOR: 'kubernetesPodman', NAME: 'k8s', BUILDER_NAMESPACE: 'virtual-builders', SETUP_TIME: 180 }],
      },
    ],
  };

  beforeAll(async () => {
    await createDefaultRegistry(ns, 'reg', buildConfig);
    await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', undefined, 60_000, logs);
  }, 90_000);

  test('provisions the builder namespace with Pod Security labels, its account and RBAC', async () => {
    const n = await get(cluster, 'v1', 'Namespace', 'virtual-builders');
    expect(n.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'baseline' });
    expect(n.metadata.annotations).toMatchObject({ 'quay.redhat.com/created-by': `${ns}/reg` });
    expect(await get(cluster, 'v1', 'ServiceAccount', 'quay-builder', 'virtual-builders')).toBeDefined();
    const as = ['--as', 'system:serviceaccount:virtual-builders:quay-builder'];
    expect(cluster.kubectl(['auth', 'can-i', 'create', 'jobs', '-n', 'virtual-builders', ...as]).stdout.trim()).toBe('yes');
    expect(cluster.kubectl(['auth', 'can-i', 'delete', 'pods', '-n', 'virtual-builders', ...as]).stdout.trim()).toBe('yes');
    expect(cluster.kubectl(['auth', 'can-i', 'create', 'jobs', '-n', 'default', ...as]).stdout.trim()).toBe('no');
  });

  test('fills SERVICE_ACCOUNT_TOKEN (a working token) and the in-cluster API in the config', async () => {
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config.BUILDMAN_HOSTNAME).toBe('builder.example.test');
    expect(config.BUILD_MANAGER[1].ORCHESTRATOR.REDIS_HOST).toBe('reg-quay-redis');
    const executor = config.BUILD_MANAGER[1].EXECUTORS[0];
    expect(executor).toMatchObject({ SERVICE_ACCOUNT_NAME: 'quay-builder', K8S_API_SERVER: 'kubernetes.default.svc:443', KUBERNETES_DISTRIBUTION: 'k8s' });
    const review = (await cluster.objects.create({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      metadata: {},
      spec: { token: executor.SERVICE_ACCOUNT_TOKEN },
    } as never)) as any;
    expect(review.status.authenticated).toBe(true);
    expect(review.status.user.username).toBe('system:serviceaccount:virtual-builders:quay-builder');
    expect(validateConfig(config).errors).toEqual([]);
  });

  test('the builder Ingress speaks gRPC to the app, and the certificate covers the builder host', async () => {
    const ing = await get(cluster, 'networking.k8s.io/v1', 'Ingress', 'reg-quay-builder', ns);
    expect(ing.metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol']).toBe('GRPC');
    expect(ing.spec.rules[0]).toMatchObject({ host: 'builder.example.test', http: { paths: [{ backend: { service: { name: 'reg-quay-app', port: { name: 'grpc' } } } }] } });
    const cert = new X509Certificate(secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-tls', ns))['tls.crt']);
    expect(cert.checkHost('builder.example.test')).toBe('builder.example.test');
    expect(cert.checkHost(HOST)).toBe(HOST);
  });

  test('deleting the registry removes what it made outside its namespace (finalizer)', async () => {
    await cluster.objects.delete({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: ns } });
    await waitFor('registry gone', async () => (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', 'reg', ns)) === undefined, 30_000, logs);
    // No namespace controller runs here, so a deleted namespace stays Terminating: deletion was asked for.
    const n = await get(cluster, 'v1', 'Namespace', 'virtual-builders');
    expect(n === undefined || n.metadata.deletionTimestamp !== undefined).toBe(true);
    expect(await get(cluster, 'rbac.authorization.k8s.io/v1', 'RoleBinding', 'quay-builder', 'virtual-builders')).toBeUndefined();
    expect(await get(cluster, 'v1', 'ServiceAccount', 'quay-builder', 'virtual-builders')).toBeUndefined();
  });
});

describe('two registries in two namespaces', () => {
  test('reconcile independently: a blocked one does not hold up the other', async () => {
    await createDefaultRegistry('team-a', 'reg');
    await createNamespace(cluster, 'team-b');
    await applyYaml(cluster, bundleYaml('team-b', 'bundle', { SERVER_HOSTNAME: 'b.example.test' }));
    await applyYaml(cluster, registryYaml('team-b', 'reg', { configBundleSecret: 'bundle' }));
    await waitBlocked(cluster, 'team-b', 'reg', 'ConfigInvalid', /objectstorage/);
    await waitCondition(cluster, 'team-a', 'reg', 'Available', 'True', undefined, 60_000, logs);
    await applyYaml(cluster, bundleYaml('team-b', 'bundle', { SERVER_HOSTNAME: 'b.example.test', ...S3 }));
    const b = await waitCondition(cluster, 'team-b', 'reg', 'Available', 'True', undefined, 60_000, logs);
    const a = await registry(cluster, 'team-a', 'reg');
    expect(a.status!.registryEndpoint).toBe(`https://${HOST}`);
    expect(b.status!.registryEndpoint).toBe('https://b.example.test');
    const keysA = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-registry-managed-secret-keys', 'team-a'));
    const keysB = secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-registry-managed-secret-keys', 'team-b'));
    expect(keysA.SECRET_KEY).not.toBe(keysB.SECRET_KEY);
  }, 120_000);
});

describe('kubectl', () => {
  const ns = 'kubectl';
  const manifest = (components?: unknown[]) =>
    `${bundleYaml(ns, 'init-config-bundle-secret', { SERVER_HOSTNAME: HOST, ...S3 })}---\n${registryYaml(ns, 'example-registry', { configBundleSecret: 'init-config-bundle-secret', ...(components ? { components } : {}) })}`;

  test('apply -f of a CR and get -o yaml showing its status', async () => {
    expect(cluster.kubectl(['create', 'namespace', ns]).status).toBe(0);
    const applied = cluster.kubectl(['apply', '-f', '-'], manifest());
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('quayregistry.quay.redhat.com/example-registry created');
    await waitCondition(cluster, ns, 'example-registry', 'Available', 'True', undefined, 60_000, logs);
    const cr = yaml.load(cluster.kubectl(['get', 'quayregistry', 'example-registry', '-n', ns, '-o', 'yaml']).stdout) as any;
    expect(cr.spec.components).toHaveLength(11);
    expect(cr.status.registryEndpoint).toBe(`https://${HOST}`);
    expect(cr.status.conditions.find((c: any) => c.type === 'Available')).toMatchObject({ status: 'True', reason: 'HealthChecksPassing' });
    const table = cluster.kubectl(['get', 'quayregistries', '-n', ns]);
    expect(table.stdout).toMatch(/NAME\s+VERSION\s+ENDPOINT\s+AVAILABLE\s+AGE/);
    expect(table.stdout).toMatch(new RegExp(`example-registry\\s+1\\.0\\.0\\s+https://${HOST.replace(/\./g, '\\.')}\\s+True`));
    const rv = cr.metadata.resourceVersion;
    expect(cluster.kubectl(['apply', '-f', '-'], manifest()).stdout).toContain('quayregistry.quay.redhat.com/example-registry unchanged');
    expect((await registry(cluster, ns, 'example-registry')).metadata.resourceVersion).toBe(rv);
  });

  test('server-side apply of a partial component list owns only its items: re-applies write nothing', async () => {
    const partial = [
      { kind: 'clair', managed: false },
      { kind: 'mirror', managed: false },
    ];
    const first = cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '--force-conflicts', '-f', '-'], manifest(partial));
    expect(first.status).toBe(0);
    await waitFor('clair unmanaged', async () => condition(await registry(cluster, ns, 'example-registry'), 'ComponentClairReady')?.reason === 'ComponentNotManaged', 30_000, logs);
    await waitCondition(cluster, ns, 'example-registry', 'Available', 'True', undefined, 30_000, logs);
    await waitFor(
      'the old config Secret pruned',
      async () => (await cluster.objects.list('v1', 'Secret', ns)).items.filter((s) => s.metadata!.name!.includes('-quay-config-secret-')).length === 1,
    );
    await sleep(2500);
    const before = await snapshot(cluster, [ns]);
    for (let i = 0; i < 5; i++) expect(cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], manifest(partial)).stderr).toBe('');
    await expectQuiet(cluster, () => operator.logs(), { namespaces: [ns], keys: [`${ns}/example-registry`], windowMs: 4500, minPasses: 1, before });
    const cr = await registry(cluster, ns, 'example-registry');
    expect(cr.spec!.components).toHaveLength(11);
  });
});

describe('a new operator version', () => {
  test('runs the migration Job with the app scaled down, then moves currentVersion', async () => {
    const ns = 'all';
    await operator.stop();
    controllers.paused = true;
    operator = await OperatorProcess.start(cluster, { RESYNC_SECONDS: '4', QUAY_VERSION: '1.1.0', RELATED_IMAGE_COMPONENT_QUAY: 'quay-ts:test' }, 'operator-1.1.0');
    try {
      const cr = await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'False', 'MigrationsInProgress', 30_000, logs);
      expect(cr.status!.currentVersion).toBe('1.0.0');
      const job = await get(cluster, 'batch/v1', 'Job', 'reg-quay-app-upgrade', ns);
      expect(job.metadata.annotations['quay-version']).toBe('1.1.0');
      expect(job.spec.template.spec.containers[0].args).toEqual(['migrate', '--config', '/conf/stack/config.yaml']);
      expect((await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', ns)).spec.replicas).toBe(0);
    } finally {
      controllers.paused = false;
    }
    // Play the Job controller: the migration succeeded.
    await completeJob(cluster.kc, ns, 'reg-quay-app-upgrade');
    const done = await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', undefined, 30_000, logs);
    expect(done.status!.currentVersion).toBe('1.1.0');
    await waitFor('app scaled back', async () => (await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', ns)).spec.replicas !== 0);
  });
});
