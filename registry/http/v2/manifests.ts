/** Manifest endpoints: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<tag-or-digest>. */
import { looksLikeDigest, parseDigest } from '../../oci/digest.js';
import { validTag } from '../../oci/names.js';
import { RegistryError } from '../../errors.js';
import { MAX_MANIFEST_BYTES } from '../../model/manifests.js';
import { authContextMetadata } from '../../model/logs.js';
import { pushTarget, repoPath, requireRepo, type V2Context } from './context.js';

/** Check the syntax of a tag-or-digest reference. */
function checkReference(reference: string): void {
  if (looksLikeDigest(reference)) {
    try {
      parseDigest(reference);
    } catch (e) {
      throw new RegistryError('DIGEST_INVALID', (e as Error).message);
    }
  } else if (!validTag(reference)) {
    throw new RegistryError('TAG_INVALID', `invalid tag "${reference}"`);
  }
}

export async function getManifest(ctx: V2Context): Promise<void> {
  const [reference] = ctx.params;
  checkReference(reference);
  const proxied = await ctx.rt.proxyCache.pullManifest(ctx.target, reference, ctx.caller.principal);
  const repo = proxied?.repo ?? requireRepo(ctx);
  const m = proxied ? proxied.manifest : await ctx.rt.manifests.resolve(repo.id, reference, repo.tag_version);
  if (!m) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { detail: { reference } });
  const { reply } = ctx;
  reply.header('docker-content-digest', m.digest);
  reply.header('etag', `"${m.digest}"`);
  reply.header('content-type', m.media_type);
  reply.header('content-length', m.size);
  if (ctx.req.headers['if-none-match']?.split(',').some((v) => v.trim().replace(/^W\//, '').replace(/"/g, '') === m.digest)) {
    return reply.code(304).send();
  }
  if (ctx.req.method === 'HEAD') return reply.send();
  ctx.rt.logs.log({
    kind: 'pull_repo',
    performer: ctx.caller.principal,
    namespaceId: repo.namespace_id,
    repositoryId: repo.id,
    ip: ctx.req.ip,
    metadata: {
      repo: repo.name,
      namespace: ctx.target.ref.namespace,
      'user-agent': ctx.req.headers['user-agent'] ?? '',
      ...authContextMetadata(ctx.caller.principal),
      ...(looksLikeDigest(reference) ? { manifest_digest: m.digest } : { tag: reference, manifest_digest: m.digest }),
    },
  });
  return reply.send(m.bytes);
}

/** Read the manifest body, refusing (413) anything above the limit without buffering it. */
async function readManifestBody(ctx: V2Context): Promise<Buffer> {
  const declared = Number(ctx.req.headers['content-length'] ?? 0);
  const tooLarge = () => new RegistryError('MANIFEST_INVALID', `manifest is larger than the ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB limit`, { status: 413 });
  if (declared > MAX_MANIFEST_BYTES) {
    ctx.req.raw.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req.raw) {
    total += (chunk as Buffer).length;
    if (total > MAX_MANIFEST_BYTES) {
      ctx.req.raw.resume();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

export async function putManifest(ctx: V2Context): Promise<void> {
  const [reference] = ctx.params;
  const { rt } = ctx;
  checkReference(reference);
  const extraTags = ctx.query.getAll('tag');
  const body = await readManifestBody(ctx);
  const repo = await pushTarget(ctx);
  const result = await rt.manifests.put(repo.id, reference, body, ctx.req.headers['content-type'], extraTags, ctx.caller.principal, { sparse: rt.config.FEATURE_SPARSE_INDEX });
  await rt.repositories.changed(ctx.target.ref, !result.changedExistingTags);
  rt.logs.log({
    kind: 'push_repo',
    performer: ctx.caller.principal,
    namespaceId: repo.namespace_id,
    repositoryId: repo.id,
    ip: ctx.req.ip,
    metadata: {
      repo: repo.name,
      namespace: ctx.target.ref.namespace,
      'user-agent': ctx.req.headers['user-agent'] ?? '',
      ...authContextMetadata(ctx.caller.principal),
      manifest_digest: result.digest,
      ...(result.tags.length ? { tag: result.tags.join(',') } : {}),
    },
  });
  const { reply } = ctx;
  reply.code(201);
  reply.header('location', `${repoPath(ctx)}/manifests/${result.digest}`);
  reply.header('docker-content-digest', result.digest);
  reply.header('content-length', 0);
  if (result.subject && rt.config.FEATURE_REFERRERS_API) reply.header('oci-subject', result.subject);
  if (extraTags.length > 0) reply.header('oci-tag', extraTags.join(', '));
  reply.send();
}

export async function deleteManifest(ctx: V2Context): Promise<void> {
  const [reference] = ctx.params;
  const { rt } = ctx;
  const repo = requireRepo(ctx);
  checkReference(reference);
  let ended: string[];
  if (looksLikeDigest(reference)) {
    const r = await rt.manifests.deleteByDigest(repo.id, reference);
    if (r === null) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { detail: { reference } });
    ended = r;
  } else {
    if (!(await rt.tags.delete(repo.id, reference))) throw new RegistryError('MANIFEST_UNKNOWN', 'tag unknown', { detail: { reference } });
    ended = [reference];
  }
  await rt.repositories.changed(ctx.target.ref);
  for (const tag of ended) {
    rt.logs.log({
      kind: 'delete_tag',
      performer: ctx.caller.principal,
      namespaceId: repo.namespace_id,
      repositoryId: repo.id,
      ip: ctx.req.ip,
      metadata: { repo: repo.name, namespace: ctx.target.ref.namespace, tag },
    });
  }
  if (looksLikeDigest(reference)) {
    rt.logs.log({
      kind: 'delete_manifest',
      performer: ctx.caller.principal,
      namespaceId: repo.namespace_id,
      repositoryId: repo.id,
      ip: ctx.req.ip,
      metadata: { repo: repo.name, namespace: ctx.target.ref.namespace, manifest_digest: reference },
    });
  }
  ctx.reply.code(202).header('content-length', 0).send();
}
