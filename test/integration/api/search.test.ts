/**
 * Search as Quay 3.8 answers it (endpoints/api/search.py ConductSearch.get, ConductRepositorySearch.get;
 * data/model/repository.py get_filtered_matching_repositories), against the real registry process on Postgres:
 * result shapes, visibility, score order, pagination.
 */
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, createUser, signin } from './fixture.js';

let reg: RegistryProcess;
let alice: Api;
let bob: Api;
const anonymous = () => new Api(reg.url);

beforeAll(async () => {
  reg = await startRegistry({
    label: 'search',
    config: await scaleOutConfig({ SUPER_USERS: ['admin'], SEARCH_RESULTS_PER_PAGE: 2, SEARCH_MAX_RESULT_PAGE_COUNT: 3 }),
  });
  const admin = await signin(reg, 'admin', reg.admin.password);
  alice = await signin(reg, 'alice', await createUser(admin, 'alice'));
  bob = await signin(reg, 'bob', await createUser(admin, 'bob'));
  await alice.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  const repo = (api: Api, namespace: string, repository: string, visibility: string, description: string) =>
    api.ok('POST', '/repository', { namespace, repository, visibility, description });
  await repo(alice, 'acme', 'webapp', 'public', 'the frontend');
  await repo(alice, 'acme', 'secretweb', 'private', 'internal');
  await repo(alice, 'alice', 'web-tools', 'private', '');
  await repo(bob, 'bob', 'other', 'public', 'a web server');
  await repo(bob, 'bob', 'unrelated', 'public', 'nothing');
  await alice.ok('PUT', '/organization/acme/team/webteam', { role: 'member' });
  await alice.ok('PUT', '/organization/acme/robots/webbot');
  // Activity is what ranks repositories: bob's description match gets more than the name matches.
  for (let i = 0; i < 3; i++) await bob.ok('PUT', '/repository/bob/other', { description: 'a web server' });
  await bob.ok('POST', '/user/starred', { namespace: 'acme', repository: 'webapp' });
});

afterAll(async () => {
  await reg?.stop();
});

const names = (results: { namespace: { name: string }; name: string }[]) => results.map((r) => `${r.namespace.name}/${r.name}`);

test("find/repositories: Quay's page shape, only visible repositories, name matches a hundredfold over description matches", async () => {
  const anon = await anonymous().get('/find/repositories?query=WEB');
  expect(anon.status).toBe(200);
  expect(Object.keys(anon.body).sort()).toEqual(['has_additional', 'page', 'page_size', 'results', 'start_index']);
  expect(anon.body).toMatchObject({ has_additional: false, page: 1, page_size: 2, start_index: 0 });
  expect(names(anon.body.results)).toEqual(['acme/webapp', 'bob/other']);
  const hit = anon.body.results[0];
  expect(hit).toEqual({
    kind: 'repository',
    title: 'repo',
    namespace: { title: 'org', kind: 'organization', avatar: expect.objectContaining({ kind: 'org' }), name: 'acme', score: 1, href: '/organization/acme' },
    name: 'webapp',
    description: 'the frontend',
    is_public: true,
    score: 4,
    href: '/repository/acme/webapp',
  });
  expect(names((await bob.get('/find/repositories?query=web')).body.results)).toEqual(['acme/webapp', 'bob/other']);
  // alice sees her private repositories too: 4 hits, two pages of 2.
  const first = await alice.get('/find/repositories?query=web');
  expect(first.body).toMatchObject({ has_additional: true, page: 1, start_index: 0 });
  const second = await alice.get('/find/repositories?query=web&page=2');
  expect(second.body).toMatchObject({ has_additional: false, page: 2, start_index: 2 });
  const all = [...names(first.body.results), ...names(second.body.results)];
  expect(all.sort()).toEqual(['acme/secretweb', 'acme/webapp', 'alice/web-tools', 'bob/other']);
  // Name matches (score 100 × activity) before the description-only match, however busy it is.
  expect(all.indexOf('bob/other')).toBe(3);
  // Pages past SEARCH_MAX_RESULT_PAGE_COUNT are clamped to it; below 1 to 1.
  expect((await alice.get('/find/repositories?query=web&page=99')).body).toMatchObject({ page: 3, start_index: 4, results: [] });
  expect((await alice.get('/find/repositories?query=web&page=-5')).body).toMatchObject({ page: 1 });
});

test('find/repositories?includeUsage adds last_modified (when tagged), stars and popularity', async () => {
  const r = await anonymous().get('/find/repositories?query=webapp&includeUsage=true');
  expect(r.body.results).toHaveLength(1);
  expect(r.body.results[0]).toMatchObject({ stars: 1 });
  expect(typeof r.body.results[0].popularity).toBe('number');
  expect(r.body.results[0].last_modified).toBeUndefined();
  expect((await anonymous().get('/find/repositories?query=webapp')).body.results[0].stars).toBeUndefined();
});

test('find/all: teams, robots, repositories and namespaces the caller may see, sorted by LiquidMetal-scaled score', async () => {
  expect((await alice.get('/find/all')).body).toEqual({ results: [] });
  const r = await alice.get('/find/all?query=web');
  expect(r.status).toBe(200);
  const results = r.body.results as { kind: string; name: string; score: number; short_name?: string; href: string }[];
  const kinds = new Set(results.map((x) => x.kind));
  expect(kinds).toEqual(new Set(['team', 'robot', 'repository']));
  expect(results.find((x) => x.kind === 'team')).toMatchObject({ name: 'webteam', href: '/organization/acme/teams/webteam', organization: { name: 'acme', kind: 'organization' } });
  expect(results.find((x) => x.kind === 'robot')).toMatchObject({
    name: 'acme+webbot',
    short_name: 'webbot',
    title: 'robot',
    avatar: null,
    href: '/organization/acme?tab=robots&showRobot=acme+webbot',
  });
  for (let i = 1; i < results.length; i++) expect(results[i - 1].score).toBeGreaterThanOrEqual(results[i].score);
  // A repository (base 4) whose name starts with the query outranks a team (base 2).
  expect(results[0]).toMatchObject({ kind: 'repository', name: 'webapp' });
  // Strangers see neither the organization's teams and robots nor its private repositories.
  const strangers = (await bob.get('/find/all?query=web')).body.results as { kind: string; name: string }[];
  expect(strangers.map((x) => `${x.kind}:${x.name}`).sort()).toEqual(['repository:other', 'repository:webapp']);
  // Namespaces by prefix, those with a repository the caller can see.
  const ns = (await anonymous().get('/find/all?query=ac')).body.results;
  expect(ns).toEqual([
    { title: 'org', kind: 'organization', avatar: expect.objectContaining({ name: 'acme' }), name: 'acme', score: expect.any(Number), href: '/organization/acme' },
  ]);
  expect((await anonymous().get('/find/all?query=ali')).body.results).toEqual([]);
  expect((await alice.get('/find/all?query=ali')).body.results.map((x: { name: string }) => x.name)).toEqual(['alice']);
});
