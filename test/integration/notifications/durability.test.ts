/**
 * Delivery survives a crash and is shared safely by replicas: real registry processes on one Postgres, repo_push
 * events produced by real manifest PUTs (one tag each, so every event is distinguishable at the receiver).
 *  - SIGKILL with 200 deliveries queued and the receiver down; restart, bring the receiver up: every event is
 *    delivered, none lost; duplicates are counted (only a delivery in flight at the kill may repeat).
 *  - Two replicas, 500 events, no one dies: each delivered exactly once.
 */
import pg from 'pg';
import { registryToken, scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { signin } from '../api/fixture.js';
import { V2Client } from '../../helpers/v2.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { freePort } from '../../setup/procs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(reg: RegistryProcess, url: string): Promise<{ client: V2Client; manifest: string; mediaType: string }> {
  const admin = await signin(reg, reg.admin.username, reg.admin.password);
  await admin.ok('POST', '/organization/', { name: 'acme', email: 'acme@example.com' });
  await admin.ok('POST', '/repository', { namespace: 'acme', repository: 'app', visibility: 'private', description: '' });
  await admin.ok('POST', '/repository/acme/app/notification/', { event: 'repo_push', method: 'webhook', config: { url }, eventConfig: {} });
  const client = await bearer(reg);
  const image = await client.pushImage('acme/app', 'base');
  return { client, manifest: image.manifest.toString(), mediaType: 'application/vnd.oci.image.manifest.v1+json' };
}

/** A /v2 client with a registry token (one login, not one per request). */
async function bearer(reg: RegistryProcess): Promise<V2Client> {
  return new V2Client(reg, `Bearer ${await registryToken(reg, ['repository:acme/app:pull,push'], reg.admin)}`);
}

async function pushTags(client: V2Client, manifest: string, mediaType: string, tags: string[], parallel = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tags.length) {
      const tag = tags[next++];
      const r = await client.pushManifest('acme/app', tag, manifest, mediaType);
      if (r.status !== 201) throw new Error(`push ${tag}: ${r.status} ${await r.text()}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

function tagsReceived(rx: Receiver): string[] {
  return rx.received.filter((r) => r.path === '/hook').flatMap((r) => (JSON.parse(r.body) as { updated_tags: string[] }).updated_tags);
}

async function waitDistinct(rx: Receiver, n: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (new Set(tagsReceived(rx)).size < n) {
    if (Date.now() > end) throw new Error(`only ${new Set(tagsReceived(rx)).size} of ${n} events delivered within ${timeoutMs} ms`);
    await sleep(200);
  }
}

test('SIGKILL with 200 deliveries queued and the receiver down: after restart every event arrives', async () => {
  const port = await freePort();
  const url = `http://127.0.0.5:${port}/hook`;
  // A failed round pauses the notification for 15 s: the outage before the kill costs at most one round.
  const config = await scaleOutConfig({ SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'], NOTIFICATION_RETRY_SECONDS: 15, NOTIFICATION_SEND_TIMEOUT: 2 });
  let reg = await startRegistry({ label: 'notify-crash', config });
  let rx: Receiver | null = null;
  const db = new pg.Client({ connectionString: config.DB_URI as string });
  await db.connect();
  try {
    const { client, manifest, mediaType } = await setup(reg, url);
    const tags = Array.from({ length: 200 }, (_, i) => `t${i}`);
    await pushTags(client, manifest, mediaType, tags);
    await reg.kill();
    const queued = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM queue_item WHERE queue_name = 'notification'");
    // 'base' and the 200 tags: nothing could be delivered, nothing was dropped.
    expect(queued.rows[0].n).toBe(201);
    const failures = await db.query<{ number_of_failures: number }>('SELECT number_of_failures FROM repository_notification');
    expect(failures.rows[0].number_of_failures).toBeLessThan(3);

    rx = await startReceiver({ host: '127.0.0.5', port });
    reg = await startRegistry({ label: 'notify-crash', config, port: reg.port });
    await waitDistinct(rx, 201, 90_000);
    await sleep(2000);
    const got = tagsReceived(rx);
    expect(new Set(got)).toEqual(new Set(['base', ...tags]));
    const duplicates = got.length - new Set(got).size;
    // The receiver was down at the kill: no delivery can have been in flight, so none repeats.
    console.log(`restart: ${got.length} deliveries for 201 events, ${duplicates} duplicates`);
    expect(duplicates).toBe(0);
    const left = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM queue_item WHERE queue_name = 'notification'");
    expect(left.rows[0].n).toBe(0);
  } finally {
    await db.end();
    await reg.stop();
    await rx?.close();
  }
});

test('two replicas on one Postgres deliver 500 events exactly once', async () => {
  const rx = await startReceiver({ host: '127.0.0.5' });
  const config = await scaleOutConfig({ SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'] });
  const a = await startRegistry({ label: 'notify-a', config });
  const b = await startRegistry({ label: 'notify-b', config });
  try {
    const { manifest, mediaType } = await setup(a, `${rx.url}/hook`);
    const tags = Array.from({ length: 500 }, (_, i) => `r${i}`);
    await Promise.all([
      pushTags(
        await bearer(a),
        manifest,
        mediaType,
        tags.filter((_, i) => i % 2 === 0),
        4,
      ),
      pushTags(
        await bearer(b),
        manifest,
        mediaType,
        tags.filter((_, i) => i % 2 === 1),
        4,
      ),
    ]);
    await waitDistinct(rx, 501, 120_000);
    await sleep(3000);
    const got = tagsReceived(rx);
    expect(got.length).toBe(501);
    expect(new Set(got)).toEqual(new Set(['base', ...tags]));
    const delivered = async (r: RegistryProcess) =>
      Number(/quay_notification_deliveries_total\{method="webhook",outcome="success"\} (\d+)/.exec(await (await fetch(`${r.url}/metrics`)).text())?.[1] ?? 0);
    const [na, nb] = [await delivered(a), await delivered(b)];
    console.log(`replicas: a delivered ${na}, b delivered ${nb}`);
    expect(na + nb).toBe(501);
  } finally {
    await a.stop();
    await b.stop();
    await rx.close();
  }
});
