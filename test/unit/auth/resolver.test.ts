/**
 * The permission resolver and the credential forms that have no REST API to create them (`$token` access
 * tokens come from builds), on a fresh database of the test bench's Postgres.
 */
import { defaultConfig } from '../../../config/index.js';
import { createTestDatabase, dropTestDatabase } from '../../setup/services.js';
import { openPostgres, type Db } from '../../../registry/db/index.js';
import { migrate } from '../../../registry/db/migrate.js';
import { Namespaces, type NamespaceRow } from '../../../registry/model/namespaces.js';
import { Repositories, type RepositoryRow } from '../../../registry/model/repositories.js';
import { UsageLogs } from '../../../registry/model/logs.js';
import { createTenancy, type Tenancy } from '../../../registry/model/tenancy.js';
import { hashToken } from '../../../registry/auth/secrets.js';
import type { Principal } from '../../../registry/auth/principal.js';

let uri: string;
let db: Db;
let t: Tenancy;
let repos: Repositories;
let alice: NamespaceRow;
let mine: RepositoryRow;
let other: RepositoryRow;

beforeAll(async () => {
  uri = await createTestDatabase('resolver');
  db = await openPostgres(uri);
  await migrate(db);
  const config = { ...defaultConfig(), SUPER_USERS: ['root'], FEATURE_SUPERUSERS_FULL_ACCESS: false };
  const namespaces = new Namespaces(db, config);
  repos = new Repositories(db);
  t = await createTenancy(db, config, namespaces, repos, new UsageLogs(db, () => undefined));
  alice = await namespaces.createUser({ name: 'alice', password: 'alice-password', email: null });
  await namespaces.createUser({ name: 'root', password: 'root-password', email: null });
  mine = (await repos.create(alice.id, 'mine', { visibility: 'private' })).repo;
  other = (await repos.create(alice.id, 'other', { visibility: 'private' })).repo;
  await db.query(`INSERT INTO access_token (repository_id, role, kind, token_name, token_hash) VALUES ($1, 'write', 'build-worker', $2, $3)`, [
    mine.id,
    'N'.repeat(32),
    hashToken('S'.repeat(32)),
  ]);
});

afterAll(async () => {
  await db?.close();
  await dropTestDatabase(uri);
});

const target = (repo: RepositoryRow) => ({ ref: { namespace: 'alice', name: repo.name, full: `alice/${repo.name}` }, namespace: alice, repo });

test('$token: one role on one repository, nothing elsewhere', async () => {
  const p = await t.auth.basic('$token', 'N'.repeat(32) + 'S'.repeat(32));
  expect(p).toMatchObject({ kind: 'token', role: 'write', repositoryId: mine.id });
  expect(await t.permissions.registryActions(p!, target(mine), ['pull', 'push', '*'])).toEqual(['pull', 'push']);
  expect(await t.permissions.registryActions(p!, target(other), ['pull', 'push'])).toEqual([]);
  expect(await t.auth.basic('$token', 'N'.repeat(32) + 'X'.repeat(32))).toBeNull();
});

test('OAuth scopes cap the owner: repo:read reads, cannot create, cannot act as superuser', async () => {
  const p: Principal = { kind: 'user', id: alice.id, name: 'alice', superuser: false, scopes: new Set(['repo:read']) };
  expect(await t.permissions.repositoryRole(p, target(mine))).toBe('read');
  expect(await t.permissions.canCreateIn(p, alice)).toBe(false);
  expect(await t.permissions.canAdminNamespace(p, alice)).toBe(false);
  const withCreate: Principal = { ...p, scopes: new Set(['repo:create']) };
  expect(await t.permissions.canCreateIn(withCreate, alice)).toBe(true);
  expect(await t.permissions.repositoryRole(withCreate, target(mine))).toBeNull();
  const root: Principal = { kind: 'user', id: 0, name: 'root', superuser: true, scopes: new Set(['repo:read']) };
  expect(t.permissions.isSuperuser(root)).toBe(false);
  expect(t.permissions.isSuperuser({ ...root, scopes: new Set(['super:user']) })).toBe(true);
  expect(t.permissions.isSuperuser({ ...root, scopes: undefined })).toBe(true);
});

test('a user robot holds only what it is given, only in its namespace', async () => {
  const bot = await t.robots.create(alice, 'ci', {});
  const p = (await t.auth.basic('alice+ci', bot.token))!;
  expect(p).toMatchObject({ kind: 'robot', name: 'alice+ci', ownerName: 'alice' });
  expect(await t.permissions.repositoryRole(p, target(mine))).toBeNull();
  expect(await t.permissions.canCreateIn(p, alice)).toBe(false);
  await t.repoPermissions.setUser(mine, { id: p.kind === 'robot' ? p.id : 0 }, 'read');
  expect(await t.permissions.repositoryRole(p, target(mine))).toBe('read');
  expect(await t.permissions.repositoryRole(p, target(other))).toBeNull();
  const regenerated = await t.robots.regenerate(alice, 'ci');
  expect(await t.auth.basic('alice+ci', bot.token)).toBeNull();
  expect(await t.auth.basic('alice+ci', regenerated.token)).not.toBeNull();
});
