/**
 * The HTTP server's edge (issue 13, finding 8): X-Forwarded-For believed only from TRUSTED_PROXIES, idle
 * connections (a stalled upload body) closed and their descriptors released, the WWW-Authenticate realm built
 * from SERVER_HOSTNAME whatever the Host header says, and secrets in query strings redacted in the request
 * log. Real registry processes (embedded mode: PGlite and the filesystem, whose descriptors we count).
 */
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, basicAuth, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from './fixture.js';

let reg: RegistryProcess;
let proxied: RegistryProcess;
const IDLE_S = 3;

beforeAll(async () => {
  [reg, proxied] = await Promise.all([
    startRegistry({ label: 'edge-server', env: { HTTP_IDLE_TIMEOUT_SECONDS: String(IDLE_S) } }),
    startRegistry({ label: 'edge-proxied', env: { TRUSTED_PROXIES: '127.0.0.1' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([reg?.stop(), proxied?.stop()]);
});

async function lastLoginIp(r: RegistryProcess, forwardedFor: string): Promise<string> {
  const res = await fetch(`${r.url}/api/v1/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  expect(res.status).toBe(200);
  const api = await signin(r, 'admin', ADMIN_PASSWORD);
  const logs = await api.ok<{ logs: { kind: string; ip: string }[] }>('GET', '/user/logs');
  // The newest entries are the two sign-ins; the first one (with the header) is second.
  return logs.logs.filter((l) => l.kind === 'login_success')[1].ip;
}

test('X-Forwarded-For sets the audit address only when the peer is a trusted proxy', async () => {
  expect(await lastLoginIp(reg, '6.6.6.6')).toBe('127.0.0.1');
  expect(await lastLoginIp(proxied, '6.6.6.6')).toBe('6.6.6.6');
});

test('a stalled upload body is closed after the idle timeout and its descriptors are released', async () => {
  const fds = () => readdirSync(`/proc/${reg.process.child.pid}/fd`).length;
  const start = await fetch(`${reg.url}/v2/admin/stall/blobs/uploads/`, { method: 'POST', headers: { authorization: basicAuth('admin', ADMIN_PASSWORD) } });
  expect(start.status).toBe(202);
  const location = start.headers.get('location')!;
  await sleep(500);
  const before = fds();
  const sock = connect(reg.port, '127.0.0.1');
  const closed = new Promise<number>((resolve) => sock.on('close', () => resolve(Date.now())));
  sock.on('error', () => undefined);
  sock.write(
    `PATCH ${location} HTTP/1.1\r\nHost: ${reg.hostPort}\r\nAuthorization: ${basicAuth('admin', ADMIN_PASSWORD)}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`,
  );
  sock.write(Buffer.alloc(10, 1));
  const stalledAt = Date.now();
  await sleep(1000);
  expect(fds()).toBeGreaterThan(before);
  const closedAt = await Promise.race([closed, sleep((IDLE_S + 10) * 1000, -1, { ref: false })]);
  expect(closedAt).toBeGreaterThan(0);
  expect(closedAt - stalledAt).toBeGreaterThanOrEqual((IDLE_S - 1) * 1000);
  await sleep(500);
  expect(fds()).toBeLessThanOrEqual(before);
  // The server goes on serving, and the session can still be resumed.
  const status = await fetch(`${reg.url}${location}`, { headers: { authorization: basicAuth('admin', ADMIN_PASSWORD) } });
  expect([204, 404]).toContain(status.status);
});

test('the WWW-Authenticate realm comes from SERVER_HOSTNAME, never from the Host header', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const sock = connect(reg.port, '127.0.0.1');
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
    sock.write('GET /v2/ HTTP/1.1\r\nHost: evil.example",x="y\r\nConnection: close\r\n\r\n');
  });
  const challenge = /www-authenticate: (.*)\r\n/i.exec(raw)?.[1];
  expect(challenge).toBe(`Bearer realm="http://localhost:${reg.port}/v2/auth",service="localhost:${reg.port}"`);
});

test('secrets in query strings are redacted in the request log', async () => {
  await fetch(`${reg.url}/api/v1/user/?_csrf_token=CSRFSECRET123&password=hunter2secret&keep=visible1`);
  await sleep(1000);
  const out = reg.output();
  expect(out).toContain('keep=visible1');
  expect(out).not.toContain('CSRFSECRET123');
  expect(out).not.toContain('hunter2secret');
  expect(out).toMatch(/_csrf_token=%5Bredacted%5D/);
});
