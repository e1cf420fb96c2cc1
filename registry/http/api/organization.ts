/** Organizations: create, view, change, delete; members. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { durationSeconds, type NamespaceRow } from '../../model/namespaces.js';
import { ApiError, badRequest, notFound, quayDataModelError } from './errors.js';
import { adminOrg, currentUser, orgByName, requireCaptcha, requireUser } from './auth.js';
import { namespaceQuotaFields } from './quota.js';
import { Email, OrgParams, op, typed } from './schema.js';
import { namespaceAvatar, teamAvatar } from './views.js';

/** A namespace's time machine window must be one of TAG_EXPIRATION_OPTIONS (users and organizations alike). */
export function checkTagExpiration(rt: Runtime, seconds: number): void {
  if (!rt.config.FEATURE_CHANGE_TAG_EXPIRATION) throw badRequest('Changing the tag expiration is disabled');
  const allowed = rt.config.TAG_EXPIRATION_OPTIONS.map(durationSeconds);
  if (!allowed.includes(seconds)) throw badRequest(`Invalid tag expiration: must be one of ${rt.config.TAG_EXPIRATION_OPTIONS.join(', ')}`);
}

/** Quay's organization view: the e-mail only for admins (empty otherwise), teams for members, settings for admins. */
async function orgView(rt: Runtime, req: FastifyRequest, org: NamespaceRow): Promise<Record<string, unknown>> {
  const isAdmin = await rt.permissions.canAdminNamespace(req.principal, org);
  const isMember = isAdmin || (await rt.permissions.isOrgMember(req.principal, org));
  const view: Record<string, unknown> = { name: org.name, email: isAdmin ? org.email : '', avatar: namespaceAvatar(org), is_admin: isAdmin, is_member: isMember };
  if (isMember) {
    const teams = await rt.tenancy.teams.list(org);
    const entries = await Promise.all(
      teams.map(async (t) => [
        t.name,
        {
          name: t.name,
          description: t.description,
          role: t.role,
          avatar: teamAvatar(t.name),
          can_view: isAdmin || (await rt.permissions.canViewTeam(req.principal, org, t.id)),
          repo_count: t.repo_count,
          member_count: t.member_count,
          is_synced: false,
        },
      ]),
    );
    view.teams = Object.fromEntries(entries);
    view.ordered_teams = teams.map((t) => t.name);
    Object.assign(view, await namespaceQuotaFields(rt, org));
  }
  if (isAdmin) {
    Object.assign(view, { invoice_email: false, invoice_email_address: null, tag_expiration_s: org.removed_tag_expiration_s, is_free_account: true });
  }
  return view;
}

export async function organizationRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'organization';

  app.post(
    '/organization/',
    {
      schema: {
        ...op('createOrganization', tag, 'Create a new organization.', 'user:admin'),
        body: Type.Object({
          name: Type.String({ minLength: 1, description: 'Organization username' }),
          email: Type.Optional(Email),
          contact_email: Type.Optional(Email),
          recaptcha_response: Type.Optional(Type.String({ maxLength: 8192, description: 'The reCAPTCHA answer (FEATURE_RECAPTCHA)' })),
        }),
      },
      config: { scope: 'user:admin' },
    },
    async (req, reply) => {
      const user = await currentUser(rt, req);
      if (!rt.permissions.mayCreateOrganization(req.principal)) {
        const why = rt.config.FEATURE_SUPERUSERS_ORG_CREATION_ONLY ? 'Only superusers may create organizations' : 'Restricted users cannot create organizations';
        throw new ApiError(403, 'insufficient_scope', why);
      }
      await requireCaptcha(rt, req, req.body.recaptcha_response);
      const org = await rt.tenancy.orgs.create({ name: req.body.name, email: req.body.email ?? req.body.contact_email ?? null, creator: user });
      rt.logs.log({ kind: 'org_create', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { namespace: org.name, email: org.email } });
      // Quay answers with the JSON string "Created".
      reply.code(201).type('application/json');
      return JSON.stringify('Created');
    },
  );

  app.get('/organization/:orgname', { schema: { ...op('getOrganization', tag, 'Get the details for the specified organization'), params: OrgParams } }, async (req) => {
    return orgView(rt, req, await orgByName(rt, req.params.orgname));
  });

  app.put(
    '/organization/:orgname',
    {
      schema: {
        ...op('changeOrganizationDetails', tag, 'Change the details for the specified organization.', 'org:admin'),
        params: OrgParams,
        body: Type.Object({ email: Type.Optional(Email), tag_expiration_s: Type.Optional(Type.Integer({ minimum: 0 })) }),
      },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const { email, tag_expiration_s } = req.body ?? {};
      if (tag_expiration_s !== undefined) checkTagExpiration(rt, tag_expiration_s);
      const changedEmail = email !== undefined && email !== org.email ? email : undefined;
      const updated = await rt.tenancy.orgs.update(org, { email: changedEmail, tagExpirationS: tag_expiration_s });
      if (changedEmail !== undefined)
        rt.logs.log({ kind: 'org_change_email', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { email: changedEmail, old_email: org.email } });
      if (tag_expiration_s !== undefined && tag_expiration_s !== org.removed_tag_expiration_s) {
        rt.logs.log({
          kind: 'org_change_tag_expiration',
          performer: req.principal,
          namespaceId: org.id,
          ip: req.ip,
          metadata: { tag_expiration: tag_expiration_s, namespace: org.name },
        });
      }
      // Quay answers with the organization's full view.
      return orgView(rt, req, updated);
    },
  );

  app.delete(
    '/organization/:orgname',
    {
      schema: { ...op('deleteAdminedOrganization', tag, 'Deletes the specified organization and everything in it.', 'org:admin'), params: OrgParams },
      config: { scope: 'org:admin', fresh: true },
    },
    async (req, reply) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      await rt.tenancy.orgs.deleteNamespace(org);
      rt.logs.log({ kind: 'org_delete', performer: req.principal, namespaceId: null, ip: req.ip, metadata: { namespace: org.name } });
      return reply.code(204).send();
    },
  );

  app.get(
    '/organization/:orgname/members',
    { schema: { ...op('getOrganizationMembers', tag, 'List the human members of the organization.', 'org:admin'), params: OrgParams }, config: { scope: 'org:admin' } },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const members = (await rt.tenancy.orgs.members(org)).filter((m) => m.kind === 'user');
      const direct = await rt.tenancy.orgs.directPermissions(org);
      return {
        members: members.map((m) => ({
          name: m.name,
          kind: 'user',
          avatar: namespaceAvatar({ name: m.name, kind: m.kind, email: m.email }),
          teams: m.teams.map((t) => ({ name: t, avatar: teamAvatar(t) })),
          repositories: direct.get(m.name) ?? [],
        })),
      };
    },
  );

  app.get(
    '/organization/:orgname/collaborators',
    { schema: { ...op('getOrganizationCollaborators', tag, 'List outside collaborators of the organization.', 'org:admin'), params: OrgParams }, config: { scope: 'org:admin' } },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const collaborators = await rt.tenancy.orgs.collaborators(org);
      return {
        collaborators: collaborators.map((c) => ({
          kind: 'user',
          name: c.name,
          avatar: namespaceAvatar({ name: c.name, kind: 'user', email: c.email }),
          repositories: c.repositories,
        })),
      };
    },
  );

  const MemberParams = Type.Object({ orgname: Type.String(), membername: Type.String() });

  app.get(
    '/organization/:orgname/members/:membername',
    {
      schema: { ...op('getOrganizationMember', tag, 'Retrieves the details of a member of the organization.', 'org:admin'), params: MemberParams },
      config: { scope: 'org:admin' },
    },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const member = await rt.namespaces.byName(req.params.membername);
      const teams = member ? await rt.tenancy.teams.teamsOf(org, member.id) : [];
      // The organization's own robots are members whether or not they are in a team.
      if (!member || member.kind === 'org' || (teams.length === 0 && member.robot_owner_id !== org.id)) throw notFound();
      return {
        name: member.name,
        kind: member.kind === 'robot' ? 'robot' : 'user',
        avatar: namespaceAvatar(member),
        teams: teams.map((t) => ({ name: t, avatar: teamAvatar(t) })),
        repositories: (await rt.tenancy.orgs.directPermissions(org, member.id)).get(member.name) ?? [],
      };
    },
  );

  app.delete(
    '/organization/:orgname/members/:membername',
    {
      schema: { ...op('removeOrganizationMember', tag, 'Removes a member from an organization (from every team).', 'org:admin'), params: MemberParams },
      config: { scope: 'org:admin' },
    },
    async (req, reply) => {
      requireUser(req);
      const org = await adminOrg(rt, req, req.params.orgname);
      const member = await rt.namespaces.byName(req.params.membername);
      if (!member) throw notFound();
      await rt.tenancy.orgs.removeMember(org, member).catch(quayDataModelError);
      rt.logs.log({ kind: 'org_remove_member', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { member: member.name } });
      return reply.code(204).send();
    },
  );
}
