/**
 * Deleting an organization or user with pushed content failed: the quota trigger on manifest_blob, run by
 * the cascade, updated the namespace's counter row twice, and the second update of a row version made by the
 * same transaction re-checked its foreign key against the namespace already deleted. Counters of a
 * namespace that no longer exists are skipped (they go with it).
 */
export default `
CREATE OR REPLACE FUNCTION quota_apply(p_repo BIGINT[], p_blob BIGINT[], p_sign INT) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  g RECORD;
  delta BIGINT;
BEGIN
  FOR g IN
    SELECT r.namespace_id AS ns, x.repository_id AS repo, array_agg(x.blob_id ORDER BY x.blob_id) AS blobs, array_agg(x.n ORDER BY x.blob_id) AS counts
      FROM (SELECT t.repository_id, t.blob_id, count(*) AS n FROM unnest(p_repo, p_blob) AS t(repository_id, blob_id) GROUP BY 1, 2) x
      JOIN repository r ON r.id = x.repository_id
      JOIN namespace ns ON ns.id = r.namespace_id
     GROUP BY r.namespace_id, x.repository_id
     ORDER BY r.namespace_id, x.repository_id
  LOOP
    IF p_sign > 0 THEN
      INSERT INTO quota_namespace_size (namespace_id) VALUES (g.ns)
        ON CONFLICT (namespace_id) DO UPDATE SET size_bytes = quota_namespace_size.size_bytes;
      INSERT INTO quota_repository_size (repository_id) VALUES (g.repo)
        ON CONFLICT (repository_id) DO UPDATE SET size_bytes = quota_repository_size.size_bytes;
      WITH up AS (
        INSERT INTO quota_namespace_blob (namespace_id, blob_id, refs)
        SELECT g.ns, t.b, t.c FROM unnest(g.blobs, g.counts) AS t(b, c)
        ON CONFLICT (namespace_id, blob_id) DO UPDATE SET refs = quota_namespace_blob.refs + EXCLUDED.refs
        RETURNING blob_id, (xmax = 0) AS fresh)
      SELECT coalesce(sum(b.size), 0) INTO delta FROM up JOIN blob b ON b.id = up.blob_id WHERE up.fresh;
      UPDATE quota_namespace_size SET size_bytes = size_bytes + delta WHERE namespace_id = g.ns;
      WITH up AS (
        INSERT INTO quota_repository_blob (repository_id, blob_id, refs)
        SELECT g.repo, t.b, t.c FROM unnest(g.blobs, g.counts) AS t(b, c)
        ON CONFLICT (repository_id, blob_id) DO UPDATE SET refs = quota_repository_blob.refs + EXCLUDED.refs
        RETURNING blob_id, (xmax = 0) AS fresh)
      SELECT coalesce(sum(b.size), 0) INTO delta FROM up JOIN blob b ON b.id = up.blob_id WHERE up.fresh;
      UPDATE quota_repository_size SET size_bytes = size_bytes + delta WHERE repository_id = g.repo;
    ELSE
      -- Only UPDATEs here: while a namespace is being deleted its rows may already be gone.
      UPDATE quota_namespace_size SET size_bytes = size_bytes WHERE namespace_id = g.ns;
      UPDATE quota_repository_size SET size_bytes = size_bytes WHERE repository_id = g.repo;
      UPDATE quota_namespace_blob q SET refs = q.refs - t.c FROM unnest(g.blobs, g.counts) AS t(b, c)
        WHERE q.namespace_id = g.ns AND q.blob_id = t.b;
      WITH gone AS (DELETE FROM quota_namespace_blob q WHERE q.namespace_id = g.ns AND q.blob_id = ANY(g.blobs) AND q.refs <= 0 RETURNING blob_id)
      SELECT coalesce(sum(b.size), 0) INTO delta FROM gone JOIN blob b ON b.id = gone.blob_id;
      UPDATE quota_namespace_size SET size_bytes = greatest(0, size_bytes - delta) WHERE namespace_id = g.ns;
      UPDATE quota_repository_blob q SET refs = q.refs - t.c FROM unnest(g.blobs, g.counts) AS t(b, c)
        WHERE q.repository_id = g.repo AND q.blob_id = t.b;
      WITH gone AS (DELETE FROM quota_repository_blob q WHERE q.repository_id = g.repo AND q.blob_id = ANY(g.blobs) AND q.refs <= 0 RETURNING blob_id)
      SELECT coalesce(sum(b.size), 0) INTO delta FROM gone JOIN blob b ON b.id = gone.blob_id;
      UPDATE quota_repository_size SET size_bytes = greatest(0, size_bytes - delta) WHERE repository_id = g.repo;
    END IF;
  END LOOP;
END
$fn$;
`;
