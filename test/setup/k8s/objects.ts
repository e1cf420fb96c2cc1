/**
 * The tests' own client for objects (@kubernetes/client-node 1.4, independent of the operator's): plain JSON
 * over one keep-alive connection.
 */
import { Agent } from 'node:https';
import {
  ApiException,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  ServerConfiguration,
  createConfiguration,
  type Configuration,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

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
