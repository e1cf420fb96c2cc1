/**
 * FileBody.sendTo over a real HTTP server and real sockets: the exact bytes of a file or a range, the file
 * closed when the client goes away mid-body, at most two chunks read ahead of what the kernel accepted while
 * the client does not read (backpressure), a read error cutting the body; and the Readable side (the same
 * bytes, the file closed on destroy).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { FileBody, type SendOutcome } from '../../../registry/storage/file_body.js';
import { REPO_ROOT } from '../../setup/paths.js';

const CHUNK = 256 * 1024;
let dir: string;
let server: Server;
let port: number;
/** What the next request is answered with, and how its send ended. */
let handle: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'file-body-'));
  server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function fileOf(name: string, data: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/**
 * How sendTo reads: on the event loop's thread while reads are fast (the default), or (a limit of 0 ns: every
 * read counts as slow) the first chunk there and the rest on the thread pool, as after a read from the disk.
 */
const readModes: Array<[string, bigint | undefined]> = [
  ['reads on the event loop', undefined],
  ['reads moved to the thread pool', 0n],
];
let slowReadNs: bigint | undefined;

/** Serve bytes start..end (exclusive) of `path` with sendTo; resolves with the body and how the send ended. */
async function serve(path: string, start: number, end: number) {
  const fh = await open(path, 'r');
  const body = new FileBody(fh, start, end, CHUNK, slowReadNs);
  const outcome = new Promise<SendOutcome | Error>((resolve) => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-length': end - start });
      body.sendTo(res).then(resolve, resolve);
    };
  });
  return { fh, body, outcome };
}

/** A raw HTTP/1.1 GET; the socket is returned paused, its bytes so far readable through `received()`. */
function rawGet(): { socket: Socket; received: () => number } {
  const socket = connect(port, '127.0.0.1');
  let got = 0;
  socket.on('data', (c: Buffer) => (got += c.length));
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  return { socket, received: () => got };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; !check(); i++) {
    if (i > 3000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(readModes)('sendTo, %s', (_mode, limit) => {
  beforeAll(() => {
    slowReadNs = limit;
  });

  test('sends the whole file, then a range of it, byte for byte; the file is closed after each', async () => {
    const data = randomBytes(3 * CHUNK + 12345);
    const path = fileOf('whole', data);
    for (const [start, end] of [
      [0, data.length],
      [CHUNK - 7, 2 * CHUNK + 100],
      [data.length - 1, data.length],
      [10, 10],
    ]) {
      const s = await serve(path, start, end);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      const got = Buffer.from(await res.arrayBuffer());
      expect(await s.outcome).toBe('sent');
      expect(got.equals(data.subarray(start, end))).toBe(true);
      expect(s.fh.fd).toBe(-1);
    }
  });

  test('a client that goes away mid-body: sendTo answers "closed" and the file is closed', async () => {
    const path = fileOf('gone', randomBytes(64 * 1024 * 1024));
    const s = await serve(path, 0, 64 * 1024 * 1024);
    const c = rawGet();
    await until('some of the body arrived', () => c.received() > CHUNK);
    c.socket.destroy();
    expect(await s.outcome).toBe('closed');
    expect(s.fh.fd).toBe(-1);
    expect(s.body.remaining).toBeGreaterThan(0);
  });

  test('a client that stops reading: at most two chunks are read ahead of what the kernel took, the rest follows on resume', async () => {
    const size = 48 * 1024 * 1024;
    const data = randomBytes(size);
    const path = fileOf('slow', data);
    const s = await serve(path, 0, size);
    let serverSocket: Socket | null = null;
    server.once('request', (_req: IncomingMessage, res: ServerResponse) => (serverSocket = res.socket));
    const c = rawGet();
    c.socket.pause();
    // The kernel's buffers fill up; then the server has a write waiting for the client.
    await until('a write is waiting for the client', () => serverSocket !== null && serverSocket.writableLength > 0);
    const sock = serverSocket!;
    for (let i = 0; i < 50; i++) {
      const readFromFile = size - s.body.remaining;
      const takenByKernel = sock.bytesWritten - sock.writableLength;
      expect(readFromFile - takenByKernel).toBeLessThanOrEqual(2 * CHUNK);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(s.body.remaining).toBeGreaterThan(0);
    // Nothing was taken from the socket yet (paused at once): the headers and the whole body follow.
    const chunks: Buffer[] = [];
    c.socket.on('data', (b: Buffer) => chunks.push(b));
    c.socket.resume();
    expect(await s.outcome).toBe('sent');
    await until('the whole body arrived', () => c.received() >= size);
    const received = Buffer.concat(chunks);
    expect(received.subarray(received.indexOf('\r\n\r\n') + 4).equals(data)).toBe(true);
    c.socket.destroy();
  });

  test('a file shorter than announced: sendTo rejects, the response is destroyed (a cut body), the file closed', async () => {
    const path = fileOf('short', randomBytes(4 * CHUNK));
    const s = await serve(path, 0, 4 * CHUNK);
    await truncate(path, CHUNK);
    // The connection is cut before the announced length: before the headers left, or in the body.
    await expect(fetch(`http://127.0.0.1:${port}/`).then((res) => res.arrayBuffer())).rejects.toThrow();
    const outcome = await s.outcome;
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/ended .* bytes early/);
    expect(s.fh.fd).toBe(-1);
  });
});

test('a range starting inside a page: every read after the first starts on a page boundary of the file', async () => {
  const data = randomBytes(4 * CHUNK);
  const path = fileOf('aligned', data);
  const fh = await open(path, 'r');
  // Every read but the first goes through the FileHandle (the thread pool) when each read counts as slow.
  const positions: number[] = [];
  const read = fh.read.bind(fh) as (b: Buffer, o: number, l: number, p: number) => ReturnType<typeof fh.read>;
  Object.assign(fh, {
    read: (b: Buffer, o: number, l: number, p: number) => {
      positions.push(p);
      return read(b, o, l, p);
    },
  });
  const body = new FileBody(fh, 1000, data.length - 3, CHUNK, 0n);
  const outcome = new Promise<SendOutcome | Error>((resolve) => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-length': body.remaining });
      body.sendTo(res).then(resolve, resolve);
    };
  });
  const got = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer());
  expect(await outcome).toBe('sent');
  expect(got.equals(data.subarray(1000, data.length - 3))).toBe(true);
  expect(positions).toEqual([CHUNK, 2 * CHUNK, 3 * CHUNK]);
});

test('as a Readable: the same bytes in chunks of at most the chunk size; destroy mid-way closes the file', async () => {
  const data = randomBytes(2 * CHUNK + 99);
  const path = fileOf('readable', data);
  const whole = new FileBody(await open(path, 'r'), 5, data.length, CHUNK);
  const parts: Buffer[] = [];
  for await (const c of whole) parts.push(c as Buffer);
  expect(Buffer.concat(parts).equals(data.subarray(5))).toBe(true);
  expect(Math.max(...parts.map((p) => p.length))).toBe(CHUNK);

  const fh = await open(path, 'r');
  const partial = new FileBody(fh, 0, data.length, CHUNK);
  for await (const c of partial) {
    expect((c as Buffer).equals(data.subarray(0, CHUNK))).toBe(true);
    break;
  }
  await until('the file is closed', () => fh.fd === -1);
  await expect(partial.sendTo({} as never)).rejects.toThrow(/already consumed/);
});

test('where the engine cannot map a WebAssembly memory (ulimit -v), sendTo sends the exact bytes from plain buffers', async () => {
  const data = randomBytes(3 * CHUNK + 5);
  const path = fileOf('no-wasm', data);
  // A process of its own under an address-space limit: it serves the file to itself and prints what it got.
  const script = `
    import { open } from 'node:fs/promises';
    import { createServer, get } from 'node:http';
    import { createHash } from 'node:crypto';
    import { FileBody } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist/registry/storage/file_body.js')).href)};
    let mapped = true;
    try { new WebAssembly.Memory({ initial: 32, maximum: 32 }); } catch { mapped = false; }
    const size = ${data.length};
    let outcome = null;
    const server = createServer(async (req, res) => {
      const body = new FileBody(await open(${JSON.stringify(path)}, 'r'), 0, size, ${CHUNK});
      res.writeHead(200, { 'content-length': size });
      outcome = await body.sendTo(res);
    });
    // node:http, not fetch: fetch's HTTP parser is WebAssembly too.
    server.listen(0, '127.0.0.1', () => {
      get('http://127.0.0.1:' + server.address().port + '/', (res) => {
        const hash = createHash('sha256');
        res.on('data', (c) => hash.update(c));
        res.on('end', () => {
          process.stdout.write(JSON.stringify({ mapped, outcome, sha256: hash.digest('hex') }));
          server.close();
        });
      });
    });
  `;
  const child = spawn('sh', ['-c', 'ulimit -v 8000000 && exec "$0" --input-type=module -e "$1"', process.execPath, script], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  expect({ code, err }).toEqual({ code: 0, err: '' });
  expect(JSON.parse(out)).toEqual({ mapped: false, outcome: 'sent', sha256: createHash('sha256').update(data).digest('hex') });
});
