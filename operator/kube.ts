/**
 * The operator's access to the API server (@kubernetes/client-node 1.4): server-side apply under one
 * field manager, reads that treat 404 as absent, discovery, Events and service account tokens.
 */
import { Agent } from 'node:https';
import {
  ApiException,
  ApisApi,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  type Configuration,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
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

/**
 * KubernetesObjectApi that sends and returns the API server's JSON as it is. The library's typed models
 * drop or rename fields on the way (`x-kubernetes-*`, `from`, `$ref`) and pick a model by version+kind
 * alone, so OpenShift's config.openshift.io Ingress would be read as a networking Ingress.
 */
export class JsonObjectApi extends KubernetesObjectApi {
  static make(kc: KubeConfig, configuration = keepAliveConfiguration(kc)): JsonObjectApi {
    const api = new JsonObjectApi(configuration);
    api.setDefaultNamespace(kc);
    return api;
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return JSON.parse(text) as T;
    throw new ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', text, response.headers);
  }

  /** POST (create) or PATCH an object with a JSON body. */
  async send<T extends KubernetesObject>(method: 'POST' | 'PATCH', obj: KubernetesObject, query: Record<string, string>, contentType = 'application/json'): Promise<T> {
    const path = await this.specUriPath(obj, method === 'POST' ? 'create' : 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, method === 'POST' ? HttpMethod.POST : HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', contentType);
    for (const [k, v] of Object.entries(query)) ctx.setQueryParam(k, v);
    ctx.setBody(JSON.stringify(obj));
    return this.requestPromise<T>(ctx);
  }
}

/**
 * The client's configuration, except that every request goes over one keep-alive agent: the library
 * makes a new agent, so a new TLS connection, for each request, which costs more CPU than the request.
 * The agent's TLS material (CA, client certificate) is the one the library put on the first request;
 * credentials in headers (tokens) are still set per request.
 */
export function keepAliveConfiguration(kc: KubeConfig): Configuration {
  let shared: Agent | undefined;
  const reuse = {
    pre: async (ctx: RequestContext) => {
      const fresh = ctx.getAgent() as (Agent & { options: Record<string, unknown> }) | undefined;
      if (fresh instanceof Agent) {
        shared ??= new Agent({ ...fresh.options, keepAlive: true, maxSockets: 16 });
        ctx.setAgent(shared);
      }
      return ctx;
    },
    post: async (rsp: ResponseContext) => rsp,
  };
  return createConfiguration({
    baseServer: new ServerConfiguration(kc.getCurrentCluster()!.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [reuse],
  });
}

export class Kube {
  readonly objects: JsonObjectApi;
  readonly core: CoreV1Api;
  private readonly apis: ApisApi;

  constructor(readonly kc: KubeConfig) {
    const configuration = keepAliveConfiguration(kc);
    this.objects = JsonObjectApi.make(kc, configuration);
    this.core = new CoreV1Api(configuration);
    this.apis = new ApisApi(configuration);
  }

  /** Server-side apply with force: the operator owns every field it sets, and a no-op apply writes nothing. */
  async apply(obj: KubeObject): Promise<Live> {
    return retryOnConflict(() => this.objects.send('PATCH', obj as KubernetesObject, { fieldManager: FIELD_MANAGER, force: 'true' }, PatchStrategy.ServerSideApply));
  }

  async get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<Live | undefined> {
    try {
      return await this.objects.read({ apiVersion, kind, metadata: { name, namespace } });
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<Live[]> {
    const res = await this.objects.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
    return res.items as Live[];
  }

  async create(obj: KubeObject): Promise<Live> {
    return this.objects.send('POST', obj as KubernetesObject, { fieldManager: FIELD_MANAGER });
  }

  /** A JSON merge patch (a plain update, not an apply: it never removes what it does not mention). */
  async mergePatch(obj: KubeObject): Promise<Live> {
    return this.objects.send('PATCH', obj as KubernetesObject, { fieldManager: FIELD_MANAGER }, PatchStrategy.MergePatch);
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
