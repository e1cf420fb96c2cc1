/**
 * Status as Quay's operator writes it, kept current between passes: condition order, health refreshed
 * on its own cadence (HEALTH_SECONDS) without passes, PVC provisioning failures read from Events,
 * scaled-down components, a deleted migration Job.
 */
import { TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers, MISSING_STORAGE_CLASS, completeJob } from '../setup/k8s/controllers.js';
import { applyYaml, bundleYaml, condition, createNamespace, get, logCount, registry, registryYaml, sleep, waitCondition, waitFor } from './helpers.js';

const CONFIG = {
  SERVER_HOSTNAME: 'registry.example.test',
  DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', port: 443, s3_bucket: 'quay', s3_access_key: 'AK', s3_secret_key: 'SK' }] },
  DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
};

const PROXY = { HTTP_PROXY: 'http://proxy.example.test:3128', HTTPS_PROXY: 'http://proxy.example.test:3128', NO_PROXY: '127.0.0.1,localhost,.svc' };

let cluster: TestCluster;
let operator: OperatorProcess;
const controllers: FakeControllers[] = [];
const logs = () => `\n--- operator log (tail)\n${operator?.logs().split('\n').slice(-40).join('\n')}`;

beforeAll(async () => {
  cluster = await TestCluster.start();
  for (const ns of ['health', 'mig']) await createNamespace(cluster, ns);
  // In `mig` migration Jobs run until the test finishes them.
  controllers.push(new FakeControllers(cluster.kc, { namespace: 'health', jobs: true, volumes: true }), new FakeControllers(cluster.kc, { namespace: 'mig', volumes: true }));
  for (const c of controllers) await c.start();
  // No resync within the test: what changes between passes comes from the health cadence. Behind a
  // proxy (as OLM passes OpenShift's cluster proxy), which the API server on loopback is exempt from.
  operator = await OperatorProcess.start(cluster, { HEALTH_SECONDS: '2', QUAY_VERSION: '1.0.0', ...PROXY });
}, 20 * 60_000);

afterAll(async () => {
  for (const c of controllers) c.stop();
  await operator?.stop();
  await cluster?.stop();
});

async function createRegistry(ns: string, name: string, components?: unknown[]): Promise<void> {
  await applyYaml(cluster, bundleYaml(ns, `${name}-bundle`, CONFIG));
  await applyYaml(cluster, registryYaml(ns, name, { configBundleSecret: `${name}-bundle`, ...(components ? { components } : {}) }));
}

describe('status', () => {
  beforeAll(async () => {
    await createRegistry('health', 'reg');
    await waitCondition(cluster, 'health', 'reg', 'Available', 'True', 'HealthChecksPassing', 60_000, logs);
  }, 90_000);

  test("conditions in Quay's order with Quay's messages", async () => {
    const cr = await registry(cluster, 'health', 'reg');
    expect(cr.status!.conditions!.map((c) => c.type)).toEqual([
      'ComponentHPAReady',
      'ComponentRouteReady',
      'ComponentMonitoringReady',
      'ComponentPostgresReady',
      'ComponentObjectStorageReady',
      'ComponentClairReady',
      'ComponentClairPostgresReady',
      'ComponentTLSReady',
      'ComponentRedisReady',
      'ComponentQuayReady',
      'ComponentMirrorReady',
      'Available',
      'ComponentsCreated',
      'RolloutBlocked',
    ]);
    expect(condition(cr, 'ComponentQuayReady')).toMatchObject({ status: 'True', reason: 'ComponentReady', message: 'Quay component healthy' });
    expect(condition(cr, 'ComponentClairReady')!.message).toBe('Clair component healthy');
    expect(condition(cr, 'ComponentPostgresReady')!.message).toBe('Deployment reg-quay-database healthy');
    expect(condition(cr, 'ComponentHPAReady')!.message).toBe('Horizontal pod autoscaler found');
    expect(condition(cr, 'ComponentMonitoringReady')).toMatchObject({ reason: 'ComponentNotManaged', message: 'Monitoring not managed by the operator' });
    expect(condition(cr, 'ComponentsCreated')).toMatchObject({ status: 'True', reason: 'ComponentsCreationSuccess', message: 'All registry components created' });
  });

  test("the operator's proxy settings reach quay, mirror and Clair; client certificates for an external Postgres are mounted", async () => {
    for (const name of ['reg-quay-app', 'reg-quay-mirror', 'reg-clair-app']) {
      const d = await get(cluster, 'apps/v1', 'Deployment', name, 'health');
      const env = Object.fromEntries(d.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
      expect({ name, ...env }).toMatchObject({ name, HTTP_PROXY: PROXY.HTTP_PROXY, HTTPS_PROXY: PROXY.HTTPS_PROXY, NO_PROXY: `registry.example.test,${PROXY.NO_PROXY}` });
    }
    const app = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-app', 'health');
    expect(app.spec.template.spec.volumes.find((v: any) => v.name === 'postgres-certs').projected.sources).toEqual([
      { secret: { name: 'postgresql-ca', optional: true } },
      { secret: { name: 'postgresql-client-certs', optional: true } },
    ]);
    expect(app.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'postgres-certs', mountPath: '/run/secrets/postgresql', readOnly: true });
  });

  test('health is evaluated on its own cadence between passes, writing nothing when unchanged', async () => {
    const key = 'health/reg';
    // The rollout's last watch events (config Secret pruning, status updates) start passes; wait for a
    // 3 s window without one.
    for (let seen = -1, deadline = Date.now() + 60_000; seen !== logCount(operator.logs(), key) && Date.now() < deadline;) {
      seen = logCount(operator.logs(), key);
      await sleep(3000);
    }
    const passes = logCount(operator.logs(), key);
    const health = logCount(operator.logs(), key, 'health evaluated');
    const rv = (await registry(cluster, 'health', 'reg')).metadata.resourceVersion;
    await sleep(5000);
    expect(logCount(operator.logs(), key, 'health evaluated') - health).toBeGreaterThanOrEqual(2);
    expect(logCount(operator.logs(), key)).toBe(passes);
    expect((await registry(cluster, 'health', 'reg')).metadata.resourceVersion).toBe(rv);
  });

  test("a PVC the provisioner cannot serve: PVCProvisioningFailed with the provisioner's message", async () => {
    await createRegistry('health', 'slow', [{ kind: 'postgres', managed: true, overrides: { storageClassName: MISSING_STORAGE_CLASS } }]);
    // Events are not watched: the health cadence finds the provisioner's Event.
    const cr = await waitFor(
      'PVCProvisioningFailed',
      async () => {
        const r = await registry(cluster, 'health', 'slow');
        return condition(r, 'ComponentPostgresReady')?.reason === 'PVCProvisioningFailed' ? r : undefined;
      },
      30_000,
      logs,
    );
    expect(condition(cr, 'ComponentPostgresReady')).toMatchObject({
      status: 'False',
      message: 'Postgres PVC slow-quay-postgres-13 provisioning failed: storageclass.storage.k8s.io "missing" not found',
    });
    expect(condition(cr, 'ComponentQuayReady')!.message).toMatch(/^Awaiting for component postgres/);
    expect(condition(cr, 'Available')).toMatchObject({ status: 'False', reason: 'ComponentNotReady' });
    expect(await get(cluster, 'apps/v1', 'Deployment', 'slow-quay-app', 'health')).toBeUndefined();
  });

  test('mirror scaled to 0 by override: "Mirror manually scaled down"', async () => {
    cluster.kubectl([
      'patch',
      'quayregistry',
      'reg',
      '-n',
      'health',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          components: [
            { kind: 'horizontalpodautoscaler', managed: false },
            { kind: 'mirror', managed: true, overrides: { replicas: 0 } },
          ],
        },
      }),
    ]);
    const cr = await waitFor(
      'mirror scaled down',
      async () => {
        const r = await registry(cluster, 'health', 'reg');
        return condition(r, 'ComponentMirrorReady')?.message === 'Mirror manually scaled down' ? r : undefined;
      },
      30_000,
      logs,
    );
    expect(condition(cr, 'ComponentMirrorReady')).toMatchObject({ status: 'True', reason: 'ComponentReady' });
    expect(condition(cr, 'ComponentHPAReady')).toMatchObject({ reason: 'ComponentNotManaged', message: 'Horizontal pod autoscaler not managed by the operator' });
    expect((await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-mirror', 'health')).spec.replicas).toBe(0);
  });
});

test('a migration Job deleted while it runs: MigrationsJobMissing, then a new Job', async () => {
  await createRegistry('mig', 'reg');
  await waitCondition(cluster, 'mig', 'reg', 'ComponentsCreated', 'False', 'MigrationsInProgress', 60_000, logs);
  const job = await get(cluster, 'batch/v1', 'Job', 'reg-quay-app-upgrade', 'mig');
  expect(cluster.kubectl(['delete', 'job', 'reg-quay-app-upgrade', '-n', 'mig']).status).toBe(0);
  const missing = await waitFor(
    'a MigrationsJobMissing Event',
    async () => ((await cluster.objects.list('v1', 'Event', 'mig')).items as any[]).find((e) => e.reason === 'MigrationsJobMissing'),
    30_000,
    logs,
  );
  expect(missing.message).toBe('upgrade job not found');
  const again = await waitFor('a new Job', async () => {
    const j = await get(cluster, 'batch/v1', 'Job', 'reg-quay-app-upgrade', 'mig');
    return j && j.metadata.uid !== job.metadata.uid ? j : undefined;
  });
  await waitCondition(cluster, 'mig', 'reg', 'ComponentsCreated', 'False', 'MigrationsInProgress', 30_000, logs);
  await completeJob(cluster.kc, 'mig', again.metadata.name);
  await waitCondition(cluster, 'mig', 'reg', 'ComponentsCreated', 'True', 'ComponentsCreationSuccess', 30_000, logs);
});
