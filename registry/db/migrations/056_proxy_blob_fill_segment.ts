/**
 * A blob fill on LocalStorage publishes in its lease row the staging segment it writes as the upstream's bytes
 * arrive (in the upload of `upload_id`): replicas sharing the store's directory read that file as it grows,
 * instead of waiting for the blob to land.
 */
export default `
ALTER TABLE proxy_blob_fill ADD COLUMN segment TEXT;
`;
