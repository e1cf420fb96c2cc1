/**
 * Entity search (`/entities/{prefix}`): the users, robots, teams and organization a name can refer to, as the
 * UI's pickers ask for them when adding team members, repository permissions and default permissions.
 * Search (`/find/all`, `/find/repositories`; Quay: endpoints/api/search.py ConductSearch,
 * ConductRepositorySearch): what the caller may see, in Quay's result shape and score order.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { lazyModule } from '../../lazy.js';
import { Search, repositoryUsage, type RepoHit } from '../../model/search.js';
import { op, typed } from './schema.js';
import { namespaceAvatar, teamAvatar } from './views.js';

const liquidMetal = lazyModule<(typeof import('liquidmetal'))['default']>('liquidmetal');

const MAX_USERS = 10;
/** Quay's per-kind base scores and the number of hits of each kind `/find/all` gathers. */
const ENTITY_SEARCH_SCORE = 1;
const TEAM_SEARCH_SCORE = 2;
const REPOSITORY_SEARCH_SCORE = 4;
const FIND_ALL_PER_KIND = 5;

/** Quay's search_entity_view: a user, organization or robot in search results. */
function entityView(me: string | null, e: Pick<NamespaceRow, 'name' | 'kind' | 'email'>, withShortName = false) {
  if (e.kind === 'org') return { title: 'org', kind: 'organization', avatar: namespaceAvatar(e), name: e.name, score: ENTITY_SEARCH_SCORE, href: `/organization/${e.name}` };
  if (e.kind === 'robot') {
    const [owner, short] = [e.name.slice(0, e.name.indexOf('+')), e.name.slice(e.name.indexOf('+') + 1)];
    const href = owner === me ? `/user/${me}?tab=robots&showRobot=${e.name}` : `/organization/${owner}?tab=robots&showRobot=${e.name}`;
    return { title: 'robot', kind: 'robot', avatar: null, name: e.name, score: ENTITY_SEARCH_SCORE, href, ...(withShortName ? { short_name: short } : {}) };
  }
  return { title: 'user', kind: 'user', avatar: namespaceAvatar(e), name: e.name, score: ENTITY_SEARCH_SCORE, href: `/user/${e.name}` };
}

/** Quay's repo_result_view. */
function repoView(me: string | null, r: RepoHit, usage?: { last_modified: number | null; stars: number; popularity: number }) {
  return {
    kind: 'repository',
    title: 'repo',
    namespace: entityView(me, r.namespace),
    name: r.name,
    description: r.description,
    is_public: r.visibility === 'public',
    score: REPOSITORY_SEARCH_SCORE,
    href: `/repository/${r.namespace.name}/${r.name}`,
    ...(usage ? { ...(usage.last_modified !== null ? { last_modified: usage.last_modified } : {}), stars: usage.stars, popularity: usage.popularity } : {}),
  };
}

export async function searchRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const search = new Search(rt.db, rt.permissions);
  const perPage = rt.config.SEARCH_RESULTS_PER_PAGE;

  typed(base).get(
    '/find/all',
    {
      schema: {
        ...op('conductSearch', 'search', 'Get a list of entities and resources that match the specified query.', 'repo:read'),
        querystring: Type.Object({ query: Type.String({ default: '', description: 'The search query.' }) }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const query = req.query.query;
      if (!query) return { results: [] };
      const p = req.principal;
      const user = p.kind === 'user' ? await rt.namespaces.byId(p.id) : null;
      const me = user?.name ?? null;
      const results: Record<string, unknown>[] = [];
      if (user) {
        for (const t of await search.teams(user, query, FIND_ALL_PER_KIND)) {
          results.push({
            kind: 'team',
            name: t.name,
            organization: entityView(me, t.org),
            avatar: teamAvatar(t.name),
            score: TEAM_SEARCH_SCORE,
            href: `/organization/${t.org.name}/teams/${t.name}`,
          });
        }
        for (const r of await search.robots(user, query, FIND_ALL_PER_KIND)) results.push(entityView(me, r, true));
      }
      for (const r of await search.repositories(p, query, 0, FIND_ALL_PER_KIND)) results.push(repoView(me, r));
      for (const n of await search.namespaces(p, query, FIND_ALL_PER_KIND)) results.push(entityView(me, n));
      // Closer names rank higher: Quay scales each score by the LiquidMetal match of the name (0.5 when none).
      for (const r of results) r.score = (r.score as number) * (liquidMetal().score(String(r.short_name ?? r.name), query) || 0.5);
      return { results: results.sort((a, b) => (b.score as number) - (a.score as number)) };
    },
  );

  typed(base).get(
    '/find/repositories',
    {
      schema: {
        ...op('conductRepoSearch', 'search', 'Get a list of apps and repositories that match the specified query.'),
        querystring: Type.Object({
          query: Type.String({ default: '', description: 'The search query.' }),
          page: Type.Integer({ default: 1, description: 'The page.' }),
          includeUsage: Type.Boolean({ default: false, description: 'Whether to include usage metadata' }),
        }),
      },
    },
    async (req) => {
      const { query, includeUsage } = req.query;
      const page = Math.min(Math.max(1, req.query.page), rt.config.SEARCH_MAX_RESULT_PAGE_COUNT);
      const offset = (page - 1) * perPage;
      const p = req.principal;
      const me = p.kind === 'user' ? p.name : null;
      const hits = await search.repositories(p, query, offset, perPage + 1);
      const shown = hits.slice(0, perPage);
      const usage = includeUsage
        ? await repositoryUsage(
            rt.db,
            shown.map((h) => h.id),
          )
        : null;
      return {
        results: shown.map((h) => repoView(me, h, usage?.get(h.id))),
        has_additional: hits.length > perPage,
        page,
        page_size: perPage,
        start_index: offset,
      };
    },
  );

  typed(base).get(
    '/entities/:prefix',
    {
      schema: {
        ...op('getMatchingEntities', 'search', 'Get a list of entities that match the specified prefix.'),
        params: Type.Object({ prefix: Type.String({ description: 'The prefix of the entities being looked up' }) }),
        querystring: Type.Object({
          namespace: Type.String({ default: '', description: 'Namespace to use when querying for org entities.' }),
          includeTeams: Type.Boolean({ default: false, description: 'Whether to include team names.' }),
          includeOrgs: Type.Boolean({ default: false, description: 'Whether to include orgs names.' }),
        }),
      },
    },
    async (req) => {
      const prefix = req.params.prefix.replace(/\s/g, '').toLowerCase();
      const { namespace, includeTeams, includeOrgs } = req.query;
      const p = req.principal;
      const ns = namespace ? await rt.namespaces.byName(namespace) : null;
      let org: NamespaceRow | null = null;
      // Robots are offered from the namespace the caller works in: an organization it belongs to, or its own.
      let robotOwner: NamespaceRow | null = null;
      const results: Record<string, unknown>[] = [];
      if (ns?.kind === 'org') {
        org = ns;
        if (await rt.permissions.isOrgMember(p, ns)) {
          robotOwner = ns;
          if (includeTeams) {
            for (const t of await rt.tenancy.teams.matching(ns, prefix)) results.push({ name: t.name, kind: 'team', is_org_member: true, avatar: teamAvatar(t.name) });
          }
        }
      } else if (ns?.kind === 'user' && p.kind === 'user' && p.id === ns.id && (await rt.permissions.canAdminNamespace(p, ns))) {
        robotOwner = ns;
      }
      for (const u of await rt.tenancy.users.matching(prefix, robotOwner, org, MAX_USERS)) {
        results.push({
          name: u.name,
          kind: 'user',
          is_robot: u.kind === 'robot',
          avatar: namespaceAvatar(u),
          ...(org ? { is_org_member: u.kind === 'robot' || u.in_org } : {}),
        });
      }
      if (org && includeOrgs && org.name.startsWith(prefix) && (await rt.permissions.canAdminNamespace(p, org))) {
        results.push({ name: org.name, kind: 'org', is_org_member: true, avatar: namespaceAvatar(org) });
      }
      return { results };
    },
  );
}
