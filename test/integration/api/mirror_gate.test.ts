/**
 * The write gate with the mirroring feature's configuration: a repository in the MIRROR state takes /v2 pushes
 * from the robot its mirror configuration names (Quay: endpoints/v2/v2auth.py, MIRROR branch) and from nobody
 * else, not even its owner. The configuration row is written with SQL so that no upstream registry is needed.
 */
import pg from 'pg';
import { basicAuth, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client } from '../../helpers/v2.js';
import { signin } from './fixture.js';

let reg: RegistryProcess;
let dbUri: string;

beforeAll(async () => {
  const config = await scaleOutConfig({ FEATURE_REPO_MIRROR: true });
  dbUri = config.DB_URI as string;
  reg = await startRegistry({ label: 'mirror-gate', config });
});

afterAll(async () => {
  await reg?.stop();
});

test('MIRROR: the mirror robot pushes, the owner and another robot with write do not', async () => {
  const admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'mirrors', email: 'm@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'mirrors', repository: 'app', visibility: 'private', description: '' });
  const mirrorBot = await admin.ok<{ name: string; token: string }>('PUT', '/organization/mirrors/robots/sync');
  const otherBot = await admin.ok<{ name: string; token: string }>('PUT', '/organization/mirrors/robots/other');
  for (const bot of [mirrorBot, otherBot]) await admin.ok('PUT', `/repository/mirrors/app/permissions/user/${encodeURIComponent(bot.name)}`, { role: 'write' });
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO repo_mirror_config (repository_id, external_reference, robot_id, tag_rules, sync_interval)
       SELECT r.id, 'upstream.example/app', b.id, '{"rule_kind": "tag_glob_csv", "rule_value": ["*"]}', 3600
         FROM repository r JOIN namespace n ON n.id = r.namespace_id, namespace b
        WHERE n.name = 'mirrors' AND r.name = 'app' AND b.name = $1`,
      [mirrorBot.name],
    );
  } finally {
    await c.end();
  }
  expect(await admin.ok('PUT', '/repository/mirrors/app/changestate', { state: 'MIRROR' })).toEqual({ success: true });

  const robotClient = new V2Client(reg, basicAuth(mirrorBot.name, mirrorBot.token));
  await robotClient.pushImage('mirrors/app', 'synced');
  for (const client of [V2Client.basic(reg), new V2Client(reg, basicAuth(otherBot.name, otherBot.token))]) {
    const r = await client.req('POST', '/v2/mirrors/app/blobs/uploads/');
    expect(r.status).toBe(403);
    expect(((await r.json()) as { errors: { message: string }[] }).errors[0].message).toBe('repository app is mirrored: only its mirror robot may push');
  }
  expect((await V2Client.basic(reg).req('GET', '/v2/mirrors/app/manifests/synced', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status).toBe(200);
  // The REST API changes no tag of a mirrored repository, whoever asks.
  expect(await admin.put('/repository/mirrors/app/tag/other', { manifest_digest: 'sha256:' + '0'.repeat(64) })).toMatchObject({
    status: 503,
    body: { message: 'Repository is in read only or mirror mode: MIRROR' },
  });
});
