/**
 * End to end: the config bundle Secret the operator renders for a CR with unmanaged Postgres, Redis and
 * object storage (pointing at the test bench's real Postgres, Redis and S3) is exactly what the
 * registry process runs with; skopeo then pushes and pulls through it. That is the registry a real
 * cluster would run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { TestCluster } from '../setup/k8s/cluster.js';
import { OperatorProcess } from '../setup/k8s/operator.js';
import { FakeControllers } from '../setup/k8s/controllers.js';
import { REPO_ROOT, workDir } from '../setup/paths.js';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../setup/procs.js';
import { createTestBucket, createTestDatabase, createTestRedisUrl, s3Client, startDistribution, type S3Bucket } from '../setup/services.js';
import { INSECURE, clientSandbox } from '../setup/tools.js';
import { generateCa, issueServingCert } from '../../operator/tls.js';
import { signin } from '../integration/api/fixture.js';
import { V2Client } from '../helpers/v2.js';
import type { RegistryProcess } from '../helpers/registry.js';
import { applyYaml, bundleYaml, createNamespace, get, registryYaml, renderedConfig, waitCondition } from './helpers.js';

const ns = 'e2e';
const ADMIN_PASSWORD = 'operator-e2e-password';

let cluster: TestCluster;
let operator: OperatorProcess;
let controllers: FakeControllers;
let registry: ManagedProcess | undefined;
let mirror: ManagedProcess | undefined;
/** The rendered config.yaml written where the test processes read it, and their work dir. */
let configPath: string;
let dir: string;
let bucket: S3Bucket;
let port: number;

beforeAll(async () => {
  cluster = await TestCluster.start();
  controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
  await controllers.start();
  operator = await OperatorProcess.start(cluster, { QUAY_VERSION: '1.0.0' });
}, 20 * 60_000);

afterAll(async () => {
  await mirror?.stop(35_000);
  await registry?.stop(35_000);
  controllers?.stop();
  await operator?.stop();
  await cluster?.stop();
});

test('the operator-rendered config.yaml runs the registry; skopeo pushes and pulls through it', async () => {
  port = await freePort();
  const hostPort = `127.0.0.1:${port}`;
  const dbUri = await createTestDatabase('operator_e2e');
  const redis = new URL(await createTestRedisUrl());
  bucket = await createTestBucket('operator-e2e');
  const s3 = new URL(bucket.endpoint);
  const redisConfig = { host: redis.hostname, port: Number(redis.port), db: Number(redis.pathname.slice(1)) };
  // TLS is terminated in front of the registry in a cluster; the certificate still has to name the host.
  const pair = await issueServingCert(await generateCa('e2e CA'), ['127.0.0.1']);
  await createNamespace(cluster, ns);
  await applyYaml(
    cluster,
    bundleYaml(
      ns,
      'bundle',
      {
        SERVER_HOSTNAME: hostPort,
        PREFERRED_URL_SCHEME: 'http',
        SUPER_USERS: ['admin'],
        DB_URI: dbUri,
        BUILDLOGS_REDIS: redisConfig,
        USER_EVENTS_REDIS: redisConfig,
        DISTRIBUTED_STORAGE_CONFIG: {
          default: [
            'S3Storage',
            {
              host: s3.hostname,
              port: Number(s3.port),
              is_secure: false,
              s3_bucket: bucket.bucket,
              s3_access_key: bucket.accessKey,
              s3_secret_key: bucket.secretKey,
              s3_region: bucket.region,
              storage_path: '/registry',
            },
          ],
        },
        DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
        // The mirror test's upstream is the test bench's Distribution on loopback.
        SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
      },
      { 'ssl.cert': pair.cert, 'ssl.key': pair.key },
    ),
  );
  await applyYaml(
    cluster,
    registryYaml(ns, 'reg', {
      configBundleSecret: 'bundle',
      components: ['postgres', 'redis', 'objectstorage', 'route', 'tls'].map((kind) => ({ kind, managed: false })),
    }),
  );
  await waitCondition(cluster, ns, 'reg', 'ComponentsCreated', 'True', undefined, 60_000, () => operator.logs());

  // What the quay-app pods would mount at /conf/stack/config.yaml, byte for byte.
  const { secretName, data, config } = await renderedConfig(cluster, ns, 'reg');
  expect(config).toMatchObject({ DB_URI: dbUri, SERVER_HOSTNAME: hostPort, FEATURE_SECURITY_SCANNER: true, FEATURE_REPO_MIRROR: true });
  expect(config.SECRET_KEY).toHaveLength(80);
  dir = workDir('operator-e2e');
  configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, data['config.yaml']);
  mkdirSync(join(dir, 'data'));
  registry = startProcess({
    name: 'registry',
    bin: process.execPath,
    args: [join(REPO_ROOT, 'dist/registry/main.js'), 'serve', '--config', configPath, '--host', '127.0.0.1', '--data-dir', join(dir, 'data')],
    logFile: join(dir, 'registry.log'),
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(port), QE_K8S_CONFIG_SECRET: secretName, INITIAL_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  await waitUntil(registry, `the registry on ${hostPort}`, async () => (await fetch(`http://${hostPort}/health/instance`)).status === 200, 60_000);
  expect(readFileSync(registry.logFile, 'utf8')).not.toMatch(/config warning/);

  // Push an image built offline with umoci, pull it back, compare digests.
  const c = clientSandbox('operator-e2e');
  const layout = join(c.dir, 'layout');
  writeFileSync(join(c.dir, 'hello.txt'), 'hello from the operator e2e\n');
  await c.run('umoci', ['init', '--layout', layout]);
  await c.run('umoci', ['new', '--image', `${layout}:v1`]);
  await c.run('umoci', ['insert', '--image', `${layout}:v1`, join(c.dir, 'hello.txt'), '/hello.txt']);
  const digest = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest as string;
  const creds = `admin:${ADMIN_PASSWORD}`;
  await c.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', creds, `oci:${layout}:v1`, `docker://${hostPort}/admin/operator-e2e:v1`]);
  const inspected = JSON.parse((await c.run('skopeo', ['inspect', ...INSECURE.skopeo, '--creds', creds, `docker://${hostPort}/admin/operator-e2e:v1`])).stdout);
  expect(inspected.Digest).toBe(digest);
  const back = join(c.dir, 'back');
  await c.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--src-creds', creds, `docker://${hostPort}/admin/operator-e2e:v1`, `oci:${back}:v1`]);
  expect(JSON.parse(readFileSync(join(back, 'index.json'), 'utf8')).manifests[0].digest).toBe(digest);

  // The bytes went to the S3 bucket named in the bundle.
  const client = s3Client(bucket);
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket.bucket }));
    expect(listed.KeyCount).toBeGreaterThan(0);
  } finally {
    client.destroy();
  }
}, 180_000);

test("the quay-mirror Deployment's command line runs the registry's mirror role, which answers its probes", async () => {
  const d = await get(cluster, 'apps/v1', 'Deployment', 'reg-quay-mirror', ns);
  const c = d.spec.template.spec.containers[0];
  expect(c.command).toEqual(['node', '/app/dist/registry/main.js']);
  const probe = c.readinessProbe.httpGet;
  expect(probe.port).toBe(Number(c.env.find((e: any) => e.name === 'PORT').value));
  const mirrorPort = await freePort();
  // As the pod runs it, with the config where the pod mounts it replaced by the test's copy.
  const args = c.args.map((a: string) => (a === '/conf/stack/config.yaml' ? configPath : a));
  mirror = startProcess({
    name: 'mirror',
    bin: process.execPath,
    args: [join(REPO_ROOT, 'dist/registry/main.js'), ...args, '--host', '127.0.0.1', '--data-dir', join(dir, 'data')],
    logFile: join(dir, 'mirror.log'),
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(mirrorPort) },
  });
  await waitUntil(mirror, `the mirror role on ${mirrorPort}`, async () => (await fetch(`http://127.0.0.1:${mirrorPort}${probe.path}`)).status === 200, 60_000);
  expect(c.livenessProbe.httpGet.path).toBe(probe.path);
}, 120_000);

test('a mirror configured through the API is synced by that mirror process: the upstream tags arrive', async () => {
  const upstream = await startDistribution();
  try {
    const up = new V2Client({ url: upstream.url } as RegistryProcess);
    const images: Record<string, string> = {};
    for (const tag of ['v1.0', 'v1.1', 'latest', 'dev']) images[tag] = (await up.pushImage('team/app', tag)).digest;
    const hostPort = `127.0.0.1:${port}`;
    const admin = await signin({ url: `http://${hostPort}` } as RegistryProcess, 'admin', ADMIN_PASSWORD);
    await admin.ok('POST', '/organization/', { name: 'mirrored', email: 'mirrored@example.com' });
    await admin.ok('PUT', '/organization/mirrored/robots/bot', {});
    await admin.ok('POST', '/repository', { namespace: 'mirrored', repository: 'app', visibility: 'private', description: '' });
    await admin.ok('POST', '/repository/mirrored/app/mirror', {
      external_reference: `${upstream.hostPort}/team/app`,
      external_registry_config: { verify_tls: false },
      sync_interval: 3600,
      sync_start_date: '2020-01-01T00:00:00Z',
      robot_username: 'mirrored+bot',
      skopeo_timeout_interval: 300,
      root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1.*', 'latest'] },
    });
    // The managed mirror component renders REPO_MIRROR_INTERVAL: 30: the first pass after the config may take that long.
    const deadline = Date.now() + 120_000;
    let state = await admin.ok('GET', '/repository/mirrored/app/mirror');
    while (state.sync_status !== 'SUCCESS' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      state = await admin.ok('GET', '/repository/mirrored/app/mirror');
    }
    expect(state.sync_status).toBe('SUCCESS');
    const tags = (await admin.ok('GET', '/repository/mirrored/app/tag/?onlyActiveTags=true')).tags as { name: string; manifest_digest: string }[];
    expect(Object.fromEntries(tags.map((t) => [t.name, t.manifest_digest]))).toEqual({ 'v1.0': images['v1.0'], 'v1.1': images['v1.1'], latest: images.latest });
    // The sync ran in the mirror process (the registry process runs no mirror worker with a config file).
    expect(readFileSync(mirror!.logFile, 'utf8')).toContain('mirror sync finished');
  } finally {
    await upstream.stop();
  }
}, 180_000);
