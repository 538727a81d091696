#!/usr/bin/env python3
"""Generates the funding benchmark's inputs in bench/funding/data/ (gitignored):

- schools.csv: 25,000 state-funded schools, England-sized, made by repeating the real Norfolk
  census rows (shared/data/real; state-funded only) with fresh URNs; every other value is Norfolk's.
- members.csv: `urn,cluster,role` for 1,700 clusters. Secondaries are dealt round the clusters
  first (so every cluster has one), then the other schools; the first school dealt to a cluster
  is its host, and every 50th school is an unfunded member.
- facts.csv: `urn,inspection_grade,hosts_lsu,low_attainment`, deterministic from the URN.
"""
import csv
import os

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
out = os.path.join(here, "data")
os.makedirs(out, exist_ok=True)
norfolk = os.path.join(root, "..", "shared/data/real/norfolk_schools_spc_2022_23.csv")
SCHOOLS, CLUSTERS = 25_000, 1_700

with open(norfolk, newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = [r for r in reader if r[header.index("phase_type_grouping")].startswith("State-funded")]
urn_i = header.index("urn")
phase_i = header.index("phase_type_grouping")
made = []
with open(os.path.join(out, "schools.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(header)
    for i in range(SCHOOLS):
        r = list(rows[i % len(rows)])
        r[urn_i] = str(300_000 + i)
        w.writerow(r)
        made.append((300_000 + i, r[phase_i]))

secondaries = [u for u, p in made if p == "State-funded secondary"]
others = [u for u, p in made if p != "State-funded secondary"]
members = []
seen = set()
for k, u in enumerate(secondaries + others):
    c = k % CLUSTERS
    role = "host" if c not in seen else ("unfunded_member" if u % 50 == 0 else "feeder")
    seen.add(c)
    members.append((u, f"C{c:04d}", role))
with open(os.path.join(out, "members.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["urn", "cluster", "role"])
    w.writerows(sorted(members))
with open(os.path.join(out, "facts.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["urn", "inspection_grade", "hosts_lsu", "low_attainment"])
    for u, _ in made:
        w.writerow([u, 1 + u % 4, "no", u % 37])
for name in sorted(os.listdir(out)):
    print(f"{name}: {os.path.getsize(os.path.join(out, name)) / 1e6:.1f} MB")
