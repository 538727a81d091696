-- Design scenarios (the boundary planner in the product): parameters, status, the run's
-- figures, the map (school → cluster label), per-cluster figures, and findings (breaches by
-- name, reasons for no map). Objective figures are integer thousandths of a pupil-km and
-- distances integer metres: no floats in the schema (see ARCHITECTURE, sqlx/SQLite facts).
CREATE TABLE design_scenarios (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    name TEXT NOT NULL,
    illustrative BIGINT NOT NULL DEFAULT 0,
    mode TEXT NOT NULL,
    min_pupils BIGINT NOT NULL,
    max_pupils BIGINT NOT NULL,
    min_clusters BIGINT NOT NULL,
    max_clusters BIGINT NOT NULL,
    districts TEXT NOT NULL,
    seed BIGINT NOT NULL,
    time_limit_s BIGINT NOT NULL,
    max_iterations BIGINT,
    -- Phase codes and URNs left out, comma-separated.
    excluded_phases TEXT NOT NULL,
    excluded_urns TEXT NOT NULL,
    -- Schools that stay together: groups separated by ';', URNs by ','.
    must_link TEXT NOT NULL DEFAULT '',
    -- Locked schools: one per line, the URN, a tab, and the lock's name.
    locks TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    ran_by_user BIGINT REFERENCES users (id),
    ran_by_name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    schools BIGINT NOT NULL,
    pupils BIGINT NOT NULL,
    iterations BIGINT,
    stop_reason TEXT,
    elapsed_ms BIGINT,
    objective_milli BIGINT,
    travel_milli BIGINT,
    district_penalty_milli BIGINT,
    division_penalty_milli BIGINT,
    split_penalty_milli BIGINT,
    cluster_count_penalty_milli BIGINT,
    adopted_on TEXT,
    adopted_by_user BIGINT REFERENCES users (id),
    adopted_by_name TEXT,
    adopted_at BIGINT
);

CREATE INDEX design_scenarios_by_authority ON design_scenarios (authority_id, id);

CREATE TABLE design_scenario_clusters (
    scenario_id BIGINT NOT NULL REFERENCES design_scenarios (id),
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    position BIGINT NOT NULL,
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    hub_urn BIGINT,
    pupils BIGINT NOT NULL,
    schools BIGINT NOT NULL,
    -- Schools by phase: `code=count`, comma-separated.
    phases TEXT NOT NULL,
    fsm_pct_tenths BIGINT,
    -- District names, one per line.
    districts TEXT NOT NULL,
    longest_m BIGINT NOT NULL,
    travel_milli BIGINT NOT NULL,
    PRIMARY KEY (scenario_id, label)
);

CREATE TABLE design_scenario_schools (
    scenario_id BIGINT NOT NULL REFERENCES design_scenarios (id),
    authority_id BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (scenario_id, urn),
    FOREIGN KEY (authority_id, urn) REFERENCES schools (authority_id, urn)
);

CREATE TABLE design_scenario_findings (
    scenario_id BIGINT NOT NULL REFERENCES design_scenarios (id),
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    principle TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (scenario_id, position)
);
