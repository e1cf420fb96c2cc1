/**
 * LocalStorage blob reads: 1 MiB chunks by default (fast pulls), and the smaller chunks a caller asks for (the
 * scanner reads layers with 64 KiB chunks, whose buffers die young; with 1 MiB ones the registry's RSS peaked
 * 60 MiB higher while indexing a 500 MiB image); a whole-blob read given the recorded size ends there.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { FsBlobStore } from '../../../registry/storage/fs.js';
import { casPath } from '../../../registry/storage/blobstore.js';

test('read yields 1 MiB chunks by default and chunkBytes-sized ones when asked, the same bytes either way', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fs-read-'));
  try {
    const store = new FsBlobStore(root);
    const data = randomBytes(3 * 1024 * 1024 + 100);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    await store.writeSegment('u1', 's1', Readable.from([data]));
    await store.commitUpload('u1', [{ id: 's1', size: data.length }], digest);
    const chunks = async (opts?: { chunkBytes?: number }) => {
      const sizes: number[] = [];
      const parts: Buffer[] = [];
      for await (const c of await store.read(digest, undefined, opts)) {
        sizes.push((c as Buffer).length);
        parts.push(c as Buffer);
      }
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      return sizes;
    };
    expect(Math.max(...(await chunks()))).toBe(1024 * 1024);
    const small = await chunks({ chunkBytes: 64 * 1024 });
    expect(Math.max(...small)).toBe(64 * 1024);
    expect(small.length).toBe(Math.ceil(data.length / (64 * 1024)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a whole-blob read given the recorded size yields exactly that many bytes, even from a file that grew', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fs-read-'));
  try {
    const store = new FsBlobStore(root);
    const data = randomBytes(1024 * 1024 + 5000);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    await store.writeSegment('u1', 's1', Readable.from([data]));
    await store.commitUpload('u1', [{ id: 's1', size: data.length }], digest);
    // A response announced data.length bytes (Content-Length): extra bytes on disk must not follow them on the connection.
    appendFileSync(join(root, casPath(digest)), Buffer.from('appended garbage'));
    const parts: Buffer[] = [];
    for await (const c of await store.read(digest, undefined, { size: data.length })) parts.push(c as Buffer);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
