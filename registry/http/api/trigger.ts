/**
 * Build triggers (Quay: endpoints/api/trigger.py): `/repository/{ns}/{repo}/trigger/...`, repository admins
 * only. A trigger of another repository is not found here (Quay looks triggers up by uuid alone).
 * Creation is not in Quay's API (its web setup flows create inactive triggers); here
 * `POST …/trigger/ {"service": "custom-git"}` does that, then `…/activate` with the config generates the
 * SSH deploy key and the webhook URL. `…/start` runs a trigger now; its build is created by `start`
 * routes in build.ts's helpers.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { TRIGGER_SERVICES, isActive, triggerView, type TriggerRow, type TriggerService } from '../../model/triggers.js';
import { contextMap, EmptyRepository, ScmError, type ScmClient, type TriggerScmConfig } from '../../model/scm.js';
import { analyzeTrigger } from '../../model/trigger_analyzer.js';
import { atLeast } from '../../auth/permissions.js';
import { repoParamsWithRole, unauthorizedFor } from './auth.js';
import { badRequest, notFound } from './errors.js';
import { op, RepoParams, typed } from './schema.js';

const tag = 'trigger';
export const TriggerParams = Type.Composite([RepoParams, Type.Object({ trigger_uuid: Type.String({ description: 'The UUID of the build trigger' }) })]);
type RepoP = { namespace: string; repository: string };
type TriggerP = RepoP & { trigger_uuid: string };

/**
 * The repository (admin required) and its trigger; 404 for a trigger of another repository. `write`: the
 * request changes the trigger or starts a build, so the repository must be writable too (503 otherwise).
 */
export async function triggerFor(rt: Runtime, req: FastifyRequest, p: TriggerP, opts: { write?: boolean } = {}) {
  const target = await repoParamsWithRole(rt, req, p, 'admin');
  const trigger = await rt.triggers.get(target.repo.id, p.trigger_uuid);
  if (!trigger) throw notFound();
  if (opts.write) await writable(rt, req, target.repo);
  return { ...target, trigger };
}

/** A change to a trigger or its repository's builds needs the repository in the NORMAL state (503 otherwise). */
export async function writable(rt: Runtime, req: FastifyRequest, repo: { id: number; state: string; name: string }): Promise<void> {
  await rt.writeGate.check(req.principal, repo, 'api');
}

/**
 * A pull robot named by a caller: it must exist (404), be a robot of `namespace` (403 otherwise, as Quay's
 * Unauthorized), and the caller must administer that namespace.
 */
export async function pullRobotFor(
  rt: Runtime,
  req: FastifyRequest,
  name: string | undefined,
  namespace: { id: number; name: string },
): Promise<{ id: number; name: string } | null> {
  if (!name) return null;
  const plus = name.indexOf('+');
  if (plus <= 0) throw unauthorizedFor(req.principal);
  const robot = await rt.namespaces.byName(name);
  if (!robot || robot.kind !== 'robot') throw notFound();
  const owner = await rt.namespaces.byId(robot.robot_owner_id!);
  if (!owner || owner.id !== namespace.id || !(await rt.permissions.canAdminNamespace(req.principal, owner))) throw unauthorizedFor(req.principal);
  return { id: robot.id, name: robot.name };
}

/** FIELD_VALUE_LIMIT of Quay: values listed per field. */
const FIELD_VALUE_LIMIT = 30;

/**
 * The trigger's service client, for the connected user only (Quay's UserAdminPermission of the connected
 * user): others 403; a trigger not attached to an account of its service 400.
 */
async function scmForConnectedUser(rt: Runtime, req: FastifyRequest, trigger: TriggerRow): Promise<ScmClient> {
  if (req.principal.kind !== 'user' || trigger.connected_user_id !== req.principal.id) throw unauthorizedFor(req.principal);
  const scm = await rt.triggers.scmClient(trigger);
  if (!scm) throw badRequest('This trigger is not attached to an account of its source control service');
  return scm;
}

/** The config a request proposes, with the build source it names (the trigger's own when it names none). */
function proposedConfig(trigger: TriggerRow, body: unknown): TriggerScmConfig {
  const given = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const merged = { ...trigger.config, ...given };
  if (typeof merged.build_source !== 'string' || merged.build_source === '') throw badRequest('config.build_source is required');
  return merged as TriggerScmConfig;
}

export async function triggerRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const cfg = { scope: 'repo:admin' as const };
  const audit = (
    kind: string,
    req: FastifyRequest,
    t: { repo: { id: number; namespace_id: number; name: string }; namespace: { name: string } },
    trigger: TriggerRow,
    extra: Record<string, unknown> = {},
  ) => rt.logs.repoAction(kind, req.principal, req.ip, t.repo, t.namespace.name, { trigger_id: trigger.uuid, service: trigger.service, ...extra });

  app.get(
    '/repository/:namespace/:repository/trigger/',
    { schema: { ...op('listBuildTriggers', tag, 'List the triggers for the specified repository.', 'repo:admin'), params: RepoParams }, config: cfg },
    async (req) => {
      const { repo } = await repoParamsWithRole(rt, req, req.params, 'admin');
      return { triggers: (await rt.triggers.list(repo.id)).map((t) => triggerView(t, { canAdmin: true }, rt.config)) };
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/',
    {
      schema: {
        ...op('createBuildTrigger', tag, 'Create an inactive build trigger (not in Quay, whose web setup flows do this); activate it next.', 'repo:admin'),
        params: RepoParams,
        body: Type.Object(
          {
            service: Type.Union(
              TRIGGER_SERVICES.map((s) => Type.Literal(s)),
              { description: 'custom-git, github, gitlab or bitbucket' },
            ),
          },
          { additionalProperties: false },
        ),
      },
      config: cfg,
    },
    async (req, reply) => {
      const t = await repoParamsWithRole(rt, req, req.params, 'admin');
      await writable(rt, req, t.repo);
      const trigger = await rt.triggers.create(t.repo.id, req.body.service as TriggerService, req.principal.kind === 'user' ? req.principal.id : null);
      reply.code(201);
      return triggerView(trigger, { canAdmin: true }, rt.config);
    },
  );

  app.get(
    '/repository/:namespace/:repository/trigger/:trigger_uuid',
    { schema: { ...op('getBuildTrigger', tag, 'Get information for the specified build trigger.', 'repo:admin'), params: TriggerParams }, config: cfg },
    async (req) => {
      const { trigger } = await triggerFor(rt, req, req.params);
      return triggerView(trigger, { canAdmin: true }, rt.config);
    },
  );

  app.put(
    '/repository/:namespace/:repository/trigger/:trigger_uuid',
    {
      schema: {
        ...op('updateBuildTrigger', tag, 'Updates the specified build trigger.', 'repo:admin'),
        params: TriggerParams,
        body: Type.Object({ enabled: Type.Boolean({ description: 'Whether the build trigger is enabled' }) }, { description: 'Options for updating a build trigger' }),
      },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      const updated = await rt.triggers.setEnabled(t.trigger, req.body.enabled);
      audit('toggle_repo_trigger', req, t, updated, { enabled: req.body.enabled });
      return triggerView(updated, { canAdmin: false }, rt.config);
    },
  );

  app.delete(
    '/repository/:namespace/:repository/trigger/:trigger_uuid',
    { schema: { ...op('deleteBuildTrigger', tag, 'Delete the specified build trigger.', 'repo:admin'), params: TriggerParams }, config: cfg },
    async (req, reply) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      const { uninstallError } = await rt.triggers.delete(t.trigger);
      // As in Quay, the trigger goes even when its service refused to remove the key or hook.
      if (uninstallError) req.log.warn({ err: uninstallError, trigger: t.trigger.uuid }, 'trigger deactivation at its service failed');
      if (isActive(t.trigger)) audit('delete_repo_trigger', req, t, t.trigger);
      reply.code(204);
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/activate',
    {
      schema: {
        ...op('activateBuildTrigger', tag, 'Activate the specified build trigger.', 'repo:admin'),
        params: TriggerParams,
        body: Type.Object({
          config: Type.Record(Type.String(), Type.Unknown(), {
            description: 'build_source (the git URL for custom-git), dockerfile_path, context, branchtag_regex, default_tag_from_ref, latest_for_default_branch, tag_templates',
          }),
          pull_robot: Type.Optional(Type.String({ description: 'The name of the robot that will be used to pull images.' })),
        }),
      },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      if (isActive(t.trigger)) throw badRequest('Trigger config is not sufficient for activation.');
      // Quay: only the user the trigger is connected to activates it.
      if (
        req.principal.kind !== 'user' ||
        (t.trigger.connected_user_id !== null && t.trigger.connected_user_id !== req.principal.id && !rt.permissions.fullAccessSuperuser(req.principal))
      ) {
        throw unauthorizedFor(req.principal);
      }
      const robot = await pullRobotFor(rt, req, req.body.pull_robot, t.namespace);
      const activated = await rt.triggers.activate(t.trigger, { config: req.body.config, pullRobotId: robot?.id ?? null });
      const { credentials: _hidden, ...loggedConfig } = activated.config;
      audit('setup_repo_trigger', req, t, activated, { namespace: t.namespace.name, pull_robot: robot?.name ?? null, config: loggedConfig });
      return triggerView(activated, { canAdmin: true }, rt.config);
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/subdir',
    {
      schema: {
        ...op('listBuildTriggerSubdirs', tag, 'List the subdirectories available for the specified build trigger and source.', 'repo:admin'),
        params: TriggerParams,
        body: Type.Record(Type.String(), Type.Unknown(), { description: 'The trigger config (build_source, branchtag_regex)' }),
      },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      const scm = await scmForConnectedUser(rt, req, t.trigger);
      try {
        const paths = await scm.dockerfiles(proposedConfig(t.trigger, req.body));
        return { dockerfile_paths: paths.map((p) => `/${p}`), contextMap: contextMap(paths), status: 'success' };
      } catch (err) {
        if (err instanceof EmptyRepository) return { status: 'success', contextMap: {}, dockerfile_paths: [] };
        if (err instanceof ScmError) return { status: 'error', message: err.message };
        throw err;
      }
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/analyze',
    {
      schema: {
        ...op('analyzeBuildTrigger', tag, 'Analyze the specified build trigger configuration.', 'repo:admin'),
        params: TriggerParams,
        body: Type.Object({ config: Type.Record(Type.String(), Type.Unknown(), { description: 'The trigger config to analyze' }) }),
      },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      const scm = await rt.triggers.scmClient(t.trigger);
      if (!scm) return { status: 'notimplemented' };
      const config = proposedConfig(t.trigger, req.body.config);
      const isNamespaceAdmin = await rt.permissions.canAdminNamespace(req.principal, t.namespace);
      try {
        return await analyzeTrigger(await scm.dockerfile(config), config, {
          namespace: t.namespace.name,
          serverHostname: rt.config.SERVER_HOSTNAME,
          isNamespaceAdmin,
          repository: async (ns, name) => {
            const target = await rt.repositories.lookup({ namespace: ns, name, full: `${ns}/${name}` });
            if (!target.repo) return null;
            return { public: target.repo.visibility === 'public', callerCanRead: atLeast(await rt.permissions.repositoryRole(req.principal, target), 'read') };
          },
          robots: async (repository) => {
            const target = repository ? await rt.repositories.lookup({ ...repository, full: `${repository.namespace}/${repository.name}` }) : null;
            const out: Array<{ name: string; canRead: boolean }> = [];
            for (const r of await rt.tenancy.robots.list(t.namespace)) {
              const principal = { kind: 'robot' as const, id: r.id, name: r.name, ownerId: t.namespace.id, ownerName: t.namespace.name };
              out.push({ name: r.name, canRead: target?.repo ? atLeast(await rt.permissions.repositoryRole(principal, target), 'read') : false });
            }
            return out;
          },
        });
      } catch (err) {
        if (err instanceof ScmError) return { status: 'error', message: `Could not analyze the repository: ${err.message}` };
        throw err;
      }
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/sources',
    {
      schema: {
        ...op('listTriggerBuildSources', tag, 'List the build sources for the trigger configuration thus far.', 'repo:admin'),
        params: TriggerParams,
        body: Type.Object(
          { namespace: Type.Optional(Type.String({ description: 'The namespace for which to fetch sources' })) },
          { description: 'Specifies the namespace under which to fetch sources' },
        ),
      },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      const scm = await scmForConnectedUser(rt, req, t.trigger);
      if (req.body.namespace === undefined) throw badRequest('namespace is required');
      return { sources: await scm.sources(req.body.namespace) };
    },
  );

  app.get(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/namespaces',
    {
      schema: { ...op('listTriggerBuildSourceNamespaces', tag, 'List the namespaces of the source control account of the trigger.', 'repo:admin'), params: TriggerParams },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params);
      const scm = await scmForConnectedUser(rt, req, t.trigger);
      return { namespaces: await scm.namespaces() };
    },
  );

  app.post(
    '/repository/:namespace/:repository/trigger/:trigger_uuid/fields/:field_name',
    {
      schema: {
        ...op('listTriggerFieldValues', tag, 'List the field values for a custom run field.', 'repo:admin'),
        params: Type.Composite([TriggerParams, Type.Object({ field_name: Type.String({ description: 'refs, branch_name or tag_name' }) })]),
        body: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'The trigger config (build_source)' })),
      },
      config: cfg,
    },
    async (req) => {
      const t = await triggerFor(rt, req, req.params, { write: true });
      const scm = await rt.triggers.scmClient(t.trigger);
      const field = req.params.field_name;
      if (!scm || !['refs', 'branch_name', 'tag_name'].includes(field)) throw notFound();
      const config = proposedConfig(t.trigger, req.body);
      if (field === 'branch_name') return { values: await scm.branches(config, FIELD_VALUE_LIMIT) };
      if (field === 'tag_name') return { values: await scm.tags(config, FIELD_VALUE_LIMIT) };
      const [branches, tags] = await Promise.all([scm.branches(config, FIELD_VALUE_LIMIT), scm.tags(config, FIELD_VALUE_LIMIT)]);
      return { values: [...branches.map((name) => ({ kind: 'branch', name })), ...tags.map((name) => ({ kind: 'tag', name }))] };
    },
  );
}
