/**
 * Proxy cache organizations (Quay's ProxyCacheConfig, one per organization) and the blobs a cached manifest
 * names whose bytes have not been fetched from the upstream yet.
 */
export default `
CREATE TABLE proxy_cache_config (
  namespace_id BIGINT PRIMARY KEY REFERENCES namespace(id) ON DELETE CASCADE,
  upstream_registry TEXT NOT NULL CHECK (length(upstream_registry) BETWEEN 1 AND 270),
  -- sealed with DATABASE_SECRET_KEY; never returned by the API
  username_enc TEXT,
  password_enc TEXT,
  expiration_s BIGINT NOT NULL DEFAULT 86400 CHECK (expiration_s >= 0),
  insecure BOOLEAN NOT NULL DEFAULT false,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A blob row made for a manifest cached from an upstream, with the size its descriptor declares; the row
-- goes when the bytes are stored (verified against digest and size) or when GC deletes the blob.
CREATE TABLE proxy_blob_placeholder (
  blob_id BIGINT PRIMARY KEY REFERENCES blob(id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
`;
