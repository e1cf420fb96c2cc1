import { componentMap, configProblems, dependencyProblems, fillComponents, validateOverrides } from '../../../operator/spec.js';
import { COMPONENT_KINDS, type Component } from '../../../operator/types.js';
import { KUBERNETES, OPENSHIFT } from './fixtures.js';

const all = (managed: boolean, platform = KUBERNETES): Record<string, Component> =>
  componentMap(
    fillComponents(
      COMPONENT_KINDS.map((kind) => ({ kind, managed })),
      platform,
      {},
    ).components,
  );

describe('spec.components defaults', () => {
  test('an empty spec gets every kind; OBC and monitoring follow the cluster; quay is forced managed', () => {
    const k8s = fillComponents(undefined, KUBERNETES, {});
    expect(k8s.changed).toBe(true);
    expect(k8s.components.map((c) => c.kind)).toEqual([...COMPONENT_KINDS]);
    const byKind = componentMap(k8s.components);
    expect(byKind.objectstorage.managed).toBe(false);
    expect(byKind.monitoring.managed).toBe(false);
    expect(byKind.route.managed).toBe(true);
    expect(byKind.tls.managed).toBe(true);
    const ocp = componentMap(fillComponents([{ kind: 'quay', managed: false }], OPENSHIFT, {}).components);
    expect(ocp.quay.managed).toBe(true);
    expect(ocp.objectstorage.managed).toBe(true);
    expect(ocp.monitoring.managed).toBe(true);
  });

  test('certificates in the bundle make tls default to unmanaged', () => {
    const byKind = componentMap(fillComponents([], KUBERNETES, { 'ssl.cert': 'c', 'ssl.key': 'k' }).components);
    expect(byKind.tls.managed).toBe(false);
  });

  test('a complete list is returned unchanged, user order kept', () => {
    const list = [...COMPONENT_KINDS].reverse().map((kind) => ({ kind, managed: true }));
    const r = fillComponents(list, KUBERNETES, {});
    expect(r.changed).toBe(false);
    expect(r.components).toEqual(list);
  });
});

describe('override rules', () => {
  test('unsupported overrides and replicas with a managed HPA are rejected with Quay wording', () => {
    const c = all(true);
    c.redis.overrides = { replicas: 3 };
    c.quay.overrides = { replicas: 5 };
    c.route.overrides = { volumeSize: '1Gi' };
    const r = validateOverrides(c as never)!;
    expect(r.reason).toBe('ComponentOverrideInvalid');
    expect(r.message).toMatch(/^invalid overrides: /);
    expect(r.message).toContain('component redis does not support replicas overrides');
    expect(r.message).toContain('component route does not support volumeSize overrides');
    expect(r.message).toContain('component quay: cannot override replicas with managed HPA');
  });

  test('replicas 0, labels on any kind and placement on databases are fine', () => {
    const c = all(true);
    c.quay.overrides = { replicas: 0, env: [{ name: 'A', value: '1' }] };
    c.route.overrides = { labels: { a: 'b' }, annotations: { x: 'y' } };
    c.postgres.overrides = { tolerations: [{ key: 'db' }], nodeSelector: { disk: 'ssd' }, volumeSize: '70Gi' };
    expect(validateOverrides(c as never)).toBeUndefined();
  });
});

describe('config rules', () => {
  const certs = { 'ssl.cert': 'c', 'ssl.key': 'k' };

  test('unmanaged required components need their keys', () => {
    const c = all(true);
    c.objectstorage.managed = false;
    expect(configProblems(c as never, {}, {})!.message).toBe(
      'required component `objectstorage` marked as unmanaged, but `configBundleSecret` is missing necessary fields: DISTRIBUTED_STORAGE_CONFIG',
    );
    expect(configProblems(c as never, { DISTRIBUTED_STORAGE_CONFIG: {} }, {})).toBeUndefined();
  });

  test('managed components may not have their keys in the bundle, except route, mirror and redis', () => {
    const c = all(true);
    const r = configProblems(c as never, { DB_URI: 'postgresql://x' }, {})!;
    expect(r.reason).toBe('ConfigInvalid');
    expect(r.message).toMatch(/^`postgres` component marked as managed, but `configBundleSecret` contains required fields: DB_URI/);
    expect(configProblems(c as never, { SERVER_HOSTNAME: 'h', FEATURE_REPO_MIRROR: true, BUILDLOGS_REDIS: { host: 'r' } }, {})).toBeUndefined();
  });

  test('tls: unmanaged needs certs or secretRef, managed refuses certs, secretRef excludes bundle certs', () => {
    const c = all(true);
    expect(configProblems(c as never, {}, certs)!.message).toMatch(/^`tls` component marked as managed/);
    c.tls.managed = false;
    expect(configProblems(c as never, {}, {})!.message).toMatch(/^required component `tls` marked as unmanaged/);
    expect(configProblems(c as never, {}, certs)).toBeUndefined();
    c.tls.secretRef = { name: 'mine' };
    expect(configProblems(c as never, {}, {})).toBeUndefined();
    expect(configProblems(c as never, {}, certs)!.message).toMatch(/mutually exclusive/);
  });

  test('managed clair with unmanaged clairpostgres needs a connstring in clair-config.yaml', () => {
    const c = all(true);
    c.clairpostgres.managed = false;
    expect(configProblems(c as never, {}, {})!.message).toMatch(/^clairpostgres component unmanaged but no clair postgres config provided/);
    expect(configProblems(c as never, {}, { 'clair-config.yaml': 'indexer:\n  connstring: host=db\n' })).toBeUndefined();
  });

  test('managed kinds whose API is missing block with the dependency reasons', () => {
    const c = all(true);
    expect(dependencyProblems(c as never, KUBERNETES)!.reason).toBe('ObjectStorageComponentDependencyError');
    c.objectstorage.managed = false;
    expect(dependencyProblems(c as never, KUBERNETES)!.reason).toBe('MonitoringComponentDependencyError');
    expect(dependencyProblems(all(true, OPENSHIFT) as never, OPENSHIFT)).toBeUndefined();
  });
});
