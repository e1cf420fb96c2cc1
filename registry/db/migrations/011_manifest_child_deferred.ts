/**
 * Deleting a repository deletes its manifests in one cascade; when an index's child is itself an index, the
 * foreign key from manifest_child to the child was checked while the links pointing at it were still being
 * cascaded away, and the deletion failed. Checked at commit instead, when the whole cascade is done; a
 * deletion that really leaves a parent pointing at a missing child still fails.
 */
export default `
ALTER TABLE manifest_child ALTER CONSTRAINT manifest_child_child_manifest_id_fkey DEFERRABLE INITIALLY DEFERRED;
`;
