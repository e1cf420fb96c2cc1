/**
 * `repository.tag_version` changes whenever a tag row of the repository changes, so a replica may serve a
 * tag page again as long as the version it reads with the repository is the one the page was built at.
 * The bump is a deferred constraint trigger, once per repository and transaction: it runs at commit, so
 * the repository row is locked only for the commit itself, not across the rest of a push.
 */
export default `
ALTER TABLE repository ADD COLUMN tag_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION tag_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  repo bigint;
  done text;
BEGIN
  IF TG_OP = 'DELETE' THEN repo := OLD.repository_id; ELSE repo := NEW.repository_id; END IF;
  done := 'quay.tag_version_bumped_' || repo;
  IF current_setting(done, true) IS DISTINCT FROM '1' THEN
    UPDATE repository SET tag_version = tag_version + 1 WHERE id = repo;
    PERFORM set_config(done, '1', true);
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER tag_version_bump AFTER INSERT OR UPDATE OR DELETE ON tag
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tag_version_bump();
`;
