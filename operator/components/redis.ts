/** The managed Redis (build logs, user events, build orchestration). */
import { deployment, deploymentHealth, prefixed, service, serviceAccount } from './common.js';
import type { ComponentModule, Named } from './common.js';

export const redisName = (ctx: Named) => prefixed(ctx, 'quay-redis');

export const redis: ComponentModule = {
  kind: 'redis',
  fieldGroup: ['BUILDLOGS_REDIS', 'USER_EVENTS_REDIS', 'PULL_METRICS_REDIS'],
  config(ctx) {
    const r = { host: redisName(ctx), port: 6379 };
    return { BUILDLOGS_REDIS: r, USER_EVENTS_REDIS: r };
  },
  objects(ctx) {
    const name = redisName(ctx);
    return [
      serviceAccount(ctx, name, 'redis', 'redis'),
      service(ctx, name, 'redis', 'redis', 'redis', [{ name: 'redis', port: 6379, targetPort: 6379 }]),
      deployment(ctx, {
        name,
        component: 'redis',
        kind: 'redis',
        serviceAccount: name,
        replicas: 1,
        containers: [
          {
            name: 'redis-master',
            image: ctx.images.redis,
            ports: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
            readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 10 },
            livenessProbe: { tcpSocket: { port: 6379 }, initialDelaySeconds: 15, periodSeconds: 20 },
            resources: { requests: { cpu: '100m', memory: '256Mi' } },
          },
        ],
      }),
    ];
  },
  ready(ctx, observed) {
    return deploymentHealth(ctx, observed, redisName(ctx), { label: 'Redis deployment' });
  },
};
