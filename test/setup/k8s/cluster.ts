/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver (built by build.sh) on loopback
 * with generated certificates and client-certificate auth, a kubeconfig, and the project's CRDs
 * installed as they are. "OpenShift mode" adds the Route, SecurityContextConstraints and cluster
 * Ingress config APIs. There is no kubelet, scheduler or controller-manager: tests play those parts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { get as httpsGet } from 'node:https';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import forge from 'node-forge';
import yaml from 'js-yaml';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { JsonObjectApi } from './objects.js';
import { freePort, startProcess, type ManagedProcess } from '../procs.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/test/setup/k8s). */
export const ROOT = resolve(here, '../../../..');
const SOURCE_DIR = join(ROOT, 'test/setup/k8s');

export const TOOLS = process.env.QUAY_TS_TOOLS ?? join(homedir(), '.cache/quay-ts/bin');
export const OPENSHIFT_APPS_DOMAIN = 'apps.openshift.test';

export interface ClusterOptions {
  /** Route, SecurityContextConstraints and config.openshift.io Ingress (with an apps domain). */
  openshift?: boolean;
  /** ObjectBucketClaim API. */
  objectBuckets?: boolean;
  /** ServiceMonitor and PrometheusRule APIs. */
  monitoring?: boolean;
  /** Install crds/ (default true; the install tests apply the CRD themselves). */
  crds?: boolean;
}

/** Builds the binaries when they are missing (build.sh is idempotent and cached). */
export function ensureTools(): void {
  if (['kube-apiserver', 'etcd', 'kubectl'].every((b) => existsSync(join(TOOLS, b)))) return;
  const r = spawnSync('bash', [join(SOURCE_DIR, 'build.sh')], { stdio: 'inherit', env: { ...process.env, QUAY_TS_TOOLS: TOOLS } });
  if (r.status !== 0) throw new Error('test/setup/k8s/build.sh failed: kube-apiserver, etcd and kubectl are needed for the Kubernetes tests');
}

interface Pair {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  certPem: string;
  keyPem: string;
}

function makeCert(subject: { CN: string; O?: string }, issuer: Pair | undefined, opts: { ca?: boolean; ips?: string[]; dns?: string[] }): Pair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: subject.CN }, ...(subject.O ? [{ name: 'organizationName', value: subject.O }] : [])];
  cert.setSubject(attrs);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : attrs);
  const ext: any[] = [{ name: 'basicConstraints', cA: !!opts.ca }];
  if (opts.ca) ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true });
  else {
    ext.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true });
    ext.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
    const alt = [...(opts.dns ?? []).map((value) => ({ type: 2, value })), ...(opts.ips ?? []).map((ip) => ({ type: 7, ip }))];
    if (alt.length) ext.push({ name: 'subjectAltName', altNames: alt });
  }
  cert.setExtensions(ext);
  cert.sign(issuer ? issuer.key : keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey, certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, log?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : String(last ?? '')}\n${log?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Objects of every YAML document in a file. */
export function loadYamlFile(path: string): KubernetesObject[] {
  return yaml.loadAll(readFileSync(path, 'utf8')).filter(Boolean) as KubernetesObject[];
}

export class TestCluster {
  readonly kc = new KubeConfig();
  private procs: ManagedProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly kubeconfig: string,
    readonly server: string,
  ) {}

  static async start(opts: ClusterOptions = {}): Promise<TestCluster> {
    ensureTools();
    const dir = join(ROOT, '.test-work', `k8s-${process.pid}-${randomBytes(3).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;

    const ca = makeCert({ CN: 'quay-ts-test-ca' }, undefined, { ca: true });
    const serving = makeCert({ CN: 'kube-apiserver' }, ca, { ips: ['127.0.0.1', '10.0.0.1'], dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] });
    const admin = makeCert({ CN: 'admin', O: 'system:masters' }, ca, {});
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const file = (name: string, content: string) => {
      writeFileSync(join(dir, name), content, { mode: 0o600 });
      return join(dir, name);
    };
    const kubeconfig = file(
      'kubeconfig',
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
        users: [
          { name: 'admin', user: { 'client-certificate-data': Buffer.from(admin.certPem).toString('base64'), 'client-key-data': Buffer.from(admin.keyPem).toString('base64') } },
        ],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin', namespace: 'default' } }],
        'current-context': 'test',
      }),
    );
    const cluster = new TestCluster(dir, kubeconfig, server);
    try {
      cluster.spawn('etcd', [
        '--name=test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
        '--listen-metrics-urls=',
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      cluster.spawn('kube-apiserver', [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${file('apiserver.crt', serving.certPem)}`,
        `--tls-private-key-file=${file('apiserver.key', serving.keyPem)}`,
        `--client-ca-file=${file('ca.crt', ca.certPem)}`,
        `--service-account-key-file=${file('sa.pub', sa.publicKey)}`,
        `--service-account-signing-key-file=${file('sa.key', sa.privateKey)}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--profiling=false',
        '--v=0',
      ]);
      cluster.kc.loadFromFile(kubeconfig);
      const readyz = () =>
        new Promise<true | undefined>((res, rej) => {
          const req = httpsGet(`${server}/readyz`, { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem }, (r) => {
            r.resume();
            res(r.statusCode === 200 ? true : undefined);
          });
          req.on('error', rej);
        });
      // Until /readyz passes the server answers 429 to some requests (its post-start hooks are running).
      await until('the API server to be ready', readyz, 90_000, () => cluster.logs());
      const core = cluster.kc.makeApiClient(CoreV1Api);
      await until('the default namespace', async () => ((await core.readNamespace({ name: 'default' })) ? true : undefined), 30_000);
      if (opts.crds !== false) await cluster.installCrds(join(ROOT, 'crds'));
      const extra = readdirSync(join(SOURCE_DIR, 'crds')).filter(
        (f) => (opts.openshift && f.startsWith('openshift-')) || (opts.objectBuckets && f.startsWith('objectbucket')) || (opts.monitoring && f.startsWith('monitoring-')),
      );
      for (const f of extra) await cluster.installCrdFile(join(SOURCE_DIR, 'crds', f));
      if (opts.openshift) {
        await cluster.objects.send(
          'POST',
          { apiVersion: 'config.openshift.io/v1', kind: 'Ingress', metadata: { name: 'cluster' }, spec: { domain: OPENSHIFT_APPS_DOMAIN } } as KubernetesObject,
          {},
        );
        // Where the console reads dashboards from.
        await cluster.createNamespace('openshift-config-managed');
      }
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Plain-JSON object access (see JsonObjectApi). */
  get objects(): JsonObjectApi {
    return JsonObjectApi.make(this.kc);
  }

  /** Through the test bench's process registry, so nothing outlives a run even if a test crashes. */
  private spawn(bin: string, args: string[]): void {
    this.procs.push(startProcess({ name: bin, bin: join(TOOLS, bin), args, logFile: join(this.dir, `${bin}.log`) }));
  }

  /** The tail of the control plane's logs, for failure messages. */
  logs(): string {
    return ['etcd', 'kube-apiserver']
      .map((b) => {
        const f = join(this.dir, `${b}.log`);
        return existsSync(f) ? `--- ${b}\n${readFileSync(f, 'utf8').split('\n').slice(-30).join('\n')}` : '';
      })
      .join('\n');
  }

  /** Install every CRD in a directory, as it is, and wait until each is served. */
  async installCrds(dirPath: string): Promise<void> {
    for (const f of readdirSync(dirPath).filter((f) => /\.ya?ml$/.test(f))) await this.installCrdFile(join(dirPath, f));
  }

  async installCrdFile(path: string): Promise<void> {
    const api = this.kc.makeApiClient(ApiextensionsV1Api);
    // kubectl sends the file as it is (the typed client models would drop x-kubernetes-* fields).
    const created = this.kubectl(['create', '-f', path]);
    if (created.status !== 0) throw new Error(`kubectl create -f ${path}: ${created.stderr}`);
    for (const crd of loadYamlFile(path)) {
      await until(
        `CRD ${crd.metadata!.name} established`,
        async () => {
          const c = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
          return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
        },
        30_000,
      );
    }
  }

  async createNamespace(name: string): Promise<void> {
    await this.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  }

  /** Run the kubectl built from the same Kubernetes version against this cluster. */
  kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(join(TOOLS, 'kubectl'), ['--kubeconfig', this.kubeconfig, ...args], { input, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async stop(): Promise<void> {
    // The API server first, so it does not log etcd's disappearance as errors.
    for (const p of [...this.procs].reverse()) await p.stop(5000);
    this.procs = [];
    if (!process.env.KEEP_TEST_CLUSTER) rmSync(this.dir, { recursive: true, force: true });
  }
}
