#!/usr/bin/env python3
"""The same authority summary in pandas/statsmodels, for the ratio: read the tidy CSV, every
cluster's gap to the rest of the authority for every measure and year, three cluster-level
targets per cluster judged by the same RAG rules, and the same difference-in-differences (each
school's mean before and after; the estimate as the coefficient of an OLS of the change on the
initiative flag, which equals the difference of mean changes) with a 1,000-replicate bootstrap
over schools. Prints one JSON line of timings (median of RUNS) and check figures.
Usage: pandas_summary.py DATA_DIR RUNS
"""
import json
import statistics
import sys
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm

data, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
members = pd.read_csv(f"{data}/members.csv")
members["cluster_id"] = members["cluster"].astype("category").cat.codes
clusters = int(members["cluster_id"].max()) + 1


def rag(baseline, base_year, target, target_year, series):
    later = [(y, v) for y, v in series if y > base_year]
    if not later:
        return "none"
    year, value = max(later)
    progress, needed = value - baseline, target - baseline
    if progress >= needed - 1e-9:
        return "green"
    if year >= target_year:
        return "red"
    expected = needed * (year - base_year) / (target_year - base_year)
    if progress >= expected - 1e-9:
        return "green"
    if progress >= expected / 2 and progress > 0:
        return "amber"
    return "red"


times = {k: [] for k in ("read", "gaps", "rag", "did", "summary")}
for _ in range(runs):
    t0 = time.perf_counter()
    df = pd.read_csv(f"{data}/metrics.csv", dtype={"time_period": "int64", "school_urn": "float64", "value": "string"})
    df["num"] = pd.to_numeric(df["value"], errors="coerce")  # symbols stay missing, never zeros
    t1 = time.perf_counter()
    schools = df[df["geographic_level"] == "School"].merge(members[["urn", "cluster_id"]], left_on="school_urn", right_on="urn", how="left")
    schools["year"] = schools["time_period"] // 100
    have = schools.dropna(subset=["num"])
    total = have.groupby(["measure", "year"])["num"].agg(["sum", "count"])
    mine = have.groupby(["measure", "year", "cluster_id"])["num"].agg(["sum", "count"]).reset_index()
    mine = mine.merge(total.reset_index(), on=["measure", "year"], suffixes=("", "_all"))
    mine["cluster_mean"] = mine["sum"] / mine["count"]
    rest_n = mine["count_all"] - mine["count"]
    mine["rest_mean"] = (mine["sum_all"] - mine["sum"]) / rest_n.where(rest_n > 0)
    mine["gap"] = mine["cluster_mean"] - mine["rest_mean"]
    t2 = time.perf_counter()
    series = {k: list(zip(g["year"], g["cluster_mean"])) for k, g in mine.groupby(["measure", "cluster_id"])}
    rags = []
    for c in range(clusters):
        for m in range(3):
            code = f"m{(c + m) % 10:02d}"
            rags.append(rag(56.0, 2018, 60.0, 2025, series.get((code, c), [])))
    t3 = time.perf_counter()
    m0 = have[have["measure"] == "m00"]
    before = m0[(m0["year"] >= 2014) & (m0["year"] <= 2018)].groupby("school_urn")["num"].mean()
    after = m0[(m0["year"] >= 2019) & (m0["year"] <= 2023)].groupby("school_urn")["num"].mean()
    both = pd.concat([before.rename("before"), after.rename("after")], axis=1, join="inner").sort_index()
    both["delta"] = both["after"] - both["before"]
    both = both.join(members.set_index("urn")["cluster_id"])
    both["treated"] = (both["cluster_id"] % 10 == 0).astype(float)
    fit = sm.OLS(both["delta"].to_numpy(), sm.add_constant(both["treated"].to_numpy())).fit()
    estimate = float(fit.params[1])
    dt = both.loc[both["treated"] == 1, "delta"].to_numpy()
    dc = both.loc[both["treated"] == 0, "delta"].to_numpy()
    rng = np.random.default_rng(20240901)
    reps = np.empty(1000)
    for r in range(1000):
        reps[r] = dt[rng.integers(0, len(dt), len(dt))].mean() - dc[rng.integers(0, len(dc), len(dc))].mean()
    lo, hi = np.quantile(reps, [0.025, 0.975])
    t4 = time.perf_counter()
    for k, a, b in (("read", t0, t1), ("gaps", t1, t2), ("rag", t2, t3), ("did", t3, t4), ("summary", t1, t4)):
        times[k].append((b - a) * 1000)
counts = {k: rags.count(k) for k in ("red", "amber", "green", "none")}
out = {f"{k}_ms": statistics.median(v) for k, v in times.items()}
out.update(
    pandas=pd.__version__,
    statsmodels=sm.__version__ if hasattr(sm, "__version__") else "",
    rows=int(len(df)),
    gap_sum=float(mine["gap"].sum()),
    rag=[counts["red"], counts["amber"], counts["green"], counts["none"]],
    did=estimate,
    ci=[float(lo), float(hi)],
    treated=int(len(dt)),
    comparison=int(len(dc)),
)
print(json.dumps(out))
