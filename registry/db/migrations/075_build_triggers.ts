/**
 * Build triggers (Quay's RepositoryBuildTrigger) and the build packs uploaded through /api/v1/filedrop/
 * (Quay's userfiles). Secrets (the SSH deploy private key, the SCM OAuth token, the webhook token) are kept
 * sealed with the registry's secret box, never in clear. A trigger starts inactive; activation generates
 * its deploy key and webhook token.
 */
export default `
-- Quay names the table RepositoryBuildTrigger; "repository_build_trigger" is an index of migration 70.
CREATE TABLE build_trigger (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  service TEXT NOT NULL CHECK (service IN ('custom-git', 'github', 'gitlab', 'bitbucket')),
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  connected_user_id BIGINT REFERENCES namespace(id) ON DELETE SET NULL,
  secure_auth_token TEXT,
  secure_private_key TEXT,
  secure_webhook_token TEXT,
  config JSONB NOT NULL DEFAULT '{}',
  pull_robot_id BIGINT REFERENCES namespace(id) ON DELETE SET NULL,
  enabled BOOLEAN NOT NULL DEFAULT true,
  disabled_reason TEXT CHECK (disabled_reason IN ('successive_build_failures', 'successive_build_internal_errors', 'user_toggled')),
  disabled_datetime TIMESTAMPTZ,
  successive_failure_count INT NOT NULL DEFAULT 0,
  successive_internal_error_count INT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX repository_build_trigger_repository ON build_trigger (repository_id);

-- An upload URL handed out by POST /api/v1/filedrop/; the bytes are stored once, under their digest.
CREATE TABLE userfile (
  uuid UUID PRIMARY KEY,
  mime_type TEXT NOT NULL,
  created_by BIGINT REFERENCES namespace(id) ON DELETE SET NULL,
  digest TEXT,
  size BIGINT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  uploaded_at TIMESTAMPTZ
);
`;
