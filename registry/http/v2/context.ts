/** What every distribution API handler receives, and small helpers they share. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { RepoTarget, RepositoryRow } from '../../model/repositories.js';
import { RegistryError } from '../../errors.js';
import type { Caller } from './access.js';

export interface V2Context {
  rt: Runtime;
  req: FastifyRequest;
  reply: FastifyReply;
  caller: Caller;
  /** Set for routes under /v2/<name>/ */
  target: RepoTarget;
  /** The path parts after the repository name (digest, reference, upload id). */
  params: string[];
  query: URLSearchParams;
}

export type V2Handler = (ctx: V2Context) => Promise<void>;

export function requireRepo(ctx: V2Context): RepositoryRow {
  if (!ctx.target.repo) throw new RegistryError('NAME_UNKNOWN', `repository ${ctx.target.ref.full} not found`);
  return ctx.target.repo;
}

/** The repository to push into, created on the first push (the caller was authorised to push). */
export async function pushTarget(ctx: V2Context): Promise<RepositoryRow> {
  await ctx.rt.proxyCache.refusePush(ctx.target.namespace);
  if (ctx.target.repo) return ctx.target.repo;
  const ns = ctx.target.namespace;
  if (!ns) throw new RegistryError('NAME_UNKNOWN', `namespace ${ctx.target.ref.namespace} not found`);
  const visibility = ctx.rt.config.CREATE_PRIVATE_REPO_ON_PUSH ? 'private' : 'public';
  const { repo, created } = await ctx.rt.tenancy.repoPermissions.createRepository(ns, ctx.target.ref.name, { visibility }, ctx.caller.principal);
  if (created) {
    ctx.rt.logs.log({
      kind: 'create_repo',
      performer: ctx.caller.principal,
      namespaceId: ns.id,
      repositoryId: repo.id,
      ip: ctx.req.ip,
      metadata: { repo: repo.name, namespace: ns.name, via: 'push' },
    });
  }
  ctx.target = { ...ctx.target, repo };
  return repo;
}

/** Does the request carry a body? (A Content-Length above zero or a chunked transfer.) */
export function hasBody(req: FastifyRequest): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

export function contentLength(req: FastifyRequest): number | null {
  const len = req.headers['content-length'];
  if (len === undefined) return null;
  const n = Number(len);
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryError('SIZE_INVALID', 'invalid Content-Length');
  return n;
}

export function repoPath(ctx: V2Context): string {
  return `/v2/${ctx.target.ref.full}`;
}
