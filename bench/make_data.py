#!/usr/bin/env python3
"""Generates the import benchmark's inputs in bench/data/ (gitignored):

- census_england_2022_23.csv: about 25,000 rows, England-sized, made by repeating the real Norfolk
  census rows (shared/data/real) with fresh URNs and LAESTABs; every other value is Norfolk's.
- edubasealldata_50k.csv: 50,000 rows of GIAS's 138-column layout in Windows-1252, made by the
  GIAS fixture generator (crates/domain/tests/fixtures/make_gias_fixture.py).
"""
import csv
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "crates/domain/tests/fixtures"))
import make_gias_fixture  # noqa: E402

out = os.path.join(root, "bench/data")
os.makedirs(out, exist_ok=True)
norfolk = os.path.join(root, "..", "shared/data/real/norfolk_schools_spc_2022_23.csv")

with open(norfolk, newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = list(reader)
urn_i, laestab_i = header.index("urn"), header.index("laestab")
target = 25_000
with open(os.path.join(out, "census_england_2022_23.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(header)
    for i in range(target):
        r = list(rows[i % len(rows)])
        r[urn_i] = str(300_000 + i)
        r[laestab_i] = str(9_260_000 + (i % 10_000))
        w.writerow(r)

with open(os.path.join(out, "edubasealldata_50k.csv"), "wb") as f:
    make_gias_fixture.write(make_gias_fixture.rows(50_000, first_urn=400_000), f)

for name in sorted(os.listdir(out)):
    p = os.path.join(out, name)
    print(f"{name}: {os.path.getsize(p) / 1e6:.1f} MB")
