/**
 * The write gate and the token service's downscoping over it, on a real Postgres: repository states (the
 * MIRROR state's robot named by the mirroring feature's lookup), REGISTRY_STATE readonly, DISABLE_PUSHES.
 */
import { defaultConfig } from '../../../config/index.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';
import { openPostgres, type Db } from '../../../registry/db/index.js';
import { migrate } from '../../../registry/db/migrate.js';
import { Namespaces, type NamespaceRow } from '../../../registry/model/namespaces.js';
import { Repositories, type RepositoryRow } from '../../../registry/model/repositories.js';
import { UsageLogs } from '../../../registry/model/logs.js';
import { createTenancy, type Tenancy } from '../../../registry/model/tenancy.js';
import { WriteGate, READ_ONLY_MESSAGE, PUSHES_DISABLED_MESSAGE } from '../../../registry/model/write_gate.js';
import { ReadOnly } from '../../../registry/model/errors.js';
import { toRegistryError } from '../../../registry/http/v2/errors.js';
import { toApiError } from '../../../registry/http/api/errors.js';
import type { Principal } from '../../../registry/auth/principal.js';

let uri: string;
let db: Db;
let t: Tenancy;
let repos: Repositories;
let acme: NamespaceRow;
let repo: RepositoryRow;
let owner: Principal;
let mirrorBot: Extract<Principal, { kind: 'robot' }>;
let otherBot: Extract<Principal, { kind: 'robot' }>;

beforeAll(async () => {
  uri = await createTestDatabase('writegate');
  db = await openPostgres(uri);
  await migrate(db);
  const config = { ...defaultConfig(), FEATURE_REPO_MIRROR: true };
  const namespaces = new Namespaces(db, config);
  repos = new Repositories(db);
  // The mirroring feature's lookup: here a table of this test, as the feature keeps its own configuration.
  await db.query('CREATE TABLE test_mirror (repository_id BIGINT PRIMARY KEY, robot_id BIGINT NOT NULL)');
  t = await createTenancy(db, config, namespaces, repos, new UsageLogs(db, () => undefined), {
    mirrorRobot: async (id, q) =>
      (await q.query<{ robot_id: string }>('SELECT robot_id FROM test_mirror WHERE repository_id = $1', [id])).rows.map((r) => Number(r.robot_id))[0] ?? null,
  });
  const user = await namespaces.createUser({ name: 'owner', password: 'owner-password', email: null });
  owner = { kind: 'user', id: user.id, name: 'owner', superuser: false };
  acme = await t.orgs.create({ name: 'acme', email: null, creator: user });
  repo = (await repos.create(acme.id, 'app', { visibility: 'private' })).repo;
  for (const short of ['mirror', 'other']) await t.robots.create(acme, short, {});
  const bot = async (short: string): Promise<Extract<Principal, { kind: 'robot' }>> => {
    const r = await t.robots.get(acme, short);
    await t.repoPermissions.setUser(repo, { id: r.id }, 'write');
    return { kind: 'robot', id: r.id, name: `acme+${short}`, ownerId: acme.id, ownerName: 'acme' };
  };
  mirrorBot = await bot('mirror');
  otherBot = await bot('other');
  await db.query('INSERT INTO test_mirror VALUES ($1, $2)', [repo.id, mirrorBot.id]);
});

afterAll(async () => {
  await db?.close();
  await dropTestDatabase(uri);
});

const target = () => ({ ref: { namespace: 'acme', name: 'app', full: 'acme/app' }, namespace: acme, repo });

async function setState(state: 'NORMAL' | 'READ_ONLY' | 'MIRROR') {
  expect(await t.writeGate.setState(repo.id, state)).toBe(true);
  repo = (await repos.byId(repo.id))!;
}

/** The gate's refusal as the protocol that asked renders it (status, code, message, extra fields), or null. */
async function refusal(p: Principal, path: 'v2' | 'api', gate = t.writeGate, r: typeof repo | null = repo) {
  try {
    await gate.check(p, r, path);
    return null;
  } catch (e) {
    if (!(e instanceof ReadOnly)) throw e;
    if (path === 'v2') return { reason: e.reason, ...pick(toRegistryError(e)) };
    const a = toApiError(e);
    return { reason: e.reason, ...pick(a), extra: a.extra };
  }
}

const pick = (e: { status: number; message: string; code?: string }) => ({ status: e.status, message: e.message, ...(e.code ? { code: e.code } : {}) });

test('NORMAL: writers push; READ_ONLY: nobody, on either protocol, and tokens carry no push', async () => {
  await setState('NORMAL');
  expect(await t.permissions.registryActions(owner, target(), ['pull', 'push', '*'])).toEqual(['pull', 'push', '*']);
  expect(await refusal(owner, 'v2')).toBeNull();
  await setState('READ_ONLY');
  expect(await t.permissions.registryActions(owner, target(), ['pull', 'push', 'delete', '*'])).toEqual(['pull']);
  expect(await t.permissions.registryActions(mirrorBot, target(), ['pull', 'push'])).toEqual(['pull']);
  const v2 = await refusal(owner, 'v2');
  expect(v2).toMatchObject({ code: 'DENIED', status: 403, reason: 'repository_state', message: 'repository app is in read-only mode' });
  expect(await refusal(owner, 'api')).toMatchObject({ status: 503, message: 'Repository is in read only or mirror mode: READ_ONLY' });
});

test('MIRROR: only the robot the mirror configuration names may push, and only on /v2', async () => {
  await setState('MIRROR');
  expect(await t.permissions.registryActions(mirrorBot, target(), ['pull', 'push'])).toEqual(['pull', 'push']);
  expect(await t.permissions.registryActions(otherBot, target(), ['pull', 'push'])).toEqual(['pull']);
  expect(await t.permissions.registryActions(owner, target(), ['pull', 'push'])).toEqual(['pull']);
  expect(await refusal(mirrorBot, 'v2')).toBeNull();
  expect((await refusal(otherBot, 'v2'))?.message).toBe('repository app is mirrored: only its mirror robot may push');
  expect(await refusal(owner, 'v2')).not.toBeNull();
  expect((await refusal(mirrorBot, 'api'))?.status).toBe(503);
  // Without a mirror configuration nobody pushes into a MIRROR repository.
  await db.query('DELETE FROM test_mirror');
  expect(await refusal(mirrorBot, 'v2')).not.toBeNull();
  await setState('NORMAL');
});

test("the repository state column accepts only Quay's states", async () => {
  await expect(db.query("UPDATE repository SET state = 'BROKEN' WHERE id = $1", [repo.id])).rejects.toThrow(/repository_state_known/);
});

test('REGISTRY_STATE readonly refuses every write on both protocols; DISABLE_PUSHES only on /v2', async () => {
  const readonly = new WriteGate(db, { REGISTRY_STATE: 'readonly', DISABLE_PUSHES: false });
  expect(await refusal(owner, 'v2', readonly)).toMatchObject({ status: 405, code: 'DENIED', message: READ_ONLY_MESSAGE, reason: 'registry_readonly' });
  expect(await refusal(owner, 'api', readonly, null)).toMatchObject({ status: 503, extra: { is_readonly: true } });
  const noPush = new WriteGate(db, { REGISTRY_STATE: 'normal', DISABLE_PUSHES: true });
  expect(await refusal(owner, 'v2', noPush, null)).toMatchObject({ status: 405, message: PUSHES_DISABLED_MESSAGE, reason: 'pushes_disabled' });
  await expect(noPush.check(owner, repo, 'api')).resolves.toBeUndefined();
});
