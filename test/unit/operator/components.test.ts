import { COMPONENTS } from '../../../operator/components/index.js';
import { builderNamespaces, builderObjects, fillBuilderConfig } from '../../../operator/components/builders.js';
import type { RenderContext } from '../../../operator/components/common.js';
import type { ComponentKind, KubeObject } from '../../../operator/types.js';
import { context, KUBERNETES, OPENSHIFT } from './fixtures.js';

function render(ctx: RenderContext): KubeObject[] {
  return (Object.keys(COMPONENTS) as ComponentKind[]).filter((k) => ctx.components[k].managed).flatMap((k) => COMPONENTS[k].objects(ctx));
}
const find = (objs: KubeObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;

describe('component renderers', () => {
  test('every object is named after the registry, labelled, and owned by it', () => {
    const ctx = context({ platform: OPENSHIFT });
    const objs = render(ctx);
    expect(objs.length).toBeGreaterThan(20);
    for (const o of objs) {
      expect(o.metadata.name.startsWith('reg-')).toBe(true);
      expect(o.metadata.namespace).toBe('ns1');
      expect(o.metadata.labels!['quay-operator/quayregistry']).toBe('reg');
      expect(o.metadata.ownerReferences).toEqual([{ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', name: 'reg', uid: 'uid-1' }]);
    }
    const names = objs.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const n of [
      'Deployment/reg-quay-app', 'Service/reg-quay-app', 'ServiceAccount/reg-quay-app',
      'Deployment/reg-quay-database', 'PersistentVolumeClaim/reg-quay-postgres-13', 'Secret/reg-postgres-config-secret',
      'Deployment/reg-clair-app', 'Secret/reg-clair-config-secret', 'Deployment/reg-clair-postgres', 'PersistentVolumeClaim/reg-clair-postgres-15',
      'Deployment/reg-quay-redis', 'Deployment/reg-quay-mirror', 'HorizontalPodAutoscaler/reg-quay-app', 'HorizontalPodAutoscaler/reg-clair-app',
      'ObjectBucketClaim/reg-quay-datastore', 'Route/reg-quay', 'Route/reg-quay-builder', 'ServiceMonitor/reg-quay-metrics-monitor',
      'PrometheusRule/reg-quay-prometheus-rules',
    ]) expect(names).toContain(n);
  });

  test('the quay-mirror Deployment runs the mirror role of the registry image', () => {
    const c = find(render(context()), 'Deployment', 'reg-quay-mirror').spec.template.spec.containers[0];
    expect(c.args).toEqual(['mirror', '--config', '/conf/stack/config.yaml']);
  });

  test('a managed HPA owns replicas; without it the default is 2, an override wins, migration scales to 0', () => {
    let ctx = context();
    expect(find(render(ctx), 'Deployment', 'reg-quay-app').spec.replicas).toBeUndefined();
    ctx = context({ components: [{ kind: 'horizontalpodautoscaler', managed: false }] });
    expect(find(render(ctx), 'Deployment', 'reg-quay-app').spec.replicas).toBe(2);
    ctx = context({ components: [{ kind: 'horizontalpodautoscaler', managed: false }, { kind: 'quay', managed: true, overrides: { replicas: 5 } }] });
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
            env: [{ name: 'DEBUGLOG', value: 'true' }, { name: 'PORT', value: '9000' }],
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
    expect(d.spec.selector.matchLabels).toEqual({ 'quay-operator/quayregistry': 'reg', 'quay-component': 'quay-app' });
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
    expect(podman).toMatchObject({ SERVICE_ACCOUNT_NAME: 'quay-builder', SERVICE_ACCOUNT_TOKEN: 'TOKEN1', K8S_API_SERVER: 'kubernetes.default.svc:443', KUBERNETES_DISTRIBUTION: 'k8s' });
    expect(vm).toMatchObject({ SERVICE_ACCOUNT_TOKEN: 'TOKEN2', K8S_API_SERVER: 'api.other:6443' });
    expect(vm.K8S_API_TLS_CA).toBeUndefined();
    expect(cfg.BUILD_MANAGER[1].ORCHESTRATOR.REDIS_HOST).toBe('reg-quay-redis');
  });
});
