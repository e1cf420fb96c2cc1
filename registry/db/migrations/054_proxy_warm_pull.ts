/**
 * A warm pull through a proxy cache organization leaves the pull path's caches alone:
 *
 * - Each pull of a cached tag pushes its end time forward (Quay's least-recently-pulled order). That extension
 *   alone no longer bumps the repository's tag_version (migration 006), which dropped the repository from every
 *   process's hot caches (migration 080) on every pull. The caches stay correct: a cached tag or tag page is
 *   trusted only until the end time it was read with, an earlier one, and is then read again. Any other tag
 *   change (a new, moved, shortened or ended tag) bumps the version as before.
 * - A proxy cache configuration created, changed or deleted notifies `n:<namespace>` on the cache channel, so
 *   every process can keep the configurations (and the absence of one) in memory.
 */
export default `
DROP TRIGGER tag_version_bump ON tag;
CREATE CONSTRAINT TRIGGER tag_version_bump AFTER INSERT OR DELETE ON tag
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tag_version_bump();
CREATE CONSTRAINT TRIGGER tag_version_bump_update AFTER UPDATE ON tag
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.end_ms IS NULL OR NEW.end_ms IS NULL OR NEW.end_ms <= OLD.end_ms
        OR (to_jsonb(NEW) - 'end_ms' - 'expiry_state') IS DISTINCT FROM (to_jsonb(OLD) - 'end_ms' - 'expiry_state'))
  EXECUTE FUNCTION tag_version_bump();

CREATE FUNCTION cache_notify_proxy_config() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ns text;
BEGIN
  SELECT name INTO ns FROM namespace WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.namespace_id ELSE NEW.namespace_id END;
  IF ns IS NOT NULL THEN PERFORM pg_notify('quay_cache', 'n:' || ns); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER cache_notify AFTER INSERT OR UPDATE OR DELETE ON proxy_cache_config
  FOR EACH ROW EXECUTE FUNCTION cache_notify_proxy_config();
`;
