/**
 * The BlobStore contract (registry/storage/blobstore.ts): one suite that every storage driver passes, built from
 * a Quay storage configuration as the registry builds it — LocalStorage on a temporary directory and S3Storage on
 * MinIO. A new driver gets a row in `drivers` and must pass all of it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { QuayConfig } from '../../../config/index.js';
import { createBlobStore } from '../../../registry/storage/index.js';
import { isMissingObject, type BlobStore, type Segment } from '../../../registry/storage/blobstore.js';
import { s3StorageConfig } from '../../helpers/registry.js';
import { createTestBucket } from '../../setup/services.js';

const MiB = 1024 * 1024;

const drivers: Array<[string, () => Promise<Record<string, unknown>>]> = [
  ['LocalStorage', async () => ({})],
  ['S3Storage (MinIO)', async () => s3StorageConfig(await createTestBucket('contract'))],
];

const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function uploadIds(store: BlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const u of store.listUploads()) ids.push(u.id);
  return ids;
}

/** Stages `parts` as the segments of a new upload; returns its id and segments. */
async function stage(store: BlobStore, parts: Buffer[]): Promise<{ uploadId: string; segments: Segment[] }> {
  const uploadId = randomUUID();
  const segments: Segment[] = [];
  for (const part of parts) {
    const id = randomUUID();
    expect(await store.writeSegment(uploadId, id, Readable.from([part]))).toBe(part.length);
    segments.push({ id, size: part.length });
  }
  return { uploadId, segments };
}

/** Stores `parts` as one blob through an upload (staged, committed, staging removed); returns its digest. */
async function storeBlob(store: BlobStore, parts: Buffer[]): Promise<string> {
  const digest = digestOf(Buffer.concat(parts));
  const { uploadId, segments } = await stage(store, parts);
  await store.commitUpload(uploadId, segments, digest);
  await store.deleteUpload(uploadId);
  return digest;
}

/** A body that yields `first` and then fails, as a client connection cut mid-request. */
function failingBody(first: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield first;
      throw new Error('connection cut');
    })(),
  );
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe.each(drivers)('BlobStore contract, %s', (_name, storageConfig) => {
  let store: BlobStore;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'store-contract-'));
    store = await createBlobStore((await storageConfig()) as unknown as QuayConfig, dataDir);
  });

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('an upload: segments read back in order, committed as the digest, listed while staged, gone once deleted', async () => {
    const parts = [randomBytes(3), randomBytes(100 * 1024), Buffer.alloc(0), randomBytes(7)];
    const whole = Buffer.concat(parts);
    const digest = digestOf(whole);
    const { uploadId, segments } = await stage(store, parts);
    expect(await uploadIds(store)).toContain(uploadId);
    expect((await bytesOf(await store.readSegments(uploadId, segments))).equals(whole)).toBe(true);
    expect(await store.exists(digest)).toBe(false);

    await store.commitUpload(uploadId, segments, digest);
    await store.deleteUpload(uploadId);
    expect(await uploadIds(store)).not.toContain(uploadId);
    expect(await store.exists(digest)).toBe(true);
    expect(digestOf(await bytesOf(await store.read(digest)))).toBe(digest);
  });

  test('a blob of several segments above the multipart size is committed whole', async () => {
    const digest = await storeBlob(store, [randomBytes(6 * MiB), randomBytes(6 * MiB + 17), randomBytes(1)]);
    const back = await bytesOf(await store.read(digest));
    expect({ size: back.length, digest: digestOf(back) }).toEqual({ size: 12 * MiB + 18, digest });
  });

  test('ranges: first byte, last byte, a middle span, the whole blob, and an empty range', async () => {
    const data = randomBytes(256 * 1024 + 5);
    const digest = await storeBlob(store, [data]);
    const last = data.length - 1;
    for (const [start, end] of [
      [0, 0],
      [last, last],
      [1000, 200_000],
      [0, last],
    ]) {
      const got = await bytesOf(await store.read(digest, { start, end }));
      expect({ start, end, equal: got.equals(data.subarray(start, end + 1)) }).toEqual({ start, end, equal: true });
    }
    expect((await bytesOf(await store.read(digest, { start: 10, end: 9 }))).length).toBe(0);
  });

  test('a later commit of the digest replaces damaged content', async () => {
    const good = randomBytes(64 * 1024);
    const digest = digestOf(good);
    const damaged = Buffer.from(good);
    damaged[100] ^= 0xff;
    const bad = await stage(store, [damaged]);
    await store.commitUpload(bad.uploadId, bad.segments, digest);
    expect(digestOf(await bytesOf(await store.read(digest)))).not.toBe(digest);
    const fixed = await stage(store, [good]);
    await store.commitUpload(fixed.uploadId, fixed.segments, digest);
    expect(digestOf(await bytesOf(await store.read(digest)))).toBe(digest);
    await Promise.all([store.deleteUpload(bad.uploadId), store.deleteUpload(fixed.uploadId)]);
  });

  test('concurrent commits of one digest from different uploads leave one whole copy', async () => {
    const data = randomBytes(2 * MiB + 3);
    const digest = digestOf(data);
    const uploads = await Promise.all(Array.from({ length: 4 }, () => stage(store, [data.subarray(0, MiB), data.subarray(MiB)])));
    await Promise.all(uploads.map((u) => store.commitUpload(u.uploadId, u.segments, digest)));
    await Promise.all(uploads.map((u) => store.deleteUpload(u.uploadId)));
    const back = await bytesOf(await store.read(digest));
    expect({ size: back.length, digest: digestOf(back) }).toEqual({ size: data.length, digest });
  });

  test('a deleted blob is gone; what is missing reads as missing, and deleting it again is no error', async () => {
    const digest = await storeBlob(store, [randomBytes(1000)]);
    await store.delete(digest);
    expect(await store.exists(digest)).toBe(false);
    const readErr = await rejection((async () => bytesOf(await store.read(digest)))());
    expect(isMissingObject(readErr)).toBe(true);
    const fileErr = await rejection((async () => bytesOf(await store.readFile(`contract/${randomUUID()}.json`)))());
    expect(isMissingObject(fileErr)).toBe(true);
    await store.delete(digest);
    await store.deleteFile(`contract/${randomUUID()}.json`);
    await store.deleteSegment(randomUUID(), randomUUID());
    await store.deleteUpload(randomUUID());
  });

  test('named files: written, read, replaced and deleted; a failed write leaves nothing', async () => {
    const path = `contract/${randomUUID()}.json`;
    const first = Buffer.from('{"first":true}');
    expect(await store.writeFile(path, Readable.from([first]))).toBe(first.length);
    expect((await bytesOf(await store.readFile(path))).equals(first)).toBe(true);
    const second = randomBytes(3 * MiB);
    expect(await store.writeFile(path, Readable.from([second]))).toBe(second.length);
    expect((await bytesOf(await store.readFile(path))).equals(second)).toBe(true);
    await store.deleteFile(path);
    expect(isMissingObject(await rejection((async () => bytesOf(await store.readFile(path)))()))).toBe(true);

    const broken = `contract/${randomUUID()}.json`;
    await rejection(store.writeFile(broken, failingBody(randomBytes(64 * 1024))));
    expect(isMissingObject(await rejection((async () => bytesOf(await store.readFile(broken)))()))).toBe(true);
  });

  test('pre-signed URLs, where the store signs them, serve exactly the bytes', async () => {
    const data = randomBytes(10_000);
    const digest = await storeBlob(store, [data]);
    const path = `contract/${randomUUID()}.json`;
    await store.writeFile(path, Readable.from([data]));
    const urls = [await store.blobUrl(digest, 60), await store.signedFileUrl(path, 60)];
    if (store.driver === 'LocalStorage') {
      expect(urls).toEqual([null, null]);
    } else {
      for (const url of urls) {
        const res = await fetch(url!);
        expect({ status: res.status, digest: digestOf(Buffer.from(await res.arrayBuffer())) }).toEqual({ status: 200, digest });
      }
    }
    await store.deleteFile(path);
  });

  test('the health check writes and reads back', async () => {
    await expect(store.check()).resolves.toBeUndefined();
  });
});
