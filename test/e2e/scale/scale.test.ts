/**
 * Scale-out (issue #15), the short version of `npm run bench -- scale`: three replicas behind nginx on one
 * Postgres, one S3 bucket (blob GETs redirected to pre-signed URLs, the default) and one Redis; 20 clients
 * push and pull through nginx, one replica is SIGKILLed mid-run. Only requests in flight on the killed replica
 * may fail, nginx routes around it, and every push a client saw acknowledged is intact on the survivors.
 * The kill and the end wait for states (pushes acknowledged, operations after the kill), not for times.
 */
import { createTestRedisUrl } from '../../setup/services.js';
import { scaleOutConfig } from '../../helpers/registry.js';
import { redisConfig, startScaleCluster, type ScaleCluster } from '../../../bench/scale/cluster.js';
import { runLoad, seedImages } from '../../../bench/scale/load.js';
import { verifyImages } from '../../../bench/scale/verify.js';

let cluster: ScaleCluster;

beforeAll(async () => {
  const config = await scaleOutConfig({ FEATURE_PROXY_STORAGE: false, BUILDLOGS_REDIS: redisConfig(await createTestRedisUrl()) });
  cluster = await startScaleCluster({ replicas: 3, workers: 1, config });
});

afterAll(async () => {
  await cluster?.stop();
});

test('3 replicas behind nginx: a replica killed mid-run fails only its in-flight requests and loses no acknowledged push', async () => {
  const target = { url: cluster.url, hostPort: cluster.hostPort, admin: cluster.admin };
  const seeds = await seedImages({ ...target, repos: 4, layerBytes: 64 * 1024 });
  const killed = cluster.replicas[2];
  const survivors = cluster.replicas.filter((r) => r !== killed);

  const r = await runLoad({
    ...target,
    clients: 20,
    durationS: 10,
    pushShare: 0.3,
    layerBytes: 32 * 1024,
    seeds,
    kill: { atS: 4, minAcknowledged: 10, hostPort: killed.hostPort, run: () => cluster.kill(killed.index) },
    minAfterKill: { pulls: 20, pushes: 10 },
  });

  expect(r.kill).not.toBeNull();
  expect(killed.alive()).toBe(false);
  // No failure outside the kill: every failed request was in flight on the killed replica when it died.
  expect(r.otherFailures).toEqual([]);
  expect(r.failures).toHaveLength(r.killFailures.length);
  expect(r.ops.pull.failed + r.ops.push.failed).toBeLessThanOrEqual(r.killFailures.length);
  // Idempotent requests in flight on the dead replica were resent by nginx to a survivor: none of them failed.
  expect(r.killFailures.filter((f) => f.method === 'GET' || f.kind === 'manifest PUT')).toEqual([]);
  // nginx spread the load over all three, then routed around the dead one.
  for (const rep of cluster.replicas) expect(r.servedBy.get(rep.hostPort)?.before ?? 0).toBeGreaterThan(0);
  expect(r.servedBy.get(killed.hostPort)?.after ?? 0).toBe(0);
  for (const rep of survivors) expect(r.servedBy.get(rep.hostPort)?.after ?? 0).toBeGreaterThan(0);
  expect(r.afterKill.pushes).toBeGreaterThanOrEqual(10);
  expect(r.afterKill.pulls).toBeGreaterThanOrEqual(20);
  // Pulls went through the registry's redirect to S3 (no blob bytes through the replicas).
  expect(r.stats['S3 download'].count).toBe(r.stats['blob GET'].count);

  // Every acknowledged push, pulled back directly from the survivors: manifest bytes and every blob's hash.
  const v = await verifyImages(
    r.acknowledged,
    survivors.map((s) => s.reg),
    { service: cluster.hostPort, admin: cluster.admin },
  );
  expect(v.problems).toEqual([]);
  expect(v.checked).toBe(r.acknowledged.length);
  expect(r.acknowledged.length).toBeGreaterThanOrEqual(20);
});
