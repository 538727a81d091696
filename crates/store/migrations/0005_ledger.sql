-- The host-school ledger: an append-only double-entry journal per cluster. Entries and lines are
-- only ever inserted (the store has no UPDATE or DELETE for them); a correction is a reversing
-- entry. Balances are kept per account in the same transaction as each posting, so they can be
-- checked against the journal's sums at any time.

-- Approved exceptions to a ring-fence: one virement each, up to an amount.
CREATE TABLE ledger_exceptions (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    from_stream TEXT NOT NULL,
    from_phase TEXT NOT NULL,
    to_stream TEXT NOT NULL,
    to_phase TEXT NOT NULL,
    amount_pence BIGINT NOT NULL CHECK (amount_pence > 0),
    reason TEXT NOT NULL,
    approver TEXT NOT NULL,
    approved_on TEXT NOT NULL,
    recorded_by BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL
);

CREATE INDEX ledger_exceptions_by_cluster ON ledger_exceptions (cluster_id);

-- The journal's length per cluster: a posting is judged against a length and refused as stale
-- if another landed first.
CREATE TABLE ledger_heads (
    cluster_id BIGINT PRIMARY KEY REFERENCES clusters (id),
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    last_seq BIGINT NOT NULL
);

CREATE TABLE ledger_entries (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    seq BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the entry's canonical content: a retried key must carry the same content.
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    entry_date TEXT NOT NULL,
    memo TEXT NOT NULL,
    approver TEXT,
    approval_reason TEXT,
    approved_on TEXT,
    exception_id BIGINT REFERENCES ledger_exceptions (id),
    joint_project BIGINT NOT NULL,
    reverses BIGINT REFERENCES ledger_entries (id),
    posted_by BIGINT NOT NULL,
    posted_by_name TEXT NOT NULL,
    posted_at BIGINT NOT NULL,
    -- How many lines the entry has and what it moves: the audit checks the lines against them.
    line_count BIGINT NOT NULL CHECK (line_count >= 2),
    total_pence BIGINT NOT NULL CHECK (total_pence > 0),
    UNIQUE (authority_id, idempotency_key),
    UNIQUE (cluster_id, seq)
);

-- An entry is reversed at most once; an exception is used by at most one virement.
CREATE UNIQUE INDEX ledger_entries_reversed_once ON ledger_entries (reverses);
CREATE UNIQUE INDEX ledger_entries_exception_once ON ledger_entries (exception_id);

CREATE TABLE ledger_lines (
    entry_id BIGINT NOT NULL REFERENCES ledger_entries (id),
    line_no BIGINT NOT NULL,
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    account TEXT NOT NULL,
    stream TEXT NOT NULL,
    phase TEXT NOT NULL,
    -- The school's URN, or 0 for the cluster's central pot.
    holder BIGINT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('debit', 'credit')),
    amount_pence BIGINT NOT NULL CHECK (amount_pence > 0),
    PRIMARY KEY (entry_id, line_no)
);

CREATE INDEX ledger_lines_by_account ON ledger_lines (cluster_id, stream, phase, holder);

-- Debits minus credits per account, kept with every posting.
CREATE TABLE ledger_balances (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    account TEXT NOT NULL,
    stream TEXT NOT NULL,
    phase TEXT NOT NULL,
    holder BIGINT NOT NULL,
    balance_pence BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, account, stream, phase, holder)
);

-- The authority's virement rules, in order; a row in ledger_rule_sets means the authority keeps
-- its own list (possibly empty) instead of the defaults.
CREATE TABLE ledger_rule_sets (
    authority_id BIGINT PRIMARY KEY REFERENCES authorities (id)
);

CREATE TABLE ledger_virement_rules (
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    permit TEXT NOT NULL,
    stream TEXT,
    from_stream TEXT,
    from_phase TEXT,
    to_stream TEXT,
    to_phase TEXT,
    PRIMARY KEY (authority_id, position)
);

-- Staff paid from cluster money.
CREATE TABLE ledger_staff_posts (
    id {pk},
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    post TEXT NOT NULL,
    urn BIGINT,
    fte_tenths BIGINT NOT NULL CHECK (fte_tenths > 0),
    annual_cost_pence BIGINT NOT NULL CHECK (annual_cost_pence > 0),
    stream TEXT NOT NULL,
    phase TEXT NOT NULL,
    contract_start TEXT NOT NULL,
    contract_end TEXT
);

CREATE INDEX ledger_staff_posts_by_cluster ON ledger_staff_posts (cluster_id);

-- The funding horizon a cluster sets per stream (otherwise the end of the financial year).
CREATE TABLE ledger_horizons (
    cluster_id BIGINT NOT NULL REFERENCES clusters (id),
    authority_id BIGINT NOT NULL REFERENCES authorities (id),
    stream TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    PRIMARY KEY (cluster_id, stream)
);
