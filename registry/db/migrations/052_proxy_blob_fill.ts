/**
 * Cross-replica single-flight for cold proxy-cache and mirror blobs: the replica that fetches a blob from
 * the upstream holds a lease row for its digest (renewed while the bytes flow); other replicas wait for
 * the blob to land instead of fetching it again, and take the fill over when a lease lapses (its holder died).
 */
export default `
CREATE TABLE proxy_blob_fill (
  digest TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
`;
