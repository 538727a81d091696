-- An API token may be read-only: it acts as its user for GET and HEAD and is refused (403) for
-- every write, whatever the user may do. Tokens made before this migration keep writing.
ALTER TABLE api_tokens ADD COLUMN read_only BIGINT NOT NULL DEFAULT 0;
