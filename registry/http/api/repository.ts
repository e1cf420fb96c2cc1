/** Repositories: create, list (Quay's filters and opaque paging), view, describe, change visibility, delete. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { atLeast } from '../../auth/permissions.js';
import { ApiError, badRequest, detailError } from './errors.js';
import { REPOSITORY_STATES, type RepositoryState } from '../../model/write_gate.js';
import { parseRepoParam, repoParamsWithRole, requireUser, unauthorizedFor } from './auth.js';
import { RepoParams, op, typed } from './schema.js';
import { formatDate } from './views.js';

const REPOS_PER_PAGE = 100;
const PAGE_TTL_S = 2 * 86400;
const MAX_TAGS_IN_VIEW = 500;
/** Days of `stats` (usage per day) in a repository view: about three months, as Quay shows. */
const STATS_DAYS = 90;

const Visibility = Type.Union([Type.Literal('public'), Type.Literal('private')], { description: 'Visibility which the repository will start with' });

export async function repositoryRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'repository';
  const full = (p: { namespace: string; repository: string }) => `${p.namespace}/${p.repository}`;

  app.post(
    '/repository',
    {
      schema: {
        ...op('createRepo', tag, 'Create a new repository.', 'repo:create'),
        body: Type.Object({
          repository: Type.String({ minLength: 1, description: 'Repository name' }),
          visibility: Visibility,
          namespace: Type.Optional(Type.String({ description: 'Namespace in which the repository should be created. If omitted, the username of the caller is used' })),
          description: Type.String({ description: 'Markdown encoded description for the repository' }),
          repo_kind: Type.Optional(Type.Union([Type.Literal('image'), Type.Null()], { description: 'The kind of repository' })),
        }),
      },
      config: { scope: 'repo:create' },
    },
    async (req, reply) => {
      const user = requireUser(req);
      const { repository, visibility, description } = req.body;
      const namespaceName = req.body.namespace ?? user.name;
      const ref = parseRepoParam(rt, `${namespaceName}/${repository}`);
      const ns = await rt.namespaces.byName(namespaceName);
      if (!(await rt.permissions.canCreateIn(req.principal, ns))) throw unauthorizedFor(req.principal);
      const { repo, created } = await rt.tenancy.repoPermissions.createRepository(ns!, ref.name, { visibility, description }, req.principal);
      if (!created) throw badRequest('Repository already exists');
      rt.logs.repoAction('create_repo', req.principal, req.ip, repo, ns!.name);
      reply.code(201);
      return { namespace: ns!.name, name: repo.name, kind: repo.kind };
    },
  );

  app.get(
    '/repository',
    {
      schema: {
        ...op('listRepos', tag, 'Fetch the list of repositories visible to the current user under a variety of situations.', 'repo:read'),
        querystring: Type.Object({
          next_page: Type.Optional(Type.String({ description: 'The page token for the next page' })),
          repo_kind: Type.Optional(Type.String({ default: 'image', description: 'The kind of repositories to return' })),
          popularity: Type.Optional(Type.Boolean({ description: "Whether to include the repository's popularity metric." })),
          last_modified: Type.Optional(Type.Boolean({ description: 'Whether to include when the repository was last modified.' })),
          public: Type.Optional(Type.Boolean({ description: 'Adds any repositories visible to the user by virtue of being public' })),
          starred: Type.Optional(Type.Boolean({ description: 'Filters the repositories returned to those starred by the user' })),
          namespace: Type.Optional(Type.String({ description: 'Filters the repositories returned to this namespace' })),
        }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const q = req.query;
      if (!q.namespace && !q.starred && !q.public) throw badRequest('namespace, starred or public are required for this API call');
      if (q.starred && req.principal.kind !== 'user') throw new ApiError(401, 'invalid_token', 'Requires authentication');
      const after = q.next_page ? rt.tenancy.pages.openJson<{ start_id: number }>(q.next_page) : { start_id: 0 };
      if (!after) throw badRequest('Invalid or expired next_page token');
      let namespaceId: number | undefined;
      if (q.namespace) {
        const ns = await rt.namespaces.byName(q.namespace);
        if (!ns) return { repositories: [] };
        namespaceId = ns.id;
      }
      const rows = await rt.tenancy.repoViews.list(req.principal, {
        namespaceId,
        starredBy: q.starred && req.principal.kind === 'user' ? req.principal.id : undefined,
        includePublic: Boolean(q.public),
        lastModified: Boolean(q.last_modified),
        popularity: Boolean(q.popularity),
        afterId: after.start_id,
        limit: REPOS_PER_PAGE,
      });
      const page = rows.slice(0, REPOS_PER_PAGE);
      const quota = rt.config.FEATURE_QUOTA_MANAGEMENT && rt.config.FEATURE_EDIT_QUOTA ? await rt.quotas.repositoryReports(page.map((r) => r.id)) : null;
      return {
        repositories: page.map((r) => ({
          namespace: r.namespace,
          name: r.name,
          description: r.description,
          is_public: r.visibility === 'public',
          kind: r.kind,
          state: r.state,
          is_starred: r.is_starred,
          ...(q.last_modified ? { last_modified: r.last_modified } : {}),
          ...(q.popularity ? { popularity: r.popularity } : {}),
          ...(quota ? { quota_report: quota.get(r.id) } : {}),
        })),
        ...(rows.length > REPOS_PER_PAGE ? { next_page: rt.tenancy.pages.sealJson({ start_id: page[page.length - 1].id }, PAGE_TTL_S) } : {}),
      };
    },
  );

  app.get(
    '/repository/:namespace/:repository',
    {
      schema: {
        ...op('getRepo', tag, 'Fetch the specified repository.', 'repo:read'),
        params: RepoParams,
        querystring: Type.Object({
          includeTags: Type.Optional(Type.Boolean({ default: true, description: 'Whether to include repository tags' })),
          includeStats: Type.Optional(Type.Boolean({ default: false, description: 'Whether to include action statistics' })),
        }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { repo, namespace } = await repoParamsWithRole(rt, req, req.params, 'read');
      const role = await rt.permissions.repositoryRole(req.principal, { ref: parseRepoParam(rt, full(req.params)), namespace, repo });
      const starred = req.principal.kind === 'user' ? await rt.tenancy.repoViews.isStarred(req.principal.id, repo.id) : false;
      const view: Record<string, unknown> = {
        namespace: namespace.name,
        name: repo.name,
        kind: repo.kind,
        description: repo.description,
        is_public: repo.visibility === 'public',
        is_organization: namespace.kind === 'org',
        is_starred: starred,
        // Quay: the badge token for private repositories; a public one's badge needs none.
        status_token: repo.visibility === 'public' ? '' : repo.badge_token,
        trust_enabled: false,
        tag_expiration_s: namespace.removed_tag_expiration_s,
        is_free_account: true,
        state: repo.state,
        // Only a NORMAL repository can be written to through the API (not READ_ONLY or MIRROR).
        can_write: atLeast(role, 'write') && repo.state === 'NORMAL',
        can_admin: atLeast(role, 'admin'),
      };
      if (req.query.includeTags !== false) {
        const tags = await rt.tenancy.repoViews.liveTags(repo.id, MAX_TAGS_IN_VIEW);
        view.tags = Object.fromEntries(
          tags.map((t) => [
            t.name,
            {
              name: t.name,
              size: t.size,
              last_modified: formatDate(new Date(Number(t.start_ms))),
              manifest_digest: t.digest,
              ...(t.end_ms ? { expiration: formatDate(new Date(Number(t.end_ms))) } : {}),
            },
          ]),
        );
      }
      if (req.query.includeStats) view.stats = await rt.tenancy.repoViews.dailyActions(repo.id, STATS_DAYS);
      return view;
    },
  );

  app.put(
    '/repository/:namespace/:repository',
    {
      schema: {
        ...op('updateRepo', tag, 'Update the description in the specified repository.', 'repo:write'),
        params: RepoParams,
        body: Type.Object({ description: Type.String({ description: 'Markdown encoded description for the repository' }) }),
      },
      config: { scope: 'repo:write' },
    },
    async (req) => {
      const { repo, namespace } = await repoParamsWithRole(rt, req, req.params, 'write');
      await rt.tenancy.repoViews.setDescription(repo.id, req.body.description);
      rt.logs.repoAction('set_repo_description', req.principal, req.ip, repo, namespace.name, { description: req.body.description });
      return { success: true };
    },
  );

  app.delete(
    '/repository/:namespace/:repository',
    { schema: { ...op('deleteRepository', tag, 'Delete a repository.', 'repo:admin'), params: RepoParams }, config: { scope: 'repo:admin' } },
    async (req, reply) => {
      const { repo, namespace } = await repoParamsWithRole(rt, req, req.params, 'admin');
      await rt.tenancy.repoViews.deleteRepository(repo.id);
      rt.logs.log({ kind: 'delete_repo', performer: req.principal, namespaceId: namespace.id, ip: req.ip, metadata: { repo: repo.name, namespace: namespace.name } });
      return reply.code(204).send();
    },
  );

  app.post(
    '/repository/:namespace/:repository/changevisibility',
    {
      schema: { ...op('changeRepoVisibility', tag, 'Change the visibility of a repository.', 'repo:admin'), params: RepoParams, body: Type.Object({ visibility: Visibility }) },
      config: { scope: 'repo:admin' },
    },
    async (req) => {
      const { repo, namespace } = await repoParamsWithRole(rt, req, req.params, 'admin');
      await rt.tenancy.repoViews.setVisibility(repo.id, req.body.visibility);
      rt.logs.repoAction('change_repo_visibility', req.principal, req.ip, repo, namespace.name, { visibility: req.body.visibility });
      return { success: true };
    },
  );

  app.put(
    '/repository/:namespace/:repository/changestate',
    {
      schema: {
        ...op('changeRepoState', tag, 'Change the state of a repository.', 'repo:admin'),
        params: RepoParams,
        body: Type.Object(
          {
            state: Type.Union(
              REPOSITORY_STATES.map((s) => Type.Literal(s)),
              { description: 'Determines whether pushes are allowed.' },
            ),
          },
          { description: 'Change the state of the repository.' },
        ),
      },
      config: { scope: 'repo:admin' },
    },
    async (req) => {
      const { repo, namespace } = await repoParamsWithRole(rt, req, req.params, 'admin');
      const state: RepositoryState = req.body.state;
      if (state === 'MIRROR' && !rt.config.FEATURE_REPO_MIRROR) throw detailError(400, `Unknown Repository State: ${state}`);
      await rt.writeGate.setState(repo.id, state);
      rt.logs.repoAction('change_repo_state', req.principal, req.ip, repo, namespace.name, { state_changed: state });
      return { success: true };
    },
  );
}
