/**
 * Finished upload sessions, remembered for a while after their blob was published: a load balancer that
 * resends an upload's last PUT (the replica that published died before its answer got out) gets the same
 * 201 instead of BLOB_UPLOAD_UNKNOWN. Removed with the abandoned uploads (workers/upload_cleanup.ts).
 */
export default `
CREATE TABLE blob_upload_finished (
  id UUID PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  finished_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX blob_upload_finished_at ON blob_upload_finished (finished_at);
`;
