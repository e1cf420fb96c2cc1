/**
 * The distribution API over real HTTP against the registry process, in both storage modes: every upload
 * shape, manifests and referrers, pagination, and bad input (which must leave stored data untouched).
 */
import { randomBytes } from 'node:crypto';
import { startRegistry, scaleOutConfig, type RegistryProcess } from '../../helpers/registry.js';
import { V2Client, randomBlob, jsonBlob, sha256, errorCode, OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER, DOCKER_MANIFEST, DOCKER_LIST } from '../../helpers/v2.js';

const modes: Array<[string, () => Promise<Record<string, unknown> | undefined>]> = [
  ['embedded (PGlite + filesystem)', async () => undefined],
  ['Postgres + S3', () => scaleOutConfig()],
];

describe.each(modes)('distribution API, %s', (_mode, makeConfig) => {
  let reg: RegistryProcess;
  let c: V2Client;
  let n = 0;
  const repo = () => `admin/repo${++n}`;

  beforeAll(async () => {
    reg = await startRegistry({ config: await makeConfig(), label: 'distribution' });
    c = V2Client.basic(reg);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('GET /v2/ answers 200 with credentials and carries the API version header', async () => {
    const r = await c.req('GET', '/v2/');
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  test('single POST upload (?digest=) answers 201 and the blob is readable', async () => {
    const name = repo();
    const b = randomBlob(3000);
    const r = await c.req('POST', `/v2/${name}/blobs/uploads/?digest=${b.digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
      body: b.data,
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`/v2/${name}/blobs/${b.digest}`);
    expect(r.headers.get('docker-content-digest')).toBe(b.digest);
    const get = await c.req('GET', r.headers.get('location')!);
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(b.data)).toBe(true);
    const head = await c.req('HEAD', `/v2/${name}/blobs/${b.digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(b.size));
    expect(head.headers.get('docker-content-digest')).toBe(b.digest);
  });

  test('POST + PUT and a zero-byte blob', async () => {
    const name = repo();
    const empty = { data: Buffer.alloc(0), digest: sha256(Buffer.alloc(0)), size: 0 };
    for (const b of [randomBlob(100), empty]) {
      const r = await c.pushBlob(name, b);
      expect(r.status).toBe(201);
      const get = await c.req('GET', `/v2/${name}/blobs/${b.digest}`);
      expect(get.status).toBe(200);
      expect(Buffer.from(await get.arrayBuffer()).equals(b.data)).toBe(true);
    }
  });

  test('chunked PATCH with Content-Range, out-of-order 416, GET recovery, last chunk in the PUT', async () => {
    const name = repo();
    const b = randomBlob(3 * 1024 - 5);
    const chunks = [b.data.subarray(0, 1024), b.data.subarray(1024, 2048), b.data.subarray(2048)];
    let loc = (await c.req('POST', `/v2/${name}/blobs/uploads/`)).headers.get('location')!;
    const patch = (at: string, start: number, data: Buffer) =>
      c.req('PATCH', at, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + data.length - 1}`, 'content-length': String(data.length) },
        body: data,
      });
    const outOfOrder = await patch(loc, 1024, chunks[1]);
    expect(outOfOrder.status).toBe(416);
    let r = await patch(loc, 0, chunks[0]);
    expect(r.status).toBe(202);
    expect(r.headers.get('range')).toBe('0-1023');
    loc = r.headers.get('location')!;
    expect((await patch(loc, 0, chunks[0])).status).toBe(416);
    const status = await c.req('GET', loc);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-1023');
    r = await patch(status.headers.get('location')!, 1024, chunks[1]);
    expect(r.status).toBe(202);
    expect(r.headers.get('range')).toBe('0-2047');
    const put = await c.req('PUT', `${r.headers.get('location')}?digest=${b.digest}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `2048-${b.size - 1}`, 'content-length': String(chunks[2].length) },
      body: chunks[2],
    });
    expect(put.status).toBe(201);
    const get = await c.req('GET', `/v2/${name}/blobs/${b.digest}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(b.data)).toBe(true);
  });

  test('streamed PATCH without Content-Range, then an empty PUT; sha512 via digest-algorithm', async () => {
    const name = repo();
    const data = randomBytes(5000);
    const digest512 = `sha512:${(await import('node:crypto')).createHash('sha512').update(data).digest('hex')}`;
    const start = await c.req('POST', `/v2/${name}/blobs/uploads/?digest-algorithm=sha512`);
    expect(start.status).toBe(202);
    const p = await c.req('PATCH', start.headers.get('location')!, { headers: { 'content-type': 'application/octet-stream' }, body: data });
    expect(p.status).toBe(202);
    const put = await c.req('PUT', `${p.headers.get('location')}?digest=${digest512}`);
    expect(put.status).toBe(201);
    expect(put.headers.get('docker-content-digest')).toBe(digest512);
    const get = await c.req('GET', `/v2/${name}/blobs/${digest512}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
  });

  test('Range requests: 206 with Content-Range, 416 when unsatisfiable', async () => {
    const name = repo();
    const b = randomBlob(2048);
    await c.pushBlob(name, b);
    const r = await c.req('GET', `/v2/${name}/blobs/${b.digest}`, { headers: { range: 'bytes=500-1499' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe('bytes 500-1499/2048');
    expect(Buffer.from(await r.arrayBuffer()).equals(b.data.subarray(500, 1500))).toBe(true);
    const tail = await c.req('GET', `/v2/${name}/blobs/${b.digest}`, { headers: { range: 'bytes=-500' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(b.data.subarray(1548))).toBe(true);
    expect((await c.req('GET', `/v2/${name}/blobs/${b.digest}`, { headers: { range: 'bytes=5000-10000' } })).status).toBe(416);
  });

  test('upload cancel (DELETE) ends the session', async () => {
    const name = repo();
    const loc = (await c.req('POST', `/v2/${name}/blobs/uploads/`)).headers.get('location')!;
    expect((await c.req('DELETE', loc)).status).toBe(204);
    const after = await c.req('GET', loc);
    expect(after.status).toBe(404);
    expect(await errorCode(after)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  test('cross-repository mount with from, automatic mount without from, and a missing blob falls back to 202', async () => {
    const src = repo();
    const b = randomBlob(700);
    await c.pushBlob(src, b);
    const withFrom = await c.req('POST', `/v2/${repo()}/blobs/uploads/?mount=${b.digest}&from=${src}`);
    expect(withFrom.status).toBe(201);
    expect(withFrom.headers.get('docker-content-digest')).toBe(b.digest);
    const auto = await c.req('POST', `/v2/${repo()}/blobs/uploads/?mount=${b.digest}`);
    expect(auto.status).toBe(201);
    const get = await c.req('GET', auto.headers.get('location')!);
    expect(Buffer.from(await get.arrayBuffer()).equals(b.data)).toBe(true);
    const missing = await c.req('POST', `/v2/${repo()}/blobs/uploads/?mount=${randomBlob(10).digest}&from=${src}`);
    expect(missing.status).toBe(202);
    expect(missing.headers.get('location')).toMatch(/\/blobs\/uploads\//);
  });

  test('manifests: byte-exact GET by tag and digest, HEAD, Content-Type, ETag/304', async () => {
    const name = repo();
    const { manifest, digest } = await c.pushImage(name, 'v1');
    for (const ref of ['v1', digest]) {
      const r = await c.req('GET', `/v2/${name}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(r.headers.get('docker-content-digest')).toBe(digest);
      expect(Buffer.from(await r.arrayBuffer()).equals(manifest)).toBe(true);
      const h = await c.req('HEAD', `/v2/${name}/manifests/${ref}`);
      expect(h.status).toBe(200);
      expect(h.headers.get('content-length')).toBe(String(manifest.length));
    }
    const cached = await c.req('GET', `/v2/${name}/manifests/v1`, { headers: { 'if-none-match': `"${digest}"` } });
    expect(cached.status).toBe(304);
  });

  test('Docker schema 2 and a manifest list; an OCI index; children must exist', async () => {
    const name = repo();
    const a = await c.pushImage(name, 'amd64', { mediaType: DOCKER_MANIFEST });
    const b = await c.pushImage(name, 'arm64', { mediaType: DOCKER_MANIFEST });
    const list = {
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: a.digest, size: a.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: DOCKER_MANIFEST, digest: b.digest, size: b.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    };
    const r = await c.pushManifest(name, 'multi', list, DOCKER_LIST);
    expect(r.status).toBe(201);
    const got = await c.req('GET', `/v2/${name}/manifests/multi`);
    expect(got.headers.get('content-type')).toBe(DOCKER_LIST);
    expect(await got.text()).toBe(JSON.stringify(list));
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: randomBlob(5).digest, size: 10 }] };
    const bad = await c.pushManifest(name, 'broken', index, OCI_INDEX);
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('MANIFEST_BLOB_UNKNOWN');
  });

  test('artifacts with artifactType and subject: OCI-Subject, referrers with artifactType filtering', async () => {
    const name = repo();
    const subject = await c.pushImage(name, 'base');
    const empty = jsonBlob({});
    await c.pushBlob(name, empty);
    const referrers: string[] = [];
    for (const type of ['application/vnd.dev.cosign.artifact.sig.v1+json', 'application/spdx+json']) {
      const layer = randomBlob(64);
      await c.pushBlob(name, layer);
      const m = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: type,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty.digest, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer.digest, size: layer.size }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
        annotations: { 'org.example.kind': type },
      };
      const body = JSON.stringify(m);
      const r = await c.pushManifest(name, sha256(body), body);
      expect(r.status).toBe(201);
      expect(r.headers.get('oci-subject')).toBe(subject.digest);
      referrers.push(sha256(body));
    }
    const all = await c.req('GET', `/v2/${name}/referrers/${subject.digest}`);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe(OCI_INDEX);
    const idx = (await all.json()) as { manifests: Array<{ digest: string; artifactType: string; annotations: Record<string, string> }> };
    expect(idx.manifests.map((m) => m.digest).sort()).toEqual([...referrers].sort());
    expect(idx.manifests.every((m) => m.annotations['org.example.kind'] === m.artifactType)).toBe(true);
    const filtered = await c.req('GET', `/v2/${name}/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`);
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
    const f = (await filtered.json()) as { manifests: Array<{ artifactType: string }> };
    expect(f.manifests.map((m) => m.artifactType)).toEqual(['application/spdx+json']);
    const none = await c.req('GET', `/v2/${name}/referrers/${randomBlob(3).digest}`);
    expect(none.status).toBe(200);
    expect(((await none.json()) as { manifests: unknown[] }).manifests).toEqual([]);
  });

  test('tag list with n, last and Link; catalog pagination', async () => {
    const name = repo();
    const img = await c.pushImage(name, 't0');
    for (const t of ['t1', 't2', 't3', 'T4']) expect((await c.pushManifest(name, t, img.manifest.toString())).status).toBe(201);
    const all = (await (await c.req('GET', `/v2/${name}/tags/list`)).json()) as { tags: string[] };
    expect(all.tags).toEqual(['T4', 't0', 't1', 't2', 't3']);
    const p1 = await c.req('GET', `/v2/${name}/tags/list?n=2`);
    expect(((await p1.json()) as { tags: string[] }).tags).toEqual(['T4', 't0']);
    expect(p1.headers.get('link')).toBe(`</v2/${name}/tags/list?n=2&last=t0>; rel="next"`);
    const p2 = (await (await c.req('GET', `/v2/${name}/tags/list?n=2&last=t0`)).json()) as { tags: string[] };
    expect(p2.tags).toEqual(['t1', 't2']);
    const zero = await c.req('GET', `/v2/${name}/tags/list?n=0`);
    expect(((await zero.json()) as { tags: string[] }).tags).toEqual([]);
    expect(zero.headers.get('link')).toBeNull();
    expect(await errorCode(await c.req('GET', `/v2/${name}/tags/list?n=-1`))).toBe('PAGINATION_NUMBER_INVALID');
    await c.pushImage(repo(), 'v1'); // at least two repositories, whatever ran before
    const cat = await c.req('GET', '/v2/_catalog?n=1');
    const first = (await cat.json()) as { repositories: string[] };
    expect(first.repositories).toHaveLength(1);
    const next = /<([^>]+)>; rel="next"/.exec(cat.headers.get('link') ?? '')![1];
    const second = (await (await c.req('GET', next)).json()) as { repositories: string[] };
    expect(second.repositories[0] > first.repositories[0]).toBe(true);
  });

  test('manifest and tag DELETE; blob DELETE', async () => {
    const name = repo();
    const img = await c.pushImage(name, 'keep');
    await c.pushManifest(name, 'gone', img.manifest.toString());
    expect((await c.req('DELETE', `/v2/${name}/manifests/gone`)).status).toBe(202);
    expect((await c.req('GET', `/v2/${name}/manifests/gone`)).status).toBe(404);
    expect((await c.req('GET', `/v2/${name}/manifests/keep`)).status).toBe(200);
    // A blob a live manifest uses cannot be deleted out from under it.
    expect((await c.req('DELETE', `/v2/${name}/blobs/${img.layers[0].digest}`)).status).toBe(405);
    expect((await c.req('DELETE', `/v2/${name}/manifests/${img.digest}`)).status).toBe(202);
    expect((await c.req('GET', `/v2/${name}/manifests/keep`)).status).toBe(404);
    expect((await c.req('GET', `/v2/${name}/manifests/${img.digest}`)).status).toBe(404);
    expect((await c.req('DELETE', `/v2/${name}/blobs/${img.layers[0].digest}`)).status).toBe(202);
    expect((await c.req('HEAD', `/v2/${name}/blobs/${img.layers[0].digest}`)).status).toBe(404);
    expect((await c.req('DELETE', `/v2/${name}/manifests/nope`)).status).toBe(404);
  });

  describe('bad input leaves stored data untouched', () => {
    test('wrong digest on every upload path', async () => {
      const name = repo();
      const b = randomBlob(500);
      const wrong = randomBlob(1).digest;
      const single = await c.req('POST', `/v2/${name}/blobs/uploads/?digest=${wrong}`, { body: b.data, headers: { 'content-length': '500' } });
      expect(single.status).toBe(400);
      expect(await errorCode(single)).toBe('DIGEST_INVALID');
      const loc = (await c.req('POST', `/v2/${name}/blobs/uploads/`)).headers.get('location')!;
      const put = await c.req('PUT', `${loc}?digest=${wrong}`, { body: b.data, headers: { 'content-length': '500' } });
      expect(await errorCode(put)).toBe('DIGEST_INVALID');
      const loc2 = (await c.req('POST', `/v2/${name}/blobs/uploads/`)).headers.get('location')!;
      const p = await c.req('PATCH', loc2, { body: b.data });
      const put2 = await c.req('PUT', `${p.headers.get('location')}?digest=${wrong}`);
      expect(await errorCode(put2)).toBe('DIGEST_INVALID');
      const malformed = await c.req('POST', `/v2/${name}/blobs/uploads/?digest=sha256:nothex`, { body: b.data, headers: { 'content-length': '500' } });
      expect(malformed.status).toBe(400);
      for (const d of [wrong, b.digest]) expect((await c.req('HEAD', `/v2/${name}/blobs/${d}`)).status).toBe(404);
      const manifestBody = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: b.digest, size: 500 }, layers: [] });
      const byWrongDigest = await c.pushManifest(name, wrong, manifestBody);
      expect(await errorCode(byWrongDigest)).toBe('DIGEST_INVALID');
    });

    test('a truncated upload stores nothing', async () => {
      const name = repo();
      const b = randomBlob(1000);
      const loc = (await c.req('POST', `/v2/${name}/blobs/uploads/`)).headers.get('location')!;
      const r = await c
        .req('PATCH', loc, {
          headers: { 'content-range': '0-999', 'content-length': '1000' },
          body: b.data.subarray(0, 400),
        })
        .catch((e: Error) => e);
      // Node's fetch refuses a body shorter than its Content-Length; either way nothing is accepted.
      if (r instanceof Response) expect(r.status).toBeGreaterThanOrEqual(400);
      const status = await c.req('GET', loc);
      expect(status.headers.get('range')).toBe('0-0');
      expect((await c.req('HEAD', `/v2/${name}/blobs/${b.digest}`)).status).toBe(404);
    });

    test('manifest problems: missing blob, malformed JSON, media type mismatch, oversized, bad tag', async () => {
      const name = repo();
      const img = await c.pushImage(name, 'good');
      const missing = randomBlob(10);
      const m = JSON.parse(img.manifest.toString());
      m.layers.push({ mediaType: OCI_LAYER, digest: missing.digest, size: 10 });
      const r1 = await c.pushManifest(name, 'good', m);
      expect(r1.status).toBe(400);
      expect(await errorCode(r1)).toBe('MANIFEST_BLOB_UNKNOWN');
      const r2 = await c.pushManifest(name, 'good', '{"schemaVersion": 2,');
      expect(await errorCode(r2)).toBe('MANIFEST_INVALID');
      const r3 = await c.pushManifest(name, 'good', img.manifest.toString(), DOCKER_MANIFEST);
      expect(await errorCode(r3)).toBe('MANIFEST_INVALID');
      const huge = JSON.stringify({ ...JSON.parse(img.manifest.toString()), annotations: { big: 'x'.repeat(4 * 1024 * 1024) } });
      const r4 = await c.pushManifest(name, 'good', huge);
      expect(r4.status).toBe(413);
      const r5 = await c.pushManifest(name, '-bad-tag', img.manifest.toString());
      expect(await errorCode(r5)).toBe('TAG_INVALID');
      const r6 = await c.pushManifest(name, 'good', img.manifest.toString(), 'text/plain');
      expect(r6.status).toBe(415);
      const still = await c.req('GET', `/v2/${name}/manifests/good`);
      expect(Buffer.from(await still.arrayBuffer()).equals(img.manifest)).toBe(true);
    });

    test.each([['Admin/app'], ['admin/a..b'], ['admin//x'], [`admin/${'a'.repeat(260)}`]])('invalid repository name %p gives NAME_INVALID', async (name) => {
      const r = await c.req('GET', `/v2/${name}/tags/list`);
      expect(r.status).toBe(400);
      expect(await errorCode(r)).toBe('NAME_INVALID');
    });
  });
});
