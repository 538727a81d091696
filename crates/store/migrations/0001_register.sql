-- The register: authorities, schools with census history, clusters, memberships, networks,
-- geography layers. Portable SQL for SQLite and PostgreSQL; {pk} is the dialect's
-- auto-increment primary key. Booleans are 0/1 integers, dates ISO text, money integer pence.
CREATE TABLE authorities (
    id {pk},
    la_code BIGINT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE schools (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    urn BIGINT NOT NULL,
    laestab BIGINT,
    name TEXT NOT NULL,
    phase TEXT NOT NULL,
    establishment_type TEXT NOT NULL,
    governance TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_on TEXT,
    closed_on TEXT,
    sex TEXT,
    denomination TEXT,
    trust TEXT,
    postcode TEXT,
    easting BIGINT,
    northing BIGINT,
    -- WGS84 degrees × 1,000,000, exact (sqlx's Any driver mis-types float NULLs for PostgreSQL).
    latitude_e6 BIGINT,
    longitude_e6 BIGINT,
    district_code TEXT,
    district_name TEXT,
    constituency_code TEXT,
    constituency_name TEXT,
    ward_code TEXT,
    ward_name TEXT,
    urban_rural TEXT,
    latest_census_date TEXT,
    PRIMARY KEY (authority_id, urn)
);

CREATE INDEX schools_by_name ON schools (authority_id, name);

CREATE TABLE census (
    authority_id BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    census_date TEXT NOT NULL,
    pupils BIGINT NOT NULL,
    pupils_fte_tenths BIGINT,
    fsm_count BIGINT,
    fsm_pct_tenths BIGINT,
    sen_count BIGINT,
    eal_count BIGINT,
    stage_early_years BIGINT,
    stage_nursery BIGINT,
    stage_ks1 BIGINT,
    stage_ks2 BIGINT,
    stage_ks3 BIGINT,
    stage_ks4 BIGINT,
    stage_ks5 BIGINT,
    PRIMARY KEY (authority_id, urn, census_date),
    FOREIGN KEY (authority_id, urn) REFERENCES schools (authority_id, urn)
);

CREATE TABLE clusters (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    name TEXT NOT NULL,
    illustrative BIGINT NOT NULL DEFAULT 0,
    UNIQUE (authority_id, name)
);

CREATE TABLE memberships (
    id {pk},
    authority_id BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    role TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date TEXT,
    FOREIGN KEY (authority_id, urn) REFERENCES schools (authority_id, urn)
);

CREATE INDEX memberships_by_school ON memberships (authority_id, urn);
CREATE INDEX memberships_by_cluster ON memberships (cluster_id);

CREATE TABLE networks (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    UNIQUE (authority_id, name)
);

CREATE TABLE network_members (
    network_id BIGINT NOT NULL REFERENCES networks (id),
    authority_id BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    PRIMARY KEY (network_id, urn),
    FOREIGN KEY (authority_id, urn) REFERENCES schools (authority_id, urn)
);

CREATE TABLE geography_layers (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (authority_id, name)
);

CREATE TABLE geography_areas (
    id {pk},
    layer_id BIGINT NOT NULL REFERENCES geography_layers (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (layer_id, code)
);

CREATE TABLE geography_area_schools (
    area_id BIGINT NOT NULL REFERENCES geography_areas (id),
    authority_id BIGINT NOT NULL,
    urn BIGINT NOT NULL,
    PRIMARY KEY (area_id, urn),
    FOREIGN KEY (authority_id, urn) REFERENCES schools (authority_id, urn)
);
