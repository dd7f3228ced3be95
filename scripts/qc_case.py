"""Input QC of one case: its QC row and overlay. A shell command like extract_features.py,
so that it runs in the warm worker (radsnake.worker)."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from radsnake.worker import run  # noqa: E402

parser = argparse.ArgumentParser()
for name in ("case", "spec", "qc", "overlay", "on-fail", "tolerance", "window", "log"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--resample", action="store_true")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--no-warm-worker", dest="warm", action="store_false")
args = parser.parse_args()

sys.exit(
    run(
        "radsnake.inputs:run_qc",
        {
            "case_id": args.case,
            "spec": json.loads(args.spec),
            "qc_csv": args.qc,
            "overlay_png": args.overlay,
            "on_fail": args.on_fail,
            "tolerance": json.loads(args.tolerance),
            "resample": args.resample,
            "window": args.window,
        },
        log_path=args.log,
        threads=args.threads,
        warm=args.warm,
    )
)
