/**
 * Repository builds (Quay: endpoints/api/build.py): request a build from an uploaded pack or an archive
 * URL, list builds, read one, its status and its logs, cancel it. Trigger runs (`…/trigger/{uuid}/start`)
 * and a trigger's builds (`…/trigger/{uuid}/builds`) are here too, as they answer Build objects.
 * The checks of a build request are model/build_requests.ts's; the build itself is model/builds.ts's.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { atLeast, type Role } from '../../auth/permissions.js';
import type { BuildRow } from '../../model/builds.js';
import type { BuildRepository } from '../../model/build_requests.js';
import { triggerView } from '../../model/triggers.js';
import { userfileUrl } from '../../model/userfiles.js';
import { formatDate } from './views.js';
import { repoParamsWithRole, requireSuperuserRead, unauthorizedFor } from './auth.js';
import { badRequest, notFound } from './errors.js';
import { op, RepoParams, sendJsonString, typed } from './schema.js';
import { pullRobotFor, TriggerParams, triggerFor, writable } from './trigger.js';

const tag = 'build';
const BuildParams = Type.Composite([RepoParams, Type.Object({ build_uuid: Type.String({ description: 'The UUID of the build' }) })]);
type RepoP = { namespace: string; repository: string };

const BuildRequest = Type.Object(
  {
    file_id: Type.Optional(Type.String({ description: 'The file id that was generated when the build spec was uploaded' })),
    archive_url: Type.Optional(Type.String({ maxLength: 2048, description: 'The URL of the .tar.gz to build. Must start with "http" or "https".' })),
    subdirectory: Type.Optional(Type.String({ maxLength: 1024, description: 'Subdirectory in which the Dockerfile can be found. You can only specify this or dockerfile_path' })),
    dockerfile_path: Type.Optional(Type.String({ maxLength: 1024, description: 'Path to a dockerfile. You can only specify this or subdirectory.' })),
    context: Type.Optional(Type.String({ maxLength: 1024, description: 'Pass in the context for the dockerfile. This is optional.' })),
    pull_robot: Type.Optional(Type.String({ description: 'Username of a Quay robot account to use as pull credentials' })),
    docker_tags: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        maxItems: 100,
        uniqueItems: true,
        description: 'The tags to which the built images will be pushed. If none specified, "latest" is used.',
      }),
    ),
  },
  { description: 'Description of a new repository build.' },
);

/** A build-history page token: repository, the `since` it was asked with, the last build shown. */
interface BuildPageCursor {
  r: number;
  s: number | null;
  a: { started: string; id: number };
}
const BUILD_PAGE_TTL_S = 3600;

const RunParameters = Type.Object(
  {
    branch_name: Type.Optional(Type.String({ maxLength: 255, description: '(SCM only) If specified, the name of the branch to build.' })),
    commit_sha: Type.Optional(Type.String({ maxLength: 64, description: '(Custom Only) If specified, the ref/SHA1 used to checkout a git repository.' })),
    refs: Type.Optional(
      Type.Union([Type.Object({ kind: Type.Union([Type.Literal('branch'), Type.Literal('tag')]), name: Type.String({ maxLength: 255 }) }), Type.Null()], {
        description: '(SCM Only) If specified, the ref to build.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Optional run parameters for activating the build trigger' },
);

/** The repository's row as build requests need it. */
const buildRepository = (t: { repo: { id: number; namespace_id: number; name: string }; namespace: { name: string } }): BuildRepository => ({
  id: t.repo.id,
  namespace_id: t.repo.namespace_id,
  namespace: t.namespace.name,
  name: t.repo.name,
});

export async function buildRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);

  /** Quay's build_status_view, with the caller's roles on the build's repository. */
  async function buildView(build: BuildRow, role: Role | null): Promise<Record<string, unknown>> {
    const canRead = atLeast(role, 'read');
    const canWrite = atLeast(role, 'write');
    const canAdmin = atLeast(role, 'admin');
    let phase: string = build.phase;
    if (phase === 'internalerror') {
      // Quay shows `expired` for an internal error that will not be retried.
      const r = build.queue_id === null ? [] : (await rt.db.query<{ retries_remaining: number }>('SELECT retries_remaining FROM queue_item WHERE id = $1', [build.queue_id])).rows;
      if (r.length === 0 || r[0].retries_remaining <= 0) phase = 'expired';
    }
    const trigger = build.trigger_uuid ? await rt.triggers.get(build.repository_id, build.trigger_uuid) : null;
    const view: Record<string, unknown> = {
      id: build.uuid,
      phase,
      started: formatDate(build.started),
      display_name: build.display_name,
      status: {},
      subdirectory: build.job_config.build_subdir ?? '',
      dockerfile_path: build.job_config.build_subdir ?? '',
      context: build.job_config.context ?? '',
      tags: build.job_config.docker_tags ?? [],
      manual_user: build.job_config.manual_user ?? null,
      is_writer: canWrite,
      trigger: trigger ? triggerView(trigger, { canAdmin, canRead, forBuild: true }, rt.config) : null,
      trigger_metadata: canRead ? (build.job_config.trigger_metadata ?? null) : null,
      resource_key: build.resource_key,
      pull_robot: build.pull_robot_name ? { name: build.pull_robot_name, kind: 'user', is_robot: true } : null,
      repository: { namespace: build.namespace, name: build.repository },
      error: null,
    };
    if (canWrite || rt.config.FEATURE_READER_BUILD_LOGS) {
      if (build.resource_key) view.archive_url = userfileUrl(rt.config, build.resource_key);
      else if (build.job_config.archive_url) view.archive_url = build.job_config.archive_url;
    }
    return view;
  }

  /** The caller's role (read required) and the build, 404 when it belongs to another repository. */
  async function readBuild(req: FastifyRequest, p: RepoP & { build_uuid: string }) {
    const t = await repoParamsWithRole(rt, req, p, 'read');
    const build = await rt.builds.getBuild(p.build_uuid);
    if (!build || build.repository_id !== t.repo.id) throw notFound();
    return { ...t, build, role: await rt.permissions.repositoryRole(req.principal, t) };
  }

  /** 201 with the Build and its status URL (refusals are domain errors: 400, 429, 501, 503). */
  async function started(reply: FastifyReply, p: RepoP, role: Role | null, start: () => Promise<BuildRow>) {
    const build = await start();
    reply.code(201).header('location', `/api/v1/repository/${p.namespace}/${p.repository}/build/${build.uuid}/status`);
    return buildView(build, role);
  }

  app.get(
    '/repository/:namespace/:repository/build/',
    {
      schema: {
        ...op('getRepoBuilds', tag, 'Get the list of repository builds.', 'repo:read'),
        params: RepoParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 0, maximum: 1000, default: 5, description: 'The maximum number of builds to return' }),
          since: Type.Optional(Type.Integer({ minimum: 0, description: 'Returns all builds since the given unix timecode' })),
          next_page: Type.Optional(Type.String({ maxLength: 2048, description: 'The page token for the next page (not in Quay)' })),
        }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const t = await repoParamsWithRole(rt, req, req.params, 'read');
      const role = await rt.permissions.repositoryRole(req.principal, t);
      const { limit, since } = req.query;
      let after: BuildPageCursor['a'] | undefined;
      if (req.query.next_page) {
        const c = rt.tenancy.pages.openJson<BuildPageCursor>(req.query.next_page);
        if (!c || c.r !== t.repo.id || c.s !== (since ?? null)) throw badRequest('Invalid or expired next_page token');
        after = c.a;
      }
      // One row more than asked says whether another page follows (an addition to Quay, which has no paging here).
      const rows = await rt.builds.listBuilds(t.repo.id, { limit: limit + 1, since, after });
      const builds = rows.slice(0, limit);
      const last = builds[builds.length - 1];
      const next =
        rows.length > limit && last
          ? rt.tenancy.pages.sealJson({ r: t.repo.id, s: since ?? null, a: { started: last.started.toISOString(), id: last.id } } satisfies BuildPageCursor, BUILD_PAGE_TTL_S)
          : null;
      return { builds: await Promise.all(builds.map((b) => buildView(b, role))), ...(next ? { next_page: next } : {}) };
    },
  );

  app.post(
    '/repository/:namespace/:repository/build/',
    {
      schema: { ...op('requestRepoBuild', tag, 'Request that a repository be built and pushed from the specified input.', 'repo:write'), params: RepoParams, body: BuildRequest },
      config: { scope: 'repo:write' },
    },
    async (req, reply) => {
      const t = await repoParamsWithRole(rt, req, req.params, 'write');
      await writable(rt, req, t.repo);
      const robot = req.body.pull_robot ? await manualPullRobot(req, req.body.pull_robot) : null;
      return started(reply, req.params, await rt.permissions.repositoryRole(req.principal, t), () =>
        rt.buildRequests.manual(
          buildRepository(t),
          req.body,
          { principal: req.principal, ip: req.ip },
          {
            pullRobot: robot,
            canWriteRepository: async (repositoryId) => {
              const other = await rt.repositories.byId(repositoryId);
              const ns = other ? await rt.namespaces.byId(other.namespace_id) : null;
              return atLeast(
                await rt.permissions.repositoryRole(req.principal, {
                  ref: { namespace: ns?.name ?? '', name: other?.name ?? '', full: `${ns?.name}/${other?.name}` },
                  namespace: ns,
                  repo: other,
                }),
                'write',
              );
            },
          },
        ),
      );
    },
  );

  /** A manual build's pull robot: it must exist (404) and the caller must administer its namespace (403). */
  async function manualPullRobot(req: FastifyRequest, name: string) {
    const plus = name.indexOf('+');
    if (plus <= 0) throw unauthorizedFor(req.principal);
    const owner = await rt.namespaces.byName(name.slice(0, plus));
    if (!owner) throw notFound();
    return pullRobotFor(rt, req, name, owner);
  }

  app.get(
    '/repository/:namespace/:repository/build/:build_uuid',
    { schema: { ...op('getRepoBuild', tag, 'Returns information about a build.', 'repo:read'), params: BuildParams }, config: { scope: 'repo:read' } },
    async (req) => {
      const { build, role } = await readBuild(req, req.params);
      return buildView(build, role);
    },
  );

  app.get(
    '/repository/:namespace/:repository/build/:build_uuid/status',
    {
      schema: { ...op('getRepoBuildStatus', tag, 'Return the status for the builds specified by the build uuids.', 'repo:read'), params: BuildParams },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const { build, role } = await readBuild(req, req.params);
      return buildView(build, role);
    },
  );

  app.get(
    '/repository/:namespace/:repository/build/:build_uuid/logs',
    {
      schema: {
        ...op('getRepoBuildLogs', tag, 'Return the build logs for the build specified by the build uuid.', 'repo:read'),
        params: BuildParams,
        querystring: Type.Object({ start: Type.Integer({ minimum: 0, default: 0, description: 'The first log entry to return' }) }),
      },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const t = await repoParamsWithRole(rt, req, req.params, 'read');
      const role = await rt.permissions.repositoryRole(req.principal, t);
      // Logs may show secrets of the build: writers only, unless FEATURE_READER_BUILD_LOGS (or a global reader).
      if (!atLeast(role, 'write') && !rt.config.FEATURE_READER_BUILD_LOGS && !rt.permissions.isGlobalReadonlySuperuser(req.principal)) throw unauthorizedFor(req.principal);
      const build = await rt.builds.getBuild(req.params.build_uuid);
      if (!build || build.repository_id !== t.repo.id) throw notFound();
      const logs = await rt.builds.readBuildLogs(build.uuid, req.query.start);
      return logs ?? { start: req.query.start, total: 0, logs: [] };
    },
  );

  // The superuser's views of any build by its uuid (Quay: endpoints/api/superuser.py), for support staff
  // reading a user's failed build. Quay answers 400 for an unknown uuid on /status and /logs; 404 here.
  const superCfg = { scope: 'super:user' as const, fresh: true };
  const SuperBuildParams = Type.Object({ build_uuid: Type.String({ description: 'The UUID of the build' }) });
  async function superuserBuild(req: FastifyRequest, uuid: string): Promise<{ build: BuildRow; role: Role }> {
    requireSuperuserRead(rt, req);
    const build = await rt.builds.getBuild(uuid);
    if (!build) throw notFound();
    return { build, role: rt.permissions.isSuperuser(req.principal) ? 'admin' : 'read' };
  }

  app.get(
    '/superuser/:build_uuid/build',
    { schema: { ...op('getRepoBuildSuperUser', 'superuser', 'Returns information about a build.', 'super:user'), params: SuperBuildParams }, config: superCfg },
    async (req) => {
      const { build, role } = await superuserBuild(req, req.params.build_uuid);
      return buildView(build, role);
    },
  );

  app.get(
    '/superuser/:build_uuid/status',
    {
      schema: { ...op('getRepoBuildStatusSuperUser', 'superuser', 'Return the status for the builds specified by the build uuids.', 'super:user'), params: SuperBuildParams },
      config: superCfg,
    },
    async (req) => {
      const { build, role } = await superuserBuild(req, req.params.build_uuid);
      return buildView(build, role);
    },
  );

  app.get(
    '/superuser/:build_uuid/logs',
    {
      schema: {
        ...op('getRepoBuildLogsSuperUser', 'superuser', 'Return the build logs for the build specified by the build uuid.', 'super:user'),
        params: SuperBuildParams,
        querystring: Type.Object({ start: Type.Integer({ minimum: 0, default: 0, description: 'The first log entry to return' }) }),
      },
      config: superCfg,
    },
    async (req) => {
      const { build } = await superuserBuild(req, req.params.build_uuid);
      return (await rt.builds.readBuildLogs(build.uuid, req.query.start)) ?? { start: req.query.start, total: 0, logs: [] };
    },
  );

  app.delete(
    '/repository/:namespace/:repository/build/:build_uuid',
    { schema: { ...op('cancelRepoBuild', tag, 'Cancels a repository build.', 'repo:admin'), params: BuildParams }, config: { scope: 'repo:admin' } },
    async (req, reply) => {
      const t = await repoParamsWithRole(rt, req, req.params, 'admin');
      await writable(rt, req, t.repo);
      const build = await rt.builds.getBuild(req.params.build_uuid);
      if (!build || build.repository_id !== t.repo.id) throw notFound();
      if (!(await rt.builds.cancelBuild(build.uuid, req.principal))) throw badRequest('Build is currently running or has finished');
      rt.logs.repoAction('cancel_build', req.principal, req.ip, t.repo, t.namespace.name, { build_uuid: build.uuid });
      return sendJsonString(reply, 201, 'Okay');
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/start',
    {
      schema: { ...op('manuallyStartBuildTrigger', 'trigger', 'Manually start a build from the specified trigger.', 'repo:admin'), params: TriggerParams, body: RunParameters },
      config: { scope: 'repo:admin' },
    },
    async (req, reply) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      if (!t.trigger.enabled) throw badRequest('Trigger is not enabled.');
      if (!Array.isArray(t.trigger.config.credentials)) throw badRequest('Trigger is not active.');
      return started(reply, req.params, 'admin', async () => {
        const prepared = await rt.triggers.prepareManualBuild(t.trigger, req.body);
        return rt.buildRequests.fromTrigger(buildRepository(t), t.trigger, prepared, { principal: req.principal, ip: req.ip });
      });
    },
  );

  app.get(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/builds',
    {
      schema: {
        ...op('listTriggerRecentBuilds', 'trigger', 'List the builds started by the specified trigger.', 'repo:admin'),
        params: TriggerParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 0, maximum: 1000, default: 5, description: 'The maximum number of builds to return' }) }),
      },
      config: { scope: 'repo:admin' },
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params);
      const role = await rt.permissions.repositoryRole(req.principal, t);
      const builds = (await rt.builds.listTriggerBuilds(t.trigger.uuid, req.query.limit)).filter((b) => b.repository_id === t.repo.id);
      return { builds: await Promise.all(builds.map((b) => buildView(b, role))) };
    },
  );
}
