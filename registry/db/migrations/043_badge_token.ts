/**
 * Each repository's badge token (Quay's `badge_token`): a private repository's `status_token`, the secret that
 * lets `/repository/{repo}/status?token=` show its build badge to people without access.
 */
export default `
ALTER TABLE repository ADD COLUMN badge_token TEXT NOT NULL DEFAULT gen_random_uuid()::text;
`;
