/**
 * The user guide's chapter 14 (quota) and chapter 17 (API) command lines, run as printed — real `curl … | jq`
 * through bash — with only the host, the token and the ids the guide hard-codes substituted; each output is
 * checked against the sample output the guide shows (values that depend on the installation, such as ids,
 * sizes and times, by type).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../helpers/registry.js';
import { V2Client, randomBlob } from '../helpers/v2.js';
import { initialize } from '../integration/api/fixture.js';

const run = promisify(execFile);
let reg: RegistryProcess;
let token: string;

beforeAll(async () => {
  reg = await startRegistry({
    label: 'guide-cli',
    config: await scaleOutConfig({ FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true }),
  });
  token = (await initialize(reg)).token;
});

afterAll(async () => {
  await reg?.stop();
});

/** One of the guide's command lines, with its placeholders filled; jq's output parsed. */
async function sh(line: string): Promise<unknown> {
  const cmd = line.replaceAll('<token>', token).replaceAll('https://example-registry-quay-quay-enterprise.apps.docs.gcp.quaydev.org', reg.url);
  const { stdout } = await run('bash', ['-o', 'pipefail', '-c', cmd], { timeout: 60_000 });
  return JSON.parse(stdout);
}

const AUTH = `-H "Authorization: Bearer <token>" -H 'Content-Type: application/json'`;
const HOST = 'https://example-registry-quay-quay-enterprise.apps.docs.gcp.quaydev.org';

test('chapter 14: establishing, viewing and changing a quota with curl | jq', async () => {
  await sh(`curl -s -X POST ${AUTH} -d '{"name": "testorg", "email": "testorg@example.com"}' ${HOST}/api/v1/organization/ | jq`);
  // 14.4: no quota yet.
  expect(await sh(`curl -k -X GET ${AUTH} ${HOST}/api/v1/organization/testorg/quota | jq`)).toEqual([]);
  // 14.4.1
  expect(await sh(`curl -k -X POST ${AUTH} -d '{"limit_bytes": 10485760}' ${HOST}/api/v1/organization/testorg/quota | jq`)).toBe('Created');
  // 14.4.2
  const [quota] = (await sh(`curl -k -X GET ${AUTH} ${HOST}/api/v1/organization/testorg/quota | jq`)) as { id: number }[];
  // The guide's keys, and only those (Quay 3.8's quota_view).
  expect(quota).toEqual({ id: expect.any(Number), limit_bytes: 10485760, default_config: false, limits: [], default_config_exists: false });
  // 14.4.3 (the guide's quota id 1 is this installation's id)
  expect(await sh(`curl -k -X PUT ${AUTH} -d '{"limit_bytes": 104857600}' ${HOST}/api/v1/organization/testorg/quota/${quota.id} | jq`)).toMatchObject({
    id: quota.id,
    limit_bytes: 104857600,
    default_config: false,
    limits: [],
    default_config_exists: false,
  });
  // 14.4.4: an image pushed, then the usage the repository list reports.
  await V2Client.basic(reg).pushImage('testorg/ubuntu', '18.04', { layers: [randomBlob(4096)] });
  const listed = (await sh(`curl -k -X GET ${AUTH} '${HOST}/api/v1/repository?last_modified=true&namespace=testorg&popularity=true&public=true&quota=true' | jq`)) as {
    repositories: unknown[];
  };
  expect(listed.repositories).toEqual([
    {
      namespace: 'testorg',
      name: 'ubuntu',
      // As the guide's sample: a pushed repository has no description, and popularity counts whole past days
      // (Quay's daily action counter), so a repository pushed today shows 0.
      description: null,
      is_public: false,
      kind: 'image',
      state: 'NORMAL',
      quota_report: { quota_bytes: expect.any(Number), configured_quota: 104857600 },
      last_modified: expect.any(Number),
      popularity: 0,
      is_starred: false,
    },
  ]);
  // 14.5: Reject and Warning limits, then the quota shows them.
  expect(await sh(`curl -k -X POST ${AUTH} -d '{"type":"Reject","threshold_percent":80}' ${HOST}/api/v1/organization/testorg/quota/${quota.id}/limit | jq`)).toBe('Created');
  expect(await sh(`curl -k -X POST ${AUTH} -d '{"type":"Warning","threshold_percent":50}' ${HOST}/api/v1/organization/testorg/quota/${quota.id}/limit | jq`)).toBe('Created');
  const [withLimits] = (await sh(`curl -k -X GET ${AUTH} ${HOST}/api/v1/organization/testorg/quota | jq`)) as { limits: unknown[] }[];
  expect(withLimits.limits).toEqual(
    expect.arrayContaining([
      { id: expect.any(Number), type: 'Reject', limit_percent: 80 },
      { id: expect.any(Number), type: 'Warning', limit_percent: 50 },
    ]),
  );
  const org = (await sh(`curl -k -X GET ${AUTH} '${HOST}/api/v1/organization/testorg' | jq`)) as { quotas: unknown[]; quota_report: unknown };
  expect(org.quotas).toEqual([{ id: quota.id, limit_bytes: 104857600, limits: expect.any(Array) }]);
  expect(org.quota_report).toMatchObject({ quota_bytes: expect.any(Number), configured_quota: 104857600 });
});

test('chapter 17: listing and creating users, and the usage logs, with curl | jq', async () => {
  const before = (await sh(`curl -X GET -H "Authorization: Bearer <token>" ${HOST}/api/v1/superuser/users/ | jq`)) as { users: { username: string }[] };
  expect(before.users.map((u) => u.username)).toContain('admin');
  const created = await sh(
    `curl -H "Content-Type: application/json" -H "Authorization: Bearer <token>" -X POST --data '{ "username": "quaysample", "email": "quaysample@example.com", "access_token": true}' ${HOST}/api/v1/superuser/users/ | jq`,
  );
  expect(created).toEqual({ username: 'quaysample', email: 'quaysample@example.com', password: expect.any(String), encrypted_password: expect.any(String) });
  const after = (await sh(`curl -X GET -H "Authorization: Bearer <token>" ${HOST}/api/v1/superuser/users/ | jq`)) as {
    users: { username: string; kind: string; verified: boolean; super_user: boolean; enabled: boolean }[];
  };
  expect(after.users.find((u) => u.username === 'quaysample')).toMatchObject({ kind: 'user', verified: true, super_user: false, enabled: true });
  const logs = (await sh(`curl -X GET -k -H "Authorization: Bearer <token>" ${HOST}/api/v1/superuser/logs | jq`)) as {
    start_time: string;
    end_time: string;
    logs: { kind: string }[];
  };
  expect(logs).toMatchObject({ start_time: expect.any(String), end_time: expect.any(String) });
  expect(logs.logs.map((l) => l.kind)).toContain('user_create');
});
