#!/usr/bin/env python3
"""The funding benchmark's peer: bench/funding/policy.toml's six streams written in pandas, with
the same formulas as the Rust engine (integer pence, largest remainder with ties to the lower
URN, top-slices rounded down, need scores as FSM / cluster FSM rounded half-even to 12 places).

Usage: pandas_allocate.py SCHOOLS MEMBERS FACTS OUT.csv
Prints JSON: {"pandas": version, "compute_ms": ..., "total_ms": ...} (total includes reading the
CSVs and writing the statement, as the CLI does).
"""
import json
import sys
import time

import numpy as np
import pandas as pd

t0 = time.perf_counter()
schools_path, members_path, facts_path, out_path = sys.argv[1:5]
schools = pd.read_csv(
    schools_path,
    usecols=["urn", "phase_type_grouping", "pupils_headcount", "fsm_eligible_count"],
)
members = pd.read_csv(members_path, dtype={"cluster": str, "role": str})
facts = pd.read_csv(facts_path, usecols=["urn", "inspection_grade"])
t1 = time.perf_counter()

df = members.merge(schools, on="urn").merge(facts, on="urn", how="left")
df = df[df["role"] != "unfunded_member"].sort_values(["cluster", "urn"]).reset_index(drop=True)
df["pupils"] = df["pupils_headcount"].astype("int64")
df["fsm"] = df["fsm_eligible_count"].astype("int64")
df["grade"] = df["inspection_grade"].astype("int64")
grouping = df["phase_type_grouping"]
PHASES = {
    "primary": grouping.isin(["State-funded primary", "State-funded nursery"]),
    "secondary": grouping.eq("State-funded secondary"),
    "all": pd.Series(True, index=df.index),
}


def apportion(frame, units, weights):
    """Largest remainder per cluster: `units` (per row, constant in a cluster) split by `weights`."""
    units = units.astype("int64")
    weights = weights.astype("int64")
    assert int(units.max()) * int(weights.max()) < 2**63, "int64 overflow"
    total_w = weights.groupby(frame["cluster"]).transform("sum")
    exact = units * weights
    q = exact // total_w
    r = exact % total_w
    leftover = units - q.groupby(frame["cluster"]).transform("sum")
    order = pd.DataFrame({"cluster": frame["cluster"], "r": -r, "urn": frame["urn"]}).sort_values(["cluster", "r", "urn"])
    rank = order.groupby("cluster").cumcount().reindex(frame.index)
    return q + (rank < leftover).astype("int64")


def split_percent(remaining, percents):
    """Splits each cluster's remainder between share components (ties to the first listed)."""
    total = sum(percents)
    q = [remaining * p // total for p in percents]
    r = [remaining * p % total for p in percents]
    leftover = remaining - sum(q)
    rs = np.stack([x.to_numpy() for x in r], axis=1)
    order = np.argsort(-rs, axis=1, kind="stable")
    ranks = np.argsort(order, axis=1, kind="stable")
    return [q[i] + (ranks[:, i] < leftover.to_numpy()).astype("int64") for i in range(len(percents))]


rows = []  # (cluster, urn or None, stream, phase, component, pence) as column arrays


def emit(frame, stream, phase, component, amounts):
    rows.append(pd.DataFrame({
        "cluster": frame["cluster"].to_numpy(),
        "urn": frame["urn"].astype(str).to_numpy(),
        "stream": stream,
        "phase": phase,
        "component": component,
        "amount_pence": np.asarray(amounts, dtype="int64"),
    }))


def emit_central(clusters, stream, phase, component, amounts):
    keep = amounts != 0
    rows.append(pd.DataFrame({
        "cluster": clusters[keep],
        "urn": "",
        "stream": stream,
        "phase": phase,
        "component": component,
        "amount_pence": amounts[keep].astype("int64"),
    }))


def pot(stream, phase, budget, top=None, fixed=(), shares=()):
    """budget(per-cluster frame) -> pence per cluster; fixed: [(name, fn(frame) -> pence per row)];
    shares: [(name, percent, fn(frame, units per row) -> pence per row)]."""
    e = df[PHASES[phase]]
    g = e.groupby("cluster", sort=True)
    per = pd.DataFrame({"pupils": g["pupils"].sum(), "schools": g.size()})
    b = budget(per).astype("int64")
    top_slice = b * top[0] // 100 if top else b * 0
    if top:
        emit_central(per.index.to_numpy(), stream, phase, f"top-slice: {top[1]}", top_slice.to_numpy())
    spent = b * 0
    for name, fn in fixed:
        amounts = np.asarray(fn(e), dtype="int64")
        if name == "LSU unit":  # only the schools given a unit have a line
            emit(e[amounts > 0], stream, phase, name, amounts[amounts > 0])
        else:
            emit(e, stream, phase, name, amounts)
        spent = spent + pd.Series(amounts, index=e.index).groupby(e["cluster"]).sum()
    remaining = b - top_slice - spent
    assert (remaining >= 0).all()
    if shares:
        pots = split_percent(remaining, [p for _, p, _ in shares])
        for (name, _, fn), share_pot in zip(shares, pots):
            units = e["cluster"].map(share_pot)
            emit(e, stream, phase, name, fn(e, units))
    else:
        emit_central(per.index.to_numpy(), stream, phase, "unallocated", remaining.to_numpy())


equal = lambda e, u: apportion(e, u, pd.Series(1, index=e.index))
by_pupils = lambda e, u: apportion(e, u, e["pupils"])
flat_percent = [("flat share", 54, equal), ("per pupil", 46, by_pupils)]

# 1. Gifted and talented, primary and secondary pots.
pot("gifted and talented", "primary", lambda p: p["pupils"] * 0 + 3_000_000, (10, "central co-ordination"), shares=flat_percent)
pot("gifted and talented", "secondary", lambda p: p["pupils"] * 0 + 5_000_000, (15, "central co-ordination"), shares=flat_percent)

# 2. Learning mentors + LSU (secondary): one LSU unit to the school with most FSM pupils (ties to
#    the lower URN), mentors 1.5 FTE there and 1 FTE elsewhere at £24,000, the rest by FSM count.
def lsu_host(e):
    ranked = e.sort_values(["cluster", "fsm", "urn"], ascending=[True, False, True])
    return e.index.isin(ranked.groupby("cluster").head(1).index)


pot(
    "learning mentors and LSU", "secondary",
    lambda p: p["schools"] * 12_000_000,
    fixed=[
        ("LSU unit", lambda e: np.where(lsu_host(e), 4_980_000, 0)),
        ("learning mentors", lambda e: np.where(lsu_host(e), 3_600_000, 2_400_000)),
    ],
    shares=[("by FSM", 100, lambda e, u: apportion(e, u, e["fsm"]))],
)

# 3. Tailored: 15 % top-slice, £500 a school, then pupils × (1 + 1.5 × FSM share) = 2p + 3f halves.
pot(
    "tailored", "all", lambda p: p["pupils"] * 1_000, (15, "cluster projects"),
    fixed=[("base", lambda e: np.full(len(e), 50_000))],
    shares=[("FSM-weighted", 100, lambda e, u: apportion(e, u, 2 * e["pupils"] + 3 * e["fsm"]))],
)

# 4. Cluster admin: £2 a pupil, at least £2,000; 54 % equal, 46 % by pupils.
pot("cluster admin", "all", lambda p: np.maximum(p["pupils"] * 200, 200_000), shares=flat_percent)

# 5. School improvement: £3,000 a school; 50 % equal, 50 % by inspection grade (weight = grade).
pot(
    "school improvement", "all", lambda p: p["schools"] * 300_000,
    shares=[("flat share", 50, equal), ("by grade", 50, lambda e, u: apportion(e, u, e["grade"]))],
)


# 6. Devolved SEN: £15 a pupil; £500 minimum each, the rest by need = FSM / cluster FSM (12 dp).
def minimum_then_need(e, u):
    n = e.groupby("cluster")["urn"].transform("size")
    rest = u - 50_000 * n
    total = e.groupby("cluster")["fsm"].transform("sum")
    num = e["fsm"] * 10**12
    q, r = num // total, num % total
    score = q + ((2 * r > total) | ((2 * r == total) & (q % 2 == 1))).astype("int64")
    return 50_000 + apportion(e, rest, score)


pot("devolved SEN", "all", lambda p: p["pupils"] * 1_500, shares=[("minimum then need", 100, minimum_then_need)])

statement = pd.concat(rows, ignore_index=True)
t2 = time.perf_counter()
statement.to_csv(out_path, index=False)
t3 = time.perf_counter()
print(json.dumps({
    "pandas": pd.__version__,
    "read_ms": (t1 - t0) * 1e3,
    "compute_ms": (t2 - t1) * 1e3,
    "write_ms": (t3 - t2) * 1e3,
    "total_ms": (t3 - t0) * 1e3,
    "lines": len(statement),
}))
