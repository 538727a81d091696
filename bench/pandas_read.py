#!/usr/bin/env python3
"""pandas.read_csv of the benchmark files: the median of N runs, in milliseconds, as JSON.

Each file is timed two ways: from its path (what a pandas user writes), and from its bytes
already in memory (io.BytesIO), which is what our parser is timed on. The in-memory figure is
the fair one to compare with, and the harder one for us (pandas skips the file read).
"""
import io
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
    with open(path, "rb") as f:
        data = f.read()
    timings = {}
    for how in ("path", "memory"):
        times = []
        for _ in range(runs):
            source = path if how == "path" else io.BytesIO(data)
            t = time.perf_counter()
            df = pd.read_csv(source, encoding=encoding, low_memory=False)
            times.append((time.perf_counter() - t) * 1000)
        timings[how] = statistics.median(times)
    result[name] = {
        "rows": len(df),
        "columns": len(df.columns),
        "median_ms": timings["memory"],
        "median_ms_from_path": timings["path"],
    }
print(json.dumps(result))
