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

test('a large body is flushed to disk while it arrives, and fdatasynced once more after its last write', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fs-write-'));
  const probe = await open(join(root, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as {
    writev: (buffers: Buffer[], position?: number) => Promise<unknown>;
    datasync: () => Promise<void>;
  };
  await probe.close();
  const { writev, datasync } = proto;
  const events: string[] = [];
  proto.writev = function (this: unknown, buffers: Buffer[], position?: number) {
    events.push('write');
    return writev.call(this, buffers, position);
  };
  proto.datasync = function (this: unknown) {
    events.push('sync');
    return datasync.call(this);
  };
  try {
    const store = new FsBlobStore(root);
    const data = randomBytes(40 * 1024 * 1024);
    const chunks = function* () {
      for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
    };
    expect(await store.writeSegment('u1', 's1', Readable.from(chunks()))).toBe(data.length);
    expect(readFileSync(await store.segmentFile('u1', 's1')).equals(data)).toBe(true);
    // A flush between the writes (every 8 MiB while none is in flight: how many depends on the disk), and the
    // last one after the last write.
    expect(events.slice(0, events.lastIndexOf('write'))).toContain('sync');
    expect(events.at(-1)).toBe('sync');
  } finally {
    proto.writev = writev;
    proto.datasync = datasync;
    rmSync(root, { recursive: true, force: true });
  }
});
