/**
 * A real HTTP(S) receiver for webhooks and callbacks: records every request (body, headers, client
 * certificate subject) and answers as told: 200, 500, a redirect, or never (hang).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Subject CN of the verified client certificate (https with requireClientCert), else null. */
  clientCN: string | null;
  at: number;
}

export type Mode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'hang' } | { kind: 'redirect'; location: string };

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  mode: Mode;
  /** Requests whose answer is being withheld (hang mode). */
  hanging: number;
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  host?: string;
  port?: number;
  tls?: { cert: string; key: string; ca: string; requireClientCert: boolean };
}

export async function startReceiver(o: ReceiverOptions = {}): Promise<Receiver> {
  const received: Received[] = [];
  const held = new Set<http.ServerResponse>();
  const state = { mode: { kind: 'ok' } as Mode };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const sock = req.socket as TLSSocket;
      const peer = typeof sock.getPeerCertificate === 'function' && sock.authorized ? sock.getPeerCertificate() : null;
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        clientCN: peer?.subject?.CN ? String(peer.subject.CN) : null,
        at: Date.now(),
      });
      const m = state.mode;
      if (m.kind === 'hang') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      if (m.kind === 'redirect') {
        res.writeHead(302, { location: m.location }).end();
        return;
      }
      res.writeHead(m.kind === 'status' ? m.status : 200, { 'content-type': 'application/json' }).end('{}');
    });
  };
  const server = o.tls
    ? https.createServer({ cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, requestCert: o.tls.requireClientCert, rejectUnauthorized: o.tls.requireClientCert }, handler)
    : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host ?? '127.0.0.1';
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    received,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    get hanging() {
      return held.size;
    },
    async waitFor(n: number, timeoutMs = 30_000): Promise<Received[]> {
      const end = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > end) throw new Error(`receiver got ${received.length} of ${n} requests within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    async close() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
