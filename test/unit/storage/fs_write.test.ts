/**
 * LocalStorage writes gather a request's chunks into batched writev calls; a body trickled a byte at a time must
 * not gather a Buffer per byte into one write (a client sending tiny packets would hold ~100 bytes of heap per
 * byte sent until the batch filled), and the bytes must land exactly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { FsBlobStore } from '../../../registry/storage/fs.js';

test('a body of 200 000 one-byte chunks is written exactly, in writes of at most 1024 chunks', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fs-write-'));
  const probe = await open(join(root, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { writev: (buffers: Buffer[], position?: number) => Promise<unknown> };
  await probe.close();
  const writev = proto.writev;
  let mostChunks = 0;
  proto.writev = function (this: unknown, buffers: Buffer[], position?: number) {
    mostChunks = Math.max(mostChunks, buffers.length);
    return writev.call(this, buffers, position);
  };
  try {
    const store = new FsBlobStore(root);
    const data = randomBytes(200_000);
    const bytes = function* () {
      for (let i = 0; i < data.length; i++) yield data.subarray(i, i + 1);
    };
    expect(await store.writeSegment('u1', 's1', Readable.from(bytes()))).toBe(data.length);
    expect(readFileSync(await store.segmentFile('u1', 's1')).equals(data)).toBe(true);
    expect(mostChunks).toBeGreaterThan(0);
    expect(mostChunks).toBeLessThanOrEqual(1024);
  } finally {
    proto.writev = writev;
    rmSync(root, { recursive: true, force: true });
  }
});
