/**
 * The upstream client against a real HTTP/1.1 peer on loopback that closes a kept-alive connection instead of
 * answering the next request on it (what an upstream's idle timeout does when it fires just as a request goes
 * out): the request goes again on a new connection instead of failing the pull. And a paginated tag listing
 * cut at its page limit reports itself incomplete.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { UpstreamClient } from '../../../registry/proxy/upstream.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

/** Answers the first request of every connection with 200 (keep-alive), and closes the connection on the second. */
async function closingPeer(): Promise<{ port: number; connections: () => number; closed: () => number; close: () => Promise<void> }> {
  let connections = 0;
  let closed = 0;
  const server = net.createServer((socket) => {
    connections++;
    let requests = 0;
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        if (++requests === 1) {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDocker-Content-Digest: ${DIGEST}\r\nConnection: keep-alive\r\n\r\n`);
        } else {
          closed++;
          socket.destroy();
          return;
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    closed: () => closed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('a kept-alive connection closed by the upstream instead of answering: the request goes again on a new connection', async () => {
  const peer = await closingPeer();
  const client = new UpstreamClient({ host: `127.0.0.1:${peer.port}`, insecure: true });
  try {
    expect((await client.headManifest('team/app', 'v1')).digest).toBe(DIGEST);
    // The answered response's connection goes back to the client's pool a few event-loop turns later.
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    // Same connection (kept alive), closed by the peer: retried on a second connection, which answers.
    expect((await client.headManifest('team/app', 'v1')).digest).toBe(DIGEST);
    expect({ connections: peer.connections(), closedInsteadOfAnswering: peer.closed() }).toEqual({ connections: 2, closedInsteadOfAnswering: 1 });
  } finally {
    client.close();
    await peer.close();
  }
});

test('a tag listing is complete only when every page was read: a cut one says so (a mirror then deletes nothing)', async () => {
  // Pages of two tags each, `pages` of them, linked with `Link: <…>; rel="next"` as Distribution does.
  let pages = 3;
  const server = http.createServer((req, res) => {
    const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? 0);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (page + 1 < pages) headers.link = `</v2/team/app/tags/list?n=2&page=${page + 1}>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ name: 'team/app', tags: [`t${page}a`, `t${page}b`] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new UpstreamClient({ host: `127.0.0.1:${(server.address() as AddressInfo).port}`, insecure: true });
  try {
    expect(await client.listTags('team/app')).toEqual({ tags: ['t0a', 't0b', 't1a', 't1b', 't2a', 't2b'], complete: true });
    pages = 10;
    expect(await client.listTags('team/app', 2)).toEqual({ tags: ['t0a', 't0b', 't1a', 't1b'], complete: false });
  } finally {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
