/**
 * Pure checks on a QuayRegistry and its config bundle, run before anything is applied: component
 * defaults, override rules, and the managed/unmanaged config rules. A problem found here blocks the
 * rollout (RolloutBlocked) and leaves what already runs untouched.
 */
import { COMPONENT_KINDS, type Component, type ComponentKind, type Overrides, type Platform } from './types.js';
import { COMPONENTS } from './components/index.js';
import { USER_CLAIR_CONFIG } from './components/clair.js';
import yaml from 'js-yaml';

export interface Blocked {
  reason: string;
  message: string;
}

export const hasBundleCerts = (bundle: Record<string, string>): boolean => Boolean(bundle['ssl.cert'] && bundle['ssl.key']);

/** Default management of a kind missing from spec.components. */
function defaultManaged(kind: ComponentKind, platform: Platform, bundle: Record<string, string>): boolean {
  switch (kind) {
    case 'objectstorage':
      return platform.objectBuckets;
    case 'monitoring':
      return platform.monitoring;
    case 'tls':
      return !hasBundleCerts(bundle);
    default:
      return true;
  }
}

/**
 * spec.components with every kind present (the operator writes this back to the CR). `quay` is always
 * managed. Returns the same array when nothing had to change.
 */
export function fillComponents(components: Component[] | undefined, platform: Platform, bundle: Record<string, string>): { components: Component[]; changed: boolean } {
  const out: Component[] = (components ?? []).map((c) => (c.kind === 'quay' && !c.managed ? { ...c, managed: true } : c));
  let changed = out.some((c, i) => c !== components![i]);
  for (const kind of COMPONENT_KINDS) {
    if (!out.some((c) => c.kind === kind)) {
      out.push({ kind, managed: defaultManaged(kind, platform, bundle) });
      changed = true;
    }
  }
  return { components: out, changed };
}

export function componentMap(components: Component[]): Record<ComponentKind, Component> {
  return Object.fromEntries(components.map((c) => [c.kind, c])) as Record<ComponentKind, Component>;
}

const DEPLOYMENT_KINDS: ComponentKind[] = ['quay', 'clair', 'mirror', 'postgres', 'clairpostgres', 'redis'];
/** Which kinds honour which override (labels and annotations apply everywhere). */
const SUPPORTED: Record<Exclude<keyof Overrides, 'labels' | 'annotations'>, ComponentKind[]> = {
  volumeSize: ['clair', 'postgres', 'clairpostgres'],
  storageClassName: ['clair', 'postgres', 'clairpostgres'],
  env: DEPLOYMENT_KINDS,
  replicas: ['quay', 'clair', 'mirror'],
  affinity: ['quay', 'clair', 'mirror'],
  tolerations: DEPLOYMENT_KINDS,
  nodeSelector: DEPLOYMENT_KINDS,
  resources: DEPLOYMENT_KINDS,
  securityContext: ['quay', 'mirror'],
};

/** Override rules; the message starts with "invalid overrides: " as Quay's operator words it. */
export function validateOverrides(components: Record<ComponentKind, Component>): Blocked | undefined {
  const problems: string[] = [];
  const hpaManaged = components.horizontalpodautoscaler?.managed;
  for (const c of Object.values(components)) {
    const o = c.overrides;
    if (!o) continue;
    for (const [field, kinds] of Object.entries(SUPPORTED) as [keyof typeof SUPPORTED, ComponentKind[]][]) {
      if (o[field] === undefined || o[field] === null) continue;
      if (!c.managed) problems.push(`cannot set overrides on unmanaged component ${c.kind}`);
      else if (!kinds.includes(c.kind)) problems.push(`component ${c.kind} does not support ${field} overrides`);
    }
    if (c.managed && hpaManaged && o.replicas !== undefined && o.replicas !== null && o.replicas !== 0) {
      problems.push(`component ${c.kind}: cannot override replicas with managed HPA`);
    }
  }
  if (!problems.length) return undefined;
  return { reason: 'ComponentOverrideInvalid', message: `invalid overrides: ${[...new Set(problems)].join('; ')}` };
}

/** Kinds whose API must exist when they are managed. */
export function dependencyProblems(components: Record<ComponentKind, Component>, platform: Platform): Blocked | undefined {
  if (components.objectstorage.managed && !platform.objectBuckets) {
    return {
      reason: 'ObjectStorageComponentDependencyError',
      message:
        'error checking for object storage support: the ObjectBucketClaim API (objectbucket.io/v1alpha1) is not installed; ' +
        'set the objectstorage component unmanaged and put DISTRIBUTED_STORAGE_CONFIG in config.yaml',
    };
  }
  if (components.monitoring.managed && !platform.monitoring) {
    return {
      reason: 'MonitoringComponentDependencyError',
      message: 'the Prometheus Operator API (monitoring.coreos.com/v1 ServiceMonitor, PrometheusRule) is not installed; set the monitoring component unmanaged',
    };
  }
  return undefined;
}

/** Keys an unmanaged required component needs in config.yaml (any one of them). */
const REQUIRED_WHEN_UNMANAGED: Partial<Record<ComponentKind, string[]>> = {
  postgres: ['DB_URI'],
  redis: ['BUILDLOGS_REDIS', 'USER_EVENTS_REDIS'],
  objectstorage: ['DISTRIBUTED_STORAGE_CONFIG'],
  route: ['SERVER_HOSTNAME'],
};
/** Managed kinds that accept the user's values for their keys (the operator's values win where both exist). */
const TOLERANT: ComponentKind[] = ['route', 'mirror', 'redis'];

function clairConnstringGiven(bundle: Record<string, string>): boolean {
  const text = bundle[USER_CLAIR_CONFIG];
  if (!text) return false;
  try {
    const c = yaml.load(text) as Record<string, any>;
    return ['indexer', 'matcher', 'notifier'].some((k) => typeof c?.[k]?.connstring === 'string' && c[k].connstring.length > 0);
  } catch {
    return false;
  }
}

/** The managed/unmanaged rules between spec.components and the bundle. */
export function configProblems(components: Record<ComponentKind, Component>, userConfig: Record<string, unknown>, bundle: Record<string, string>): Blocked | undefined {
  const invalid = (message: string): Blocked => ({ reason: 'ConfigInvalid', message });
  const certs = hasBundleCerts(bundle);
  const secretRef = components.tls.secretRef?.name;
  if (secretRef && (bundle['ssl.cert'] || bundle['ssl.key'])) {
    return invalid('`ssl.cert`/`ssl.key` in `configBundleSecret` and the tls component `secretRef` are mutually exclusive');
  }
  for (const c of Object.values(components)) {
    const given = COMPONENTS[c.kind].fieldGroup.filter((k) => k in userConfig);
    if (c.managed && given.length && !TOLERANT.includes(c.kind)) {
      return invalid(
        `\`${c.kind}\` component marked as managed, but \`configBundleSecret\` contains required fields: ${given.join(', ')} (remove them, or set the component unmanaged)`,
      );
    }
    const required = REQUIRED_WHEN_UNMANAGED[c.kind];
    if (!c.managed && required && !required.some((k) => userConfig[k] !== undefined && userConfig[k] !== '')) {
      return invalid(`required component \`${c.kind}\` marked as unmanaged, but \`configBundleSecret\` is missing necessary fields: ${required.join(' or ')}`);
    }
  }
  if (components.tls.managed && certs) {
    return invalid('`tls` component marked as managed, but `configBundleSecret` contains required fields: ssl.cert, ssl.key (remove them, or set tls unmanaged)');
  }
  if (!components.tls.managed && !certs && !secretRef) {
    return invalid(
      'required component `tls` marked as unmanaged, but `configBundleSecret` is missing necessary fields: ssl.cert and ssl.key (or set the tls component `secretRef`)',
    );
  }
  if (components.clairpostgres.managed && clairConnstringGiven(bundle)) {
    return invalid('`clairpostgres` component marked as managed, but `configBundleSecret` contains required fields: clair-config.yaml connstring');
  }
  if (components.clair.managed && !components.clairpostgres.managed && !clairConnstringGiven(bundle)) {
    return invalid('clairpostgres component unmanaged but no clair postgres config provided (a connstring in clair-config.yaml)');
  }
  return undefined;
}
