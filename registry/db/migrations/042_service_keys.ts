/**
 * Service keys as Quay keeps them (ServiceKey + ServiceKeyApproval): besides the instance's own signing keys,
 * keys a superuser creates (preshared: the private half is returned once and never stored) and keys services
 * submit through /keys (unapproved until a superuser approves them).
 */
export default `
ALTER TABLE service_key ALTER COLUMN private_jwk DROP NOT NULL;
ALTER TABLE service_key ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE service_key ADD COLUMN service TEXT NOT NULL DEFAULT 'quay';
ALTER TABLE service_key ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}';
ALTER TABLE service_key ADD COLUMN expiration_date TIMESTAMPTZ;
ALTER TABLE service_key ADD COLUMN rotation_duration INTEGER;
ALTER TABLE service_key ADD COLUMN approval_type TEXT CHECK (approval_type IN ('Super User API', 'Key Rotation', 'Automatic'));
ALTER TABLE service_key ADD COLUMN approver_id BIGINT REFERENCES namespace(id) ON DELETE SET NULL;
ALTER TABLE service_key ADD COLUMN approved_date TIMESTAMPTZ;
ALTER TABLE service_key ADD COLUMN approval_notes TEXT NOT NULL DEFAULT '';
CREATE INDEX service_key_service ON service_key (service);
-- The instance's own keys approved themselves when they were made.
UPDATE service_key SET approval_type = 'Automatic', approved_date = created_at, metadata = '{"created_by": "Quay instance"}' WHERE private_jwk IS NOT NULL;
`;
