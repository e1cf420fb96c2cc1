/**
 * Operating the registry like a server: replicas sharing Postgres + S3, uploads that survive a crash or move
 * between replicas, graceful SIGTERM, health, metrics, logs without secrets, config errors at start, and
 * bearer tokens that are forged, expired or for another repository.
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { SignJWT, importJWK, type JWK } from 'jose';
import { startRegistry, scaleOutConfig, registryToken, type RegistryProcess } from '../../helpers/registry.js';
import { createTestDatabase } from '../../setup/services.js';
import { V2Client, randomBlob, errorCode } from '../../helpers/v2.js';
import { REPO_ROOT, workDir } from '../../setup/paths.js';

/** PATCH a body slowly (in pieces with pauses), resolving with the response status. */
function slowPatch(url: string, authorization: string, body: Buffer, pieces: number, pauseMs: number, onStarted?: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PATCH', headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const size = Math.ceil(body.length / pieces);
    let i = 0;
    const next = () => {
      if (i >= pieces) return req.end();
      req.write(body.subarray(i * size, (i + 1) * size));
      // By the third piece the server is well into handling the request.
      if (i === 2) onStarted?.();
      i++;
      setTimeout(next, pauseMs);
    };
    next();
  });
}

describe('replicas on one Postgres and one S3 bucket', () => {
  let a: RegistryProcess;
  let b: RegistryProcess;
  beforeAll(async () => {
    // Replicas behind one load balancer share one public name.
    const config = await scaleOutConfig({ SERVER_HOSTNAME: 'registry.example.test' });
    // Started together on an empty database: the migration lock must keep them from racing.
    [a, b] = await Promise.all([startRegistry({ config, label: 'replica-a' }), startRegistry({ config, label: 'replica-b' })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('an upload started on one replica is finished on the other; both serve the content', async () => {
    const ca = V2Client.basic(a);
    const cb = V2Client.basic(b);
    const blob = randomBlob(300_000);
    const start = await ca.req('POST', '/v2/admin/shared/blobs/uploads/');
    const id = start.headers.get('location')!.split('/').pop();
    const first = blob.data.subarray(0, 100_000);
    const p1 = await cb.req('PATCH', `/v2/admin/shared/blobs/uploads/${id}`, {
      headers: { 'content-range': `0-${first.length - 1}`, 'content-length': String(first.length) },
      body: first,
    });
    expect(p1.status).toBe(202);
    const rest = blob.data.subarray(100_000);
    const put = await ca.req('PUT', `/v2/admin/shared/blobs/uploads/${id}?digest=${blob.digest}`, {
      headers: { 'content-range': `100000-${blob.size - 1}`, 'content-length': String(rest.length) },
      body: rest,
    });
    expect(put.status).toBe(201);
    const got = await cb.req('GET', `/v2/admin/shared/blobs/${blob.digest}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(blob.data)).toBe(true);
    const img = await ca.pushImage('admin/shared', 'v1');
    const m = await cb.req('GET', '/v2/admin/shared/manifests/v1');
    expect(Buffer.from(await m.arrayBuffer()).equals(img.manifest)).toBe(true);
    // A token from one replica is honoured by the other (shared signing keys).
    const token = await registryToken(a, ['repository:admin/shared:pull'], a.admin, 'registry.example.test');
    const viaToken = await fetch(`${b.url}/v2/admin/shared/manifests/v1`, { headers: { authorization: `Bearer ${token}` } });
    expect(viaToken.status).toBe(200);
  });
});

describe('crashes and restarts', () => {
  test('an upload survives SIGKILL: the client resumes at the last recorded offset and the digest is right', async () => {
    let reg = await startRegistry({ label: 'crash' });
    const { dataDir, port } = reg;
    const c = V2Client.basic(reg);
    const blob = randomBlob(2_000_000);
    const loc = (await c.req('POST', '/v2/admin/crash/blobs/uploads/')).headers.get('location')!;
    const first = blob.data.subarray(0, 500_000);
    expect((await c.req('PATCH', loc, { headers: { 'content-range': `0-499999`, 'content-length': '500000' }, body: first })).status).toBe(202);
    // Kill in the middle of the second chunk's stream.
    const second = blob.data.subarray(500_000, 1_500_000);
    const pending = slowPatch(`${reg.url}${loc}`, `Basic ${Buffer.from(`${reg.admin.username}:${reg.admin.password}`).toString('base64')}`, second, 20, 100);
    await new Promise((r) => setTimeout(r, 600));
    await reg.kill();
    await pending.catch(() => undefined);
    reg = await startRegistry({ label: 'crash', dataDir, port });
    try {
      const c2 = V2Client.basic(reg);
      const status = await c2.req('GET', loc);
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe('0-499999');
      const rest = blob.data.subarray(500_000);
      const put = await c2.req('PUT', `${loc}?digest=${blob.digest}`, {
        headers: { 'content-range': `500000-${blob.size - 1}`, 'content-length': String(rest.length) },
        body: rest,
      });
      expect(put.status).toBe(201);
      const got = await c2.req('GET', `/v2/admin/crash/blobs/${blob.digest}`);
      expect(Buffer.from(await got.arrayBuffer()).equals(blob.data)).toBe(true);
    } finally {
      await reg.stop();
    }
  });

  test('SIGTERM lets an in-flight upload finish and exits cleanly', async () => {
    const reg = await startRegistry({ label: 'sigterm' });
    const c = V2Client.basic(reg);
    const blob = randomBlob(1_000_000);
    const loc = (await c.req('POST', '/v2/admin/term/blobs/uploads/')).headers.get('location')!;
    const auth = `Basic ${Buffer.from(`${reg.admin.username}:${reg.admin.password}`).toString('base64')}`;
    const upload = slowPatch(`${reg.url}${loc}`, auth, blob.data, 10, 150, () => reg.process.child.kill('SIGTERM'));
    expect(await upload).toBe(202);
    expect(await reg.process.exited).toBe(0);
    expect(reg.output()).toMatch(/shutting down/);
    // The bytes were recorded: a restarted registry finishes the upload with the right digest.
    const again = await startRegistry({ label: 'sigterm', dataDir: reg.dataDir, port: reg.port });
    try {
      const put = await V2Client.basic(again).req('PUT', `${loc}?digest=${blob.digest}`);
      expect(put.status).toBe(201);
    } finally {
      await again.stop();
    }
  });
});

describe('health, metrics, logs and tokens', () => {
  let reg: RegistryProcess;
  let dbUri: string;
  beforeAll(async () => {
    const config = await scaleOutConfig();
    dbUri = config.DB_URI as string;
    reg = await startRegistry({ config, label: 'ops' });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('Quay health endpoints', async () => {
    const inst = await fetch(`${reg.url}/health/instance`);
    expect(inst.status).toBe(200);
    const e2e = await fetch(`${reg.url}/health/endtoend`);
    expect(e2e.status).toBe(200);
    const body = (await e2e.json()) as { data: { services: Record<string, boolean> }; status_code: number };
    expect(body.data.services).toMatchObject({ database: true, storage: true, auth: true });
  });

  test('Prometheus metrics count requests by route and status, and bytes', async () => {
    const c = V2Client.basic(reg);
    await c.pushImage('admin/metrics', 'v1');
    await c.req('GET', '/v2/admin/metrics/manifests/v1');
    const text = await (await fetch(`${reg.url}/metrics`)).text();
    expect(text).toMatch(/quay_http_requests_total\{route="v2_manifest",method="GET",status="200"\} [1-9]/);
    expect(text).toMatch(/quay_http_bytes_sent_total [1-9]/);
    expect(text).toMatch(/quay_storage_operation_duration_seconds_count\{driver="S3Storage",operation="commit_upload"\} [1-9]/);
  });

  test('forged, expired and wrong-repository tokens are refused', async () => {
    const c = V2Client.basic(reg);
    await c.pushImage('admin/tok-a', 'v1');
    await c.pushImage('admin/tok-b', 'v1');
    const token = await registryToken(reg, ['repository:admin/tok-a:pull'], reg.admin);
    const get = (repo: string, t: string) => fetch(`${reg.url}/v2/${repo}/manifests/v1`, { headers: { authorization: `Bearer ${t}` } });
    expect((await get('admin/tok-a', token)).status).toBe(200);
    const other = await get('admin/tok-b', token);
    expect(other.status).toBe(401);
    expect(other.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.access = [{ type: 'repository', name: 'admin/tok-b', actions: ['pull', 'push'] }];
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const f = await get('admin/tok-b', forged);
    expect(f.status).toBe(401);
    expect(await errorCode(f)).toBe('UNAUTHORIZED');
    // Expired: signed with the registry's real key, but an hour past its lifetime.
    const client = new pg.Client({ connectionString: dbUri });
    await client.connect();
    const key = (await client.query<{ kid: string; private_jwk: JWK }>('SELECT kid, private_jwk FROM service_key LIMIT 1')).rows[0];
    await client.end();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ access: [{ type: 'repository', name: 'admin/tok-a', actions: ['pull'] }], context: { kind: 'user', id: 1 } })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
      .setIssuer('quay')
      .setAudience(reg.hostPort)
      .setSubject('admin')
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(await importJWK(key.private_jwk, 'ES256'));
    expect((await get('admin/tok-a', expired)).status).toBe(401);
    // Anonymous callers see nothing private.
    const anon = await fetch(`${reg.url}/v2/admin/tok-a/manifests/v1`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer realm="http:\/\/.+\/v2\/auth",service="[^"]+",scope="repository:admin\/tok-a:pull"$/);
    const anonToken = await registryToken(reg, ['repository:admin/tok-a:pull']);
    expect((await get('admin/tok-a', anonToken)).status).toBe(401);
  });

  test('logs are JSON lines with a request id and never contain a password or token', async () => {
    const token = await registryToken(reg, ['repository:admin/tok-a:pull'], reg.admin);
    await fetch(`${reg.url}/v2/admin/tok-a/tags/list`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'trace-me-123' } });
    await new Promise((r) => setTimeout(r, 200));
    const out = reg.output();
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(5);
    const traced = lines.map((l) => JSON.parse(l)).find((l) => l.reqId === 'trace-me-123');
    expect(traced).toMatchObject({ method: 'GET', status: 200, route: 'v2_tags' });
    expect(out).not.toContain(reg.admin.password);
    expect(out).not.toContain(token);
    expect(out).not.toContain(Buffer.from(`${reg.admin.username}:${reg.admin.password}`).toString('base64'));
  });
});

test('an invalid config.yaml is refused at start with every problem as KEY: reason', () => {
  const dir = workDir('bad-config');
  const path = join(dir, 'config.yaml');
  writeFileSync(path, 'PREFERRED_URL_SCHEME: gopher\nDB_URI: mysql://nope\nDISTRIBUTED_STORAGE_CONFIG:\n  s3: [S3Storage, {}]\nSOMETHING_ELSE: 1\n');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/registry/main.js'), 'serve', '--config', path, '--port', '0', '--data-dir', dir], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^ {2}PREFERRED_URL_SCHEME: must be one of "http", "https" \(got "gopher"\)$/m);
  expect(r.stderr).toMatch(/^ {2}DB_URI: /m);
  expect(r.stderr).toMatch(/SOMETHING_ELSE: unknown key, ignored/);
});

test('`migrate` brings the schema up to date and exits; a later `serve` finds nothing to apply', async () => {
  const config = { DB_URI: await createTestDatabase('migrate'), SUPER_USERS: ['admin'] };
  const path = join(workDir('migrate'), 'config.yaml');
  writeFileSync(path, JSON.stringify(config)); // JSON is YAML
  const migrate = () => spawnSync(process.execPath, [join(REPO_ROOT, 'dist/registry/main.js'), 'migrate', '--config', path], { encoding: 'utf8' });
  const first = migrate();
  expect(first.status).toBe(0);
  expect(first.stdout).toMatch(/^applied migrations 1, 2/);
  const again = migrate();
  expect(again.status).toBe(0);
  expect(again.stdout.trim()).toBe('the schema is up to date');
  const reg = await startRegistry({ label: 'after-migrate', config });
  try {
    expect(reg.output()).not.toMatch(/database migrations applied/);
    expect((await fetch(`${reg.url}/health/instance`)).status).toBe(200);
  } finally {
    await reg.stop();
  }
});
