"""Inputs for the boundary-planner benchmark (bench/design/run.sh).

Writes, under the output folder:
- norfolk.csv: the real Norfolk census (state-funded schools) in the planner's minimal layout
  `urn,name,easting,northing,pupils,phase,district,fsm_count`;
- norfolk_existing.csv: `urn,cluster`, the demo's illustrative nearest-secondary map (every
  school joins its nearest secondary or all-through school with Key Stage 3 pupils, ties to the
  lower URN), used as "today's clusters" for the amalgamate instance;
- county_4x.csv, county_16x.csv, england.csv: seeded synthetic counties made of jittered copies
  of Norfolk tiled side by side (2×2, 4×4 and 60 tiles): every school moved by up to 300 m
  (schools sharing a postcode move together), pupils scaled by 0.9–1.1, fresh URNs, districts
  suffixed by tile.
"""
import csv
import random
import sys
from pathlib import Path

src, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
rows = [r for r in csv.DictReader(open(src, newline="")) if r["phase_type_grouping"].startswith("State-funded")]


def phase(r):
    g = r["phase_type_grouping"]
    if g == "State-funded secondary":
        if r["all_through_school"] == "Yes":
            return "all_through"
        if r["middle_school"] == "Middle deemed secondary":
            return "middle_secondary"
        if r["pupils_ks3_y7_y9"] in ("0",):
            return "16_plus"
        return "secondary"
    if g == "State-funded primary":
        return "middle_primary" if r["middle_school"] == "Middle deemed primary" else "primary"
    return {"State-funded nursery": "nursery", "State-funded special school": "special"}.get(g, "alternative_provision")


schools = [
    dict(urn=int(r["urn"]), name=r["school_name"], easting=int(r["easting"]), northing=int(r["northing"]),
         pupils=int(r["pupils_headcount"]), phase=phase(r),
         district="" if r["district_name"] == "Unknown" else r["district_name"], fsm_count=r["fsm_eligible_count"])
    for r in rows
]
FIELDS = ["urn", "name", "easting", "northing", "pupils", "phase", "district", "fsm_count"]


def write(name, items):
    with open(out / name, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(items)


write("norfolk.csv", schools)

anchors = sorted((s for s in schools if s["phase"] in ("secondary", "all_through", "middle_secondary")), key=lambda s: s["urn"])
with open(out / "norfolk_existing.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["urn", "cluster"])
    for s in sorted(schools, key=lambda s: s["urn"]):
        a = min(anchors, key=lambda a: ((a["easting"] - s["easting"]) ** 2 + (a["northing"] - s["northing"]) ** 2, a["urn"]))
        w.writerow([s["urn"], f"NS{a['urn']}"])

e0, e1 = min(s["easting"] for s in schools), max(s["easting"] for s in schools)
n0, n1 = min(s["northing"] for s in schools), max(s["northing"] for s in schools)
width, height = e1 - e0 + 5000, n1 - n0 + 5000


def tiled(tiles, cols, seed):
    rng = random.Random(seed)
    items = []
    for t in range(tiles):
        dx, dy = (t % cols) * width, (t // cols) * height
        shift = {}
        for i, s in enumerate(schools):
            key = (s["easting"], s["northing"])
            if key not in shift:
                shift[key] = (rng.randint(-300, 300), rng.randint(-300, 300))
            jx, jy = shift[key]
            items.append(dict(s, urn=100000 + t * 1000 + i,
                              easting=s["easting"] + dx + jx, northing=s["northing"] + dy + jy,
                              pupils=max(1, round(s["pupils"] * rng.uniform(0.9, 1.1))),
                              district=f"{s['district']} T{t}" if s["district"] else ""))
    return items


write("county_4x.csv", tiled(4, 2, 4))
write("county_16x.csv", tiled(16, 4, 16))
write("england.csv", tiled(60, 8, 60))
for name in ["norfolk.csv", "county_4x.csv", "county_16x.csv", "england.csv"]:
    items = list(csv.DictReader(open(out / name)))
    print(f"{name}: {len(items)} schools, {sum(int(i['pupils']) for i in items)} pupils")
