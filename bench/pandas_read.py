#!/usr/bin/env python3
"""pandas.read_csv of the benchmark files: the median of N runs, in milliseconds, as JSON."""
import json
import statistics
import sys
import time

import pandas as pd

runs = int(sys.argv[1])
result = {"pandas": pd.__version__}
for name, path, encoding in [
    ("census", "bench/data/census_england_2022_23.csv", "utf-8"),
    ("gias", "bench/data/edubasealldata_50k.csv", "cp1252"),
]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        df = pd.read_csv(path, encoding=encoding, low_memory=False)
        times.append((time.perf_counter() - t) * 1000)
    result[name] = {"rows": len(df), "columns": len(df.columns), "median_ms": statistics.median(times)}
print(json.dumps(result))
