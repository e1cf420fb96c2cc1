/**
 * The one guard for every outbound HTTP(S) call the registry makes on a user's behalf: notification deliveries
 * (webhook, Slack, Flowdock, HipChat), log-export callbacks, upstream registries (proxy cache, mirroring),
 * archive downloads and the Clair client.
 *
 * A URL is checked twice: when it is stored (`checkUrl`, so the user gets Quay's 400 text at once) and when a
 * connection is made (`request`/`fetch`): the host name is resolved, every address is checked, and the socket
 * connects to the checked address (the lookup is ours, so a second DNS answer cannot swap in another one).
 * Refused: loopback, private, link-local (169.254.0.0/16, the cloud metadata address), CGNAT, multicast,
 * unspecified and reserved ranges, the metadata host names, and `localhost`, unless the host name or the
 * address is listed in SSRF_ALLOWED_HOSTS (host names or CIDRs). WEBHOOK_HOSTNAME_BLACKLIST refuses more
 * host names for notification and callback purposes, even when allowed. Redirects are never followed (a 3xx
 * is returned as is), every call has a timeout, and response bodies are capped.
 *
 * Usage:
 *   const out = new Outbound(config);
 *   out.checkUrl(url, 'webhook');                        // throws OutboundRefused with a user-facing message
 *   const res = await out.request(url, { method: 'POST', json: payload, purpose: 'webhook' });
 *   res.status; await res.text();                        // body capped at maxResponseBytes
 *   const r = await out.fetch(url, { purpose: 'upstream', maxResponseBytes: Infinity }); // a WHATWG Response, streaming
 */
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { LookupFunction } from 'node:net';

/** Why a call goes out: the blacklist of WEBHOOK_HOSTNAME_BLACKLIST applies to notifications and callbacks. */
export type OutboundPurpose = 'webhook' | 'slack' | 'flowdock' | 'hipchat' | 'callback' | 'upstream' | 'archive' | 'scanner' | 'captcha';

const NOTIFICATION_PURPOSES: ReadonlySet<OutboundPurpose> = new Set(['webhook', 'slack', 'flowdock', 'hipchat', 'callback']);

export interface OutboundConfig {
  SSRF_ALLOWED_HOSTS?: readonly string[];
  WEBHOOK_HOSTNAME_BLACKLIST?: readonly string[];
  NOTIFICATION_SEND_TIMEOUT?: number;
}

/** A refused URL or address; `message` is shown to the user as is. */
export class OutboundRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

/** A transport failure (timeout, connection refused, body too large); not a refusal. */
export class OutboundError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'too_large' | 'connect' | 'aborted',
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface TlsClientOptions {
  /** PEM client certificate and key presented on https (webhooks: the config's ssl.cert / ssl.key). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Extra CA certificates to trust (PEM); the system's are used otherwise. */
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  /** A JSON body (sets content-type: application/json). */
  json?: unknown;
  /** A raw body; a stream is piped without buffering. */
  body?: string | Buffer | Readable;
  purpose: OutboundPurpose;
  /** Until the response headers arrive (default NOTIFICATION_SEND_TIMEOUT, 10 s). */
  timeoutMs?: number;
  /** Longest silence while the body streams (default: timeoutMs). */
  idleTimeoutMs?: number;
  /** Bytes of response body read before failing with `too_large` (default 1 MiB; Infinity for blob pulls). */
  maxResponseBytes?: number;
  tls?: TlsClientOptions;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The address the socket connected to (after the check). */
  address: string;
  /** The body as a stream, capped at maxResponseBytes. Read it or call discard(). */
  body: Readable;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  buffer(): Promise<Buffer>;
  discard(): void;
}

const DEFAULT_MAX_RESPONSE = 1024 * 1024;

/** Host names of cloud metadata services, refused whatever they resolve to. */
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.azure.internal', 'instance-data', 'instance-data.ec2.internal']);

/** Address ranges no user-supplied URL may reach. */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local (incl. fd00:ec2::254, AWS metadata over IPv6)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped/compatible or NAT64 IPv6 address, else null. */
function embeddedIpv4(addr: string): string | null {
  const m = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (m) return m[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(addr);
  if (!hex) return null;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether an address is in a range no user-supplied URL may reach. */
export function isBlockedAddress(addr: string): boolean {
  const family = isIP(addr);
  if (family === 4) return BLOCKED.check(addr, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(addr);
    if (v4) return BLOCKED.check(v4, 'ipv4');
    return BLOCKED.check(addr, 'ipv6');
  }
  return true;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export class Outbound {
  private readonly allowedNames = new Set<string>();
  private readonly allowedNets = new BlockList();
  private readonly blacklist: Set<string>;
  private readonly timeoutMs: number;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 50 });

  /**
   * @param resolve the name resolver (default: the system's, as getaddrinfo answers, /etc/hosts included);
   *   tests pass one that answers from their own DNS server.
   */
  constructor(
    config: OutboundConfig,
    private readonly resolve: (host: string) => Promise<Array<{ address: string; family: number }>> = (host) => dnsLookup(host, { all: true, verbatim: true }),
  ) {
    for (const entry of config.SSRF_ALLOWED_HOSTS ?? []) {
      const e = entry.trim().toLowerCase();
      const cidr = /^(.+)\/(\d{1,3})$/.exec(e);
      const ip = stripBrackets(cidr ? cidr[1] : e);
      const family = isIP(ip);
      if (family) this.allowedNets.addSubnet(ip, cidr ? Number(cidr[2]) : family === 4 ? 32 : 128, family === 4 ? 'ipv4' : 'ipv6');
      else this.allowedNames.add(e);
    }
    this.blacklist = new Set((config.WEBHOOK_HOSTNAME_BLACKLIST ?? []).map((h) => h.trim().toLowerCase()));
    this.timeoutMs = (config.NOTIFICATION_SEND_TIMEOUT ?? 10) * 1000;
  }

  private addressAllowed(addr: string): boolean {
    const family = isIP(addr);
    if (family === 0) return false;
    if (this.allowedNets.check(addr, family === 4 ? 'ipv4' : 'ipv6')) return true;
    const v4 = family === 6 ? embeddedIpv4(addr) : null;
    if (v4 && this.allowedNets.check(v4, 'ipv4')) return true;
    return !isBlockedAddress(addr);
  }

  /**
   * The syntactic check at creation: scheme, credentials, host names and literal addresses. With `resolveDns`
   * the name is also resolved and its addresses checked (as at connect time). Throws OutboundRefused.
   */
  async checkUrl(raw: string, purpose: OutboundPurpose, resolveDns = false): Promise<URL> {
    const url = this.parse(raw, purpose);
    if (resolveDns) await this.resolveChecked(url.hostname);
    return url;
  }

  /** checkUrl without DNS, synchronous. */
  parse(raw: string, purpose: OutboundPurpose): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundRefused('Invalid URL');
    }
    const scheme = url.protocol.slice(0, -1);
    if (scheme !== 'http' && scheme !== 'https') throw new OutboundRefused(`Invalid URL scheme '${scheme}': only HTTP and HTTPS are allowed`);
    if (url.username || url.password) throw new OutboundRefused('URLs with credentials are not allowed');
    const host = stripBrackets(url.hostname.toLowerCase());
    if (!host) throw new OutboundRefused('Invalid URL: missing host');
    if (NOTIFICATION_PURPOSES.has(purpose) && this.blacklist.has(host)) throw new OutboundRefused(`Host '${host}' is not allowed`);
    if (this.allowedNames.has(host)) return url;
    if (METADATA_HOSTS.has(host)) throw new OutboundRefused(`Host '${host}' is not allowed`);
    if (host === 'localhost' || host.endsWith('.localhost')) throw new OutboundRefused(`Host '${host}' is not allowed`);
    if (isIP(host) && !this.addressAllowed(host)) throw new OutboundRefused(`Address ${host} is not allowed`);
    return url;
  }

  /** Resolve a host name and check every address; one refused address refuses the host. */
  private async resolveChecked(hostname: string): Promise<Array<{ address: string; family: number }>> {
    const host = stripBrackets(hostname.toLowerCase());
    if (isIP(host)) {
      if (!this.allowedNames.has(host) && !this.addressAllowed(host)) throw new OutboundRefused(`Address ${host} is not allowed`);
      return [{ address: host, family: isIP(host) }];
    }
    let addrs: Array<{ address: string; family: number }>;
    try {
      addrs = await this.resolve(host);
    } catch (err) {
      throw new OutboundError(`cannot resolve ${host}: ${(err as Error).message}`, 'connect');
    }
    if (addrs.length === 0) throw new OutboundError(`cannot resolve ${host}`, 'connect');
    if (this.allowedNames.has(host)) return addrs;
    for (const a of addrs) {
      if (!this.addressAllowed(a.address)) throw new OutboundRefused(`Host '${host}' resolves to ${a.address}, which is not allowed`);
    }
    return addrs;
  }

  /**
   * The connect-time check for a client that makes its own connections (the upstream registry client with its
   * TLS and proxy settings): a `lookup` for node:http that resolves the name and refuses what request() refuses.
   */
  guardedLookup(): LookupFunction {
    return (host, opts, cb) => {
      this.resolveChecked(host).then(
        (addrs) => {
          if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [addrs[0]]);
          else cb(null, addrs[0].address, addrs[0].family);
        },
        (err: Error) => cb(err as NodeJS.ErrnoException, '', 0),
      );
    };
  }

  /** A request through the guard. Non-2xx statuses (3xx included) are returned, not thrown. */
  async request(raw: string, o: OutboundRequest): Promise<OutboundResponse> {
    const url = this.parse(raw, o.purpose);
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    const idleMs = o.idleTimeoutMs ?? timeoutMs;
    const max = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
    const resolved = await this.resolveChecked(url.hostname);
    // The socket connects to an address checked above; Node calls this instead of DNS.
    const lookup: LookupFunction = (_host, opts, cb) => {
      const a = resolved[0];
      if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [a]);
      else cb(null, a.address, a.family);
    };
    const headers: Record<string, string> = { 'user-agent': 'quay-ts', ...o.headers };
    let body: string | Buffer | Readable | undefined = o.body;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['content-type'] ??= 'application/json';
    }
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['content-length'] = String(Buffer.byteLength(body));
    const isHttps = url.protocol === 'https:';
    const options: https.RequestOptions = {
      method: o.method ?? 'GET',
      headers,
      lookup,
      agent: isHttps ? this.httpsAgent : this.httpAgent,
      ...(isHttps && o.tls ? { cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, rejectUnauthorized: o.tls.rejectUnauthorized ?? true } : {}),
    };

    return new Promise<OutboundResponse>((resolvePromise, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = (isHttps ? https : http).request(url, options, (res) => {
        clearTimeout(timer);
        settled = true;
        const capped = new ByteCap(max, url.host, idleMs, (err) => {
          res.destroy(err);
          capped.destroy(err);
        });
        res.on('error', (err) => capped.destroy(err));
        res.pipe(capped);
        const collect = async (): Promise<Buffer> => {
          const chunks: Buffer[] = [];
          for await (const c of capped) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        };
        resolvePromise({
          status: res.statusCode ?? 0,
          headers: res.headers,
          address: resolved[0].address,
          body: capped,
          buffer: collect,
          text: async () => (await collect()).toString('utf8'),
          json: async <T>() => JSON.parse((await collect()).toString('utf8')) as T,
          discard: () => {
            res.resume();
            capped.resume();
          },
        });
      });
      const timer = setTimeout(() => fail(new OutboundError(`no response from ${url.host} within ${timeoutMs} ms`, 'timeout')), timeoutMs);
      req.on('error', (err) => fail(err instanceof OutboundError ? err : new OutboundError(`${url.host}: ${err.message}`, 'connect')));
      if (o.signal) {
        if (o.signal.aborted) fail(new OutboundError('aborted', 'aborted'));
        o.signal.addEventListener(
          'abort',
          () => {
            fail(new OutboundError('aborted', 'aborted'));
            req.destroy(new OutboundError('aborted', 'aborted'));
          },
          { once: true },
        );
      }
      if (body instanceof Readable) {
        body.on('error', (err) => fail(err));
        body.pipe(req);
      } else req.end(body);
    });
  }

  /** `request` with a WHATWG Response (a streaming body) for code written against fetch. */
  async fetch(raw: string, o: OutboundRequest): Promise<Response> {
    const res = await this.request(raw, o);
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
    }
    const noBody = res.status === 204 || res.status === 304 || (o.method ?? 'GET').toUpperCase() === 'HEAD';
    if (noBody) res.discard();
    const body = noBody ? null : (Readable.toWeb(res.body) as unknown as ReadableStream<Uint8Array>);
    return new Response(body, { status: res.status < 200 ? 502 : res.status, headers });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Passes bytes through; fails once more than `max` have passed or when nothing arrives for `idleMs`. */
class ByteCap extends Transform {
  private seen = 0;
  private idle: NodeJS.Timeout;
  constructor(
    private readonly max: number,
    private readonly host: string,
    private readonly idleMs: number,
    private readonly onIdle: (err: Error) => void,
  ) {
    super();
    this.idle = this.arm();
  }
  private arm(): NodeJS.Timeout {
    const t = setTimeout(() => this.onIdle(new OutboundError(`no data from ${this.host} for ${this.idleMs} ms`, 'timeout')), this.idleMs);
    t.unref();
    return t;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    clearTimeout(this.idle);
    this.seen += chunk.length;
    if (this.seen > this.max) return cb(new OutboundError(`response from ${this.host} exceeds ${this.max} bytes`, 'too_large'));
    this.idle = this.arm();
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    clearTimeout(this.idle);
    cb();
  }
  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearTimeout(this.idle);
    cb(err);
  }
}
