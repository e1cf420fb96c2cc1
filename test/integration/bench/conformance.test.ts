/**
 * The OCI distribution-spec conformance runner is built and wired (runConformance): against
 * Distribution 2.8 it passes the blob APIs and reports the referrers API, which 2.8 lacks, as failed.
 */
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { runConformance } from '../../setup/tools.js';

let reg: DistributionService;
beforeAll(async () => {
  reg = await startDistribution();
});
afterAll(async () => {
  await reg?.stop();
});

test('conformance suite (OCI_VERSION=1.1) runs against Distribution and reports per API', async () => {
  const r = await runConformance({ registry: reg.hostPort, repo1: 'bench/conf1', repo2: 'bench/conf2', extraEnv: { OCI_DATA_SHA512: 'false' } });
  expect(r.results).toBeDefined();
  const results = r.results as { config: Record<string, unknown>; apis: Record<string, string> };
  expect(results.config).toMatchObject({ registry: reg.hostPort, tls: 'disabled', version: '1.1', repo1: 'bench/conf1' });
  for (const api of ['Ping', 'Blob push', 'Blob post put', 'Blob head', 'Blob get', 'Blob mount', 'Blob delete', 'Manifest delete']) {
    expect([api, results.apis[api]]).toEqual([api, 'Pass']);
  }
  // Distribution 2.8 has no referrers API: the suite must notice, and the run must fail.
  expect(results.apis.Referrers).toBe('FAIL');
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^OCI Conformance Test: FAIL$/m);
});
