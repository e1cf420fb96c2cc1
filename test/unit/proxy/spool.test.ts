/**
 * A fill's spool read by HTTP clients through SpoolReader.sendTo (real loopback connections, the spool a real
 * file): clients of a growing spool get exact bytes from buffers reused across clients, one going away while the
 * spool waits for bytes is let go at once, a failed fill cuts the bodies, and a range's last bytes wait for the
 * spool to be complete (verified).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Spool } from '../../../registry/proxy/spool.js';
import { isDirectBody, type SendOutcome } from '../../../registry/storage/file_body.js';

const MiB = 1024 * 1024;
let dir: string;
let server: http.Server;
let port: number;
/** What the server does with the next request. */
let handler: (res: ServerResponse) => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spool-'));
  server = http.createServer((_req, res) => handler(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** A client request whose body is collected; `atLeast(n)` resolves once n bytes arrived. */
function get() {
  const chunks: Buffer[] = [];
  let got = 0;
  const wanted: Array<[number, () => void]> = [];
  let request!: http.ClientRequest;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request = http.get({ host: '127.0.0.1', port, agent: false }, resolve);
    request.on('error', reject);
  });
  const body = response.then(
    (res) =>
      new Promise<Buffer>((resolve, reject) => {
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          got += c.length;
          for (const w of wanted.filter(([n]) => got >= n)) w[1]();
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('aborted')));
      }),
  );
  body.catch(() => undefined);
  const atLeast = (n: number) => new Promise<void>((resolve) => (got >= n ? resolve() : wanted.push([n, resolve])));
  return { body, atLeast, got: () => got, abort: () => request.destroy() };
}

/** Serve the next request from `spool` (bytes start..end) through sendTo; its outcome. */
function serveNext(spool: Spool, start = 0, end = Infinity, verifiedEnd = false): Promise<SendOutcome> {
  return new Promise((resolve, reject) => {
    handler = (res) => {
      const reader = spool.reader(start, end, verifiedEnd);
      if (!reader || !isDirectBody(reader)) return reject(new Error('no direct reader'));
      res.writeHead(200);
      reader.sendTo(res).then(resolve, reject);
    };
  });
}

/** Write `bytes` into the spool's writer (which stays open). */
async function write(w: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
  if (!w.write(bytes)) await new Promise((resolve) => w.once('drain', resolve));
}

test('clients of a growing spool get exact bytes from reused buffers, one that goes away while waiting is let go', async () => {
  const blob = randomBytes(3 * MiB + 1234);
  const spool = await Spool.create(join(dir, 'a.spool'));
  const writer = spool.writer();
  await write(writer, blob.subarray(0, MiB));

  const outcomes: Promise<SendOutcome>[] = [];
  const clients = [];
  for (let i = 0; i < 3; i++) {
    outcomes.push(serveNext(spool));
    clients.push(get());
    await clients[i].atLeast(MiB);
  }
  // Every client has the first MiB and waits for the writer: the third goes away meanwhile.
  clients[2].abort();
  await expect(outcomes[2]).resolves.toBe('closed');

  await write(writer, blob.subarray(MiB, 2 * MiB));
  await Promise.all(clients.slice(0, 2).map((c) => c.atLeast(2 * MiB)));
  await write(writer, blob.subarray(2 * MiB));
  await new Promise<void>((resolve, reject) => writer.end((err?: Error | null) => (err ? reject(err) : resolve())));
  // The bodies end only once the spool is complete (the fill verified the bytes).
  await Promise.all(clients.slice(0, 2).map((c) => c.atLeast(blob.length)));
  // Held open for the later clients below (the spool closes when complete and its last reader is done).
  const release = spool.hold();
  expect(release).not.toBeNull();
  await spool.complete();
  for (let i = 0; i < 2; i++) {
    expect((await clients[i].body).equals(blob)).toBe(true);
    await expect(outcomes[i]).resolves.toBe('sent');
  }

  // Later clients (their buffers are the ones given back) read the complete spool.
  for (let i = 0; i < 3; i++) {
    const outcome = serveNext(spool, 17, blob.length - 5);
    const client = get();
    expect((await client.body).equals(blob.subarray(17, blob.length - 5))).toBe(true);
    await expect(outcome).resolves.toBe('sent');
  }
  release!();
});

test('a failed fill cuts its clients’ bodies; a range’s last bytes wait for the spool to be complete', async () => {
  const blob = randomBytes(2 * MiB);
  const failing = await Spool.create(join(dir, 'b.spool'));
  const w1 = failing.writer();
  await write(w1, blob.subarray(0, MiB));
  const cutOutcome = serveNext(failing);
  const cut = get();
  await cut.atLeast(MiB);
  failing.fail(new Error('blob digest mismatch'));
  await expect(cutOutcome).rejects.toThrow('blob digest mismatch');
  await expect(cut.body).rejects.toThrow();

  const spool = await Spool.create(join(dir, 'c.spool'));
  const writer = spool.writer();
  await pipeline(Readable.from([blob]), writer);
  const rangeEnd = MiB + 100;
  const outcome = serveNext(spool, 100, rangeEnd, true);
  const client = get();
  // Every byte of the range is in the spool, but the last chunk is held back until it is complete.
  await client.atLeast(MiB - 256 * 1024);
  expect(client.got()).toBeLessThan(rangeEnd - 100);
  await spool.complete();
  expect((await client.body).equals(blob.subarray(100, rangeEnd))).toBe(true);
  await expect(outcome).resolves.toBe('sent');
});
