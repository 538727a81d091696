-- Plans, monitoring and evaluation (issue 6): per-authority settings, extra measures, metric
-- values (DfE symbols kept as symbols, never zeros), improvement plans with priorities,
-- activities and targets, FADE reports with both judgements, questionnaires and responses.
CREATE TABLE evaluation_settings (
    authority_id BIGINT PRIMARY KEY REFERENCES authorities (id),
    -- FADE due days as month-day, e.g. "12-31, 03-31".
    fade_due TEXT NOT NULL,
    -- The judgement scale, lowest first: "Limited < Satisfactory < Strong < Very Good".
    judgement_scale TEXT NOT NULL,
    redirect_after_terms BIGINT NOT NULL,
    suppression_threshold BIGINT NOT NULL,
    -- Shown beside every metric (e.g. "synthetic" in the demo); NULL for none.
    metrics_note TEXT
);

-- Measures beyond the built-in catalogue (added by an import that accepts new codes).
CREATE TABLE evaluation_measures (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    code TEXT NOT NULL,
    label TEXT NOT NULL,
    unit TEXT NOT NULL,
    higher_is_better BIGINT NOT NULL,
    PRIMARY KEY (authority_id, code)
);

-- One value per (year, school, measure, group). urn 0 is the national figure. Exactly one of
-- value_e4 (the number in ten-thousandths) and symbol (c, x, z, low) is set.
CREATE TABLE metric_values (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    measure TEXT NOT NULL,
    pupil_group TEXT NOT NULL,
    time_period BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    value_e4 BIGINT,
    symbol TEXT,
    PRIMARY KEY (authority_id, measure, pupil_group, time_period, urn)
);

CREATE TABLE improvement_plans (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    year_start BIGINT NOT NULL,
    UNIQUE (cluster_id, year_start)
);

CREATE TABLE plan_priorities (
    plan_id BIGINT NOT NULL REFERENCES improvement_plans (id),
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (plan_id, position)
);

CREATE TABLE plan_activities (
    plan_id BIGINT NOT NULL REFERENCES improvement_plans (id),
    position BIGINT NOT NULL,
    priority_position BIGINT NOT NULL,
    title TEXT NOT NULL,
    lead_urn BIGINT NOT NULL,
    strand TEXT NOT NULL,
    -- The funding stream by name (linked to the stored streams once they exist).
    funding_stream TEXT NOT NULL,
    budget_pence BIGINT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    success_criteria TEXT NOT NULL,
    measure TEXT,
    PRIMARY KEY (plan_id, position)
);

CREATE TABLE plan_activity_schools (
    plan_id BIGINT NOT NULL REFERENCES improvement_plans (id),
    activity_position BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    PRIMARY KEY (plan_id, activity_position, urn)
);

CREATE TABLE plan_targets (
    plan_id BIGINT NOT NULL REFERENCES improvement_plans (id),
    position BIGINT NOT NULL,
    measure TEXT NOT NULL,
    pupil_group TEXT NOT NULL,
    -- NULL for a cluster-level target.
    urn BIGINT,
    baseline_e4 BIGINT NOT NULL,
    baseline_year BIGINT NOT NULL,
    target_e4 BIGINT NOT NULL,
    target_year BIGINT NOT NULL,
    PRIMARY KEY (plan_id, position)
);

CREATE TABLE fade_reports (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    due_on TEXT NOT NULL,
    focus TEXT NOT NULL,
    analysis_notes TEXT NOT NULL,
    develop_do TEXT NOT NULL,
    evaluation TEXT NOT NULL,
    cluster_level TEXT,
    cluster_by TEXT,
    cluster_on TEXT,
    cluster_comment TEXT,
    authority_level TEXT,
    authority_by TEXT,
    authority_on TEXT,
    authority_comment TEXT,
    UNIQUE (cluster_id, due_on)
);

CREATE INDEX fade_reports_by_authority ON fade_reports (authority_id, due_on);

CREATE TABLE questionnaires (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    title TEXT NOT NULL,
    sent_on TEXT NOT NULL,
    closes_on TEXT NOT NULL
);

CREATE TABLE questionnaire_schools (
    questionnaire_id BIGINT NOT NULL REFERENCES questionnaires (id),
    urn BIGINT NOT NULL,
    PRIMARY KEY (questionnaire_id, urn)
);

-- answers: one entry per criterion in order, the level's position or "-" for don't know.
CREATE TABLE questionnaire_responses (
    questionnaire_id BIGINT NOT NULL REFERENCES questionnaires (id),
    urn BIGINT NOT NULL,
    answers TEXT NOT NULL,
    comment TEXT NOT NULL,
    submitted_on TEXT NOT NULL,
    PRIMARY KEY (questionnaire_id, urn)
);
