/**
 * Paging of a repository's build history (`GET …/build/?limit=N&next_page=…`, an addition to Quay's API for the
 * Builds tab): pages follow each other newest first without gaps or repeats, also when a build is queued
 * between two pages; the token is bound to its repository and its `since`; the last page has no token.
 * Embedded registry, no build manager (builds stay queued).
 */
import { startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { Api, signin } from '../api/fixture.js';

let reg: RegistryProcess;
let admin: Api;

async function startBuild(repo: string, tag: string): Promise<string> {
  const drop = await admin.ok<{ file_id: string }>('POST', '/filedrop/', { mimeType: 'text/plain' });
  expect((await fetch(`${reg.url}/userfiles/${drop.file_id}`, { method: 'PUT', body: 'FROM scratch\n' })).status).toBe(200);
  return (await admin.ok<{ id: string }>('POST', `/repository/acme/${repo}/build/`, { file_id: drop.file_id, docker_tags: [tag] })).id;
}

type Page = { builds: { id: string }[]; next_page?: string };
const list = (repo: string, query: string) => admin.ok<Page>('GET', `/repository/acme/${repo}/build/?${query}`);

beforeAll(async () => {
  reg = await startRegistry({ label: 'build-paging', config: { FEATURE_BUILD_SUPPORT: true, BUILD_MANAGER: ['external', {}] } });
  admin = await signin(reg, 'admin', reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  for (const name of ['app', 'other']) await admin.ok('POST', '/repository', { namespace: 'acme', repository: name, visibility: 'private', description: '' });
  for (let i = 0; i < 7; i++) await startBuild('app', `v${i}`);
  await startBuild('other', 'x');
});

afterAll(async () => {
  await reg?.stop();
});

test('pages of 3 cover the history newest first, once each; the last page has no next_page', async () => {
  const all = (await list('app', 'limit=100')).builds.map((b) => b.id);
  expect(all).toHaveLength(7);
  const first = await list('app', 'limit=3');
  expect(first.next_page).toEqual(expect.any(String));
  // A build queued now is newer than every page: it does not shift the pages already handed out.
  const newest = await startBuild('app', 'late');
  const second = await list('app', `limit=3&next_page=${encodeURIComponent(first.next_page!)}`);
  const third = await list('app', `limit=3&next_page=${encodeURIComponent(second.next_page!)}`);
  expect([first, second, third].flatMap((p) => p.builds.map((b) => b.id))).toEqual(all);
  expect(third.builds).toHaveLength(1);
  expect(third.next_page).toBeUndefined();
  expect((await list('app', 'limit=3')).builds[0].id).toBe(newest);
  // Quay's answer when everything fits: no token at all.
  expect(Object.keys(await list('app', 'limit=100'))).toEqual(['builds']);
});

test('a token is refused for another repository, another since, or when forged: 400 in Quay’s error format', async () => {
  const token = (await list('app', 'limit=2')).next_page!;
  for (const [repo, query] of [
    ['other', `limit=2&next_page=${encodeURIComponent(token)}`],
    ['app', `limit=2&since=1&next_page=${encodeURIComponent(token)}`],
    ['app', 'limit=2&next_page=forged'],
  ]) {
    const r = await admin.call('GET', `/repository/acme/${repo}/build/?${query}`);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error_message: 'Invalid or expired next_page token' });
  }
});

test('since with paging: only builds since then, in pages', async () => {
  const since = Math.floor(Date.now() / 1000) - 3600;
  const first = await list('app', `limit=5&since=${since}`);
  const second = await list('app', `limit=5&since=${since}&next_page=${encodeURIComponent(first.next_page!)}`);
  expect([...first.builds, ...second.builds].map((b) => b.id)).toEqual((await list('app', 'limit=100')).builds.map((b) => b.id));
  expect((await list('app', `limit=5&since=${Math.floor(Date.now() / 1000) + 3600}`)).builds).toEqual([]);
});
