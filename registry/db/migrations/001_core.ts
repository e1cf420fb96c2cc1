/** Core schema: principals, repositories, content (blobs, manifests), tags as intervals, uploads, signing keys, logs. */
export default `
-- Users, organizations and robots share one namespace table, as in Quay: a repository belongs to exactly
-- one namespace and a robot to exactly one owner.
CREATE TABLE namespace (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'org', 'robot')),
  email TEXT,
  password_hash TEXT,
  enabled BOOLEAN NOT NULL DEFAULT true,
  verified BOOLEAN NOT NULL DEFAULT true,
  -- set for the account created at first start; config SUPER_USERS adds more
  superuser BOOLEAN NOT NULL DEFAULT false,
  robot_owner_id BIGINT REFERENCES namespace(id) ON DELETE CASCADE,
  -- the time machine window of this namespace, in seconds
  removed_tag_expiration_s BIGINT NOT NULL DEFAULT 1209600,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK ((kind = 'robot') = (robot_owner_id IS NOT NULL))
);
CREATE UNIQUE INDEX namespace_email_user ON namespace (lower(email)) WHERE kind = 'user' AND email IS NOT NULL;

CREATE TABLE repository (
  id BIGSERIAL PRIMARY KEY,
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  visibility TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private')),
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'NORMAL',
  kind TEXT NOT NULL DEFAULT 'image',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (namespace_id, name)
);

-- Content is stored once per digest; who may see it is decided by the references below.
CREATE TABLE blob (
  id BIGSERIAL PRIMARY KEY,
  digest TEXT NOT NULL UNIQUE,
  size BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A short-lived reference held by a finished upload or a mount until a manifest references the blob.
CREATE TABLE uploaded_blob (
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  blob_id BIGINT NOT NULL REFERENCES blob(id),
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (repository_id, blob_id)
);
CREATE INDEX uploaded_blob_blob ON uploaded_blob (blob_id);
CREATE INDEX uploaded_blob_expires ON uploaded_blob (expires_at);

-- An upload session. Its bytes are staged in the blob store under its id.
CREATE TABLE blob_upload (
  id UUID PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  byte_count BIGINT NOT NULL DEFAULT 0,
  algorithm TEXT NOT NULL DEFAULT 'sha256',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX blob_upload_updated ON blob_upload (updated_at);

-- Manifests are per repository (as in Quay); the bytes are kept exactly as pushed.
CREATE TABLE manifest (
  id BIGSERIAL PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  bytes BYTEA NOT NULL,
  size BIGINT NOT NULL,
  config_media_type TEXT,
  artifact_type TEXT,
  subject_digest TEXT,
  annotations JSONB,
  layers_size BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- set by an explicit manifest DELETE: hidden from pulls, still restorable inside the time machine window
  deleted_at TIMESTAMPTZ,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifest_subject ON manifest (repository_id, subject_digest) WHERE subject_digest IS NOT NULL;

CREATE TABLE manifest_blob (
  manifest_id BIGINT NOT NULL REFERENCES manifest(id) ON DELETE CASCADE,
  blob_id BIGINT NOT NULL REFERENCES blob(id),
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  PRIMARY KEY (manifest_id, blob_id)
);
CREATE INDEX manifest_blob_blob ON manifest_blob (blob_id, repository_id);

CREATE TABLE manifest_child (
  manifest_id BIGINT NOT NULL REFERENCES manifest(id) ON DELETE CASCADE,
  child_manifest_id BIGINT NOT NULL REFERENCES manifest(id),
  PRIMARY KEY (manifest_id, child_manifest_id)
);
CREATE INDEX manifest_child_child ON manifest_child (child_manifest_id);

-- Tags are intervals: moving a tag ends the open row and starts a new one; deleting ends it; an expiry is
-- an end in the future; history is every row of a name.
CREATE TABLE tag (
  id BIGSERIAL PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  manifest_id BIGINT NOT NULL REFERENCES manifest(id),
  start_ms BIGINT NOT NULL,
  end_ms BIGINT,
  reversion BOOLEAN NOT NULL DEFAULT false,
  CHECK (end_ms IS NULL OR end_ms >= start_ms)
);
CREATE INDEX tag_lookup ON tag (repository_id, name, start_ms DESC);
CREATE INDEX tag_manifest ON tag (manifest_id);
CREATE INDEX tag_end ON tag (end_ms) WHERE end_ms IS NOT NULL;

-- Keys that sign registry bearer tokens; shared by every replica.
CREATE TABLE service_key (
  kid TEXT PRIMARY KEY,
  private_jwk JSONB NOT NULL,
  public_jwk JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Usage logs: append-only, partitioned by time, read by time range.
CREATE TABLE log_entry (
  id BIGSERIAL,
  kind TEXT NOT NULL,
  account_id BIGINT,
  performer_id BIGINT,
  repository_id BIGINT,
  datetime TIMESTAMPTZ NOT NULL DEFAULT now(),
  ip TEXT,
  metadata JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (datetime, id)
) PARTITION BY RANGE (datetime);
CREATE TABLE log_entry_default PARTITION OF log_entry DEFAULT;
CREATE INDEX log_entry_account ON log_entry (account_id, datetime);
CREATE INDEX log_entry_performer ON log_entry (performer_id, datetime);
CREATE INDEX log_entry_repository ON log_entry (repository_id, datetime);
`;
