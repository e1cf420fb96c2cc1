/**
 * A fault-injecting front for a real upstream registry: an HTTP reverse proxy on loopback that forwards to
 * the upstream unchanged, or answers with a chosen status (503, 429), or accepts requests and never answers
 * (a timeout), or holds them until `release()` forwards them (a sync the test can catch in the middle), or
 * forwards them but stalls each response body after its first bytes until `release()` (a slow upstream the
 * test can catch mid-transfer; with `corrupt`, the bytes before the stall point have their first one flipped: an
 * upstream that lies), or forwards them and cuts the connection right after each answer's head (a service that
 * goes away between the head and the body), as the test switches it. It counts what passed through, so a test sees how often the
 * upstream was asked for a path. The registry behind it stays real; only the network path misbehaves.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, pipeline } from 'node:stream';

export type FrontMode =
  { kind: 'pass' } | { kind: 'status'; status: number } | { kind: 'hang' } | { kind: 'hold' } | { kind: 'stall'; afterBytes: number; corrupt?: boolean } | { kind: 'cut' };

export interface FaultFront {
  /** 127.0.0.1:<port>, the upstream_registry value to configure. */
  hostPort: string;
  mode: FrontMode;
  /** `METHOD path` of every request forwarded to the upstream (not the injected answers). */
  forwarded: string[];
  /** Every request answered with an injected status: `METHOD path`, and when it arrived (ms). */
  injected: { request: string; at: number }[];
  /** Response body bytes the upstream sent through the front. */
  bytesFromUpstream: number;
  /**
   * Back to `pass`, forwarding the requests held meanwhile and the rest of the stalled bodies (a body that has
   * not reached its stall point yet does not stall any more either).
   */
  release(): void;
  close(): Promise<void>;
}

/** `keepHost`: forward the client's Host header as it came (an S3 request's signature covers it). */
export async function startFaultFront(target: string, opts: { keepHost?: boolean } = {}): Promise<FaultFront> {
  const base = new URL(target);
  const held = new Set<http.ServerResponse>();
  const queued: Array<() => void> = [];
  /** Lifts the stall of a body in flight. */
  const unstalls = new Set<() => void>();
  /** release() calls so far: a request forwarded before one whose answer comes after it does not stall. */
  let releases = 0;
  const front: FaultFront = {
    hostPort: '',
    mode: { kind: 'pass' },
    forwarded: [],
    injected: [],
    bytesFromUpstream: 0,
    release() {
      releases++;
      front.mode = { kind: 'pass' };
      for (const unstall of unstalls) unstall();
      for (const forward of queued.splice(0)) forward();
    },
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const m = front.mode;
    if (m.kind === 'hold') {
      queued.push(() => forward(req, res));
      return;
    }
    if (m.kind === 'hang') {
      held.add(res);
      res.on('close', () => held.delete(res));
      req.resume();
      return;
    }
    if (m.kind === 'status') {
      front.injected.push({ request: `${req.method} ${req.url}`, at: Date.now() });
      req.resume();
      res.writeHead(m.status, { 'content-type': 'text/plain', ...(m.status === 429 ? { 'retry-after': '60' } : {}) }).end(`injected ${m.status}\n`);
      return;
    }
    forward(req, res, m.kind === 'stall' ? m.afterBytes : Infinity, m.kind === 'cut', m.kind === 'stall' && m.corrupt === true);
  });
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, stallAfter = Infinity, cut = false, corrupt = false) => {
    front.forwarded.push(`${req.method} ${req.url}`);
    const epoch = releases;
    const headers = opts.keepHost ? req.headers : { ...req.headers, host: base.host };
    const up = http.request({ host: base.hostname, port: base.port, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (cut) {
        res.flushHeaders();
        upRes.destroy();
        res.socket?.destroy();
        return;
      }
      upRes.on('data', (c: Buffer) => {
        front.bytesFromUpstream += c.length;
      });
      let passed = 0;
      if (releases !== epoch) stallAfter = Infinity;
      const unstall = () => {
        stallAfter = Infinity;
      };
      if (stallAfter !== Infinity) unstalls.add(unstall);
      upRes.once('close', () => unstalls.delete(unstall));
      const gate = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          if (corrupt && passed === 0 && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] ^= 0xff;
          }
          const room = stallAfter - passed;
          if (chunk.length <= room) {
            passed += chunk.length;
            return cb(null, chunk);
          }
          if (room > 0) this.push(chunk.subarray(0, room));
          passed = stallAfter;
          queued.push(() => {
            stallAfter = Infinity;
            cb(null, chunk.subarray(Math.max(room, 0)));
          });
        },
      });
      pipeline(upRes, gate, res, () => undefined);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(String(err));
      else res.destroy(err);
    });
    req.pipe(up);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  front.hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.close = async () => {
    for (const r of held) r.destroy();
    queued.length = 0;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return front;
}
