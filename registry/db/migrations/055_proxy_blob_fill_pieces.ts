/**
 * A blob fill on object storage publishes its progress in its lease row: the staging upload it writes and the
 * pieces of it already stored there (each a segment of the upload, immutable once listed, in order). Another
 * replica's clients of the blob stream those pieces while the fill goes on, instead of waiting for the blob.
 */
export default `
ALTER TABLE proxy_blob_fill ADD COLUMN upload_id TEXT, ADD COLUMN pieces JSONB NOT NULL DEFAULT '[]';
`;
