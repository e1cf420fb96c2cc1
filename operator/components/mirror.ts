/** Repository mirroring workers: the registry image in its mirror role. */
import { deployment, deploymentHealth, overridesOf, prefixed, restrictedSecurityContext } from './common.js';
import type { ComponentModule, Named } from './common.js';
import { PORTS, REGISTRY_MAIN, appName, registryArgs, registryPod, rolloutAnnotations, scalableReplicas } from './quay.js';
import { writersStopped } from '../pgupgrade.js';

const healthProbe = (failureThreshold: number) => ({
  httpGet: { path: '/health/instance', port: PORTS.http, scheme: 'HTTP' },
  periodSeconds: 15,
  timeoutSeconds: 5,
  failureThreshold,
});

export const mirrorName = (ctx: Named) => prefixed(ctx, 'quay-mirror');

export const mirror: ComponentModule = {
  kind: 'mirror',
  fieldGroup: ['FEATURE_REPO_MIRROR', 'REPO_MIRROR_INTERVAL', 'REPO_MIRROR_SERVER_HOSTNAME', 'REPO_MIRROR_TLS_VERIFY'],
  config() {
    return { FEATURE_REPO_MIRROR: true, REPO_MIRROR_INTERVAL: 30, REPO_MIRROR_TLS_VERIFY: true };
  },
  objects(ctx) {
    const { env, volumes, mounts } = registryPod(ctx);
    return [
      deployment(ctx, {
        name: mirrorName(ctx),
        component: 'quay-mirror',
        kind: 'mirror',
        serviceAccount: appName(ctx),
        replicas: ctx.migrating || writersStopped(ctx, 'postgres') ? 0 : scalableReplicas(ctx, 'mirror'),
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        annotations: rolloutAnnotations(ctx),
        spread: true,
        volumes,
        containers: [
          {
            name: 'quay-mirror',
            image: ctx.images.quay,
            command: ['node', REGISTRY_MAIN],
            args: registryArgs('mirror'),
            env,
            // The mirror role serves /health/instance and /metrics on PORT.
            ports: [{ name: 'http', containerPort: PORTS.http, protocol: 'TCP' }],
            readinessProbe: healthProbe(3),
            livenessProbe: healthProbe(5),
            volumeMounts: mounts,
            resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '2Gi' } },
            securityContext: restrictedSecurityContext,
          },
        ],
      }),
    ];
  },
  ready(ctx, observed) {
    return deploymentHealth(ctx, observed, mirrorName(ctx), {
      label: 'Mirror deployment',
      replicasOverride: overridesOf(ctx, 'mirror').replicas,
      scaledDown: { done: 'Mirror manually scaled down', inProgress: 'Mirror component is being scaled down' },
    });
  },
};
