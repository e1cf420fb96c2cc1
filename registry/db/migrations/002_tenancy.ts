/**
 * Tenancy: teams and their members and invitations, repository permissions, default permissions, robots,
 * OAuth applications and tokens, app-specific tokens, repository access tokens ($token), stars, browser
 * sessions and the generated secrets every replica shares.
 */
export default `
CREATE TABLE team (
  id BIGSERIAL PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('member', 'creator', 'admin')),
  description TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (org_id, name)
);

-- Members are users or robots of the team's organization.
CREATE TABLE team_member (
  team_id BIGINT NOT NULL REFERENCES team(id) ON DELETE CASCADE,
  member_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  PRIMARY KEY (team_id, member_id)
);
CREATE INDEX team_member_member ON team_member (member_id);

-- A user added to a team is a member only once they accept.
CREATE TABLE team_invite (
  id BIGSERIAL PRIMARY KEY,
  team_id BIGINT NOT NULL REFERENCES team(id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES namespace(id) ON DELETE CASCADE,
  email TEXT,
  inviter_id BIGINT REFERENCES namespace(id) ON DELETE SET NULL,
  code TEXT NOT NULL UNIQUE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK ((user_id IS NULL) <> (email IS NULL))
);
CREATE UNIQUE INDEX team_invite_user ON team_invite (team_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX team_invite_by_user ON team_invite (user_id);

-- Exactly one of user (a user or a robot) and team holds the role.
CREATE TABLE repository_permission (
  id BIGSERIAL PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES namespace(id) ON DELETE CASCADE,
  team_id BIGINT REFERENCES team(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE UNIQUE INDEX repository_permission_user ON repository_permission (repository_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX repository_permission_team ON repository_permission (repository_id, team_id) WHERE team_id IS NOT NULL;
CREATE INDEX repository_permission_by_user ON repository_permission (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX repository_permission_by_team ON repository_permission (team_id) WHERE team_id IS NOT NULL;

-- Default permissions: applied to each repository created in the organization (by anyone, or by one user).
CREATE TABLE permission_prototype (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  org_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  activating_user_id BIGINT REFERENCES namespace(id) ON DELETE CASCADE,
  delegate_user_id BIGINT REFERENCES namespace(id) ON DELETE CASCADE,
  delegate_team_id BIGINT REFERENCES team(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  CHECK ((delegate_user_id IS NULL) <> (delegate_team_id IS NULL))
);
CREATE INDEX permission_prototype_org ON permission_prototype (org_id);

-- The robot's own row is its namespace row (kind robot); its token is shown again on request, so it is
-- stored encrypted rather than hashed.
CREATE TABLE robot_account (
  robot_id BIGINT PRIMARY KEY REFERENCES namespace(id) ON DELETE CASCADE,
  token_enc TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  unstructured_metadata JSONB NOT NULL DEFAULT '{}',
  last_accessed TIMESTAMPTZ
);

CREATE TABLE oauth_application (
  id BIGSERIAL PRIMARY KEY,
  client_id TEXT NOT NULL UNIQUE,
  client_secret_enc TEXT NOT NULL,
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  redirect_uri TEXT NOT NULL DEFAULT '',
  application_uri TEXT NOT NULL DEFAULT '',
  avatar_email TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX oauth_application_namespace ON oauth_application (namespace_id);

-- A token is <token_name (20)><secret (20)>; only a hash of the secret is kept.
CREATE TABLE oauth_access_token (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  application_id BIGINT NOT NULL REFERENCES oauth_application(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  created_by_id BIGINT REFERENCES namespace(id) ON DELETE SET NULL,
  name TEXT NOT NULL DEFAULT '',
  scope TEXT NOT NULL,
  token_name TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL,
  expires_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_accessed TIMESTAMPTZ
);
CREATE INDEX oauth_access_token_application ON oauth_access_token (application_id);
CREATE INDEX oauth_access_token_user ON oauth_access_token (user_id);

-- <token_name (60)><secret (60)>; the secret is shown again on request, so it is stored encrypted.
CREATE TABLE app_token (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  user_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  token_name TEXT NOT NULL UNIQUE,
  secret_enc TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expiration TIMESTAMPTZ,
  last_accessed TIMESTAMPTZ
);
CREATE INDEX app_token_user ON app_token (user_id);

-- Repository-scoped tokens used as \`$token\` (build workers, trigger webhooks).
CREATE TABLE access_token (
  id BIGSERIAL PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  kind TEXT NOT NULL,
  friendly_name TEXT NOT NULL DEFAULT '',
  token_name TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at TIMESTAMPTZ
);

CREATE TABLE star (
  user_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, repository_id)
);
CREATE INDEX star_repository ON star (repository_id);

-- Browser sessions (POST /api/v1/signin); the cookie carries the id, the table only its hash.
CREATE TABLE web_session (
  id_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  fresh_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_session_user ON web_session (user_id);

-- Keys generated on first use when config.yaml has none (DATABASE_SECRET_KEY, PAGE_TOKEN_KEY), shared by replicas.
CREATE TABLE app_secret (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
`;
