/** Global messages: banners a superuser shows to everyone (Quay's Messages). */
export default `
CREATE TABLE global_message (
  id BIGSERIAL PRIMARY KEY,
  uuid UUID NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  content TEXT NOT NULL,
  media_type TEXT NOT NULL CHECK (media_type IN ('text/plain', 'text/markdown')),
  severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
`;
