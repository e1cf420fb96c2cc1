import { changedConditions, componentConditions, componentHealth, mergeConditions } from '../../../operator/status.js';
import type { Observed } from '../../../operator/components/common.js';
import type { Condition } from '../../../operator/types.js';
import { context } from './fixtures.js';

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

  test('quay waits for its dependencies, mirror for quay; Available needs all', () => {
    const ctx = context({ components: [{ kind: 'clair', managed: false }, { kind: 'mirror', managed: true }] });
    const observed: Observed = new Map();
    let h = componentHealth(ctx, observed);
    expect(h.quay.message).toBe('Awaiting for component postgres,clairpostgres,tls,redis to become available');
    expect(h.mirror.message).toBe('Awaiting for component quay to become available');
    expect(h.clair).toEqual({ status: 'True', reason: 'ComponentNotManaged', message: 'clair not managed by the operator' });
    for (const d of ['reg-quay-database', 'reg-quay-redis', 'reg-clair-postgres', 'reg-quay-app', 'reg-quay-mirror']) observed.set(`Deployment/${d}`, available());
    h = componentHealth(ctx, observed);
    expect(h.tls.status).toBe('False'); // no serving certificate in this context
    ctx.tls = { cert: 'c', key: 'k' };
    observed.set('Ingress/reg-quay', {});
    observed.set('HorizontalPodAutoscaler/reg-quay-app', {});
    observed.set('HorizontalPodAutoscaler/reg-quay-mirror', {});
    h = componentHealth(ctx, observed);
    expect(Object.values(h).every((c) => c.status === 'True')).toBe(true);
    const conds = componentConditions(h);
    expect(conds.find((c) => c.type === 'Available')).toEqual({ type: 'Available', status: 'True', reason: 'HealthChecksPassing', message: 'All components reporting as healthy' });
    expect(conds.map((c) => c.type)).toContain('ComponentHPAReady');
  });

  test('a pending PVC is reported as PVCPending', () => {
    const ctx = context();
    const observed: Observed = new Map([['PersistentVolumeClaim/reg-quay-postgres-13', { status: { phase: 'Pending' } }]]);
    expect(componentHealth(ctx, observed).postgres.reason).toBe('PVCPending');
  });
});
