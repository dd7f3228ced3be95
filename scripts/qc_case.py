"""Input QC of one case: its QC row, or (with --overlay) its review overlay. A shell
command like extract_features.py, so that it runs in the warm worker (radsnake.imaging.worker)."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from radsnake.imaging.worker import run  # noqa: E402

parser = argparse.ArgumentParser()
for name in ("case", "spec", "qc", "log"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--overlay", help="draw the overlay of a case whose QC row is --qc")
parser.add_argument("--window", default="auto")
parser.add_argument("--on-fail", default="stop")
parser.add_argument("--tolerance", default="{}")
parser.add_argument("--params", default=None, help="PyRadiomics params file: QC applies its limits")
parser.add_argument("--resample", action="store_true")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--no-warm-worker", dest="warm", action="store_false")
args = parser.parse_args()

case = {"case_id": args.case, "spec": json.loads(args.spec), "qc_csv": args.qc, "resample": args.resample}
if args.overlay:
    target, kwargs = "radsnake.jobs.inputs:draw_overlay", {**case, "overlay_png": args.overlay, "window": args.window}
else:
    target, kwargs = "radsnake.jobs.inputs:run_qc", {
        **case,
        "on_fail": args.on_fail,
        "tolerance": json.loads(args.tolerance),
        "params_path": args.params,
    }
sys.exit(run(target, kwargs, log_path=args.log, threads=args.threads, warm=args.warm, case=args.case))
