/**
 * Upload endpoints: POST /v2/<name>/blobs/uploads/ (session, single POST, mount) and
 * GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>.
 */
import { isSupportedAlgorithm, parseDigest, type DigestAlgorithm } from '../../oci/digest.js';
import { parseRepositoryPath, NameError } from '../../oci/names.js';
import { RegistryError } from '../../errors.js';
import type { ChunkInput, ChunkRange, UploadRow } from '../../model/uploads.js';
import type { BlobRow } from '../../model/blobs.js';
import { grantedActions } from './access.js';
import { contentLength, hasBody, pushTarget, repoPath, requireRepo, type V2Context } from './context.js';
import { DomainError, NotFound } from '../../model/errors.js';
import { toRegistryError } from './errors.js';

function uploadLocation(ctx: V2Context, id: string): string {
  return `${repoPath(ctx)}/blobs/uploads/${id}`;
}

/** `Range: 0-<last byte>` as the spec writes it (inclusive, no unit). */
function rangeHeader(u: UploadRow): string {
  return `0-${Math.max(0, u.byte_count - 1)}`;
}

function sendSession(ctx: V2Context, u: UploadRow, status: 202 | 204): void {
  ctx.reply.code(status).header('location', uploadLocation(ctx, u.id)).header('range', rangeHeader(u)).header('docker-upload-uuid', u.id).header('content-length', 0).send();
}

function sendBlobCreated(ctx: V2Context, blob: BlobRow): void {
  ctx.reply
    .code(201)
    .header('location', `${repoPath(ctx)}/blobs/${blob.digest}`)
    .header('docker-content-digest', blob.digest)
    .header('content-length', 0)
    .send();
}

function parseContentRange(value: string | undefined): ChunkRange | null {
  if (value === undefined) return null;
  const m = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', `invalid Content-Range "${value}"`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

function chunkOf(ctx: V2Context): ChunkInput {
  return { body: ctx.req.raw, range: parseContentRange(ctx.req.headers['content-range']), length: contentLength(ctx.req) };
}

/** Run an upload step; a 416 carries the session's current state so the client can recover. */
async function withRecovery<T>(ctx: V2Context, u: UploadRow, step: () => Promise<T>): Promise<T> {
  const timer = ctx.rt.metrics.uploadDuration.startTimer();
  try {
    return await step();
  } catch (err) {
    const mapped = err instanceof DomainError ? toRegistryError(err) : err;
    if (mapped instanceof RegistryError && mapped.code === 'RANGE_INVALID') {
      const current = await ctx.rt.uploads.get(u.repository_id, u.id).catch(() => u);
      throw new RegistryError('RANGE_INVALID', mapped.message, {
        headers: { location: uploadLocation(ctx, u.id), range: rangeHeader(current), 'docker-upload-uuid': u.id },
      });
    }
    throw err;
  } finally {
    timer();
  }
}

/** The repositories a blob may be mounted from: `from` when given and readable, else any readable one holding it. */
async function mountSources(ctx: V2Context, repoId: number, digest: string): Promise<number[]> {
  const { rt } = ctx;
  const from = ctx.query.get('from');
  if (from) {
    let ref;
    try {
      ref = parseRepositoryPath(from, {
        libraryNamespace: rt.config.FEATURE_LIBRARY_SUPPORT ? rt.config.LIBRARY_NAMESPACE : null,
        extendedNames: rt.config.FEATURE_EXTENDED_REPOSITORY_NAMES,
      });
    } catch (e) {
      if (e instanceof NameError) return [];
      throw e;
    }
    const source = await rt.repositories.lookup(ref);
    return source.repo && (await grantedActions(rt, ctx.caller, source, ['pull'])).has('pull') ? [source.repo.id] : [];
  }
  const sources: number[] = [];
  for (const id of await rt.blobs.repositoriesHolding(digest, 20)) {
    const repo = id === repoId ? null : await rt.repositories.byId(id);
    const ns = repo && (await rt.namespaces.byId(repo.namespace_id));
    if (!repo || !ns) continue;
    const target = { ref: { namespace: ns.name, name: repo.name, full: `${ns.name}/${repo.name}` }, namespace: ns, repo };
    // With a bearer token, the token itself must grant pull on the source (not only the database).
    if ((await grantedActions(rt, ctx.caller, target, ['pull'])).has('pull')) sources.push(id);
  }
  return sources;
}

/** Try a cross-repository mount; null when it cannot be done (the client then uploads normally). */
async function tryMount(ctx: V2Context, repoId: number, digest: string): Promise<BlobRow | null> {
  try {
    parseDigest(digest);
  } catch {
    return null;
  }
  // Already here: renew the repository's temporary reference, so GC keeps the blob until the manifest lands.
  const own = await ctx.rt.blobs.mount([repoId], repoId, digest);
  if (own) return own;
  const sources = await mountSources(ctx, repoId, digest);
  return sources.length > 0 ? ctx.rt.blobs.mount(sources, repoId, digest) : null;
}

export async function startUpload(ctx: V2Context): Promise<void> {
  const { rt } = ctx;
  const repo = await pushTarget(ctx);
  await rt.quotas.checkUploadAllowed(repo.namespace_id);
  const mount = ctx.query.get('mount');
  if (mount) {
    const blob = await tryMount(ctx, repo.id, mount);
    if (blob) return sendBlobCreated(ctx, blob);
  }
  const algorithmParam = ctx.query.get('digest-algorithm');
  let algorithm: DigestAlgorithm = 'sha256';
  if (algorithmParam !== null) {
    if (!isSupportedAlgorithm(algorithmParam)) throw new RegistryError('UNSUPPORTED', `unsupported digest algorithm "${algorithmParam}"`, { status: 400 });
    algorithm = algorithmParam;
  }
  const digest = ctx.query.get('digest');
  if (digest !== null) {
    // Single-request monolithic push.
    const u = await rt.uploads.start(repo.id, parseDigestAlgorithm(digest) ?? algorithm);
    await checkQuota(ctx, repo.namespace_id, u);
    const blob = await withRecovery(ctx, u, () => rt.uploads.finish(u, digest, hasBody(ctx.req) ? chunkOf(ctx) : null));
    return sendBlobCreated(ctx, blob);
  }
  const u = await rt.uploads.start(repo.id, algorithm);
  sendSession(ctx, u, 202);
}

function parseDigestAlgorithm(digest: string): DigestAlgorithm | null {
  const alg = digest.split(':')[0];
  return isSupportedAlgorithm(alg) ? alg : null;
}

async function session(ctx: V2Context): Promise<UploadRow> {
  const repo = requireRepo(ctx);
  return ctx.rt.uploads.get(repo.id, ctx.params[0]);
}

export async function uploadStatus(ctx: V2Context): Promise<void> {
  sendSession(ctx, await session(ctx), 204);
}

/** Quota of uploads in progress: a session that would pass a Reject limit is refused and dropped (its bytes freed). */
async function checkQuota(ctx: V2Context, namespaceId: number, u: UploadRow): Promise<void> {
  try {
    await ctx.rt.quotas.checkUploadProgress(namespaceId, hasBody(ctx.req) ? (contentLength(ctx.req) ?? 0) : 0);
  } catch (err) {
    await ctx.rt.uploads.cancel(u);
    throw err;
  }
}

export async function patchUpload(ctx: V2Context): Promise<void> {
  const u = await session(ctx);
  await checkQuota(ctx, requireRepo(ctx).namespace_id, u);
  const next = await withRecovery(ctx, u, () => ctx.rt.uploads.append(u, chunkOf(ctx)));
  ctx.rt.metrics.bytesReceived.inc(next.byte_count - u.byte_count);
  sendSession(ctx, next, 202);
}

/**
 * The last PUT of a session that is no longer open: when it names the digest the session was finished with
 * (a load balancer resending it after the replica that published died before answering), the same 201.
 */
async function answerFinished(ctx: V2Context, err: unknown, digest: string | null): Promise<void> {
  if (!(err instanceof NotFound && err.what === 'upload') || !digest) throw err;
  const blob = await ctx.rt.uploads.finishedBlob(requireRepo(ctx).id, ctx.params[0], digest);
  if (!blob) throw err;
  ctx.req.raw.resume();
  sendBlobCreated(ctx, blob);
}

export async function putUpload(ctx: V2Context): Promise<void> {
  const digest = ctx.query.get('digest');
  let u: UploadRow;
  try {
    u = await session(ctx);
  } catch (err) {
    return answerFinished(ctx, err, digest);
  }
  if (!digest) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
  await checkQuota(ctx, requireRepo(ctx).namespace_id, u);
  const before = u.byte_count;
  let blob: BlobRow;
  try {
    blob = await withRecovery(ctx, u, () => ctx.rt.uploads.finish(u, digest, hasBody(ctx.req) ? chunkOf(ctx) : null));
  } catch (err) {
    // Another request finished the session meanwhile (the same PUT resent while the first was still running).
    return answerFinished(ctx, err, digest);
  }
  ctx.rt.metrics.bytesReceived.inc(blob.size - before);
  sendBlobCreated(ctx, blob);
}

export async function cancelUpload(ctx: V2Context): Promise<void> {
  const u = await session(ctx);
  await ctx.rt.uploads.cancel(u);
  ctx.reply.code(204).send();
}
