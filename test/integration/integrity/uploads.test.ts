/**
 * Upload integrity (issue 13, finding 1): concurrent requests on one upload session cannot mix their bytes,
 * a blob is published under a digest only when its bytes hash to it, damaged stored bytes are repaired by the
 * next upload, and a config is interpreted only after its bytes were verified. Real registry processes,
 * real connections (raw sockets where the interleaving matters), on LocalStorage and on S3 (MinIO).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startRegistry, scaleOutConfig, basicAuth, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, blobOf, randomBlob, sha256, errorCode, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER } from '../../helpers/v2.js';
import { RawRequest } from '../../helpers/raw.js';
import { s3Client } from '../../setup/services.js';

const modes: Array<[string, () => Promise<Record<string, unknown> | undefined>]> = [
  ['LocalStorage (embedded)', async () => undefined],
  ['S3 (MinIO) + Postgres', () => scaleOutConfig()],
];

/** A small deterministic PRNG, so that a failing interleaving can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(modes)('upload integrity, %s', (_mode, makeConfig) => {
  let reg: RegistryProcess;
  let c: V2Client;
  let config: Record<string, unknown> | undefined;
  let n = 0;
  const repo = () => `admin/integrity${++n}`;

  beforeAll(async () => {
    config = await makeConfig();
    reg = await startRegistry({ config, label: 'integrity' });
    c = V2Client.basic(reg);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  const auth = () => basicAuth(reg.admin.username, reg.admin.password);

  /** Replace a stored blob's bytes behind the registry's back (lost or damaged content). */
  async function damage(digest: string, bytes: Buffer): Promise<void> {
    const [alg, hex] = digest.split(':');
    const rel = `${alg}/${hex.slice(0, 2)}/${hex}`;
    if (!config) {
      writeFileSync(join(reg.dataDir, 'blobs', rel), bytes);
      return;
    }
    const [, p] = (config.DISTRIBUTED_STORAGE_CONFIG as Record<string, [string, Record<string, string | number>]>).s3;
    const s3 = s3Client({ endpoint: `http://${p.host}:${p.port}`, accessKey: String(p.s3_access_key), secretKey: String(p.s3_secret_key), region: String(p.s3_region) });
    try {
      await s3.send(new PutObjectCommand({ Bucket: String(p.s3_bucket), Key: `registry/${rel}`, Body: bytes }));
    } finally {
      s3.destroy();
    }
  }

  async function startSession(r: string): Promise<string> {
    const res = await c.req('POST', `/v2/${r}/blobs/uploads/`);
    expect(res.status).toBe(202);
    return res.headers.get('location')!;
  }

  async function blobBytes(r: string, digest: string): Promise<Buffer> {
    const res = await c.req('GET', `/v2/${r}/blobs/${digest}`);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  }

  test('two interleaved PATCHes on one session cannot publish other bytes under a digest', async () => {
    const r = repo();
    const G = randomBytes(96 * 1024); // what a victim will push later
    const E = randomBytes(G.length); // the attacker's bytes of the same length
    const loc = await startSession(r);
    const headers = { authorization: auth(), 'content-type': 'application/octet-stream', 'content-length': String(G.length) };
    const one = await RawRequest.open(reg.url, 'PATCH', loc, headers);
    const two = await RawRequest.open(reg.url, 'PATCH', loc, headers);
    await two.write(E.subarray(0, E.length - 1));
    await sleep(500); // the server has stored what `two` sent so far
    await one.write(G);
    const first = await one.response();
    expect(first.status).toBe(202);
    expect(first.headers.range).toBe(`0-${G.length - 1}`);
    await two.write(E.subarray(E.length - 1));
    const second = await two.response();
    expect(second.status).toBe(416);
    expect(second.headers.range).toBe(`0-${G.length - 1}`);

    const put = await c.req('PUT', `${loc}?digest=${sha256(G)}`);
    expect(put.status).toBe(201);
    expect((await blobBytes(r, sha256(G))).equals(G)).toBe(true);
    // The victim's own push of G, into another repository, is served G.
    const victim = repo();
    expect((await c.pushBlob(victim, blobOf(G))).status).toBe(201);
    expect((await blobBytes(victim, sha256(G))).equals(G)).toBe(true);
  });

  test('a PATCH racing the PUT that finishes the session never changes what was verified', async () => {
    const r = repo();
    const G = randomBytes(64 * 1024);
    const E = randomBytes(32 * 1024);
    const loc = await startSession(r);
    expect((await c.req('PATCH', loc, { headers: { 'content-type': 'application/octet-stream' }, body: G })).status).toBe(202);
    const late = await RawRequest.open(reg.url, 'PATCH', loc, { authorization: auth(), 'content-type': 'application/octet-stream', 'content-length': String(E.length) });
    await late.write(E.subarray(0, 100));
    await sleep(300);
    const put = await c.req('PUT', `${loc}?digest=${sha256(G)}`);
    expect(put.status).toBe(201);
    await late.write(E.subarray(100));
    expect([404, 416]).toContain((await late.response()).status);
    expect((await blobBytes(r, sha256(G))).equals(G)).toBe(true);
  });

  test('stored bytes that do not match their digest are replaced by the next upload of that digest', async () => {
    const r = repo();
    const G = randomBlob(40 * 1024);
    expect((await c.pushBlob(r, G)).status).toBe(201);
    await damage(G.digest, randomBytes(G.size));
    expect(sha256(await blobBytes(r, G.digest))).not.toBe(G.digest); // the damage is real
    expect((await c.pushBlob(repo(), G)).status).toBe(201);
    expect((await blobBytes(r, G.digest)).equals(G.data)).toBe(true);
  });

  test('a config whose stored bytes do not match its digest is never interpreted (labels)', async () => {
    const r = repo();
    const evil = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { 'quay.expires-after': '2s' } } }));
    const honestJson = { architecture: 'amd64', os: 'linux', pad: '' };
    honestJson.pad = 'x'.repeat(evil.length - Buffer.byteLength(JSON.stringify(honestJson)));
    const cfg = blobOf(Buffer.from(JSON.stringify(honestJson)));
    expect(cfg.size).toBe(evil.length);
    const layer = randomBlob(2048);
    for (const b of [cfg, layer]) expect((await c.pushBlob(r, b)).status).toBe(201);
    await damage(cfg.digest, evil);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
    };
    const refused = await c.pushManifest(r, 'v1', manifest);
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe('MANIFEST_BLOB_UNKNOWN');
    // The repository forgot the damaged blob, so a client uploads it again, which repairs it.
    expect((await c.req('HEAD', `/v2/${r}/blobs/${cfg.digest}`)).status).toBe(404);
    expect((await c.pushBlob(r, cfg)).status).toBe(201);
    expect((await c.pushManifest(r, 'v1', manifest)).status).toBe(201);
    await sleep(2500);
    expect((await c.req('GET', `/v2/${r}/manifests/v1`, { headers: { accept: OCI_MANIFEST } })).status).toBe(200);
  });

  test('random interleaved PATCH/PUT/DELETE on one session: every committed blob hashes to its name', async () => {
    const seed = Number(process.env.INTEGRITY_SEED ?? Date.now() % 1e9);
    const rnd = prng(seed);
    const r = repo();
    const honest = randomBytes(192 * 1024);
    const committed = new Map<string, number>();
    const statuses: number[] = [];

    async function offsetOf(loc: string): Promise<number | null> {
      const res = await c.req('GET', loc);
      if (res.status !== 204) return null;
      const range = res.headers.get('range')!;
      return range === '0-0' ? 0 : Number(range.split('-')[1]) + 1;
    }

    async function send(method: string, path: string, body: Buffer, extra: Record<string, string> = {}): Promise<number> {
      const req = await RawRequest.open(reg.url, method, path, {
        authorization: auth(),
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
        ...extra,
      });
      const cut = Math.floor(rnd() * body.length);
      try {
        await req.write(body.subarray(0, cut));
        await sleep(Math.floor(rnd() * 30));
        await req.write(body.subarray(cut));
      } catch {
        // The server answered (an unknown session, a 416) before reading the whole body.
      }
      const res = await req.response();
      statuses.push(res.status);
      return res.status;
    }

    async function actor(loc: string): Promise<void> {
      for (let step = 0; step < 4; step++) {
        const off = await offsetOf(loc);
        if (off === null) return;
        const roll = rnd();
        const len = 2 + Math.floor(rnd() * 24 * 1024); // at least 2: a Range of 0-0 then always means an empty session
        if (roll < 0.65 && off + len <= honest.length) {
          // PATCH: honest bytes continue the pattern; an attacker's bytes do not.
          const body = roll < 0.55 ? honest.subarray(off, off + len) : randomBytes(len);
          const range: Record<string, string> = rnd() < 0.5 ? { 'content-range': `${off}-${off + len - 1}` } : {};
          await send('PATCH', loc, body, range);
        } else if (roll < 0.92) {
          // PUT, sometimes with a last chunk: the digest of the pattern up to where this actor believes it ends.
          const tail = rnd() < 0.3 ? honest.subarray(off, Math.min(honest.length, off + len)) : Buffer.alloc(0);
          const digest = sha256(honest.subarray(0, off + tail.length));
          if ((await send('PUT', `${loc}?digest=${digest}`, tail)) === 201) committed.set(digest, off + tail.length);
        } else {
          const res = await c.req('DELETE', loc);
          statuses.push(res.status);
        }
      }
    }

    for (let round = 0; round < 20; round++) {
      const loc = await startSession(r);
      await Promise.all(Array.from({ length: 4 }, () => actor(loc)));
      // Finish what is left with the pattern's digest: committed when no attacker's chunk won.
      const off = await offsetOf(loc);
      if (off !== null) {
        const digest = sha256(honest.subarray(0, off));
        if ((await send('PUT', `${loc}?digest=${digest}`, Buffer.alloc(0))) === 201) committed.set(digest, off);
      }
    }
    expect({ seed, serverErrors: statuses.filter((s) => s >= 500) }).toEqual({ seed, serverErrors: [] });
    expect(committed.size).toBeGreaterThan(0);
    for (const [digest, size] of committed) {
      const bytes = await blobBytes(r, digest);
      expect({ seed, digest, actual: sha256(bytes), size: bytes.length }).toEqual({ seed, digest, actual: digest, size });
    }
  });
});
