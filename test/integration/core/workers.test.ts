/**
 * `serve --workers 2`: two HTTP worker processes share the port; the background workers run in one of them;
 * /metrics adds up both and shows each one's RSS; cached manifests follow a tag change in both processes; a
 * worker that dies is started again; SIGTERM stops them all cleanly; a password verified by one process is
 * known to the other (no second bcrypt), and a changed password or a disabled account is refused by both.
 */
import { request } from 'node:http';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { OCI_MANIFEST, V2Client } from '../../helpers/v2.js';
import { sleep } from '../gc/lib.js';
import { createUser, signin } from '../api/fixture.js';

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistry({ label: 'workers', config: await scaleOutConfig(), env: { WORKERS: '2' } });
});

afterAll(async () => {
  await reg?.stop();
});

/** One request on a connection of its own, so that the kernel may hand it to either worker process. */
function fresh(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request(`${reg.url}${path}`, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

async function workerPids(): Promise<Map<string, number>> {
  const text = (await fresh('/metrics')).body;
  const pids = new Map<string, number>();
  for (const m of text.matchAll(/^quay_worker_resident_memory_bytes\{worker="(\d+)",pid="(\d+)"\} (\d+)/gm)) {
    expect(Number(m[3])).toBeGreaterThan(10 * 1024 * 1024);
    pids.set(m[1], Number(m[2]));
  }
  return pids;
}

/** Worker 0 answers first (it migrates alone); worker 1 joins once it listens. */
async function bothListening(): Promise<Map<string, number>> {
  let pids = await workerPids();
  for (let i = 0; i < 300 && pids.size < 2; i++) {
    await sleep(200);
    pids = await workerPids();
  }
  return pids;
}

test('two processes answer, /metrics covers both, background work runs in one', async () => {
  const pids = await bothListening();
  expect([...pids.keys()].sort()).toEqual(['0', '1']);
  expect(new Set(pids.values()).size).toBe(2);
  for (let i = 0; i < 20; i++) expect((await fresh('/v2/')).status).toBe(401);
  const text = (await fresh('/metrics')).body;
  const served = [...text.matchAll(/^quay_http_requests_total\{route="v2_base",method="GET",status="401"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  expect(served).toBeGreaterThanOrEqual(20);
  expect(text).toMatch(/^quay_primary_resident_memory_bytes \d+/m);
  const listening = reg
    .output()
    .split('\n')
    .filter((l) => l.includes('"registry listening"'));
  expect(listening.filter((l) => l.includes('"background":true'))).toHaveLength(1);
  expect(listening.filter((l) => l.includes('"background":false'))).toHaveLength(1);
});

test('a tag moved or deleted through one process is seen by both at once', async () => {
  const client = V2Client.basic(reg);
  const auth = { authorization: `Basic ${Buffer.from(`${reg.admin.username}:${reg.admin.password}`).toString('base64')}`, accept: OCI_MANIFEST };
  const first = await client.pushImage('admin/workers', 'v1');
  for (let i = 0; i < 8; i++) expect((await fresh('/v2/admin/workers/manifests/v1', auth)).headers['docker-content-digest']).toBe(first.digest);
  const second = await client.pushImage('admin/workers', 'v1');
  for (let i = 0; i < 8; i++) expect((await fresh('/v2/admin/workers/manifests/v1', auth)).headers['docker-content-digest']).toBe(second.digest);
  expect((await client.req('DELETE', '/v2/admin/workers/manifests/v1')).status).toBe(202);
  for (let i = 0; i < 8; i++) expect((await fresh('/v2/admin/workers/manifests/v1', auth)).status).toBe(404);
});

/** The password cache's figures summed over both processes: entries held and lookups that missed. */
async function passwordCache(): Promise<{ entries: number; misses: number }> {
  const text = (await fresh('/metrics')).body;
  const value = (re: RegExp) => Number(text.match(re)?.[1] ?? NaN);
  return {
    entries: value(/^quay_cache_entries\{cache="password"\} (\d+)/m),
    misses: value(/^quay_cache_lookups_total\{cache="password",result="miss"\} (\d+)/m),
  };
}

/** Polls until both processes hold `entries` remembered passwords (each worker learns the other's at once, through the primary). */
async function untilEntries(entries: number): Promise<void> {
  for (let i = 0; i < 150 && (await passwordCache()).entries !== entries; i++) await sleep(200);
  expect((await passwordCache()).entries).toBe(entries);
}

test('a password verified by one process is known to the other; a changed password or a disabled account is refused by both', async () => {
  expect((await bothListening()).size).toBe(2);
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  // Only the admin's password was checked so far (by the earlier tests and this sign-in): one entry in each process.
  await untilEntries(2);
  const password = await createUser(admin, 'shared-password');
  const tokenStatus = async (secret: string) =>
    (
      await fresh(`/v2/auth?service=${encodeURIComponent(reg.hostPort)}&scope=repository:shared-password/app:pull`, {
        authorization: `Basic ${Buffer.from(`shared-password:${secret}`).toString('base64')}`,
      })
    ).status;

  expect(await tokenStatus(password)).toBe(200);
  await untilEntries(4);
  // Ten connections of their own, spread over both processes: every one is answered from the cache, none pays a bcrypt check.
  const before = await passwordCache();
  for (let i = 0; i < 10; i++) expect(await tokenStatus(password)).toBe(200);
  expect(await passwordCache()).toEqual(before);

  await admin.ok('PUT', '/superuser/users/shared-password', { password: 'changed-password-1' });
  for (let i = 0; i < 8; i++) expect(await tokenStatus('changed-password-1')).toBe(200);
  // The old password is remembered in both processes, but under the old stored hash: refused (the login backoff
  // answers 429 to the attempts after the first failure; either way no token).
  for (let i = 0; i < 8; i++) expect([401, 429]).toContain(await tokenStatus(password));

  // The new password is remembered in both processes now; a disabled account is refused all the same.
  await admin.ok('PUT', '/superuser/users/shared-password', { enabled: false });
  for (let i = 0; i < 8; i++) expect(await tokenStatus('changed-password-1')).toBe(401);
});

test('a worker process that dies is started again; SIGTERM stops every process with exit code 0', async () => {
  const before = await workerPids();
  process.kill(before.get('1')!, 'SIGKILL');
  let after = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    await sleep(200);
    try {
      after = await workerPids();
    } catch {
      continue;
    }
    if (after.get('1') && after.get('1') !== before.get('1')) break;
  }
  expect(after.get('1')).toBeDefined();
  expect(after.get('1')).not.toBe(before.get('1'));
  expect(after.get('0')).toBe(before.get('0'));

  await reg.stop();
  expect(await reg.process.exited).toBe(0);
  for (const pid of after.values()) expect(() => process.kill(pid, 0)).toThrow();
});
