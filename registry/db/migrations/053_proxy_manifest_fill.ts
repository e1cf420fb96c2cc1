/**
 * Cross-replica single-flight for cold proxy-cache manifests: the replica that fetches a manifest from the
 * upstream holds a lease row for its (organization, repository, reference), renewed while it stores it;
 * other replicas wait for it to land and serve the stored copy instead of fetching it again.
 */
export default `
CREATE TABLE proxy_manifest_fill (
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  repository TEXT NOT NULL,
  reference TEXT NOT NULL,
  owner TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (namespace_id, repository, reference)
);
`;
