/**
 * Wire compatibility with Quay's REST API for the tenancy resources (and quota's views): query parameters
 * read as Quay reads them, response keys, value formats and status codes Quay's own handlers produce, and the
 * endpoints the Quay UI calls (collaborators, entity search, client key, one authorization).
 */
import pg from 'pg';
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { Api, createUser, grantedActions, initialize, signin } from './fixture.js';

let reg: RegistryProcess;
let config: Record<string, unknown>;
let dbUri: string;
let admin: Api;
let owner: Api;
const pw: Record<string, string> = {};
const session: Record<string, Api> = {};

beforeAll(async () => {
  dbUri = await createTestDatabase('quaycompat');
  config = { DB_URI: dbUri, FEATURE_USER_INITIALIZE: true, SUPER_USERS: ['admin'], FEATURE_QUOTA_MANAGEMENT: true };
  reg = await startRegistry({ label: 'quay-compat', config });
  admin = (await initialize(reg)).api;
  for (const u of ['owner', 'alice', 'bob', 'carol']) {
    pw[u] = await createUser(admin, u);
    session[u] = await signin(reg, u, pw[u]);
  }
  owner = session.owner;
  await owner.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await owner.ok('PUT', '/organization/acme/robots/bot');
  await owner.ok('PUT', '/organization/acme/robots/loner');
  await owner.ok('POST', '/repository', { namespace: 'acme', repository: 'shared', visibility: 'private', description: '' });
});

afterAll(async () => {
  await reg?.stop();
});

async function sql(text: string, params: unknown[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: dbUri });
  await c.connect();
  try {
    await c.query(text, params);
  } finally {
    await c.end();
  }
}

const kinds = (logs: { logs: { kind: string }[] }) => logs.logs.map((l) => l.kind);

test('boolean query parameters are read as Quay reads them: True/False (Python requests), yes, 0', async () => {
  const repos = await owner.ok('GET', '/repository?namespace=acme&public=True&last_modified=True&popularity=False');
  expect(repos.repositories.map((r: { name: string }) => r.name)).toEqual(['shared']);
  expect(repos.repositories[0]).toHaveProperty('last_modified');
  expect(repos.repositories[0]).not.toHaveProperty('popularity');

  const robots = async (q: string) => (await owner.ok('GET', `/organization/acme/robots?${q}`)).robots.find((r: { name: string }) => r.name === 'acme+bot');
  expect(await robots('token=False')).not.toHaveProperty('token');
  expect(await robots('token=0')).not.toHaveProperty('token');
  expect((await robots('token=yes')).token).toEqual(expect.any(String));

  await admin.ok('PUT', '/superuser/users/carol', { enabled: false });
  const users = async (q: string) => (await admin.ok('GET', `/superuser/users/?${q}`)).users.map((u: { name: string }) => u.name);
  expect(await users('disabled=False')).not.toContain('carol');
  expect(await users('disabled=True')).toContain('carol');
  await admin.ok('PUT', '/superuser/users/carol', { enabled: true });
});

test("GET /user/ has Quay's profile and quota keys; PUT /user/ sets the time machine window, logged by Quay's kinds", async () => {
  const alice = session.alice;
  expect(await alice.ok('GET', '/user/')).toMatchObject({
    company: null,
    family_name: null,
    given_name: null,
    location: null,
    quotas: [],
    quota_report: { quota_bytes: 0, configured_quota: null },
  });
  expect((await alice.ok('PUT', '/user/', { tag_expiration_s: 604800 })).tag_expiration_s).toBe(604800);
  const bad = await alice.put('/user/', { tag_expiration_s: 1234 });
  expect(bad.status).toBe(400);
  expect(bad.body.error_message).toMatch(/Invalid tag expiration/);
  expect((await alice.ok('GET', '/user/')).tag_expiration_s).toBe(604800);
  pw.alice = 'alice-new-password';
  await alice.ok('PUT', '/user/', { password: pw.alice });
  expect(kinds(await alice.ok('GET', '/user/logs'))).toEqual(expect.arrayContaining(['account_change_password', 'user_change_tag_expiration']));
});

test('/users/{name} does not tell who is a superuser: the key is for superusers only, true only about themselves', async () => {
  expect(await session.bob.ok('GET', '/users/admin')).not.toHaveProperty('super_user');
  expect((await admin.ok('GET', '/users/admin')).super_user).toBe(true);
  expect((await admin.ok('GET', '/users/owner')).super_user).toBe(false);
});

test('notifications page by page/limit (default 5), dismissed ones drop out, team invitations are notifications with ids', async () => {
  for (let i = 1; i <= 6; i++) {
    await owner.ok('PUT', `/organization/acme/team/t${i}`, { role: 'member' });
    expect((await owner.ok('PUT', `/organization/acme/team/t${i}/members/bob`)).invited).toBe(true);
  }
  const bob = session.bob;
  const first = await bob.ok('GET', '/user/notifications');
  expect(first.notifications).toHaveLength(5);
  expect(first.additional).toBe(true);
  expect(await bob.ok('GET', '/user/notifications?page=1')).toEqual(first);
  const second = await bob.ok('GET', '/user/notifications?page=2');
  expect(second).toMatchObject({ additional: false, notifications: [expect.objectContaining({ kind: 'org_team_invite' })] });
  const all = (await bob.ok('GET', '/user/notifications?limit=10')).notifications;
  expect(all).toHaveLength(6);
  for (const n of all) {
    expect(n).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      kind: 'org_team_invite',
      organization: null,
      dismissed: false,
      metadata: { org: 'acme', inviter: 'owner', code: expect.any(String) },
    });
  }
  const byTeam = Object.fromEntries(all.map((n: { metadata: { team: string } }) => [n.metadata.team, n]));

  expect(await bob.ok('GET', `/user/notifications/${byTeam.t6.id}`)).toEqual(byTeam.t6);
  expect((await bob.ok('PUT', `/user/notifications/${byTeam.t6.id}`, { dismissed: true })).dismissed).toBe(true);
  const left = async () => (await bob.ok('GET', '/user/notifications?limit=10')).notifications.map((n: { metadata: { team: string } }) => n.metadata.team).sort();
  expect(await left()).toEqual(['t1', 't2', 't3', 't4', 't5']);

  // Accepting, declining or withdrawing an invitation removes its notification.
  expect(await bob.ok('PUT', `/teaminvite/${encodeURIComponent(byTeam.t1.metadata.code)}`)).toEqual({ org: 'acme', team: 't1' });
  await bob.ok('DELETE', `/teaminvite/${encodeURIComponent(byTeam.t2.metadata.code)}`);
  await owner.ok('DELETE', '/organization/acme/team/t3/members/bob');
  expect(await left()).toEqual(['t4', 't5']);
  // Now in the organization, bob is added to t4 at once: its pending invitation and notification go.
  expect((await owner.ok('PUT', '/organization/acme/team/t4/members/bob')).invited).toBe(false);
  expect(await left()).toEqual(['t5']);
});

test('organization view: e-mail empty for non-admins, team avatars and per-team can_view; PUT answers the full view', async () => {
  const asBob = await session.bob.ok('GET', '/organization/acme');
  expect(asBob).toMatchObject({ name: 'acme', email: '', is_admin: false, is_member: true });
  expect(asBob.teams.t1).toMatchObject({ can_view: true, avatar: { kind: 'team', name: 't1' } });
  expect(asBob.teams.owners.can_view).toBe(false);
  expect(asBob).not.toHaveProperty('tag_expiration_s');

  const changed = await owner.ok('PUT', '/organization/acme', { email: 'acme2@example.com', tag_expiration_s: 86400 });
  expect(changed).toMatchObject({ name: 'acme', email: 'acme2@example.com', is_admin: true, tag_expiration_s: 86400, ordered_teams: expect.arrayContaining(['owners', 't1']) });
  expect(changed.teams.owners).toMatchObject({ role: 'admin', can_view: true });
  expect(kinds(await owner.ok('GET', '/organization/acme/logs'))).toEqual(expect.arrayContaining(['org_change_email', 'org_change_tag_expiration']));
});

test('members are the humans with their direct repository permissions; collaborators; member details of robots', async () => {
  await owner.ok('PUT', '/organization/acme/team/t1/members/acme+bot');
  await owner.ok('PUT', '/repository/acme/shared/permissions/user/bob', { role: 'write' });
  await owner.ok('PUT', '/repository/acme/shared/permissions/user/carol', { role: 'read' });
  const { members } = await owner.ok('GET', '/organization/acme/members');
  expect(members.map((m: { name: string }) => m.name)).toEqual(['bob', 'owner']);
  const bob = members.find((m: { name: string }) => m.name === 'bob');
  expect(bob).toEqual({
    name: 'bob',
    kind: 'user',
    avatar: expect.objectContaining({ kind: 'user' }),
    teams: ['t1', 't4'].map((name) => ({ name, avatar: expect.objectContaining({ kind: 'team', name }) })),
    repositories: ['shared'],
  });

  expect(await owner.ok('GET', '/organization/acme/collaborators')).toEqual({
    collaborators: [{ kind: 'user', name: 'carol', avatar: expect.objectContaining({ name: 'carol' }), repositories: ['shared'] }],
  });
  expect(await owner.ok('GET', '/organization/acme/members/acme+bot')).toMatchObject({ name: 'acme+bot', kind: 'robot', teams: [{ name: 't1' }] });
  expect(await owner.ok('GET', '/organization/acme/members/acme+loner')).toMatchObject({ name: 'acme+loner', kind: 'robot', teams: [], repositories: [] });
  expect((await owner.ok('GET', '/organization/acme/members/bob')).repositories).toEqual(['shared']);
  expect((await owner.get('/organization/acme/members/alice')).status).toBe(404);
});

test('repository permissions: is_org_member as Quay computes it (robots count), team avatars, transitive 404 without any role', async () => {
  await owner.ok('PUT', '/repository/acme/shared/permissions/user/acme+loner', { role: 'read' });
  const { permissions } = await owner.ok('GET', '/repository/acme/shared/permissions/user/');
  expect(permissions.carol.is_org_member).toBe(false);
  expect(permissions.bob.is_org_member).toBe(true);
  expect(permissions['acme+loner']).toMatchObject({ is_robot: true, is_org_member: true, avatar: { kind: 'robot' } });
  expect((await owner.ok('GET', '/repository/acme/shared/permissions/user/acme+loner')).is_org_member).toBe(true);

  const alice = session.alice;
  await alice.ok('POST', '/repository', { repository: 'mine', visibility: 'private', description: '' });
  const onUserRepo = await alice.ok('PUT', '/repository/alice/mine/permissions/user/bob', { role: 'read' });
  expect(onUserRepo).toEqual({ role: 'read', name: 'bob', is_robot: false, avatar: expect.objectContaining({ kind: 'user' }) });
  const ownerRow = await alice.delete('/repository/alice/mine/permissions/user/alice');
  expect(ownerRow.status).toBe(400);
  expect(ownerRow.body.error_message).toBe('Namespace owner must always be admin.');
  expect((await alice.ok('GET', '/repository/alice/mine/permissions/user/alice')).role).toBe('admin');

  expect((await owner.get('/repository/acme/shared/permissions/user/alice/transitive')).status).toBe(404);
  expect(await owner.ok('GET', '/repository/acme/shared/permissions/user/bob/transitive')).toEqual({ permissions: [{ role: 'write' }] });
  expect((await owner.ok('PUT', '/repository/acme/shared/permissions/team/t1', { role: 'read' })).avatar).toMatchObject({ kind: 'team', name: 't1' });
});

test('default permissions show users and robots with avatar and membership, teams with a team avatar', async () => {
  const user = await owner.ok('POST', '/organization/acme/prototypes', { role: 'read', delegate: { kind: 'user', name: 'acme+loner' }, activating_user: { name: 'bob' } });
  expect(user).toEqual({
    id: expect.any(String),
    role: 'read',
    delegate: { name: 'acme+loner', kind: 'user', is_robot: true, is_org_member: true, avatar: expect.objectContaining({ kind: 'robot' }) },
    activating_user: { name: 'bob', kind: 'user', is_robot: false, is_org_member: true, avatar: expect.objectContaining({ kind: 'user' }) },
  });
  const team = await owner.ok('POST', '/organization/acme/prototypes', { role: 'write', delegate: { kind: 'team', name: 't1' } });
  expect(team).toEqual({ id: expect.any(String), role: 'write', activating_user: null, delegate: { name: 't1', kind: 'team', avatar: expect.objectContaining({ kind: 'team' }) } });
  expect((await owner.ok('PUT', `/organization/acme/prototypes/${team.id}`, { role: 'admin' })).delegate.avatar.kind).toBe('team');
  expect((await owner.ok('GET', '/organization/acme/prototypes')).prototypes).toEqual([user, { ...team, role: 'admin' }]);
});

test("OAuth: application tokens with ISO dates (200), and the user's authorizations as Quay shows them", async () => {
  const app = await owner.ok('POST', '/organization/acme/applications', { name: 'compat', application_uri: 'https://compat.example.com' });
  const created = await owner.call('POST', `/organization/acme/applications/${app.client_id}/tokens`, { name: 'ci', scope: 'repo:read user:read' });
  expect(created.status).toBe(200);
  const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
  expect(created.body).toMatchObject({ name: 'ci', created: expect.stringMatching(iso), expires_at: expect.stringMatching(iso), created_by: 'owner', token: expect.any(String) });
  const listed = await owner.ok('GET', `/organization/acme/applications/${app.client_id}/tokens`);
  expect(listed.tokens[0].created).toMatch(iso);

  const auths = (await owner.ok('GET', '/user/authorizations')).authorizations;
  const mine = auths.find((a: { uuid: string }) => a.uuid === created.body.uuid);
  expect(mine).toEqual({
    uuid: created.body.uuid,
    application: {
      name: 'compat',
      url: 'https://compat.example.com',
      avatar: expect.objectContaining({ kind: 'app', name: 'compat' }),
      organization: { name: 'acme', avatar: expect.objectContaining({ kind: 'org', name: 'acme' }) },
    },
    scopes: [
      { scope: 'repo:read', title: expect.any(String), description: expect.any(String), icon: 'fa-hdd-o', dangerous: false },
      { scope: 'user:read', title: expect.any(String), description: expect.any(String), icon: 'fa-user', dangerous: false },
    ],
  });
  expect(await owner.ok('GET', `/user/authorizations/${created.body.uuid}`)).toEqual(mine);
  expect((await session.bob.get(`/user/authorizations/${created.body.uuid}`)).status).toBe(404);
  expect(kinds(await owner.ok('GET', '/organization/acme/logs'))).toContain('create_oauth_api_token');
});

test('POST /user/clientkey: the encrypted password logs in to the registry; a wrong password is refused', async () => {
  const { key } = await owner.ok('POST', '/user/clientkey', { password: pw.owner });
  expect(key).not.toContain(pw.owner);
  expect(await grantedActions(reg, { username: 'owner', password: key }, 'owner/x', 'push')).toEqual(['push']);
  const wrong = await owner.post('/user/clientkey', { password: 'not-the-password' });
  expect(wrong.status).toBe(400);
});

test("entity search (/entities/{prefix}) finds users, the namespace's robots and teams, and the organization", async () => {
  const names = (r: { results: { name: string }[] }) => r.results.map((x) => x.name);
  const teams = await session.bob.ok('GET', '/entities/t?namespace=acme&includeTeams=true');
  expect(teams.results.filter((x: { kind: string }) => x.kind === 'team').map((x: { name: string }) => x.name)).toEqual(['t1', 't2', 't3', 't4', 't5', 't6']);
  expect(teams.results[0]).toEqual({ name: 't1', kind: 'team', is_org_member: true, avatar: expect.objectContaining({ kind: 'team' }) });
  expect((await owner.ok('GET', '/entities/lo?namespace=acme')).results).toEqual([
    { name: 'acme+loner', kind: 'user', is_robot: true, is_org_member: true, avatar: expect.objectContaining({ kind: 'robot' }) },
  ]);
  expect((await owner.ok('GET', '/entities/car?namespace=acme')).results).toEqual([
    { name: 'carol', kind: 'user', is_robot: false, is_org_member: false, avatar: expect.objectContaining({ kind: 'user' }) },
  ]);
  const plain = await session.alice.ok('GET', '/entities/bo');
  expect(plain.results).toEqual([{ name: 'bob', kind: 'user', is_robot: false, avatar: expect.objectContaining({ kind: 'user' }) }]);
  // Robots only from a namespace the caller belongs to.
  expect(names(await session.alice.ok('GET', '/entities/lo?namespace=acme'))).toEqual([]);
  expect(names(await owner.ok('GET', '/entities/ac?namespace=acme&includeOrgs=true'))).toContain('acme');
});

test('repository view: includeStats gives 90 days of usage, can_write is false unless the repository is NORMAL', async () => {
  const view = await owner.ok('GET', '/repository/acme/shared?includeStats=true');
  expect(view.stats).toHaveLength(90);
  const today = new Date().toISOString().slice(0, 10);
  expect(view.stats[89]).toEqual({ date: today, count: expect.any(Number) });
  expect(view.stats[89].count).toBeGreaterThan(0);
  expect(await owner.ok('GET', '/repository/acme/shared')).not.toHaveProperty('stats');

  await sql("UPDATE repository SET state = 'READ_ONLY' WHERE name = 'shared'");
  try {
    expect(await owner.ok('GET', '/repository/acme/shared')).toMatchObject({ state: 'READ_ONLY', can_write: false, can_admin: true });
  } finally {
    await sql("UPDATE repository SET state = 'NORMAL' WHERE name = 'shared'");
  }
  expect((await owner.ok('GET', '/repository/acme/shared')).can_write).toBe(true);
});

test('quota: a limit change answers with the whole quota; superuser listings carry quotas and quota_report', async () => {
  expect((await admin.call('POST', '/organization/acme/quota', { limit_bytes: 10485760 })).status).toBe(201);
  const [quota] = await admin.ok('GET', '/organization/acme/quota');
  await admin.ok('POST', `/organization/acme/quota/${quota.id}/limit`, { type: 'Warning', threshold_percent: 50 });
  const [{ limits }] = await admin.ok('GET', '/organization/acme/quota');
  const changed = await admin.ok('PUT', `/organization/acme/quota/${quota.id}/limit/${limits[0].id}`, { threshold_percent: 60 });
  expect(changed).toMatchObject({ id: quota.id, limit_bytes: 10485760, limits: [{ id: limits[0].id, type: 'Warning', limit_percent: 60 }] });

  const orgs = (await admin.ok('GET', '/superuser/organizations/')).organizations;
  expect(orgs.find((o: { name: string }) => o.name === 'acme')).toMatchObject({
    quotas: [{ id: quota.id, limit_bytes: 10485760, limits: [{ type: 'Warning', limit_percent: 60 }] }],
    quota_report: { quota_bytes: 0, configured_quota: 10485760 },
  });
  const users = (await admin.ok('GET', '/superuser/users/')).users;
  expect(users.find((u: { name: string }) => u.name === 'owner')).toMatchObject({ quotas: [], quota_report: { quota_bytes: 0, configured_quota: null } });
  expect(await admin.ok('GET', '/superuser/users/owner')).toMatchObject({ quotas: [] });
});

test('adding an unknown user to a team is a 400 "Unknown user", as in Quay', async () => {
  const r = await owner.put('/organization/acme/team/t1/members/nobody');
  expect(r.status).toBe(400);
  expect(r.body.error_message).toBe('Unknown user');
});

test("team changes are logged with Quay's kinds: creation, then one entry per attribute that changed", async () => {
  await owner.ok('PUT', '/organization/acme/team/logged', { role: 'member' });
  await owner.ok('PUT', '/organization/acme/team/logged', { role: 'member', description: 'the logged team' });
  await owner.ok('PUT', '/organization/acme/team/logged', { role: 'creator', description: 'the logged team' });
  await owner.ok('PUT', '/organization/acme/team/logged', { role: 'creator' });
  const { logs } = await owner.ok('GET', '/organization/acme/logs?filter=logged');
  const mine = logs.filter((l: { metadata: { team?: string } }) => l.metadata.team === 'logged').map((l: { kind: string }) => l.kind);
  expect(mine.reverse()).toEqual(['org_create_team', 'org_set_team_description', 'org_set_team_role']);
});

test("a taken or invalid robot name is Quay's data-model refusal: `{message}` only", async () => {
  const r = await owner.put('/organization/acme/robots/bot');
  expect(r.status).toBe(400);
  expect(r.body).toEqual({ message: 'Existing robot with name: acme+bot' });
  const badName = await owner.put('/organization/acme/robots/Bad_');
  expect(badName.status).toBe(400);
  expect(Object.keys(badName.body)).toEqual(['message']);
  expect(badName.body.message).toMatch(/^Invalid robot account name "Bad_"/);
});

test('migration 4 gives invitations pending before it their notification', async () => {
  expect((await owner.ok('PUT', '/organization/acme/team/t6/members/carol')).invited).toBe(true);
  // The state before the migration: an invitation without its notification.
  await sql("DELETE FROM notification WHERE kind = 'org_team_invite' AND target_id = (SELECT id FROM namespace WHERE name = 'carol')");
  await sql('DELETE FROM schema_migration WHERE version = 4');
  await reg.stop();
  reg = await startRegistry({ label: 'quay-compat', config, port: reg.port, dataDir: reg.dataDir });
  const carol = await signin(reg, 'carol', pw.carol);
  const [note] = (await carol.ok('GET', '/user/notifications')).notifications;
  expect(note).toMatchObject({ kind: 'org_team_invite', metadata: { org: 'acme', team: 't6', inviter: 'owner' } });
  expect(await carol.ok('PUT', `/teaminvite/${encodeURIComponent(note.metadata.code)}`)).toEqual({ org: 'acme', team: 't6' });
});
