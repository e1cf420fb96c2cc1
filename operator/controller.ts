/**
 * The controller: @dot-i/k8s-operator watches QuayRegistries and the kinds the operator creates, maps
 * every event to its registry, and a keyed work queue runs one reconcile pass per registry at a time.
 * Finalizer and status writes go through the library's helpers.
 */
import dotI, { ResourceEventType, ResourceMetaImpl, type ResourceEvent } from '@dot-i/k8s-operator';
import { ANNOTATION_OWNER, API_VERSION, FINALIZER, GROUP, KIND, PLURAL, VERSION, type QuayRegistry, type QuayRegistryStatus } from './types.js';
import { Kube, errorMessage } from './kube.js';
import { Reconciler, type Logger, type OperatorOptions } from './reconcile.js';
import { WorkQueue } from './queue.js';

/** group, version, plural of each kind the operator creates: an event on one requeues its registry. */
const OWNED: [string, string, string][] = [
  ['apps', 'v1', 'deployments'],
  ['', 'v1', 'services'],
  ['', 'v1', 'secrets'],
  ['', 'v1', 'configmaps'],
  ['', 'v1', 'serviceaccounts'],
  ['', 'v1', 'persistentvolumeclaims'],
  ['batch', 'v1', 'jobs'],
  ['networking.k8s.io', 'v1', 'ingresses'],
  ['autoscaling', 'v2', 'horizontalpodautoscalers'],
  ['rbac.authorization.k8s.io', 'v1', 'rolebindings'],
];
/** Watched only when the cluster serves them. */
const OPTIONAL: [string, string, string][] = [
  ['route.openshift.io', 'v1', 'routes'],
  ['objectbucket.io', 'v1alpha1', 'objectbucketclaims'],
  ['monitoring.coreos.com', 'v1', 'servicemonitors'],
  ['monitoring.coreos.com', 'v1', 'prometheusrules'],
];

export interface ControllerOptions extends OperatorOptions {
  /** Watch one namespace; undefined watches all. */
  namespace?: string;
  concurrency: number;
  /** How often component health is evaluated between passes. */
  healthMs: number;
}

// The package is CommonJS: its class is the `default` property of what ESM imports.
export class QuayOperator extends dotI.default {
  readonly kube: Kube;
  readonly reconciler: Reconciler;
  private readonly queue: WorkQueue;
  /** Health refreshes between passes, one timer per registry (Quay's status controller runs every minute). */
  private readonly healthQueue: WorkQueue;
  /** The tail of the work running for a registry: its passes and health refreshes never overlap. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly opts: ControllerOptions,
    private readonly log: Logger,
  ) {
    // The library logs a lost optimistic-concurrency race on status as an error; it is retried (see writeStatus).
    super({ ...log, debug: () => undefined, error: (m) => (m.includes('status code 409') ? log.info('status write conflicted; retrying') : log.error(m)) });
    // The library has loaded the kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster).
    const kc = this.kubeConfig;
    this.kube = new Kube({ server: kc.getCurrentCluster()!.server, authenticate: (o) => kc.applyToHTTPSOptions(o) });
    this.reconciler = new Reconciler(this.kube, opts, log, (cr, status) => this.writeStatus(cr, status));
    this.queue = new WorkQueue(
      (key) => this.exclusive(key, () => this.process(key)),
      opts.concurrency,
      (key, err) => {
        this.log.error(`${key}: ${errorMessage(err)}`);
        return 2000;
      },
    );
    this.healthQueue = new WorkQueue(
      (key) => this.exclusive(key, () => this.refreshHealth(key)),
      opts.concurrency,
      (key, err) => {
        this.log.error(`${key}: health: ${errorMessage(err)}`);
        return opts.healthMs;
      },
    );
  }

  /**
   * The library exits the process when a watch cannot start, and a freshly installed CRD answers
   * watches with 429 until its watch cache is ready: so wait until a watch on `path` opens.
   */
  private async watchable(group: string, version: string, plural: string): Promise<void> {
    const path = `${group ? `/apis/${group}` : '/api'}/${version}${this.opts.namespace ? `/namespaces/${this.opts.namespace}` : ''}/${plural}`;
    for (let attempt = 1; !(await this.kube.canWatch(path)); attempt++) {
      if (attempt >= 60) throw new Error(`cannot watch ${path}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private async watch(group: string, version: string, plural: string, onEvent: (e: ResourceEvent) => Promise<void>): Promise<void> {
    await this.watchable(group, version, plural);
    await this.watchResource(group, version, plural, onEvent, this.opts.namespace);
  }

  protected async init(): Promise<void> {
    const ns = this.opts.namespace;
    await this.watch(GROUP, VERSION, PLURAL, async (e: ResourceEvent) => this.onRegistryEvent(e));
    const platform = await this.kube.discover();
    const optional = OPTIONAL.filter(([group]) => (group === 'route.openshift.io' ? platform.routes : group === 'objectbucket.io' ? platform.objectBuckets : platform.monitoring));
    for (const [group, version, plural] of [...OWNED, ...optional]) {
      if (plural === 'horizontalpodautoscalers' && !platform.hpaV2) continue;
      await this.watch(group, version, plural, async (e: ResourceEvent) => this.onOwnedEvent(e));
    }
    this.log.info(`watching QuayRegistries in ${ns ? `namespace ${ns}` : 'all namespaces'}`);
  }

  stop(): void {
    this.queue.stop();
    this.healthQueue.stop();
    super.stop();
  }

  private async onRegistryEvent(e: ResourceEvent): Promise<void> {
    const key = `${e.object.metadata?.namespace}/${e.object.metadata?.name}`;
    if (e.type === ResourceEventType.Deleted) {
      this.reconciler.forget(e.object.metadata!.namespace!, e.object.metadata!.name!);
      return;
    }
    this.queue.add(key);
    this.healthQueue.add(key, this.opts.healthMs);
  }

  /** Runs `fn` after whatever runs for this registry has finished. */
  private exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.running.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.running.set(key, tail);
    void tail.then(() => {
      if (this.running.get(key) === tail) this.running.delete(key);
    });
    return run;
  }

  private async refreshHealth(key: string): Promise<number | undefined> {
    const [namespace, name] = key.split('/');
    const cr = (await this.kube.get(API_VERSION, KIND, name, namespace)) as QuayRegistry | undefined;
    if (!cr || cr.metadata.deletionTimestamp) return undefined;
    await this.reconciler.refreshHealth(cr);
    this.log.info(`${key}: health evaluated`);
    return this.opts.healthMs;
  }

  private async onOwnedEvent(e: ResourceEvent): Promise<void> {
    const md = e.object.metadata;
    if (!md) return;
    const owners = (md.ownerReferences ?? []).filter((r) => r.kind === KIND && r.apiVersion === API_VERSION).map((r) => `${md.namespace}/${r.name}`);
    const foreignOwner = md.annotations?.[ANNOTATION_OWNER];
    if (foreignOwner) owners.push(foreignOwner);
    if (owners.length) {
      this.reconciler.noteObject(e.object.kind!, md.namespace, md.name!, e.type === ResourceEventType.Deleted ? undefined : md.resourceVersion);
    }
    for (const key of owners) this.queue.add(key);
    const refs = this.reconciler.references.get(`${e.object.kind}/${md.namespace}/${md.name}`);
    for (const key of refs ?? []) this.queue.add(key);
  }

  /** One pass for one registry; returns when to run it again. */
  private async process(key: string): Promise<number | undefined> {
    const [namespace, name] = key.split('/');
    let cr = (await this.kube.get(API_VERSION, KIND, name, namespace)) as QuayRegistry | undefined;
    if (!cr) return undefined;
    const object = cr as unknown as ResourceEvent['object'];
    const event: ResourceEvent = { meta: ResourceMetaImpl.createWithPlural(PLURAL, object), type: ResourceEventType.Modified, object };
    // On deletion: clean up and remove the finalizer. On first sight: add it, then go on with the pass.
    const deleting = Boolean(cr.metadata.deletionTimestamp);
    if (await this.handleResourceFinalizer(event, FINALIZER, async () => this.reconciler.finalize(cr!))) {
      if (deleting) return undefined;
      cr = (await this.kube.get(API_VERSION, KIND, name, namespace)) as QuayRegistry | undefined;
      if (!cr) return undefined;
    }
    const started = Date.now();
    const result = await this.reconciler.reconcile(cr);
    // One line per pass, so a stalled operator shows (and the tests can count passes).
    this.log.info(`${key}: pass done in ${Date.now() - started} ms`);
    return result.requeueAfterMs;
  }

  /** Status via the library's merge patch, guarded by the CR's resourceVersion; false on a lost race. */
  private async writeStatus(cr: QuayRegistry, status: QuayRegistryStatus): Promise<boolean> {
    const meta = ResourceMetaImpl.createWithPlural(PLURAL, cr as unknown as ResourceEvent['object']);
    return (await this.patchResourceStatus(meta, status)) !== null;
  }
}
