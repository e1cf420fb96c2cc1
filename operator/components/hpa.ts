/** HorizontalPodAutoscalers for the app, Clair and the mirror workers. */
import { isManaged, meta, notReady, observedKey, prefixed, ready } from './common.js';
import type { ComponentModule, RenderContext } from './common.js';
import type { KubeObject } from '../types.js';

function targets(ctx: RenderContext): { name: string; component: string; min: number; max: number }[] {
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
    return targets(ctx).map(
      (t): KubeObject => ({
        apiVersion,
        kind: 'HorizontalPodAutoscaler',
        metadata: meta(ctx, t.name, t.component, 'horizontalpodautoscaler'),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: t.name },
          minReplicas: t.min,
          maxReplicas: t.max,
          metrics: [utilisation('cpu'), utilisation('memory')],
        },
      }),
    );
  },
  ready(ctx, observed) {
    const missing = targets(ctx).filter((t) => !observed.has(observedKey('HorizontalPodAutoscaler', t.name)));
    if (missing.length) return notReady(`HorizontalPodAutoscaler ${missing.map((t) => t.name).join(', ')} not found`);
    return ready('All HorizontalPodAutoscalers found');
  },
};
