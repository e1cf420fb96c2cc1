/**
 * When the upstream last confirmed each proxy-cache tag (its digest answered by a HEAD, or the manifest
 * fetched): the revalidation throttle (PROXY_CACHE_MANIFEST_CHECK_INTERVAL) and the stale-if-error window
 * (PROXY_CACHE_STALE_IF_ERROR) count from it. A row of its own, not a tag column: writing it must not look
 * like a tag change to the pull path's caches (migration 054). Written only when one of those keys is set.
 */
export default `
CREATE TABLE proxy_tag_check (
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  manifest_id BIGINT NOT NULL REFERENCES manifest(id) ON DELETE CASCADE,
  checked_ms BIGINT NOT NULL,
  PRIMARY KEY (repository_id, name)
);
CREATE INDEX proxy_tag_check_manifest ON proxy_tag_check (manifest_id);
`;
