"""A minimal hand-written batch: PyRadiomics in a process pool
(concurrent.futures.ProcessPoolExecutor over RadiomicsFeatureExtractor.execute), one task per case.

The second baseline of bench/extraction.py. PyRadiomics' CLI waits for its pool in a
busy loop (`while not task.ready(): pass`), which keeps one core busy for the whole run;
this script waits by blocking, so it shows what the extraction itself costs.

    python bench/pool_extract.py cases.csv params.yaml N out.csv
"""

from __future__ import annotations

import csv
import logging
import sys
from concurrent.futures import ProcessPoolExecutor

_extractor = None


def _start(params_path: str) -> None:
    global _extractor
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    _extractor = featureextractor.RadiomicsFeatureExtractor(params_path)


def _extract(case: dict) -> dict:
    result = _extractor.execute(case["Image"], case["Mask"], label=int(case.get("Label") or 1))
    row = dict(case)
    for key, value in result.items():
        if not key.startswith("diagnostics_"):
            row[key] = repr(float(value))
    return row


def main(cases_csv: str, params_path: str, workers: int, out_csv: str) -> None:
    with open(cases_csv, newline="") as handle:
        cases = list(csv.DictReader(handle))
    with ProcessPoolExecutor(workers, initializer=_start, initargs=(params_path,)) as pool:
        rows = list(pool.map(_extract, cases, chunksize=1))
    with open(out_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
