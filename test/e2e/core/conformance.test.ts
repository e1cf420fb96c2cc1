/**
 * The OCI distribution-spec conformance suite (its Go module's runner, OCI_VERSION=1.1, all four categories)
 * against the registry in embedded mode and in Postgres + S3 mode, with basic auth and with token auth.
 */
import { startRegistry, scaleOutConfig, type RegistryProcess } from '../../helpers/registry.js';
import { runConformance } from '../../setup/tools.js';

/** Config types the suite's artifacts use; an administrator lists such types in ALLOWED_OCI_ARTIFACT_TYPES. */
const CONFORMANCE_ARTIFACTS = { ALLOWED_OCI_ARTIFACT_TYPES: { '*': ['*'] } };

interface Summary {
  passed: number;
  failed: number;
  failures: string[];
}

/** results.yaml lists each API and data set with its outcome (Pass, Fail, Disabled...). */
function summarize(results: Record<string, unknown> | undefined): Summary {
  const s: Summary = { passed: 0, failed: 0, failures: [] };
  for (const section of ['apis', 'data']) {
    for (const [name, outcome] of Object.entries((results?.[section] ?? {}) as Record<string, string>)) {
      if (outcome === 'Pass') s.passed++;
      else if (outcome !== 'Disabled') {
        s.failed++;
        s.failures.push(`${section}/${name}: ${outcome}`);
      }
    }
  }
  return s;
}

const modes: Array<[string, () => Promise<Record<string, unknown>>]> = [
  ['embedded', async () => CONFORMANCE_ARTIFACTS],
  ['Postgres + S3', () => scaleOutConfig(CONFORMANCE_ARTIFACTS)],
];

describe.each(modes)('OCI conformance, %s', (mode, makeConfig) => {
  let reg: RegistryProcess | undefined;
  afterEach(async () => {
    await reg?.stop();
    reg = undefined;
  });

  test.each([
    ['token auth', 'bearer'],
    ['basic auth', 'basic'],
  ])('%s: every test passes', async (auth, challenge) => {
    reg = await startRegistry({ config: { ...(await makeConfig()), V2_AUTH_CHALLENGE: challenge }, label: `conformance-${mode}` });
    const r = await runConformance({
      registry: reg.hostPort,
      repo1: 'admin/conformance/repo1',
      repo2: 'admin/conformance/repo2',
      username: reg.admin.username,
      password: reg.admin.password,
      version: '1.1',
      // Beyond the 1.1 defaults: upload cancel, digest headers everywhere, and tags as PUT parameters.
      extraEnv: { OCI_API_BLOBS_UPLOAD_CANCEL: 'true', OCI_API_BLOBS_DIGEST_HEADER: 'true', OCI_API_MANIFESTS_DIGEST_HEADER: 'true', OCI_API_MANIFESTS_TAG_PARAM: 'true' },
    });
    const summary = summarize(r.results);
    process.stdout.write(`conformance (${mode}, ${auth}): ${summary.passed} passed, ${summary.failed} failed\n`);
    expect(r.results).toBeDefined();
    // Mounting without `from` is optional in the spec. A registry token names the repositories it grants, and
    // the suite's token covers only the target, so the registry must not mount from a repository the token
    // cannot read (issue 13): it answers 202 and the suite records a skip. Basic credentials reach every
    // repository the user can read, so there the mount happens.
    expect(summary.failures).toEqual(challenge === 'bearer' ? ['apis/Blob anonymous mount: Skip'] : []);
    expect(summary.passed).toBeGreaterThanOrEqual(50);
    expect(r.code).toBe(0);
  });
});
