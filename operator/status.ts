/**
 * Status, as pure functions: component conditions from observed objects, `Available`, and merging new
 * conditions into old ones so that timestamps move only when a condition really changes.
 */
import { isDeepStrictEqual } from 'node:util';
import { COMPONENT_KINDS, type ComponentKind, type Condition, type QuayRegistryStatus } from './types.js';
import { COMPONENTS } from './components/index.js';
import type { ComponentHealth, HealthContext, Observed } from './components/common.js';

export const CONDITION = {
  RolloutBlocked: 'RolloutBlocked',
  ComponentsCreated: 'ComponentsCreated',
  Available: 'Available',
} as const;

export const COMPONENT_CONDITION: Record<ComponentKind, string> = {
  quay: 'ComponentQuayReady',
  postgres: 'ComponentPostgresReady',
  clair: 'ComponentClairReady',
  clairpostgres: 'ComponentClairPostgresReady',
  redis: 'ComponentRedisReady',
  horizontalpodautoscaler: 'ComponentHPAReady',
  objectstorage: 'ComponentObjectStorageReady',
  route: 'ComponentRouteReady',
  mirror: 'ComponentMirrorReady',
  monitoring: 'ComponentMonitoringReady',
  tls: 'ComponentTLSReady',
};

/** What the registry app waits for before it can be healthy, in the order Quay's operator checks them. */
const QUAY_DEPENDENCIES: ComponentKind[] = ['postgres', 'objectstorage', 'clair', 'clairpostgres', 'tls', 'redis'];

/** Quay's wording for an unmanaged component (tls has none: unmanaged tls reports its certificate source). */
const UNMANAGED: Record<Exclude<ComponentKind, 'tls' | 'quay'>, string> = {
  postgres: 'Postgres not managed by the operator',
  clair: 'Clair not managed by the operator',
  clairpostgres: 'ClairPostgres not managed by the operator',
  redis: 'Redis not managed by the operator',
  horizontalpodautoscaler: 'Horizontal pod autoscaler not managed by the operator',
  objectstorage: 'Object storage not managed by the operator',
  route: 'Route is not managed by the operator',
  mirror: 'Mirror not managed by the operator',
  monitoring: 'Monitoring not managed by the operator',
};

/**
 * The order Quay's operator writes status.conditions in: independent components, Quay's
 * dependencies, Quay, mirror, then the registry-wide conditions.
 */
export const CONDITION_ORDER: string[] = [
  ...(['horizontalpodautoscaler', 'route', 'monitoring', ...QUAY_DEPENDENCIES, 'quay', 'mirror'] as ComponentKind[]).map((k) => COMPONENT_CONDITION[k]),
  CONDITION.Available,
  CONDITION.ComponentsCreated,
  CONDITION.RolloutBlocked,
];

/**
 * One `Component<Kind>Ready` per kind, evaluated in dependency order like Quay's status controller:
 * Quay waits for its dependencies, mirror for Quay. `tls` is worked out by health.ts from the bundle.
 */
export function componentHealth(ctx: HealthContext, observed: Observed, tls: ComponentHealth): Record<ComponentKind, ComponentHealth> {
  const out = {} as Record<ComponentKind, ComponentHealth>;
  const evaluate = (kind: Exclude<ComponentKind, 'tls'>) =>
    (out[kind] =
      kind !== 'quay' && !ctx.components[kind].managed ? { status: 'True', reason: 'ComponentNotManaged', message: UNMANAGED[kind] } : COMPONENTS[kind].ready!(ctx, observed));
  for (const kind of COMPONENT_KINDS) if (kind !== 'quay' && kind !== 'mirror' && kind !== 'tls') evaluate(kind);
  out.tls = tls;
  const waiting = QUAY_DEPENDENCIES.filter((k) => out[k].status !== 'True');
  out.quay = waiting.length
    ? { status: 'False', reason: 'ComponentNotReady', message: `Awaiting for component ${waiting.join(',')} to become available` }
    : COMPONENTS.quay.ready!(ctx, observed);
  // An unmanaged mirror says so even while Quay is down (Quay's operator reports it "awaiting quay").
  if (ctx.components.mirror.managed && out.quay.status !== 'True') {
    out.mirror = { status: 'False', reason: 'ComponentNotReady', message: 'Awaiting for component quay to become available' };
  } else evaluate('mirror');
  return out;
}

/** Component conditions and `Available`, which is False when any of them is ComponentNotReady (as in Quay). */
export function componentConditions(health: Record<ComponentKind, ComponentHealth>): Condition[] {
  const conditions: Condition[] = COMPONENT_KINDS.map((k) => ({ type: COMPONENT_CONDITION[k], ...health[k] }));
  const notReady = Object.values(health).some((h) => h.reason === 'ComponentNotReady');
  conditions.push(
    notReady
      ? { type: CONDITION.Available, status: 'False', reason: 'ComponentNotReady', message: 'Some components are not ready' }
      : { type: CONDITION.Available, status: 'True', reason: 'HealthChecksPassing', message: 'All components reporting as healthy' },
  );
  return conditions;
}

const same = (a: Condition, b: Condition) => a.status === b.status && a.reason === b.reason && a.message === b.message;

/**
 * Set `updates` on `old`: an unchanged condition keeps its timestamps; a changed one gets `now` as
 * lastUpdateTime, and as lastTransitionTime when its status flipped. Types in neither list are dropped
 * unless `keep` names them. The result is in CONDITION_ORDER.
 */
export function mergeConditions(old: Condition[] = [], updates: Condition[], now: string, keep: (type: string) => boolean): Condition[] {
  const byType = new Map(old.map((c) => [c.type, c]));
  const out = new Map<string, Condition>();
  for (const c of old) if (keep(c.type)) out.set(c.type, c);
  for (const u of updates) {
    const prev = byType.get(u.type);
    if (prev && same(prev, u)) {
      out.set(u.type, prev);
      continue;
    }
    out.set(u.type, {
      ...u,
      lastUpdateTime: now,
      lastTransitionTime: prev && prev.status === u.status ? (prev.lastTransitionTime ?? now) : now,
    });
  }
  const rank = (t: string) => (CONDITION_ORDER.includes(t) ? CONDITION_ORDER.indexOf(t) : CONDITION_ORDER.length);
  return [...out.values()].sort((a, b) => rank(a.type) - rank(b.type));
}

/** Conditions whose (status, reason, message) differ between two lists: these get an Event. */
export function changedConditions(before: Condition[] = [], after: Condition[]): Condition[] {
  const prev = new Map(before.map((c) => [c.type, c]));
  return after.filter((c) => {
    const p = prev.get(c.type);
    return !p || !same(p, c);
  });
}

/** Every condition type this operator writes; others (legacy ones) are dropped. */
export const KNOWN_CONDITIONS = new Set<string>([...Object.values(CONDITION), ...Object.values(COMPONENT_CONDITION)]);

/** Equality of two statuses as the API server would store them (absent and undefined fields alike). */
export function sameStatus(a: QuayRegistryStatus | undefined, b: QuayRegistryStatus): boolean {
  const norm = (s: QuayRegistryStatus | undefined) => JSON.parse(JSON.stringify(s ?? {}));
  return isDeepStrictEqual(norm(a), norm(b));
}
