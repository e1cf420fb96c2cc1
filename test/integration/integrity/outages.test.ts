/**
 * The fault campaign's database outage (issue 13): the registry's own PostgreSQL server is stopped and started
 * again while clients push and pull. While it is down every answer is a 503 in the protocol's format (never a
 * 500, never a false 404); afterwards the same registry process serves again without a restart, and every
 * push it acknowledged is there, its manifest and blobs hashing to their digests.
 */
import { basicAuth, startRegistry, scaleOutConfig, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob, sha256, type Blob } from '../../helpers/v2.js';
import { createTestDatabase, startPostgres, type PostgresService } from '../../setup/services.js';
import { signin } from '../api/fixture.js';

/** A V2 client that records the status of every response it gets. */
class RecordingClient extends V2Client {
  readonly statuses: number[] = [];
  readonly bodies: string[] = [];

  override async req(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Response> {
    let res: Response;
    try {
      res = await super.req(method, path, init);
    } catch (err) {
      // A dropped connection: recorded as status 0 (none may happen), then passed on.
      this.statuses.push(0);
      throw err;
    }
    this.statuses.push(res.status);
    if (res.status >= 500) this.bodies.push(await res.clone().text());
    return res;
  }
}

interface Acked {
  tag: string;
  digest: string;
  layers: Blob[];
}

let pgsvc: PostgresService;
let reg: RegistryProcess;

beforeAll(async () => {
  pgsvc = await startPostgres();
  const dbUri = await createTestDatabase('outage', pgsvc.url);
  reg = await startRegistry({ label: 'pg-outage', config: await scaleOutConfig({ DB_URI: dbUri }) });
});

afterAll(async () => {
  await reg?.stop();
  await pgsvc?.stop();
});

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

test('Postgres restarted under pushes and pulls: 503 while down, recovery without a restart, no acknowledged push lost', async () => {
  const auth = basicAuth(reg.admin.username, reg.admin.password);
  const admin = new V2Client(reg, auth);
  const base = await admin.pushImage('admin/base', 'v1');
  const pid = reg.process.pid;
  const acked: Acked[] = [];
  const clients: RecordingClient[] = [];
  let running = true;

  const pusher = async (n: number) => {
    const c = new RecordingClient(reg, auth);
    clients.push(c);
    for (let i = 0; running; i++) {
      const tag = `p${n}-${i}`;
      try {
        const r = await c.pushImage('admin/app', tag, { layers: [randomBlob(4096)] });
        acked.push({ tag, digest: r.digest, layers: r.layers });
      } catch {
        // Refused during the outage (the statuses are checked below); the client moves on, as clients retry.
      }
    }
  };
  const puller = async () => {
    const c = new RecordingClient(reg, auth);
    clients.push(c);
    while (running) {
      const res = await c.req('GET', `/v2/admin/base/manifests/${base.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      if (res.status === 200) expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(base.digest);
      else await res.arrayBuffer();
    }
  };
  const session = await signin(reg, reg.admin.username, reg.admin.password);
  const load = Promise.all([pusher(1), pusher(2), puller(), puller()]);
  let ackedBefore = 0;
  try {
    await until('three pushes acknowledged before the outage', async () => acked.length >= 3);
    await pgsvc.halt();
    ackedBefore = acked.length;

    // While it is down: /v2 and the REST API answer 503 in their own formats.
    await until('a pull answered 503 during the outage', async () => clients.some((c) => c.statuses.includes(503)));
    const v2 = await admin.req('GET', `/v2/admin/base/manifests/${base.digest}`);
    expect(v2.status).toBe(503);
    expect(v2.headers.get('retry-after')).toBeTruthy();
    expect(((await v2.json()) as { errors: { code: string }[] }).errors[0].code).toBe('UNAVAILABLE');
    const rest = await session.get('/repository/admin/base');
    expect({ status: rest.status, body: rest.body }).toMatchObject({ status: 503, body: { status: 503, error_type: 'downstream_issue' } });

    await pgsvc.resume();
    const statusesAtResume = clients.map((c) => c.statuses.length);
    await until('pulls answered 200 again', async () => clients.some((c, i) => c.statuses.slice(statusesAtResume[i]).includes(200)), 90_000);
    await until('a push acknowledged after the outage', async () => acked.length > ackedBefore + 2, 90_000);
  } finally {
    running = false;
    await load.catch(() => undefined);
  }

  // The same process, never restarted.
  expect(reg.process.running()).toBe(true);
  expect(reg.process.pid).toBe(pid);
  // Nothing but 503 among the server errors, and nothing a client would take for missing content.
  const all = clients.flatMap((c) => c.statuses);
  const serverErrors = clients.flatMap((c) => c.bodies);
  expect({ fiveHundreds: all.filter((s) => s >= 500 && s !== 503).length, sample: serverErrors.filter((b) => !b.includes('UNAVAILABLE')).slice(0, 3) }).toEqual({
    fiveHundreds: 0,
    sample: [],
  });
  expect(all.filter((s) => s === 0 || s === 404 || s === 500)).toEqual([]);
  // Every acknowledged push is complete: tag, manifest and blobs, each hashing to its digest.
  for (const a of acked) {
    const m = await admin.req('GET', `/v2/admin/app/manifests/${a.tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect({ tag: a.tag, status: m.status }).toEqual({ tag: a.tag, status: 200 });
    expect(sha256(Buffer.from(await m.arrayBuffer()))).toBe(a.digest);
    for (const l of a.layers) {
      const b = await admin.req('GET', `/v2/admin/app/blobs/${l.digest}`);
      expect(sha256(Buffer.from(await b.arrayBuffer()))).toBe(l.digest);
    }
  }
  console.log(
    `postgres outage: ${acked.length} pushes acknowledged (${ackedBefore} before the outage), ${all.length} responses, ${all.filter((s) => s === 503).length} of them 503`,
  );
});
