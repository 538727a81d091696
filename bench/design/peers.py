"""The peers of the boundary-planner benchmark, one per process (so peak memory is its own).

usage: peers.py METHOD SCHOOLS.csv GRAPH.csv OUT.csv [options]
  METHOD: maxp | azp | kmeans | mip
  --existing FILE   today's clusters (urn,cluster): mip then works on whole clusters (amalgamate)
  --min N --max N --clusters A..B --time-limit S --regions K --seed S

Every method gets the same neighbour graph (GRAPH.csv, written by `clusterwise design
--write-graph`) and writes `urn,cluster`; `clusterwise design --evaluate` then judges all
answers with one checker. Prints one JSON line: method, seconds (solve only), status.
"""
import argparse
import csv
import json
import math
import sys
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("method")
p.add_argument("schools")
p.add_argument("graph")
p.add_argument("out")
p.add_argument("--existing")
p.add_argument("--min", type=int, default=2500)
p.add_argument("--max", type=int, default=5000)
p.add_argument("--clusters", default="22..32")
p.add_argument("--regions", type=int, default=27)
p.add_argument("--time-limit", type=float, default=600)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--district-price", type=float, default=2.0)
p.add_argument("--cluster-price", type=float, default=5000.0)
a = p.parse_args()

schools = list(csv.DictReader(open(a.schools, newline="")))
urns = [s["urn"] for s in schools]
index = {u: i for i, u in enumerate(urns)}
n = len(schools)
x = np.array([float(s["easting"]) / 1000 for s in schools])
y = np.array([float(s["northing"]) / 1000 for s in schools])
pupils = np.array([int(s["pupils"]) for s in schools])
hub_phase = {"secondary", "all_through", "middle_secondary"}
edges = [(index[r["urn_a"]], index[r["urn_b"]]) for r in csv.DictReader(open(a.graph, newline=""))]


def write(labels):
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["urn", "cluster"])
        for u, l in zip(urns, labels):
            w.writerow([u, f"R{l}"])


def spopt_inputs():
    import geopandas
    import libpysal

    neighbours = {i: set() for i in range(n)}
    for i, j in edges:
        neighbours[i].add(j)
        neighbours[j].add(i)
    w = libpysal.weights.W({i: sorted(v) for i, v in neighbours.items()}, silence_warnings=True)
    gdf = geopandas.GeoDataFrame(
        {"x": x, "y": y, "pupils": pupils}, geometry=geopandas.points_from_xy(x * 1000, y * 1000)
    )
    return gdf, w


status = "ok"
if a.method in ("maxp", "azp", "kmeans"):
    import spopt.region as region

    gdf, w = spopt_inputs()
    np.random.seed(a.seed)
    t = time.perf_counter()
    if a.method == "maxp":
        m = region.MaxPHeuristic(gdf, w, ["x", "y"], "pupils", a.min, top_n=2)
    elif a.method == "azp":
        m = region.AZP(gdf, w, ["x", "y"], n_clusters=a.regions, random_state=a.seed)
    else:
        m = region.RegionKMeansHeuristic(gdf[["x", "y"]].values, a.regions, w, seed=a.seed)
    m.solve()
    seconds = time.perf_counter() - t
    write(list(m.labels_))
elif a.method == "mip":
    import highspy
    import scipy.sparse as sp

    # Units: schools on one point (redraw) or whole existing clusters (amalgamate).
    if a.existing:
        today = {r["urn"]: r["cluster"] for r in csv.DictReader(open(a.existing, newline=""))}
        key = [today[u] for u in urns]
    else:
        key = [(s["easting"], s["northing"]) for s in schools]
    unit_ids = {}
    unit_of = [unit_ids.setdefault(k, len(unit_ids)) for k in key]
    U = len(unit_ids)
    members = [[] for _ in range(U)]
    for i, u in enumerate(unit_of):
        members[u].append(i)
    arcs = sorted({(unit_of[i], unit_of[j]) for i, j in edges if unit_of[i] != unit_of[j]}
                  | {(unit_of[j], unit_of[i]) for i, j in edges if unit_of[i] != unit_of[j]})
    hub_school = {}
    for u in range(U):
        cands = [i for i in members[u] if schools[i]["phase"] in hub_phase]
        if cands:
            hub_school[u] = cands
    H = sorted(hub_school)
    district = [s["district"] or None for s in schools]

    def school_cost(i, h):
        d = math.hypot(x[i] - x[h], y[i] - y[h])
        if district[i] and district[h] and district[i] != district[h]:
            d += a.district_price
        return pupils[i] * d

    lo, hi = (int(v) for v in a.clusters.split(".."))
    total = int(pupils.sum())
    needed = max(lo, -(-total // a.max))
    unit_pupils = [int(sum(pupils[i] for i in m)) for m in members]
    # Columns: x[u,h] (U×|H|), then flows f[h,arc] for arcs not entering h.
    col_cost, integrality, ub = [], [], []
    xcol = {}
    for hi_, h in enumerate(H):
        for u in range(U):
            c = min(sum(school_cost(i, hs) for i in members[u]) for hs in hub_school[h])
            if u == h:
                c += a.cluster_price
            xcol[u, h] = len(col_cost)
            col_cost.append(c)
            integrality.append(1)
            ub.append(1.0)
    fcol = {}
    M = float(U - 1)
    for h in H:
        for (i, j) in arcs:
            if j == h:
                continue
            fcol[h, i, j] = len(col_cost)
            col_cost.append(0.0)
            integrality.append(0)
            ub.append(M)
    rows, cols, vals, rlo, rhi = [], [], [], [], []

    def row(entries, low, high):
        r = len(rlo)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        rlo.append(low)
        rhi.append(high)

    inf = highspy.kHighsInf
    for u in range(U):
        row([(xcol[u, h], 1.0) for h in H], 1.0, 1.0)
    for h in H:
        for u in range(U):
            if u != h:
                row([(xcol[u, h], 1.0), (xcol[h, h], -1.0)], -inf, 0.0)
        size = [(xcol[u, h], float(unit_pupils[u])) for u in range(U)]
        row(size + [(xcol[h, h], -float(a.min))], 0.0, inf)
        row(size + [(xcol[h, h], -float(a.max))], -inf, 0.0)
    row([(xcol[h, h], 1.0) for h in H], lo, hi)
    into = {}
    out_of = {}
    for (h, i, j), c in fcol.items():
        into.setdefault((h, j), []).append(c)
        out_of.setdefault((h, i), []).append(c)
    for h in H:
        for u in range(U):
            if u == h:
                continue
            e = [(c, 1.0) for c in into.get((h, u), [])] + [(c, -1.0) for c in out_of.get((h, u), [])]
            row(e + [(xcol[u, h], -1.0)], 0.0, 0.0)
    for (h, i, j), c in fcol.items():
        row([(c, 1.0), (xcol[j, h], -M)], -inf, 0.0)
    A = sp.csc_matrix((vals, (rows, cols)), shape=(len(rlo), len(col_cost)))
    lp = highspy.HighsLp()
    lp.num_col_ = len(col_cost)
    lp.num_row_ = len(rlo)
    lp.col_cost_ = np.array(col_cost)
    lp.col_lower_ = np.zeros(len(col_cost))
    lp.col_upper_ = np.array(ub)
    lp.row_lower_ = np.array(rlo, dtype=float)
    lp.row_upper_ = np.array(rhi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if t else highspy.HighsVarType.kContinuous for t in integrality]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", a.time_limit)
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    t = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t
    info = h.getInfo()
    status = f"{h.modelStatusToString(h.getModelStatus())}, gap {info.mip_gap:.4%}, bound {info.mip_dual_bound - a.cluster_price * needed:.1f}"
    sol = h.getSolution().col_value
    if info.primal_solution_status == 0:
        print(json.dumps({"method": a.method, "seconds": round(seconds, 2), "status": "no solution: " + status,
                          "units": U, "columns": len(col_cost), "rows": len(rlo)}))
        sys.exit(0)
    labels = []
    for i in range(n):
        u = unit_of[i]
        labels.append(max(H, key=lambda h: sol[xcol[u, h]]))
    write(labels)
    status += f", units {U}, columns {len(col_cost)}, rows {len(rlo)}"
else:
    sys.exit(f"unknown method {a.method}")
print(json.dumps({"method": a.method, "seconds": round(seconds, 3), "status": status}))
