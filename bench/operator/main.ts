/**
 * `npm run bench -- operator [--registries N] [--latency-samples N]`: the operator (started with the
 * command line of the OLM bundle's CSV, V8 flags included, default resync) against a real
 * kube-apiserver + etcd on loopback (test/setup/k8s), with the Deployment, Job and volume controllers
 * played instantly (no kubelet), so what is measured is the operator and the API server.
 *
 *   latency: time from applying a QuayRegistry (its bundle already there) to ComponentsCreated=True,
 *            one registry at a time, each in its own namespace (target < 3 s);
 *   memory:  the operator's resident memory with N registries reconciled and converged (target < 150 MB).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { ROOT, TestCluster } from '../../test/setup/k8s/cluster.js';
import { OperatorProcess } from '../../test/setup/k8s/operator.js';
import { FakeControllers } from '../../test/setup/k8s/controllers.js';
import type { QuayRegistry } from '../../operator/types.js';

const S3 = {
  DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { host: 's3.example.test', s3_bucket: 'quay', s3_access_key: 'a', s3_secret_key: 's' }] },
};

/** Resident and peak memory (KiB) of a process, from /proc. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { registries: { type: 'string', default: '50' }, 'latency-samples': { type: 'string', default: '10' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write('npm run bench -- operator [--registries 50] [--latency-samples 10]\n');
    return 0;
  }
  const total = Number(values.registries);
  const samples = Number(values['latency-samples']);
  const cluster = await TestCluster.start();
  const controllers = new FakeControllers(cluster.kc, { jobs: true, volumes: true });
  let operator: OperatorProcess | undefined;
  try {
    await controllers.start();
    // Run it as the OLM bundle deploys it: the CSV's node flags.
    const csv = yaml.load(readFileSync(join(ROOT, 'bundle/manifests/quay-ts-operator.clusterserviceversion.yaml'), 'utf8')) as any;
    const command: string[] = csv.spec.install.spec.deployments[0].spec.template.spec.containers[0].command;
    operator = await OperatorProcess.start(cluster, { QUAY_VERSION: '1.0.0' }, 'operator-bench', command.slice(1, -1));
    const idle = memory(operator.pid);
    const created = async (ns: string) => {
      const cr = (await cluster.objects.read({ apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: ns } })) as unknown as QuayRegistry;
      return cr.status?.conditions?.some((c) => c.type === 'ComponentsCreated' && c.status === 'True') ?? false;
    };
    const prepare = async (ns: string) => {
      await cluster.createNamespace(ns);
      await cluster.objects.send(
        'POST',
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'bundle', namespace: ns },
          stringData: { 'config.yaml': yaml.dump({ SERVER_HOSTNAME: `${ns}.example.test`, ...S3 }) },
        } as never,
        {},
      );
    };
    const apply = (ns: string) =>
      cluster.objects.send(
        'PATCH',
        { apiVersion: 'quay.redhat.com/v1', kind: 'QuayRegistry', metadata: { name: 'reg', namespace: ns }, spec: { configBundleSecret: 'bundle' } } as never,
        { fieldManager: 'bench', force: 'true' },
        'application/apply-patch+yaml',
      );

    // Latency, one registry at a time.
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const ns = `latency-${i}`;
      await prepare(ns);
      const t0 = performance.now();
      await apply(ns);
      await until(() => created(ns), 60_000, `${ns} ComponentsCreated`);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);

    // Memory with `total` registries (the latency ones count).
    const t0 = performance.now();
    const rest = Array.from({ length: Math.max(0, total - samples) }, (_, i) => `fleet-${i}`);
    for (const ns of rest) await prepare(ns);
    await Promise.all(rest.map(apply));
    const all = [...Array.from({ length: samples }, (_, i) => `latency-${i}`), ...rest];
    await until(async () => (await Promise.all(all.map(created))).every(Boolean), 10 * 60_000, `${all.length} registries ComponentsCreated`);
    const fleetSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 5000)); // let the watch events of the last writes drain
    const converged = memory(operator.pid);

    const result = {
      registries: all.length,
      latencyMs: { samples, median: Math.round(percentile(latencies, 50)), p90: Math.round(percentile(latencies, 90)), max: Math.round(latencies[latencies.length - 1]) },
      fleetCreatedSeconds: Number(fleetSeconds.toFixed(1)),
      operatorMemoryMiB: { idle: Math.round(idle.rss / 1024), converged: Math.round(converged.rss / 1024), peak: Math.round(converged.hwm / 1024) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const ok = result.latencyMs.median < 3000 && result.operatorMemoryMiB.peak < 150;
    process.stdout.write(`targets (median latency < 3 s, peak memory < 150 MiB): ${ok ? 'met' : 'NOT met'}\n`);
    return ok ? 0 : 1;
  } finally {
    controllers.stop();
    await operator?.stop();
    await cluster.stop();
  }
}
