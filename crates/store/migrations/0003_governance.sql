-- Cluster committees: constitution versions, seats, officers, meetings with who was
-- present, and the minutes' journey to every member governing body.
CREATE TABLE constitution_versions (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    version BIGINT NOT NULL,
    effective_from TEXT NOT NULL,
    preset TEXT NOT NULL,
    quorum TEXT NOT NULL,
    casting_vote BIGINT NOT NULL,
    chair_rule TEXT NOT NULL,
    min_meetings_per_term BIGINT NOT NULL,
    minutes_within_days BIGINT NOT NULL,
    review_every_months BIGINT NOT NULL,
    UNIQUE (cluster_id, version)
);

CREATE TABLE seats (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    kind TEXT NOT NULL,
    urn BIGINT,
    -- The holder's name as the clerk records it; empty for a vacancy.
    holder TEXT,
    suspended BIGINT NOT NULL DEFAULT 0,
    term_from TEXT,
    term_to TEXT
);

CREATE INDEX seats_by_cluster ON seats (cluster_id);

CREATE TABLE committee_officers (
    cluster_id BIGINT PRIMARY KEY REFERENCES clusters (id),
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    chair TEXT,
    vice_chair TEXT,
    last_review TEXT
);

CREATE TABLE meetings (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    held_on TEXT NOT NULL,
    quorate BIGINT NOT NULL,
    decisions_carried BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX meetings_by_cluster ON meetings (cluster_id, held_on);

CREATE TABLE meeting_schools_present (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    urn BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, urn)
);

CREATE TABLE minutes_distribution (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    urn BIGINT NOT NULL,
    sent_on TEXT,
    adopted_on TEXT,
    PRIMARY KEY (meeting_id, urn)
);
