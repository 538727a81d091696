-- API tokens expire. A token made before this migration expires 90 days after it was made (the
-- default for new ones); `clusterwise token create --days N` sets it from 1 to 366 days. An
-- expired token is refused like a revoked one and stays listed.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE api_tokens SET expires_at = created_at + 7776000 WHERE expires_at = 0;
