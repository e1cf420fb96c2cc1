/**
 * The scale-out load: closed-loop clients (each starts its next operation when the last one ends) through the
 * load balancer, mixing
 *   pulls  token, manifest GET by tag (bytes checked against the pushed digest), then each blob: GET on the
 *          registry (a redirect to a pre-signed URL), followed to S3, the bytes hashed against the digest;
 *   pushes token, config and layer uploads (monolithic: POST + PUT; or chunked: POST, PATCH × 3, PUT),
 *          manifest PUT. A push is *acknowledged* when its manifest PUT answered 201.
 * One replica may be killed mid-run. Every request is timed and, through nginx's X-Upstream header, tied to the
 * replica(s) that handled it, so a failed request can be told apart: in flight on the killed replica, or not.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { UPSTREAM_HEADER } from './nginx.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

/** Request kinds, in report order. `S3 download` goes to the object store, every other one to nginx. */
export const KINDS = ['token', 'manifest GET', 'blob GET', 'S3 download', 'upload start', 'upload chunk', 'upload finish', 'manifest PUT'] as const;
export type Kind = (typeof KINDS)[number];

export interface BlobRef {
  digest: string;
  size: number;
}

/** An image the registry holds (a seed) or acknowledged (a push of the run). */
export interface Image {
  repo: string;
  tag: string;
  digest: string;
  manifest: Buffer;
  blobs: BlobRef[];
  /** ms since the start of the load when its manifest PUT answered 201 (seeds: 0) */
  at: number;
}

export interface RequestFailure {
  kind: Kind;
  method: string;
  path: string;
  /** ms since the start of the load */
  start: number;
  end: number;
  status: number | null;
  /** nginx's X-Upstream: the replica(s) the request was passed to ("" when nginx did not say) */
  upstream: string;
  error: string;
}

export interface KindStats {
  count: number;
  p50: number;
  p99: number;
}

/**
 * How long after the killed replica's process has ended a request may still have been sent to it: nginx
 * learns of the death from the closed connections in its own time, and until then may pass a request over a
 * kept-alive connection to the dead replica (a POST or PATCH sent that way is not resent, as on any balancer).
 */
export const KILL_NOTICE_MS = 1000;

export interface KillEvent {
  hostPort: string;
  /** ms since the start of the load: just before SIGKILL, and when the replica's process had ended */
  from: number;
  to: number;
}

export interface LoadResult {
  /** ms the load ran */
  elapsed: number;
  stats: Record<Kind, KindStats>;
  failures: RequestFailure[];
  /**
   * Failed requests that were in flight on the killed replica: passed to it (X-Upstream), sent before its
   * process had ended (+ KILL_NOTICE_MS), ended after the SIGKILL.
   */
  killFailures: RequestFailure[];
  /** Every other failed request: must be none. */
  otherFailures: RequestFailure[];
  ops: { pull: KindStats & { failed: number }; push: KindStats & { failed: number } };
  acknowledged: Image[];
  kill: KillEvent | null;
  /** Successful requests per replica (the one that answered), before and after the kill. */
  servedBy: Map<string, { before: number; after: number }>;
  /** Pulls and acknowledged pushes that completed after the kill. */
  afterKill: { pulls: number; pushes: number };
}

export interface LoadOptions {
  /** The load balancer: http://host:port, and host:port (the token service) */
  url: string;
  hostPort: string;
  admin: { username: string; password: string };
  clients: number;
  durationS: number;
  /** Share of operations that are pushes (0..1) */
  pushShare: number;
  /** Bytes of each pushed layer */
  layerBytes: number;
  /** Images to pull from the start; pushes go to the same repositories under new tags. */
  seeds: Image[];
  kill?: {
    /** Seconds into the load, and only once this many pushes were acknowledged */
    atS: number;
    minAcknowledged?: number;
    hostPort: string;
    /** Called just before the kill (e.g. to read the replica's counters one last time). */
    before?: () => Promise<void>;
    run: () => Promise<void>;
  };
  /** The load runs past durationS until this many pulls and acknowledged pushes completed after the kill. */
  minAfterKill?: { pulls: number; pushes: number };
  log?: (m: string) => void;
}

class RequestFailed extends Error {}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize(xs: number[]): KindStats {
  const s = [...xs].sort((a, b) => a - b);
  return { count: s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
}

function header(h: Record<string, string | string[] | undefined>, name: string): string {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

export function basic(u: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
}

/** An OCI image manifest for a config and layers. */
export function imageManifest(config: BlobRef, layers: BlobRef[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
    }),
  );
}

export function imageConfig(): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** sha256 of the body, when asked to hash instead of keeping it */
  digest?: string;
}

/** HTTP through one undici Agent (keep-alive pools per origin), each request timed and attributed. */
export class Client {
  readonly agent: Agent;
  readonly t0 = performance.now();
  readonly durations = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
  readonly failures: RequestFailure[] = [];
  /** answering upstream → successful responses, and the time of each (ms) */
  readonly served: Array<{ upstream: string; at: number }> = [];

  constructor(connectionsPerOrigin: number) {
    this.agent = new Agent({ connections: connectionsPerOrigin, keepAliveTimeout: 30_000, headersTimeout: 300_000, bodyTimeout: 300_000 });
  }

  now(): number {
    return performance.now() - this.t0;
  }

  /**
   * One request; resolves only with an expected status (and content passing `check`), otherwise records a
   * failure and throws RequestFailed.
   */
  async call(
    kind: Kind,
    method: 'GET' | 'PUT' | 'POST' | 'PATCH',
    url: string,
    o: { headers?: Record<string, string>; body?: Buffer; expect: number[]; hash?: boolean; check?: (a: Answer) => string | null },
  ): Promise<Answer> {
    const start = this.now();
    const u = new URL(url);
    const fail = (status: number | null, upstream: string, error: string): never => {
      this.failures.push({ kind, method, path: `${u.host}${u.pathname}`, start, end: this.now(), status, upstream, error });
      throw new RequestFailed(error);
    };
    let res;
    try {
      res = await request(u, { dispatcher: this.agent, method, headers: o.headers, body: o.body });
    } catch (e) {
      return fail(null, '', (e as Error).message);
    }
    const upstream = header(res.headers, UPSTREAM_HEADER);
    let answer: Answer;
    try {
      if (o.hash && res.statusCode === 200) {
        const h = createHash('sha256');
        for await (const chunk of res.body) h.update(chunk as Buffer);
        answer = { status: res.statusCode, headers: res.headers, body: Buffer.alloc(0), digest: `sha256:${h.digest('hex')}` };
      } else {
        answer = { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
      }
    } catch (e) {
      return fail(res.statusCode, upstream, `reading the body: ${(e as Error).message}`);
    }
    if (!o.expect.includes(answer.status)) return fail(answer.status, upstream, `answered ${answer.status}: ${answer.body.toString('utf8', 0, 300)}`);
    const problem = o.check?.(answer);
    if (problem) return fail(answer.status, upstream, problem);
    const end = this.now();
    this.durations.get(kind)!.push(end - start);
    if (upstream) this.served.push({ upstream: upstream.split(', ').pop()!, at: end });
    return answer;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** A registry session of one operation: a bearer token for one repository. */
export class Registry {
  constructor(
    readonly c: Client,
    readonly url: string,
    readonly hostPort: string,
    readonly admin: { username: string; password: string },
  ) {}

  async token(repo: string, actions: string): Promise<Record<string, string>> {
    const q = new URLSearchParams({ service: this.hostPort, scope: `repository:${repo}:${actions}` });
    const a = await this.c.call('token', 'GET', `${this.url}/v2/auth?${q}`, {
      headers: { authorization: basic(this.admin) },
      expect: [200],
      check: (x) => (typeof (JSON.parse(x.body.toString()) as { token?: unknown }).token === 'string' ? null : 'no token in the answer'),
    });
    return { authorization: `Bearer ${(JSON.parse(a.body.toString()) as { token: string }).token}` };
  }

  /** Pulls an image: manifest by tag, then every blob through the registry's redirect; checks every byte. */
  async pull(img: Image): Promise<void> {
    const auth = await this.token(img.repo, 'pull');
    await this.c.call('manifest GET', 'GET', `${this.url}/v2/${img.repo}/manifests/${img.tag}`, {
      headers: { ...auth, accept: OCI_MANIFEST },
      expect: [200],
      check: (a) => (sha256(a.body) === img.digest ? null : `manifest ${img.repo}:${img.tag} is not ${img.digest}`),
    });
    for (const b of img.blobs) await this.getBlob(img.repo, b, auth);
  }

  /** GET of a blob on the registry, the redirect followed to the store (or the bytes from the registry), hashed. */
  async getBlob(repo: string, b: BlobRef, auth: Record<string, string>): Promise<void> {
    const check = (a: Answer) => (a.digest === b.digest ? null : `blob ${b.digest} of ${repo} arrived as ${a.digest}`);
    const r = await this.c.call('blob GET', 'GET', `${this.url}/v2/${repo}/blobs/${b.digest}`, {
      headers: auth,
      expect: [200, 302, 307],
      hash: true,
      check: (a) => (a.status === 200 ? check(a) : null),
    });
    if (r.status === 200) return;
    const location = header(r.headers, 'location');
    await this.c.call('S3 download', 'GET', new URL(location, this.url).toString(), { expect: [200], hash: true, check });
  }

  /** Uploads a blob: monolithic (POST, PUT with the body) or chunked (POST, PATCH per chunk, PUT). */
  async upload(repo: string, data: Buffer, auth: Record<string, string>, chunks: number): Promise<BlobRef> {
    const digest = sha256(data);
    const at = (a: Answer) => new URL(header(a.headers, 'location'), this.url).toString();
    const started = await this.c.call('upload start', 'POST', `${this.url}/v2/${repo}/blobs/uploads/`, { headers: auth, expect: [202] });
    let location = at(started);
    const octets = { ...auth, 'content-type': 'application/octet-stream' };
    let body: Buffer | undefined = data;
    if (chunks > 1) {
      const step = Math.ceil(data.length / chunks);
      for (let off = 0; off < data.length; off += step) {
        const part = data.subarray(off, Math.min(data.length, off + step));
        const r = await this.c.call('upload chunk', 'PATCH', location, { headers: { ...octets, 'content-range': `${off}-${off + part.length - 1}` }, body: part, expect: [202] });
        location = at(r);
      }
      body = undefined;
    }
    const finish = new URL(location);
    finish.searchParams.set('digest', digest);
    await this.c.call('upload finish', 'PUT', finish.toString(), {
      headers: body ? octets : { ...auth, 'content-length': '0' },
      body,
      expect: [201],
      check: (a) => (header(a.headers, 'docker-content-digest') === digest ? null : `upload answered digest ${header(a.headers, 'docker-content-digest')}`),
    });
    return { digest, size: data.length };
  }

  /** Pushes config + one layer of `layerBytes` random bytes and the manifest under `tag`; returns the image. */
  async push(repo: string, tag: string, layerBytes: number, chunked: boolean): Promise<Image> {
    const auth = await this.token(repo, 'pull,push');
    const config = await this.upload(repo, imageConfig(), auth, 1);
    const layer = await this.upload(repo, randomBytes(layerBytes), auth, chunked ? 3 : 1);
    const manifest = imageManifest(config, [layer]);
    const digest = sha256(manifest);
    await this.c.call('manifest PUT', 'PUT', `${this.url}/v2/${repo}/manifests/${tag}`, {
      headers: { ...auth, 'content-type': OCI_MANIFEST },
      body: manifest,
      expect: [201],
      check: (a) => (header(a.headers, 'docker-content-digest') === digest ? null : `manifest PUT answered digest ${header(a.headers, 'docker-content-digest')}`),
    });
    return { repo, tag, digest, manifest, blobs: [config, layer], at: this.c.now() };
  }
}

/** Pushes one image (tag `seed`, one layer of `layerBytes`) into each of `repos` repositories admin/scale-<i>. */
export async function seedImages(o: { url: string; hostPort: string; admin: { username: string; password: string }; repos: number; layerBytes: number }): Promise<Image[]> {
  const client = new Client(8);
  try {
    const reg = new Registry(client, o.url, o.hostPort, o.admin);
    const seeds = await Promise.all(Array.from({ length: o.repos }, (_, i) => reg.push(`${o.admin.username}/scale-${i}`, 'seed', o.layerBytes, false)));
    return seeds.map((s) => ({ ...s, at: 0 }));
  } catch (e) {
    throw new Error(`seeding failed: ${JSON.stringify(client.failures.slice(0, 3))}`, { cause: e });
  } finally {
    await client.close();
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const log = o.log ?? (() => undefined);
  const client = new Client(o.clients);
  const reg = new Registry(client, o.url, o.hostPort, o.admin);
  const acknowledged: Image[] = [];
  const ops = { pull: [] as number[], push: [] as number[], pullFailed: 0, pushFailed: 0 };
  const unexpected: string[] = [];
  let kill: KillEvent | null = null;
  let stopping = false;
  const afterKill = { pulls: 0, pushes: 0 };
  const repos = [...new Set(o.seeds.map((s) => s.repo))];

  const pullTarget = (): Image => {
    // Half of the pulls read what the run pushed (often through another replica than the push), half the seeds.
    if (acknowledged.length > 0 && randomInt(2) === 0) return acknowledged[acknowledged.length - 1 - randomInt(Math.min(acknowledged.length, 200))];
    return o.seeds[randomInt(o.seeds.length)];
  };

  const worker = async (id: number): Promise<void> => {
    for (let n = 0; !stopping; n++) {
      const push = Math.random() < o.pushShare;
      const t = client.now();
      try {
        if (push) {
          const img = await reg.push(repos[id % repos.length], `c${id}-${n}`, o.layerBytes, n % 2 === 1);
          acknowledged.push(img);
          ops.push.push(client.now() - t);
          if (kill && t > kill.to) afterKill.pushes++;
        } else {
          await reg.pull(pullTarget());
          ops.pull.push(client.now() - t);
          if (kill && t > kill.to) afterKill.pulls++;
        }
      } catch (e) {
        if (push) ops.pushFailed++;
        else ops.pullFailed++;
        if (!(e instanceof RequestFailed)) unexpected.push((e as Error).stack ?? String(e));
      }
    }
  };

  const ended = () =>
    client.now() >= o.durationS * 1000 && (!o.kill || kill !== null) && (!o.minAfterKill || (afterKill.pulls >= o.minAfterKill.pulls && afterKill.pushes >= o.minAfterKill.pushes));
  const conductor = async (): Promise<void> => {
    let lastLog = 0;
    // The run may be stretched to reach its minimums, never beyond three times its length and a minute.
    const hardEnd = (o.durationS * 3 + 60) * 1000;
    while (!ended()) {
      if (client.now() > hardEnd) {
        unexpected.push(`the load did not reach its end condition within ${hardEnd / 1000} s (acknowledged ${acknowledged.length}, after the kill ${JSON.stringify(afterKill)})`);
        break;
      }
      if (o.kill && !kill && client.now() >= o.kill.atS * 1000 && acknowledged.length >= (o.kill.minAcknowledged ?? 0)) {
        await o.kill.before?.();
        const from = client.now();
        await o.kill.run();
        kill = { hostPort: o.kill.hostPort, from, to: client.now() };
        log(`  killed replica ${o.kill.hostPort} at ${(from / 1000).toFixed(1)} s`);
      }
      if (client.now() - lastLog >= 10_000) {
        lastLog = client.now();
        log(`  ${(lastLog / 1000).toFixed(0)} s: ${ops.pull.length} pulls, ${acknowledged.length} pushes acknowledged, ${client.failures.length} failed requests`);
      }
      await sleep(50);
    }
    stopping = true;
  };

  await Promise.all([conductor(), ...Array.from({ length: o.clients }, (_, i) => worker(i))]);
  const elapsed = client.now();
  await client.close();
  if (unexpected.length) throw new Error(`the load generator failed:\n${unexpected.slice(0, 5).join('\n')}`);

  const k = kill as KillEvent | null;
  const inKill = (f: RequestFailure) => k !== null && f.start < k.to + KILL_NOTICE_MS && f.end >= k.from && f.upstream.split(', ').includes(k.hostPort);
  const servedBy = new Map<string, { before: number; after: number }>();
  for (const s of client.served) {
    const e = servedBy.get(s.upstream) ?? { before: 0, after: 0 };
    if (k && s.at > k.to) e.after++;
    else e.before++;
    servedBy.set(s.upstream, e);
  }
  const stats = Object.fromEntries(KINDS.map((kind) => [kind, summarize(client.durations.get(kind)!)])) as Record<Kind, KindStats>;
  return {
    elapsed,
    stats,
    failures: client.failures,
    killFailures: client.failures.filter(inKill),
    otherFailures: client.failures.filter((f) => !inKill(f)),
    ops: { pull: { ...summarize(ops.pull), failed: ops.pullFailed }, push: { ...summarize(ops.push), failed: ops.pushFailed } },
    acknowledged,
    kill: k,
    servedBy,
    afterKill,
  };
}
