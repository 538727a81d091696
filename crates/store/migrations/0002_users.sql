-- Users, sessions and sign-in attempts. Only the SHA-256 of a session token is stored.
CREATE TABLE users (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_cluster BIGINT,
    scope_urn BIGINT,
    password_hash TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE sign_in_attempts (
    id {pk},
    email TEXT NOT NULL,
    at BIGINT NOT NULL,
    success BIGINT NOT NULL
);

CREATE INDEX sign_in_attempts_by_email ON sign_in_attempts (email, at);
