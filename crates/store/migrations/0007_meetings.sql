-- Committees at work, extending 0003: the people register, seats held by a person, officers by
-- person, and each meeting's full record (agenda, papers, attendance, declarations, votes,
-- elections, actions, minutes). The 0003 meeting row keeps the totals health reads; 0003's
-- minutes_distribution gains the day each governing body received the minutes.
CREATE TABLE committee_people (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    name TEXT NOT NULL,
    works_at BIGINT,
    head_of BIGINT
);

CREATE INDEX committee_people_by_cluster ON committee_people (cluster_id);

CREATE TABLE committee_person_governs (
    person_id BIGINT NOT NULL REFERENCES committee_people (id),
    urn BIGINT NOT NULL,
    PRIMARY KEY (person_id, urn)
);

ALTER TABLE seats ADD COLUMN person_id BIGINT REFERENCES committee_people (id);

ALTER TABLE committee_officers ADD COLUMN chair_person_id BIGINT REFERENCES committee_people (id);

ALTER TABLE committee_officers ADD COLUMN vice_chair_person_id BIGINT REFERENCES committee_people (id);

ALTER TABLE minutes_distribution ADD COLUMN received_on TEXT;

CREATE TABLE meeting_records (
    meeting_id BIGINT PRIMARY KEY REFERENCES meetings (id),
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    title TEXT NOT NULL,
    location TEXT NOT NULL,
    notice_sent_on TEXT,
    held BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    minutes_text TEXT,
    minutes_drafted_on TEXT
);

CREATE TABLE meeting_attendance (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    person_id BIGINT NOT NULL REFERENCES committee_people (id),
    status TEXT NOT NULL,
    substitute_for BIGINT,
    PRIMARY KEY (meeting_id, person_id)
);

-- The seats as they stood when attendance was recorded (who represented which school).
CREATE TABLE meeting_roll (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    urn BIGINT,
    person_id BIGINT REFERENCES committee_people (id),
    suspended BIGINT NOT NULL,
    term_from TEXT,
    term_to TEXT,
    PRIMARY KEY (meeting_id, position)
);

CREATE TABLE meeting_items (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    restricted BIGINT NOT NULL,
    restricted_to BIGINT,
    motion_text TEXT,
    proposer_id BIGINT REFERENCES committee_people (id),
    seconder_id BIGINT REFERENCES committee_people (id),
    casting_vote TEXT,
    recorded_outcome TEXT,
    approves_meeting_id BIGINT REFERENCES meetings (id),
    PRIMARY KEY (meeting_id, position)
);

CREATE INDEX meeting_items_by_approval ON meeting_items (approves_meeting_id);

CREATE TABLE meeting_papers (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    item_position BIGINT NOT NULL,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (meeting_id, item_position, position)
);

CREATE TABLE meeting_declarations (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    item_position BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES committee_people (id),
    interest TEXT NOT NULL,
    withdraws BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, item_position, person_id)
);

-- One vote per school per item: the key enforces it.
CREATE TABLE meeting_votes (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    item_position BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    choice TEXT NOT NULL,
    PRIMARY KEY (meeting_id, item_position, urn)
);

CREATE TABLE meeting_elections (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    position BIGINT NOT NULL,
    office TEXT NOT NULL,
    tie_rule TEXT NOT NULL,
    seed BIGINT NOT NULL,
    elected_person_id BIGINT REFERENCES committee_people (id),
    PRIMARY KEY (meeting_id, position)
);

CREATE TABLE election_candidates (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    election_position BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES committee_people (id),
    PRIMARY KEY (meeting_id, election_position, person_id)
);

CREATE TABLE election_rounds (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    election_position BIGINT NOT NULL,
    round BIGINT NOT NULL,
    chair_pick BIGINT REFERENCES committee_people (id),
    PRIMARY KEY (meeting_id, election_position, round)
);

CREATE TABLE election_ballots (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    election_position BIGINT NOT NULL,
    round BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES committee_people (id),
    PRIMARY KEY (meeting_id, election_position, round, urn)
);

CREATE TABLE meeting_actions (
    meeting_id BIGINT NOT NULL REFERENCES meetings (id),
    position BIGINT NOT NULL,
    body TEXT NOT NULL,
    owner_id BIGINT NOT NULL REFERENCES committee_people (id),
    due_on TEXT NOT NULL,
    done_on TEXT,
    PRIMARY KEY (meeting_id, position)
);
