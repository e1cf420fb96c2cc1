/** Teams of an organization: create/update, delete, members and invitations, permissions. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { adminOrg, orgByName, requireUser, unauthorizedFor } from './auth.js';
import { Email, TeamRole, op, typed } from './schema.js';
import { avatar, namespaceAvatar, teamAvatar } from './views.js';
import { escapeHtml } from '../../model/event_kinds.js';

const TeamParams = Type.Object({ orgname: Type.String(), teamname: Type.String() });
const MemberParams = Type.Object({ orgname: Type.String(), teamname: Type.String(), membername: Type.String() });
const InviteParams = Type.Object({ orgname: Type.String(), teamname: Type.String(), email: Email });

export async function teamRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'team';

  app.put(
    '/organization/:orgname/team/:teamname',
    {
      schema: {
        ...op('updateOrganizationTeam', tag, 'Update the org-wide permission for the specified team (creates it if absent).', 'org:admin'),
        params: TeamParams,
        body: Type.Object({ role: TeamRole, description: Type.Optional(Type.String({ maxLength: 1024, description: 'Markdown description for the team' })) }),
      },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const caller = requireUser(req);
      const org = await adminOrg(rt, req, req.params.orgname);
      const { team, created, previous } = await rt.tenancy.teams.upsert(org, req.params.teamname, req.body.role, req.body.description, caller.id);
      const log = (kind: string, metadata: Record<string, unknown>) =>
        rt.logs.log({ kind, performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { team: team.name, ...metadata } });
      // Quay's kinds: one for the creation, then one per attribute that actually changed.
      if (created) log('org_create_team', { role: team.role, description: team.description });
      if (previous && previous.description !== team.description) log('org_set_team_description', { description: team.description });
      if (previous && previous.role !== team.role) log('org_set_team_role', { role: team.role });
      return { name: team.name, description: team.description, can_view: true, role: team.role, avatar: teamAvatar(team.name), new_team: created };
    },
  );

  app.delete(
    '/organization/:orgname/team/:teamname',
    { schema: { ...op('deleteOrganizationTeam', tag, 'Delete the specified team.', 'org:admin'), params: TeamParams }, config: { scope: 'org:admin' } },
    async (req, reply) => {
      const caller = requireUser(req);
      const org = await adminOrg(rt, req, req.params.orgname);
      const team = await rt.tenancy.teams.get(org, req.params.teamname);
      await rt.tenancy.teams.delete(org, team, caller.id);
      rt.logs.log({ kind: 'org_delete_team', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { team: team.name } });
      return reply.code(204).send();
    },
  );

  app.get(
    '/organization/:orgname/team/:teamname/members',
    {
      schema: {
        ...op('getOrganizationTeamMembers', tag, 'Retrieve the list of members for the specified team.', 'org:admin'),
        params: TeamParams,
        querystring: Type.Object({ includePending: Type.Optional(Type.Boolean({ description: 'Whether to include pending members' })) }),
      },
    },
    async (req) => {
      const org = await orgByName(rt, req.params.orgname);
      const team = await rt.tenancy.teams.byName(org, req.params.teamname);
      if (!team) throw notFound();
      if (!(await rt.permissions.canViewTeam(req.principal, org, team.id))) throw unauthorizedFor(req.principal);
      const canEdit = await rt.permissions.canAdminNamespace(req.principal, org);
      const members = await rt.tenancy.teams.members(team, Boolean(req.query.includePending) && canEdit);
      return {
        name: team.name,
        // Quay's invite_view: an invited e-mail address has no name, kind `invite`.
        members: members.map((m) =>
          m.kind === 'invite'
            ? { email: m.email, kind: 'invite', avatar: avatar(m.email!, 'user', m.email!), invited: true }
            : { name: m.name, kind: 'user', is_robot: m.kind === 'robot', avatar: namespaceAvatar({ name: m.name!, kind: m.kind, email: m.email }), invited: m.invited },
        ),
        can_edit: canEdit,
      };
    },
  );

  app.put(
    '/organization/:orgname/team/:teamname/members/:membername',
    { schema: { ...op('updateOrganizationTeamMember', tag, 'Adds or invites a member to an existing team.', 'org:admin'), params: MemberParams }, config: { scope: 'org:admin' } },
    async (req) => {
      const caller = requireUser(req);
      const org = await adminOrg(rt, req, req.params.orgname);
      const team = await rt.tenancy.teams.get(org, req.params.teamname);
      const member = await rt.namespaces.byName(req.params.membername);
      if (!member) throw badRequest('Unknown user');
      const { invited } = await rt.tenancy.teams.addMember(org, team, member, caller.id);
      rt.logs.log({
        kind: invited ? 'org_invite_team_member' : 'org_add_team_member',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { team: team.name, member: member.name },
      });
      return { name: member.name, kind: 'user', is_robot: member.kind === 'robot', avatar: namespaceAvatar(member), invited };
    },
  );

  app.delete(
    '/organization/:orgname/team/:teamname/members/:membername',
    {
      schema: { ...op('deleteOrganizationTeamMember', tag, 'Delete a member of a team (or its pending invitation).', 'org:admin'), params: MemberParams },
      config: { scope: 'org:admin' },
    },
    async (req, reply) => {
      const caller = requireUser(req);
      const org = await adminOrg(rt, req, req.params.orgname);
      const team = await rt.tenancy.teams.get(org, req.params.teamname);
      const member = await rt.namespaces.byName(req.params.membername);
      if (!member) throw notFound();
      await rt.tenancy.teams.removeMember(org, team, member, caller.id);
      rt.logs.log({ kind: 'org_remove_team_member', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { team: team.name, member: member.name } });
      return reply.code(204).send();
    },
  );

  // Invitations by e-mail (Quay's InviteTeamMember): the code goes out by mail, so they need FEATURE_MAILING.
  app.put(
    '/organization/:orgname/team/:teamname/invite/:email',
    {
      schema: { ...op('inviteTeamMemberEmail', tag, 'Invites an email address to an existing team.', 'org:admin'), params: InviteParams },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const caller = requireUser(req);
      const org = await adminOrg(rt, req, req.params.orgname);
      const team = await rt.tenancy.teams.get(org, req.params.teamname);
      const { email } = req.params;
      if (!rt.mailer.enabled) throw badRequest('E-mail is not enabled on this registry (FEATURE_MAILING and MAIL_SERVER): invite users by name');
      const code = await rt.tenancy.teams.inviteEmail(team, email, caller.id);
      const where = `${rt.config.PREFERRED_URL_SCHEME}://${rt.config.SERVER_HOSTNAME}`;
      const about = `${caller.name} invited you to join the team ${team.name} of the organization ${org.name} on ${where}.`;
      const signUp = `${where}/createaccount?invite_code=${encodeURIComponent(code)}`;
      try {
        await rt.mailer.send({
          to: email,
          subject: `Invitation to join team ${org.name}/${team.name}`,
          html: `<p>${escapeHtml(about)}</p><p><a href="${escapeHtml(signUp)}">Create your account</a> with this e-mail address, or accept the invitation from an existing account with the code <b>${escapeHtml(code)}</b>.</p>`,
          text: `${about}\n\nCreate your account with this e-mail address: ${signUp}\nor accept the invitation from an existing account with the code ${code}\n`,
        });
      } catch (err) {
        req.log.warn({ err }, 'team invitation e-mail not sent');
        throw new ApiError(503, 'invalid_request', 'The invitation e-mail could not be sent; try again later');
      }
      rt.logs.log({ kind: 'org_invite_team_member', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { email, team: team.name, member: email } });
      return { email, kind: 'invite', avatar: avatar(email, 'user', email), invited: true };
    },
  );

  app.delete(
    '/organization/:orgname/team/:teamname/invite/:email',
    {
      schema: { ...op('deleteTeamMemberEmailInvite', tag, 'Delete an invite of an email address to join a team.', 'org:admin'), params: InviteParams },
      config: { scope: 'org:admin' },
    },
    async (req, reply) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const team = await rt.tenancy.teams.get(org, req.params.teamname);
      if (!(await rt.tenancy.teams.deleteEmailInvite(team, req.params.email))) throw notFound();
      rt.logs.log({
        kind: 'org_delete_team_member_invite',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { email: req.params.email, team: team.name, member: req.params.email },
      });
      return reply.code(204).send();
    },
  );

  app.get(
    '/organization/:orgname/team/:teamname/permissions',
    {
      schema: { ...op('getOrganizationTeamPermissions', tag, 'Returns the list of repository permissions for the team.', 'org:admin'), params: TeamParams },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const team = await rt.tenancy.teams.get(org, req.params.teamname);
      const perms = await rt.tenancy.teams.permissions(team);
      return { permissions: perms.map((p) => ({ repository: { name: p.repository, is_public: p.visibility === 'public' }, role: p.role })) };
    },
  );

  // Team syncing needs a directory (LDAP, OIDC, Keystone); with Database authentication there is none, and
  // Quay's database backend answers every group lookup "Not supported".
  if (rt.config.FEATURE_TEAM_SYNCING) {
    const syncingTeam = async (req: FastifyRequest, params: { orgname: string; teamname: string }) => {
      const org = await adminOrg(rt, req, params.orgname);
      if (!rt.config.FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP && !rt.permissions.isSuperuser(req.principal)) throw unauthorizedFor(req.principal);
      const team = await rt.tenancy.teams.byName(org, params.teamname);
      if (!team) throw notFound();
      return team;
    };
    const syncCfg = { scope: 'org:admin' as const, fresh: true };
    app.post(
      '/organization/:orgname/team/:teamname/syncing',
      { schema: { ...op('enableOrganizationTeamSync', tag, 'Enables syncing of the team with a backing group.', 'org:admin'), params: TeamParams }, config: syncCfg },
      async (req) => {
        await syncingTeam(req, req.params);
        throw badRequest('Could not sync to group: Not supported');
      },
    );
    app.delete(
      '/organization/:orgname/team/:teamname/syncing',
      { schema: { ...op('disableOrganizationTeamSync', tag, 'Disables syncing of the team with a backing group.', 'org:admin'), params: TeamParams }, config: syncCfg },
      async (req) => {
        const team = await syncingTeam(req, req.params);
        // No team can be synced here, so there is nothing to stop.
        return { name: team.name, description: team.description, can_view: true, role: team.role, avatar: teamAvatar(team.name), new_team: false };
      },
    );
  }
}
