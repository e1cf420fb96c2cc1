/**
 * The calling user: profile, sign-up, sign-in/out (browser sessions), stars, team invitations (as
 * notifications) and the OAuth tokens the user holds.
 */
import type { FastifyInstance } from 'fastify';
import { notificationView } from '../../model/notifications.js';
import type { AuthorizationRow } from '../../model/oauth.js';
import { Type } from '@sinclair/typebox';
import type { Runtime } from '../../runtime.js';
import { passwordProblem } from '../../auth/passwords.js';
import { UNCONFIRMED_ACCOUNT, UnconfirmedAccount } from '../../auth/credentials.js';
import { NO_CONTROL_PATTERN } from '../../input.js';
import type { NamespaceRow } from '../../model/namespaces.js';
import { validNamespaceName } from '../../oci/names.js';
import { NAME_RULE } from '../../model/orgs.js';
import { ApiError, badRequest, notFound, quayDataModelError } from './errors.js';
import { currentUser, repoWithRole, requireCaptcha, requireUser, setSessionCookie } from './auth.js';
import { checkTagExpiration } from './organization.js';
import { namespaceQuotaFields } from './quota.js';
import { Email, RepoParams, op, typed } from './schema.js';
import { avatar, namespaceAvatar, scopeInformation } from './views.js';

/** Quay's database authentication answers every wrong user name or password with this text (data/users/database.py). */
const INVALID_CREDENTIALS = 'Invalid Username or Password';

/** A user name or password: never empty, never a control character. */
const Credential = (description: string) => Type.String({ minLength: 1, pattern: NO_CONTROL_PATTERN, description });

/** The full view of the calling user (GET /user/). */
export async function userView(rt: Runtime, user: NamespaceRow) {
  const orgs = await rt.tenancy.orgs.ofUser(user.id);
  const superuser = rt.namespaces.isSuperuser(user);
  return {
    anonymous: false,
    username: user.name,
    avatar: namespaceAvatar(user),
    can_create_repo: !rt.permissions.isRestrictedUserName(user.name),
    is_me: true,
    verified: user.verified,
    email: user.email,
    logins: [],
    invoice_email: false,
    invoice_email_address: null,
    preferred_namespace: false,
    tag_expiration_s: user.removed_tag_expiration_s,
    prompts: [],
    company: null,
    family_name: null,
    given_name: null,
    location: null,
    is_free_account: true,
    has_password_set: user.password_hash !== null,
    ...(await namespaceQuotaFields(rt, user)),
    organizations: orgs.map(({ org, admin, creator }) => ({
      name: org.name,
      avatar: namespaceAvatar(org),
      can_create_repo: creator,
      public: false,
      is_org_admin: admin,
      preferred_namespace: false,
    })),
    super_user: superuser,
    ...(rt.namespaces.isGlobalReadonlySuperuser(user) ? { global_readonly_super_user: true } : {}),
  };
}

/** Quay's view of an OAuth token the user granted: the application (with its organization) and the scopes. */
function authorizationView(t: AuthorizationRow) {
  return {
    application: {
      name: t.application,
      url: t.application_uri,
      avatar: avatar(t.application, 'app', t.avatar_email ?? t.namespace_email),
      organization: { name: t.namespace, avatar: avatar(t.namespace, 'org', t.namespace_email) },
    },
    scopes: scopeInformation(t.scope),
    uuid: t.uuid,
  };
}

export async function userRoutes(base: FastifyInstance, rt: Runtime): Promise<void> {
  const app = typed(base);

  app.get('/user/', { schema: op('getLoggedInUser', 'user', 'Get user information for the authenticated user.', 'user:read'), config: { scope: 'user:read' } }, async (req) => {
    if (req.principal.kind !== 'user') throw new ApiError(401, 'invalid_token', 'Requires authentication', { session_required: false });
    return userView(rt, await currentUser(rt, req));
  });

  app.get(
    '/user/organizations',
    {
      schema: op(
        'listUserOrganizations',
        'user',
        'The organizations of the calling user with the counts the organizations list shows (repositories visible to the caller, teams, last modified; members and robots where the caller is an admin), in one call instead of one per row.',
        'user:read',
      ),
      config: { scope: 'user:read' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      const orgs = await rt.tenancy.orgs.ofUser(user.id);
      const superuser = rt.permissions.canReadAsSuperuser(req.principal);
      const administered = new Set(orgs.filter((o) => o.admin || superuser).map((o) => o.org.id));
      const counts = await rt.tenancy.orgs.summaries(
        req.principal,
        orgs.map((o) => o.org.id),
        administered,
      );
      return {
        organizations: orgs.map(({ org, admin }) => {
          const { id: _id, ...c } = counts.get(org.id)!;
          return { name: org.name, avatar: namespaceAvatar(org), is_org_admin: admin, ...c };
        }),
      };
    },
  );

  app.post(
    '/user/',
    {
      schema: {
        ...op('createNewUser', 'user', 'Create a new user.'),
        body: Type.Object({
          username: Type.String({ minLength: 1, pattern: NO_CONTROL_PATTERN, description: "The user's username" }),
          password: Credential("The user's password"),
          email: Type.Optional(Email),
          invite_code: Type.Optional(Type.String({ maxLength: 128, description: 'The code of a team invitation mailed to the e-mail address' })),
          recaptcha_response: Type.Optional(Type.String({ maxLength: 8192, description: 'The reCAPTCHA answer (FEATURE_RECAPTCHA)' })),
        }),
      },
      config: { noCsrf: true, anonymousAllowed: true },
    },
    async (req, reply) => {
      if (!rt.config.FEATURE_USER_CREATION || !rt.config.FEATURE_DIRECT_LOGIN) throw notFound();
      const { username, password, email, invite_code } = req.body;
      const inviteOnly = rt.config.FEATURE_INVITE_ONLY_USER_CREATION;
      if (inviteOnly && !invite_code) throw badRequest('Cannot create non-invited user');
      if (!validNamespaceName(username)) throw badRequest(`Invalid username "${username}": ${NAME_RULE}`);
      if (rt.namespaces.reservedForSuperusers(username)) throw badRequest(`The username "${username}" is reserved for a superuser named in the configuration`);
      const problem = passwordProblem(password);
      if (problem) throw badRequest(problem);
      if (rt.config.FEATURE_MAILING && !email) throw badRequest('Email address is required');
      await requireCaptcha(rt, req, req.body.recaptcha_response);
      // An invitation mailed to the address makes the new user a member of its team; with
      // FEATURE_INVITE_ONLY_USER_CREATION there is no account without one. With e-mail, the address is proven
      // before the account can sign in: by that invitation (Quay's handle_invite_code), or by a mailed link.
      const { user, awaiting } = await rt.db.tx(async (q) => {
        const created = await rt.namespaces.createUser({ name: username, password, email: email ?? null, verified: !rt.accountMail.enabled }, q);
        const invited = Boolean(invite_code && email) && (await rt.tenancy.teams.useEmailInvite(q, invite_code!, email!, created.id));
        if (inviteOnly && !invited) throw badRequest('Creation of a user account for this e-mail is disabled; please contact an administrator');
        if (created.verified) return { user: created, awaiting: false };
        if (invited) return { user: await rt.accountMail.markVerified(created.id, q), awaiting: false };
        await rt.accountMail.sendConfirmation(created, null, q);
        return { user: created, awaiting: true };
      });
      rt.logs.log({ kind: 'user_create', performer: rt.auth.userPrincipal(user), namespaceId: user.id, ip: req.ip, metadata: { username } });
      if (awaiting) return { awaiting_verification: true };
      const session = await rt.tenancy.sessions.create(user.id);
      setSessionCookie(rt, reply, session.id);
      reply.header('x-next-csrf-token', session.csrf);
      return userView(rt, user);
    },
  );

  app.put(
    '/user/',
    {
      schema: {
        ...op('changeUserDetails', 'user', 'Update a users details such as password or email.', 'user:admin'),
        body: Type.Object({
          password: Type.Optional(Type.String()),
          email: Type.Optional(Email),
          tag_expiration_s: Type.Optional(Type.Integer({ minimum: 0, description: 'The number of seconds for tag expiration' })),
        }),
      },
      config: { scope: 'user:admin', fresh: true },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      const { password, email, tag_expiration_s } = req.body ?? {};
      if (tag_expiration_s !== undefined) checkTagExpiration(rt, tag_expiration_s);
      if (password !== undefined) {
        const problem = passwordProblem(password);
        if (problem) throw badRequest(problem);
        await rt.tenancy.users.setPassword(user, password, req.apiAuth.sessionId);
        rt.logs.log({ kind: 'account_change_password', performer: req.principal, namespaceId: user.id, ip: req.ip });
      }
      // With e-mail, a new address takes effect when the link mailed to it is followed (GET /confirm).
      if (email !== undefined && email !== user.email && rt.accountMail.enabled) {
        await rt.accountMail.sendConfirmation(user, email);
      } else if (email !== undefined && email !== user.email) {
        await rt.tenancy.users.setEmail(user, email);
        rt.logs.log({ kind: 'user_change_email', performer: req.principal, namespaceId: user.id, ip: req.ip, metadata: { email, old_email: user.email } });
      }
      if (tag_expiration_s !== undefined && tag_expiration_s !== user.removed_tag_expiration_s) {
        await rt.tenancy.orgs.update(user, { tagExpirationS: tag_expiration_s });
        rt.logs.log({
          kind: 'user_change_tag_expiration',
          performer: req.principal,
          namespaceId: user.id,
          ip: req.ip,
          metadata: { tag_expiration: tag_expiration_s, username: user.name },
        });
      }
      return userView(rt, (await rt.namespaces.byId(user.id))!);
    },
  );

  app.delete('/user/', { schema: op('deleteCurrentUser', 'user', 'Deletes the current user.', 'user:admin'), config: { scope: 'user:admin', fresh: true } }, async (req, reply) => {
    const user = await currentUser(rt, req);
    if (rt.namespaces.isSuperuser(user)) throw badRequest('Cannot delete a superuser');
    await rt.tenancy.orgs.deleteNamespace(user);
    setSessionCookie(rt, reply, null);
    return reply.code(204).send();
  });

  // Quay's ConvertToOrganization: the signed-in account becomes an organization whose owners team holds the
  // named admin user, and that admin is signed in (as Quay's conduct_signin). The conversion is a superuser's
  // take-ownership of a user, done by the account itself.
  app.post(
    '/user/convert',
    {
      schema: {
        ...op('convertUserToOrganization', 'user', 'Convert the user to an organization.', 'user:admin'),
        body: Type.Object({
          adminUser: Credential("The user who will become an org admin's username"),
          adminPassword: Credential("The user who will become an org admin's password"),
          plan: Type.Optional(Type.String({ description: 'The plan to which the organization should be subscribed (ignored: no billing)' })),
        }),
      },
      config: { scope: 'user:admin' },
    },
    async (req, reply) => {
      if (rt.config.AUTHENTICATION_TYPE !== 'Database') throw notFound();
      const user = await currentUser(rt, req);
      const admin = await rt.auth.password(req.body.adminUser, req.body.adminPassword);
      if (!admin || admin.kind !== 'user') throw badRequest('The admin user credentials are not valid', { reason: 'invaliduser' });
      if (admin.id === user.id) throw badRequest('The admin user is not valid', { reason: 'invaliduser' });
      const adminRow = (await rt.namespaces.byId(admin.id))!;
      await rt.tenancy.orgs.takeOwnership(user, adminRow);
      rt.logs.log({ kind: 'account_convert', performer: req.principal, namespaceId: user.id, ip: req.ip, metadata: { admin: adminRow.name } });
      const session = await rt.tenancy.sessions.create(admin.id);
      setSessionCookie(rt, reply, session.id);
      reply.header('x-next-csrf-token', session.csrf);
      return { success: true };
    },
  );

  app.post(
    '/user/clientkey',
    {
      schema: {
        ...op('generateUserClientKey', 'user', "Return the user's encrypted password, usable in place of the password by registry clients.", 'user:admin'),
        body: Type.Object({ password: Credential("The user's password") }),
      },
      config: { scope: 'user:admin' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      if (!(await rt.auth.password(user.name, req.body.password))) throw badRequest(INVALID_CREDENTIALS);
      return { key: rt.auth.encryptPassword(req.body.password) };
    },
  );

  app.post(
    '/signin',
    {
      schema: {
        ...op('signinUser', 'user', 'Sign in the user with the specified credentials.'),
        body: Type.Object({ username: Credential('The user name'), password: Credential('The password'), invite_code: Type.Optional(Type.String()) }),
      },
      config: { noCsrf: true, readonlyAllowed: true, anonymousAllowed: true },
    },
    async (req, reply) => {
      if (!rt.config.FEATURE_DIRECT_LOGIN) throw notFound();
      let principal;
      try {
        principal = await rt.auth.password(req.body.username, req.body.password);
      } catch (err) {
        if (!(err instanceof UnconfirmedAccount)) throw err;
        reply.code(403);
        return { needsEmailVerification: true, invalidCredentials: false, message: UNCONFIRMED_ACCOUNT };
      }
      if (!principal || principal.kind !== 'user') {
        rt.logs.log({ kind: 'login_failure', performer: { kind: 'anonymous' }, namespaceId: null, ip: req.ip, metadata: { type: 'quayauth', username: req.body.username } });
        reply.code(403);
        return { needsEmailVerification: false, invalidCredentials: true, message: INVALID_CREDENTIALS };
      }
      const session = await rt.tenancy.sessions.create(principal.id);
      rt.logs.log({ kind: 'login_success', performer: principal, namespaceId: principal.id, ip: req.ip, metadata: { type: 'quayauth' } });
      setSessionCookie(rt, reply, session.id);
      reply.header('x-next-csrf-token', session.csrf);
      return { success: true };
    },
  );

  app.post(
    '/recovery',
    {
      schema: {
        ...op('requestRecoveryEmail', 'user', 'Request a password recovery email.'),
        body: Type.Object({
          email: Email,
          recaptcha_response: Type.Optional(Type.String({ maxLength: 8192, description: 'The reCAPTCHA answer (FEATURE_RECAPTCHA)' })),
        }),
      },
      config: { noCsrf: true, anonymousAllowed: true },
    },
    async (req) => {
      if (!rt.accountMail.enabled) throw notFound();
      await requireCaptcha(rt, req, req.body.recaptcha_response);
      return rt.accountMail.requestRecovery(req.body.email);
    },
  );

  app.post(
    '/signin/verify',
    {
      schema: { ...op('verifyUser', 'user', 'Verifies the signed in user with the specified credentials.'), body: Type.Object({ password: Credential('The password') }) },
      config: { readonlyAllowed: true },
    },
    async (req, reply) => {
      const p = requireUser(req);
      if (!(await rt.auth.password(p.name, req.body.password))) {
        reply.code(403);
        return { message: INVALID_CREDENTIALS, invalidCredentials: true };
      }
      if (req.apiAuth.kind === 'session') {
        await rt.tenancy.sessions.refresh(req.apiAuth.sessionId!);
      } else {
        // As Quay's common_login: a caller verified by token and password gets a fresh session of its own.
        const session = await rt.tenancy.sessions.create(p.id);
        setSessionCookie(rt, reply, session.id);
        reply.header('x-next-csrf-token', session.csrf);
      }
      return { success: true };
    },
  );

  app.post('/signout', { schema: op('logout', 'user', 'Request that the current user be signed out.'), config: { readonlyAllowed: true } }, async (req, reply) => {
    if (req.apiAuth.sessionId) await rt.tenancy.sessions.destroy(req.apiAuth.sessionId);
    setSessionCookie(rt, reply, null);
    return { success: true };
  });

  app.get(
    '/users/:username',
    { schema: { ...op('getUserInformation', 'user', 'Get user information for the specified user.'), params: Type.Object({ username: Type.String() }) } },
    async (req) => {
      const user = await rt.namespaces.byName(req.params.username);
      if (!user || user.kind !== 'user') throw notFound();
      // As in Quay, whether someone is a superuser is not shown: `super_user` is there only for a superuser
      // caller, and true only when they look themselves up.
      const self = req.principal.kind === 'user' && req.principal.id === user.id;
      return {
        anonymous: false,
        username: user.name,
        avatar: namespaceAvatar(user),
        ...(rt.permissions.isSuperuser(req.principal) ? { super_user: self } : {}),
      };
    },
  );

  app.get(
    '/user/starred',
    {
      schema: { ...op('listStarredRepos', 'user', 'List all starred repositories.', 'repo:read'), querystring: Type.Object({ next_page: Type.Optional(Type.String()) }) },
      config: { scope: 'repo:read' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      const after = req.query.next_page ? rt.tenancy.pages.openJson<{ start_id: number }>(req.query.next_page) : { start_id: 0 };
      if (!after) throw badRequest('Invalid or expired next_page token');
      const rows = await rt.tenancy.repoViews.list(req.principal, {
        starredBy: user.id,
        includePublic: true,
        lastModified: false,
        popularity: false,
        afterId: after.start_id,
        limit: 100,
      });
      const page = rows.slice(0, 100);
      return {
        repositories: page.map((r) => ({ namespace: r.namespace, name: r.name, description: r.description, is_public: r.visibility === 'public' })),
        ...(rows.length > 100 ? { next_page: rt.tenancy.pages.sealJson({ start_id: page[page.length - 1].id }, 2 * 86400) } : {}),
      };
    },
  );

  app.post(
    '/user/starred',
    {
      schema: {
        ...op('createStar', 'user', 'Star a repository.', 'repo:read'),
        body: Type.Object({ namespace: Type.String({ minLength: 1 }), repository: Type.String({ minLength: 1 }) }),
      },
      config: { scope: 'repo:read' },
    },
    async (req, reply) => {
      const user = await currentUser(rt, req);
      const { repo } = await repoWithRole(rt, req, `${req.body.namespace}/${req.body.repository}`, 'read');
      await rt.tenancy.repoViews.star(user.id, repo.id);
      reply.code(201);
      return { namespace: req.body.namespace, repository: req.body.repository };
    },
  );

  app.delete(
    '/user/starred/:namespace/:repository',
    { schema: { ...op('deleteStar', 'user', 'Removes a star from a repository.', 'user:admin'), params: RepoParams }, config: { scope: 'user:admin' } },
    async (req, reply) => {
      const user = await currentUser(rt, req);
      const target = await rt.repositories.lookup({ namespace: req.params.namespace, name: req.params.repository, full: `${req.params.namespace}/${req.params.repository}` });
      if (target.repo) await rt.tenancy.repoViews.unstar(user.id, target.repo.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/user/notifications',
    {
      schema: {
        ...op('listUserNotifications', 'user', 'List the notifications for the user.', 'user:admin'),
        querystring: Type.Object({
          page: Type.Integer({ minimum: 0, default: 0, description: 'Offset page number. (int)' }),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Limit on the number of results (int)' }),
        }),
      },
      config: { scope: 'user:admin' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      // Quay's pages count from 1, and page 0 (its default) is the first page too.
      const records = await rt.notifications.list(await rt.notifications.targetsOf(user.id), Math.max(1, req.query.page), req.query.limit);
      return { notifications: records.rows.map(notificationView), additional: records.additional };
    },
  );

  app.put(
    '/teaminvite/:code',
    {
      schema: { ...op('acceptOrganizationTeamInvite', 'team', 'Accepts an invite to join a team in an organization.', 'user:admin'), params: Type.Object({ code: Type.String() }) },
      config: { scope: 'user:admin' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      const joined = await rt.tenancy.teams.acceptInvite(req.params.code, user).catch(quayDataModelError);
      const org = await rt.namespaces.byName(joined.org);
      rt.logs.log({
        kind: 'org_team_member_invite_accepted',
        performer: req.principal,
        namespaceId: org?.id ?? null,
        ip: req.ip,
        metadata: { member: user.name, team: joined.team },
      });
      return joined;
    },
  );

  app.delete(
    '/teaminvite/:code',
    {
      schema: {
        ...op('declineOrganizationTeamInvite', 'team', 'Declines an invite to join a team in an organization.', 'user:admin'),
        params: Type.Object({ code: Type.String() }),
      },
      config: { scope: 'user:admin' },
    },
    async (req, reply) => {
      const user = await currentUser(rt, req);
      await rt.tenancy.teams.declineInvite(req.params.code, user).catch(quayDataModelError);
      return reply.code(204).send();
    },
  );

  app.get(
    '/user/authorizations',
    { schema: op('listUserAuthorizations', 'user', 'List the OAuth tokens the user holds.', 'user:admin'), config: { scope: 'user:admin' } },
    async (req) => {
      const user = await currentUser(rt, req);
      return { authorizations: (await rt.tenancy.oauth.authorizationsOf(user)).map(authorizationView) };
    },
  );

  app.get(
    '/user/authorizations/:uuid',
    {
      schema: { ...op('getUserAuthorization', 'user', 'An OAuth token the user holds.', 'user:admin'), params: Type.Object({ uuid: Type.String() }) },
      config: { scope: 'user:admin' },
    },
    async (req) => {
      const user = await currentUser(rt, req);
      const [token] = await rt.tenancy.oauth.authorizationsOf(user, req.params.uuid);
      if (!token) throw notFound();
      return authorizationView(token);
    },
  );

  app.delete(
    '/user/authorizations/:uuid',
    {
      schema: { ...op('deleteUserAuthorization', 'user', 'Revoke an OAuth token the user holds.', 'user:admin'), params: Type.Object({ uuid: Type.String() }) },
      config: { scope: 'user:admin' },
    },
    async (req, reply) => {
      const user = await currentUser(rt, req);
      if (!(await rt.tenancy.oauth.revokeAuthorization(user, req.params.uuid))) throw notFound();
      return reply.code(204).send();
    },
  );
}
