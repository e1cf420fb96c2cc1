/** Blob endpoints: GET/HEAD (with Range) and DELETE /v2/<name>/blobs/<digest>. */
import type { Readable } from 'node:stream';
import { parseDigest, DigestError } from '../../oci/digest.js';
import { RegistryError } from '../../errors.js';
import type { ByteRange } from '../../storage/index.js';
import { isDirectBody, type ByteSink } from '../../storage/file_body.js';
import type { ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import { grantedActions } from './access.js';
import { requireRepo, type V2Context } from './context.js';

function checkDigest(digest: string): void {
  try {
    parseDigest(digest);
  } catch (e) {
    throw new RegistryError((e as DigestError).unsupported ? 'UNSUPPORTED' : 'DIGEST_INVALID', (e as Error).message, { status: 400 });
  }
}

/** A single `bytes=` range against a blob of `size` bytes: a range, 'unsatisfiable', or null for "whole blob". */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || (m[2] !== '' && Number(m[2]) < start)) return 'unsatisfiable';
  return { start, end };
}

export async function getBlob(ctx: V2Context): Promise<void> {
  const [digest] = ctx.params;
  checkDigest(digest);
  const repo = requireRepo(ctx);
  // A pusher's HEAD that finds the blob is followed by a manifest that references it without uploading it:
  // renew the repository's temporary reference so that GC cannot delete the blob in between.
  const pusher = ctx.req.method === 'HEAD' && (await grantedActions(ctx.rt, ctx.caller, ctx.target, ['push'])).has('push');
  const blob = pusher ? await ctx.rt.blobs.mount([repo.id], repo.id, digest) : await ctx.rt.blobs.findInRepo(repo.id, digest);
  if (!blob) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest } });
  const { reply } = ctx;
  reply.header('docker-content-digest', blob.digest);
  reply.header('etag', `"${blob.digest}"`);
  reply.header('accept-ranges', 'bytes');
  reply.header('content-type', 'application/octet-stream');
  reply.header('cache-control', 'max-age=31536000');
  const range = parseRange(ctx.req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', `range not satisfiable for a blob of ${blob.size} bytes`, {
      headers: { 'content-range': `bytes */${blob.size}` },
    });
  }
  // A blob of a proxy cache organization may still be only upstream: fetched now, streamed while stored.
  const cold = ctx.req.method === 'GET' ? await ctx.rt.proxyCache.prepareBlob(repo, blob, range) : null;
  if (cold) return sendBody(ctx, blob.size, range, cold);
  if (ctx.req.method === 'HEAD') {
    reply.header('content-length', range ? range.end - range.start + 1 : blob.size);
    reply.code(range ? 206 : 200);
    if (range) reply.header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
    return reply.send();
  }
  // As Quay: on object storage the client downloads from the store itself (a pre-signed URL; Range goes with
  // it), so the registry's work per pull does not grow with the blob; FEATURE_PROXY_STORAGE streams instead.
  const direct = ctx.rt.config.FEATURE_PROXY_STORAGE ? null : await ctx.rt.blobs.downloadUrl(blob, ctx.rt.config.BLOB_REDIRECT_URL_EXPIRATION_SECONDS);
  if (direct) {
    reply.removeHeader('content-type');
    return reply.code(302).header('location', direct).header('cache-control', 'no-store').header('content-length', 0).send();
  }
  return sendBody(ctx, blob.size, range, await ctx.rt.blobs.open(blob, range ?? undefined));
}

/**
 * A blob's bytes (or `range` of them, 206) as the body. A LocalStorage file or a proxy fill's spool is written to
 * the connection from reused buffers (DirectBody.sendTo: no buffer allocated per chunk, two chunks in flight at
 * most); the reply is then hijacked, onResponse still runs. Anything else (object storage) is piped as a stream.
 */
async function sendBody(ctx: V2Context, size: number, range: ByteRange | null, body: Readable): Promise<void> {
  const { reply } = ctx;
  if (range) {
    reply.code(206);
    reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    reply.header('content-length', range.end - range.start + 1);
  } else {
    reply.header('content-length', size);
  }
  if (!isDirectBody(body)) return reply.send(body);
  reply.hijack();
  const res = reply.raw as ServerResponse | Http2ServerResponse;
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
  res.writeHead(reply.statusCode);
  try {
    await body.sendTo(res instanceof Http2ServerResponse ? http2Sink(res) : res);
  } catch (err) {
    ctx.req.log.warn({ err, digest: ctx.params[0] }, 'blob read failed mid-response; body cut');
  }
}

/**
 * An HTTP/2 response as sendTo's sink: its stream ends and is destroyed. A write's callback comes once the
 * session wrote the DATA frame to the connection, so the buffer may be reused then, as on HTTP/1.
 */
function http2Sink(res: Http2ServerResponse): ByteSink {
  const sink: ByteSink = {
    write: (chunk, cb) => res.write(chunk, cb),
    end: () => void res.end(),
    destroy: (err) => void res.stream.destroy(err),
    once: (event, listener) => (res.once(event, listener), sink),
    removeListener: (event, listener) => (res.removeListener(event, listener), sink),
    get destroyed() {
      return res.stream.destroyed;
    },
  };
  return sink;
}

export async function deleteBlob(ctx: V2Context): Promise<void> {
  const [digest] = ctx.params;
  checkDigest(digest);
  const repo = requireRepo(ctx);
  const outcome = await ctx.rt.blobs.unlink(repo.id, digest);
  if (outcome === 'unknown') throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest } });
  if (outcome === 'referenced') {
    throw new RegistryError('UNSUPPORTED', 'the blob is referenced by a manifest in this repository; delete the manifest first');
  }
  ctx.reply.code(202).header('content-length', 0).send();
}
