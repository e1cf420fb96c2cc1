/** GET /v2/<name>/tags/list with n / last pagination and a Link header. */
import { RegistryError } from '../../errors.js';
import { authorize } from './access.js';
import { repoPath, requireRepo, type V2Context } from './context.js';

/** The `n` page size: absent → `fallback`; invalid → 400; capped at `max`. */
export function pageSize(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid page size n="${value}"`);
  return Math.min(Number(value), max);
}

const MAX_TAGS_PAGE = 10_000;

export async function listTags(ctx: V2Context): Promise<void> {
  await authorize(ctx.rt, ctx.req, ctx.caller, ctx.target, 'pull');
  const repo = requireRepo(ctx);
  const n = pageSize(ctx.query.get('n'), MAX_TAGS_PAGE, MAX_TAGS_PAGE);
  const last = ctx.query.get('last') ?? '';
  const tags = n === 0 ? [] : await ctx.rt.tags.names(repo.id, last, n + 1);
  const more = tags.length > n;
  const page = tags.slice(0, n);
  if (more) ctx.reply.header('link', `<${repoPath(ctx)}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`);
  ctx.reply.send({ name: ctx.target.ref.full, tags: page });
}
