/**
 * Codes mailed to a user (Quay's EmailConfirmation): `confirm` proves an address (a new account's, or the new
 * address of an e-mail change, `new_email`); `recovery` signs the user in to set a new password. Only a hash of
 * the code is stored, so a database reader cannot use one. Single use: a code is deleted when used.
 */
export default `
CREATE TABLE email_confirmation (
  id BIGSERIAL PRIMARY KEY,
  code_hash TEXT NOT NULL UNIQUE,
  user_id BIGINT NOT NULL REFERENCES namespace(id) ON DELETE CASCADE,
  purpose TEXT NOT NULL CHECK (purpose IN ('confirm', 'recovery')),
  new_email TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX email_confirmation_user ON email_confirmation (user_id);
`;
