/**
 * Notifications that keep the registry's in-process caches coherent across worker processes and replicas
 * (registry/cache/coherence.ts): on channel `quay_cache`, `r:<namespace>/<repository>` when a repository row
 * changes or goes (every tag change bumps its tag_version, migration 006), `n:<namespace>` when a namespace
 * row does, `m:<repository id>:<digest>` when a manifest is hidden, restored or deleted. NOTIFY is delivered
 * at commit, once per distinct payload and transaction.
 */
export default `
CREATE FUNCTION cache_notify_repository() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ns text;
BEGIN
  SELECT name INTO ns FROM namespace WHERE id = OLD.namespace_id;
  -- A repository deleted with its namespace: the namespace's own notification covers it.
  IF ns IS NOT NULL THEN PERFORM pg_notify('quay_cache', 'r:' || ns || '/' || OLD.name); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER cache_notify AFTER UPDATE OR DELETE ON repository
  FOR EACH ROW EXECUTE FUNCTION cache_notify_repository();

CREATE FUNCTION cache_notify_namespace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('quay_cache', 'n:' || OLD.name);
  RETURN NULL;
END $$;

CREATE TRIGGER cache_notify AFTER UPDATE OR DELETE ON namespace
  FOR EACH ROW EXECUTE FUNCTION cache_notify_namespace();

CREATE FUNCTION cache_notify_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('quay_cache', 'm:' || OLD.repository_id || ':' || OLD.digest);
  RETURN NULL;
END $$;

CREATE TRIGGER cache_notify_hidden AFTER UPDATE OF deleted_at ON manifest
  FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at) EXECUTE FUNCTION cache_notify_manifest();
CREATE TRIGGER cache_notify_deleted AFTER DELETE ON manifest
  FOR EACH ROW EXECUTE FUNCTION cache_notify_manifest();
`;
