/**
 * Content lifecycle: tag expiry, manifest labels, quota (maintained sizes, limits), in-app notifications,
 * and the push freshness GC needs.
 */
export default `
-- When a manifest was last pushed. A manifest that nothing references yet (pushed by digest, e.g. the
-- children of an index before the index) is kept for PUSH_TEMP_TAG_EXPIRATION_SEC after its last push.
ALTER TABLE manifest ADD COLUMN pushed_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- 'scheduled': end_ms is an expiry set by the API or a quay.expires-after label, not a delete or a move;
-- 'done': the expiry worker has recorded that it passed. NULL: no expiry.
ALTER TABLE tag ADD COLUMN expiry_state TEXT CHECK (expiry_state IN ('scheduled', 'done'));
CREATE INDEX tag_expiry_due ON tag (end_ms) WHERE expiry_state = 'scheduled';

CREATE TABLE manifest_label (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  manifest_id BIGINT NOT NULL REFERENCES manifest(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  media_type TEXT NOT NULL DEFAULT 'text/plain',
  source_type TEXT NOT NULL CHECK (source_type IN ('manifest', 'api', 'internal')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX manifest_label_manifest ON manifest_label (manifest_id);

-- Quota: one quota per namespace with any number of Warning/Reject limits.
CREATE TABLE quota (
  id BIGSERIAL PRIMARY KEY,
  namespace_id BIGINT NOT NULL UNIQUE REFERENCES namespace(id) ON DELETE CASCADE,
  limit_bytes BIGINT NOT NULL CHECK (limit_bytes > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE quota_limit (
  id BIGSERIAL PRIMARY KEY,
  quota_id BIGINT NOT NULL REFERENCES quota(id) ON DELETE CASCADE,
  type TEXT NOT NULL CHECK (type IN ('Warning', 'Reject')),
  threshold_percent INT NOT NULL CHECK (threshold_percent BETWEEN 1 AND 100),
  UNIQUE (quota_id, type, threshold_percent)
);
CREATE TABLE quota_notification_state (
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  last_notified_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (namespace_id, kind)
);

-- Sizes are maintained, not recomputed: per namespace and per repository, the number of manifest_blob
-- rows that reference each blob; a blob's size counts while that number is above zero. The triggers below
-- keep these in the transaction that adds or removes the references.
CREATE TABLE quota_namespace_size (
  namespace_id BIGINT PRIMARY KEY REFERENCES namespace(id) ON DELETE CASCADE,
  size_bytes BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE quota_repository_size (
  repository_id BIGINT PRIMARY KEY REFERENCES repository(id) ON DELETE CASCADE,
  size_bytes BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE quota_namespace_blob (
  namespace_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  blob_id BIGINT NOT NULL,
  refs BIGINT NOT NULL,
  PRIMARY KEY (namespace_id, blob_id)
);
CREATE TABLE quota_repository_blob (
  repository_id BIGINT NOT NULL REFERENCES repository(id) ON DELETE CASCADE,
  blob_id BIGINT NOT NULL,
  refs BIGINT NOT NULL,
  PRIMARY KEY (repository_id, blob_id)
);

-- Apply reference changes (sign +1 added, -1 removed) for (repository, blob) pairs. The namespace's size
-- row is locked first and acts as the mutex for all of that namespace's counters, so concurrent writers
-- (pushes, GC, deletions) queue on it instead of deadlocking on counter rows.
CREATE FUNCTION quota_apply(p_repo BIGINT[], p_blob BIGINT[], p_sign INT) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  g RECORD;
  delta BIGINT;
BEGIN
  FOR g IN
    SELECT r.namespace_id AS ns, x.repository_id AS repo, array_agg(x.blob_id ORDER BY x.blob_id) AS blobs, array_agg(x.n ORDER BY x.blob_id) AS counts
      FROM (SELECT t.repository_id, t.blob_id, count(*) AS n FROM unnest(p_repo, p_blob) AS t(repository_id, blob_id) GROUP BY 1, 2) x
      JOIN repository r ON r.id = x.repository_id
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

CREATE FUNCTION quota_manifest_blob_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM quota_apply(array(SELECT repository_id FROM added ORDER BY blob_id), array(SELECT blob_id FROM added ORDER BY blob_id), 1);
  RETURN NULL;
END
$fn$;
CREATE FUNCTION quota_manifest_blob_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM quota_apply(array(SELECT repository_id FROM removed ORDER BY blob_id), array(SELECT blob_id FROM removed ORDER BY blob_id), -1);
  RETURN NULL;
END
$fn$;
CREATE TRIGGER quota_manifest_blob_added AFTER INSERT ON manifest_blob REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION quota_manifest_blob_added();
CREATE TRIGGER quota_manifest_blob_removed AFTER DELETE ON manifest_blob REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION quota_manifest_blob_removed();

-- A repository's references are dropped while the repository row still exists, so that its namespace's
-- size is decremented when the repository (or its namespace) is deleted by cascade.
CREATE FUNCTION quota_repository_deleting() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM manifest_blob WHERE repository_id = OLD.id;
  RETURN OLD;
END
$fn$;
CREATE TRIGGER quota_repository_deleting BEFORE DELETE ON repository FOR EACH ROW EXECUTE FUNCTION quota_repository_deleting();

-- In-app notifications (Quay's Notification): targeted at a user, or at an organization (then shown to
-- its admins). Dismissal is per notification, as in Quay.
CREATE TABLE notification (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  kind TEXT NOT NULL,
  target_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  metadata JSONB NOT NULL DEFAULT '{}',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  dismissed BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX notification_target ON notification (target_id, created_at DESC);
`;
