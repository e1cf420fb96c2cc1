/**
 * A repository nobody gave a description has none (NULL), as in Quay (data/model/repository.py create_repository's
 * description=None): a repository created by a push, a mirror or the proxy cache answers `"description": null`,
 * one created through the API keeps the text it was given. Existing rows keep their '' (their origin is unknown).
 */
export default `
ALTER TABLE repository ALTER COLUMN description DROP NOT NULL;
ALTER TABLE repository ALTER COLUMN description DROP DEFAULT;
`;
