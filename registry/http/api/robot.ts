/**
 * Robot accounts of the calling user (/user/robots) and of organizations (/organization/{org}/robots):
 * create, describe, regenerate the token, delete, permissions, and the credential forms to copy.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import type { RobotView } from '../../model/robots.js';
import { credentialForms } from '../../auth/credential_forms.js';
import type { Scope } from '../../auth/principal.js';
import { badRequest, quayDataModelError } from './errors.js';
import { currentUser, orgByName, unauthorizedFor } from './auth.js';
import { op, typed } from './schema.js';
import { formatDate, teamAvatar } from './views.js';

function robotView(r: RobotView, withToken: boolean) {
  return {
    name: r.name,
    created: formatDate(r.created),
    last_accessed: formatDate(r.last_accessed),
    description: r.description,
    unstructured_metadata: r.unstructured_metadata,
    ...(withToken ? { token: r.token } : {}),
  };
}

const RobotBody = Type.Object({
  description: Type.Optional(Type.String({ maxLength: 255, description: 'Optional text description for the robot' })),
  unstructured_metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Optional unstructured metadata for the robot' })),
});

interface Owner {
  kind: 'user' | 'org';
  /** The namespace whose robots these are, if the caller may administer them. */
  admin(req: FastifyRequest): Promise<NamespaceRow>;
  /** The namespace, if the caller may list its robots (org members may, without tokens). */
  viewer(req: FastifyRequest): Promise<{ ns: NamespaceRow; admin: boolean }>;
}

export async function robotRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'robot';

  const userOwner: Owner = {
    kind: 'user',
    admin: async (req) => {
      const me = await currentUser(rt, req);
      if (!(await rt.permissions.canAdminNamespace(req.principal, me))) throw unauthorizedFor(req.principal);
      return me;
    },
    viewer: async (req) => ({ ns: await userOwner.admin(req), admin: true }),
  };
  const orgOwner = (orgname: string): Owner => ({
    kind: 'org',
    admin: async (req) => {
      const org = await orgByName(rt, orgname);
      if (!(await rt.permissions.canAdminNamespace(req.principal, org))) throw unauthorizedFor(req.principal);
      return org;
    },
    viewer: async (req) => {
      const org = await orgByName(rt, orgname);
      const admin = await rt.permissions.canAdminNamespace(req.principal, org);
      if (!admin && !(await rt.permissions.isOrgMember(req.principal, org))) throw unauthorizedFor(req.principal);
      return { ns: org, admin };
    },
  });

  /** Registers one set of robot routes under `prefix`; `ownerOf` resolves the owning namespace from the params. */
  const register = (prefix: string, params: ReturnType<typeof Type.Object>, ownerOf: (p: Record<string, string>) => Owner, scope: Scope, nick: string) => {
    const RobotParams = Type.Composite([
      params,
      Type.Object({ robot_shortname: Type.String({ description: 'The short name for the robot, without any user or organization prefix' }) }),
    ]);
    const cfg = { scope };
    /** The owning namespace, for a caller who may create, change or delete its robots (a restricted user may not, in their own). */
    const managedOwner = async (req: FastifyRequest, params: Record<string, string>) => {
      const ns = await ownerOf(params).admin(req);
      if (!(await rt.permissions.canManageRobots(req.principal, ns))) throw unauthorizedFor(req.principal);
      return ns;
    };

    app.get(
      prefix,
      {
        schema: {
          ...op(`get${nick}Robots`, tag, 'List the available robots.', scope),
          params,
          querystring: Type.Object({
            permissions: Type.Optional(Type.Boolean({ description: 'Whether to include repositories and teams in which the robots have permission.' })),
            token: Type.Optional(Type.Boolean({ default: true, description: "If false, the robot's token is not returned." })),
            limit: Type.Optional(Type.Integer({ minimum: 1, description: 'If specified, the number of robots to return.' })),
          }),
        },
        config: cfg,
      },
      async (req) => {
        const { ns, admin } = await ownerOf(req.params as Record<string, string>).viewer(req);
        const robots = await rt.tenancy.robots.list(ns, req.query.limit);
        const memberships = req.query.permissions && admin ? await rt.tenancy.robots.memberships(ns) : null;
        return {
          robots: robots.map((r) => ({
            ...robotView(r, admin && req.query.token !== false),
            ...(memberships
              ? {
                  teams: (memberships.get(r.id)?.teams ?? []).map((t) => ({ name: t, avatar: teamAvatar(t) })),
                  repositories: memberships.get(r.id)?.repositories ?? [],
                }
              : {}),
          })),
        };
      },
    );

    app.get(
      `${prefix}/:robot_shortname`,
      { schema: { ...op(`get${nick}Robot`, tag, 'Returns the robot with the specified name.', scope), params: RobotParams }, config: cfg },
      async (req) => {
        const p = req.params as Record<string, string>;
        const ns = await ownerOf(p).admin(req);
        return robotView(await rt.tenancy.robots.get(ns, p.robot_shortname), true);
      },
    );

    app.put(
      `${prefix}/:robot_shortname`,
      { schema: { ...op(`create${nick}Robot`, tag, 'Create a new robot with the specified name.', scope), params: RobotParams, body: RobotBody }, config: cfg },
      async (req, reply) => {
        const p = req.params as Record<string, string>;
        const ns = await managedOwner(req, p);
        if (rt.config.ROBOTS_DISALLOW) throw badRequest('Robot accounts are disabled on this registry');
        // Quay lets the data model's refusal (bad or taken name) reach its DataModelException handler: `{message}`.
        const robot = await rt.tenancy.robots
          .create(ns, p.robot_shortname, { description: req.body.description, metadata: req.body.unstructured_metadata })
          .catch(quayDataModelError);
        rt.logs.log({
          kind: 'create_robot',
          performer: req.principal,
          namespaceId: ns.id,
          ip: req.ip,
          metadata: { robot: robot.name, description: robot.description, unstructured_metadata: robot.unstructured_metadata },
        });
        reply.code(201);
        return robotView(robot, true);
      },
    );

    app.delete(
      `${prefix}/:robot_shortname`,
      { schema: { ...op(`delete${nick}Robot`, tag, 'Delete an existing robot.', scope), params: RobotParams }, config: cfg },
      async (req, reply) => {
        const p = req.params as Record<string, string>;
        const ns = await managedOwner(req, p);
        await rt.tenancy.robots.delete(ns, p.robot_shortname);
        rt.logs.log({ kind: 'delete_robot', performer: req.principal, namespaceId: ns.id, ip: req.ip, metadata: { robot: `${ns.name}+${p.robot_shortname}` } });
        return reply.code(204).send();
      },
    );

    app.get(
      `${prefix}/:robot_shortname/permissions`,
      { schema: { ...op(`get${nick}RobotPermissions`, tag, 'Returns the list of repository permissions for the robot.', scope), params: RobotParams }, config: cfg },
      async (req) => {
        const p = req.params as Record<string, string>;
        const ns = await ownerOf(p).admin(req);
        const robot = await rt.tenancy.robots.get(ns, p.robot_shortname);
        const perms = await rt.tenancy.robots.permissions(robot.id);
        return { permissions: perms.map((x) => ({ repository: { name: x.repository, is_public: x.visibility === 'public' }, role: x.role })) };
      },
    );

    app.post(
      `${prefix}/:robot_shortname/regenerate`,
      { schema: { ...op(`regenerate${nick}RobotToken`, tag, 'Regenerates the token for a robot.', scope), params: RobotParams }, config: cfg },
      async (req) => {
        const p = req.params as Record<string, string>;
        const ns = await managedOwner(req, p);
        const robot = await rt.tenancy.robots.regenerate(ns, p.robot_shortname);
        rt.logs.log({ kind: 'regenerate_robot_token', performer: req.principal, namespaceId: ns.id, ip: req.ip, metadata: { robot: robot.name } });
        return robotView(robot, true);
      },
    );

    app.get(
      `${prefix}/:robot_shortname/credentials`,
      {
        schema: {
          ...op(`get${nick}RobotCredentials`, tag, "The robot's credentials as docker/podman login, Docker config.json, Kubernetes secret, rkt and Mesos forms.", scope),
          params: RobotParams,
        },
        config: cfg,
      },
      async (req) => {
        const p = req.params as Record<string, string>;
        const ns = await ownerOf(p).admin(req);
        const robot = await rt.tenancy.robots.get(ns, p.robot_shortname);
        return credentialForms(rt.config.SERVER_HOSTNAME, robot.name, robot.token);
      },
    );
  };

  register('/user/robots', Type.Object({}), () => userOwner, 'user:admin', 'User');
  register('/organization/:orgname/robots', Type.Object({ orgname: Type.String({ description: 'The name of the organization' }) }), (p) => orgOwner(p.orgname), 'org:admin', 'Org');
}
