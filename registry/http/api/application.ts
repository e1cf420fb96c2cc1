/** OAuth applications of an organization and the access tokens they issue (Quay's "Generate token"). */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { parseScopes } from '../../auth/principal.js';
import { MAX_TOKEN_EXPIRATION_S, type AppRow } from '../../model/oauth.js';
import { badRequest, notFound } from './errors.js';
import { adminOrg, currentUser } from './auth.js';
import { OrgParams, op, typed } from './schema.js';
import { avatar } from './views.js';

/** Application tokens carry ISO 8601 UTC dates, unlike the rest of the API (as Quay writes them). */
function isoDate(d: Date | null): string | null {
  return d ? new Date(d).toISOString() : null;
}

const AppParams = Type.Object({ orgname: Type.String(), client_id: Type.String({ description: 'The OAuth client ID' }) });
const AppBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255, description: 'The name of the application' }),
  redirect_uri: Type.Optional(Type.String({ description: "The URI for the application's OAuth redirect" })),
  application_uri: Type.Optional(Type.String({ description: "The URI for the application's homepage" })),
  description: Type.Optional(Type.String({ description: 'The human-readable description for the application' })),
  avatar_email: Type.Optional(Type.String({ description: 'The e-mail address of the avatar to use for the application' })),
});

export async function applicationRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);
  const tag = 'organization';
  const cfg = { scope: 'org:admin' as const };

  app.get(
    '/organization/:orgname/applications',
    { schema: { ...op('getOrganizationApplications', tag, 'List the applications for the specified organization', 'org:admin'), params: OrgParams }, config: cfg },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      return { applications: (await rt.tenancy.oauth.list(org)).map((a) => rt.tenancy.oauth.view(a)) };
    },
  );

  app.post(
    '/organization/:orgname/applications',
    { schema: { ...op('createOrganizationApplication', tag, 'Creates a new application under this organization.', 'org:admin'), params: OrgParams, body: AppBody }, config: cfg },
    async (req) => {
      const org = await adminOrg(rt, req, req.params.orgname);
      const created = await rt.tenancy.oauth.create(org, req.body);
      rt.logs.log({
        kind: 'create_application',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { application_name: created.name, client_id: created.client_id },
      });
      return rt.tenancy.oauth.view(created);
    },
  );

  const appOf = async (
    req: Parameters<typeof adminOrg>[1],
    p: { orgname: string; client_id: string },
  ): Promise<{ org: Awaited<ReturnType<typeof adminOrg>>; application: AppRow }> => {
    const org = await adminOrg(rt, req, p.orgname);
    return { org, application: await rt.tenancy.oauth.get(org, p.client_id) };
  };

  app.get(
    '/organization/:orgname/applications/:client_id',
    { schema: { ...op('getOrganizationApplication', tag, 'Retrieves the application with the specified client_id.', 'org:admin'), params: AppParams }, config: cfg },
    async (req) => {
      const { application } = await appOf(req, req.params);
      return rt.tenancy.oauth.view(application);
    },
  );

  app.put(
    '/organization/:orgname/applications/:client_id',
    { schema: { ...op('updateOrganizationApplication', tag, 'Updates an application under this organization.', 'org:admin'), params: AppParams, body: AppBody }, config: cfg },
    async (req) => {
      const { org, application } = await appOf(req, req.params);
      const updated = await rt.tenancy.oauth.update(application, req.body);
      rt.logs.log({
        kind: 'update_application',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { application_name: updated.name, client_id: updated.client_id },
      });
      return rt.tenancy.oauth.view(updated);
    },
  );

  app.delete(
    '/organization/:orgname/applications/:client_id',
    {
      schema: { ...op('deleteOrganizationApplication', tag, 'Deletes the application under this organization, revoking its tokens.', 'org:admin'), params: AppParams },
      config: cfg,
    },
    async (req, reply) => {
      const { org, application } = await appOf(req, req.params);
      await rt.tenancy.oauth.delete(application);
      rt.logs.log({
        kind: 'delete_application',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { application_name: application.name, client_id: application.client_id },
      });
      return reply.code(204).send();
    },
  );

  app.post(
    '/organization/:orgname/applications/:client_id/resetclientsecret',
    { schema: { ...op('resetOrganizationApplicationClientSecret', tag, 'Resets the client secret of the application.', 'org:admin'), params: AppParams }, config: cfg },
    async (req) => {
      const { org, application } = await appOf(req, req.params);
      const updated = await rt.tenancy.oauth.resetSecret(application);
      rt.logs.log({
        kind: 'reset_application_client_secret',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { application_name: updated.name, client_id: updated.client_id },
      });
      return rt.tenancy.oauth.view(updated);
    },
  );

  app.get(
    '/organization/:orgname/applications/:client_id/tokens',
    { schema: { ...op('listOrganizationApplicationTokens', tag, 'List the access tokens issued by the application.', 'org:admin'), params: AppParams }, config: cfg },
    async (req) => {
      const { application } = await appOf(req, req.params);
      const tokens = await rt.tenancy.oauth.tokens(application);
      return { tokens: tokens.map((t) => ({ ...t, expires_at: isoDate(t.expires_at), created: isoDate(t.created), last_accessed: isoDate(t.last_accessed) })) };
    },
  );

  app.post(
    '/organization/:orgname/applications/:client_id/tokens',
    {
      schema: {
        ...op('createOrganizationApplicationToken', tag, 'Generate an access token for the calling user; the token is returned once.', 'org:admin'),
        params: AppParams,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 255, description: 'A name for the token' }),
          scope: Type.String({ minLength: 1, description: 'Space- or comma-separated scopes; the caller must hold each of them' }),
          expiration: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKEN_EXPIRATION_S, description: 'Lifetime in seconds (default and most: ten years)' })),
        }),
      },
      config: cfg,
    },
    async (req) => {
      const { org, application } = await appOf(req, req.params);
      const user = await currentUser(rt, req);
      const scopes = parseScopes(req.body.scope);
      if (!scopes) throw badRequest(`Invalid scope "${req.body.scope}": use repo:read, repo:write, repo:admin, repo:create, user:read, user:admin, org:admin or super:user`);
      // A token can never carry more than its creator holds.
      for (const s of scopes) {
        if (!rt.permissions.hasScope(req.principal, s)) throw badRequest(`You cannot grant the ${s} scope: your own credentials do not carry it`);
        if (s === 'super:user' && !rt.permissions.isSuperuser(req.principal)) throw badRequest('Only superusers may grant the super:user scope');
      }
      const { token, view } = await rt.tenancy.oauth.createToken(application, user, {
        name: req.body.name,
        scope: [...scopes].join(' '),
        expirationS: req.body.expiration ?? MAX_TOKEN_EXPIRATION_S,
      });
      rt.logs.log({
        kind: 'create_oauth_api_token',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { oauth_token_uuid: view.uuid, application_name: application.name, client_id: application.client_id, scope: view.scope, token_display_name: view.name },
      });
      return { ...view, expires_at: isoDate(view.expires_at), created: isoDate(view.created), last_accessed: null, token };
    },
  );

  app.delete(
    '/organization/:orgname/applications/:client_id/tokens/:token_uuid',
    {
      schema: {
        ...op('deleteOrganizationApplicationToken', tag, 'Revoke an access token of the application.', 'org:admin'),
        params: Type.Composite([AppParams, Type.Object({ token_uuid: Type.String() })]),
      },
      config: cfg,
    },
    async (req, reply) => {
      const { org, application } = await appOf(req, req.params);
      await rt.tenancy.oauth.deleteToken(application, req.params.token_uuid);
      rt.logs.log({
        kind: 'revoke_oauth_api_token',
        performer: req.principal,
        namespaceId: org.id,
        ip: req.ip,
        metadata: { oauth_token_uuid: req.params.token_uuid, application_name: application.name, client_id: application.client_id },
      });
      return reply.code(204).send();
    },
  );

  app.get(
    '/app/:client_id',
    { schema: { ...op('getApplicationInformation', 'application', 'Get information on the specified application'), params: Type.Object({ client_id: Type.String() }) } },
    async (req) => {
      const a = await rt.tenancy.oauth.byClientId(req.params.client_id);
      if (!a) throw notFound();
      return { name: a.name, description: a.description, uri: a.application_uri, avatar: avatar(a.name, 'app', a.avatar_email), organization: { name: a.namespace } };
    },
  );
}
