"""Extract one case. A shell command, not a Snakemake script, so it can use the warm
worker (radsnake.worker): the script preamble and the imports it saves cost about as
much as a small ROI's extraction."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from radsnake.worker import run  # noqa: E402

parser = argparse.ArgumentParser()
for name in ("case", "image", "mask", "params", "features", "diagnostics", "log"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--label", type=int, required=True)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--no-warm-worker", dest="warm", action="store_false")
args = parser.parse_args()

sys.exit(
    run(
        "radsnake.extract:extract_case",
        {
            "case_id": args.case,
            "image_path": args.image,
            "mask_path": args.mask,
            "params_path": args.params,
            "mask_label": args.label,
            "features_csv": args.features,
            "diagnostics_csv": args.diagnostics,
        },
        log_path=args.log,
        threads=args.threads,
        warm=args.warm,
    )
)
