/** Default permissions of an organization: roles given to users, robots or teams on every new repository. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import type { PrototypeRow, PrototypeUser } from '../../model/repo_permissions.js';
import { badRequest } from './errors.js';
import { adminOrg } from './auth.js';
import { OrgParams, Role, op, typed } from './schema.js';
import { namespaceAvatar, teamAvatar } from './views.js';

/** Quay's view of a default permission: users and robots with avatar and organization membership, or a team. */
function prototypeView(p: PrototypeRow) {
  const user = (u: PrototypeUser) => ({ name: u.name, is_robot: u.kind === 'robot', kind: 'user', is_org_member: u.kind === 'robot' || u.in_org, avatar: namespaceAvatar(u) });
  return {
    activating_user: p.activating_user ? user(p.activating_user) : null,
    delegate: p.delegate_user ? user(p.delegate_user) : { name: p.delegate_team!, kind: 'team', avatar: teamAvatar(p.delegate_team!) },
    role: p.role,
    id: p.id,
  };
}

const ProtoParams = Type.Object({ orgname: Type.String(), prototypeid: Type.String({ description: 'The ID of the prototype' }) });

export async function prototypeRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'prototype';
  const cfg = { scope: 'org:admin' as const };

  app.get(
    '/organization/:orgname/prototypes',
    { schema: { ...op('getOrganizationPrototypePermissions', tag, 'List the existing prototypes for this organization.', 'org:admin'), params: OrgParams }, config: cfg },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      return { prototypes: (await rt.tenancy.repoPermissions.prototypes(org)).map(prototypeView) };
    },
  );

  app.post(
    '/organization/:orgname/prototypes',
    {
      schema: {
        ...op('createOrganizationPrototypePermission', tag, 'Create a new permission prototype.', 'org:admin'),
        params: OrgParams,
        body: Type.Object({
          role: Role,
          activating_user: Type.Optional(
            Type.Object(
              { name: Type.String({ minLength: 1, description: 'The username for the activating_user' }) },
              { description: 'Repository creating user to whom the rule should apply' },
            ),
          ),
          delegate: Type.Object(
            {
              name: Type.String({ minLength: 1, description: 'The name for the delegate team or user' }),
              kind: Type.Union([Type.Literal('user'), Type.Literal('team')], { description: 'Whether the delegate is a user or a team' }),
            },
            { description: 'Information about the user or team to which the rule grants access' },
          ),
        }),
      },
      config: cfg,
    },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const { role, delegate, activating_user } = req.body;
      let activatingUser: NamespaceRow | undefined;
      if (activating_user) {
        const u = await rt.namespaces.byName(activating_user.name);
        if (!u || u.kind !== 'user') throw badRequest(`Unknown activating user: ${activating_user.name}`);
        activatingUser = u;
      }
      const proto =
        delegate.kind === 'team'
          ? await (async () => {
              const t = await rt.tenancy.teams.byName(org, delegate.name);
              if (!t) throw badRequest(`Unknown team: ${delegate.name}`);
              return rt.tenancy.repoPermissions.createPrototype(org, { role, delegateTeam: t, activatingUser });
            })()
          : await (async () => {
              const u = await rt.namespaces.byName(delegate.name);
              if (!u) throw badRequest(`Unknown user or robot: ${delegate.name}`);
              return rt.tenancy.repoPermissions.createPrototype(org, { role, delegateUser: u, activatingUser });
            })();
      rt.logs.log({
        kind: 'create_prototype_permission',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { role, delegate: delegate.name, activating_user: activating_user?.name ?? null },
      });
      return prototypeView(proto);
    },
  );

  app.put(
    '/organization/:orgname/prototypes/:prototypeid',
    {
      schema: {
        ...op('updateOrganizationPrototypePermission', tag, 'Update the role of an existing permission prototype.', 'org:admin'),
        params: ProtoParams,
        body: Type.Object({ role: Role }),
      },
      config: cfg,
    },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const proto = await rt.tenancy.repoPermissions.updatePrototype(org, req.params.prototypeid, req.body.role);
      rt.logs.log({ kind: 'modify_prototype_permission', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { id: proto.id, role: proto.role } });
      return prototypeView(proto);
    },
  );

  app.delete(
    '/organization/:orgname/prototypes/:prototypeid',
    { schema: { ...op('deleteOrganizationPrototypePermission', tag, 'Delete an existing permission prototype.', 'org:admin'), params: ProtoParams }, config: cfg },
    async (req, reply) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      await rt.tenancy.repoPermissions.deletePrototype(org, req.params.prototypeid);
      rt.logs.log({ kind: 'delete_prototype_permission', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { id: req.params.prototypeid } });
      return reply.code(204).send();
    },
  );
}
