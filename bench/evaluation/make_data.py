#!/usr/bin/env python3
"""Generates the evaluation benchmark's inputs in bench/evaluation/data/ (gitignored), from a
fixed seed:

- metrics.csv: tidy `time_period,geographic_level,school_urn,measure,group,value` for 25,000
  schools x 10 years (2014/15 to 2023/24) x 10 measures, all pupils, plus a national row per
  measure and year: 2,500,100 rows. About 1 value in 100 is a DfE symbol (c, x, z or low).
- members.csv: `urn,cluster` for 1,667 clusters of about 15 schools.
Every 10th cluster is in an initiative from 2019/20 that adds 2 points a year to measure m00.
"""
import os
import random

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "data")
os.makedirs(out, exist_ok=True)
SCHOOLS, YEARS, MEASURES, PER_CLUSTER = 25_000, 10, 10, 15
rng = random.Random(20240901)
urns = [100_000 + i for i in range(SCHOOLS)]
cluster = {u: i // PER_CLUSTER for i, u in enumerate(urns)}
with open(os.path.join(out, "members.csv"), "w") as f:
    f.write("urn,cluster\n")
    for u in urns:
        f.write(f"{u},C{cluster[u]:04d}\n")
symbols = ["c", "x", "z", "low"]
with open(os.path.join(out, "metrics.csv"), "w") as f:
    f.write("time_period,geographic_level,school_urn,measure,group,value\n")
    base = {u: [rng.uniform(30, 80) for _ in range(MEASURES)] for u in urns}
    for y in range(YEARS):
        start = 2014 + y
        period = f"{start}{(start + 1) % 100:02d}"
        for m in range(MEASURES):
            f.write(f"{period},National,,m{m:02d},all,{55 + 0.5 * y:.1f}\n")
        lines = []
        for u in urns:
            boost = 2.0 * (y - 4) if cluster[u] % 10 == 0 and y >= 5 else 0.0
            for m in range(MEASURES):
                if rng.random() < 0.01:
                    v = rng.choice(symbols)
                else:
                    x = base[u][m] + 0.5 * y + rng.gauss(0, 2) + (boost if m == 0 else 0.0)
                    v = f"{min(max(x, 0.0), 100.0):.1f}"
                lines.append(f"{period},School,{u},m{m:02d},all,{v}\n")
        f.writelines(lines)
print(f"wrote {SCHOOLS * YEARS * MEASURES + YEARS * MEASURES:,} metric rows and {SCHOOLS:,} members to {out}")
