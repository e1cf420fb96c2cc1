/**
 * The operator's access to the API server: server-side apply under one field manager, reads that treat 404 as
 * absent, discovery, Events and service account tokens. JSON as the API server sends it (no typed models
 * that drop or rename fields) over one keep-alive agent. The kubeconfig's TLS material and credentials are
 * applied by the @kubernetes/client-node copy that @dot-i/k8s-operator loads anyway: loading a second,
 * newer copy of that library for these few calls cost the operator about 40 MiB of memory.
 */
import { Agent, request, type RequestOptions } from 'node:https';
import { FIELD_MANAGER, type KubeObject, type Platform } from './types.js';

export type Live = Record<string, any>;

/** How to reach the API server (from the kubeconfig). */
export interface Cluster {
  /** `https://host:port` */
  server: string;
  /** Put the kubeconfig's TLS material and credentials on a request (client-node's applyToHTTPSOptions). */
  authenticate(opts: RequestOptions): Promise<void>;
}

/** A non-2xx answer of the API server, with its body (usually a `Status` object). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP ${code}`);
  }
}

export function isStatus(err: unknown, code: number): boolean {
  return err instanceof KubeApiError && err.code === code;
}

/** The API server's own message for an error, else the error's. */
export function errorMessage(err: unknown): string {
  if (err instanceof KubeApiError) {
    try {
      const parsed = JSON.parse(err.body) as unknown;
      if (parsed && typeof parsed === 'object' && 'message' in parsed) return String((parsed as { message: unknown }).message);
    } catch {
      // not JSON: fall through to the raw body
    }
    return `HTTP ${err.code}: ${err.body}`;
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

interface Resource {
  name: string;
  kind: string;
  namespaced: boolean;
}

const APPLY = 'application/apply-patch+yaml';
const REQUEST_TIMEOUT_MS = 60_000;
const MERGE_PATCH = 'application/merge-patch+json';

export class Kube {
  /** One TLS connection pool for every request (connections are keyed by their TLS material). */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  /** apiVersion → its resources (discovery), to turn a kind into a URL path. */
  private readonly resources = new Map<string, Promise<Resource[]>>();

  constructor(private readonly cluster: Cluster) {}

  /** Request options for `path` with the kubeconfig's TLS material and credentials. */
  private async options(method: string, path: string): Promise<RequestOptions & { headers: Record<string, string> }> {
    const url = new URL(path, this.cluster.server);
    const opts = {
      method,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port,
      path: url.pathname + url.search,
      agent: this.agent,
      headers: { accept: 'application/json' } as Record<string, string>,
    };
    await this.cluster.authenticate(opts);
    return opts;
  }

  /** One request; resolves with the parsed JSON body of a 2xx answer, rejects with KubeApiError otherwise. */
  async request<T = Live>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const opts = await this.options(method, path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) opts.headers['content-type'] = contentType;
    return new Promise<T>((resolve, reject) => {
      const req = request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) return reject(new KubeApiError(status, text));
          try {
            resolve((text ? JSON.parse(text) : {}) as T);
          } catch (err) {
            reject(err);
          }
        });
      });
      // A request the API server never answers must not stall its registry's passes forever.
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${path}: no answer from the API server in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private apiRoot(apiVersion: string): string {
    return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  }

  private async resource(apiVersion: string, kind: string): Promise<Resource> {
    let list = this.resources.get(apiVersion);
    if (!list) {
      list = this.request<{ resources: Resource[] }>('GET', this.apiRoot(apiVersion)).then((r) => r.resources.filter((x) => !x.name.includes('/')));
      this.resources.set(apiVersion, list);
      // An API that is not served yet (a CRD installed later) is looked up again next time.
      list.catch(() => this.resources.delete(apiVersion));
    }
    const found = (await list).find((r) => r.kind === kind);
    if (!found) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    return found;
  }

  /** The URL path of a kind's collection in a namespace (or cluster-wide), or of one object in it. */
  private async path(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const r = await this.resource(apiVersion, kind);
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${this.apiRoot(apiVersion)}${ns}/${r.name}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  private async objectPath(obj: KubeObject): Promise<string> {
    return this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
  }

  /** Server-side apply with force: the operator owns every field it sets, and a no-op apply writes nothing. */
  async apply(obj: KubeObject): Promise<Live> {
    const path = `${await this.objectPath(obj)}?${new URLSearchParams({ fieldManager: FIELD_MANAGER, force: 'true' })}`;
    return retryOnConflict(() => this.request('PATCH', path, obj, APPLY));
  }

  async get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<Live | undefined> {
    try {
      return await this.request('GET', await this.path(apiVersion, kind, namespace, name));
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string, fieldSelector?: string): Promise<Live[]> {
    const params = new URLSearchParams({ ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) });
    const query = params.size ? `?${params}` : '';
    const res = await this.request<{ items: Live[] }>('GET', `${await this.path(apiVersion, kind, namespace)}${query}`);
    return res.items;
  }

  async create(obj: KubeObject): Promise<Live> {
    const path = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace);
    return this.request('POST', `${path}?${new URLSearchParams({ fieldManager: FIELD_MANAGER })}`, obj);
  }

  /** A JSON merge patch (a plain update, not an apply: it never removes what it does not mention). */
  async mergePatch(obj: KubeObject): Promise<Live> {
    return this.request('PATCH', `${await this.objectPath(obj)}?${new URLSearchParams({ fieldManager: FIELD_MANAGER })}`, obj, MERGE_PATCH);
  }

  async delete(apiVersion: string, kind: string, name: string, namespace?: string, propagationPolicy = 'Background'): Promise<boolean> {
    try {
      await this.request('DELETE', `${await this.path(apiVersion, kind, namespace, name)}?${new URLSearchParams({ propagationPolicy })}`);
      return true;
    } catch (err) {
      if (isStatus(err, 404)) return false;
      throw err;
    }
  }

  /** Which optional APIs the cluster serves. */
  async discover(): Promise<Platform> {
    const { groups } = await this.request<{ groups: { name: string; versions: { version: string }[] }[] }>('GET', '/apis');
    const has = (group: string, version?: string) => groups.some((g) => g.name === group && (!version || g.versions.some((v) => v.version === version)));
    return {
      routes: has('route.openshift.io', 'v1'),
      scc: has('security.openshift.io', 'v1'),
      objectBuckets: has('objectbucket.io', 'v1alpha1'),
      monitoring: has('monitoring.coreos.com', 'v1'),
      hpaV2: has('autoscaling', 'v2'),
      consoleDashboards: has('route.openshift.io', 'v1') && (await this.get('v1', 'Namespace', 'openshift-config-managed').catch(() => undefined)) !== undefined,
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
    const res = await this.request<{ status: { token: string; expirationTimestamp: string } }>(
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: seconds } },
    );
    return { token: res.status.token, expires: new Date(res.status.expirationTimestamp) };
  }

  /** Can a watch on `path` be opened now? (A freshly installed CRD answers watches with 429 for a while.) */
  async canWatch(path: string): Promise<boolean> {
    const opts = await this.options('GET', `${path}?${new URLSearchParams({ watch: '1', timeoutSeconds: '1' })}`);
    return new Promise<boolean>((resolve) => {
      const req = request(opts, (res) => {
        resolve(res.statusCode === 200);
        req.destroy();
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  }
}
