-- Funding policies: named policies whose text (the TOML of docs/POLICY.md) is kept as numbered
-- versions (an edit adds a version, none is ever changed), the version in force for each
-- period, and the narrative a cluster's clerk writes each term for the governing-body reports.
CREATE TABLE funding_policies (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    name TEXT NOT NULL,
    UNIQUE (authority_id, name)
);

CREATE TABLE funding_policy_versions (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    policy_id BIGINT NOT NULL REFERENCES funding_policies (id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    note TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    -- Unix seconds.
    saved_at BIGINT NOT NULL,
    UNIQUE (policy_id, version)
);

CREATE TABLE funding_policy_in_force (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    -- "academic-2026" (September 2026 to August 2027) or "financial-2026" (April to March).
    period TEXT NOT NULL,
    version_id BIGINT NOT NULL REFERENCES funding_policy_versions (id),
    marked_by TEXT NOT NULL,
    marked_at BIGINT NOT NULL,
    PRIMARY KEY (authority_id, period)
);

CREATE TABLE governing_body_narratives (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    -- "2026-autumn": a term of the academic year that starts in September 2026.
    term TEXT NOT NULL,
    body TEXT NOT NULL,
    written_by TEXT NOT NULL,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, term)
);
