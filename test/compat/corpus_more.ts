/**
 * More pairs of the compatibility corpus (see corpus.ts for the format): the served endpoints of Quay 3.8's
 * team, superuser, user, robot, namespacequota (user quota), suconfig and organization (not proxy cache)
 * resources. Replayed after corpus.ts's pairs, in order; they make the namespaces they use
 * (`corpusorg`, users `corpususer` and `corpussignup`). The signed-in superuser is the fixture's `admin`
 * (password `admin-password-1`, test/integration/api/fixture.ts initialize).
 */
import type { CompatPair } from './corpus.js';

const ERROR_KEYS = { type: 'string', title: 'string', status: 'number', detail: 'string', error_message: 'string', error_type: 'string' } as const;
const QUOTA_KEYS = { id: 'number', limit_bytes: 'number', default_config: 'boolean', limits: 'array', default_config_exists: 'boolean' } as const;
const TEAM_KEYS = { name: 'string', description: 'string', can_view: 'boolean', role: 'string', avatar: 'object', new_team: 'boolean' } as const;
const USER_VIEW_KEYS = { anonymous: 'boolean', username: 'string', avatar: 'object', can_create_repo: 'boolean', is_me: 'boolean', verified: 'boolean', email: 'string' } as const;
const AUTHORIZATION_KEYS = { application: 'object', scopes: 'array', uuid: 'string' } as const;
/** Quay's database authentication refuses a wrong password with this text (data/users/database.py verify_credentials). */
const INVALID_CREDENTIALS = 'Invalid Username or Password';
/** A uuid nothing has. */
const NO_SUCH_UUID = '00000000-0000-4000-8000-000000000000';

export const CORPUS_MORE: CompatPair[] = [
  {
    cite: 'endpoints/api/superuser.py ChangeLog.get (the CHANGELOG.md shipped with the registry)',
    request: { method: 'GET', path: '/api/v1/superuser/changelog/' },
    response: { status: 200, type: 'application/json', keys: { log: 'string' }, texts: { log: '# quay-ts change log' } },
  },
  {
    cite: 'endpoints/api/suconfig.py SuperUserRegistryStatus.get (SETUP_COMPLETE: ready)',
    request: { method: 'GET', path: '/api/v1/superuser/registrystatus' },
    response: { status: 200, type: 'application/json', body: { provider_id: 'file', status: 'ready' } },
  },

  // Sign-in, verification, client keys and the signed-in user's account.
  {
    cite: 'endpoints/api/superuser.py SuperUserList.post (the password for the sign-in pairs below)',
    request: { method: 'POST', path: '/api/v1/superuser/users/', body: { username: 'corpususer', email: 'corpususer@example.com' } },
    response: { status: 200, type: 'application/json', save: { corpususer_password: 'password' } },
  },
  {
    cite: 'endpoints/api/user.py Signin.post, conduct_signin',
    request: { method: 'POST', path: '/api/v1/signin', body: { username: 'corpususer', password: '{corpususer_password}' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/user.py Signin.post, conduct_signin with a wrong password: 403',
    request: { method: 'POST', path: '/api/v1/signin', body: { username: 'corpususer', password: 'not-the-password' } },
    response: { status: 403, type: 'application/json', body: { needsEmailVerification: false, invalidCredentials: true, message: INVALID_CREDENTIALS } },
  },
  {
    cite: 'endpoints/api/user.py VerifyUser.post (the signed-in user, by OAuth token, and its password)',
    request: { method: 'POST', path: '/api/v1/signin/verify', body: { password: 'admin-password-1' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/user.py ClientKey.post',
    request: { method: 'POST', path: '/api/v1/user/clientkey', body: { password: 'admin-password-1' } },
    response: { status: 200, type: 'application/json', keys: { key: 'string' } },
  },
  {
    cite: 'endpoints/api/user.py ClientKey.post with a wrong password: request_error(message=error_message)',
    request: { method: 'POST', path: '/api/v1/user/clientkey', body: { password: 'not-the-password' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'invalid_request', error_message: INVALID_CREDENTIALS } },
  },
  {
    cite: 'endpoints/api/user.py ConvertToOrganization.post naming the account itself as admin: request_error(reason="invaliduser")',
    request: { method: 'POST', path: '/api/v1/user/convert', body: { adminUser: 'admin', adminPassword: 'admin-password-1' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'The admin user is not valid', reason: 'invaliduser' } },
  },
  {
    cite: 'endpoints/api/user.py ConvertToOrganization.post with credentials that do not sign in',
    request: { method: 'POST', path: '/api/v1/user/convert', body: { adminUser: 'nobody-here', adminPassword: 'not-a-password' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'The admin user credentials are not valid', reason: 'invaliduser' } },
  },
  {
    cite: 'endpoints/api/user.py User.post (FEATURE_USER_CREATION) with FEATURE_MAILING: a confirmation link is mailed',
    request: { method: 'POST', path: '/api/v1/user/', body: { username: 'corpussignup', password: 'corpus-password-1', email: 'corpussignup@example.com' } },
    response: { status: 200, type: 'application/json', body: { awaiting_verification: true } },
  },
  {
    cite: 'endpoints/api/user.py Signin.post of an account awaiting its e-mail confirmation, conduct_signin (common_login refuses an unverified user)',
    request: { method: 'POST', path: '/api/v1/signin', body: { username: 'corpussignup', password: 'corpus-password-1' } },
    response: {
      status: 403,
      type: 'application/json',
      keys: { needsEmailVerification: 'boolean', invalidCredentials: 'boolean' },
      body: { needsEmailVerification: true, invalidCredentials: false },
    },
  },
  {
    cite: 'endpoints/api/user.py Recovery.post (FEATURE_MAILING) for an address nobody has',
    request: { method: 'POST', path: '/api/v1/recovery', body: { email: 'nobody-here@example.com' } },
    response: { status: 200, type: 'application/json', body: { status: 'sent' } },
  },
  {
    cite: 'endpoints/api/user.py Recovery.post for a user address, send_recovery_email',
    request: { method: 'POST', path: '/api/v1/recovery', body: { email: 'corpususer@example.com' } },
    response: { status: 200, type: 'application/json', body: { status: 'sent' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserSendRecoveryEmail.post',
    request: { method: 'POST', path: '/api/v1/superusers/users/corpususer/sendrecovery' },
    response: { status: 200, type: 'application/json', body: { email: 'corpususer@example.com' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserSendRecoveryEmail.post for a superuser: InvalidRequest',
    request: { method: 'POST', path: '/api/v1/superusers/users/admin/sendrecovery' },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Cannot send a recovery email for a superuser' } },
  },
  {
    cite: 'endpoints/api/user.py User.post for a taken name: request_error',
    request: { method: 'POST', path: '/api/v1/user/', body: { username: 'corpussignup', password: 'corpus-password-1', email: 'other@example.com' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'The username already exists' } },
  },
  {
    cite: 'endpoints/api/user.py User.put (tag_expiration_s with FEATURE_CHANGE_TAG_EXPIRATION), user_view',
    request: { method: 'PUT', path: '/api/v1/user/', body: { tag_expiration_s: 604800 } },
    response: { status: 200, type: 'application/json', keys: USER_VIEW_KEYS, body: { username: 'admin', tag_expiration_s: 604800 } },
  },
  {
    // Quay deletes a superuser's own account; here it is refused (README, remaining differences): the name stays
    // in SUPER_USERS, and whoever signed up with it next would be a superuser.
    cite: 'endpoints/api/user.py User.delete by a superuser',
    request: { method: 'DELETE', path: '/api/v1/user/' },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Cannot delete a superuser' } },
  },
  {
    cite: 'endpoints/api/user.py UserNotificationList.get, notification_view',
    request: { method: 'GET', path: '/api/v1/user/notifications' },
    response: { status: 200, type: 'application/json', keys: { notifications: 'array', additional: 'boolean' } },
  },
  {
    cite: 'endpoints/api/user.py UserNotification.get of an unknown uuid: NotFound',
    request: { method: 'GET', path: `/api/v1/user/notifications/${NO_SUCH_UUID}` },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    cite: 'endpoints/api/user.py UserNotification.put of an unknown uuid: NotFound',
    request: { method: 'PUT', path: `/api/v1/user/notifications/${NO_SUCH_UUID}`, body: { dismissed: true } },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    cite: "endpoints/api/user.py UserAuthorizationList.get, authorization_view (the corpus's own OAuth token)",
    request: { method: 'GET', path: '/api/v1/user/authorizations' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { authorizations: 'array' },
      items: { key: 'authorizations', keys: AUTHORIZATION_KEYS },
      save: { authorization_uuid: 'authorizations.0.uuid' },
    },
  },
  {
    cite: 'endpoints/api/user.py UserAuthorization.get, authorization_view',
    request: { method: 'GET', path: '/api/v1/user/authorizations/{authorization_uuid}' },
    response: { status: 200, type: 'application/json', keys: AUTHORIZATION_KEYS },
  },
  {
    cite: 'endpoints/api/user.py UserAuthorization.delete of an unknown uuid: NotFound (the corpus keeps its own token)',
    request: { method: 'DELETE', path: `/api/v1/user/authorizations/${NO_SUCH_UUID}` },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },

  // The signed-in user's quota, set by a superuser.
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuotaList.post (a quota on the signed-in superuser)',
    request: { method: 'POST', path: '/api/v1/superuser/users/admin/quota', body: { limit_bytes: 104857600 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/namespacequota.py UserQuotaList.get (the id for the pairs below)',
    request: { method: 'GET', path: '/api/v1/user/quota' },
    response: { status: 200, type: 'application/json', items: { key: '', keys: QUOTA_KEYS }, save: { admin_quota_id: '0.id' } },
  },
  {
    cite: 'endpoints/api/namespacequota.py UserQuota.get, quota_view',
    request: { method: 'GET', path: '/api/v1/user/quota/{admin_quota_id}' },
    response: { status: 200, type: 'application/json', keys: QUOTA_KEYS, body: { limit_bytes: 104857600 } },
  },
  {
    // Quay 3.8 has no endpoint that adds a limit to a user's quota (its limit writes look the namespace up as an
    // organization), so a user's quota has none.
    cite: 'endpoints/api/namespacequota.py UserQuotaLimitList.get (no limits)',
    request: { method: 'GET', path: '/api/v1/user/quota/{admin_quota_id}/limit' },
    response: { status: 200, type: 'application/json', body: [] },
  },
  {
    cite: 'endpoints/api/namespacequota.py UserQuotaLimit.get of an unknown limit: NotFound',
    request: { method: 'GET', path: '/api/v1/user/quota/{admin_quota_id}/limit/999999' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuota.delete (the signed-in superuser has no quota again)',
    request: { method: 'DELETE', path: '/api/v1/superuser/users/admin/quota/{admin_quota_id}' },
    response: { status: 204 },
  },

  // An organization of the corpus: teams, invitations, syncing, members, robots, applications, quotas.
  {
    cite: 'endpoints/api/organization.py OrganizationList.post',
    request: { method: 'POST', path: '/api/v1/organization/', body: { name: 'corpusorg', email: 'corpusorg@example.com' } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/team.py OrganizationTeam.put',
    request: { method: 'PUT', path: '/api/v1/organization/corpusorg/team/staff', body: { role: 'member' } },
    response: { status: 200, type: 'application/json', keys: TEAM_KEYS, body: { name: 'staff', new_team: true } },
  },
  {
    cite: 'endpoints/api/robot.py OrgRobot.put',
    request: { method: 'PUT', path: '/api/v1/organization/corpusorg/robots/bot', body: {} },
    response: { status: 201, type: 'application/json', body: { name: 'corpusorg+bot' } },
  },
  {
    cite: 'endpoints/api/team.py TeamMember.put: a robot of the organization joins at once (member_view, invited false)',
    request: { method: 'PUT', path: '/api/v1/organization/corpusorg/team/staff/members/corpusorg+bot' },
    response: { status: 200, type: 'application/json', body: { name: 'corpusorg+bot', kind: 'user', is_robot: true, invited: false } },
  },
  {
    cite: 'endpoints/api/team.py TeamMember.delete (a member)',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/team/staff/members/corpusorg+bot' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/team.py TeamMember.put: a user from outside is invited',
    request: { method: 'PUT', path: '/api/v1/organization/corpusorg/team/staff/members/corpususer' },
    response: { status: 200, type: 'application/json', body: { name: 'corpususer', invited: true } },
  },
  {
    cite: 'endpoints/api/team.py TeamMember.delete (the invitation is removed instead)',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/team/staff/members/corpususer' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/team.py InviteTeamMember.put (FEATURE_MAILING: the invitation goes out by e-mail), invite_view',
    request: { method: 'PUT', path: '/api/v1/organization/corpusorg/team/staff/invite/invitee@example.com' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { email: 'string', kind: 'string', avatar: 'object', invited: 'boolean' },
      body: { email: 'invitee@example.com', kind: 'invite', invited: true },
    },
  },
  {
    cite: 'endpoints/api/team.py InviteTeamMember.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/team/staff/invite/invitee@example.com' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/team.py InviteTeamMember.delete of an address no longer invited: NotFound',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/team/staff/invite/invitee@example.com' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    cite: 'endpoints/api/team.py TeamMemberInvite.put of an unknown code: DataModelException → 400 {message} (endpoints/decorated.py handle_dme)',
    request: { method: 'PUT', path: '/api/v1/teaminvite/not-a-code' },
    response: { status: 400, type: 'application/json', body: { message: 'Invalid confirmation code.' } },
  },
  {
    cite: 'endpoints/api/team.py TeamMemberInvite.delete of an unknown code: DataModelException → 400 {message}',
    request: { method: 'DELETE', path: '/api/v1/teaminvite/not-a-code' },
    response: { status: 400, type: 'application/json', body: { message: 'Invalid confirmation code.' } },
  },
  {
    cite: "endpoints/api/team.py OrganizationTeamSyncing.post: Database authentication's check_group_lookup_args is (False, 'Not supported')",
    request: { method: 'POST', path: '/api/v1/organization/corpusorg/team/staff/syncing', body: {} },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Could not sync to group: Not supported' } },
  },
  {
    cite: 'endpoints/api/team.py OrganizationTeamSyncing.delete, team_view',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/team/staff/syncing' },
    response: { status: 200, type: 'application/json', keys: TEAM_KEYS, body: { name: 'staff', role: 'member', new_team: false } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationMember.delete of a user outside the organization',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/members/corpususer' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationMember.delete of the only admin: DataModelException → 400 {message}',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/members/admin' },
    response: { status: 400, type: 'application/json', body: { message: 'Cannot remove user as they are the only organization admin' } },
  },
  {
    cite: 'endpoints/api/robot.py OrgRobot.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/robots/bot' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplications.post (the client id for the pair below)',
    request: { method: 'POST', path: '/api/v1/organization/corpusorg/applications', body: { name: 'corpus-app' } },
    response: { status: 200, type: 'application/json', save: { corpus_client_id: 'client_id' } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplicationResetClientSecret.post, app_view',
    request: { method: 'POST', path: '/api/v1/organization/corpusorg/applications/{corpus_client_id}/resetclientsecret' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', description: 'string', application_uri: 'string', client_id: 'string', client_secret: 'string', redirect_uri: 'string' },
      body: { name: 'corpus-app' },
    },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.post',
    request: { method: 'POST', path: '/api/v1/organization/corpusorg/quota', body: { limit_bytes: 1048576 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.get (the id for the pair below)',
    request: { method: 'GET', path: '/api/v1/organization/corpusorg/quota' },
    response: { status: 200, type: 'application/json', save: { corpus_quota_id: '0.id' } },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuota.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg/quota/{corpus_quota_id}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuotaList.post (organization variant)',
    request: { method: 'POST', path: '/api/v1/superuser/organization/corpusorg/quota', body: { limit_bytes: 1048576 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuotaList.get (organization variant: the id for the pairs below)',
    request: { method: 'GET', path: '/api/v1/superuser/organization/corpusorg/quota' },
    response: { status: 200, type: 'application/json', save: { corpus_su_quota_id: '0.id' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuota.put (organization variant), quota_view',
    request: { method: 'PUT', path: '/api/v1/superuser/organization/corpusorg/quota/{corpus_su_quota_id}', body: { limit_bytes: 2097152 } },
    response: { status: 200, type: 'application/json', keys: QUOTA_KEYS, body: { limit_bytes: 2097152 } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuota.delete (organization variant)',
    request: { method: 'DELETE', path: '/api/v1/superuser/organization/corpusorg/quota/{corpus_su_quota_id}' },
    response: { status: 204 },
  },

  // The rest of the superuser panel.
  {
    cite: 'endpoints/api/superuser.py SuperUserAggregateLogs.get, AggregatedLogCount.to_dict',
    request: { method: 'GET', path: '/api/v1/superuser/aggregatelogs' },
    response: { status: 200, type: 'application/json', keys: { aggregated: 'array' }, items: { key: 'aggregated', keys: { kind: 'string', count: 'number', datetime: 'string' } } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserOrganizationList.get, org.to_dict',
    request: { method: 'GET', path: '/api/v1/superuser/organizations/' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { organizations: 'array' },
      items: { key: 'organizations', keys: { name: 'string', email: 'string', avatar: 'object' } },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserTakeOwnership.post',
    request: { method: 'POST', path: '/api/v1/superuser/takeownership/corpusorg' },
    response: { status: 200, type: 'application/json', body: { namespace: 'corpusorg' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserRepositoryBuildResource.get of an unknown build: NotFound',
    request: { method: 'GET', path: `/api/v1/superuser/${NO_SUCH_UUID}/build` },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    // Quay answers 400 invalid_response "Unable to locate a build by id: …" here and on …/logs; a missing build
    // is a 404 here, as …/build answers in Quay too (README, remaining differences).
    cite: 'endpoints/api/superuser.py SuperUserRepositoryBuildStatus.get of an unknown build',
    request: { method: 'GET', path: `/api/v1/superuser/${NO_SUCH_UUID}/status` },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserRepositoryBuildLogs.get of an unknown build',
    request: { method: 'GET', path: `/api/v1/superuser/${NO_SUCH_UUID}/logs` },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found', error_message: 'Not Found' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKeyManagement.post (the kid for the pairs below)',
    request: { method: 'POST', path: '/api/v1/superuser/keys', body: { service: 'quay', name: 'corpuskey', expiration: null } },
    response: { status: 200, type: 'application/json', save: { corpus_kid: 'kid' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKey.put (rename), key.to_dict',
    request: { method: 'PUT', path: '/api/v1/superuser/keys/{corpus_kid}', body: { name: 'corpuskey2' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', kid: 'string', service: 'string', jwk: 'object', approval: 'object' },
      body: { name: 'corpuskey2' },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKeyApproval.post of an approved key (ServiceKeyAlreadyApproved: 201, empty)',
    request: { method: 'POST', path: '/api/v1/superuser/approvedkeys/{corpus_kid}', body: { notes: 'corpus' } },
    response: { status: 201 },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKey.delete',
    request: { method: 'DELETE', path: '/api/v1/superuser/keys/{corpus_kid}' },
    response: { status: 204 },
  },

  {
    cite: 'endpoints/api/organization.py Organization.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/corpusorg' },
    response: { status: 204 },
  },
  {
    cite: "endpoints/api/user.py Signout.post (the user's sessions end; the corpus's OAuth token stays valid)",
    request: { method: 'POST', path: '/api/v1/signout' },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
];
