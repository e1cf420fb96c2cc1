/**
 * The operator's access to the API server (@kubernetes/client-node 1.4): server-side apply under one
 * field manager, reads that treat 404 as absent, discovery, Events and service account tokens.
 */
import {
  ApiException,
  ApisApi,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, type KubeObject, type Platform } from './types.js';

export type Live = Record<string, any>;

export function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** The API server's own message for an error, else the error's. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    try {
      const parsed = typeof body === 'string' ? JSON.parse(body) : body;
      if (parsed && typeof parsed === 'object' && 'message' in parsed) return String((parsed as { message: unknown }).message);
    } catch {
      // not JSON: fall through to the raw body
    }
    return `HTTP ${err.code}: ${typeof body === 'string' ? body : JSON.stringify(body)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Retry a write that lost an optimistic-concurrency race (409 Conflict). */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!isStatus(err, 409) || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

/** Typed client objects (Dates, class instances) back to the JSON the API server sent. */
const plain = (o: unknown): any => JSON.parse(JSON.stringify(o));

export class Kube {
  readonly objects: KubernetesObjectApi;
  readonly core: CoreV1Api;
  private readonly apis: ApisApi;

  constructor(readonly kc: KubeConfig) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apis = kc.makeApiClient(ApisApi);
  }

  /** Server-side apply with force: the operator owns every field it sets, and a no-op apply writes nothing. */
  async apply(obj: KubeObject): Promise<Live> {
    const res = await retryOnConflict(() =>
      this.objects.patch(obj as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
    return plain(res);
  }

  async get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<Live | undefined> {
    try {
      return plain(await this.objects.read({ apiVersion, kind, metadata: { name, namespace } }));
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<Live[]> {
    const res = await this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
    return plain(res.items) as Live[];
  }

  async create(obj: KubeObject): Promise<Live> {
    return plain(await this.objects.create(obj as KubernetesObject, undefined, undefined, FIELD_MANAGER));
  }

  /** A JSON merge patch (a plain update, not an apply: it never removes what it does not mention). */
  async mergePatch(obj: KubeObject): Promise<Live> {
    return plain(await this.objects.patch(obj as KubernetesObject, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch));
  }

  async delete(apiVersion: string, kind: string, name: string, namespace?: string, propagationPolicy = 'Background'): Promise<boolean> {
    try {
      await this.objects.delete({ apiVersion, kind, metadata: { name, namespace } }, undefined, undefined, undefined, undefined, propagationPolicy);
      return true;
    } catch (err) {
      if (isStatus(err, 404)) return false;
      throw err;
    }
  }

  /** Which optional APIs the cluster serves. */
  async discover(): Promise<Platform> {
    const groups = (await this.apis.getAPIVersions()).groups;
    const has = (group: string, version?: string) =>
      groups.some((g) => g.name === group && (!version || g.versions.some((v) => v.version === version)));
    return {
      routes: has('route.openshift.io', 'v1'),
      scc: has('security.openshift.io', 'v1'),
      objectBuckets: has('objectbucket.io', 'v1alpha1'),
      monitoring: has('monitoring.coreos.com', 'v1'),
      hpaV2: has('autoscaling', 'v2'),
    };
  }

  /** OpenShift's apps domain (`ingresses.config.openshift.io/cluster`), used to name Routes. */
  async openshiftAppsDomain(): Promise<string | undefined> {
    try {
      const ingress = await this.get('config.openshift.io/v1', 'Ingress', 'cluster');
      return ingress?.spec?.domain || undefined;
    } catch {
      // The config API is absent outside OpenShift proper.
      return undefined;
    }
  }

  /** A bounded service account token (TokenRequest API). */
  async requestToken(namespace: string, serviceAccount: string, seconds: number): Promise<{ token: string; expires: Date }> {
    const res = await this.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: seconds } },
    });
    return { token: res.status!.token, expires: new Date(res.status!.expirationTimestamp) };
  }
}
