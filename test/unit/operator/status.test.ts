import { KNOWN_CONDITIONS, changedConditions, componentConditions, componentHealth, mergeConditions } from '../../../operator/status.js';
import { tlsHealth } from '../../../operator/health.js';
import { COMPONENTS } from '../../../operator/components/index.js';
import type { Observed } from '../../../operator/components/common.js';
import type { Component, Condition } from '../../../operator/types.js';
import { KUBERNETES, OPENSHIFT, context } from './fixtures.js';

const available = (replicas = 1) => ({
  spec: { replicas },
  status: { availableReplicas: replicas, conditions: [{ type: 'Available', status: 'True' }] },
});

describe('status conditions', () => {
  test('timestamps move only when a condition changes', () => {
    const old: Condition[] = [
      { type: 'A', status: 'True', reason: 'R', message: 'm', lastUpdateTime: 't0', lastTransitionTime: 't0' },
      { type: 'B', status: 'True', reason: 'R', message: 'm', lastUpdateTime: 't0', lastTransitionTime: 't0' },
      { type: 'Legacy', status: 'True', reason: 'R', message: 'm' },
    ];
    const next = mergeConditions(
      old,
      [
        { type: 'A', status: 'True', reason: 'R', message: 'm' },
        { type: 'B', status: 'True', reason: 'R', message: 'other' },
        { type: 'C', status: 'False', reason: 'R', message: 'm' },
      ],
      't1',
      (t) => t !== 'Legacy',
    );
    expect(next).toEqual([
      old[0],
      { type: 'B', status: 'True', reason: 'R', message: 'other', lastUpdateTime: 't1', lastTransitionTime: 't0' },
      { type: 'C', status: 'False', reason: 'R', message: 'm', lastUpdateTime: 't1', lastTransitionTime: 't1' },
    ]);
    expect(changedConditions(old, next).map((c) => c.type)).toEqual(['B', 'C']);
  });

  const owned = { metadata: { ownerReferences: [{ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', name: 'reg', uid: 'uid-1' }] } };
  const deploymentOf = (name: string, replicas = 1, claim?: string) => ({
    ...available(replicas),
    metadata: { name, ...owned.metadata },
    spec: { replicas, template: { spec: { volumes: claim ? [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] : [] } } },
  });
  const tlsOk = { status: 'True', reason: 'ComponentReady', message: 'Using cluster wildcard certs' } as const;

  test('quay waits for its dependencies, mirror for quay; Available needs all', () => {
    const ctx = context({
      components: [
        { kind: 'clair', managed: false },
        { kind: 'mirror', managed: true },
      ],
    });
    const observed: Observed = new Map();
    const tlsDown = tlsHealth(ctx, { bundleName: 'b', bundle: {}, servingSecret: false });
    let h = componentHealth(ctx, observed, tlsDown);
    expect(h.quay.message).toBe('Awaiting for component postgres,clairpostgres,tls,redis to become available');
    expect(h.mirror.message).toBe('Awaiting for component quay to become available');
    expect(h.clair).toEqual({ status: 'True', reason: 'ComponentNotManaged', message: 'Clair not managed by the operator' });
    expect(h.tls).toEqual({ status: 'False', reason: 'ComponentNotReady', message: 'Secret reg-quay-tls not found' });
    observed.set('Deployment/reg-quay-database', deploymentOf('reg-quay-database', 1, 'reg-quay-postgres-13'));
    observed.set('PersistentVolumeClaim/reg-quay-postgres-13', { status: { phase: 'Bound' } });
    observed.set('Deployment/reg-clair-postgres', deploymentOf('reg-clair-postgres', 1, 'reg-clair-postgres-15'));
    observed.set('PersistentVolumeClaim/reg-clair-postgres-15', { status: { phase: 'Bound' } });
    for (const d of ['reg-quay-redis', 'reg-quay-app', 'reg-quay-mirror']) observed.set(`Deployment/${d}`, deploymentOf(d));
    observed.set('Ingress/reg-quay', owned);
    observed.set('HorizontalPodAutoscaler/reg-quay-app', owned);
    observed.set('HorizontalPodAutoscaler/reg-quay-mirror', owned);
    h = componentHealth(ctx, observed, tlsHealth(ctx, { bundleName: 'b', bundle: {}, servingSecret: true }));
    expect(Object.values(h).every((c) => c.status === 'True')).toBe(true);
    expect(h.quay.message).toBe('Quay component healthy');
    expect(h.mirror.message).toBe('Deployment reg-quay-mirror healthy');
    expect(h.horizontalpodautoscaler.message).toBe('Horizontal pod autoscaler found');
    const conds = componentConditions(h);
    expect(conds.find((c) => c.type === 'Available')).toEqual({ type: 'Available', status: 'True', reason: 'HealthChecksPassing', message: 'All components reporting as healthy' });
    // An object someone else owns is not this registry's component.
    observed.set('Deployment/reg-quay-redis', { ...deploymentOf('reg-quay-redis'), metadata: { name: 'reg-quay-redis' } });
    h = componentHealth(ctx, observed, tlsOk);
    expect(h.redis.message).toBe('Redis deployment not owned by QuayRegistry');
    expect(h.quay.message).toBe('Awaiting for component redis to become available');
  });

  test("conditions are written in Quay's order, unknown ones dropped", () => {
    const ctx = context();
    const conds = componentConditions(componentHealth(ctx, new Map(), tlsOk));
    const merged = mergeConditions(
      [
        { type: 'RolloutBlocked', status: 'False', reason: 'ComponentsCreationSuccess', message: 'x' },
        { type: 'ConfigEditorReady', status: 'True', reason: 'x', message: 'x' },
      ],
      [...conds, { type: 'ComponentsCreated', status: 'True', reason: 'ComponentsCreationSuccess', message: 'All registry components created' }],
      't',
      (t) => KNOWN_CONDITIONS.has(t),
    );
    expect(merged.map((c) => c.type)).toEqual([
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
  });

  test("unmanaged components in Quay's words", () => {
    const kinds = ['postgres', 'clair', 'clairpostgres', 'redis', 'horizontalpodautoscaler', 'objectstorage', 'route', 'mirror', 'monitoring'] as const;
    const ctx = context({ components: kinds.map((kind) => ({ kind, managed: false })) });
    const h = componentHealth(ctx, new Map(), tlsOk);
    expect(Object.fromEntries(kinds.map((k) => [k, h[k].message]))).toEqual({
      postgres: 'Postgres not managed by the operator',
      clair: 'Clair not managed by the operator',
      clairpostgres: 'ClairPostgres not managed by the operator',
      redis: 'Redis not managed by the operator',
      horizontalpodautoscaler: 'Horizontal pod autoscaler not managed by the operator',
      objectstorage: 'Object storage not managed by the operator',
      route: 'Route is not managed by the operator',
      mirror: 'Mirror not managed by the operator',
      monitoring: 'Monitoring not managed by the operator',
    });
    for (const k of kinds) expect(h[k].reason).toBe('ComponentNotManaged');
  });

  test('replicas overridden to 0: scaled down once no replica is left', () => {
    const ctx = context({
      components: [
        { kind: 'horizontalpodautoscaler', managed: false },
        { kind: 'mirror', managed: true, overrides: { replicas: 0 } },
        { kind: 'clair', managed: true, overrides: { replicas: 0 } },
      ],
    });
    const observed: Observed = new Map([
      ['Deployment/reg-quay-mirror', { ...deploymentOf('reg-quay-mirror'), spec: { replicas: 0 } }],
      ['Deployment/reg-clair-app', { ...deploymentOf('reg-clair-app'), spec: { replicas: 0 } }],
    ]);
    expect(COMPONENTS.mirror.ready!(ctx, observed).message).toBe('Mirror component is being scaled down');
    expect(COMPONENTS.clair.ready!(ctx, observed).message).toBe('Clair component is being scaled down');
    observed.get('Deployment/reg-quay-mirror')!.status.availableReplicas = 0;
    observed.get('Deployment/reg-clair-app')!.status.availableReplicas = 0;
    expect(COMPONENTS.mirror.ready!(ctx, observed)).toEqual({ status: 'True', reason: 'ComponentReady', message: 'Mirror manually scaled down' });
    expect(COMPONENTS.clair.ready!(ctx, observed)).toEqual({ status: 'True', reason: 'ComponentReady', message: 'Clair manually scaled down' });
    expect(COMPONENTS.mirror.ready!(ctx, new Map()).message).toBe('Mirror deployment not found');
  });

  test('database claims: PVCPending, PVCProvisioningFailed with the provisioner message, claim missing', () => {
    const ctx = context();
    const observed: Observed = new Map([['Deployment/reg-quay-database', deploymentOf('reg-quay-database', 1, 'reg-quay-postgres-13')]]);
    expect(COMPONENTS.postgres.ready!(ctx, observed)).toEqual({ status: 'False', reason: 'ComponentNotReady', message: 'PersistentVolumeClaim reg-quay-postgres-13 not found' });
    observed.set('PersistentVolumeClaim/reg-quay-postgres-13', { status: { phase: 'Pending' } });
    expect(COMPONENTS.postgres.ready!(ctx, observed)).toEqual({ status: 'False', reason: 'PVCPending', message: 'Postgres PersistentVolumeClaim reg-quay-postgres-13 is pending' });
    observed.set('ProvisioningFailed/reg-quay-postgres-13', { message: 'storageclass "gold" not found' });
    expect(COMPONENTS.postgres.ready!(ctx, observed)).toEqual({
      status: 'False',
      reason: 'PVCProvisioningFailed',
      message: 'Postgres PVC reg-quay-postgres-13 provisioning failed: storageclass "gold" not found',
    });
    expect(COMPONENTS.clairpostgres.ready!(ctx, observed).message).toBe('ClairPostgres deployment reg-clair-postgres not found');
    // PVCPending is not ComponentNotReady: Available goes False through Quay's "Awaiting" instead.
    const h = componentHealth(ctx, observed, tlsOk);
    expect(h.quay.message).toMatch(/^Awaiting for component postgres,/);
  });

  test("TLS in Quay's words", () => {
    const tls = (components: Component[], inputs: Partial<Parameters<typeof tlsHealth>[1]>, platform = OPENSHIFT) =>
      tlsHealth(context({ platform, components }), { bundleName: 'b', bundle: {}, servingSecret: false, ...inputs }).message;
    const ref: Component[] = [{ kind: 'tls', managed: false, secretRef: { name: 'my-tls' } }];
    const tlsSecret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'my-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Yw==', 'tls.key': 'aw==' } };
    expect(tls([], { bundleName: undefined })).toBe('Config bundle secret not populated');
    expect(tls([], { bundle: undefined })).toBe('Config bundle does not exist');
    expect(tls([], {})).toBe('Using cluster wildcard certs');
    expect(tls([], { bundle: { 'ssl.cert': 'c', 'ssl.key': 'k' } })).toBe('TLS managed but config bundle contain certs');
    expect(tls([{ kind: 'tls', managed: false }], {})).toBe('TLS unmanaged but config bundle does not contain certs');
    expect(tls([{ kind: 'tls', managed: false }], { bundle: { 'ssl.cert': 'c', 'ssl.key': 'k' } })).toBe('Config bundle contains certs');
    expect(tls(ref, {})).toBe('External TLS secret not found');
    expect(tls(ref, { refSecret: tlsSecret })).toBe('Using externally managed TLS certificate');
    expect(tls(ref, { refSecret: tlsSecret, bundle: { 'ssl.cert': 'c' } })).toBe('tls component secretRef and ssl.cert in configBundleSecret are mutually exclusive');
    expect(tls([], {}, KUBERNETES)).toBe('Secret reg-quay-tls not found');
    expect(tls([], { servingSecret: true }, KUBERNETES)).toBe('Using a certificate generated by the operator');
    // Unmanaged TLS is ComponentReady, as in Quay's operator.
    expect(tlsHealth(context({ components: ref }), { bundleName: 'b', bundle: {}, refSecret: tlsSecret, servingSecret: false }).reason).toBe('ComponentReady');
  });
});
