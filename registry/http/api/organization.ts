/** Organizations: create, view, change, delete; members. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { durationSeconds } from '../../model/namespaces.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { adminOrg, currentUser, orgByName, requireUser } from './auth.js';
import { Email, OrgParams, op, typed } from './schema.js';
import { namespaceAvatar } from './views.js';

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
        }),
      },
      config: { scope: 'user:admin' },
    },
    async (req, reply) => {
      const user = await currentUser(rt, req);
      if (rt.config.FEATURE_SUPERUSERS_ORG_CREATION_ONLY && !rt.permissions.isSuperuser(req.principal)) {
        throw new ApiError(403, 'insufficient_scope', 'Only superusers may create organizations');
      }
      const org = await rt.tenancy.orgs.create({ name: req.body.name, email: req.body.email ?? req.body.contact_email ?? null, creator: user });
      rt.logs.log({ kind: 'org_create', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { namespace: org.name, email: org.email } });
      // Quay answers with the JSON string "Created".
      reply.code(201).type('application/json');
      return JSON.stringify('Created');
    },
  );

  app.get('/organization/:orgname', { schema: { ...op('getOrganization', tag, 'Get the details for the specified organization'), params: OrgParams } }, async (req) => {
    const org = await orgByName(rt, req.params.orgname);
    const isAdmin = await rt.permissions.canAdminNamespace(req.principal, org);
    const isMember = isAdmin || (await rt.permissions.isOrgMember(req.principal, org));
    const view: Record<string, unknown> = { name: org.name, avatar: namespaceAvatar(org), is_admin: isAdmin, is_member: isMember };
    if (isMember) {
      const teams = await rt.tenancy.teams.list(org);
      view.teams = Object.fromEntries(
        teams.map((t) => [t.name, { name: t.name, description: t.description, role: t.role, avatar: namespaceAvatar({ name: t.name, kind: 'user', email: null }), can_view: isAdmin, repo_count: t.repo_count, member_count: t.member_count, is_synced: false }]),
      );
      view.ordered_teams = teams.map((t) => t.name);
      if (rt.config.FEATURE_QUOTA_MANAGEMENT && rt.config.FEATURE_EDIT_QUOTA) {
        const quota = await rt.quotas.forNamespace(org.id);
        view.quotas = quota ? [{ id: quota.id, limit_bytes: quota.limit_bytes, limits: quota.limits.map((l) => ({ id: l.id, type: l.type, limit_percent: l.threshold_percent })) }] : [];
        view.quota_report = await rt.quotas.namespaceReport(org.id);
      }
    }
    if (isAdmin) {
      Object.assign(view, { email: org.email, invoice_email: false, invoice_email_address: null, tag_expiration_s: org.removed_tag_expiration_s, is_free_account: true });
    }
    return view;
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
      if (tag_expiration_s !== undefined) {
        if (!rt.config.FEATURE_CHANGE_TAG_EXPIRATION) throw badRequest('Changing the tag expiration is disabled');
        const allowed = rt.config.TAG_EXPIRATION_OPTIONS.map(durationSeconds);
        if (!allowed.includes(tag_expiration_s)) throw badRequest(`Invalid tag expiration: must be one of ${rt.config.TAG_EXPIRATION_OPTIONS.join(', ')}`);
      }
      const updated = await rt.tenancy.orgs.update(org, { email, tagExpirationS: tag_expiration_s });
      rt.logs.log({ kind: 'org_change_details', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { namespace: org.name, email, tag_expiration_s } });
      return { name: updated.name, avatar: namespaceAvatar(updated), email: updated.email, is_admin: true, is_member: true, tag_expiration_s: updated.removed_tag_expiration_s };
    },
  );

  app.delete('/organization/:orgname', { schema: { ...op('deleteAdminedOrganization', tag, 'Deletes the specified organization and everything in it.', 'org:admin'), params: OrgParams }, config: { scope: 'org:admin', fresh: true } }, async (req, reply) => {
    const org = await adminOrg(rt, req, req.params.orgname);
    await rt.tenancy.orgs.deleteNamespace(org);
    rt.logs.log({ kind: 'org_delete', performer: req.principal, namespaceId: null, ip: req.ip, metadata: { namespace: org.name } });
    reply.code(204).send();
  });

  app.get('/organization/:orgname/members', { schema: { ...op('getOrganizationMembers', tag, 'List the human members and robots of the organization.', 'org:admin'), params: OrgParams }, config: { scope: 'org:admin' } }, async (req) => {
    const org = await adminOrg(rt, req, req.params.orgname);
    const members = await rt.tenancy.orgs.members(org);
    return {
      members: members.map((m) => ({
        name: m.name,
        kind: 'user',
        is_robot: m.kind === 'robot',
        avatar: namespaceAvatar({ name: m.name, kind: m.kind, email: null }),
        teams: m.teams.map((t) => ({ name: t, avatar: namespaceAvatar({ name: t, kind: 'user', email: null }) })),
        repositories: [],
      })),
    };
  });

  const MemberParams = Type.Object({ orgname: Type.String(), membername: Type.String() });

  app.get('/organization/:orgname/members/:membername', { schema: { ...op('getOrganizationMember', tag, 'Retrieves the details of a member of the organization.', 'org:admin'), params: MemberParams }, config: { scope: 'org:admin' } }, async (req) => {
    const org = await adminOrg(rt, req, req.params.orgname);
    const member = await rt.namespaces.byName(req.params.membername);
    const teams = member ? await rt.tenancy.teams.teamsOf(org, member.id) : [];
    if (!member || teams.length === 0) throw notFound();
    return { name: member.name, kind: 'user', is_robot: member.kind === 'robot', avatar: namespaceAvatar(member), teams: teams.map((t) => ({ name: t })), repositories: [] };
  });

  app.delete('/organization/:orgname/members/:membername', { schema: { ...op('removeOrganizationMember', tag, 'Removes a member from an organization (from every team).', 'org:admin'), params: MemberParams }, config: { scope: 'org:admin' } }, async (req, reply) => {
    requireUser(req);
    const org = await adminOrg(rt, req, req.params.orgname);
    const member = await rt.namespaces.byName(req.params.membername);
    if (!member) throw notFound();
    await rt.tenancy.orgs.removeMember(org, member);
    rt.logs.log({ kind: 'org_remove_member', performer: req.principal, namespaceId: org.id, ip: req.ip, metadata: { member: member.name } });
    reply.code(204).send();
  });
}
