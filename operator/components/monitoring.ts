/** Prometheus Operator objects: a metrics Service, its ServiceMonitor and alert rules. */
import { meta, notReady, observedKey, ownedBy, prefixed, ready, service } from './common.js';
import type { ComponentModule, Named, RenderContext } from './common.js';
import { ANNOTATION_OWNER, LABEL_REGISTRY, type KubeObject } from '../types.js';
import { PORTS } from './quay.js';

export const metricsServiceName = (ctx: Named) => prefixed(ctx, 'quay-metrics');
export const serviceMonitorName = (ctx: Named) => prefixed(ctx, 'quay-metrics-monitor');
export const prometheusRuleName = (ctx: Named) => prefixed(ctx, 'quay-prometheus-rules');
export const dashboardName = (ctx: Named) => prefixed(ctx, 'grafana-dashboard-quay');
/** Where the OpenShift console reads dashboards from (ConfigMaps labelled console.openshift.io/dashboard). */
export const DASHBOARD_NAMESPACE = 'openshift-config-managed';
/** Namespace labels: OpenShift's cluster Prometheus scrapes labelled namespaces; the second marks that we added it. */
export const MONITORING_LABELS = { 'openshift.io/cluster-monitoring': 'true', 'quay-operator/managed-label': 'true' };

/** A Grafana dashboard of the registry's own metrics (quay_http_*, quay_queue_*), for this registry only. */
function dashboard(ctx: RenderContext): string {
  const sel = `namespace="${ctx.namespace}",service="${metricsServiceName(ctx)}"`;
  const panel = (id: number, title: string, expr: string, unit: string, y: number) => ({
    id,
    title,
    type: 'timeseries',
    datasource: { type: 'prometheus', uid: '$datasource' },
    gridPos: { h: 8, w: 12, x: (id - 1) % 2 === 0 ? 0 : 12, y },
    fieldConfig: { defaults: { unit } },
    targets: [{ expr, refId: 'A', legendFormat: '{{code}}' }],
  });
  return JSON.stringify(
    {
      title: `Quay - ${ctx.namespace} - ${ctx.name}`,
      uid: `quay-${ctx.namespace}-${ctx.name}`.slice(0, 40),
      schemaVersion: 39,
      time: { from: 'now-6h', to: 'now' },
      templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus' }] },
      panels: [
        panel(1, 'Requests per second', `sum by (code) (rate(quay_http_requests_total{${sel}}[5m]))`, 'reqps', 0),
        panel(2, 'Request latency (p95)', `histogram_quantile(0.95, sum by (le) (rate(quay_http_request_duration_seconds_bucket{${sel}}[5m])))`, 's', 0),
        panel(3, 'Bytes received per second', `sum(rate(quay_http_bytes_received_total{${sel}}[5m]))`, 'Bps', 8),
        panel(4, 'Bytes sent per second', `sum(rate(quay_http_bytes_sent_total{${sel}}[5m]))`, 'Bps', 8),
        panel(5, 'Queue jobs per second', `sum by (queue) (rate(quay_queue_jobs_total{${sel}}[5m]))`, 'ops', 16),
        panel(6, 'Pod restarts (1h)', `sum(increase(kube_pod_container_status_restarts_total{namespace="${ctx.namespace}",pod=~"${ctx.name}-quay-app-.*"}[1h]))`, 'short', 16),
      ],
    },
    null,
    1,
  );
}

/**
 * On OpenShift with the operator watching every namespace (as Quay's operator requires for these):
 * the console dashboard, outside the registry namespace so without an ownerReference (the finalizer
 * deletes it), and the namespace labels that let the cluster Prometheus scrape it.
 */
export function clusterMonitoringObjects(ctx: RenderContext): KubeObject[] {
  if (!ctx.platform.consoleDashboards || !ctx.settings.clusterWide) return [];
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: dashboardName(ctx),
        namespace: DASHBOARD_NAMESPACE,
        labels: { 'console.openshift.io/dashboard': 'true', [LABEL_REGISTRY]: ctx.name },
        annotations: { [ANNOTATION_OWNER]: `${ctx.namespace}/${ctx.name}` },
      },
      data: { 'quay.json': dashboard(ctx) },
    },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ctx.namespace, labels: MONITORING_LABELS } },
  ];
}

export const monitoring: ComponentModule = {
  kind: 'monitoring',
  fieldGroup: [],
  objects(ctx) {
    const svc = service(ctx, metricsServiceName(ctx), 'monitoring', 'monitoring', 'quay-app', [{ name: 'quay-metrics', port: PORTS.metrics, targetPort: PORTS.metrics }]);
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
    return [...objs, ...clusterMonitoringObjects(ctx)];
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
