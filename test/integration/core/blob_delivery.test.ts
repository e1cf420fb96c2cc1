/**
 * Blob GET on LocalStorage through the registry process (the reused-buffer path, FileBody.sendTo): the exact
 * bytes with the protocol's headers, a range, HEAD, the request still counted and logged (onResponse runs for a
 * hijacked reply), and the blob file closed in the server when the client goes away mid-body.
 */
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startRegistry, basicAuth, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob } from '../../helpers/v2.js';

let reg: RegistryProcess;
let c: V2Client;
const blob = randomBlob(24 * 1024 * 1024 + 3);
const repo = 'admin/delivery';

beforeAll(async () => {
  reg = await startRegistry({ label: 'blob-delivery' });
  c = V2Client.basic(reg);
  expect((await c.pushBlob(repo, blob)).status).toBe(201);
});
afterAll(async () => {
  await reg?.stop();
});

/** The registry's processes: the one started and its children (HTTP worker processes). */
function registryPids(): number[] {
  const pid = reg.process.child.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children];
}

/** Descriptors the registry holds open on the blob's file. */
function openBlobFiles(): number {
  const hex = blob.digest.split(':')[1];
  let n = 0;
  for (const pid of registryPids()) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).includes(hex)) n++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return n;
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !(await check()); i++) {
    if (i > 3000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function blobRequests(status: number): Promise<number> {
  const text = await (await fetch(`${reg.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('quay_http_requests_total{') && l.includes('route="v2_blob"') && l.includes('method="GET"') && l.includes(`status="${status}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('GET answers the exact bytes with the blob headers, and the request is counted', async () => {
  const before = await blobRequests(200);
  const r = await c.req('GET', `/v2/${repo}/blobs/${blob.digest}`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-length')).toBe(String(blob.size));
  expect(r.headers.get('docker-content-digest')).toBe(blob.digest);
  expect(r.headers.get('accept-ranges')).toBe('bytes');
  expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  expect(r.headers.get('x-request-id')).toBeTruthy();
  expect(Buffer.from(await r.arrayBuffer()).equals(blob.data)).toBe(true);
  await until('the GET is counted in /metrics', async () => (await blobRequests(200)) === before + 1);
  await until('the blob file is closed', () => openBlobFiles() === 0);
});

test('a range across chunk boundaries answers 206 with those bytes; HEAD answers the length and no body', async () => {
  const start = 1024 * 1024 - 5;
  const end = 3 * 1024 * 1024 + 17;
  const r = await c.req('GET', `/v2/${repo}/blobs/${blob.digest}`, { headers: { range: `bytes=${start}-${end}` } });
  expect(r.status).toBe(206);
  expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/${blob.size}`);
  expect(Buffer.from(await r.arrayBuffer()).equals(blob.data.subarray(start, end + 1))).toBe(true);
  const head = await c.req('HEAD', `/v2/${repo}/blobs/${blob.digest}`);
  expect(head.status).toBe(200);
  expect(head.headers.get('content-length')).toBe(String(blob.size));
  expect((await head.arrayBuffer()).byteLength).toBe(0);
});

test('a client that disconnects mid-body: the registry closes the blob file', async () => {
  const socket = connect(reg.port, '127.0.0.1');
  let received = 0;
  socket.on('data', (b: Buffer) => {
    received += b.length;
    // Stop reading: the server cannot get to the end of the blob.
    if (received > 2 * 1024 * 1024) socket.pause();
  });
  socket.on('error', () => undefined);
  socket.write(`GET /v2/${repo}/blobs/${blob.digest} HTTP/1.1\r\nHost: ${reg.hostPort}\r\nAuthorization: ${basicAuth(reg.admin.username, reg.admin.password)}\r\n\r\n`);
  await until('part of the body arrived', () => received > 2 * 1024 * 1024);
  expect(openBlobFiles()).toBe(1);
  socket.destroy();
  await until('the blob file is closed', () => openBlobFiles() === 0);
  // The registry goes on serving the blob.
  const r = await c.req('GET', `/v2/${repo}/blobs/${blob.digest}`);
  expect(Buffer.from(await r.arrayBuffer()).equals(blob.data)).toBe(true);
});
