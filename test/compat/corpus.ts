/**
 * Request/response pairs of Quay 3.8's REST API, written from Quay's source (cited per pair: file and handler)
 * and the user guide's chapter 14 and 17 examples. Replayed in order against a running registry by
 * compat.test.ts: each answer must have the status, the content type, and the keys with the JSON types given
 * (`keys`), or exactly the body given (`body`), and texts that start as given (`texts`). `{quota_id}` and `{limit_id}` are filled from earlier answers.
 */
import { CORPUS_MORE } from './corpus_more.js';

export type JsonType = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'null';

export interface CompatPair {
  cite: string;
  request: { method: string; path: string; body?: unknown };
  response: {
    status: number;
    type?: 'application/json';
    body?: unknown;
    keys?: Record<string, JsonType | readonly JsonType[]>;
    items?: { key: string; keys: Record<string, JsonType | readonly JsonType[]> };
    /** Ids later pairs address as `{name}`: name → dotted path in the answer (`token.uuid`, `0.id`). */
    save?: Record<string, string>;
    /** Response headers, exactly; `{name}` is filled as in paths (after this answer's `save`). */
    headers?: Record<string, string>;
    /** Texts the answer's top-level keys start with (Quay's error texts, whose schema dump is left out here). */
    texts?: Record<string, string>;
  };
}

const ERROR_KEYS = { type: 'string', title: 'string', status: 'number', detail: 'string', error_message: 'string', error_type: 'string' } as const;
const QUOTA_LIMIT_KEYS = { id: 'number', type: 'string', limit_percent: 'number' } as const;
/** endpoints/api/build.py build_status_view (a writer also sees `archive_url` when the build has one). */
const BUILD_KEYS = {
  id: 'string',
  phase: 'string',
  started: 'string',
  display_name: 'string',
  status: 'object',
  subdirectory: 'string',
  dockerfile_path: 'string',
  context: 'string',
  tags: 'array',
  manual_user: ['string', 'null'],
  is_writer: 'boolean',
  trigger: ['object', 'null'],
  trigger_metadata: ['object', 'null'],
  resource_key: ['string', 'null'],
  pull_robot: ['object', 'null'],
  repository: 'object',
  error: ['string', 'null'],
} as const satisfies Record<string, JsonType | readonly JsonType[]>;
/** endpoints/api/build.py trigger_view. */
const TRIGGER_KEYS = {
  id: 'string',
  service: 'string',
  is_active: 'boolean',
  build_source: ['string', 'null'],
  repository_url: ['string', 'null'],
  config: 'object',
  can_invoke: 'boolean',
  enabled: 'boolean',
  disabled_reason: ['string', 'null'],
} as const satisfies Record<string, JsonType | readonly JsonType[]>;

export const CORPUS: CompatPair[] = [
  {
    cite: 'endpoints/api/discovery.py DiscoveryResource.get (guide ch. 17 "API Explorer")',
    request: { method: 'GET', path: '/api/v1/discovery' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { swagger: 'string', paths: 'object', securityDefinitions: 'object', info: 'object', host: 'string', basePath: 'string' },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserList.post (guide ch. 17 "Create a user")',
    request: { method: 'POST', path: '/api/v1/superuser/users/', body: { username: 'quaycompat', email: 'quaycompat@example.com' } },
    response: { status: 200, type: 'application/json', keys: { username: 'string', email: 'string', password: 'string', encrypted_password: 'string' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserList.get (guide ch. 17 "List users")',
    request: { method: 'GET', path: '/api/v1/superuser/users/' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { users: 'array' },
      items: {
        key: 'users',
        keys: { kind: 'string', name: 'string', username: 'string', email: 'string', verified: 'boolean', avatar: 'object', super_user: 'boolean', enabled: 'boolean' },
      },
    },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationList.post',
    request: { method: 'POST', path: '/api/v1/organization/', body: { name: 'testorg', email: 'testorg@example.com' } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.get (guide ch. 14 "View quota": none yet)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/quota' },
    response: { status: 200, type: 'application/json', body: [] },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.post (guide ch. 14 "Set quota")',
    request: { method: 'POST', path: '/api/v1/organization/testorg/quota', body: { limit_bytes: 10485760 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.get, quota_view (guide ch. 14 "View quota")',
    request: { method: 'GET', path: '/api/v1/organization/testorg/quota' },
    response: { status: 200, type: 'application/json', items: { key: '', keys: { id: 'number', limit_bytes: 'number', limits: 'array' } } },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuota.put (guide ch. 14 "Modify quota")',
    request: { method: 'PUT', path: '/api/v1/organization/testorg/quota/{quota_id}', body: { limit_bytes: 104857600 } },
    response: { status: 200, type: 'application/json', keys: { id: 'number', limit_bytes: 'number', limits: 'array' } },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaLimitList.post (guide ch. 14 "Reject limit")',
    request: { method: 'POST', path: '/api/v1/organization/testorg/quota/{quota_id}/limit', body: { type: 'Reject', threshold_percent: 80 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaLimitList.post (guide ch. 14 "Warning limit")',
    request: { method: 'POST', path: '/api/v1/organization/testorg/quota/{quota_id}/limit', body: { type: 'Warning', threshold_percent: 50 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaLimitList.get, limit_view',
    request: { method: 'GET', path: '/api/v1/organization/testorg/quota/{quota_id}/limit' },
    response: { status: 200, type: 'application/json', items: { key: '', keys: QUOTA_LIMIT_KEYS } },
  },
  {
    cite: 'endpoints/api/organization.py Organization.get with quota (guide ch. 14 "quota in the organization details")',
    request: { method: 'GET', path: '/api/v1/organization/testorg' },
    response: {
      status: 200,
      type: 'application/json',
      keys: {
        name: 'string',
        email: 'string',
        avatar: 'object',
        is_admin: 'boolean',
        is_member: 'boolean',
        teams: 'object',
        ordered_teams: 'array',
        quotas: 'array',
        quota_report: 'object',
      },
    },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryList.post (guide ch. 17 "Create a repository")',
    request: { method: 'POST', path: '/api/v1/repository', body: { namespace: 'testorg', repository: 'repo1', visibility: 'private', description: 'compat' } },
    response: { status: 201, type: 'application/json', body: { namespace: 'testorg', name: 'repo1', kind: 'image' } },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryList.get with quota (guide ch. 14 "storage consumed")',
    request: { method: 'GET', path: '/api/v1/repository?last_modified=true&namespace=testorg&popularity=true&public=false' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { repositories: 'array' },
      items: {
        key: 'repositories',
        keys: {
          namespace: 'string',
          name: 'string',
          description: ['string', 'null'],
          is_public: 'boolean',
          kind: 'string',
          state: 'string',
          quota_report: 'object',
          last_modified: ['number', 'null'],
          popularity: 'number',
          is_starred: 'boolean',
        },
      },
    },
  },
  {
    cite: 'endpoints/api/repository.py Repository.get, RepositoryDetails.to_dict',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1' },
    response: {
      status: 200,
      type: 'application/json',
      keys: {
        namespace: 'string',
        name: 'string',
        kind: 'string',
        description: 'string',
        is_public: 'boolean',
        is_organization: 'boolean',
        is_starred: 'boolean',
        status_token: 'string',
        trust_enabled: 'boolean',
        tag_expiration_s: 'number',
        is_free_account: 'boolean',
        state: 'string',
        can_write: 'boolean',
        can_admin: 'boolean',
        tags: 'object',
      },
    },
  },
  {
    cite: 'endpoints/api/robot.py OrgRobot.put (guide ch. 17 "Create a robot")',
    request: { method: 'PUT', path: '/api/v1/organization/testorg/robots/deployer', body: { description: 'deploys' } },
    response: {
      status: 201,
      type: 'application/json',
      keys: { name: 'string', created: 'string', last_accessed: 'null', description: 'string', token: 'string', unstructured_metadata: 'object' },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserLogs.get (guide ch. 17 "superuser logs")',
    request: { method: 'GET', path: '/api/v1/superuser/logs' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { start_time: 'string', end_time: 'string', logs: 'array' },
      items: { key: 'logs', keys: { kind: 'string', metadata: 'object', ip: ['string', 'null'], datetime: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/tag.py ListRepositoryTags.get',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/tag/' },
    response: { status: 200, type: 'application/json', body: { tags: [], page: 1, has_additional: false } },
  },
  {
    cite: 'endpoints/api/repository.py Repository.get for a missing repository: ApiException NotFound (endpoints/exception.py)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/missing' },
    response: {
      status: 404,
      type: 'application/json',
      keys: { type: 'string', title: 'string', status: 'number', detail: 'string', error_message: 'string', error_type: 'string' },
    },
  },

  // Bodies are validated as jsonschema validates them (endpoints/api/__init__.py validate_json_request): no type
  // coercion, 400 invalid_request with jsonschema's text.
  {
    cite: 'endpoints/api/superuser.py SuperUserManagement.put, schema UpdateUser (enabled: boolean): "true" is a string',
    request: { method: 'PUT', path: '/api/v1/superuser/users/quaycompat', body: { enabled: 'true' } },
    response: {
      status: 400,
      type: 'application/json',
      keys: ERROR_KEYS,
      body: { status: 400, error_type: 'invalid_request', title: 'invalid_request' },
      texts: { error_message: "'true' is not of type 'boolean'", detail: "'true' is not of type 'boolean'" },
    },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.post, schema NewOrgQuota (limit_bytes: integer): a number as a string',
    request: { method: 'POST', path: '/api/v1/organization/testorg/quota', body: { limit_bytes: '1000' } },
    response: {
      status: 400,
      type: 'application/json',
      keys: ERROR_KEYS,
      body: { status: 400, error_type: 'invalid_request' },
      texts: { error_message: "'1000' is not of type 'integer'" },
    },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryList.post, schema NewRepo (description: string): a number',
    request: { method: 'POST', path: '/api/v1/repository', body: { namespace: 'testorg', repository: 'typed', visibility: 'private', description: 7 } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, texts: { error_message: "7 is not of type 'string'" } },
  },
  // Query parameters: endpoints/api/__init__.py parse_args → flask-restful 0.3.9 reqparse; a value its type refuses
  // is answered 400 {"message": {"<param>": "<help>"}} and nothing else.
  {
    cite: 'endpoints/api/search.py ConductRepositorySearch.get, @query_param("page", "The page.", type=int): page=abc',
    request: { method: 'GET', path: '/api/v1/find/repositories?query=repo&page=abc' },
    response: { status: 400, type: 'application/json', body: { message: { page: 'The page.' } } },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryList.get, truthy_bool: any value but false/0/""/null is true (popularity=yes)',
    request: { method: 'GET', path: '/api/v1/repository?namespace=testorg&popularity=yes&last_modified=0' },
    response: {
      status: 200,
      type: 'application/json',
      items: { key: 'repositories', keys: { namespace: 'string', name: 'string', popularity: 'number' } },
    },
  },

  // Every served area, in the order a client would go: views are Quay 3.8's (file and function cited); ids
  // from earlier answers fill `{…}`.
  {
    cite: 'endpoints/api/error.py Error.get, error_view',
    request: { method: 'GET', path: '/api/v1/error/not_found' },
    response: { status: 200, type: 'application/json', keys: { type: 'string', title: 'string', description: 'string' }, body: { title: 'not_found' } },
  },
  {
    cite: 'endpoints/api/user.py User.get, user_view (an admin of itself, a superuser, quota management on)',
    request: { method: 'GET', path: '/api/v1/user/' },
    response: {
      status: 200,
      type: 'application/json',
      keys: {
        anonymous: 'boolean',
        username: 'string',
        avatar: 'object',
        can_create_repo: 'boolean',
        is_me: 'boolean',
        verified: 'boolean',
        email: 'string',
        logins: 'array',
        invoice_email: 'boolean',
        preferred_namespace: 'boolean',
        tag_expiration_s: 'number',
        prompts: 'array',
        company: ['string', 'null'],
        family_name: ['string', 'null'],
        given_name: ['string', 'null'],
        location: ['string', 'null'],
        is_free_account: 'boolean',
        has_password_set: 'boolean',
        quotas: 'array',
        quota_report: 'object',
        organizations: 'array',
        super_user: 'boolean',
      },
      body: { anonymous: false, is_me: true, super_user: true },
    },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationMemberList.get',
    request: { method: 'GET', path: '/api/v1/organization/testorg/members' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { members: 'array' },
      items: { key: 'members', keys: { name: 'string', kind: 'string', avatar: 'object', teams: 'array', repositories: 'array' } },
    },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationCollaboratorList.get (no one outside the organization has a permission yet)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/collaborators' },
    response: { status: 200, type: 'application/json', body: { collaborators: [] } },
  },
  {
    cite: 'endpoints/api/team.py OrganizationTeam.put, team_view (a new team)',
    request: { method: 'PUT', path: '/api/v1/organization/testorg/team/devs', body: { role: 'member', description: 'developers' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', description: 'string', can_view: 'boolean', role: 'string', avatar: 'object', new_team: 'boolean' },
      body: { name: 'devs', description: 'developers', role: 'member', new_team: true },
    },
  },
  {
    // Quay adds a user outside the organization at once when FEATURE_MAILING is off; here the invitation stands
    // (README, remaining differences), and the answer is Quay's for an invited user.
    cite: 'endpoints/api/team.py TeamMember.put, member_view(user, invited=True)',
    request: { method: 'PUT', path: '/api/v1/organization/testorg/team/devs/members/quaycompat' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', kind: 'string', is_robot: 'boolean', avatar: 'object', invited: 'boolean' },
      body: { name: 'quaycompat', kind: 'user', is_robot: false, invited: true },
    },
  },
  {
    cite: 'endpoints/api/team.py TeamMemberList.get (includePending defaults to false: the invitation is not listed)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/team/devs/members' },
    response: { status: 200, type: 'application/json', body: { name: 'devs', members: [], can_edit: true } },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryTeamPermission.put, TeamPermission.to_dict',
    request: { method: 'PUT', path: '/api/v1/repository/testorg/repo1/permissions/team/devs', body: { role: 'write' } },
    response: { status: 200, type: 'application/json', keys: { role: 'string', name: 'string', avatar: 'object' }, body: { role: 'write', name: 'devs' } },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryTeamPermission.get',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/permissions/team/devs' },
    response: { status: 200, type: 'application/json', keys: { role: 'string', name: 'string', avatar: 'object' }, body: { role: 'write', name: 'devs' } },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryTeamPermissionList.get (a map by team name)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/permissions/team/' },
    response: { status: 200, type: 'application/json', keys: { permissions: 'object' } },
  },
  {
    cite: 'endpoints/api/team.py TeamPermissions.get, permission_view',
    request: { method: 'GET', path: '/api/v1/organization/testorg/team/devs/permissions' },
    response: { status: 200, type: 'application/json', keys: { permissions: 'array' }, items: { key: 'permissions', keys: { repository: 'object', role: 'string' } } },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryUserPermission.put, UserPermission.to_dict',
    request: { method: 'PUT', path: '/api/v1/repository/testorg/repo1/permissions/user/quaycompat', body: { role: 'read' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { role: 'string', name: 'string', is_robot: 'boolean', avatar: 'object', is_org_member: 'boolean' },
      body: { role: 'read', name: 'quaycompat', is_robot: false },
    },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryUserPermission.get',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/permissions/user/quaycompat' },
    response: { status: 200, type: 'application/json', keys: { role: 'string', name: 'string', is_robot: 'boolean', avatar: 'object', is_org_member: 'boolean' } },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryUserPermissionList.get (a map by user name)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/permissions/user/' },
    response: { status: 200, type: 'application/json', keys: { permissions: 'object' } },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryUserTransitivePermission.get (direct and through teams)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/permissions/user/quaycompat/transitive' },
    response: { status: 200, type: 'application/json', keys: { permissions: 'array' }, items: { key: 'permissions', keys: { role: 'string' } } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationCollaboratorList.get (quaycompat now holds a permission)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/collaborators' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { collaborators: 'array' },
      items: { key: 'collaborators', keys: { kind: 'string', name: 'string', avatar: 'object', repositories: 'array' } },
    },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationMember.get',
    request: { method: 'GET', path: '/api/v1/organization/testorg/members/admin' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', kind: 'string', avatar: 'object', teams: 'array', repositories: 'array' },
      body: { name: 'admin', kind: 'user' },
    },
  },
  {
    cite: 'endpoints/api/robot.py OrgRobotList.get, robots_list (token included by default)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/robots' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { robots: 'array' },
      items: { key: 'robots', keys: { name: 'string', created: ['string', 'null'], last_accessed: ['string', 'null'], description: 'string', token: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/robot.py OrgRobot.get, Robot.to_dict with its token',
    request: { method: 'GET', path: '/api/v1/organization/testorg/robots/deployer' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', created: ['string', 'null'], last_accessed: ['string', 'null'], description: 'string', token: 'string', unstructured_metadata: 'object' },
      body: { name: 'testorg+deployer', description: 'deploys' },
    },
  },
  {
    cite: 'endpoints/api/robot.py OrgRobotPermissions.get (none yet)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/robots/deployer/permissions' },
    response: { status: 200, type: 'application/json', body: { permissions: [] } },
  },
  {
    cite: 'endpoints/api/prototype.py PermissionPrototypeList.post, prototype_view',
    request: { method: 'POST', path: '/api/v1/organization/testorg/prototypes', body: { role: 'read', delegate: { name: 'devs', kind: 'team' } } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { activating_user: 'null', delegate: 'object', role: 'string', id: 'string' },
      body: { activating_user: null, role: 'read' },
    },
  },
  {
    cite: 'endpoints/api/prototype.py PermissionPrototypeList.get',
    request: { method: 'GET', path: '/api/v1/organization/testorg/prototypes' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { prototypes: 'array' },
      items: { key: 'prototypes', keys: { activating_user: 'null', delegate: 'object', role: 'string', id: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/globalmessages.py GlobalUserMessages.post (make_response("", 201))',
    request: { method: 'POST', path: '/api/v1/messages', body: { message: { content: 'maintenance tonight', media_type: 'text/markdown', severity: 'info' } } },
    response: { status: 201 },
  },
  {
    cite: 'endpoints/api/globalmessages.py GlobalUserMessages.get, GlobalMessage.to_dict',
    request: { method: 'GET', path: '/api/v1/messages' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { messages: 'array' },
      items: { key: 'messages', keys: { uuid: 'string', content: 'string', severity: 'string', media_type: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/appspecifictokens.py AppTokens.post, token_view with its code',
    request: { method: 'POST', path: '/api/v1/user/apptoken', body: { title: 'ci' } },
    response: { status: 200, type: 'application/json', keys: { token: 'object' } },
  },
  {
    cite: 'endpoints/api/appspecifictokens.py AppTokens.get (expiring=false: only_expiring false)',
    request: { method: 'GET', path: '/api/v1/user/apptoken' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { tokens: 'array', only_expiring: 'boolean' },
      items: { key: 'tokens', keys: { uuid: 'string', title: 'string', last_accessed: ['string', 'null'], created: 'string', expiration: ['string', 'null'] } },
    },
  },
  {
    cite: 'endpoints/api/repositorynotification.py RepositoryNotificationList.get (none)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/notification/' },
    response: { status: 200, type: 'application/json', body: { notifications: [] } },
  },
  {
    cite: 'endpoints/api/repository.py Repository.put (description)',
    request: { method: 'PUT', path: '/api/v1/repository/testorg/repo1', body: { description: 'compat corpus' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryVisibility.post',
    request: { method: 'POST', path: '/api/v1/repository/testorg/repo1/changevisibility', body: { visibility: 'public' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/user.py StarredRepositoryList.get (none starred)',
    request: { method: 'GET', path: '/api/v1/user/starred' },
    response: { status: 200, type: 'application/json', body: { repositories: [] } },
  },
  {
    cite: 'endpoints/api/search.py EntitySearch.get',
    request: { method: 'GET', path: '/api/v1/entities/quay?namespace=testorg' },
    response: { status: 200, type: 'application/json', keys: { results: 'array' }, items: { key: 'results', keys: { name: 'string', kind: 'string', avatar: 'object' } } },
  },
  {
    cite: 'endpoints/api/search.py ConductRepositorySearch.get',
    request: { method: 'GET', path: '/api/v1/find/repositories?query=repo1' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { results: 'array', has_additional: 'boolean', page: 'number', page_size: 'number', start_index: 'number' },
      items: { key: 'results', keys: { kind: 'string', name: 'string', namespace: 'object', description: ['string', 'null'], is_public: 'boolean', href: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/search.py ConductSearch.get',
    request: { method: 'GET', path: '/api/v1/find/all?query=repo1' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { results: 'array' },
      items: { key: 'results', keys: { kind: 'string', name: 'string', score: 'number', href: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/logs.py RepositoryLogs.get, _logs',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/logs' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { start_time: 'string', end_time: 'string', logs: 'array' },
      items: { key: 'logs', keys: { kind: 'string', metadata: 'object', ip: ['string', 'null'], datetime: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/logs.py OrgLogs.get',
    request: { method: 'GET', path: '/api/v1/organization/testorg/logs' },
    response: { status: 200, type: 'application/json', keys: { start_time: 'string', end_time: 'string', logs: 'array' } },
  },
  {
    cite: 'endpoints/api/logs.py UserLogs.get',
    request: { method: 'GET', path: '/api/v1/user/logs' },
    response: { status: 200, type: 'application/json', keys: { start_time: 'string', end_time: 'string', logs: 'array' } },
  },
  {
    cite: 'endpoints/api/logs.py OrgAggregateLogs.get, AggregatedLogCount.to_dict',
    request: { method: 'GET', path: '/api/v1/organization/testorg/aggregatelogs' },
    response: { status: 200, type: 'application/json', keys: { aggregated: 'array' }, items: { key: 'aggregated', keys: { kind: 'string', count: 'number', datetime: 'string' } } },
  },
  {
    cite: 'endpoints/api/repotoken.py RepositoryTokenList.get (gone in Quay 3.8: 410)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/tokens/' },
    response: { status: 410, type: 'application/json' },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildList.get (none)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/build/' },
    response: { status: 200, type: 'application/json', body: { builds: [] } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerList.get (none)',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/trigger/' },
    response: { status: 200, type: 'application/json', body: { triggers: [] } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplications.post, app_view (an admin sees the secret)',
    request: { method: 'POST', path: '/api/v1/organization/testorg/applications', body: { name: 'compat-app' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: {
        name: 'string',
        description: 'string',
        application_uri: 'string',
        client_id: 'string',
        client_secret: 'string',
        redirect_uri: 'string',
        avatar_email: ['string', 'null'],
      },
      body: { name: 'compat-app' },
    },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplications.get',
    request: { method: 'GET', path: '/api/v1/organization/testorg/applications' },
    response: { status: 200, type: 'application/json', keys: { applications: 'array' }, items: { key: 'applications', keys: { name: 'string', client_id: 'string' } } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKeyManagement.get',
    request: { method: 'GET', path: '/api/v1/superuser/keys' },
    response: { status: 200, type: 'application/json', keys: { keys: 'array' } },
  },

  {
    cite: 'endpoints/api/appspecifictokens.py AppTokens.post (a second token, to read and revoke)',
    request: { method: 'POST', path: '/api/v1/user/apptoken', body: { title: 'revoked' } },
    response: { status: 200, type: 'application/json', keys: { token: 'object' }, save: { token_uuid: 'token.uuid' } },
  },
  {
    cite: 'endpoints/api/appspecifictokens.py AppToken.get, token_view with its code',
    request: { method: 'GET', path: '/api/v1/user/apptoken/{token_uuid}' },
    response: { status: 200, type: 'application/json', keys: { token: 'object' } },
  },
  {
    cite: 'endpoints/api/appspecifictokens.py AppToken.delete',
    request: { method: 'DELETE', path: '/api/v1/user/apptoken/{token_uuid}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaList.get (ids for the pairs below)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/quota' },
    response: { status: 200, type: 'application/json', save: { quota_id: '0.id', limit_id: '0.limits.0.id' } },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuota.get, quota_view',
    request: { method: 'GET', path: '/api/v1/organization/testorg/quota/{quota_id}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { id: 'number', limit_bytes: 'number', default_config: 'boolean', limits: 'array', default_config_exists: 'boolean' },
    },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaLimit.get, limit_view',
    request: { method: 'GET', path: '/api/v1/organization/testorg/quota/{quota_id}/limit/{limit_id}' },
    response: { status: 200, type: 'application/json', keys: QUOTA_LIMIT_KEYS },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaLimit.put (answers the quota_view)',
    request: { method: 'PUT', path: '/api/v1/organization/testorg/quota/{quota_id}/limit/{limit_id}', body: { type: 'Reject', threshold_percent: 90 } },
    response: { status: 200, type: 'application/json', keys: { id: 'number', limit_bytes: 'number', limits: 'array' } },
  },
  {
    cite: 'endpoints/api/namespacequota.py OrganizationQuotaLimit.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/testorg/quota/{quota_id}/limit/{limit_id}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/namespacequota.py UserQuotaList.get (the signed-in user has none)',
    request: { method: 'GET', path: '/api/v1/user/quota' },
    response: { status: 200, type: 'application/json', body: [] },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuotaList.get (organization variant)',
    request: { method: 'GET', path: '/api/v1/superuser/organization/testorg/quota' },
    response: { status: 200, type: 'application/json', items: { key: '', keys: { id: 'number', limit_bytes: 'number', limits: 'array' } } },
  },
  {
    cite: 'endpoints/api/user.py Users.get, user_view (another user, seen by a superuser)',
    request: { method: 'GET', path: '/api/v1/users/quaycompat' },
    response: { status: 200, type: 'application/json', keys: { anonymous: 'boolean', username: 'string', avatar: 'object' }, body: { anonymous: false, username: 'quaycompat' } },
  },
  {
    cite: 'endpoints/api/user.py StarredRepositoryList.post',
    request: { method: 'POST', path: '/api/v1/user/starred', body: { namespace: 'testorg', repository: 'repo1' } },
    response: { status: 201, type: 'application/json', body: { namespace: 'testorg', repository: 'repo1' } },
  },
  {
    cite: 'endpoints/api/user.py StarredRepository.delete',
    request: { method: 'DELETE', path: '/api/v1/user/starred/testorg/repo1' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryStateResource.put',
    request: { method: 'PUT', path: '/api/v1/repository/testorg/repo1/changestate', body: { state: 'READ_ONLY' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryStateResource.put (back to NORMAL)',
    request: { method: 'PUT', path: '/api/v1/repository/testorg/repo1/changestate', body: { state: 'NORMAL' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/robot.py UserRobot.put, Robot.to_dict(include_metadata, include_token) with 201',
    request: { method: 'PUT', path: '/api/v1/user/robots/helper', body: { description: 'helps' } },
    response: {
      status: 201,
      type: 'application/json',
      keys: { name: 'string', created: ['string', 'null'], last_accessed: ['string', 'null'], description: 'string', token: 'string', unstructured_metadata: 'object' },
      body: { name: 'admin+helper', description: 'helps' },
    },
  },
  {
    cite: 'endpoints/api/robot.py UserRobotList.get',
    request: { method: 'GET', path: '/api/v1/user/robots' },
    response: { status: 200, type: 'application/json', keys: { robots: 'array' }, items: { key: 'robots', keys: { name: 'string', description: 'string' } } },
  },
  {
    cite: 'endpoints/api/robot.py UserRobot.get',
    request: { method: 'GET', path: '/api/v1/user/robots/helper' },
    response: { status: 200, type: 'application/json', keys: { name: 'string', token: 'string', unstructured_metadata: 'object' }, body: { name: 'admin+helper' } },
  },
  {
    cite: 'endpoints/api/robot.py UserRobotPermissions.get (none)',
    request: { method: 'GET', path: '/api/v1/user/robots/helper/permissions' },
    response: { status: 200, type: 'application/json', body: { permissions: [] } },
  },
  {
    cite: 'endpoints/api/robot.py RegenerateUserRobot.post, Robot.to_dict(include_token)',
    request: { method: 'POST', path: '/api/v1/user/robots/helper/regenerate' },
    response: { status: 200, type: 'application/json', keys: { name: 'string', token: 'string' }, body: { name: 'admin+helper' } },
  },
  {
    cite: 'endpoints/api/robot.py RegenerateOrgRobot.post',
    request: { method: 'POST', path: '/api/v1/organization/testorg/robots/deployer/regenerate' },
    response: { status: 200, type: 'application/json', keys: { name: 'string', token: 'string' }, body: { name: 'testorg+deployer' } },
  },
  {
    cite: 'endpoints/api/robot.py UserRobot.delete',
    request: { method: 'DELETE', path: '/api/v1/user/robots/helper' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplications.get (the client id for the pairs below)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/applications' },
    response: { status: 200, type: 'application/json', save: { client_id: 'applications.0.client_id' } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplicationResource.get, app_view',
    request: { method: 'GET', path: '/api/v1/organization/testorg/applications/{client_id}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', description: 'string', application_uri: 'string', client_id: 'string', client_secret: 'string', redirect_uri: 'string' },
      body: { name: 'compat-app' },
    },
  },
  {
    cite: 'endpoints/api/organization.py ApplicationInformation.get',
    request: { method: 'GET', path: '/api/v1/app/{client_id}' },
    response: { status: 200, type: 'application/json', keys: { name: 'string', description: 'string', uri: 'string', avatar: 'object', organization: 'object' } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplicationResource.put, app_view',
    request: {
      method: 'PUT',
      path: '/api/v1/organization/testorg/applications/{client_id}',
      body: { name: 'compat-app2', redirect_uri: 'https://example.com/cb', application_uri: 'https://example.com', description: 'renamed' },
    },
    response: { status: 200, type: 'application/json', keys: { name: 'string', client_id: 'string' }, body: { name: 'compat-app2', description: 'renamed' } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationApplicationResource.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/testorg/applications/{client_id}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/organization.py Organization.put, org_view',
    request: { method: 'PUT', path: '/api/v1/organization/testorg', body: { email: 'testorg-new@example.com' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { name: 'string', email: 'string', avatar: 'object', is_admin: 'boolean', is_member: 'boolean', tag_expiration_s: 'number', is_free_account: 'boolean' },
      body: { name: 'testorg', email: 'testorg-new@example.com' },
    },
  },
  {
    cite: 'endpoints/api/prototype.py PermissionPrototypeList.get (the id for the pairs below)',
    request: { method: 'GET', path: '/api/v1/organization/testorg/prototypes' },
    response: { status: 200, type: 'application/json', save: { prototype_id: 'prototypes.0.id' } },
  },
  {
    cite: 'endpoints/api/prototype.py PermissionPrototype.put, prototype_view',
    request: { method: 'PUT', path: '/api/v1/organization/testorg/prototypes/{prototype_id}', body: { role: 'write' } },
    response: { status: 200, type: 'application/json', keys: { delegate: 'object', role: 'string', id: 'string' }, body: { role: 'write' } },
  },
  {
    cite: 'endpoints/api/prototype.py PermissionPrototype.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/testorg/prototypes/{prototype_id}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/globalmessages.py GlobalUserMessages.get (the uuid for the pair below)',
    request: { method: 'GET', path: '/api/v1/messages' },
    response: { status: 200, type: 'application/json', save: { message_uuid: 'messages.0.uuid' } },
  },
  {
    cite: 'endpoints/api/globalmessages.py GlobalUserMessage.delete',
    request: { method: 'DELETE', path: '/api/v1/message/{message_uuid}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKeyManagement.post',
    request: { method: 'POST', path: '/api/v1/superuser/keys', body: { service: 'quay', name: 'compat', expiration: null } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { kid: 'string', name: 'string', service: 'string', public_key: 'string', private_key: 'string' },
      save: { kid: 'kid' },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKey.get, key_view',
    request: { method: 'GET', path: '/api/v1/superuser/keys/{kid}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: {
        name: 'string',
        kid: 'string',
        service: 'string',
        jwk: 'object',
        metadata: 'object',
        created_date: 'string',
        expiration_date: 'null',
        rotation_duration: 'null',
        approval: 'object',
      },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserServiceKey.delete',
    request: { method: 'DELETE', path: '/api/v1/superuser/keys/{kid}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/logs.py RepositoryAggregateLogs.get',
    request: { method: 'GET', path: '/api/v1/repository/testorg/repo1/aggregatelogs' },
    response: { status: 200, type: 'application/json', keys: { aggregated: 'array' } },
  },
  {
    cite: 'endpoints/api/logs.py UserAggregateLogs.get',
    request: { method: 'GET', path: '/api/v1/user/aggregatelogs' },
    response: { status: 200, type: 'application/json', keys: { aggregated: 'array' } },
  },
  {
    cite: 'endpoints/api/repotoken.py RepositoryTokenList.post (gone in Quay 3.8: 410)',
    request: { method: 'POST', path: '/api/v1/repository/testorg/repo1/tokens/', body: { friendlyName: 'old' } },
    response: { status: 410, type: 'application/json' },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryUserPermission.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/testorg/repo1/permissions/user/quaycompat' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/permission.py RepositoryTeamPermission.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/testorg/repo1/permissions/team/devs' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/team.py OrganizationTeam.delete',
    request: { method: 'DELETE', path: '/api/v1/organization/testorg/team/devs' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/repository.py Repository.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/testorg/repo1' },
    response: { status: 204 },
  },

  // A repository created by a push (admin/pushed:v1, pushed before the replay) and its tags.
  {
    cite: 'endpoints/api/repository.py Repository.get: a pushed repository has no description (null)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed' },
    response: { status: 200, type: 'application/json', body: { namespace: 'admin', name: 'pushed', description: null } },
  },
  {
    cite: 'endpoints/api/tag.py ListRepositoryTags.get, _tag_dict',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/tag/?onlyActiveTags=true' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { tags: 'array', page: 'number', has_additional: 'boolean' },
      items: {
        key: 'tags',
        keys: {
          name: 'string',
          reversion: 'boolean',
          start_ts: 'number',
          manifest_digest: 'string',
          is_manifest_list: 'boolean',
          size: ['number', 'null'],
          last_modified: 'string',
        },
      },
      save: { digest: 'tags.0.manifest_digest' },
    },
  },
  {
    cite: 'endpoints/api/tag.py RepositoryTag.put (a new tag on a manifest: "Updated", 201)',
    request: { method: 'PUT', path: '/api/v1/repository/admin/pushed/tag/stable', body: { manifest_digest: '{digest}' } },
    response: { status: 201, type: 'application/json', body: 'Updated' },
  },
  {
    cite: 'endpoints/api/tag.py RepositoryTag.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/admin/pushed/tag/stable' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/tag.py RestoreTag.post (answers {})',
    request: { method: 'POST', path: '/api/v1/repository/admin/pushed/tag/stable/restore', body: { manifest_digest: '{digest}' } },
    response: { status: 200, type: 'application/json', body: {} },
  },
  {
    cite: 'endpoints/api/repositorynotification.py RepositoryNotificationList.post, to_dict with 201',
    request: {
      method: 'POST',
      path: '/api/v1/repository/admin/pushed/notification/',
      body: { event: 'repo_push', method: 'quay_notification', config: { target: { name: 'admin', kind: 'user' } }, eventConfig: {}, title: 'pushes' },
    },
    response: {
      status: 201,
      type: 'application/json',
      keys: { uuid: 'string', title: 'string', event: 'string', method: 'string', config: 'object', event_config: 'object', number_of_failures: 'number' },
      body: { title: 'pushes', event: 'repo_push', method: 'quay_notification', number_of_failures: 0 },
      save: { notification_uuid: 'uuid' },
    },
  },
  {
    cite: 'endpoints/api/repositorynotification.py RepositoryNotification.get',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/notification/{notification_uuid}' },
    response: { status: 200, type: 'application/json', keys: { uuid: 'string', title: 'string', event: 'string', method: 'string', config: 'object', event_config: 'object' } },
  },
  {
    cite: 'endpoints/api/repositorynotification.py TestRepositoryNotification.post (answers {})',
    request: { method: 'POST', path: '/api/v1/repository/admin/pushed/notification/{notification_uuid}/test' },
    response: { status: 200, type: 'application/json', body: {} },
  },
  {
    cite: 'endpoints/api/repositorynotification.py RepositoryNotification.post (reset failures: 204)',
    request: { method: 'POST', path: '/api/v1/repository/admin/pushed/notification/{notification_uuid}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/repositorynotification.py RepositoryNotification.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/admin/pushed/notification/{notification_uuid}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuotaList.post (user variant: "Created", 201)',
    request: { method: 'POST', path: '/api/v1/superuser/users/quaycompat/quota', body: { limit_bytes: 1048576 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuotaList.get (user variant)',
    request: { method: 'GET', path: '/api/v1/superuser/users/quaycompat/quota' },
    response: { status: 200, type: 'application/json', items: { key: '', keys: { id: 'number', limit_bytes: 'number', limits: 'array' } }, save: { user_quota_id: '0.id' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuota.put, quota_view',
    request: { method: 'PUT', path: '/api/v1/superuser/users/quaycompat/quota/{user_quota_id}', body: { limit_bytes: 2097152 } },
    response: { status: 200, type: 'application/json', keys: { id: 'number', limit_bytes: 'number', limits: 'array' }, body: { limit_bytes: 2097152 } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserUserQuota.delete',
    request: { method: 'DELETE', path: '/api/v1/superuser/users/quaycompat/quota/{user_quota_id}' },
    response: { status: 204 },
  },

  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.get (no mirror configured: NotFound)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/mirror' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'not_found' } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.get, proxy_cache_view(None): empty strings',
    request: { method: 'GET', path: '/api/v1/organization/testorg/proxycache' },
    response: { status: 200, type: 'application/json', body: { upstream_registry: '', expiration_s: '', insecure: '' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserOrganizationManagement.put (rename), org.to_dict',
    request: { method: 'PUT', path: '/api/v1/superuser/organizations/testorg', body: { name: 'testorg2' } },
    response: { status: 200, type: 'application/json', keys: { name: 'string', email: 'string', avatar: 'object' }, body: { name: 'testorg2' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserOrganizationManagement.delete',
    request: { method: 'DELETE', path: '/api/v1/superuser/organizations/testorg2' },
    response: { status: 204 },
  },

  {
    cite: 'endpoints/api/superuser.py SuperUserManagement.get, user.to_dict',
    request: { method: 'GET', path: '/api/v1/superuser/users/quaycompat' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { kind: 'string', name: 'string', username: 'string', email: 'string', verified: 'boolean', avatar: 'object', super_user: 'boolean', enabled: 'boolean' },
      body: { kind: 'user', username: 'quaycompat', super_user: false },
    },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserManagement.put (e-mail: echoed in the answer)',
    request: { method: 'PUT', path: '/api/v1/superuser/users/quaycompat', body: { email: 'quaycompat-new@example.com' } },
    response: { status: 200, type: 'application/json', keys: { username: 'string', email: 'string' }, body: { username: 'quaycompat', email: 'quaycompat-new@example.com' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserManagement.delete of a superuser: InvalidRequest',
    request: { method: 'DELETE', path: '/api/v1/superuser/users/admin' },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Cannot delete a superuser' } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserManagement.delete',
    request: { method: 'DELETE', path: '/api/v1/superuser/users/quaycompat' },
    response: { status: 204 },
  },

  // Builds, triggers, mirroring, proxy cache, log exports, manifests and their labels, the scanner's answer,
  // authorized e-mails and repository tokens. `buildorg/app` and its custom-git trigger `{trigger_uuid}` come
  // from the fixture (no Quay endpoint creates a trigger); `{registry_host}` is this registry, an upstream.
  {
    cite: 'endpoints/api/build.py FileDropResource.post',
    request: { method: 'POST', path: '/api/v1/filedrop/', body: { mimeType: 'application/x-tar' } },
    response: { status: 200, type: 'application/json', keys: { url: 'string', file_id: 'string' } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildList.post: neither file_id nor archive_url (InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/build/', body: { docker_tags: ['v1'] } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_type: 'invalid_request', error_message: 'file_id or archive_url required' } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildList.post: an archive URL that is not http(s) (InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/build/', body: { archive_url: 'ftp://127.0.0.1/context.tar.gz' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Invalid Archive URL: Must be http or https' } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildList.post, build_status_view with 201',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/build/', body: { archive_url: 'http://127.0.0.1:9/context.tar.gz', docker_tags: ['v1'] } },
    response: {
      status: 201,
      type: 'application/json',
      keys: { ...BUILD_KEYS, archive_url: 'string' },
      body: { phase: 'waiting', tags: ['v1'], manual_user: 'admin', is_writer: true, trigger: null, pull_robot: null, repository: { namespace: 'buildorg', name: 'app' } },
      save: { build_uuid: 'id' },
      headers: { location: '/api/v1/repository/buildorg/app/build/{build_uuid}/status' },
    },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildResource.get, build_status_view',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/build/{build_uuid}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { ...BUILD_KEYS, archive_url: 'string' },
      body: { archive_url: 'http://127.0.0.1:9/context.tar.gz', subdirectory: '/Dockerfile', context: '/' },
    },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildStatus.get, build_status_view',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/build/{build_uuid}/status' },
    response: { status: 200, type: 'application/json', keys: BUILD_KEYS },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildLogs.get, get_logs_or_log_url',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/build/{build_uuid}/logs' },
    response: { status: 200, type: 'application/json', keys: { start: 'number', total: 'number', logs: 'array' }, body: { start: 0 } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildList.get (limit=1)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/build/?limit=1' },
    response: { status: 200, type: 'application/json', keys: { builds: 'array' }, items: { key: 'builds', keys: BUILD_KEYS } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserRepositoryBuildResource.get, build_status_view',
    request: { method: 'GET', path: '/api/v1/superuser/{build_uuid}/build' },
    response: { status: 200, type: 'application/json', keys: BUILD_KEYS, body: { repository: { namespace: 'buildorg', name: 'app' } } },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserRepositoryBuildStatus.get, build_status_view',
    request: { method: 'GET', path: '/api/v1/superuser/{build_uuid}/status' },
    response: { status: 200, type: 'application/json', keys: BUILD_KEYS },
  },
  {
    cite: 'endpoints/api/superuser.py SuperUserRepositoryBuildLogs.get, get_logs_or_log_url',
    request: { method: 'GET', path: '/api/v1/superuser/{build_uuid}/logs' },
    response: { status: 200, type: 'application/json', keys: { start: 'number', total: 'number', logs: 'array' } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildResource.delete (a waiting build: "Okay", 201)',
    request: { method: 'DELETE', path: '/api/v1/repository/buildorg/app/build/{build_uuid}' },
    response: { status: 201, type: 'application/json', body: 'Okay' },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildResource.delete (cancelled already: InvalidRequest)',
    request: { method: 'DELETE', path: '/api/v1/repository/buildorg/app/build/{build_uuid}' },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Build is currently running or has finished' } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildResource.get of an unknown build (NotFound)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/build/00000000-0000-0000-0000-000000000000' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },

  {
    cite: 'endpoints/api/trigger.py BuildTrigger.get, trigger_view(can_admin=True) of an inactive trigger',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: TRIGGER_KEYS,
      body: { service: 'custom-git', is_active: false, build_source: null, repository_url: null, config: {}, can_invoke: true, enabled: true, disabled_reason: null },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.put of an inactive trigger (InvalidRequest)',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}', body: { enabled: false } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Cannot update an unactivated trigger' } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerActivate.post, CustomBuildTrigger.activate (deploy key and webhook URL in credentials)',
    request: {
      method: 'POST',
      path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/activate',
      body: { config: { build_source: 'git@127.0.0.1:team/app.git', dockerfile_path: '/Dockerfile', context: '/' } },
    },
    response: {
      status: 200,
      type: 'application/json',
      keys: TRIGGER_KEYS,
      body: { service: 'custom-git', is_active: true, build_source: 'git@127.0.0.1:team/app.git', can_invoke: true, enabled: true },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerActivate.post of an active trigger (InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/activate', body: { config: { build_source: 'git@127.0.0.1:team/app.git' } } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Trigger config is not sufficient for activation.' } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerAnalyze.post: a custom-git trigger reads no Dockerfile (NotImplementedError: "notimplemented")',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/analyze', body: { config: { build_source: 'git@127.0.0.1:team/app.git' } } },
    response: { status: 200, type: 'application/json', body: { status: 'notimplemented' } },
  },
  {
    // Quay's custom-git handler raises NotImplementedError here, which Quay answers 500; a clear 400 here.
    cite: 'endpoints/api/trigger.py BuildTriggerSubdirs.post of a custom-git trigger (Quay: 500, README remaining differences)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/subdir', body: {} },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'This trigger is not attached to an account of its source control service' } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerSourceNamespaces.get of a custom-git trigger (Quay: 500, README remaining differences)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/namespaces' },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'This trigger is not attached to an account of its source control service' } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerSources.post of a custom-git trigger (Quay: 500, README remaining differences)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/sources', body: { namespace: 'team' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'This trigger is not attached to an account of its source control service' } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerFieldValues.post of a custom-git trigger: no values (NotFound; Quay: 500, README remaining differences)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/fields/refs', body: {} },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },
  {
    cite: 'endpoints/api/trigger.py ActivateBuildTrigger.post, CustomBuildTrigger.manual_start without commit_sha (InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/start', body: {} },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'missing required parameter' } },
  },
  {
    cite: 'endpoints/api/trigger.py ActivateBuildTrigger.post, build_status_view with 201',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/start', body: { commit_sha: '0123456789abcdef0123456789abcdef01234567' } },
    response: {
      status: 201,
      type: 'application/json',
      keys: { ...BUILD_KEYS, trigger: 'object', trigger_metadata: 'object' },
      body: { phase: 'waiting', manual_user: 'admin' },
      save: { trigger_build_uuid: 'id' },
      headers: { location: '/api/v1/repository/buildorg/app/build/{trigger_build_uuid}/status' },
    },
  },
  {
    cite: 'endpoints/api/trigger.py TriggerBuildList.get',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/builds' },
    response: { status: 200, type: 'application/json', keys: { builds: 'array' }, items: { key: 'builds', keys: { ...BUILD_KEYS, trigger: 'object' } } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.put, trigger_view without can_admin (toggle_build_trigger: user_toggled)',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}', body: { enabled: false } },
    response: {
      status: 200,
      type: 'application/json',
      keys: TRIGGER_KEYS,
      body: { enabled: false, disabled_reason: 'user_toggled', config: {}, can_invoke: false, build_source: null },
    },
  },
  {
    cite: 'endpoints/api/trigger.py ActivateBuildTrigger.post of a disabled trigger (InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}/start', body: { commit_sha: '0123456789abcdef0123456789abcdef01234567' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Trigger is not enabled.' } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.get of a deleted trigger (get_trigger: NotFound)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },

  // The GitHub trigger `{github_trigger_uuid}` (connected to admin; GitHub's API on loopback, repository octo/app).
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.get of a trigger set up by the OAuth callback (inactive)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}' },
    response: { status: 200, type: 'application/json', keys: TRIGGER_KEYS, body: { service: 'github', is_active: false, enabled: true } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerSourceNamespaces.get, GithubBuildTrigger.list_build_source_namespaces',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/namespaces' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { namespaces: 'array' },
      items: { key: 'namespaces', keys: { personal: 'boolean', id: 'string', title: 'string', avatar_url: 'string', url: 'string', score: 'number' } },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerSources.post, GithubBuildTrigger.list_build_sources_for_namespace',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/sources', body: { namespace: 'octo' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { sources: 'array' },
      items: {
        key: 'sources',
        keys: { name: 'string', full_name: 'string', description: 'string', last_updated: 'number', url: 'string', has_admin_permissions: 'boolean', private: 'boolean' },
      },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerSources.post without a namespace (InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/sources', body: {} },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerSubdirs.post, GithubBuildTrigger.list_build_subdirs and get_parent_directory_mappings',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/subdir', body: { build_source: 'octo/app' } },
    response: {
      status: 200,
      type: 'application/json',
      keys: { dockerfile_paths: 'array', contextMap: 'object', status: 'string' },
      body: { status: 'success', dockerfile_paths: ['/Dockerfile', '/sub/web.Dockerfile'] },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerFieldValues.post, GithubBuildTrigger.list_field_values("refs")',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/fields/refs', body: { build_source: 'octo/app' } },
    response: {
      status: 200,
      type: 'application/json',
      body: {
        values: [
          { kind: 'branch', name: 'main' },
          { kind: 'tag', name: 'v1' },
        ],
      },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerFieldValues.post, GithubBuildTrigger.list_field_values("branch_name")',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/fields/branch_name', body: { build_source: 'octo/app' } },
    response: { status: 200, type: 'application/json', body: { values: ['main'] } },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerAnalyze.post, TriggerAnalyzer.analyze_trigger: FROM scratch is not on this registry (publicbase)',
    request: {
      method: 'POST',
      path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/analyze',
      body: { config: { build_source: 'octo/app', dockerfile_path: '/Dockerfile', context: '/' } },
    },
    response: {
      status: 200,
      type: 'application/json',
      keys: { namespace: 'string', name: 'null', robots: 'array', status: 'string', message: 'null', is_admin: 'boolean' },
      body: { namespace: 'buildorg', name: null, status: 'publicbase', message: null, is_admin: true },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTriggerActivate.post, GithubBuildTrigger.activate (deploy key and hook at GitHub)',
    request: {
      method: 'POST',
      path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/activate',
      body: { config: { build_source: 'octo/app', dockerfile_path: '/Dockerfile', context: '/' } },
    },
    response: {
      status: 200,
      type: 'application/json',
      keys: { ...TRIGGER_KEYS, repository_url: 'string' },
      body: { service: 'github', is_active: true, build_source: 'octo/app' },
    },
  },
  {
    cite: "endpoints/api/trigger.py ActivateBuildTrigger.post, GithubBuildTrigger.manual_start (the branch's head; _determine_tags: the branch and latest on the default branch, a set in Quay, sorted here)",
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/start', body: { branch_name: 'main' } },
    response: {
      status: 201,
      type: 'application/json',
      keys: { ...BUILD_KEYS, trigger: 'object', trigger_metadata: 'object' },
      body: { phase: 'waiting', tags: ['latest', 'main'] },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.delete (the key and hook removed at GitHub)',
    request: { method: 'DELETE', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}' },
    response: { status: 204 },
  },

  {
    cite: 'endpoints/api/logs.py ExportRepositoryLogs.post',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/exportlogs', body: {} },
    response: { status: 200, type: 'application/json', keys: { export_id: 'string' } },
  },
  {
    cite: 'endpoints/api/logs.py ExportUserLogs.post: a callback URL that is not http(s) (_queue_logs_export: InvalidRequest)',
    request: { method: 'POST', path: '/api/v1/user/exportlogs', body: { callback_url: 'ftp://127.0.0.1/logs' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Invalid callback URL' } },
  },
  {
    cite: 'endpoints/api/logs.py ExportUserLogs.post (starttime and endtime as "%m/%d/%Y")',
    request: { method: 'POST', path: '/api/v1/user/exportlogs?starttime=12/01/2026&endtime=12/31/2026', body: {} },
    response: { status: 200, type: 'application/json', keys: { export_id: 'string' } },
  },
  {
    cite: 'endpoints/api/logs.py ExportOrgLogs.post',
    request: { method: 'POST', path: '/api/v1/organization/buildorg/exportlogs', body: {} },
    response: { status: 200, type: 'application/json', keys: { export_id: 'string' } },
  },

  {
    cite: 'endpoints/api/robot.py OrgRobot.put (the mirror robot)',
    request: { method: 'PUT', path: '/api/v1/organization/buildorg/robots/mirrorbot', body: {} },
    response: { status: 201, type: 'application/json', body: { name: 'buildorg+mirrorbot' } },
  },
  {
    cite: 'endpoints/api/repository.py RepositoryList.post (the mirrored repository)',
    request: { method: 'POST', path: '/api/v1/repository', body: { namespace: 'buildorg', repository: 'mirrored', visibility: 'private', description: '' } },
    response: { status: 201, type: 'application/json', body: { namespace: 'buildorg', name: 'mirrored' } },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.post ("", 201)',
    request: {
      method: 'POST',
      path: '/api/v1/repository/buildorg/mirrored/mirror',
      body: {
        external_reference: '{registry_host}/admin/pushed',
        external_registry_config: { verify_tls: false },
        sync_interval: 3600,
        sync_start_date: '2099-01-01T00:00:00Z',
        root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v*'] },
        robot_username: 'buildorg+mirrorbot',
      },
    },
    response: { status: 201, type: 'application/json', body: '' },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.post of a second configuration (409)',
    request: {
      method: 'POST',
      path: '/api/v1/repository/buildorg/mirrored/mirror',
      body: {
        external_reference: '{registry_host}/admin/pushed',
        sync_interval: 3600,
        sync_start_date: '2099-01-01T00:00:00Z',
        root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v*'] },
        robot_username: 'buildorg+mirrorbot',
      },
    },
    response: { status: 409, type: 'application/json', body: { detail: 'Mirror configuration already exits for repository buildorg/mirrored' } },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.get, ViewMirrorConfig',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/mirrored/mirror' },
    response: {
      status: 200,
      type: 'application/json',
      keys: {
        is_enabled: 'boolean',
        mirror_type: 'string',
        external_reference: 'string',
        external_registry_username: 'null',
        external_registry_config: 'object',
        sync_interval: 'number',
        sync_start_date: 'string',
        sync_expiration_date: 'null',
        sync_retries_remaining: 'number',
        sync_status: 'string',
        root_rule: 'object',
        robot_username: 'string',
      },
      body: {
        is_enabled: true,
        mirror_type: 'PULL',
        sync_interval: 3600,
        sync_start_date: '2099-01-01T00:00:00Z',
        sync_status: 'NEVER_RUN',
        root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v*'] },
        robot_username: 'buildorg+mirrorbot',
      },
    },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.put ("", 201)',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/mirrored/mirror', body: { is_enabled: false, sync_interval: 7200 } },
    response: { status: 201, type: 'application/json', body: '' },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.put: an empty external reference',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/mirrored/mirror', body: { external_reference: '' } },
    response: { status: 400, type: 'application/json', body: { detail: 'Empty string is an invalid repository location.' } },
  },
  {
    // NORMAL, so that no mirror worker takes the sync requested below before it is cancelled.
    cite: 'endpoints/api/repository.py RepositoryStateResource.put (the mirrored repository back to NORMAL)',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/mirrored/changestate', body: { state: 'NORMAL' } },
    response: { status: 200, type: 'application/json', body: { success: true } },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorSyncNowResource.post ("", 204)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/mirrored/mirror/sync-now' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorResource.get after sync-now',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/mirrored/mirror' },
    response: { status: 200, type: 'application/json', body: { is_enabled: false, sync_interval: 7200, sync_status: 'SYNC_NOW' } },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorSyncCancelResource.post ("", 204)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/mirrored/mirror/sync-cancel' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/mirror.py RepoMirrorSyncCancelResource.post with nothing to cancel (NotFound)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/mirrored/mirror/sync-cancel' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },

  {
    cite: 'endpoints/api/organization.py OrganizationList.post (the proxy-cache organization)',
    request: { method: 'POST', path: '/api/v1/organization/', body: { name: 'proxyorg', email: 'proxyorg@example.com' } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/organization.py ProxyCacheConfigValidation.post: the upstream answers /v2/ with 401 ("Anonymous", 202)',
    request: { method: 'POST', path: '/api/v1/organization/proxyorg/validateproxycache', body: { upstream_registry: '{registry_host}', insecure: true } },
    response: { status: 202, type: 'application/json', body: 'Anonymous' },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.post ("Created", 201)',
    request: { method: 'POST', path: '/api/v1/organization/proxyorg/proxycache', body: { upstream_registry: '{registry_host}', insecure: true, expiration_s: 3600 } },
    response: { status: 201, type: 'application/json', body: 'Created' },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.get, proxy_cache_view',
    request: { method: 'GET', path: '/api/v1/organization/proxyorg/proxycache' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { upstream_registry: 'string', expiration_s: 'number', insecure: 'boolean' },
      body: { expiration_s: 3600, insecure: true },
    },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.post of a second configuration (request_error)',
    request: { method: 'POST', path: '/api/v1/organization/proxyorg/proxycache', body: { upstream_registry: '{registry_host}' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Proxy Cache Configuration already exists' } },
  },
  {
    // Quay builds this error but does not raise it, and validates anyway; here the refusal stands.
    cite: 'endpoints/api/organization.py ProxyCacheConfigValidation.post with a configuration in place (Quay: validates; README remaining differences)',
    request: { method: 'POST', path: '/api/v1/organization/proxyorg/validateproxycache', body: { upstream_registry: '{registry_host}', insecure: true } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, body: { error_message: 'Proxy Cache Configuration already exists' } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.delete ("Deleted", 201)',
    request: { method: 'DELETE', path: '/api/v1/organization/proxyorg/proxycache' },
    response: { status: 201, type: 'application/json', body: 'Deleted' },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.delete with none (NotFound)',
    request: { method: 'DELETE', path: '/api/v1/organization/proxyorg/proxycache' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },

  {
    cite: 'endpoints/api/manifest.py RepositoryManifest.get, _manifest_dict',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/{digest}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { digest: 'string', is_manifest_list: 'boolean', manifest_data: 'string', config_media_type: ['string', 'null'], layers: 'array' },
      body: { is_manifest_list: false },
      items: {
        key: 'layers',
        keys: {
          index: 'number',
          compressed_size: ['number', 'null'],
          is_remote: 'boolean',
          urls: ['array', 'null'],
          command: ['array', 'null'],
          comment: ['string', 'null'],
          author: ['string', 'null'],
          blob_digest: 'string',
          created_datetime: ['string', 'null'],
        },
      },
    },
  },
  {
    cite: 'endpoints/api/manifest.py RepositoryManifest.get of an unknown digest (NotFound)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/sha256:0000000000000000000000000000000000000000000000000000000000000000' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },
  {
    cite: 'endpoints/api/manifest.py RepositoryManifestLabels.get (none)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels' },
    response: { status: 200, type: 'application/json', body: { labels: [] } },
  },
  {
    cite: 'endpoints/api/manifest.py RepositoryManifestLabels.post, _label_dict with 201',
    request: { method: 'POST', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels', body: { key: 'owner', value: 'compat', media_type: 'text/plain' } },
    response: {
      status: 201,
      type: 'application/json',
      keys: { label: 'object' },
      save: { label_id: 'label.id' },
      headers: { location: '/api/v1/repository/admin/pushed/manifest/{digest}/labels/{label_id}' },
    },
  },
  {
    cite: 'endpoints/api/manifest.py RepositoryManifestLabels.post with a reserved prefix (abort 400, message)',
    request: { method: 'POST', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels', body: { key: 'com.docker.x', value: 'v', media_type: null } },
    response: { status: 400, type: 'application/json', body: { message: 'Label has a reserved prefix' } },
  },
  {
    cite: 'endpoints/api/manifest.py RepositoryManifestLabels.get (filter by prefix)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels?filter=own' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { labels: 'array' },
      items: { key: 'labels', keys: { id: 'string', key: 'string', value: 'string', source_type: 'string', media_type: 'string' } },
    },
  },
  {
    cite: 'endpoints/api/manifest.py ManageRepositoryManifestLabel.get, _label_dict',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels/{label_id}' },
    response: {
      status: 200,
      type: 'application/json',
      keys: { id: 'string', key: 'string', value: 'string', source_type: 'string', media_type: 'string' },
      body: { key: 'owner', value: 'compat', source_type: 'api', media_type: 'text/plain' },
    },
  },
  {
    cite: 'endpoints/api/manifest.py ManageRepositoryManifestLabel.delete',
    request: { method: 'DELETE', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels/{label_id}' },
    response: { status: 204 },
  },
  {
    cite: 'endpoints/api/manifest.py ManageRepositoryManifestLabel.get of a deleted label (NotFound)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels/{label_id}' },
    response: { status: 404, type: 'application/json', keys: ERROR_KEYS },
  },
  {
    cite: 'endpoints/api/secscan.py RepositoryManifestSecurity.get, _security_info (status: scanned, failed, queued or unsupported)',
    request: { method: 'GET', path: '/api/v1/repository/admin/pushed/manifest/{digest}/security?vulnerabilities=true' },
    response: { status: 200, type: 'application/json', keys: { status: 'string', data: ['object', 'null'] } },
  },

  // Bodies of these areas validated as jsonschema validates them (validate_json_request): jsonschema's first line.
  {
    cite: 'endpoints/api/manifest.py RepositoryManifestLabels.post, schema AddLabel (media_type enum)',
    request: { method: 'POST', path: '/api/v1/repository/admin/pushed/manifest/{digest}/labels', body: { key: 'owner', value: 'x', media_type: 'text/html' } },
    response: {
      status: 400,
      type: 'application/json',
      keys: ERROR_KEYS,
      body: { error_type: 'invalid_request' },
      texts: { error_message: "'text/html' is not one of ['text/plain', 'application/json', None]" },
    },
  },
  {
    cite: 'endpoints/api/trigger.py BuildTrigger.put, schema UpdateTrigger (enabled: boolean)',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/app/trigger/{trigger_uuid}', body: { enabled: 'yes' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, texts: { error_message: "'yes' is not of type 'boolean'" } },
  },
  {
    cite: 'endpoints/api/trigger.py ActivateBuildTrigger.post, schema RunParameters (additionalProperties: false; validated before the trigger is looked up)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/trigger/{github_trigger_uuid}/start', body: { branch: 'main' } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, texts: { error_message: "Additional properties are not allowed ('branch' was unexpected)" } },
  },
  {
    cite: 'endpoints/api/build.py RepositoryBuildList.post, schema RepositoryBuildRequest (docker_tags: minItems 1)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/build/', body: { archive_url: 'http://127.0.0.1:9/context.tar.gz', docker_tags: [] } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, texts: { error_message: '[] is too short' } },
  },
  {
    cite: 'endpoints/api/logs.py ExportOrgLogs.post, EXPORT_LOGS_SCHEMA (callback_url: string)',
    request: { method: 'POST', path: '/api/v1/organization/buildorg/exportlogs', body: { callback_url: 5 } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, texts: { error_message: "5 is not of type 'string'" } },
  },
  {
    cite: 'endpoints/api/organization.py OrganizationProxyCacheConfig.post, schema NewProxyCacheConfig (upstream_registry required)',
    request: { method: 'POST', path: '/api/v1/organization/buildorg/proxycache', body: { insecure: true } },
    response: { status: 400, type: 'application/json', keys: ERROR_KEYS, texts: { error_message: "'upstream_registry' is a required property" } },
  },
  {
    cite: 'endpoints/api/repoemail.py RepositoryAuthorizedEmail.get of an address never authorized (abort 404)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/authorizedemail/ops@example.com' },
    response: { status: 404, type: 'application/json' },
  },
  {
    cite: 'endpoints/api/repoemail.py RepositoryAuthorizedEmail.post (the e-mail is sent; to_dict without the code)',
    request: { method: 'POST', path: '/api/v1/repository/buildorg/app/authorizedemail/ops@example.com' },
    response: { status: 200, type: 'application/json', body: { email: 'ops@example.com', repository: 'app', namespace: 'buildorg', confirmed: false } },
  },
  {
    cite: 'endpoints/api/repoemail.py RepositoryAuthorizedEmail.get (requested, not yet confirmed)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/authorizedemail/ops@example.com' },
    response: { status: 200, type: 'application/json', body: { email: 'ops@example.com', repository: 'app', namespace: 'buildorg', confirmed: false } },
  },
  {
    cite: 'endpoints/api/repotoken.py RepositoryToken.get (gone in Quay 3.8: 410)',
    request: { method: 'GET', path: '/api/v1/repository/buildorg/app/tokens/sometoken' },
    response: { status: 410, type: 'application/json', body: { message: 'Handling of access tokens is no longer supported' } },
  },
  {
    cite: 'endpoints/api/repotoken.py RepositoryToken.put (gone in Quay 3.8: 410)',
    request: { method: 'PUT', path: '/api/v1/repository/buildorg/app/tokens/sometoken', body: { role: 'read' } },
    response: { status: 410, type: 'application/json', body: { message: 'Handling of access tokens is no longer supported' } },
  },
  {
    cite: 'endpoints/api/repotoken.py RepositoryToken.delete (gone in Quay 3.8: 410)',
    request: { method: 'DELETE', path: '/api/v1/repository/buildorg/app/tokens/sometoken' },
    response: { status: 410, type: 'application/json', body: { message: 'Handling of access tokens is no longer supported' } },
  },
  ...CORPUS_MORE,
];
