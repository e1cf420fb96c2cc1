/**
 * Blob GET on LocalStorage through the registry process (the reused-buffer path, FileBody.sendTo): the exact
 * bytes with the protocol's headers, a range, HEAD, the request still counted and logged (onResponse runs for a
 * hijacked reply), and the blob file closed in the server when the client goes away mid-body; over HTTP/1.1
 * and over HTTP/2 (HTTPS by ALPN).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { startRegistry, basicAuth, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob } from '../../helpers/v2.js';
import { workDir } from '../../setup/paths.js';
import { freePort } from '../../setup/procs.js';

let reg: RegistryProcess;
let c: V2Client;
let tlsPort: number;
let ca: Buffer;
const blob = randomBlob(24 * 1024 * 1024 + 3);
const repo = 'admin/delivery';

/** A self-signed pair for 127.0.0.1 (the client trusts it as its CA). */
function selfSigned(): { cert: Buffer; key: Buffer } {
  const dir = workDir('blob-delivery-pki');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { cwd: dir, stdio: 'pipe' },
  );
  return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
}

beforeAll(async () => {
  const pair = selfSigned();
  ca = pair.cert;
  tlsPort = await freePort();
  reg = await startRegistry({ label: 'blob-delivery', config: {}, files: { 'ssl.cert': pair.cert, 'ssl.key': pair.key }, env: { TLS_PORT: String(tlsPort) } });
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

/** An HTTP/2 GET of the blob over HTTPS: status, headers and, unless `stopAfter` bytes end it early, the body. */
function h2Get(session: ClientHttp2Session, headers: Record<string, string> = {}, stopAfter?: number) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const stream = session.request({ ':path': `/v2/${repo}/blobs/${blob.digest}`, ':method': 'GET', authorization: basicAuth(reg.admin.username, reg.admin.password), ...headers });
    const parts: Buffer[] = [];
    let got = 0;
    let head: Record<string, unknown> = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (b: Buffer) => {
      parts.push(b);
      got += b.length;
      if (stopAfter !== undefined && got > stopAfter) {
        stream.pause();
        resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(parts) });
      }
    });
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(parts) }));
    stream.on('error', reject);
    stream.end();
  });
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

describe('over HTTP/2', () => {
  let session: ClientHttp2Session;
  beforeAll(() => {
    session = h2connect(`https://127.0.0.1:${tlsPort}`, { ca });
  });
  afterAll(() => {
    session?.destroy();
  });

  test('GET answers the exact bytes, a range those bytes with 206', async () => {
    const whole = await h2Get(session);
    expect(whole.status).toBe(200);
    expect(whole.headers['content-length']).toBe(String(blob.size));
    expect(whole.headers['docker-content-digest']).toBe(blob.digest);
    expect(whole.body.equals(blob.data)).toBe(true);
    const start = 2 * 1024 * 1024 + 1;
    const end = 5 * 1024 * 1024 - 2;
    const part = await h2Get(session, { range: `bytes=${start}-${end}` });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes ${start}-${end}/${blob.size}`);
    expect(part.body.equals(blob.data.subarray(start, end + 1))).toBe(true);
    await until('the blob file is closed', () => openBlobFiles() === 0);
  });

  test('a client that drops the connection mid-body: the registry closes the blob file', async () => {
    const s = h2connect(`https://127.0.0.1:${tlsPort}`, { ca });
    s.on('error', () => undefined);
    const partial = await h2Get(s, {}, 2 * 1024 * 1024);
    expect(partial.body.length).toBeLessThan(blob.size);
    expect(openBlobFiles()).toBe(1);
    s.destroy();
    await until('the blob file is closed', () => openBlobFiles() === 0);
  });
});
