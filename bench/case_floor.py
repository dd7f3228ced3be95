"""The floor of the per-case job: its own work, with no job runner at all.

In one process, single-threaded, on the same cases: PyRadiomics'
`RadiomicsFeatureExtractor.execute` on the image and mask files (what the process pool
of bench/pool_extract.py runs per case), then radsnake's case job
(`radsnake.jobs.casejob.process_case`: read once, the QC row, the features and
diagnostics, the overlay, the per-case files; issue 16, item 1). Both are warmed on the
first case first, then each case is timed on both sides with `time.process_time`, the
side that meets it first alternating. Their ratio is
what the case job's work costs over the extraction alone: no workflow, fork or Snakemake
job can be cheaper than it, so it bounds from below the workflow / process-pool ratio of
bench/extraction.py.

    python bench/case_floor.py cases.csv params.yaml out_dir [--cases 20]

cases.csv has case_id, image and mask columns (bench/make_ct_cohort.py's manifest).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

import benchlib  # noqa: F401  (importing it puts the repository's scripts/ on the path)
from radsnake.core.runtime import limit_threads

# Single-threaded on both sides, as a case job with its one thread, before the libraries
# below start their pools.
limit_threads(1)

import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases_csv")
    parser.add_argument("params")
    parser.add_argument("out_dir")
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()

    import radiomics
    from radiomics import featureextractor

    from radsnake.io.cohort_sheet import case_spec
    from radsnake.jobs.casejob import process_case

    radiomics.setVerbosity(logging.ERROR)
    rows = pd.read_csv(args.cases_csv, dtype=str).head(args.cases).to_dict("records")
    os.makedirs(args.out_dir, exist_ok=True)
    extractor = featureextractor.RadiomicsFeatureExtractor(args.params)

    def pyradiomics(row: dict) -> None:
        extractor.execute(row["image"], row["mask"], label=1)

    def case_job(row: dict) -> None:
        case = row["case_id"]
        out = os.path.join(args.out_dir, case)
        spec = case_spec({"case_id": case, "image": row["image"], "mask": row["mask"]}, [], 1, {})
        process_case(case, spec, args.params, f"{out}.qc.csv", f"{out}.features.csv",
                     f"{out}.diagnostics.csv", f"{out}.png")

    sides = {"pyradiomics": pyradiomics, "case_job": case_job}
    timings = {name: {"cpu_s": 0.0, "wall_s": 0.0} for name in sides}
    for run in sides.values():
        run(rows[0])  # imports and first-use caches out of the timed loop
    for index, row in enumerate(rows):
        # Alternate which side meets the case first, so neither always finds it cached.
        for name in sorted(sides, reverse=bool(index % 2)):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            sides[name](row)
            timings[name]["cpu_s"] += time.process_time() - start_cpu
            timings[name]["wall_s"] += time.perf_counter() - start_wall
    ratio = timings["case_job"]["cpu_s"] / timings["pyradiomics"]["cpu_s"]
    extra = (timings["case_job"]["cpu_s"] - timings["pyradiomics"]["cpu_s"]) / len(rows)
    print(json.dumps({"cases": len(rows), **timings, "ratio_cpu": ratio, "extra_cpu_per_case_s": extra}))


if __name__ == "__main__":
    sys.exit(main())
