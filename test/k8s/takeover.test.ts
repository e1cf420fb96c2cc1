/**
 * Taking over a registry Quay's operator ran: its objects (test/setup/k8s/quay-operator.ts, shaped as
 * its kustomize output for an all-managed CR, applied with its field manager and ownerReferences)
 * are adopted in place — same Deployments, claims, managed keys and bundle — and a Deployment whose
 * selector cannot be changed is replaced with its claim kept.
 */
import yaml from 'js-yaml';
import type { KubernetesObject } from '@kubernetes/client-node';
import { OPENSHIFT_APPS_DOMAIN, TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers, admitRoute, bindBucket, bindVolume, completeJob, markDeploymentAvailable } from '../setup/k8s/controllers.js';
import { QUAY_BASE_CONFIG, QUAY_OPERATOR_VERSION, quayOperatorObjects } from '../setup/k8s/quay-operator.js';
import { applyYaml, createNamespace, get, registry, renderedConfig, secretData, waitCondition, waitFor } from './helpers.js';

const ns = 'quay';
const HOST = `reg-quay-${ns}.${OPENSHIFT_APPS_DOMAIN}`;
const KEYS = {
  DATABASE_SECRET_KEY: 'd'.repeat(80),
  SECRET_KEY: 's'.repeat(80),
  DB_URI: `postgresql://reg-quay-database:${'p'.repeat(80)}@reg-quay-database:5432/reg-quay-database`,
  DB_ROOT_PW: 'r'.repeat(32),
  SECURITY_SCANNER_V4_PSK: Buffer.from('k'.repeat(32)).toString('base64'),
  CLAIR_DB_USER: 'postgres',
  CLAIR_DB_NAME: 'postgres',
  CLAIR_DB_PASSWORD: 'c'.repeat(32),
  CLAIR_DB_ROOT_PW: 'c'.repeat(32),
};
const KINDS = ['quay', 'postgres', 'clair', 'redis', 'horizontalpodautoscaler', 'objectstorage', 'route', 'mirror', 'monitoring', 'tls', 'clairpostgres'];
const DEPLOYMENTS = ['reg-quay-app', 'reg-quay-mirror', 'reg-quay-database', 'reg-clair-postgres', 'reg-clair-app', 'reg-quay-redis'];

let cluster: TestCluster;
let operator: OperatorProcess | undefined;
let controllers: FakeControllers;
const logs = () => `\n--- operator log (tail)\n${operator?.logs().split('\n').slice(-40).join('\n')}`;

/** Server-side apply as Quay's operator does it. */
async function applyAsQuayOperator(objs: KubernetesObject[]): Promise<void> {
  for (const o of objs) await cluster.objects.send('PATCH', o, { fieldManager: 'quay-operator', force: 'true' }, 'application/apply-patch+yaml');
}

beforeAll(async () => {
  cluster = await TestCluster.start({ openshift: true, objectBuckets: true, monitoring: true });
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
}, 20 * 60_000);

afterAll(async () => {
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

describe("a registry Quay's operator ran", () => {
  const before = new Map<string, string>();

  beforeAll(async () => {
    await createNamespace(cluster, ns);
    // Quay's operator wrote back all eleven kinds and generated the bundle.
    await applyAsQuayOperator([
      {
        apiVersion: 'quay.redhat.com/v1',
        kind: 'QuayRegistry',
        metadata: { name: 'reg', namespace: ns, finalizers: ['quay-operator/finalizer'] },
        spec: { configBundleSecret: 'reg-config-bundle-x7k2p', components: KINDS.map((kind) => ({ kind, managed: true })) },
      } as KubernetesObject,
    ]);
    const cr = await registry(cluster, ns, 'reg');
    const owner = [{ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', name: 'reg', uid: cr.metadata.uid }];
    await applyAsQuayOperator([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'reg-config-bundle-x7k2p', namespace: ns, ownerReferences: owner },
        data: { 'config.yaml': Buffer.from(yaml.dump(QUAY_BASE_CONFIG)).toString('base64') },
      } as KubernetesObject,
      ...quayOperatorObjects({ name: 'reg', namespace: ns, uid: cr.metadata.uid, keys: KEYS, bundleName: 'reg-config-bundle-x7k2p', hostname: HOST }),
    ]);
    // What the cluster reported while Quay's operator ran it.
    for (const d of DEPLOYMENTS) await markDeploymentAvailable(cluster.kc, ns, d);
    for (const c of ['reg-quay-postgres-13', 'reg-clair-postgres-15']) await bindVolume(cluster.kc, ns, c);
    await completeJob(cluster.kc, ns, 'reg-quay-app-upgrade');
    await bindBucket(cluster.kc, ns, 'reg-quay-datastore', { host: 's3.openshift-storage.svc', port: 443, bucket: 'quay-datastore-1234', accessKey: 'AK', secretKey: 'SK' });
    for (const r of ['reg-quay', 'reg-quay-builder']) await admitRoute(cluster.kc, ns, r);
    cluster.kubectl([
      'patch',
      'quayregistry',
      'reg',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { currentVersion: QUAY_OPERATOR_VERSION, registryEndpoint: `https://${HOST}` } }),
    ]);
    for (const [kind, apiVersion, name] of [
      ...DEPLOYMENTS.map((d) => ['Deployment', 'apps/v1', d]),
      ['PersistentVolumeClaim', 'v1', 'reg-quay-postgres-13'],
      ['PersistentVolumeClaim', 'v1', 'reg-clair-postgres-15'],
      ['Secret', 'v1', 'reg-quay-registry-managed-secret-keys'],
      ['Secret', 'v1', 'reg-config-bundle-x7k2p'],
    ]) {
      before.set(`${kind}/${name}`, (await get(cluster, apiVersion, kind, name, ns)).metadata.uid);
    }

    // Quay's operator uninstalled; this one installed.
    await controllers.start();
    operator = await OperatorProcess.start(cluster, { QUAY_VERSION: '1.0.0', HEALTH_SECONDS: '2' });
    await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', 'ComponentsCreationSuccess', 90_000, logs);
    await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 60_000, logs);
  }, 5 * 60_000);

  test('the same objects: Deployments, claims, managed keys and bundle adopted in place', async () => {
    for (const [key, uid] of before) {
      const [kind, name] = key.split('/');
      const apiVersion = kind === 'Deployment' ? 'apps/v1' : 'v1';
      expect({ key, uid: (await get(cluster, apiVersion, kind, name, ns)).metadata.uid }).toEqual({ key, uid });
    }
    const events = ((await cluster.objects.list('v1', 'Event', ns)).items as any[]).map((e) => e.reason);
    expect(events).not.toContain('DeploymentReplaced');
    expect(secretData(await get(cluster, 'v1', 'Secret', 'reg-quay-registry-managed-secret-keys', ns))).toMatchObject(KEYS);
    expect(yaml.load(secretData(await get(cluster, 'v1', 'Secret', 'reg-config-bundle-x7k2p', ns))['config.yaml'])).toEqual(QUAY_BASE_CONFIG);
    const cr = await registry(cluster, ns, 'reg');
    expect(cr.spec!.components!.map((c) => c.kind)).toEqual(KINDS);
    expect(cr.status!.currentVersion).toBe('1.0.0');
    expect(cr.status!.registryEndpoint).toBe(`https://${HOST}`);
  });

  test('the databases keep their claims; the rendered config keeps the generated secrets', async () => {
    expect((await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-database', ns)).spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ persistentVolumeClaim: { claimName: 'reg-quay-postgres-13' } }),
    );
    expect((await get(cluster, 'apps/v1', 'Deployment', 'reg-clair-postgres', ns)).spec.template.spec.volumes).toContainEqual(
      expect.objectContaining({ persistentVolumeClaim: { claimName: 'reg-clair-postgres-15' } }),
    );
    const { config } = await renderedConfig(cluster, ns, 'reg');
    expect(config).toMatchObject({
      DB_URI: KEYS.DB_URI,
      SECRET_KEY: KEYS.SECRET_KEY,
      DATABASE_SECRET_KEY: KEYS.DATABASE_SECRET_KEY,
      SECURITY_SCANNER_V4_PSK: KEYS.SECURITY_SCANNER_V4_PSK,
    });
    const pgSecret = secretData(await get(cluster, 'v1', 'Secret', 'reg-postgres-config-secret', ns));
    expect(pgSecret['database-password']).toBe('p'.repeat(80));
  });

  test("what Quay's operator set and this one does not is gone (same field manager); its old config Secret is pruned", async () => {
    const mirror = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-mirror', ns);
    expect(mirror.spec.template.spec.initContainers).toBeUndefined();
    expect(mirror.spec.template.spec.containers[0].args).not.toContain('repomirror-nomigrate');
    const svc = await get(cluster, 'v1', 'Service', 'reg-quay-app', ns);
    expect(svc.spec.ports.map((p: any) => p.name).sort()).toEqual(['grpc', 'http', 'https']);
    expect(svc.spec.selector).toEqual({ app: 'quay', 'quay-component': 'quay-app', 'quay-operator/quayregistry': 'reg' });
    await waitFor('the old config Secret pruned', async () => (await get(cluster, 'v1', 'Secret', 'reg-quay-config-secret-7f8dk2m9bb', ns)) === undefined, 30_000, logs);
  });
});

test('a Deployment with an immutable selector of its own is replaced; its claim stays', async () => {
  const legacy = 'legacy';
  await createNamespace(cluster, legacy);
  const storage = {
    DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', port: 443, s3_bucket: 'quay', s3_access_key: 'AK', s3_secret_key: 'SK' }] },
    DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
  };
  await applyYaml(cluster, yaml.dump({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bundle', namespace: legacy }, stringData: { 'config.yaml': yaml.dump(storage) } }));
  await applyYaml(
    cluster,
    yaml.dump({
      apiVersion: 'quay.redhat.com/v1',
      kind: 'QuayRegistry',
      metadata: { name: 'reg', namespace: legacy },
      spec: { configBundleSecret: 'bundle', components: [{ kind: 'objectstorage', managed: false }] },
    }),
  );
  const cr = await registry(cluster, legacy, 'reg');
  const owner = [{ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', name: 'reg', uid: cr.metadata.uid }];
  await waitCondition(cluster, legacy, 'reg', 'ComponentsCreated', 'True', undefined, 90_000, logs);
  const claim = await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', legacy);
  // The shape an earlier selector left: the app Deployment selecting only registry and component,
  // swapped in while no operator runs.
  await operator!.stop();
  expect(cluster.kubectl(['delete', 'deployment', 'reg-quay-app', '-n', legacy, '--cascade=orphan', '--wait=false']).status).toBe(0);
  await waitFor('old app Deployment gone', async () => (await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', legacy)) === undefined);
  const selector = { 'quay-operator/quayregistry': 'reg', 'quay-component': 'quay-app' };
  await cluster.objects.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reg-quay-app', namespace: legacy, labels: selector, ownerReferences: owner },
    spec: {
      selector: { matchLabels: selector },
      template: { metadata: { labels: { ...selector, app: 'quay' } }, spec: { containers: [{ name: 'quay-app', image: 'quay-ts:old' }] } },
    },
  } as KubernetesObject);
  operator = await OperatorProcess.start(cluster, { QUAY_VERSION: '1.0.0', HEALTH_SECONDS: '2' }, 'operator-2');
  const replaced = await waitFor(
    'the app Deployment replaced',
    async () => {
      const d = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', legacy);
      return d?.spec.selector.matchLabels.app === 'quay' ? d : undefined;
    },
    60_000,
    logs,
  );
  expect(replaced.spec.selector.matchLabels).toEqual({ app: 'quay', ...selector });
  const events = (await cluster.objects.list('v1', 'Event', legacy)).items as any[];
  expect(events.find((e) => e.reason === 'DeploymentReplaced')?.message).toMatch(/reg-quay-app had another selector/);
  expect((await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', legacy)).metadata.uid).toBe(claim.metadata.uid);
  await waitCondition(cluster, legacy, 'reg', 'ComponentQuayReady', 'True', undefined, 60_000, logs);
});
