/**
 * A managed database moved to a new Postgres major on a real kube-apiserver: the operator restarted with a
 * newer database image stops the writers, copies with a Job, reports PostgresUpgradeInProgress, falls back
 * to the old database when the copy fails (PostgresUpgradeFailed), retries when the failed Job is deleted,
 * and on success runs the new major on a new volume while keeping the old one as an unowned backup; Clair's
 * database the same way, stopping only clair-app. The
 * harness plays the Deployment and volume controllers; the copy Job's outcome is set by the test (the
 * sclorg image that performs the copy cannot run here: no container runtime and no image registry).
 */
import { TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers, completeJob, failJob } from '../setup/k8s/controllers.js';
import { applyYaml, bundleYaml, condition, createNamespace, get, registry, registryYaml, waitBlocked, waitCondition, waitFor } from './helpers.js';

const OLD = 'quay.io/sclorg/postgresql-12-c9s:latest';
const NEW = 'quay.io/sclorg/postgresql-13-c9s:latest';
/** Where a disconnected cluster pulls the old major from (RELATED_IMAGE_COMPONENT_POSTGRES_PREVIOUS). */
const OLD_MIRROR = 'mirror.example.test/sclorg/postgresql-12-c9s:latest';
/** Clair's database: the operator's default major, then the next one. */
const CLAIR_OLD = 'quay.io/sclorg/postgresql-15-c9s:latest';
const CLAIR_NEW = 'quay.io/sclorg/postgresql-16-c9s:latest';
const ns = 'pgup';
const JOB = 'reg-quay-postgres-upgrade';

let cluster: TestCluster;
let operator: OperatorProcess;
let controllers: FakeControllers;
const logs = () => `\n--- operator log (tail)\n${operator?.logs().split('\n').slice(-40).join('\n')}`;
const baseEnv = { QUAY_VERSION: '1.0.0', RESYNC_SECONDS: '3', HEALTH_SECONDS: '2' };
const restart = async (env: Record<string, string>) => {
  await operator?.stop();
  operator = await OperatorProcess.start(cluster, { ...baseEnv, ...env });
};
const deployment = (name: string) => get(cluster, 'apps/v1', 'Deployment', name, ns);
const dbRuns = async () => {
  const d = await deployment('reg-quay-database');
  return { image: d.spec.template.spec.containers[0].image, claim: d.spec.template.spec.volumes.find((v: any) => v.persistentVolumeClaim).persistentVolumeClaim.claimName };
};

beforeAll(async () => {
  cluster = await TestCluster.start();
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true, skipJobs: /-postgres-upgrade$/ });
  await controllers.start();
  await restart({ RELATED_IMAGE_COMPONENT_POSTGRES: OLD });
}, 20 * 60_000);

afterAll(async () => {
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

test('a registry on Postgres 12 runs on the volume named after its major', async () => {
  await createNamespace(cluster, ns);
  const storage = { default: ['S3Storage', { host: 's3.example.test', port: 443, s3_bucket: 'quay', s3_access_key: 'AK', s3_secret_key: 'SK' }] };
  await applyYaml(
    cluster,
    bundleYaml(ns, 'bundle', { SERVER_HOSTNAME: 'registry.example.test', DISTRIBUTED_STORAGE_CONFIG: storage, DISTRIBUTED_STORAGE_PREFERENCE: ['default'] }),
  );
  await applyYaml(cluster, registryYaml(ns, 'reg', { configBundleSecret: 'bundle', components: [{ kind: 'horizontalpodautoscaler', managed: false }] }));
  await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 90_000, logs);
  expect(await dbRuns()).toEqual({ image: OLD, claim: 'reg-quay-postgres-12' });
}, 120_000);

test('a newer major stops the writers, then copies into a new volume while the old database serves the copy', async () => {
  await restart({ RELATED_IMAGE_COMPONENT_POSTGRES: NEW, RELATED_IMAGE_COMPONENT_POSTGRES_PREVIOUS: OLD_MIRROR });
  await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'False', 'PostgresUpgradeInProgress', 60_000, logs);
  const job = await waitFor('the copy Job', () => get(cluster, 'batch/v1', 'Job', JOB, ns), 60_000, logs);
  // Created only once the writers had no pods left.
  expect((await deployment('reg-quay-app')).spec.replicas).toBe(0);
  expect((await deployment('reg-quay-mirror')).spec.replicas).toBe(0);
  expect((await deployment('reg-quay-app')).status?.replicas ?? 0).toBe(0);
  const pod = job.spec.template.spec;
  expect(pod.containers[0].image).toBe(NEW);
  expect(pod.volumes).toEqual([{ name: 'postgres-data', persistentVolumeClaim: { claimName: 'reg-quay-postgres-13' } }]);
  expect(pod.containers[0].env).toContainEqual({ name: 'POSTGRESQL_MIGRATION_REMOTE_HOST', value: 'reg-quay-database' });
  // Each attempt empties the new volume first, so a killed attempt cannot pass for a finished copy.
  expect(pod.containers[0].args).toEqual(['rm -rf /var/lib/pgsql/data/* && run-postgresql --version']);
  expect(pod.containers[0].env).toContainEqual({
    name: 'POSTGRESQL_MIGRATION_ADMIN_PASSWORD',
    valueFrom: { secretKeyRef: { name: 'reg-postgres-config-secret', key: 'database-root-password' } },
  });
  expect(job.metadata.ownerReferences?.[0]?.kind).toBe('QuayRegistry');
  // The database itself has not moved: the old major (from its mirror) on the old volume, beside the new volume.
  expect(await dbRuns()).toEqual({ image: OLD_MIRROR, claim: 'reg-quay-postgres-12' });
  expect(await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns)).toBeTruthy();
}, 120_000);

test('a failed copy brings the writers back on the old database and says why; the Job is kept', async () => {
  await failJob(cluster.kc, ns, JOB, 'pg_dumpall: error: connection to server failed');
  const cr = await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'False', 'PostgresUpgradeFailed', 60_000, logs);
  expect(condition(cr, 'ComponentsCreated')!.message).toBe(
    `postgres upgrade job ${JOB} failed: pg_dumpall: error: connection to server failed; postgres still runs Postgres 12 on its old volume (delete the Job to try again)`,
  );
  await waitFor('quay-app scaled back up', async () => (await deployment('reg-quay-app')).spec.replicas > 0, 60_000, logs);
  expect(await dbRuns()).toEqual({ image: OLD_MIRROR, claim: 'reg-quay-postgres-12' });
  expect((await get(cluster, 'batch/v1', 'Job', JOB, ns)).status.failed).toBe(1);
}, 120_000);

test('deleting the failed Job retries; success moves the database and keeps the old volume as an unowned backup', async () => {
  const failedUid = (await get(cluster, 'batch/v1', 'Job', JOB, ns)).metadata.uid;
  await cluster.objects.delete({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: JOB, namespace: ns } } as never, undefined, undefined, undefined, undefined, 'Background');
  const retry = await waitFor(
    'a new copy Job',
    async () => {
      const j = await get(cluster, 'batch/v1', 'Job', JOB, ns).catch(() => undefined);
      return j && j.metadata.uid !== failedUid ? j : undefined;
    },
    60_000,
    logs,
  );
  expect(condition(await registry(cluster, ns, 'reg'), 'ComponentsCreated')!.reason).toBe('PostgresUpgradeInProgress');
  await completeJob(cluster.kc, ns, retry.metadata.name);
  await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', 'ComponentsCreationSuccess', 60_000, logs);
  expect(await dbRuns()).toEqual({ image: NEW, claim: 'reg-quay-postgres-13' });
  await waitFor('the copy Job deleted', async () => !(await get(cluster, 'batch/v1', 'Job', JOB, ns).catch(() => undefined)), 30_000, logs);
  const backup = await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-12', ns);
  expect(backup.metadata.ownerReferences ?? []).toEqual([]);
  expect((await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-quay-postgres-13', ns)).metadata.ownerReferences[0].kind).toBe('QuayRegistry');
  await waitFor('quay-app back', async () => (await deployment('reg-quay-app')).spec.replicas > 0, 60_000, logs);
  await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 60_000, logs);
}, 180_000);

test("Clair's database moves the same way: only clair-app stops, the copy lands on its own volume", async () => {
  const CLAIR_JOB = 'reg-clair-postgres-upgrade';
  const clairDb = async () => {
    const d = await deployment('reg-clair-postgres');
    return { image: d.spec.template.spec.containers[0].image, claim: d.spec.template.spec.volumes.find((v: any) => v.persistentVolumeClaim).persistentVolumeClaim.claimName };
  };
  expect(await clairDb()).toEqual({ image: CLAIR_OLD, claim: 'reg-clair-postgres-15' });

  await restart({ RELATED_IMAGE_COMPONENT_POSTGRES: NEW, RELATED_IMAGE_COMPONENT_CLAIRPOSTGRES: CLAIR_NEW });
  await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'False', 'PostgresUpgradeInProgress', 60_000, logs);
  const job = await waitFor('the Clair copy Job', () => get(cluster, 'batch/v1', 'Job', CLAIR_JOB, ns), 60_000, logs);
  expect((await deployment('reg-clair-app')).spec.replicas).toBe(0);
  // Quay's own database is not being moved, so its writers keep running.
  expect((await deployment('reg-quay-app')).spec.replicas).toBeGreaterThan(0);
  const pod = job.spec.template.spec;
  expect(pod.containers[0].image).toBe(CLAIR_NEW);
  expect(pod.volumes).toEqual([{ name: 'postgres-data', persistentVolumeClaim: { claimName: 'reg-clair-postgres-16' } }]);
  expect(pod.containers[0].env).toContainEqual({ name: 'POSTGRESQL_MIGRATION_REMOTE_HOST', value: 'reg-clair-postgres' });
  expect(await clairDb()).toEqual({ image: CLAIR_OLD, claim: 'reg-clair-postgres-15' });

  await completeJob(cluster.kc, ns, CLAIR_JOB);
  await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', 'ComponentsCreationSuccess', 60_000, logs);
  expect(await clairDb()).toEqual({ image: CLAIR_NEW, claim: 'reg-clair-postgres-16' });
  expect((await get(cluster, 'v1', 'PersistentVolumeClaim', 'reg-clair-postgres-15', ns)).metadata.ownerReferences ?? []).toEqual([]);
  await waitFor('clair-app back', async () => (await deployment('reg-clair-app')).spec.replicas > 0, 60_000, logs);
  await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 60_000, logs);
}, 180_000);

test('an operator whose database image is an older major than the data refuses to roll out', async () => {
  await restart({ RELATED_IMAGE_COMPONENT_POSTGRES: OLD, RELATED_IMAGE_COMPONENT_CLAIRPOSTGRES: CLAIR_NEW });
  await waitBlocked(cluster, ns, 'reg', 'UpgradeUnsupported', /postgres holds Postgres 13 data but the operator's image .*postgresql-12.* is Postgres 12/, logs);
  expect(await dbRuns()).toEqual({ image: NEW, claim: 'reg-quay-postgres-13' });
}, 120_000);
