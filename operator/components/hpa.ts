/** HorizontalPodAutoscalers for the app, Clair and the mirror workers. */
import { isManaged, meta, notReady, observedKey, ownedBy, prefixed, ready } from './common.js';
import type { ComponentModule, HealthContext } from './common.js';
import type { KubeObject } from '../types.js';

function targets(ctx: HealthContext): { name: string; component: string; min: number; max: number }[] {
  const out = [{ name: prefixed(ctx, 'quay-app'), component: 'quay-app', min: 2, max: 20 }];
  if (isManaged(ctx, 'clair')) out.push({ name: prefixed(ctx, 'clair-app'), component: 'clair-app', min: 2, max: 10 });
  if (isManaged(ctx, 'mirror')) out.push({ name: prefixed(ctx, 'quay-mirror'), component: 'quay-mirror', min: 2, max: 20 });
  return out;
}

export const hpa: ComponentModule = {
  kind: 'horizontalpodautoscaler',
  fieldGroup: [],
  objects(ctx) {
    const apiVersion = ctx.platform.hpaV2 ? 'autoscaling/v2' : 'autoscaling/v2beta2';
    const utilisation = (name: string) => ({
      type: 'Resource',
      resource: { name, target: { type: 'Utilization', averageUtilization: 90 } },
    });
    return targets(ctx).map((t): KubeObject => ({
      apiVersion,
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(ctx, t.name, t.component, 'horizontalpodautoscaler'),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: t.name },
        minReplicas: t.min,
        maxReplicas: t.max,
        metrics: [utilisation('cpu'), utilisation('memory')],
      },
    }));
  },
  ready(ctx, observed) {
    // Only the HPAs this registry has: Quay's operator also wants clair's and mirror's when those are
    // unmanaged (and their HPAs dropped), which never becomes ready.
    for (const t of targets(ctx)) {
      const h = observed.get(observedKey('HorizontalPodAutoscaler', t.name));
      if (!h) return notReady('Horizontal pod autoscaler not found');
      if (!ownedBy(ctx, h)) return notReady('Horizontal pod autoscaler not owned by QuayRegistry');
    }
    return ready('Horizontal pod autoscaler found');
  },
};
