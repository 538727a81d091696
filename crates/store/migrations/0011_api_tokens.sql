-- Bearer tokens for the JSON API (/api/v1). Each acts as one user, with that user's role and
-- scope; only the SHA-256 of a token is stored, as for sessions. A token is revoked by stamping
-- it, never deleted, so `token list` keeps its history.
CREATE TABLE api_tokens (
    id {pk},
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
