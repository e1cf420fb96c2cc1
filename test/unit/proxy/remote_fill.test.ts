/**
 * A replica's view of another replica's blob fill (RemoteFill) over a real LocalStorage directory, the filler's
 * staging file written by the test: when the filler goes away mid-fill and another fill takes over, a reader
 * goes on from the new fill when the bytes it was handed are that fill's own, and errors (its client is cut)
 * when they are not; a range reader likewise.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { FsBlobStore } from '../../../registry/storage/fs.js';
import { RemoteFill } from '../../../registry/proxy/remote_fill.js';

const MiB = 1024 * 1024;
const blob = randomBytes(4 * MiB);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'remote-fill-'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fill another replica started: its staging file holds `written` (its first bytes so far). */
async function deadFill(uploadId: string, written: Buffer): Promise<RemoteFill> {
  const store = new FsBlobStore(root);
  const path = await store.segmentFile(uploadId, 'seg');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, written);
  return new RemoteFill(store, uploadId, digest, blob.length, 'seg');
}

/** Reads `r` until it has `n` bytes (or more), then keeps reading to its end in the background. */
function consume(r: Readable, n: number) {
  const chunks: Buffer[] = [];
  let got = 0;
  let reached!: () => void;
  const atN = new Promise<void>((resolve) => (reached = resolve));
  const done = new Promise<Buffer>((resolve, reject) => {
    r.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) reached();
    });
    r.on('end', () => resolve(Buffer.concat(chunks)));
    r.on('error', reject);
  });
  done.catch(() => undefined);
  return { atN, done, got: () => got };
}

const successor = (bytes: Buffer) =>
  async function* (start: number, end: number) {
    for (let at = start; at < end; at += 300_000) yield bytes.subarray(at, Math.min(at + 300_000, end));
  };

test('a reader of a dead fill goes on from the fill that took over when its bytes are that fill’s own', async () => {
  const fill = await deadFill('same', blob.subarray(0, MiB + 17));
  const whole = consume(fill.reader(), MiB + 17);
  const range = consume(fill.reader({ start: 1000, end: 3 * MiB }), MiB + 17 - 1000);
  await Promise.all([whole.atN, range.atN]);
  fill.orphan();
  fill.takeOver(successor(blob));
  expect((await whole.done).equals(blob)).toBe(true);
  expect((await range.done).equals(blob.subarray(1000, 3 * MiB + 1))).toBe(true);
});

test('a reader handed bytes the fill that took over does not have is cut; a range reader past them goes on', async () => {
  const wrong = Buffer.from(blob.subarray(0, MiB));
  wrong[5] ^= 0xff;
  const fill = await deadFill('wrong', wrong);
  const whole = consume(fill.reader(), MiB);
  const range = consume(fill.reader({ start: 6, end: 2 * MiB - 1 }), MiB - 6);
  await Promise.all([whole.atN, range.atN]);
  fill.orphan();
  fill.takeOver(successor(blob));
  await expect(whole.done).rejects.toThrow('the bytes sent differ from those of the fill that took over');
  expect(whole.got()).toBe(MiB);
  expect((await range.done).equals(blob.subarray(6, 2 * MiB))).toBe(true);
});

test('a dead fill that fails instead of being taken over errors its readers', async () => {
  const fill = await deadFill('failed', blob.subarray(0, MiB));
  const whole = consume(fill.reader(), MiB);
  await whole.atN;
  fill.orphan();
  fill.fail(new Error('the upstream refused'));
  await expect(whole.done).rejects.toThrow('the upstream refused');
});
