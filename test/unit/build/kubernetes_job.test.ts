/** The build Job of the Kubernetes executors against the reference's table (labels, deadlines, TTL, resources, env, SA token masking). */
import { defaultConfig } from '../../../config/index.js';
import { renderJob, workerServerAddress } from '../../../registry/build/executors/kubernetes.js';
import type { BuildManagerSettings } from '../../../registry/build/config.js';

const config = { ...defaultConfig(), SERVER_HOSTNAME: 'quay.example.com' };
const settings = { buildmanHostname: 'builder.example.com:443' } as BuildManagerSettings;
const start = { buildUuid: '3f1c6f7e-9a3b-4a55-9a39-0d7c2b1f8a11', registrationJwt: 'jwt.reg.token', namespace: 'acme' };
const now = new Date('2026-12-05T09:41:00Z');
type Obj = Record<string, any>;

test('kubernetesPodman, basic distribution: the table of the reference', () => {
  const job = renderJob({ EXECUTOR: 'kubernetesPodman', BUILDER_NAMESPACE: 'builders', CA_CERT: 'PEM' }, { config, settings, manager: 'mgr-1' }, start, now) as Obj;
  const labels = { build: start.buildUuid, time: '2026-12-05-09', manager: 'mgr-1', 'quay-sha': 'none' };
  expect(job.metadata).toEqual({ namespace: 'builders', generateName: `${start.buildUuid}-`, labels });
  expect(job.spec.activeDeadlineSeconds).toBe(7200);
  expect(job.spec.backoffLimit).toBe(1);
  expect(job.spec.ttlSecondsAfterFinished).toBe(120);
  const pod = job.spec.template.spec;
  expect(job.spec.template.metadata.labels).toEqual(labels);
  expect(pod.restartPolicy).toBe('Never');
  expect(pod.dnsPolicy).toBe('Default');
  expect(pod.imagePullSecrets).toEqual([{ name: 'builder' }]);
  const c = pod.containers[0];
  expect(c.image).toBe('quay.io/projectquay/quay-builder:latest');
  expect(c.imagePullPolicy).toBe('Always');
  expect(c.securityContext).toBeUndefined();
  expect(c.resources).toEqual({ requests: { memory: '3968Mi' } });
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  expect(env).toMatchObject({
    TOKEN: 'jwt.reg.token',
    BUILD_UUID: start.buildUuid,
    SERVER: 'builder.example.com:443',
    REGISTRY_HOSTNAME: 'quay.example.com',
    CONTAINER_RUNTIME: 'podman',
    BULDAH_ISOLATION: 'chroot',
    CA_CERT: 'PEM',
    GIT_SSL_CAINFO: '/certs/cacert.crt',
    TLS_CERT_PATH: '/certs/cacert.crt',
    SSL_CERT_FILE: '/certs/cacert.crt',
    DOCKER_HOST: 'unix:///tmp/podman-run-1000/podman/podman.sock',
    EXECUTOR: 'kubernetesPodman',
  });
  // basic: the service account token is hidden under an in-memory volume.
  expect(pod.volumes).toEqual([{ name: 'secrets-mask', emptyDir: { medium: 'Memory' } }]);
  expect(c.volumeMounts).toEqual([{ name: 'secrets-mask', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
  expect(pod.nodeSelector).toBeUndefined();
});

test('openshift: cpu/limits, no token automount, the builder service account, no service links, node selector; DEBUG keeps the Job', () => {
  const job = renderJob(
    {
      EXECUTOR: 'kubernetesPodman',
      KUBERNETES_DISTRIBUTION: 'openshift',
      SERVICE_ACCOUNT_NAME: 'quay-builder',
      NODE_SELECTOR_LABEL_KEY: 'role',
      NODE_SELECTOR_LABEL_VALUE: 'builds',
      MAXIMUM_JOB_TIME: 600,
      DEBUG: true,
    },
    { config, settings, manager: 'm' },
    start,
    now,
  ) as Obj;
  const pod = job.spec.template.spec;
  expect(pod.containers[0].resources).toEqual({ requests: { memory: '3968Mi', cpu: '500m' }, limits: { memory: '5120Mi', cpu: '1000m' } });
  expect(pod).toMatchObject({ automountServiceAccountToken: false, serviceAccount: 'quay-builder', enableServiceLinks: false, nodeSelector: { role: 'builds' } });
  expect(pod.volumes).toBeUndefined();
  expect(job.spec.activeDeadlineSeconds).toBe(600);
  expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
});

test('kubernetes (VM): privileged QEMU pod with the Ignition config carrying TOKEN and SERVER', () => {
  const job = renderJob(
    { EXECUTOR: 'kubernetes', WORKER_IMAGE: 'quay.io/x/worker', WORKER_TAG: 'v1' },
    { config, settings: { buildmanHostname: 'quay.example.com' } as BuildManagerSettings, manager: 'm' },
    start,
    now,
  ) as Obj;
  const c = job.spec.template.spec.containers[0];
  expect(c.image).toBe('quay.io/quay/quay-builder-qemu-fedoracoreos:stable');
  expect(c.securityContext).toEqual({ privileged: true });
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  expect(env.VM_MEMORY).toBe('4G');
  expect(env.VM_VOLUME_SIZE).toBe('32G');
  const ign = JSON.parse(env.USERDATA);
  expect(ign.ignition.version).toBe('3.0.0');
  const overrides = ign.storage.files.find((f: { path: string }) => f.path === '/root/overrides.list');
  // BUILDMAN_HOSTNAME == SERVER_HOSTNAME: the worker dials host:55443.
  expect(decodeURIComponent(overrides.contents.source.slice('data:,'.length))).toBe('TOKEN=jwt.reg.token\nSERVER=quay.example.com:55443\n');
  expect(ign.systemd.units.find((u: { name: string }) => u.name === 'quay-builder.service').contents).toMatch(/quay\.io\/x\/worker:v1/);
  expect(workerServerAddress(config, 'other:9000')).toBe('other:9000');
});
