/**
 * The OLM bundle: its CRD is the one in crds/, its metadata is complete, its example applies, and the
 * operator runs with exactly the RBAC the CSV asks for (as a service account, against the real API
 * server in OpenShift mode, builders included).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { CoreV1Api } from '@kubernetes/client-node';
import { ROOT, TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers, admitRoute, bindBucket } from '../setup/k8s/controllers.js';
import { applyYaml, bundleYaml, createNamespace, get, waitCondition, waitFor } from './helpers.js';

const csvPath = join(ROOT, 'bundle/manifests/quay-ts-operator.clusterserviceversion.yaml');
const csv = yaml.load(readFileSync(csvPath, 'utf8')) as any;

describe('bundle files', () => {
  test('the CRD in the bundle is crds/ byte for byte', () => {
    expect(readFileSync(join(ROOT, 'bundle/manifests/quayregistries.quay.redhat.com.crd.yaml'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'crds/quay.redhat.com_quayregistries.yaml'), 'utf8'),
    );
  });

  test('metadata and CSV agree on package, owned CRD and install strategy', () => {
    const annotations = (yaml.load(readFileSync(join(ROOT, 'bundle/metadata/annotations.yaml'), 'utf8')) as any).annotations;
    expect(annotations).toMatchObject({
      'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
      'operators.operatorframework.io.bundle.manifests.v1': 'manifests/',
      'operators.operatorframework.io.bundle.metadata.v1': 'metadata/',
      'operators.operatorframework.io.bundle.package.v1': 'quay-ts',
    });
    expect(csv.spec.customresourcedefinitions.owned).toEqual([expect.objectContaining({ name: 'quayregistries.quay.redhat.com', version: 'v1', kind: 'QuayRegistry' })]);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(csv.spec.version).toBe(pkg.version);
    expect(csv.metadata.name).toBe(`quay-ts-operator.v${pkg.version}`);
    const container = csv.spec.install.spec.deployments[0].spec.template.spec.containers[0];
    expect(container.command[0]).toBe('node');
    expect(container.command[container.command.length - 1]).toBe('/app/dist/operator/main.js');
    expect(container.env.map((e: any) => e.name)).toEqual(expect.arrayContaining(['WATCH_NAMESPACE', 'QUAY_VERSION', 'RELATED_IMAGE_COMPONENT_QUAY']));
  });
});

describe('the operator with the CSV permissions only', () => {
  let cluster: TestCluster;
  let operator: OperatorProcess;
  let controllers: FakeControllers;

  beforeAll(async () => {
    cluster = await TestCluster.start({ openshift: true, objectBuckets: true, monitoring: true });
    controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
    await controllers.start();
    // The service account, ClusterRole and binding OLM would make from the CSV.
    await createNamespace(cluster, 'operators');
    const sa = csv.spec.install.spec.clusterPermissions[0].serviceAccountName;
    await applyYaml(
      cluster,
      [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: 'operators' } },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: sa }, rules: csv.spec.install.spec.clusterPermissions[0].rules },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: sa },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: sa },
          subjects: [{ kind: 'ServiceAccount', name: sa, namespace: 'operators' }],
        },
      ]
        .map((o) => yaml.dump(o))
        .join('---\n'),
    );
    const issued = (await cluster.kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ name: sa, namespace: 'operators', body: { spec: { audiences: [] } } })).status!
      .token;
    const kubeconfig = join(cluster.dir, 'operator-sa.kubeconfig');
    const admin = yaml.load(readFileSync(cluster.kubeconfig, 'utf8')) as any;
    writeFileSync(kubeconfig, yaml.dump({ ...admin, users: [{ name: 'admin', user: { token: issued } }] }));
    // The CSV's command line, V8 flags included.
    const command: string[] = csv.spec.install.spec.deployments[0].spec.template.spec.containers[0].command;
    operator = await OperatorProcess.start(cluster, { KUBECONFIG: kubeconfig, QUAY_VERSION: '0.1.0' }, 'operator-sa', command.slice(1, -1));
  }, 20 * 60_000);

  afterAll(async () => {
    controllers?.stop();
    await operator?.stop();
    await cluster?.stop();
  });

  test('the CSV example, with builders, rolls out and is cleaned up', async () => {
    const ns = 'quay';
    const example = JSON.parse(csv.metadata.annotations['alm-examples'])[0];
    await createNamespace(cluster, ns);
    await applyYaml(
      cluster,
      bundleYaml(ns, 'bundle', {
        FEATURE_BUILD_SUPPORT: true,
        BUILD_MANAGER: ['ephemeral', { ALLOWED_WORKER_COUNT: 1, ORCHESTRATOR: {}, EXECUTORS: [{ EXECUTOR: 'kubernetesPodman', BUILDER_NAMESPACE: 'virtual-builders' }] }],
      }),
    );
    await applyYaml(cluster, yaml.dump({ ...example, metadata: { ...example.metadata, namespace: ns }, spec: { ...example.spec, configBundleSecret: 'bundle' } }));
    await waitFor(
      'bucket claim',
      async () => get(cluster, 'objectbucket.io/v1alpha1', 'ObjectBucketClaim', 'example-registry-quay-datastore', ns),
      30_000,
      () => operator.logs(),
    );
    await bindBucket(cluster.kc, ns, 'example-registry-quay-datastore', { host: 's3.example.svc', port: 443, bucket: 'b', accessKey: 'a', secretKey: 's' });
    await waitFor(
      'route',
      async () => get(cluster, 'route.openshift.io/v1', 'Route', 'example-registry-quay', ns),
      30_000,
      () => operator.logs(),
    );
    await admitRoute(cluster.kc, ns, 'example-registry-quay');
    await waitCondition(cluster, ns, 'example-registry', 'Available', 'True', undefined, 60_000, () => operator.logs());
    expect(await get(cluster, 'security.openshift.io/v1', 'SecurityContextConstraints', 'quay-builder')).toBeDefined();
    expect(await get(cluster, 'rbac.authorization.k8s.io/v1', 'RoleBinding', 'quay-builder', 'virtual-builders')).toBeDefined();
    expect(operator.logs()).not.toMatch(/forbidden/i);

    await cluster.objects.delete({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'example-registry', namespace: ns } });
    await waitFor(
      'registry gone',
      async () => (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', 'example-registry', ns)) === undefined,
      30_000,
      () => operator.logs(),
    );
    expect(await get(cluster, 'security.openshift.io/v1', 'SecurityContextConstraints', 'quay-builder')).toBeUndefined();
  });
});
