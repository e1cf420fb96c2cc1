/**
 * Upload sessions list their committed segments (storage/blobstore.ts: one private segment per request,
 * attached by a compare-and-set on the offset). Sessions staged under the old layout (one shared file or
 * offset-keyed objects) cannot be continued safely; their clients start those uploads again.
 */
export default `
ALTER TABLE blob_upload ADD COLUMN segments jsonb NOT NULL DEFAULT '[]';
DELETE FROM blob_upload WHERE byte_count > 0;
`;
