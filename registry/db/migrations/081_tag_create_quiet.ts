/**
 * A transaction that only creates tags (the common push: a new tag) bumps the repository's tag_version as
 * before (migration 006) but sends no `quay_cache` notification (migration 080): no process caches a tag that
 * did not exist, so there is nothing to invalidate, and a NOTIFY costs every push a serialised step at
 * commit plus a wake-up of every listening process. A transaction that also ends or changes an existing tag
 * row (a move, a delete, an expiry) still notifies. `quay.tags_created_only_<repository id>`, local to the
 * transaction, tells the repository's trigger which case it is.
 */
export default `
CREATE OR REPLACE FUNCTION tag_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  repo bigint;
  done text;
  created_only text;
BEGIN
  IF TG_OP = 'DELETE' THEN repo := OLD.repository_id; ELSE repo := NEW.repository_id; END IF;
  done := 'quay.tag_version_bumped_' || repo;
  created_only := 'quay.tags_created_only_' || repo;
  IF current_setting(done, true) IS DISTINCT FROM '1' THEN
    PERFORM set_config(created_only, CASE WHEN TG_OP = 'INSERT' THEN '1' ELSE '0' END, true);
    UPDATE repository SET tag_version = tag_version + 1 WHERE id = repo;
    PERFORM set_config(done, '1', true);
  ELSIF TG_OP <> 'INSERT' AND current_setting(created_only, true) = '1' THEN
    -- The transaction changed an existing tag too: the repository's notification is due after all.
    PERFORM set_config(created_only, '0', true);
    UPDATE repository SET tag_version = tag_version WHERE id = repo;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cache_notify_repository() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ns text;
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('quay.tags_created_only_' || OLD.id, true) = '1'
     AND (to_jsonb(NEW) - 'tag_version') = (to_jsonb(OLD) - 'tag_version') THEN
    RETURN NULL;
  END IF;
  SELECT name INTO ns FROM namespace WHERE id = OLD.namespace_id;
  -- A repository deleted with its namespace: the namespace's own notification covers it.
  IF ns IS NOT NULL THEN PERFORM pg_notify('quay_cache', 'r:' || ns || '/' || OLD.name); END IF;
  RETURN NULL;
END $$;
`;
