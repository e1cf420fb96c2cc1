/**
 * The proxy cache's revalidation throttle, stale-if-error window and eviction (reference §5 items 3-5)
 * against a real upstream (Debian's docker-registry, Distribution 2.8) behind a fault-injecting front that
 * counts what reaches the upstream, the registry on Postgres and S3 with PROXY_CACHE_MANIFEST_CHECK_INTERVAL
 * and PROXY_CACHE_STALE_IF_ERROR set. Time is moved by moving the recorded times back in the database
 * (the upstream's last confirmation, a tag's end), never by sleeping.
 */
import pg from 'pg';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { startDistribution, type DistributionService } from '../../setup/services.js';
import { signin, type Api } from '../api/fixture.js';
import { OCI_INDEX, OCI_MANIFEST, V2Client, randomBlob, sha256 } from '../../helpers/v2.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault_front.js';
import { waitFor } from '../../helpers/poll.js';

const HOUR = 3600;
/** PROXY_CACHE_MANIFEST_CHECK_INTERVAL and PROXY_CACHE_STALE_IF_ERROR of the registry under test */
const INTERVAL = HOUR;
const WINDOW = 2 * HOUR;
let dist: DistributionService;
let front: FaultFront;
let reg: RegistryProcess;
let admin: Api;
let upstream: V2Client;
let db: pg.Client;

async function pull(path: string): Promise<Response> {
  const repo = path.split(/\/(manifests|blobs)\//)[0];
  const token = await registryToken(reg, [`repository:${repo}:pull`], reg.admin);
  return fetch(`${reg.url}/v2/${path}`, { headers: { authorization: `Bearer ${token}`, accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
}

const heads = (repo: string, tag: string) => front.forwarded.filter((f) => f === `HEAD /v2/${repo}/manifests/${tag}`).length;

/** Move the upstream's last confirmation of `org/repo:tag` back by `seconds`. */
async function ageCheck(org: string, repo: string, tag: string, seconds: number): Promise<void> {
  const r = await db.query(
    `UPDATE proxy_tag_check c SET checked_ms = c.checked_ms - $4::bigint * 1000 FROM repository r JOIN namespace n ON n.id = r.namespace_id
      WHERE c.repository_id = r.id AND n.name = $1 AND r.name = $2 AND c.name = $3`,
    [org, repo, tag, seconds],
  );
  expect(r.rowCount).toBe(1);
}

async function tagRows(org: string, repo: string): Promise<{ name: string; end_ms: string | null }[]> {
  const r = await db.query<{ name: string; end_ms: string | null }>(
    `SELECT t.name, t.end_ms FROM tag t JOIN repository r ON r.id = t.repository_id JOIN namespace n ON n.id = r.namespace_id WHERE n.name = $1 AND r.name = $2`,
    [org, repo],
  );
  return r.rows;
}

async function manifestCount(org: string, repo: string): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM manifest m JOIN repository r ON r.id = m.repository_id JOIN namespace n ON n.id = r.namespace_id WHERE n.name = $1 AND r.name = $2`,
    [org, repo],
  );
  return Number(r.rows[0].n);
}

async function proxyOrg(name: string, expiration_s: number): Promise<void> {
  await admin.ok('POST', '/organization/', { name, email: `${name}@example.com` });
  expect((await admin.post(`/organization/${name}/proxycache`, { upstream_registry: `${front.hostPort}/${name}`, insecure: true, expiration_s })).status).toBe(201);
}

beforeAll(async () => {
  dist = await startDistribution();
  front = await startFaultFront(dist.url);
  upstream = new V2Client({ url: dist.url } as RegistryProcess);
  const config = await scaleOutConfig({
    FEATURE_PROXY_CACHE: true,
    SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
    PROXY_CACHE_MANIFEST_CHECK_INTERVAL: INTERVAL,
    PROXY_CACHE_STALE_IF_ERROR: WINDOW,
    PROXY_CACHE_UPSTREAM_MAX_BACKOFF: HOUR,
    // Eviction is the garbage collector's next run: make runs frequent.
    GARBAGE_COLLECTION_FREQUENCY: 1,
  });
  db = new pg.Client({ connectionString: String(config.DB_URI) });
  await db.connect();
  reg = await startRegistry({ label: 'proxy-revalidation', config });
  admin = await signin(reg, 'admin', reg.admin.password);
}, 240_000);

afterAll(async () => {
  await reg?.stop();
  await db?.end();
  await front?.close();
  await dist?.stop();
});

test('PROXY_CACHE_MANIFEST_CHECK_INTERVAL: a confirmed tag is served without asking the upstream until the interval has passed, then re-checked', async () => {
  const first = await upstream.pushImage('thr/app', 'v1', { layers: [randomBlob(4096)] });
  await proxyOrg('thr', 24 * HOUR);
  expect((await pull('thr/app/manifests/v1')).headers.get('docker-content-digest')).toBe(first.digest);
  const asked = front.forwarded.length;
  // The tag moves upstream; within the interval the registry does not ask: the confirmed copy is served.
  const moved = await upstream.pushImage('thr/app', 'v1', { layers: [randomBlob(4096)] });
  for (let i = 0; i < 3; i++) expect((await pull('thr/app/manifests/v1')).headers.get('docker-content-digest')).toBe(first.digest);
  expect(front.forwarded.length).toBe(asked);
  // Once the interval has passed since the confirmation: asked again, the moved tag fetched.
  await ageCheck('thr', 'app', 'v1', INTERVAL + 1);
  expect((await pull('thr/app/manifests/v1')).headers.get('docker-content-digest')).toBe(moved.digest);
  expect(heads('thr/app', 'v1')).toBe(2);
  // Fetching it was a confirmation: the next pull asks nobody again.
  const after = front.forwarded.length;
  expect((await pull('thr/app/manifests/v1')).headers.get('docker-content-digest')).toBe(moved.digest);
  expect(front.forwarded.length).toBe(after);
}, 120_000);

test('PROXY_CACHE_STALE_IF_ERROR: an expired tag is served while the upstream fails within the window, a clean 404 past it; the window, not the expiry, decides', async () => {
  const img = await upstream.pushImage('sie/app', 'v1', { layers: [randomBlob(4096)] });
  await upstream.pushImage('sie/app', 'v2', { layers: [randomBlob(4096)] });
  await proxyOrg('sie', 2);
  front.mode = { kind: 'pass' };
  expect((await pull('sie/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);
  const blob = await pull(`sie/app/blobs/${img.layers[0].digest}`);
  expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(img.layers[0].digest);
  // The tag expires (expiration_s: 2); its row is kept for the stale window.
  await waitFor('v1 expired', async () => (await admin.ok('GET', '/repository/sie/app/tag/?onlyActiveTags=true')).tags.length === 0);
  front.mode = { kind: 'status', status: 503 };
  try {
    const stale = await pull('sie/app/manifests/v1');
    expect(stale.status).toBe(200);
    expect(stale.headers.get('docker-content-digest')).toBe(img.digest);
    const staleBlob = await pull(`sie/app/blobs/${img.layers[0].digest}`);
    expect(sha256(Buffer.from(await staleBlob.arrayBuffer()))).toBe(img.layers[0].digest);
    // Past the window since the last confirmation: 404, not the stale copy.
    await ageCheck('sie', 'app', 'v1', WINDOW + 1);
    const past = await pull('sie/app/manifests/v1');
    expect(past.status).toBe(404);
    expect(((await past.json()) as { errors: { code: string }[] }).errors[0].code).toBe('MANIFEST_UNKNOWN');
  } finally {
    front.mode = { kind: 'pass' };
  }

  // A tag that has not expired (expiration_s a day): the window, not the expiry, decides.
  const live = await upstream.pushImage('siel/app', 'v1', { layers: [randomBlob(4096)] });
  await proxyOrg('siel', 24 * HOUR);
  expect((await pull('siel/app/manifests/v1')).headers.get('docker-content-digest')).toBe(live.digest);
  front.mode = { kind: 'status', status: 503 };
  try {
    // Past the check interval, inside the window: the upstream is asked, fails, and the copy is served.
    await ageCheck('siel', 'app', 'v1', INTERVAL + 1);
    const asked = front.injected.length;
    expect((await pull('siel/app/manifests/v1')).headers.get('docker-content-digest')).toBe(live.digest);
    expect(front.injected.slice(asked).map((i) => i.request)).toEqual(['HEAD /v2/siel/app/manifests/v1']);
    // Past the window: 404 although the tag is live.
    await ageCheck('siel', 'app', 'v1', WINDOW - INTERVAL);
    const past = await pull('siel/app/manifests/v1');
    expect(past.status).toBe(404);
    expect((await admin.ok('GET', '/repository/siel/app/tag/?onlyActiveTags=true')).tags.map((t: { name: string }) => t.name)).toEqual(['v1']);
  } finally {
    front.mode = { kind: 'pass' };
  }
  // An auth failure is never masked: inside the window, past the interval, the upstream answering 401 gives 404.
  // (The upstream is back: confirmed by the first pull after the back-off from the failures above.)
  await waitFor('confirmed again', async () => (await pull('siel/app/manifests/v1')).headers.get('docker-content-digest') === live.digest);
  await ageCheck('siel', 'app', 'v1', INTERVAL + 1);
  front.mode = { kind: 'status', status: 401 };
  try {
    expect((await pull('siel/app/manifests/v1')).status).toBe(404);
  } finally {
    front.mode = { kind: 'pass' };
  }
}, 180_000);

test('PROXY_CACHE_UPSTREAM_MAX_BACKOFF: a failing upstream is asked again only after 1, 2, then 4 s; pulls meanwhile get the cached copy at once', async () => {
  const img = await upstream.pushImage('boff/app', 'v1', { layers: [randomBlob(4096)] });
  await proxyOrg('boff', 24 * HOUR);
  expect((await pull('boff/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);
  // Past the check interval (each pull asks), inside the stale window (each pull is served).
  await ageCheck('boff', 'app', 'v1', INTERVAL + 1);
  front.mode = { kind: 'status', status: 503 };
  const head = 'HEAD /v2/boff/app/manifests/v1';
  const asks = () => front.injected.filter((i) => i.request === head).map((i) => i.at);
  let pulls = 0;
  const forwarded = front.forwarded.length;
  try {
    while (asks().length < 4) {
      const r = await pull('boff/app/manifests/v1');
      expect(r.headers.get('docker-content-digest')).toBe(img.digest);
      pulls++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    front.mode = { kind: 'pass' };
  }
  const at = asks();
  // The registry decides to ask again only once the back-off after the previous failure has passed.
  expect([at[1] - at[0] >= 1000, at[2] - at[1] >= 2000, at[3] - at[2] >= 4000]).toEqual([true, true, true]);
  expect(pulls).toBeGreaterThan(4);
  await waitFor(
    'confirmed again',
    async () => (await pull('boff/app/manifests/v1')).headers.get('docker-content-digest') === img.digest && front.forwarded.slice(forwarded).includes(head),
  );
}, 120_000);

test('eviction: an ended proxy tag is removed with its manifest once its end plus the stale window has passed, by the next GC run; a younger one and other organizations are kept', async () => {
  const img = await upstream.pushImage('evict/app', 'v1', { layers: [randomBlob(4096)] });
  await upstream.pushImage('evict/recent', 'v1', { layers: [randomBlob(4096)] });
  await proxyOrg('evict', 24 * HOUR);
  for (const repo of ['app', 'recent']) expect((await pull(`evict/${repo}/manifests/v1`)).status).toBe(200);
  // A plain organization's tag that ended as long ago: kept (its time machine window is two weeks).
  await admin.ok('POST', '/organization/', { name: 'plain', email: 'plain@example.com' });
  await V2Client.basic(reg).pushImage('plain/app', 'v1', { layers: [randomBlob(4096)] });
  // Move time: the tag ended `endedAgo` seconds ago, and its manifest was stored long before (the collector
  // leaves manifests younger than PUSH_TEMP_TAG_EXPIRATION_SEC alone).
  const ended = async (org: string, repo: string, endedAgo: number) => {
    const where = `FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE n.name = $1 AND r.name = $2`;
    await db.query(`UPDATE tag t SET start_ms = LEAST(t.start_ms, $3::bigint), end_ms = $3::bigint, expiry_state = NULL ${where} AND t.repository_id = r.id`, [
      org,
      repo,
      Date.now() - endedAgo * 1000,
    ]);
    await db.query(`UPDATE manifest m SET pushed_at = pushed_at - make_interval(secs => $3) ${where} AND m.repository_id = r.id`, [org, repo, 3 * WINDOW]);
  };
  await ended('evict', 'recent', 60);
  await ended('plain', 'app', WINDOW + 60);
  await ended('evict', 'app', WINDOW + 60);
  // One GC run looks at all three: once evict/app is gone, that run kept the two others.
  await waitFor('evicted', async () => (await tagRows('evict', 'app')).length === 0 && (await manifestCount('evict', 'app')) === 0);
  expect(await tagRows('evict', 'recent')).toHaveLength(1);
  expect(await manifestCount('evict', 'recent')).toBe(1);
  expect(await tagRows('plain', 'app')).toHaveLength(1);
  expect(await manifestCount('plain', 'app')).toBe(1);
  // The upstream still has it: the next pull fetches it again.
  expect((await pull('evict/app/manifests/v1')).headers.get('docker-content-digest')).toBe(img.digest);
}, 180_000);
