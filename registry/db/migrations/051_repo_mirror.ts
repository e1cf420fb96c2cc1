/**
 * Repository mirroring (Quay's RepoMirrorConfig and its tag rule, one per repository). The sync state is a
 * lease: a worker claims a row by moving it to SYNCING with an expiry it renews while it works, so two
 * workers never sync one repository at once and a dead worker's claim lapses.
 */
export default `
CREATE TABLE repo_mirror_config (
  repository_id BIGINT PRIMARY KEY REFERENCES repository(id) ON DELETE CASCADE,
  is_enabled BOOLEAN NOT NULL DEFAULT true,
  external_reference TEXT NOT NULL,
  username_enc TEXT,
  password_enc TEXT,
  verify_tls BOOLEAN NOT NULL DEFAULT true,
  unsigned_images BOOLEAN NOT NULL DEFAULT false,
  http_proxy TEXT,
  https_proxy TEXT,
  no_proxy TEXT,
  robot_id BIGINT NOT NULL REFERENCES namespace(id),
  tag_rules JSONB NOT NULL,
  architecture_filter JSONB NOT NULL DEFAULT '[]',
  sync_interval BIGINT NOT NULL CHECK (sync_interval >= 1),
  sync_start_date TIMESTAMPTZ,
  sync_expiration_date TIMESTAMPTZ,
  sync_retries_remaining INT NOT NULL DEFAULT 3,
  sync_status TEXT NOT NULL DEFAULT 'NEVER_RUN'
    CHECK (sync_status IN ('CANCEL', 'FAIL', 'NEVER_RUN', 'SUCCESS', 'SYNCING', 'SYNC_NOW')),
  sync_transaction_id UUID NOT NULL DEFAULT gen_random_uuid(),
  skopeo_timeout_interval INT NOT NULL DEFAULT 300 CHECK (skopeo_timeout_interval >= 300),
  -- who holds the lease (worker id), for the logs and the no-overlap test
  sync_worker TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX repo_mirror_due ON repo_mirror_config (sync_start_date) WHERE is_enabled;
`;
