/**
 * The plain install (no OLM): the committed manifest and Helm chart are what operator/install.ts
 * renders from the CSV (so they cannot drift from it), Helm renders the same objects as the manifest,
 * and each, applied to the test cluster, runs the operator as its own service account through a full
 * rollout of a registry and its deletion, then uninstalls.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { CoreV1Api } from '@kubernetes/client-node';
import { ROOT, TOOLS, TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers } from '../setup/k8s/controllers.js';
import { CHART_DIR, MANIFEST_PATH, installObjects, readBundle, renderInstall } from '../../operator/install.js';
import { applyYaml, bundleYaml, createNamespace, get, waitCondition, waitFor } from './helpers.js';

const CONFIG = {
  SERVER_HOSTNAME: 'registry.example.test',
  DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', port: 443, s3_bucket: 'quay', s3_access_key: 'AK', s3_secret_key: 'SK' }] },
  DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
};

function helm(args: string[], kubeconfig?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(TOOLS, 'helm'), [...args, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])], {
    encoding: 'utf8',
    timeout: 120_000,
    // Helm keeps its caches and config under these; nothing outside the repository's work dir.
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(ROOT, '.test-work/helm/cache'),
      HELM_CONFIG_HOME: join(ROOT, '.test-work/helm/config'),
      HELM_DATA_HOME: join(ROOT, '.test-work/helm/data'),
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Drops what Helm's toYaml writes for empty values, so Helm's output compares with the plain manifest. */
function withoutEmpty(o: any): any {
  const spec = o.spec?.template?.spec;
  if (spec) {
    if (Array.isArray(spec.tolerations) && !spec.tolerations.length) delete spec.tolerations;
    if (spec.nodeSelector && !Object.keys(spec.nodeSelector).length) delete spec.nodeSelector;
  }
  return o;
}

describe('generated from the bundle', () => {
  test('the committed manifest and chart are what the CSV renders', () => {
    for (const [path, text] of Object.entries(renderInstall())) expect({ path, text: readFileSync(join(ROOT, path), 'utf8') }).toEqual({ path, text });
  });

  test("Helm's default values render exactly the manifest's objects", () => {
    const r = helm(['template', 'quay-ts-operator', join(ROOT, CHART_DIR), '--namespace', 'quay-operator']);
    expect(r.stderr).toBe('');
    const rendered = (yaml.loadAll(r.stdout).filter(Boolean) as any[]).map(withoutEmpty);
    const { csv, crd } = readBundle();
    const plain = installObjects(csv, crd).filter((o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition');
    expect(rendered).toEqual(plain);
    // The chart's CRD is crds/ as it is.
    expect(readFileSync(join(ROOT, CHART_DIR, 'crds/quayregistries.quay.redhat.com.yaml'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'crds/quay.redhat.com_quayregistries.yaml'), 'utf8'),
    );
  });

  test('values reach the Deployment', () => {
    const r = helm([
      'template',
      'op',
      join(ROOT, CHART_DIR),
      '--namespace',
      'ops',
      '--set',
      'image=registry.example.test/quay-ts:9',
      '--set',
      'watchNamespace=team-a',
      '--set',
      'tolerations[0].key=dedicated',
      '--set',
      'tolerations[0].operator=Exists',
      '--set',
      'nodeSelector.role=infra',
      '--set',
      'resources.limits.memory=300Mi',
    ]);
    expect(r.stderr).toBe('');
    const d = (yaml.loadAll(r.stdout) as any[]).find((o) => o?.kind === 'Deployment');
    const spec = d.spec.template.spec;
    expect(d.metadata.namespace).toBe('ops');
    expect(spec.containers[0].image).toBe('registry.example.test/quay-ts:9');
    expect(spec.containers[0].env.find((e: any) => e.name === 'WATCH_NAMESPACE').value).toBe('team-a');
    expect(spec.containers[0].env.find((e: any) => e.name === 'RELATED_IMAGE_COMPONENT_QUAY').value).toBe('registry.example.test/quay-ts:9');
    expect(spec.containers[0].resources.limits.memory).toBe('300Mi');
    expect(spec.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists' }]);
    expect(spec.nodeSelector).toEqual({ role: 'infra' });
    expect(yaml.load(r.stdout.split('---').find((t) => t.includes('kind: ClusterRoleBinding'))!)).toMatchObject({ subjects: [{ namespace: 'ops' }] });
  });
});

describe('installed on the test cluster', () => {
  let cluster: TestCluster;
  let controllers: FakeControllers;

  beforeAll(async () => {
    cluster = await TestCluster.start({ crds: false });
    controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
    await controllers.start();
  }, 20 * 60_000);

  afterAll(async () => {
    controllers?.stop();
    await cluster?.stop();
  });

  /**
   * Runs the operator as the installed Deployment would: its service account's token, its command
   * line and its env, then rolls out a registry, deletes it, and stops.
   */
  async function rolloutAs(namespace: string, label: string): Promise<void> {
    const d = await get(cluster, 'apps/v1', 'Deployment', 'quay-ts-operator', namespace);
    expect(d).toBeDefined();
    const sa = d.spec.template.spec.serviceAccountName;
    const token = (await cluster.kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ name: sa, namespace, body: { spec: { audiences: [] } } })).status!.token;
    const kubeconfig = join(cluster.dir, `${label}.kubeconfig`);
    const admin = yaml.load(readFileSync(cluster.kubeconfig, 'utf8')) as any;
    writeFileSync(kubeconfig, yaml.dump({ ...admin, users: [{ name: 'admin', user: { token } }] }));
    const container = d.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? '']));
    const operator = await OperatorProcess.start(cluster, { ...env, KUBECONFIG: kubeconfig }, `operator-${label}`, container.command.slice(1, -1));
    const ns = `reg-${label}`;
    try {
      await createNamespace(cluster, ns);
      await applyYaml(cluster, bundleYaml(ns, 'bundle', CONFIG));
      await applyYaml(
        cluster,
        yaml.dump({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: ns }, spec: { configBundleSecret: 'bundle' } }),
      );
      await waitCondition(cluster, ns, 'reg', 'Available', 'True', 'HealthChecksPassing', 90_000, () => operator.logs());
      expect(operator.logs()).not.toMatch(/forbidden/i);
      await cluster.objects.delete({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: ns } });
      await waitFor(
        'registry gone',
        async () => (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', 'reg', ns)) === undefined,
        30_000,
        () => operator.logs(),
      );
    } finally {
      await operator.stop();
    }
  }

  test(
    'kubectl apply -f of the manifest, a rollout and deletion, kubectl delete -f',
    async () => {
      const path = join(ROOT, MANIFEST_PATH);
      const applied = cluster.kubectl(['apply', '-f', path]);
      expect(applied.stderr).toBe('');
      expect(applied.stdout).toContain('customresourcedefinition.apiextensions.k8s.io/quayregistries.quay.redhat.com created');
      await waitFor('CRD established', async () => cluster.kubectl(['wait', '--for=condition=Established', 'crd/quayregistries.quay.redhat.com', '--timeout=5s']).status === 0);
      await rolloutAs('quay-operator', 'manifest');
      const deleted = cluster.kubectl(['delete', '-f', path, '--wait=false']);
      expect(deleted.status).toBe(0);
      await waitFor('ClusterRole gone', async () => (await get(cluster, 'rbac.authorization.k8s.io/v1', 'ClusterRole', 'quay-ts-operator')) === undefined);
      await waitFor('CRD gone', async () => (await get(cluster, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'quayregistries.quay.redhat.com')) === undefined, 30_000);
    },
    5 * 60_000,
  );

  test(
    'helm install of the chart, a rollout and deletion, helm uninstall',
    async () => {
      const installed = helm(['install', 'quay-ts-operator', join(ROOT, CHART_DIR), '--namespace', 'quay-helm', '--create-namespace'], cluster.kubeconfig);
      expect(installed.status).toBe(0);
      expect(installed.stdout).toContain('STATUS: deployed');
      await waitFor('CRD established', async () => cluster.kubectl(['wait', '--for=condition=Established', 'crd/quayregistries.quay.redhat.com', '--timeout=5s']).status === 0);
      await rolloutAs('quay-helm', 'helm');
      const removed = helm(['uninstall', 'quay-ts-operator', '--namespace', 'quay-helm'], cluster.kubeconfig);
      expect(removed.status).toBe(0);
      expect(await get(cluster, 'rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'quay-ts-operator')).toBeUndefined();
      expect(await get(cluster, 'apps/v1', 'Deployment', 'quay-ts-operator', 'quay-helm')).toBeUndefined();
    },
    5 * 60_000,
  );
});
