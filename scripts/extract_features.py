"""Extract one case. A shell command, not a Snakemake script, so it can use the warm
worker (radsnake.imaging.worker): the script preamble and the imports it saves cost about as
much as a small ROI's extraction."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from radsnake.imaging.worker import run  # noqa: E402

parser = argparse.ArgumentParser()
for name in ("case", "spec", "qc", "params", "features", "diagnostics", "log"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--resample", action="store_true")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--no-warm-worker", dest="warm", action="store_false")
parser.add_argument("--perturbation", default="", help="robustness jobs: perturb the ROI first")
args = parser.parse_args()

sys.exit(
    run(
        "radsnake.jobs.inputs:extract_inputs",
        {
            "case_id": args.case,
            "spec": json.loads(args.spec),
            "qc_csv": args.qc,
            "params_path": args.params,
            "features_csv": args.features,
            "diagnostics_csv": args.diagnostics,
            "resample": args.resample,
            "perturbation": args.perturbation,
        },
        log_path=args.log,
        threads=args.threads,
        warm=args.warm,
        case=args.case,
    )
)
