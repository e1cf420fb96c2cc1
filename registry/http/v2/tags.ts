/** GET /v2/<name>/tags/list with n / last pagination and a Link header. */
import { RegistryError } from '../../errors.js';
import { repoPath, requireRepo, type V2Context } from './context.js';

/** The `n` page size: absent → `fallback`; invalid → 400; capped at `max`. */
export function pageSize(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid page size n="${value}"`);
  return Math.min(Number(value), max);
}

const MAX_TAGS_PAGE = 10_000;

export async function listTags(ctx: V2Context): Promise<void> {
  const repo = requireRepo(ctx);
  const n = pageSize(ctx.query.get('n'), MAX_TAGS_PAGE, MAX_TAGS_PAGE);
  const last = ctx.query.get('last') ?? '';
  const page = n === 0 ? { json: '[]', more: false, last: null } : await ctx.rt.tags.page(repo.id, last, n);
  if (page.more) ctx.reply.header('link', `<${repoPath(ctx)}/tags/list?n=${n}&last=${encodeURIComponent(page.last ?? '')}>; rel="next"`);
  ctx.reply.header('content-type', 'application/json; charset=utf-8');
  ctx.reply.send(`{"name":${JSON.stringify(ctx.target.ref.full)},"tags":${page.json}}`);
}
