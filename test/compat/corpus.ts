/**
 * Request/response pairs of Quay 3.8's REST API, written from Quay's source (cited per pair: file and handler)
 * and the user guide's chapter 14 and 17 examples. Replayed in order against a running registry by
 * compat.test.ts: each answer must have the status, the content type, and the keys with the JSON types given
 * (`keys`), or exactly the body given (`body`). `{quota_id}` and `{limit_id}` are filled from earlier answers.
 */
export type JsonType = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'null';

export interface CompatPair {
  cite: string;
  request: { method: string; path: string; body?: unknown };
  response: {
    status: number;
    type?: 'application/json';
    body?: unknown;
    keys?: Record<string, JsonType | JsonType[]>;
    items?: { key: string; keys: Record<string, JsonType | JsonType[]> };
  };
}

const QUOTA_LIMIT_KEYS = { id: 'number', type: 'string', limit_percent: 'number' } as const;

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
];
