/**
 * Dockerfile builds (Quay's RepositoryBuild). A row is created with its queue item and its push token in one
 * transaction; the build manager moves `phase` forward with compare-and-set writes. `trigger_uuid` names the
 * build trigger (builds-api's table) without a foreign key, so a build outlives its trigger as in Quay.
 */
export default `
CREATE TABLE repository_build (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  phase TEXT NOT NULL DEFAULT 'waiting' CHECK (phase IN
    ('waiting', 'build-scheduled', 'unpacking', 'pulling', 'building', 'pushing', 'complete', 'error', 'internalerror', 'cancelled')),
  started TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at TIMESTAMPTZ,
  display_name TEXT NOT NULL,
  job_config JSONB NOT NULL,
  resource_key TEXT,
  archive_url TEXT,
  pull_robot_id BIGINT REFERENCES namespace(id) ON DELETE SET NULL,
  -- the temporary write token of the build (kind build-worker); its code sealed so the manager can hand it to the worker
  access_token_id BIGINT REFERENCES access_token(id) ON DELETE SET NULL,
  push_token_sealed TEXT,
  -- the queue item (queue_item rows are deleted when settled, hence no foreign key)
  queue_id BIGINT,
  logs_archived BOOLEAN NOT NULL DEFAULT false,
  -- digest under which the gzipped log archive sits in blob storage
  logs_archive_digest TEXT,
  trigger_uuid TEXT,
  trigger_service TEXT
);
CREATE INDEX repository_build_repo_started ON repository_build (repository_id, started DESC, id DESC);
CREATE INDEX repository_build_trigger ON repository_build (trigger_uuid, started DESC) WHERE trigger_uuid IS NOT NULL;
CREATE INDEX repository_build_unarchived ON repository_build (started) WHERE NOT logs_archived;

-- Quay's per-namespace cap on builds waiting or running (null: no cap beyond DEFAULT_NAMESPACE_MAXIMUM_BUILD_COUNT).
ALTER TABLE namespace ADD COLUMN maximum_queued_builds_count INT CHECK (maximum_queued_builds_count IS NULL OR maximum_queued_builds_count >= 0);
`;
