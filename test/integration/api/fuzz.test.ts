/**
 * The REST API fuzzed from its own OpenAPI document (issue 13's fault campaign): schemathesis (PyPI, installed by
 * test/setup/install.sh) reads `/api/v1/discovery` of a running registry (Postgres, S3) and sends generated
 * requests to every operation, as a superuser with an OAuth token holding every scope, then anonymously. A run
 * fails on any 5xx and on any response that violates its documented schema, and on any 5xx or double reply the
 * registry itself logged (a reply sent twice is answered to the client but logged and counted as a 500).
 *
 * The CI budget is deterministic (`--generation-deterministic`, FUZZ_EXAMPLES cases per operation, default 2);
 * `npm run fuzz` runs the long variant (FUZZ_EXAMPLES=50).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client } from '../../helpers/v2.js';
import { clientSandbox, tool } from '../../setup/tools.js';
import { workDir } from '../../setup/paths.js';
import { oauthToken, signin, type Api } from './fixture.js';
import { SCOPES } from '../../../registry/auth/principal.js';

const EXAMPLES = Number(process.env.FUZZ_EXAMPLES ?? 2);

let reg: RegistryProcess;
let admin: Api;
let token: string;
let dir: string;
/** Operations in the document: every one must have been fuzzed at least once. */
let operations: number;

beforeAll(async () => {
  reg = await startRegistry({ label: 'fuzz', config: await scaleOutConfig() });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  // The token's application lives in an organization of its own, which the fixed parameters below never name,
  // so the fuzzer deleting the fixture organization does not revoke the token half-way.
  await admin.ok('POST', '/organization/', { name: 'fuzztokens', email: 'fuzztokens@example.com' });
  token = await oauthToken(admin, 'fuzztokens', SCOPES.join(' '));
  // Something real to find: an organization with a repository holding a tagged image.
  await admin.ok('POST', '/organization/', { name: 'fuzzorg', email: 'fuzzorg@example.com' });
  await V2Client.basic(reg).pushImage('fuzzorg/app', 'latest');
  const doc = (await (await fetch(`${reg.url}/api/v1/discovery`)).json()) as { paths: Record<string, Record<string, unknown>> };
  operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  dir = workDir('fuzz-st');
  // Path parameters pinned to the fixtures, so generated requests reach the handlers behind the lookups.
  writeFileSync(
    join(dir, 'schemathesis.toml'),
    [
      '[parameters]',
      '"path.repository" = "fuzzorg/app"',
      '"path.orgname" = "fuzzorg"',
      '"path.namespace" = "fuzzorg"',
      '"path.teamname" = "owners"',
      '"path.tag" = "latest"',
      '',
    ].join('\n'),
  );
}, 300_000);

afterAll(async () => {
  await reg?.stop();
});

/** Runs schemathesis; returns its summary counts (it exits non-zero on any failed check). */
async function fuzz(label: string, phases: string, headers: string[]): Promise<{ generated: number; passed: number }> {
  const sb = clientSandbox(`fuzz-${label}`);
  const before = reg.output().length;
  const r = await sb.run(
    tool('st'),
    [
      '--config-file',
      join(dir, 'schemathesis.toml'),
      'run',
      `${reg.url}/api/v1/discovery`,
      '--url',
      reg.url,
      ...headers.flatMap((h) => ['-H', h]),
      '--checks',
      'not_a_server_error,response_schema_conformance',
      '--phases',
      phases,
      '--max-examples',
      String(EXAMPLES),
      '--generation-deterministic',
      '--workers',
      '2',
      '--request-timeout',
      '60',
      '--no-color',
    ],
    { allowFail: true, timeoutMs: 1_800_000 },
  );
  const out = r.stdout + r.stderr;
  const summary = /(\d+) generated, (\d+) passed/.exec(out) ?? /(\d+) generated.*?(\d+) passed/s.exec(out);
  expect({ label, code: r.code, failures: r.code === 0 ? '' : out.slice(-6000) }).toEqual({ label, code: 0, failures: '' });
  expect(summary).not.toBeNull();
  // What the registry logged during the run: no request answered 5xx, no reply sent twice.
  const logged = reg.output().slice(before);
  const serverErrors = logged.split('\n').filter((l) => /"status":5\d\d/.test(l) || l.includes('Reply was already sent'));
  expect(serverErrors.slice(0, 5)).toEqual([]);
  const counts = { generated: Number(summary![1]), passed: Number(summary![2]) };
  process.stdout.write(`schemathesis ${label}: ${counts.generated} cases, ${counts.passed} passed, phases ${phases}, ${EXAMPLES} per operation\n`);
  return counts;
}

// Found by the fuzz run: handlers that sent their reply without returning it answered the client, then fastify
// sent again once the REST API's asynchronous onSend hook (the cache fence) let the first reply go, failed, and
// logged and counted the request as a 500.
// It runs before the fuzz runs, which may change the superuser's password and sessions.
test('a REST write answers once: no double reply, the request logged with its own status', async () => {
  const before = reg.output().length;
  await admin.ok('POST', '/messages', { message: { content: 'maintenance tonight', media_type: 'text/plain', severity: 'info' } });
  const { messages } = await admin.ok<{ messages: Array<{ uuid: string }> }>('GET', '/messages');
  expect((await admin.delete(`/message/${messages[0].uuid}`)).status).toBe(204);
  expect((await admin.post('/superuser/registrysize/')).status).toBe(201);
  await admin.ok('PUT', '/organization/fuzzorg/team/readers', { role: 'member' });
  expect((await admin.delete('/organization/fuzzorg/team/readers')).status).toBe(204);
  // The request log is written after each answer: wait until all six requests are in it. Only these six: the
  // log line of a request made just before (the fixture's last one) may still reach the output after `before`.
  const ours = /^\/api\/v1\/(messages$|message\/|superuser\/registrysize\/$|organization\/fuzzorg\/team\/readers$)/;
  const requestLines = () =>
    reg
      .output()
      .slice(before)
      .split('\n')
      .slice(0, -1) // complete lines only: the output may end inside a line
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { method: string; url: string; status: number })
      .filter((l) => ours.test(l.url));
  for (const end = Date.now() + 30_000; requestLines().length < 6 && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
  // Each request logged once, with the status its client got.
  expect(requestLines().map((l) => `${l.method} ${l.url.replace(messages[0].uuid, '<uuid>')} ${l.status}`)).toEqual([
    'POST /api/v1/messages 201',
    'GET /api/v1/messages 200',
    'DELETE /api/v1/message/<uuid> 204',
    'POST /api/v1/superuser/registrysize/ 201',
    'PUT /api/v1/organization/fuzzorg/team/readers 200',
    'DELETE /api/v1/organization/fuzzorg/team/readers 204',
  ]);
  expect(reg.output().slice(before)).not.toContain('Reply was already sent');
});

test('as a superuser with an OAuth token of every scope: no 5xx, no schema violation', async () => {
  const { generated } = await fuzz('superuser', 'coverage,fuzzing', [`Authorization: Bearer ${token}`]);
  expect(generated).toBeGreaterThanOrEqual(operations);
}, 1_800_000);

test('anonymous: no 5xx, no schema violation', async () => {
  const { generated } = await fuzz('anonymous', 'fuzzing', []);
  expect(generated).toBeGreaterThanOrEqual(operations);
}, 1_800_000);
