/**
 * Reads one image layer as a stream: detects gzip / zstd / plain tar by its first bytes, counts the
 * decompressed bytes against a cap (a gzip bomb fails the layer, not the process), and keeps only the
 * entries the package detectors want (package databases, lock files, metadata, Go build info) plus the
 * whiteouts that delete lower-layer content. Memory is bounded by the kept files, never by layer size.
 */
import { Transform, Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import tar from 'tar-stream';
import { GoBuildInfoScanner } from './gobuildinfo.js';

export class LayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerError';
  }
}

export interface LayerLimits {
  /** decompressed bytes of the whole tar stream */
  maxUncompressedBytes: number;
  /** total bytes of kept file contents */
  maxKeptBytes: number;
  /** largest single kept file (an rpmdb.sqlite can be tens of MiB) */
  maxFileBytes: number;
}

export const DEFAULT_LIMITS: LayerLimits = { maxUncompressedBytes: 16 * 1024 ** 3, maxKeptBytes: 96 * 1024 ** 2, maxFileBytes: 64 * 1024 ** 2 };

export type LayerEntry =
  | { kind: 'file'; path: string; data: Buffer }
  | { kind: 'gobinary'; path: string; data: Buffer }
  | { kind: 'symlink'; path: string; target: string }
  /** a `.wh.<name>` whiteout: `path` is the deleted name */
  | { kind: 'whiteout'; path: string }
  /** `.wh..wh..opq`: everything below `path` in lower layers is hidden */
  | { kind: 'opaque'; path: string };

/** Which file contents the detectors read. */
export function isWanted(path: string): boolean {
  return (
    path === 'etc/os-release' ||
    path === 'usr/lib/os-release' ||
    path === 'etc/alpine-release' ||
    path === 'etc/debian_version' ||
    path === 'var/lib/dpkg/status' ||
    /^var\/lib\/dpkg\/status\.d\/[^/]+$/.test(path) ||
    path === 'lib/apk/db/installed' ||
    path === 'var/lib/rpm/rpmdb.sqlite' ||
    path === 'usr/lib/sysimage/rpm/rpmdb.sqlite' ||
    /(^|\/)package-lock\.json$/.test(path) ||
    /(^|\/)node_modules\/(@[^/]+\/)?[^/@][^/]*\/package\.json$/.test(path) ||
    /\.dist-info\/METADATA$/.test(path) ||
    /\.egg-info\/PKG-INFO$/.test(path)
  );
}

/** Archive path → filesystem path: no leading `./` or `/`, no trailing `/`, no `.`/`..` segments. */
export function normalizePath(name: string): string | null {
  const out: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (!out.length) return null;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out.length ? out.join('/') : null;
}

class ByteLimit extends Transform {
  bytes = 0;
  constructor(private readonly limit: number) {
    super();
  }
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) cb(new LayerError(`layer expands beyond the decompression limit of ${this.limit} bytes`));
    else cb(null, chunk);
  }
}

class ZstdDecompress extends Transform {
  private readonly z = new Decompress((data) => this.push(Buffer.from(data.buffer, data.byteOffset, data.length)));
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    try {
      this.z.push(chunk);
      cb();
    } catch (err) {
      cb(new LayerError(`invalid zstd stream: ${(err as Error).message}`));
    }
  }
  _flush(cb: TransformCallback) {
    try {
      this.z.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(new LayerError(`invalid zstd stream: ${(err as Error).message}`));
    }
  }
}

/** The first chunk of `source`, pushed back so the stream still starts at byte 0. */
async function peek(source: Readable): Promise<Buffer> {
  for (;;) {
    const chunk: Buffer | null = source.read();
    if (chunk) {
      source.unshift(chunk);
      return chunk;
    }
    if (source.readableEnded || source.destroyed) return Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const settle = () => {
        source.off('readable', settle).off('end', settle).off('error', fail);
        resolve();
      };
      const fail = (err: Error) => {
        source.off('readable', settle).off('end', settle);
        reject(err);
      };
      source.once('readable', settle).once('end', settle).once('error', fail);
    });
  }
}

/** The decompressor for the layer's first bytes, whatever its media type claims. */
function decompressorFor(head: Buffer): Transform | null {
  // 256 KiB output chunks instead of zlib's 16 KiB: the tar parser and the byte counter then run a sixteenth
  // as often; a 100 MB layer inflates and walks 3-5× faster (measured), memory stays one chunk per layer.
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return zlib.createGunzip({ chunkSize: 256 * 1024 });
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return new ZstdDecompress();
  return null;
}

/**
 * Streams `source` (the layer blob) and returns the entries the scanner needs, in archive order.
 * Throws LayerError for anything that is not a (compressed) tar archive or exceeds a limit.
 */
export async function readLayer(source: Readable, limits: LayerLimits = DEFAULT_LIMITS): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  const kept = new Map<string, Buffer>();
  let keptBytes = 0;
  let sawEntry = false;
  const limit = new ByteLimit(limits.maxUncompressedBytes);
  const extract = tar.extract();
  // pipeline() reports the error; this listener keeps a destroy() from inside an entry handler from also
  // surfacing as an unhandled 'error' event after pipeline has detached.
  extract.on('error', () => undefined);
  /** where the data of the last entry ends in the tar stream (tar-stream's byteOffset is where it starts) */
  let lastDataEnd = 0;
  extract.on('entry', (header, stream, next) => {
    sawEntry = true;
    lastDataEnd = ((header as { byteOffset?: number }).byteOffset ?? 0) + (header.type === 'file' || header.type === 'contiguous-file' ? (header.size ?? 0) : 0);
    // the entry stream is destroyed along with the archive on a failure; the failure is reported once, by pipeline
    stream.on('error', () => undefined);
    const path = normalizePath(header.name);
    const done = (err?: Error) => (err ? extract.destroy(err) : next());
    const drain = () => {
      stream.on('end', () => done());
      stream.resume();
    };
    if (!path) return drain();
    const slash = path.lastIndexOf('/');
    const base = path.slice(slash + 1);
    const dir = slash >= 0 ? path.slice(0, slash) : '';
    if (base === '.wh..wh..opq') {
      entries.push({ kind: 'opaque', path: dir });
      return drain();
    }
    if (base.startsWith('.wh.')) {
      entries.push({ kind: 'whiteout', path: (dir ? dir + '/' : '') + base.slice(4) });
      return drain();
    }
    if (header.type === 'symlink' && isWanted(path)) {
      entries.push({ kind: 'symlink', path, target: header.linkname ?? '' });
      return drain();
    }
    if (header.type === 'link' && isWanted(path)) {
      const target = normalizePath(header.linkname ?? '');
      const data = target ? kept.get(target) : undefined;
      if (data) entries.push({ kind: 'file', path, data });
      return drain();
    }
    if (header.type !== 'file' && header.type !== 'contiguous-file') return drain();
    const size = header.size ?? 0;
    if (isWanted(path)) {
      if (size > limits.maxFileBytes || keptBytes + size > limits.maxKeptBytes) {
        stream.resume();
        return extract.destroy(new LayerError(`${path} is ${size} bytes, over the scanner's limit for package databases`));
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        keptBytes += data.length;
        kept.set(path, data);
        entries.push({ kind: 'file', path, data });
        done();
      });
      return;
    }
    // Executables are searched for Go build info on the fly, without keeping their bytes.
    if (((header.mode ?? 0) & 0o111) !== 0 && size >= 1024) {
      const scanner = new GoBuildInfoScanner();
      stream.on('data', (c) => scanner.write(c as Buffer));
      stream.on('end', () => {
        const info = scanner.result();
        if (info) entries.push({ kind: 'gobinary', path, data: info });
        done();
      });
      return;
    }
    drain();
  });
  try {
    const head = await peek(source);
    if (!head.length) throw new LayerError('layer is empty');
    const decompress = decompressorFor(head);
    if (decompress) await pipeline(source, decompress, limit, extract);
    else await pipeline(source, limit, extract);
  } catch (err) {
    if (err instanceof LayerError) throw err;
    // Some writers (umoci insert, seen here) stop right after the last file's data, without its padding and
    // the end-of-archive blocks. Every entry is complete then, so the layer is read as it is.
    const truncatedTrailer = (err as Error).message === 'Unexpected end of data' && sawEntry && limit.bytes === lastDataEnd;
    if (!truncatedTrailer) throw new LayerError(`layer is not a readable tar archive: ${(err as Error).message}`);
  }
  if (!sawEntry && limit.bytes > 0 && limit.bytes < 1024) throw new LayerError('layer is not a tar archive');
  return entries;
}
