/**
 * The one client for upstream registries, shared by the proxy cache and repository mirroring: ping, the
 * Docker token flow (realm/service/scope), Basic auth, manifests, blobs (streamed), tag lists. It follows
 * the Distribution spec, not skopeo: one process, one connection pool, no child processes.
 *
 * Credentials go to a token realm only on the upstream's own host or registrable domain (Distribution's
 * rule; Quay sends them anywhere). Every connection is made through `OutboundGuard` when one is given,
 * so the SSRF rules apply to the address actually connected to.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { lazyModule } from '../lazy.js';
import type { Readable } from 'node:stream';
import { digestOf } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/mediatypes.js';

const tldts = lazyModule<typeof import('tldts')>('tldts');

/** Upstream manifests larger than this are refused (the registry's own manifest limit is 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_JSON_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;

export type UpstreamFailure = 'auth' | 'not_found' | 'unavailable' | 'invalid';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A reused keep-alive connection was closed by the upstream before it answered (see send()). */
class StaleConnection extends Error {}

/** The SSRF guard: a check of a URL when it is configured, and a lookup that refuses forbidden addresses at connect time. */
export interface OutboundGuard {
  check(url: string): Promise<void>;
  lookup: LookupFunction;
}

export interface ProxySettings {
  http_proxy?: string | null;
  https_proxy?: string | null;
  no_proxy?: string | null;
}

export interface UpstreamOptions {
  /** `host[:port]` of the registry (docker.io is mapped to registry-1.docker.io). */
  host: string;
  /** Plain http (Quay's `insecure`). */
  insecure?: boolean;
  /** Verify the upstream's TLS certificate (mirroring's `verify_tls`). */
  verifyTls?: boolean;
  /** Without TLS verification, fall back to plain http when the upstream does not speak TLS (skopeo's `--tls-verify=false`). */
  httpFallback?: boolean;
  username?: string | null;
  password?: string | null;
  proxy?: ProxySettings;
  guard?: OutboundGuard;
  /** Connect timeout and idle-read timeout of API calls, ms (Quay: 5 s / 30 s). */
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  /** Idle-read timeout of blob streams, ms (Quay: 120 s). */
  blobReadTimeoutMs?: number;
  userAgent?: string;
  /**
   * Back off from a failing upstream: after a connection error, timeout, 5xx or 429, registry calls fail at once
   * (as unavailable) for 1 s, doubling with each further failure in a row up to this many ms; a success ends it.
   * 0 or absent: every call goes out.
   */
  maxBackoffMs?: number;
}

export interface UpstreamManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ManifestHead {
  /** From Docker-Content-Digest; null when the upstream does not send it. */
  digest: string | null;
  mediaType: string | null;
  size: number | null;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse `WWW-Authenticate`, which may carry several challenges (`Bearer realm="…",service="…", Basic realm="…"`). */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  const re = /([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)((?:\s*,?\s*[A-Za-z0-9_-]+=(?:"(?:[^"\\]|\\.)*"|[^,\s]*))*)/g;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    const params: Record<string, string> = {};
    const pre = /([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
    for (let p = pre.exec(m[2]); p; p = pre.exec(m[2])) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
    out.push({ scheme: m[1].toLowerCase(), params });
  }
  return out;
}

/**
 * The registrable domain of a host name by the Public Suffix List, private suffixes included
 * (`a.example.co.uk` → `example.co.uk`, `x.github.io` → itself); an IP address, or a name without one, is itself.
 */
function registrableDomain(host: string): string {
  if (isIP(host.replace(/^\[|\]$/g, ''))) return host;
  return tldts().getDomain(host, { allowPrivateDomains: true }) ?? host;
}

function hostnameOf(hostPort: string): string {
  return new URL(`http://${hostPort}`).hostname;
}

/** `docker.io` and its aliases speak the API at registry-1.docker.io (Quay's only host rewrite). */
export function registryHost(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}

function noProxyMatches(noProxy: string | null | undefined, hostname: string): boolean {
  if (!noProxy) return false;
  return noProxy
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => entry === '*' || hostname === entry.replace(/^\./, '') || hostname.endsWith(entry.startsWith('.') ? entry : `.${entry}`));
}

async function readCapped(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      res.destroy();
      throw new UpstreamError('invalid', `upstream response is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

function statusFailure(status: number, what: string): UpstreamError {
  if (status === 401 || status === 403) return new UpstreamError('auth', `upstream refused ${what} (${status})`, status);
  if (status === 404) return new UpstreamError('not_found', `${what} not found upstream`, status);
  if (status === 429 || status >= 500) return new UpstreamError('unavailable', `upstream answered ${status} for ${what}`, status);
  return new UpstreamError('invalid', `upstream answered ${status} for ${what}`, status);
}

export class UpstreamClient {
  readonly host: string;
  private base: URL;
  /** Authorization header value per token scope (`''` = the upstream needs none), with its expiry. */
  private readonly auth = new Map<string, { header: string | null; expires: number }>();
  private readonly agent: http.Agent;
  /** Failed registry calls in a row, and until when no call goes out (maxBackoffMs). */
  private failures = 0;
  private resumeAt = 0;

  constructor(private readonly o: UpstreamOptions) {
    this.host = registryHost(o.host);
    this.base = new URL(`${o.insecure ? 'http' : 'https'}://${this.host}`);
    const agentOptions = { keepAlive: true, maxSockets: 32, lookup: o.guard?.lookup, rejectUnauthorized: o.verifyTls !== false };
    this.agent = o.insecure ? new http.Agent(agentOptions) : new https.Agent(agentOptions);
  }

  close(): void {
    this.agent.destroy();
  }

  /** `valid`: the upstream accepted the credentials (or needs none); `anonymous`: only anonymous access verified. */
  async validate(): Promise<'valid' | 'anonymous'> {
    const res = await this.send('GET', new URL('/v2/', this.base), {});
    res.resume();
    if (res.statusCode === 200) return 'valid';
    if (res.statusCode !== 401) throw statusFailure(res.statusCode ?? 0, 'the registry API');
    const challenges = parseChallenges(res.headers['www-authenticate']);
    const header = await this.handshake(challenges, null);
    const again = await this.send('GET', new URL('/v2/', this.base), header ? { authorization: header } : {});
    again.resume();
    if (again.statusCode === 200) return 'valid';
    if (this.o.username) throw new UpstreamError('auth', 'the upstream refused the credentials', again.statusCode);
    return 'anonymous';
  }

  async headManifest(repo: string, reference: string): Promise<ManifestHead> {
    const res = await this.call('HEAD', repo, `/v2/${repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, this.o.readTimeoutMs);
    res.resume();
    if (res.statusCode !== 200) throw statusFailure(res.statusCode ?? 0, `manifest ${repo}:${reference}`);
    const digest = res.headers['docker-content-digest'];
    const len = Number(res.headers['content-length']);
    return {
      digest: typeof digest === 'string' && digest ? digest : null,
      mediaType: res.headers['content-type']?.split(';')[0].trim() ?? null,
      size: Number.isSafeInteger(len) ? len : null,
    };
  }

  /** The manifest bytes, checked against the digest asked for (or the one the upstream announces). */
  async getManifest(repo: string, reference: string): Promise<UpstreamManifest> {
    const res = await this.call('GET', repo, `/v2/${repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, this.o.readTimeoutMs);
    if (res.statusCode !== 200) {
      res.resume();
      throw statusFailure(res.statusCode ?? 0, `manifest ${repo}:${reference}`);
    }
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES);
    const announced = res.headers['docker-content-digest'];
    const expected = reference.includes(':') ? reference : typeof announced === 'string' && announced ? announced : null;
    const algorithm = expected?.startsWith('sha512:') ? 'sha512' : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (expected && digest !== expected) throw new UpstreamError('invalid', `upstream manifest has digest ${digest}, not ${expected}`);
    let mediaType = res.headers['content-type']?.split(';')[0].trim() ?? '';
    if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain') {
      try {
        mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
      } catch {
        throw new UpstreamError('invalid', 'upstream manifest is not JSON');
      }
    }
    return { digest, mediaType, bytes };
  }

  /** A blob's bytes as a stream (the caller verifies digest and size), following redirects to blob storage. */
  async getBlob(repo: string, digest: string): Promise<{ stream: Readable; size: number | null }> {
    let res = await this.call('GET', repo, `/v2/${repo}/blobs/${digest}`, { 'accept-encoding': 'identity' }, this.o.blobReadTimeoutMs ?? 120_000);
    for (let hops = 0; res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location; hops++) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new UpstreamError('invalid', 'too many redirects for a blob');
      const next = new URL(res.headers.location, this.base);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new UpstreamError('invalid', 'blob redirect to an unsupported scheme');
      // Redirects lead to storage that authenticates by signed URL; the registry's credentials stay here.
      res = await this.send('GET', next, { 'accept-encoding': 'identity' }, this.o.blobReadTimeoutMs ?? 120_000);
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw statusFailure(res.statusCode ?? 0, `blob ${digest}`);
    }
    const len = Number(res.headers['content-length']);
    return { stream: res, size: Number.isSafeInteger(len) && res.headers['content-length'] !== undefined ? len : null };
  }

  /**
   * The tags of a repository (following `Link` pagination, at most `maxPages` pages); `complete` is false when
   * pages were left (or an entry was not a tag name), so a caller never takes a missing tag for a vanished one.
   */
  async listTags(repo: string, maxPages = 1000): Promise<{ tags: string[]; complete: boolean }> {
    const tags: string[] = [];
    let complete = true;
    let path: string | null = `/v2/${repo}/tags/list?n=1000`;
    for (let pages = 0; path; pages++) {
      if (pages === maxPages) {
        complete = false;
        break;
      }
      const res = await this.call('GET', repo, path, { accept: 'application/json' }, this.o.readTimeoutMs);
      if (res.statusCode !== 200) {
        res.resume();
        throw statusFailure(res.statusCode ?? 0, `tags of ${repo}`);
      }
      const body = await readCapped(res, 16 * MAX_JSON_BYTES);
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new UpstreamError('invalid', 'upstream tag list is not JSON');
      }
      if (parsed.tags !== null && parsed.tags !== undefined && !Array.isArray(parsed.tags)) throw new UpstreamError('invalid', 'upstream tag list has no tags array');
      for (const t of (parsed.tags as unknown[] | null) ?? []) {
        if (typeof t === 'string') tags.push(t);
        else complete = false;
      }
      const link = res.headers.link;
      const next = typeof link === 'string' ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      path = next ? new URL(next[1], this.base).pathname + new URL(next[1], this.base).search : null;
    }
    return { tags, complete };
  }

  /** A registry API call with the repository's credentials; one forced re-authentication on a 401. */
  private async call(method: string, repo: string, path: string, headers: Record<string, string>, readTimeoutMs?: number): Promise<IncomingMessage> {
    const max = this.o.maxBackoffMs ?? 0;
    if (max <= 0) return this.callOnce(method, repo, path, headers, readTimeoutMs);
    const wait = this.resumeAt - Date.now();
    if (wait > 0) throw new UpstreamError('unavailable', `the upstream failed ${this.failures} times in a row: not asked again for ${Math.ceil(wait / 1000)} s`);
    let res: IncomingMessage;
    try {
      res = await this.callOnce(method, repo, path, headers, readTimeoutMs);
    } catch (e) {
      if (e instanceof UpstreamError && e.kind === 'unavailable') this.failed(max);
      throw e;
    }
    if (res.statusCode === 429 || (res.statusCode ?? 0) >= 500) this.failed(max);
    else this.failures = 0;
    return res;
  }

  private failed(maxMs: number): void {
    this.failures++;
    this.resumeAt = Date.now() + Math.min(maxMs, 1000 * 2 ** Math.min(this.failures - 1, 30));
  }

  private async callOnce(method: string, repo: string, path: string, headers: Record<string, string>, readTimeoutMs?: number): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    const scope = `repository:${repo}:pull`;
    const cached = this.auth.get(scope);
    if (cached && cached.expires > Date.now()) {
      const res = await this.send(method, url, cached.header ? { ...headers, authorization: cached.header } : headers, readTimeoutMs);
      if (res.statusCode !== 401) return res;
      res.resume();
      this.auth.delete(scope);
      return this.authenticateAndSend(method, url, headers, scope, parseChallenges(res.headers['www-authenticate']), readTimeoutMs);
    }
    const first = await this.send(method, url, headers, readTimeoutMs);
    if (first.statusCode !== 401) {
      this.auth.set(scope, { header: null, expires: Date.now() + 3600_000 });
      return first;
    }
    first.resume();
    return this.authenticateAndSend(method, url, headers, scope, parseChallenges(first.headers['www-authenticate']), readTimeoutMs);
  }

  private async authenticateAndSend(
    method: string,
    url: URL,
    headers: Record<string, string>,
    scope: string,
    challenges: Challenge[],
    readTimeoutMs?: number,
  ): Promise<IncomingMessage> {
    const header = await this.handshake(challenges, scope);
    const res = await this.send(method, url, header ? { ...headers, authorization: header } : headers, readTimeoutMs);
    if (res.statusCode === 401 || res.statusCode === 403) {
      res.resume();
      throw new UpstreamError('auth', `upstream refused access to ${scope} (${res.statusCode})`, res.statusCode);
    }
    return res;
  }

  /** The Authorization value a challenge asks for (Bearer preferred over Basic), cached per scope. */
  private async handshake(challenges: Challenge[], scope: string | null): Promise<string | null> {
    const basic = this.o.username ? `Basic ${Buffer.from(`${this.o.username}:${this.o.password ?? ''}`).toString('base64')}` : null;
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (!bearer) {
      if (challenges.some((c) => c.scheme === 'basic') && basic) {
        if (scope) this.auth.set(scope, { header: basic, expires: Date.now() + 3600_000 });
        return basic;
      }
      throw new UpstreamError('auth', 'the upstream asks for authentication and no usable credentials are configured', 401);
    }
    let realm: URL;
    try {
      realm = new URL(bearer.params.realm);
    } catch {
      throw new UpstreamError('invalid', 'the upstream names an invalid token realm');
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new UpstreamError('invalid', 'the upstream names a token realm with an unsupported scheme');
    const q = new URLSearchParams();
    if (bearer.params.service) q.set('service', bearer.params.service);
    if (scope) q.set('scope', scope);
    for (const [k, v] of q) realm.searchParams.set(k, v);
    // Credentials go only to the upstream's own registrable domain, and never over plain http when the upstream speaks https.
    const trusted = registrableDomain(realm.hostname) === registrableDomain(hostnameOf(this.host)) && (realm.protocol === 'https:' || this.base.protocol === 'http:');
    const res = await this.send('GET', realm, basic && trusted ? { authorization: basic, accept: 'application/json' } : { accept: 'application/json' }, this.o.readTimeoutMs);
    if (res.statusCode === 401 || res.statusCode === 403) {
      res.resume();
      if (!this.o.username) return null; // anonymous: the registry may still allow what follows
      throw new UpstreamError('auth', `the token service refused the credentials (${res.statusCode})`, res.statusCode);
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw statusFailure(res.statusCode ?? 0, 'a token');
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse((await readCapped(res, MAX_JSON_BYTES)).toString('utf8')) as typeof body;
    } catch (e) {
      if (e instanceof UpstreamError) throw e;
      throw new UpstreamError('invalid', 'the token service answered something other than JSON');
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== 'string' || !token) throw new UpstreamError('invalid', 'the token service answered without a token');
    const header = `Bearer ${token}`;
    const ttl = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600) - 10;
    if (scope) this.auth.set(scope, { header, expires: Date.now() + Math.max(ttl, 1) * 1000 });
    return header;
  }

  /** One HTTP exchange; resolves with the response head (the body is the caller's to consume). */
  private async send(method: string, url: URL, headers: Record<string, string>, readTimeoutMs?: number): Promise<IncomingMessage> {
    // Literal addresses never reach the lookup: the guard checks every URL (token realms, redirects) first.
    if (this.o.guard) {
      try {
        await this.o.guard.check(url.href);
      } catch (e) {
        throw new UpstreamError('invalid', `${url.host} is not allowed: ${(e as Error).message}`);
      }
    }
    try {
      return await this.exchange(method, url, headers, readTimeoutMs).catch((e: unknown) => {
        // A kept-alive connection the upstream closed just as this request went out (its idle timeout): the
        // request never reached it, so it goes again once on a new connection (only GET and HEAD are sent).
        if (e instanceof StaleConnection) return this.exchange(method, url, headers, readTimeoutMs, false);
        throw e;
      });
    } catch (e) {
      const plainHttp =
        this.o.httpFallback && this.o.verifyTls === false && url.protocol === 'https:' && url.host === this.base.host && /SSL|TLS|EPROTO|wrong version/i.test((e as Error).message);
      if (!plainHttp) throw e;
      this.base = new URL(`http://${this.host}`);
      return this.exchange(method, new URL(url.pathname + url.search, this.base), headers, readTimeoutMs);
    }
  }

  private exchange(method: string, url: URL, headers: Record<string, string>, readTimeoutMs = this.o.readTimeoutMs ?? 30_000, reuse = true): Promise<IncomingMessage> {
    const connectTimeoutMs = this.o.connectTimeoutMs ?? 5_000;
    const isHttps = url.protocol === 'https:';
    const proxy = this.proxyFor(url);
    const sameOrigin = url.host === this.base.host && url.protocol === this.base.protocol;
    const allHeaders = { 'user-agent': this.o.userAgent ?? 'quay-ts', ...headers };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const fail = (err: Error) => reject(err instanceof UpstreamError ? err : new UpstreamError('unavailable', `cannot reach ${url.host}: ${err.message}`));
      let req: http.ClientRequest;
      const common = { method, headers: allHeaders, lookup: this.o.guard?.lookup, rejectUnauthorized: this.o.verifyTls !== false };
      if (proxy && !isHttps) {
        // A plain-http request through a proxy names the absolute URL.
        req = http.request({ ...common, host: proxy.hostname, port: proxy.port || 80, path: url.href, headers: { ...allHeaders, host: url.host } });
      } else if (proxy) {
        req = https.request({
          ...common,
          host: url.hostname,
          port: url.port || 443,
          path: url.pathname + url.search,
          servername: url.hostname,
          createConnection: tunnel(proxy, url, common.rejectUnauthorized, this.o.guard),
        } as https.RequestOptions);
      } else {
        const mod = isHttps ? https : http;
        req = mod.request({
          ...common,
          host: url.hostname,
          port: url.port || (isHttps ? 443 : 80),
          path: url.pathname + url.search,
          agent: sameOrigin && isHttps === !this.o.insecure ? reuse && this.agent : undefined,
          servername: isHttps ? url.hostname : undefined,
        });
      }
      const connectTimer = setTimeout(() => req.destroy(new UpstreamError('unavailable', `connecting to ${url.host} timed out`)), connectTimeoutMs);
      req.on('socket', (s: Socket) => {
        if (!s.connecting) clearTimeout(connectTimer);
        else s.once('connect', () => clearTimeout(connectTimer));
      });
      req.setTimeout(readTimeoutMs, () => req.destroy(new UpstreamError('unavailable', `${url.host} did not answer within ${readTimeoutMs} ms`)));
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        res.on('error', () => undefined);
        resolve(res);
      });
      req.on('error', (err) => {
        clearTimeout(connectTimer);
        const code = (err as NodeJS.ErrnoException).code;
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) reject(new StaleConnection(err.message));
        else fail(err);
      });
      req.end();
    });
  }

  private proxyFor(url: URL): URL | null {
    const p = this.o.proxy;
    if (!p || noProxyMatches(p.no_proxy, url.hostname)) return null;
    const value = url.protocol === 'https:' ? p.https_proxy : p.http_proxy;
    if (!value) return null;
    try {
      return new URL(value.includes('://') ? value : `http://${value}`);
    } catch {
      throw new UpstreamError('invalid', `invalid proxy URL ${value}`);
    }
  }
}

/** A CONNECT tunnel through an http proxy, then TLS to the target inside it. */
function tunnel(proxy: URL, target: URL, rejectUnauthorized: boolean, guard?: OutboundGuard) {
  return (_opts: unknown, cb: (err: Error | null, s?: Socket) => void) => {
    const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${target.hostname}:${target.port || 443}`, lookup: guard?.lookup });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return cb(new UpstreamError('unavailable', `proxy refused the tunnel (${res.statusCode})`));
      }
      cb(null, tls.connect({ socket, servername: target.hostname, rejectUnauthorized }));
    });
    req.once('error', (err) => cb(err));
    req.end();
    return undefined;
  };
}
