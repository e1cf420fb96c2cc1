/** Shared steps of the operator tests against the real API server. */
import yaml from 'js-yaml';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import type { TestCluster } from '../setup/k8s/cluster.js';
import type { Condition, QuayRegistry } from '../../operator/types.js';

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, debug?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})\n${debug?.() ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads any object as plain JSON; undefined when absent. */
export async function get(cluster: TestCluster, apiVersion: string, kind: string, name: string, namespace?: string): Promise<any | undefined> {
  try {
    return await cluster.objects.read({ apiVersion, kind, metadata: { name, namespace } });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function registry(cluster: TestCluster, namespace: string, name: string): Promise<QuayRegistry> {
  return (await get(cluster, 'quay.redhat.com/v1', 'QuayRegistry', name, namespace)) as QuayRegistry;
}

export function condition(cr: QuayRegistry | undefined, type: string): Condition | undefined {
  return cr?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until a condition has this status (and reason, when given); returns the CR. */
export async function waitCondition(
  cluster: TestCluster,
  namespace: string,
  name: string,
  type: string,
  status: 'True' | 'False',
  reason?: string,
  timeoutMs = 30_000,
  debug?: () => string,
): Promise<QuayRegistry> {
  let seen: QuayRegistry | undefined;
  return waitFor(
    `${namespace}/${name} ${type}=${status}${reason ? ` (${reason})` : ''}`,
    async () => {
      const cr = (seen = await registry(cluster, namespace, name));
      const c = condition(cr, type);
      return c?.status === status && (!reason || c.reason === reason) && cr.status?.observedGeneration === cr.metadata.generation ? cr : undefined;
    },
    timeoutMs,
    () => `status: ${JSON.stringify(seen?.status, null, 1)}\n${debug?.() ?? ''}`,
  );
}

/** Waits until RolloutBlocked is True for this reason with a message matching `message`. */
export async function waitBlocked(cluster: TestCluster, namespace: string, name: string, reason: string, message: RegExp, debug?: () => string): Promise<QuayRegistry> {
  let seen: QuayRegistry | undefined;
  return waitFor(
    `${namespace}/${name} blocked (${reason}: ${message})`,
    async () => {
      const cr = (seen = await registry(cluster, namespace, name));
      const c = condition(cr, 'RolloutBlocked');
      return c?.status === 'True' && c.reason === reason && message.test(c.message) ? cr : undefined;
    },
    30_000,
    () => `RolloutBlocked: ${JSON.stringify(condition(seen, 'RolloutBlocked'))}\n${debug?.() ?? ''}`,
  );
}

/** Create or update every object in a YAML text (server-side apply as the test's own manager). */
export async function applyYaml(cluster: TestCluster, text: string): Promise<void> {
  for (const obj of yaml.loadAll(text).filter(Boolean) as KubernetesObject[]) {
    await cluster.objects.send('PATCH', obj, { fieldManager: 'test', force: 'true' }, 'application/apply-patch+yaml');
  }
}

export async function createNamespace(cluster: TestCluster, name: string): Promise<void> {
  await cluster.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
}

export function bundleYaml(namespace: string, name: string, config: Record<string, unknown>, extra: Record<string, string> = {}): string {
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: { 'config.yaml': yaml.dump(config), ...extra },
  });
}

export function registryYaml(namespace: string, name: string, spec: Record<string, unknown>): string {
  return yaml.dump({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name, namespace }, spec });
}

export function secretData(secret: any): Record<string, string> {
  return Object.fromEntries(Object.entries((secret?.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** The rendered config Secret the app Deployment points at, and its parsed config.yaml. */
export async function renderedConfig(
  cluster: TestCluster,
  namespace: string,
  name: string,
): Promise<{ secretName: string; config: Record<string, any>; data: Record<string, string> }> {
  const d = await get(cluster, 'apps/v1', 'Deployment', `${name}-quay-app`, namespace);
  const secretName = d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'QE_K8S_CONFIG_SECRET').value;
  const data = secretData(await get(cluster, 'v1', 'Secret', secretName, namespace));
  return { secretName, config: yaml.load(data['config.yaml']) as Record<string, any>, data };
}

/** Kinds the operator may write, for resourceVersion snapshots. */
const SNAPSHOT_KINDS: [string, string][] = [
  ['apps/v1', 'Deployment'],
  ['v1', 'Service'],
  ['v1', 'Secret'],
  ['v1', 'ConfigMap'],
  ['v1', 'ServiceAccount'],
  ['v1', 'PersistentVolumeClaim'],
  ['v1', 'Event'],
  ['batch/v1', 'Job'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['quay.redhat.com/v1', 'QuayRegistry'],
];

/** `Kind/namespace/name -> resourceVersion` of everything in these namespaces (plus cluster-scoped `extra`). */
export async function snapshot(cluster: TestCluster, namespaces: string[], extra: [string, string][] = []): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [apiVersion, kind] of [...SNAPSHOT_KINDS, ...extra]) {
    for (const ns of namespaces) {
      const list = await cluster.objects.list(apiVersion, kind, ns);
      for (const o of list.items) out.set(`${kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, o.metadata!.resourceVersion!);
    }
  }
  return out;
}

/** Entries that differ between two snapshots. */
export function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? '-'} -> ${b.get(k) ?? '-'}`);
}

/** How many passes (or health refreshes) the operator logged for registry `namespace/name` so far. */
export function logCount(logs: string, key: string, what: 'pass done' | 'health evaluated' = 'pass done'): number {
  return logs.split('\n').filter((l) => l.includes(`"msg":"${key}: ${what}`)).length;
}

/**
 * Quietness that can fail: over `windowMs` the operator must have run at least `minPasses` passes
 * for each registry in `keys` (so a stalled operator does not pass), and nothing in `namespaces`
 * may have moved except what `allow` matches. Returns the snapshot diff for further checks.
 */
export async function expectQuiet(
  cluster: TestCluster,
  operatorLogs: () => string,
  opts: { namespaces: string[]; keys: string[]; windowMs: number; minPasses: number; allow?: RegExp; before?: Map<string, string> },
): Promise<void> {
  const before = opts.before ?? (await snapshot(cluster, opts.namespaces));
  const passesBefore = opts.keys.map((k) => logCount(operatorLogs(), k));
  await sleep(opts.windowMs);
  const after = await snapshot(cluster, opts.namespaces);
  const passes = opts.keys.map((k, i) => logCount(operatorLogs(), k) - passesBefore[i]);
  for (const [i, k] of opts.keys.entries()) {
    if (passes[i] < opts.minPasses) throw new Error(`${k}: ${passes[i]} passes in ${opts.windowMs} ms, expected at least ${opts.minPasses}`);
  }
  expect(diff(before, after).filter((d) => !opts.allow?.test(d))).toEqual([]);
}
