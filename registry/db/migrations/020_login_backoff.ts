/**
 * Quay's `invalid_login_attempts`: failed password logins per user, with the time of the last one, from which
 * the exponential backoff is computed. A row exists only while a user has failures to count.
 */
export default `
CREATE TABLE login_failure (
  user_id BIGINT PRIMARY KEY REFERENCES namespace(id) ON DELETE CASCADE,
  invalid_login_attempts INT NOT NULL,
  last_invalid_login TIMESTAMPTZ NOT NULL
);
`;
