-- Strand casework and privacy (issue 7). Pupil identity lives in `pupils`, keyed by an internal
-- pseudonymous id and owned by one school; every casework row points at that id. The audit log
-- is append-only: the store has no UPDATE or DELETE for it, and each row carries its hash chain.
CREATE TABLE pupils (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    urn BIGINT NOT NULL,
    upn TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    year_group BIGINT NOT NULL,
    gender TEXT NOT NULL,
    ethnicity TEXT NOT NULL,
    fsm BIGINT NOT NULL,
    sen TEXT NOT NULL,
    eal BIGINT NOT NULL,
    left_on TEXT,
    synthetic BIGINT NOT NULL DEFAULT 0,
    UNIQUE (authority_id, urn, upn)
);

CREATE INDEX pupils_by_school ON pupils (authority_id, urn);

-- Which strands a strand-staff user works in.
CREATE TABLE strand_staff (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    strand TEXT NOT NULL,
    PRIMARY KEY (user_id, strand)
);

-- A school's own composition for the representation check (from its census or MIS).
CREATE TABLE school_composition (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    urn BIGINT NOT NULL,
    pupils BIGINT NOT NULL,
    girls BIGINT,
    boys BIGINT,
    fsm BIGINT,
    minority_ethnic BIGINT,
    synthetic BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (authority_id, urn)
);

CREATE TABLE gt_entries (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    urn BIGINT NOT NULL,
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    academic_year BIGINT NOT NULL,
    year_group BIGINT NOT NULL,
    kind TEXT NOT NULL,
    reserve BIGINT NOT NULL,
    evidence TEXT NOT NULL,
    subject TEXT NOT NULL,
    identified_on TEXT NOT NULL,
    told_on TEXT,
    enrichment TEXT NOT NULL,
    removed_on TEXT
);

CREATE INDEX gt_entries_by_school ON gt_entries (authority_id, urn);

CREATE TABLE mentors (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    name TEXT NOT NULL,
    urn BIGINT,
    pool TEXT,
    fte_tenths BIGINT NOT NULL
);

CREATE TABLE mentor_cases (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    urn BIGINT NOT NULL,
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    mentor_id BIGINT REFERENCES mentors (id),
    referred_on TEXT NOT NULL,
    referred_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    referral_note TEXT NOT NULL,
    exit_strategy TEXT NOT NULL,
    plan_agreed_on TEXT,
    review_due TEXT,
    status TEXT NOT NULL,
    follow_up_due TEXT,
    follow_up_on TEXT,
    follow_up_sustained BIGINT,
    follow_up_note TEXT,
    parents_contacted_on TEXT,
    closed_on TEXT
);

CREATE INDEX mentor_cases_by_school ON mentor_cases (authority_id, urn);

CREATE TABLE mentor_targets (
    case_id BIGINT NOT NULL REFERENCES mentor_cases (id),
    position BIGINT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (case_id, position)
);

CREATE TABLE mentor_sessions (
    id {pk},
    case_id BIGINT NOT NULL REFERENCES mentor_cases (id),
    held_on TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    note TEXT NOT NULL
);

CREATE TABLE mentor_reviews (
    id {pk},
    case_id BIGINT NOT NULL REFERENCES mentor_cases (id),
    held_on TEXT NOT NULL,
    outcome TEXT NOT NULL,
    note TEXT NOT NULL
);

CREATE TABLE lsu_placements (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    urn BIGINT NOT NULL,
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    referred_on TEXT NOT NULL,
    stages_met BIGINT NOT NULL,
    starts_on TEXT NOT NULL,
    planned_end TEXT NOT NULL,
    sessions_per_week BIGINT,
    agreed_with_pupil BIGINT NOT NULL,
    agreed_with_parent BIGINT NOT NULL,
    reintegration_plan TEXT NOT NULL,
    supported_lessons BIGINT NOT NULL,
    before_attendance BIGINT,
    before_exclusions BIGINT NOT NULL,
    before_incidents BIGINT NOT NULL,
    during_attendance BIGINT,
    during_exclusions BIGINT NOT NULL,
    during_incidents BIGINT NOT NULL,
    after_attendance BIGINT,
    after_exclusions BIGINT,
    after_incidents BIGINT,
    ended_on TEXT
);

CREATE INDEX lsu_placements_by_school ON lsu_placements (authority_id, urn);

CREATE TABLE transitions (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    pupil_id BIGINT NOT NULL REFERENCES pupils (id),
    from_urn BIGINT NOT NULL,
    to_urn BIGINT,
    to_outside TEXT,
    kind TEXT NOT NULL,
    flags TEXT NOT NULL,
    note TEXT NOT NULL,
    sent_on TEXT NOT NULL,
    acknowledged_on TEXT,
    acknowledged_by TEXT
);

-- Append-only. `seq` counts 1, 2, 3, … within the authority; `hash` covers `prev_hash` and the row.
CREATE TABLE pupil_audit (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    user_email TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    pupil_id BIGINT,
    urn BIGINT,
    purpose TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (authority_id, seq)
);

CREATE INDEX pupil_audit_by_pupil ON pupil_audit (authority_id, pupil_id);
