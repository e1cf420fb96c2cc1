/**
 * `serve --workers 2`: two HTTP worker processes share the port; the background workers run in one of them;
 * /metrics adds up both and shows each one's RSS; cached manifests follow a tag change in both processes; a
 * worker that dies is started again; SIGTERM stops them all cleanly.
 */
import { request } from 'node:http';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { OCI_MANIFEST, V2Client } from '../../helpers/v2.js';
import { sleep } from '../gc/lib.js';

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

test('two processes answer, /metrics covers both, background work runs in one', async () => {
  // Worker 0 answers first (it migrates alone); worker 1 joins once it listens.
  let pids = await workerPids();
  for (let i = 0; i < 300 && pids.size < 2; i++) {
    await sleep(200);
    pids = await workerPids();
  }
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
