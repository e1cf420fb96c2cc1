/** GET /v2/ (version check and login probe) and GET /v2/_catalog. */
import { challenge } from './access.js';
import type { V2Context } from './context.js';
import { pageSize } from './tags.js';
import type { Principal } from '../../auth/principal.js';

const MAX_CATALOG_PAGE = 1000;

export async function ping(ctx: V2Context): Promise<void> {
  if (!ctx.caller.authenticated) throw challenge(ctx.rt, ctx.req);
  ctx.reply.send({});
}

/** Token callers carry no superuser flag; the catalog needs it, so it is read fresh. */
async function catalogPrincipal(ctx: V2Context): Promise<Principal> {
  const p = ctx.caller.principal;
  if (p.kind !== 'user') return p;
  const row = await ctx.rt.namespaces.byId(p.id);
  return row && row.enabled ? ctx.rt.auth.userPrincipal(row, p.scopes ? { scopes: p.scopes } : {}) : { kind: 'anonymous' };
}

export async function catalog(ctx: V2Context): Promise<void> {
  const { rt } = ctx;
  const publicAllowed = rt.config.FEATURE_PUBLIC_CATALOG && rt.config.FEATURE_ANONYMOUS_ACCESS;
  if (!ctx.caller.authenticated && !publicAllowed) throw challenge(rt, ctx.req, 'registry:catalog:*');
  const n = pageSize(ctx.query.get('n'), rt.config.V2_PAGINATION_SIZE, MAX_CATALOG_PAGE);
  const last = ctx.query.get('last') ?? '';
  const repos = n === 0 ? [] : await rt.permissions.catalog(await catalogPrincipal(ctx), last, n + 1);
  const page = repos.slice(0, n);
  if (repos.length > n) ctx.reply.header('link', `</v2/_catalog?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`);
  ctx.reply.send({ repositories: page });
}
