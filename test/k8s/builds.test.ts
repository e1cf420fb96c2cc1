/**
 * The kubernetesPodman executor against the real kube-apiserver. The operator provisions the builder
 * namespace, its service account, RBAC and token; the registry (Postgres, MinIO, Redis build logs, its own
 * certificate, so gRPC and pushes are TLS) runs the build manager with the executor config the operator
 * rendered (only the API server's address is the test cluster's instead of the in-cluster one). The test
 * plays the kubelet: it reads each build Job and runs the builder agent process with the Job's env, which
 * registers over gRPC, builds with buildah and pushes. A Job the test never runs expires: the build is
 * retried with a new Job, then ends in `internalerror`; every Job is deleted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pino } from 'pino';
import yaml from 'js-yaml';
import { TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers } from '../setup/k8s/controllers.js';
import { applyYaml, bundleYaml, createNamespace, get, registryYaml, renderedConfig, waitFor } from './helpers.js';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../helpers/registry.js';
import { makeTestPki } from '../helpers/pki.js';
import { signin } from '../integration/api/fixture.js';
import { createTestRedisUrl } from '../setup/services.js';
import { REPO_ROOT, workDir } from '../setup/paths.js';
import { freePort } from '../setup/procs.js';
import { clientSandbox } from '../setup/tools.js';
import { parseConfig } from '../../config/index.js';
import { createRuntime, type Runtime } from '../../registry/runtime.js';
import type { BuildRow } from '../../registry/model/builds.js';

const BUILDER_NS = 'builders';
const S3 = {
  DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', port: 443, s3_bucket: 'quay', s3_access_key: 'AK', s3_secret_key: 'SK' }] },
  DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
};

let cluster: TestCluster;
let operator: OperatorProcess;
let controllers: FakeControllers;
let reg: RegistryProcess;
let rt: Runtime;
let executor: Record<string, unknown>;
/** Builds whose Jobs the kubelet runs; the others' Jobs never start. */
const runnable = new Set<string>();
/** Every Job seen: name -> its build uuid. */
const jobsSeen = new Map<string, string>();
const jobSpecs = new Map<string, any>();
const workers: ChildProcess[] = [];
let kubelet: NodeJS.Timeout | null = null;
let sandboxEnv: NodeJS.ProcessEnv;
let grpcPort: number;

/** The kubelet's part: start the builder container's process, with its env, for each new runnable Job. */
async function kubeletPass(): Promise<void> {
  const list = await cluster.objects.list('batch/v1', 'Job', BUILDER_NS);
  for (const job of list.items as any[]) {
    const name = job.metadata.name as string;
    if (jobsSeen.has(name)) continue;
    const uuid = job.metadata.labels.build as string;
    jobsSeen.set(name, uuid);
    jobSpecs.set(name, job);
    if (!runnable.has(uuid)) continue;
    const env = Object.fromEntries((job.spec.template.spec.containers[0].env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/registry/main.js'), 'builder'], {
      env: { ...sandboxEnv, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    workers.push(child);
  }
}

async function waitPhase(uuid: string, phases: string[], timeoutMs: number): Promise<BuildRow> {
  return waitFor(
    `build ${uuid} in ${phases.join('/')}`,
    async () => {
      const b = await rt.builds.getBuild(uuid);
      return b && phases.includes(b.phase) ? b : undefined;
    },
    timeoutMs,
    () => reg.output().slice(-3000),
  );
}

beforeAll(async () => {
  cluster = await TestCluster.start();
  // The registry's own namespace only: the build Jobs are the kubelet's below.
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true, namespace: 'quay' });
  await controllers.start();
  operator = await OperatorProcess.start(cluster, { RESYNC_SECONDS: '60', QUAY_VERSION: '1.0.0', RELATED_IMAGE_COMPONENT_QUAY: 'quay-ts:test' });
  await createNamespace(cluster, 'quay');
  await applyYaml(
    cluster,
    bundleYaml('quay', 'reg-bundle', {
      SERVER_HOSTNAME: 'registry.example.test',
      ...S3,
      FEATURE_BUILD_SUPPORT: true,
      BUILDMAN_HOSTNAME: 'builder.example.test',
      BUILD_MANAGER: [
        'ephemeral',
        {
          ALLOWED_WORKER_COUNT: 2,
          ORCHESTRATOR: { REDIS_PASSWORD: '', REDIS_SSL: false },
          EXECUTORS: [{ EXECUTOR: 'kubernetesPodman', NAME: 'k8s', BUILDER_NAMESPACE: BUILDER_NS, SETUP_TIME: 20 }],
        },
      ],
    }),
  );
  await applyYaml(cluster, registryYaml('quay', 'reg', { configBundleSecret: 'reg-bundle' }));
  // What the operator rendered for the quay-app pods: the executor with the builder account's token.
  executor = await waitFor(
    'the rendered executor with its service-account token',
    async () => {
      const e = (await renderedConfig(cluster, 'quay', 'reg')).config.BUILD_MANAGER?.[1]?.EXECUTORS?.[0];
      return e?.SERVICE_ACCOUNT_TOKEN ? (e as Record<string, unknown>) : undefined;
    },
    120_000,
    () => operator.logs().slice(-3000),
  );

  const dir = workDir('k8s-builds');
  const pki = makeTestPki(join(dir, 'pki'));
  const tlsPort = await freePort();
  grpcPort = await freePort();
  const redis = new URL(await createTestRedisUrl());
  const config = await scaleOutConfig({
    SERVER_HOSTNAME: `127.0.0.1:${tlsPort}`,
    PREFERRED_URL_SCHEME: 'https',
    FEATURE_BUILD_SUPPORT: true,
    BUILDLOGS_REDIS: { host: redis.hostname, port: Number(redis.port), db: Number(redis.pathname.slice(1)) },
    BUILDMAN_HOSTNAME: `127.0.0.1:${grpcPort}`,
    BUILD_MANAGER: [
      'ephemeral',
      {
        ALLOWED_WORKER_COUNT: 2,
        // Outside the cluster: the test API server instead of kubernetes.default.svc, with its CA.
        EXECUTORS: [{ ...executor, K8S_API_SERVER: cluster.server, K8S_API_TLS_CA: join(cluster.dir, 'ca.crt') }],
      },
    ],
  });
  reg = await startRegistry({
    label: 'k8s-builds',
    config,
    files: { 'ssl.cert': `${pki.serverCert}${pki.ca}`, 'ssl.key': pki.serverKey },
    env: { TLS_PORT: String(tlsPort), BUILDMAN_GRPC_PORT: String(grpcPort) },
  });
  rt = await createRuntime(parseConfig(yaml.dump(config)).config, join(dir, 'data'), pino({ level: 'silent' }));
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  for (const name of ['app', 'stuck']) await admin.ok('POST', '/repository', { namespace: 'acme', repository: name, visibility: 'private', description: '' });
  sandboxEnv = clientSandbox('k8s-kubelet').env;
  kubelet = setInterval(() => void kubeletPass().catch(() => undefined), 250);
}, 10 * 60_000);

afterAll(async () => {
  if (kubelet) clearInterval(kubelet);
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await rt?.close();
  await reg?.stop();
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

async function startBuild(repository: string, file: string): Promise<BuildRow> {
  const target = await rt.repositories.lookup({ namespace: 'acme', name: repository } as never);
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  const drop = await admin.ok<{ url: string; file_id: string }>('POST', '/filedrop/', { mimeType: 'text/plain' });
  const put = await fetch(`${reg.url}/userfiles/${drop.file_id}`, { method: 'PUT', body: file });
  expect(put.status).toBe(200);
  return rt.builds.startBuild({
    repository: { id: target.repo!.id, namespace: 'acme', name: repository },
    displayName: repository,
    resourceKey: drop.file_id,
    manualUser: { name: 'admin' },
    // Two tags: the second is given over the registry's API with the build's token, here over TLS.
    dockerTags: ['k8s', 'k8s-second'],
  });
}

test(
  'a Job per build with the spec of the reference; the agent run from it registers over TLS, builds and pushes; a Job never run expires and is retried, then internalerror; every Job is deleted',
  async () => {
    const stuck = await startBuild('stuck', 'FROM scratch\nLABEL never=run\n');
    const b = await startBuild('app', 'FROM scratch\nLABEL built=in-k8s\n');
    runnable.add(b.uuid);

    const done = await waitPhase(b.uuid, ['complete', 'error', 'internalerror'], 300_000);
    const logs = (await rt.builds.readBuildLogs(b.uuid, 0))!.logs.map((l) => l.message).join('\n');
    expect({ phase: done.phase, logs: done.phase === 'complete' ? '' : logs }).toEqual({ phase: 'complete', logs: '' });
    const admin = await signin(reg, reg.admin.username, reg.admin.password);
    const tags = await admin.ok<{ tags: Array<{ name: string; manifest_digest: string }> }>('GET', '/repository/acme/app/tag/');
    const digestOf = (name: string) => tags.tags.find((t) => t.name === name)?.manifest_digest;
    expect(digestOf('k8s')).toMatch(/^sha256:/);
    expect(digestOf('k8s-second')).toBe(digestOf('k8s'));

    // The Job, as the reference's table says (kubernetesPodman on plain Kubernetes).
    const [jobName, job] = [...jobSpecs].find(([, j]) => j.metadata.labels.build === b.uuid)!;
    expect(jobName.startsWith(`${b.uuid}-`)).toBe(true);
    expect(Object.keys(job.metadata.labels).sort()).toEqual(['build', 'manager', 'quay-sha', 'time']);
    expect(job.metadata.labels.time).toMatch(/^\d{4}-\d{2}-\d{2}-\d{2}$/);
    expect(job.spec).toMatchObject({ activeDeadlineSeconds: 7200, backoffLimit: 1, ttlSecondsAfterFinished: 120 });
    expect(job.spec.template.metadata.labels).toMatchObject(job.metadata.labels);
    const pod = job.spec.template.spec;
    expect(pod).toMatchObject({ restartPolicy: 'Never', dnsPolicy: 'Default', imagePullSecrets: [{ name: 'builder' }] });
    expect(pod.volumes).toEqual([{ name: 'secrets-mask', emptyDir: { medium: 'Memory' } }]);
    const container = pod.containers[0];
    expect(container).toMatchObject({
      image: 'quay.io/projectquay/quay-builder:latest',
      imagePullPolicy: 'Always',
      resources: { requests: { memory: '3968Mi' } },
      volumeMounts: [{ name: 'secrets-mask', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
    });
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({
      BUILD_UUID: b.uuid,
      SERVER: `127.0.0.1:${grpcPort}`,
      REGISTRY_HOSTNAME: rt.config.SERVER_HOSTNAME,
      CONTAINER_RUNTIME: 'podman',
      BULDAH_ISOLATION: 'chroot',
      EXECUTOR: 'kubernetesPodman',
    });
    expect(env.TOKEN.split('.')).toHaveLength(3);
    expect(env.CA_CERT).toContain('BEGIN CERTIFICATE');

    // The completed build's Job is deleted.
    let left: any;
    await waitFor(
      `Job ${jobName} deleted`,
      async () => (left = await get(cluster, 'batch/v1', 'Job', jobName, BUILDER_NS)) === undefined,
      60_000,
      () => `${JSON.stringify(left?.metadata)}\n${reg.output().slice(-3000)}`,
    );

    // The never-run Job expires: retried with a new Job each time, then internalerror with no retry left.
    const failed = await waitFor(
      'the stuck build final',
      async () => {
        const row = await rt.builds.getBuild(stuck.uuid);
        return row?.completed_at ? row : undefined;
      },
      600_000,
      () => reg.output().slice(-3000),
    );
    expect(failed.phase).toBe('internalerror');
    expect((await rt.builds.readBuildLogs(stuck.uuid, 0))!.logs.filter((l) => l.message === 'internalerror').length).toBeGreaterThanOrEqual(2);
    const stuckJobs = [...jobsSeen].filter(([, uuid]) => uuid === stuck.uuid).map(([name]) => name);
    expect(stuckJobs.length).toBeGreaterThanOrEqual(2);
    for (const name of stuckJobs) {
      await waitFor(
        `Job ${name} deleted`,
        async () => (left = await get(cluster, 'batch/v1', 'Job', name, BUILDER_NS)) === undefined,
        60_000,
        () => `${stuckJobs.join(' ')}\n${JSON.stringify(left?.metadata).slice(0, 600)}\n${reg.output().slice(-6000)}`,
      );
    }
    expect((await cluster.objects.list('batch/v1', 'Job', BUILDER_NS)).items).toEqual([]);
  },
  15 * 60_000,
);
