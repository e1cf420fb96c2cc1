/**
 * The Kubernetes executors (Quay's KubernetesExecutor / KubernetesPodmanExecutor): one batch/v1 Job per
 * build in BUILDER_NAMESPACE, created through the API server with the builder service account's token (the
 * operator provisions the namespace, the account, its Role and the token). `kubernetesPodman` runs
 * BUILDER_CONTAINER_IMAGE (the builder agent) unprivileged; `kubernetes` runs a QEMU VM in a privileged pod
 * (BUILDER_VM_CONTAINER_IMAGE) whose Ignition config starts the worker image. Running workers are counted
 * from the Jobs with the `build,time,manager,quay-sha` labels that have not completed or failed; stopping
 * deletes the Job and its pods.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { QuayConfig } from '../../../config/index.js';
import type { BuildManagerSettings, ExecutorSettings } from '../config.js';
import type { Executor, WorkerStart } from './index.js';

export interface KubernetesExecutorOptions {
  config: QuayConfig;
  settings: BuildManagerSettings;
  /** The manager label value (Quay: the host name). */
  manager?: string;
  /** The workers' CA bundle (executor CA_CERT, else the served chain, plus extra CAs); CA_CERT otherwise. */
  caCert?: string;
}

/** The message of a Kubernetes Status answer. */
const apiMessage = (body: unknown): string => (typeof body === 'string' ? body.slice(0, 300) : String((body as { message?: unknown } | null)?.message ?? ''));
const str = (v: unknown, d: string): string => (typeof v === 'string' && v !== '' ? v : d);
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);

/** Quay's gRPC address for workers: host:55443 when BUILDMAN_HOSTNAME is SERVER_HOSTNAME, else it verbatim. */
export function workerServerAddress(config: QuayConfig, buildmanHostname: string): string {
  if (buildmanHostname === config.SERVER_HOSTNAME) return `${buildmanHostname.replace(/:\d+$/, '')}:55443`;
  return buildmanHostname;
}

/** The Job for one build, as Quay renders it (pure: unit-tested against the reference's table). */
export function renderJob(s: ExecutorSettings, o: KubernetesExecutorOptions, w: WorkerStart, now = new Date()): Record<string, unknown> {
  const openshift = s.KUBERNETES_DISTRIBUTION === 'openshift';
  const time = `${now.toISOString().slice(0, 10)}-${now.toISOString().slice(11, 13)}`;
  const labels = { build: w.buildUuid, time, manager: (o.manager ?? hostname()).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63), 'quay-sha': str(process.env.QUAY_GIT_HASH, 'none') };
  const caCert = str(o.caCert, str(s.CA_CERT, ''));
  const server = workerServerAddress(o.config, o.settings.buildmanHostname);
  const env: Array<{ name: string; value: string }> = [];
  let container: Record<string, unknown>;
  if (s.EXECUTOR === 'kubernetesPodman') {
    env.push(
      { name: 'TOKEN', value: w.registrationJwt },
      { name: 'BUILD_UUID', value: w.buildUuid },
      { name: 'SERVER', value: server },
      { name: 'REGISTRY_HOSTNAME', value: o.config.SERVER_HOSTNAME },
      { name: 'CONTAINER_RUNTIME', value: 'podman' },
      // Spelled as Quay does; the agent reads both spellings.
      { name: 'BULDAH_ISOLATION', value: 'chroot' },
      { name: 'CA_CERT', value: caCert },
      { name: 'GIT_SSL_CAINFO', value: '/certs/cacert.crt' },
      { name: 'TLS_CERT_PATH', value: '/certs/cacert.crt' },
      { name: 'SSL_CERT_FILE', value: '/certs/cacert.crt' },
      { name: 'DEBUG', value: s.DEBUG ? 'true' : 'false' },
      { name: 'HTTP_PROXY', value: str(s.HTTP_PROXY, '') },
      { name: 'HTTPS_PROXY', value: str(s.HTTPS_PROXY, '') },
      { name: 'NO_PROXY', value: str(s.NO_PROXY, '') },
      { name: 'DOCKER_HOST', value: 'unix:///tmp/podman-run-1000/podman/podman.sock' },
      { name: 'EXECUTOR', value: 'kubernetesPodman' },
    );
    // Not in Quay: the builder agent's layer cache in the build's repository.
    if (s.LAYER_CACHE === true) env.push({ name: 'LAYER_CACHE', value: 'true' });
    container = { name: 'builder', image: str(s.BUILDER_CONTAINER_IMAGE, 'quay.io/projectquay/quay-builder:latest') };
  } else {
    env.push(
      { name: 'USERDATA', value: JSON.stringify(ignition(s, w, server)) },
      { name: 'VM_MEMORY', value: str(s.VM_MEMORY_LIMIT, '4G') },
      { name: 'VM_VOLUME_SIZE', value: str(s.VOLUME_SIZE, '32G') },
    );
    container = { name: 'builder', image: str(s.BUILDER_VM_CONTAINER_IMAGE, 'quay.io/quay/quay-builder-qemu-fedoracoreos:stable'), securityContext: { privileged: true } };
  }
  const requests: Record<string, string> = { memory: str(s.CONTAINER_MEMORY_REQUEST, '3968Mi') };
  const resources: Record<string, unknown> = { requests };
  if (openshift) {
    requests.cpu = str(s.CONTAINER_CPU_REQUEST, '500m');
    resources.limits = { memory: str(s.CONTAINER_MEMORY_LIMITS, '5120Mi'), cpu: str(s.CONTAINER_CPU_LIMITS, '1000m') };
  }
  Object.assign(container, { imagePullPolicy: str(s.IMAGE_PULL_POLICY, 'Always'), resources, env });
  const podSpec: Record<string, unknown> = {
    restartPolicy: 'Never',
    dnsPolicy: str(s.DNS_POLICY, 'Default'),
    imagePullSecrets: [{ name: str(s.IMAGE_PULL_SECRET_NAME, 'builder') }],
    containers: [container],
  };
  if (openshift) {
    Object.assign(podSpec, {
      automountServiceAccountToken: false,
      serviceAccount: str(s.SERVICE_ACCOUNT_NAME, 'quay-builder-sa'),
      serviceAccountName: str(s.SERVICE_ACCOUNT_NAME, 'quay-builder-sa'),
      enableServiceLinks: false,
    });
  } else {
    // Hide the service account token from the build: an in-memory volume over its mount point.
    podSpec.volumes = [{ name: 'secrets-mask', emptyDir: { medium: 'Memory' } }];
    container.volumeMounts = [{ name: 'secrets-mask', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }];
  }
  if (str(s.NODE_SELECTOR_LABEL_VALUE, '')) podSpec.nodeSelector = { [str(s.NODE_SELECTOR_LABEL_KEY, '')]: str(s.NODE_SELECTOR_LABEL_VALUE, '') };
  const spec: Record<string, unknown> = {
    activeDeadlineSeconds: num(s.MAXIMUM_JOB_TIME, 7200),
    backoffLimit: 1,
    template: { metadata: { labels }, spec: podSpec },
  };
  if (!s.DEBUG) spec.ttlSecondsAfterFinished = num(s.RETENTION_AFTER_FINISHED, 120);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { namespace: str(s.BUILDER_NAMESPACE, 'builder'), generateName: `${w.buildUuid}-`, labels },
    spec,
  };
}

/** The Fedora CoreOS Ignition 3.0.0 config of a VM builder (the parts the worker depends on). */
function ignition(s: ExecutorSettings, w: WorkerStart, server: string): Record<string, unknown> {
  const data = (text: string) => ({ source: `data:,${encodeURIComponent(text)}` });
  const proxy = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'].find((k) => str(s[k], ''));
  const overrides = [`TOKEN=${w.registrationJwt}`, `SERVER=${server}`, ...(proxy ? [`${proxy}=${str(s[proxy], '')}`] : [])].join('\n');
  const image = `${str(s.WORKER_IMAGE, 'quay.io/coreos/registry-build-worker')}:${str(s.WORKER_TAG, 'latest')}`;
  const runtime = str(s.CONTAINER_RUNTIME, 'podman');
  const files = [
    { path: '/etc/hostname', mode: 420, contents: data(w.buildUuid) },
    { path: '/root/overrides.list', mode: 384, contents: data(`${overrides}\n`) },
    ...(str(s.CA_CERT, '') ? [{ path: '/etc/pki/ca-trust-source/anchors/ssl.cert', mode: 420, contents: data(str(s.CA_CERT, '')) }] : []),
  ];
  const login = str(s.QUAY_USERNAME, '') ? `${runtime} login -u '${str(s.QUAY_USERNAME, '')}' -p '${str(s.QUAY_PASSWORD, '')}' ${image.split('/')[0]} && ` : '';
  const unit = `[Unit]\nDescription=Quay builder\nAfter=network-online.target\n[Service]\nType=oneshot\nTimeoutStartSec=600\nExecStart=/bin/sh -c "${login}${runtime} run --rm --privileged ${runtime === 'docker' ? '--net=host ' : ''}--env-file /root/overrides.list ${image}"\n${s.DEBUG ? '' : 'ExecStopPost=/bin/sh -c "sleep 120; systemctl poweroff -f"\n'}[Install]\nWantedBy=multi-user.target\n`;
  const lifetime = num(s.MAX_LIFETIME_S, 10800);
  return {
    ignition: { version: '3.0.0' },
    storage: { files },
    systemd: {
      units: [
        { name: 'quay-builder.service', enabled: true, contents: unit },
        { name: 'zincati.service', mask: true },
        {
          name: 'machine-lifetime.service',
          enabled: true,
          contents: `[Service]\nType=simple\nExecStart=/bin/sh -c "sleep ${lifetime}; systemctl poweroff -f"\n[Install]\nWantedBy=multi-user.target\n`,
        },
      ],
    },
  };
}

export class KubernetesExecutor implements Executor {
  readonly name: string;
  private readonly namespace: string;
  private readonly base: URL;
  private readonly agentOpts: https.AgentOptions;

  constructor(
    readonly settings: ExecutorSettings,
    private readonly opts: KubernetesExecutorOptions,
  ) {
    this.name = settings.NAME ?? settings.EXECUTOR;
    this.namespace = str(settings.BUILDER_NAMESPACE, 'builder');
    const server = str(settings.K8S_API_SERVER, 'localhost:8080');
    const tls = Boolean(settings.SERVICE_ACCOUNT_TOKEN || settings.K8S_API_TLS_CERT);
    this.base = new URL(/^https?:\/\//.test(server) ? server : `${tls ? 'https' : 'http'}://${server}`);
    this.agentOpts = {
      ca: settings.K8S_API_TLS_CA ? readFileSync(String(settings.K8S_API_TLS_CA)) : undefined,
      cert: settings.K8S_API_TLS_CERT ? readFileSync(String(settings.K8S_API_TLS_CERT)) : undefined,
      key: settings.K8S_API_TLS_KEY ? readFileSync(String(settings.K8S_API_TLS_KEY)) : undefined,
    };
  }

  private request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    // An explicit length: Node sends a DELETE body without chunked framing, which the API server reads as the next request.
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
    if (this.settings.SERVICE_ACCOUNT_TOKEN) headers.authorization = `Bearer ${String(this.settings.SERVICE_ACCOUNT_TOKEN)}`;
    const timeout = num(this.settings.K8S_API_TIMEOUT, 20) * 1000;
    return new Promise((ok, fail) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, timeout, ...(url.protocol === 'https:' ? this.agentOpts : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          ok({ status: res.statusCode ?? 0, body: parsed as T });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`the Kubernetes API did not answer within ${timeout / 1000} s`)));
      req.on('error', fail);
      req.end(payload);
    });
  }

  async start(w: WorkerStart): Promise<string> {
    const job = renderJob(this.settings, this.opts, w);
    const r = await this.request<{ metadata?: { name?: string }; message?: string }>('POST', `/apis/batch/v1/namespaces/${this.namespace}/jobs`, job);
    if (r.status !== 201 && r.status !== 200) throw new Error(`creating the build Job failed: HTTP ${r.status} ${r.body?.message ?? ''}`);
    return r.body.metadata!.name!;
  }

  async stop(executionId: string): Promise<void> {
    if (this.settings.DEBUG) return;
    const name = encodeURIComponent(executionId);
    const r = await this.request('DELETE', `/apis/batch/v1/namespaces/${this.namespace}/jobs/${name}`, {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Background',
    });
    if (r.status >= 400 && r.status !== 404) throw new Error(`deleting the build Job failed: HTTP ${r.status} ${apiMessage(r.body)}`);
    // Pod by pod: the builder account's Role grants list and delete, not deletecollection.
    const pods = await this.request<{ items?: Array<{ metadata?: { name?: string } }> }>(
      'GET',
      `/api/v1/namespaces/${this.namespace}/pods?labelSelector=${encodeURIComponent(`job-name=${executionId}`)}`,
    );
    if (pods.status !== 200) throw new Error(`listing the build pods failed: HTTP ${pods.status} ${apiMessage(pods.body)}`);
    for (const pod of pods.body.items ?? []) {
      const p = await this.request('DELETE', `/api/v1/namespaces/${this.namespace}/pods/${encodeURIComponent(pod.metadata?.name ?? '')}`);
      if (p.status >= 400 && p.status !== 404) throw new Error(`deleting the build pod ${pod.metadata?.name} failed: HTTP ${p.status} ${apiMessage(p.body)}`);
    }
  }

  async runningCount(): Promise<number> {
    const r = await this.request<{ items?: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }>(
      'GET',
      `/apis/batch/v1/namespaces/${this.namespace}/jobs?labelSelector=${encodeURIComponent('build,time,manager,quay-sha')}`,
    );
    if (r.status !== 200) throw new Error(`listing build Jobs failed: HTTP ${r.status}`);
    return (r.body.items ?? []).filter((j) => !(j.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')).length;
  }

  async close(): Promise<void> {}
}
