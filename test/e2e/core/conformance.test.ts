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

/** Walk results.yaml and count test outcomes; the shape is the runner's own, so be liberal in what we read. */
function summarize(results: unknown): Summary {
  const s: Summary = { passed: 0, failed: 0, failures: [] };
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${path}[${i}]`));
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    const status = typeof o.status === 'string' ? o.status.toLowerCase() : typeof o.result === 'string' ? o.result.toLowerCase() : undefined;
    if (status && typeof (o.name ?? o.test) === 'string') {
      if (/^(pass|passed|ok|success)$/.test(status)) s.passed++;
      else if (/^(fail|failed|error)$/.test(status)) {
        s.failed++;
        s.failures.push(`${path}/${String(o.name ?? o.test)}: ${JSON.stringify(o.error ?? o.message ?? '')}`);
      }
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
  };
  walk(results, '');
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
    });
    const summary = summarize(r.results);
    process.stdout.write(`conformance (${mode}, ${auth}): ${summary.passed} passed, ${summary.failed} failed\n`);
    expect(r.results).toBeDefined();
    expect(summary.failures).toEqual([]);
    expect(summary.passed).toBeGreaterThan(50);
    expect(r.code).toBe(0);
  });
});
