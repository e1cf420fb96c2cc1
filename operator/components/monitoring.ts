/** Prometheus Operator objects: a metrics Service, its ServiceMonitor and alert rules. */
import { meta, notReady, observedKey, ownedBy, prefixed, ready, service } from './common.js';
import type { ComponentModule, Named } from './common.js';
import type { KubeObject } from '../types.js';
import { PORTS } from './quay.js';

export const metricsServiceName = (ctx: Named) => prefixed(ctx, 'quay-metrics');
export const serviceMonitorName = (ctx: Named) => prefixed(ctx, 'quay-metrics-monitor');
export const prometheusRuleName = (ctx: Named) => prefixed(ctx, 'quay-prometheus-rules');

export const monitoring: ComponentModule = {
  kind: 'monitoring',
  fieldGroup: [],
  objects(ctx) {
    const svc = service(ctx, metricsServiceName(ctx), 'monitoring', 'monitoring', 'quay-app', [
      { name: 'quay-metrics', port: PORTS.metrics, targetPort: PORTS.metrics },
    ]);
    svc.metadata.annotations = { ...svc.metadata.annotations, 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(PORTS.metrics) };
    const objs: KubeObject[] = [
      svc,
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: meta(ctx, serviceMonitorName(ctx), 'monitoring', 'monitoring'),
        spec: {
          endpoints: [{ port: 'quay-metrics', path: '/metrics' }],
          namespaceSelector: { matchNames: [ctx.namespace] },
          selector: { matchLabels: { 'quay-operator/quayregistry': ctx.name, 'quay-component': 'monitoring' } },
        },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: meta(ctx, prometheusRuleName(ctx), 'monitoring', 'monitoring', { labels: { prometheus: 'k8s', role: 'alert-rules' } }),
        spec: {
          groups: [
            {
              name: 'quay',
              rules: [
                {
                  alert: 'QuayPodFrequentlyRestarting',
                  expr: `increase(kube_pod_container_status_restarts_total{namespace="${ctx.namespace}",pod=~"${ctx.name}-quay-app-.*"}[1h]) > 5`,
                  for: '10m',
                  labels: { severity: 'warning' },
                  annotations: {
                    summary: 'A Quay pod restarts often',
                    description: 'Pod {{ $labels.pod }} restarted more than 5 times in the last hour.',
                  },
                },
              ],
            },
          ],
        },
      },
    ];
    if (ctx.platform.routes) {
      // OpenShift's cluster Prometheus scrapes only what its service account may read.
      const rules = [{ apiGroups: [''], resources: ['services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] }];
      objs.push(
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(ctx, metricsServiceName(ctx), 'monitoring', 'monitoring'), rules },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: meta(ctx, metricsServiceName(ctx), 'monitoring', 'monitoring'),
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: metricsServiceName(ctx) },
          subjects: [{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'openshift-monitoring' }],
        },
      );
    }
    return objs;
  },
  ready(ctx, observed) {
    for (const [kind, name] of [
      ['PrometheusRule', prometheusRuleName(ctx)],
      ['ServiceMonitor', serviceMonitorName(ctx)],
    ]) {
      const o = observed.get(observedKey(kind, name));
      if (!o) return notReady(`${kind} ${name} not found`);
      if (!ownedBy(ctx, o)) return notReady(`${kind} ${name} not owned by QuayRegistry`);
    }
    return ready('ServiceMonitor and PrometheusRules created');
  },
};
