/**
 * The test cluster has no kubelet or controller-manager, so tests play their parts where readiness
 * matters: mark a Deployment available, finish a Job, admit a Route, bind an ObjectBucketClaim.
 * `FakeControllers` does the Deployment and Job parts automatically, driven by watches.
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Deployment,
  type V1Job,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** What a Deployment controller and kubelets would report once every replica runs. */
export async function markDeploymentAvailable(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const d = await apps.readNamespacedDeployment({ name, namespace });
  await apps.patchNamespacedDeploymentStatus({ name, namespace, body: deploymentStatus(d) }, mergePatch);
}

function deploymentStatus(d: V1Deployment): Record<string, unknown> {
  const replicas = d.spec?.replicas ?? 1;
  const now = new Date().toISOString();
  return {
    status: {
      observedGeneration: d.metadata?.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now, lastTransitionTime: now },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet has successfully progressed.', lastUpdateTime: now, lastTransitionTime: now },
      ],
    },
  };
}

function deploymentSettled(d: V1Deployment): boolean {
  const s = d.status;
  const replicas = d.spec?.replicas ?? 1;
  return (
    !!s &&
    s.observedGeneration === d.metadata?.generation &&
    s.availableReplicas === replicas &&
    s.updatedReplicas === replicas &&
    s.replicas === replicas &&
    (s.conditions ?? []).some((c) => c.type === 'Available')
  );
}

export async function completeJob(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const now = new Date().toISOString();
  await kc.makeApiClient(BatchV1Api).patchNamespacedJobStatus(
    {
      name,
      namespace,
      body: {
        status: {
          startTime: now,
          completionTime: now,
          succeeded: 1,
          conditions: [
            { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now },
            { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now },
          ],
        },
      },
    },
    mergePatch,
  );
}

export async function failJob(kc: KubeConfig, namespace: string, name: string, message: string): Promise<void> {
  const now = new Date().toISOString();
  await kc.makeApiClient(BatchV1Api).patchNamespacedJobStatus(
    {
      name,
      namespace,
      body: {
        status: {
          startTime: now,
          failed: 1,
          conditions: [
            { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message, lastProbeTime: now, lastTransitionTime: now },
            { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message, lastProbeTime: now, lastTransitionTime: now },
          ],
        },
      },
    },
    mergePatch,
  );
}

/** What the PV controller writes once a volume is provisioned. */
export async function bindVolume(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).patchNamespacedPersistentVolumeClaimStatus({ name, namespace, body: { status: { phase: 'Bound' } } }, mergePatch);
}

/** A StorageClass the fake volume controller treats as absent: claims naming it stay Pending. */
export const MISSING_STORAGE_CLASS = 'missing';

/** What the PV controller records on a claim whose StorageClass does not exist (once per claim). */
async function provisioningFailed(kc: KubeConfig, c: V1PersistentVolumeClaim): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = c.metadata!.namespace!;
  const name = `${c.metadata!.name}.provisioning-failed`;
  const now = new Date();
  const message = `storageclass.storage.k8s.io "${c.spec!.storageClassName}" not found`;
  await core.createNamespacedEvent({
    namespace,
    body: {
      metadata: { name, namespace },
      involvedObject: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: c.metadata!.name, namespace, uid: c.metadata!.uid },
      reason: 'ProvisioningFailed',
      message,
      type: 'Warning',
      source: { component: 'persistentvolume-controller' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}

/** What OpenShift's router writes on a Route it serves. */
export async function admitRoute(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const route = (await api.getNamespacedCustomObject({ group: 'route.openshift.io', version: 'v1', namespace, plural: 'routes', name })) as any;
  await api.patchNamespacedCustomObjectStatus(
    {
      group: 'route.openshift.io',
      version: 'v1',
      namespace,
      plural: 'routes',
      name,
      body: { status: { ingress: [{ host: route.spec?.host, routerName: 'default', conditions: [{ type: 'Admitted', status: 'True' }] }] } },
    },
    mergePatch,
  );
}

/** What a bucket provisioner (NooBaa, Rook) creates for a bound ObjectBucketClaim. */
export async function bindBucket(
  kc: KubeConfig,
  namespace: string,
  name: string,
  b: { host: string; port: number; bucket: string; accessKey: string; secretKey: string },
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, stringData: { AWS_ACCESS_KEY_ID: b.accessKey, AWS_SECRET_ACCESS_KEY: b.secretKey } },
  });
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name }, data: { BUCKET_HOST: b.host, BUCKET_PORT: String(b.port), BUCKET_NAME: b.bucket } },
  });
  await kc
    .makeApiClient(CustomObjectsApi)
    .patchNamespacedCustomObjectStatus(
      { group: 'objectbucket.io', version: 'v1alpha1', namespace, plural: 'objectbucketclaims', name, body: { status: { phase: 'Bound' } } },
      mergePatch,
    );
}

/**
 * Watches Deployments (and optionally Jobs) and reports them available (succeeded) as soon as they
 * change, like the real controllers would once pods run.
 */
export class FakeControllers {
  private aborts: AbortController[] = [];
  private stopped = false;
  paused = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: { jobs?: boolean; volumes?: boolean; namespace?: string; /** Jobs whose outcome the test sets itself. */ skipJobs?: RegExp } = {},
  ) {}

  async start(): Promise<void> {
    const prefix = (group: string) => (this.opts.namespace ? `${group}/namespaces/${this.opts.namespace}` : group);
    await this.watch(`${prefix('/apis/apps/v1')}/deployments`, async (d: V1Deployment) => {
      if (d.metadata?.deletionTimestamp) return this.orphaned(d, 'apps/v1', 'Deployment');
      if (deploymentSettled(d)) return;
      // Pods of a claim that is not bound are not scheduled: wait a while for the volume controller.
      const claims = (d.spec?.template?.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));
      const core = this.kc.makeApiClient(CoreV1Api);
      const bound = async (claim: string) =>
        (await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: d.metadata!.namespace! }).catch(() => undefined))?.status?.phase === 'Bound';
      for (let waited = 0; !(await Promise.all(claims.map(bound))).every(Boolean); waited += 250) {
        if (waited > 15_000 || this.stopped) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      await markDeploymentAvailable(this.kc, d.metadata!.namespace!, d.metadata!.name!);
    });
    if (this.opts.volumes) {
      await this.watch(`${prefix('/api/v1')}/persistentvolumeclaims`, async (c: V1PersistentVolumeClaim) => {
        if (c.status?.phase === 'Bound') return;
        if (c.spec?.storageClassName === MISSING_STORAGE_CLASS) await provisioningFailed(this.kc, c);
        else await bindVolume(this.kc, c.metadata!.namespace!, c.metadata!.name!);
      });
    }
    if (this.opts.jobs) {
      await this.watch(`${prefix('/apis/batch/v1')}/jobs`, async (j: V1Job) => {
        if (j.metadata?.deletionTimestamp) return this.orphaned(j, 'batch/v1', 'Job');
        if (this.opts.skipJobs?.test(j.metadata!.name!)) return;
        if (!j.status?.succeeded && !j.status?.failed) await completeJob(this.kc, j.metadata!.namespace!, j.metadata!.name!);
      });
    }
  }

  /**
   * The garbage collector's part in an orphaning delete: dependents keep running (there are none
   * here), the `orphan` finalizer goes, and with it the object.
   */
  private async orphaned(o: V1Deployment | V1Job, apiVersion: string, kind: string): Promise<void> {
    const finalizers = o.metadata?.finalizers ?? [];
    if (!finalizers.includes('orphan')) return;
    const objects = KubernetesObjectApi.makeApiClient(this.kc);
    await objects.patch(
      { apiVersion, kind, metadata: { name: o.metadata!.name, namespace: o.metadata!.namespace, finalizers: finalizers.filter((f) => f !== 'orphan') } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
  }

  private async watch<T>(path: string, onObject: (o: T) => Promise<void>): Promise<void> {
    const start = async (): Promise<void> => {
      const ac = await new Watch(this.kc).watch(
        path,
        {},
        (type, obj) => {
          if (this.paused || (type !== 'ADDED' && type !== 'MODIFIED')) return;
          // Objects deleted meanwhile or updated concurrently are simply seen again on their next event.
          onObject(obj as T).catch(() => undefined);
        },
        () => {
          if (!this.stopped) setTimeout(() => void start().catch(() => undefined), 200);
        },
      );
      this.aborts.push(ac);
    };
    await start();
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }
}
