/**
 * Clair v4 backend: a PROTOCOL test, not an integration test. Clair's Go modules are not served by this
 * machine's module proxy and the project may not build fetched source, so a small loopback server plays
 * Clair's indexer, matcher and notifier with exchanges written for these tests after Clair's OpenAPI
 * document: State, Manifest/Layer, IndexReport (+ ETag), VulnerabilityReport, PagedNotifications. Every
 * request the registry sends and every answer the stand-in gives is checked against the document's shapes
 * (./clair_shapes.ts); the test fails on any departure. What is real: the registry process (Postgres, S3),
 * the image pushed with skopeo, the PSK JWTs checked both ways, the layer downloads the fake Clair makes
 * from the URLs the registry hands it, the notification queue, GC.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, jwtVerify } from 'jose';
import pg from 'pg';
import { scaleOutConfig, startRegistry, type RegistryProcess } from '../../helpers/registry.js';
import { freePort } from '../../setup/procs.js';
import { INSECURE, clientSandbox, type ClientSandbox } from '../../setup/tools.js';
import { signin, type Api } from '../../integration/api/fixture.js';
import { buildScanImages } from './images.js';
import { startReceiver } from '../../helpers/receiver.js';
import * as shapes from './clair_shapes.js';
import type { TSchema } from '@sinclair/typebox';

const PSK = Buffer.from('clair-and-quay-share-this-32-byte-key!').toString('base64');
const WRONG_PSK = Buffer.from('some-other-key-that-clair-does-not-know').toString('base64');
const INDEXER_STATE = 'aae368a064d7c5a433d0bf2c4f5554cc';

interface Exchange {
  method: string;
  path: string;
  body: unknown;
}

/** The fake Clair: checks every request's PSK JWT, downloads the layers it is told about, answers recorded reports. */
class FakeClair {
  server: Server | null = null;
  port = 0;
  requests: Exchange[] = [];
  downloads: Array<{ hash: string; status: number; sha256: string }> = [];
  indexed = new Set<string>();
  deleted: string[] = [];
  notifications = new Map<string, Array<{ page: object; notifications: object[] }>>();
  notificationDeletes: string[] = [];
  /** Every departure from Clair's OpenAPI shapes, in the registry's requests or in this stand-in's answers. */
  violations: string[] = [];
  constructor(private readonly psk: Buffer) {}

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(port || this.port, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
    this.server = null;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private check(what: string, schema: TSchema, value: unknown) {
    for (const v of shapes.violations(schema, value)) this.violations.push(`${what} ${v}`);
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}, schema?: TSchema) {
    if (body !== undefined) this.check(`answer ${status}`, status >= 400 ? shapes.ClairError : schema!, body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const path = req.url ?? '';
    this.requests.push({ method: req.method ?? '', path, body: text ? JSON.parse(text) : null });
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    try {
      const { payload } = await jwtVerify(token ?? '', this.psk, { algorithms: ['HS256'], issuer: 'quay' });
      if (!payload.exp || payload.exp > Date.now() / 1000 + 301) throw new Error('lifetime');
    } catch {
      return this.send(res, 401, { code: 'unauthorized', message: 'bad token' });
    }
    if (req.method === 'GET' && path === '/indexer/api/v1/index_state') return this.send(res, 200, { state: INDEXER_STATE }, { etag: `"${INDEXER_STATE}"` }, shapes.IndexState);
    if (req.method === 'POST' && path === '/indexer/api/v1/index_report') {
      const type = String(req.headers['content-type'] ?? '').split(';')[0];
      if (type !== 'application/json' && type !== 'application/vnd.clair.manifest.v1+json') this.violations.push(`index request content-type ${type}`);
      this.check('index request', shapes.Manifest, JSON.parse(text));
      const manifest = JSON.parse(text) as { hash: string; layers: Array<{ hash: string; uri: string; headers: Record<string, string[]> }> };
      for (const l of manifest.layers) {
        const r = await fetch(l.uri, { headers: Object.fromEntries(Object.entries(l.headers).map(([k, v]) => [k, v.join(', ')])) });
        const bytes = Buffer.from(await r.arrayBuffer());
        this.downloads.push({ hash: l.hash, status: r.status, sha256: `sha256:${createHash('sha256').update(bytes).digest('hex')}` });
      }
      this.indexed.add(manifest.hash);
      const location = `/indexer/api/v1/index_report/${manifest.hash}`;
      return this.send(
        res,
        201,
        indexReport(manifest.hash),
        { etag: `"${INDEXER_STATE}"`, location, link: `<${location}>; rel="https://projectquay.io/clair/v1/index_report"` },
        shapes.IndexReport,
      );
    }
    const report = /^\/matcher\/api\/v1\/vulnerability_report\/(sha256:[0-9a-f]{64})$/.exec(path);
    if (req.method === 'GET' && report) {
      // 201, as the document specifies for this GET (Clair's own handler answers 200; the registry takes either)
      return this.indexed.has(report[1])
        ? this.send(res, 201, vulnerabilityReport(report[1]), {}, shapes.VulnerabilityReport)
        : this.send(res, 404, { code: 'not-found', message: 'no report' });
    }
    const del = /^\/indexer\/api\/v1\/index_report\/(sha256:[0-9a-f]{64})$/.exec(path);
    if (req.method === 'DELETE' && del) {
      this.deleted.push(del[1]);
      this.indexed.delete(del[1]);
      res.writeHead(204).end();
      return;
    }
    const note = /^\/notifier\/api\/v1\/notification\/([0-9a-f-]+)(?:\?next=(.+))?$/.exec(path);
    if (note && req.method === 'GET') {
      const pages = this.notifications.get(note[1]);
      if (!pages) return this.send(res, 404, { code: 'not-found', message: 'no notification' });
      return this.send(res, 200, pages[note[2] ? Number(note[2]) : 0], {}, shapes.NotificationPage);
    }
    if (note && req.method === 'DELETE') {
      this.notificationDeletes.push(note[1]);
      res.writeHead(200).end();
      return;
    }
    this.send(res, 404, { code: 'not-found', message: path });
  }
}

/** An IndexReport as Clair's OpenAPI document describes it (required keys, IndexFinished). */
function indexReport(hash: string) {
  return {
    manifest_hash: hash,
    state: 'IndexFinished',
    packages: {
      '10': { id: '10', name: 'libssl3', version: '3.0.7-r2', kind: 'binary', source: { id: '9', name: 'openssl', version: '3.0.7-r2', kind: 'source' }, arch: 'x86_64' },
    },
    distributions: {
      '1': { id: '1', did: 'alpine', name: 'Alpine Linux', version: '3.17', version_code_name: '', version_id: '3.17', arch: '', cpe: '', pretty_name: 'Alpine Linux v3.17' },
    },
    repository: {},
    environments: { '10': [{ package_db: 'lib/apk/db/installed', introduced_in: LAYER_PLACEHOLDER, distribution_id: '1' }] },
    success: true,
    err: '',
  };
}

let LAYER_PLACEHOLDER = '';

/** A VulnerabilityReport with two updaters reporting the same CVE (Quay shows it once) and a CVSS enrichment. */
function vulnerabilityReport(hash: string) {
  const vuln = (id: string, updater: string) => ({
    id,
    updater,
    name: 'CVE-2023-0286',
    description: 'There is a type confusion vulnerability relating to X.400 address processing inside an X.509 GeneralName.',
    issued: '2023-02-08T00:00:00Z',
    links: 'https://www.openssl.org/news/secadv/20230207.txt https://security.alpinelinux.org/vuln/CVE-2023-0286',
    severity: 'High',
    normalized_severity: 'Unknown',
    package: { id: '', name: 'openssl', version: '', kind: 'binary' },
    arch_op: 'equals',
    distribution: { id: '', did: 'alpine', name: 'Alpine Linux', version: '3.17', version_code_name: '', version_id: '3.17', arch: '', cpe: '', pretty_name: '' },
    repository: { id: '', name: '', key: '', uri: '', cpe: '' },
    fixed_in_version: 'fixed=3.0.8-r0&arch=x86_64',
  });
  return {
    manifest_hash: hash,
    packages: indexReport(hash).packages,
    distributions: indexReport(hash).distributions,
    environments: indexReport(hash).environments,
    vulnerabilities: { '501': vuln('501', 'alpine-main-v3.17-updater'), '502': vuln('502', 'alpine-community-v3.17-updater') },
    package_vulnerabilities: { '10': ['501', '502'] },
    enrichments: {
      'message/vnd.clair.map.vulnerability; enricher=clair.cvss schema=https://csrc.nist.gov/schema/nvd/feed/1.1/cvss-v3.x.json': [
        { '501': [{ version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H', baseScore: 7.4, baseSeverity: 'HIGH' }] },
      ],
    },
  };
}

let reg: RegistryProcess;
let clair: FakeClair;
let sb: ClientSandbox;
let layout: string;
let admin: Api;
let config: Record<string, unknown>;

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const security = async (repo: string, digest: string) =>
  (await admin.get(`/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`)).body as { status: string; data: any };
const alpineDigest = () =>
  JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests.find((m: any) => m.annotations['org.opencontainers.image.ref.name'] === 'alpine').digest as string;
const push = (repo: string) =>
  sb.run('skopeo', ['copy', ...INSECURE.skopeoCopy, '--dest-creds', `${reg.admin.username}:${reg.admin.password}`, `oci:${layout}:alpine`, `docker://${reg.hostPort}/${repo}`]);

beforeAll(async () => {
  sb = clientSandbox('clair');
  layout = await buildScanImages(sb);
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', alpineDigest().split(':')[1]), 'utf8'));
  LAYER_PLACEHOLDER = m.layers[0].digest;
  clair = new FakeClair(Buffer.from(PSK, 'base64'));
  await clair.start();
  const port = await freePort();
  config = await scaleOutConfig({
    SERVER_HOSTNAME: `127.0.0.1:${port}`,
    SUPER_USERS: ['admin'],
    FEATURE_SECURITY_SCANNER: true,
    FEATURE_SECURITY_NOTIFICATIONS: true,
    SECURITY_SCANNER_V4_ENDPOINT: clair.url,
    SECURITY_SCANNER_V4_PSK: PSK,
    SECURITY_SCANNER_INDEXING_INTERVAL: 1,
    SECURITY_SCANNER_V4_REINDEX_THRESHOLD: 1,
    FEATURE_GARBAGE_COLLECTION: true,
    GARBAGE_COLLECTION_FREQUENCY: 1,
    DEFAULT_TAG_EXPIRATION: '0s',
    PUSH_TEMP_TAG_EXPIRATION_SEC: 1,
  });
  reg = await startRegistry({ label: 'clair', config, port });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
});

afterAll(async () => {
  await reg?.stop();
  await clair?.stop();
});

test('index request with signed single-blob layer URLs; VulnerabilityReport reshaped into Quay JSON', async () => {
  await push('admin/clair:alpine');
  const digest = alpineDigest();
  const s = await until('scanned', async () => {
    const r = await security('admin/clair', digest);
    return r.status === 'scanned' ? r : null;
  });
  const index = clair.requests.find((r) => r.method === 'POST')!;
  expect(Object.keys(index.body as object).sort()).toEqual(['hash', 'layers']);
  const layer = (index.body as any).layers[0];
  expect(Object.keys(layer).sort()).toEqual(['hash', 'headers', 'uri']);
  expect(layer).toMatchObject({ hash: LAYER_PLACEHOLDER, headers: { Accept: ['application/gzip'] } });
  expect(layer.uri).toMatch(new RegExp(`^http://${reg.hostPort.replace(/\./g, '\\.')}/secscan/blobs/${LAYER_PLACEHOLDER}\\?expires=\\d+&signature=`));
  // Clair downloaded exactly the blob it was told about
  expect(clair.downloads).toEqual([{ hash: LAYER_PLACEHOLDER, status: 200, sha256: LAYER_PLACEHOLDER }]);
  // the URL is good for that one blob only, and not once altered
  const other = (await fetch(layer.uri.replace(LAYER_PLACEHOLDER, `sha256:${'1'.repeat(64)}`))).status;
  const tampered = (await fetch(layer.uri.replace(/expires=(\d+)/, (_: string, e: string) => `expires=${Number(e) + 3600}`))).status;
  expect([other, tampered]).toEqual([403, 403]);

  expect(s).toEqual({
    status: 'scanned',
    data: {
      Layer: {
        Name: digest,
        ParentName: '',
        NamespaceName: '',
        IndexedByVersion: 4,
        Features: [
          {
            Name: 'libssl3',
            VersionFormat: '',
            NamespaceName: '',
            AddedBy: LAYER_PLACEHOLDER,
            Version: '3.0.7-r2',
            BaseScores: [7.4],
            CVEIds: ['CVE-2023-0286'],
            Vulnerabilities: [
              {
                // normalized_severity Unknown: bucketed from the CVSS enrichment, as Quay
                Severity: 'High',
                NamespaceName: 'alpine-main-v3.17-updater',
                Link: 'https://www.openssl.org/news/secadv/20230207.txt https://security.alpinelinux.org/vuln/CVE-2023-0286',
                FixedBy: '3.0.8-r0',
                Description: 'There is a type confusion vulnerability relating to X.400 address processing inside an X.509 GeneralName.',
                Name: 'CVE-2023-0286',
                Metadata: {
                  UpdatedBy: 'alpine-main-v3.17-updater',
                  RepoName: '',
                  RepoLink: '',
                  DistroName: 'Alpine Linux',
                  DistroVersion: '3.17',
                  NVD: { CVSSv3: { Vectors: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H', Score: 7.4 } },
                },
              },
            ],
          },
        ],
      },
    },
  });
});

test('Clair down: manifests stay queued and are indexed once it is back', async () => {
  await clair.stop();
  await push('admin/down:alpine');
  await sleep(3000);
  expect(await security('admin/down', alpineDigest())).toEqual({ status: 'queued', data: null });
  clair.indexed.clear();
  await clair.start(clair.port);
  await until('scanned after Clair is back', async () => (await security('admin/down', alpineDigest())).status === 'scanned');
});

test('wrong PSK: Clair refuses the registry (manifests stay queued); the webhook refuses Clair', async () => {
  const wrong = new FakeClair(Buffer.from(WRONG_PSK, 'base64'));
  await wrong.start();
  await reg.stop();
  reg = await startRegistry({ label: 'clair-wrong', config: { ...config, SECURITY_SCANNER_V4_ENDPOINT: wrong.url }, port: reg.port });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  await push('admin/wrongpsk:alpine');
  await sleep(3000);
  expect(await security('admin/wrongpsk', alpineDigest())).toEqual({ status: 'queued', data: null });
  expect(wrong.requests.length).toBeGreaterThan(0);
  expect(wrong.requests.every((r) => r.path === '/indexer/api/v1/index_state')).toBe(true);
  await wrong.stop();

  const body = JSON.stringify({
    notification_id: '5e4b387e-88d3-4364-86fd-063447a6fad2',
    callback: `${clair.url}/notifier/api/v1/notification/5e4b387e-88d3-4364-86fd-063447a6fad2`,
  });
  const post = (authorization?: string) =>
    fetch(`${reg.url}/secscan/notification`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });
  const badJwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('clair-notifier').setExpirationTime('5m').sign(Buffer.from(WRONG_PSK, 'base64'));
  expect((await post()).status).toBe(401);
  expect((await post(`Bearer ${badJwt}`)).status).toBe(401);
  const goodJwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('clair-notifier').setExpirationTime('5m').sign(Buffer.from(PSK, 'base64'));
  const bad = await fetch(`${reg.url}/secscan/notification`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${goodJwt}` },
    body: '{"notification_id": "x"}',
  });
  expect(bad.status).toBe(400);
});

test('notification webhook → paged notifications → vulnerability_found delivered for the repository; notification deleted at Clair', async () => {
  // The events are read where they arrive: the delivery worker consumes queue items as soon as they commit.
  const rx = await startReceiver({ host: '127.0.0.5' });
  await reg.stop();
  reg = await startRegistry({ label: 'clair-notify', config: { ...config, SSRF_ALLOWED_HOSTS: ['127.0.0.5/32'] }, port: reg.port });
  admin = await signin(reg, reg.admin.username, reg.admin.password);
  const digest = alpineDigest();
  const db = new pg.Client({ connectionString: config.DB_URI as string });
  await db.connect();
  try {
    await db.query(
      `INSERT INTO repository_notification (repository_id, event, method, config, event_config)
       SELECT r.id, 'vulnerability_found', 'webhook', json_build_object('url', $1::text), '{}'
         FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE n.name = 'admin' AND r.name = 'clair'`,
      [`${rx.url}/hook`],
    );
    const id = '5e4b387e-88d3-4364-86fd-063447a6fad2';
    const entry = (name: string, severity: string) => ({
      id: `n-${name}`,
      manifest: digest,
      reason: 'added',
      vulnerability: {
        name,
        fixed_in_version: '3.0.8-r0',
        links: `https://nvd.nist.gov/vuln/detail/${name}`,
        description: 'd',
        normalized_severity: severity,
        package: { name: 'openssl', version: '', kind: 'binary' },
        arch_op: 'equals',
        distribution: { id: '1', did: 'alpine', name: 'Alpine Linux', version_id: '3.17' },
      },
    });
    clair.notifications.set(id, [
      { page: { size: 1, next: '1' }, notifications: [entry('CVE-2023-0286', 'High')] },
      // the last page has no `next`, as the document says
      { page: { size: 2 }, notifications: [entry('CVE-2022-4304', 'Medium'), { ...entry('CVE-2020-0001', 'Low'), reason: 'removed' }] },
    ]);
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('clair-notifier').setExpirationTime('5m').sign(Buffer.from(PSK, 'base64'));
    const webhook = { notification_id: id, callback: `${clair.url}/notifier/api/v1/notification/${id}` };
    expect(shapes.violations(shapes.NotificationWebhook, webhook)).toEqual([]);
    const r = await fetch(`${reg.url}/secscan/notification`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
      body: JSON.stringify(webhook),
    });
    expect([r.status, await r.text()]).toEqual([200, 'Okay']);
    await until('notification deleted at Clair', async () => clair.notificationDeletes.includes(id));
    // One event per `added` entry; `removed` entries make none (a third delivery would show up meanwhile).
    await rx.waitFor(2, 60_000);
    await sleep(2000);
    const events = rx.received.map((x) => JSON.parse(x.body)).sort((a, b) => a.vulnerability.id.localeCompare(b.vulnerability.id));
    expect(events.map((e) => [e.vulnerability.id, e.vulnerability.priority, e.tags])).toEqual([
      ['CVE-2022-4304', 'Medium', ['alpine']],
      ['CVE-2023-0286', 'High', ['alpine']],
    ]);
    for (const e of events) expect(e).toMatchObject({ repository: 'admin/clair', namespace: 'admin', name: 'clair', vulnerability: { has_fix: true } });
  } finally {
    await db.end();
    await rx.close();
  }
});

test('GC of a manifest deletes its index report at Clair', async () => {
  const digest = alpineDigest();
  for (const repo of ['clair', 'down', 'wrongpsk']) {
    const del = await admin.call('DELETE', `/repository/admin/${repo}/tag/alpine`);
    expect(del.status).toBe(204);
  }
  await until('DELETE index_report at Clair', async () => clair.deleted.includes(digest), 30_000);
});

test("every exchange kept to Clair's OpenAPI shapes; the checks catch departures", async () => {
  expect(clair.requests.some((r) => r.method === 'POST' && r.path === '/indexer/api/v1/index_report')).toBe(true);
  expect(clair.violations).toEqual([]);
  // The checks are not vacuous: each of these departs from the document.
  const layer = { hash: LAYER_PLACEHOLDER, uri: 'http://registry/blob', headers: { Accept: ['application/gzip'] } };
  expect(shapes.violations(shapes.Manifest, { hash: 'sha256:abc', layers: [layer] })).not.toEqual([]);
  expect(shapes.violations(shapes.Manifest, { hash: LAYER_PLACEHOLDER, layers: [{ ...layer, size: 1 }] })).not.toEqual([]);
  expect(shapes.violations(shapes.Manifest, { hash: LAYER_PLACEHOLDER, layers: [{ ...layer, headers: { Accept: 'application/gzip' } }] })).not.toEqual([]);
  const report = vulnerabilityReport(LAYER_PLACEHOLDER);
  expect(shapes.violations(shapes.VulnerabilityReport, report)).toEqual([]);
  const { package_vulnerabilities: _dropped, ...incomplete } = report;
  expect(shapes.violations(shapes.VulnerabilityReport, incomplete)).not.toEqual([]);
  const { arch_op: _op, ...noArchOp } = report.vulnerabilities['501'];
  expect(shapes.violations(shapes.VulnerabilityReport, { ...report, vulnerabilities: { '501': noArchOp } })).toEqual(['/vulnerabilities/501: package without arch_op']);
  expect(shapes.violations(shapes.VulnerabilityReport, { ...report, vulnerabilities: { '501': { ...report.vulnerabilities['501'], normalized_severity: 'Severe' } } })).not.toEqual(
    [],
  );
  expect(shapes.violations(shapes.IndexReport, { manifest_hash: LAYER_PLACEHOLDER, state: 'IndexFinished' })).not.toEqual([]);
  expect(shapes.violations(shapes.NotificationPage, { page: { next: '1' }, notifications: [] })).not.toEqual([]);
});
