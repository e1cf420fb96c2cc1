/**
 * Security scanning. `manifest_security_status` is Quay's ManifestSecurityStatus (index_status values as
 * Quay's IndexStatus: 0 PENDING, 1 IN_PROGRESS, 2 COMPLETED, -1 FAILED, -2 MANIFEST_UNSUPPORTED,
 * -3 MANIFEST_LAYER_TOO_LARGE, -4 SCAN_RETRIES_EXHAUSTED). The built-in scanner stores each manifest's
 * detected packages (its index report) in `secscan_package`; vulnerabilities are matched at read time
 * against the imported OSV database (`osv_advisory`, looked up through `osv_affected`). Everything hangs
 * off manifest rows with ON DELETE CASCADE, so GC of a manifest removes its report.
 */
export default `
CREATE TABLE manifest_security_status (
  manifest_id BIGINT PRIMARY KEY REFERENCES manifest(id) ON DELETE CASCADE,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  index_status SMALLINT NOT NULL DEFAULT 0,
  indexer_hash TEXT NOT NULL DEFAULT '',
  indexer_version SMALLINT NOT NULL DEFAULT 4,
  error_json JSONB,
  last_indexed TIMESTAMPTZ,
  metadata_json JSONB NOT NULL DEFAULT '{}',
  distribution JSONB
);
CREATE INDEX manifest_security_status_status ON manifest_security_status (index_status, last_indexed);
CREATE INDEX manifest_security_status_repo ON manifest_security_status (repository_id);

CREATE TABLE secscan_package (
  manifest_id BIGINT NOT NULL REFERENCES manifest(id) ON DELETE CASCADE,
  ordinal INT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  match_name TEXT NOT NULL,
  match_version TEXT NOT NULL,
  kind TEXT NOT NULL,
  package_db TEXT NOT NULL,
  added_by TEXT NOT NULL,
  arch TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (manifest_id, ordinal)
);
CREATE INDEX secscan_package_key ON secscan_package (ecosystem, match_name);

CREATE TABLE osv_advisory (
  id TEXT PRIMARY KEY,
  modified TEXT NOT NULL DEFAULT '',
  doc JSONB NOT NULL,
  imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE osv_affected (
  advisory_id TEXT NOT NULL REFERENCES osv_advisory(id) ON DELETE CASCADE,
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (advisory_id, ecosystem, name)
);
CREATE INDEX osv_affected_key ON osv_affected (ecosystem, name);

-- One row: what was imported last (state = hash of advisory ids and modified dates; source = fingerprint of
-- the files it came from) and the lease of the replica importing now.
CREATE TABLE osv_import (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  state TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  advisories INT NOT NULL DEFAULT 0,
  imported_at TIMESTAMPTZ,
  lease_until TIMESTAMPTZ
);
INSERT INTO osv_import (id) VALUES (1);
`;
