/** WATCH_NAMESPACE: the operator reconciles the registries of one namespace and leaves the others alone. */
import { TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers } from '../setup/k8s/controllers.js';
import { applyYaml, bundleYaml, createNamespace, get, registry, registryYaml, sleep, waitCondition, waitFor } from './helpers.js';

const config = {
  SERVER_HOSTNAME: 'registry.example.test',
  DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', s3_bucket: 'quay', s3_access_key: 'a', s3_secret_key: 's' }] },
};

let cluster: TestCluster;
let operator: OperatorProcess;
let controllers: FakeControllers;

beforeAll(async () => {
  cluster = await TestCluster.start();
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
  await controllers.start();
  operator = await OperatorProcess.start(cluster, { WATCH_NAMESPACE: 'team-a', QUAY_VERSION: '1.0.0' });
}, 20 * 60_000);

afterAll(async () => {
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

test('only the watched namespace is reconciled', async () => {
  for (const ns of ['team-a', 'team-b']) {
    await createNamespace(cluster, ns);
    await applyYaml(cluster, bundleYaml(ns, 'bundle', config));
    await applyYaml(cluster, registryYaml(ns, 'reg', { configBundleSecret: 'bundle' }));
  }
  await waitCondition(cluster, 'team-a', 'reg', 'Available', 'True', undefined, 60_000, () => operator.logs());
  expect(operator.logs()).toContain('watching QuayRegistries in namespace team-a');
  await sleep(2000);
  const other = await registry(cluster, 'team-b', 'reg');
  expect(other.status).toBeUndefined();
  expect(other.metadata.finalizers).toBeUndefined();
  expect(other.spec!.components).toBeUndefined();
  expect(await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', 'team-b')).toBeUndefined();

  await cluster.objects.delete({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: 'team-a' } });
  await waitFor(
    'team-a registry gone',
    async () => (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', 'reg', 'team-a')) === undefined,
    30_000,
    () => operator.logs(),
  );
});
