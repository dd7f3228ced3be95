"""One case's job: input QC, PyRadiomics features and diagnostics, and the review overlay,
from one reading of its images and mask (radsnake.jobs.casejob). A shell command, not a
Snakemake script, so it skips Snakemake's script preamble too, and hands the job to the warm
worker (radsnake.core.worker): the start-up it saves costs about as much as a small ROI's
extraction."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from radsnake.core.worker import run  # noqa: E402

# What the worker imports once for these jobs: besides the job's module, what it imports
# inside functions (image readers, the overlay's Pillow plugins and fonts, the CSV writer):
# 0.1 s a job when each child imported them.
PRELOAD = (
    "radsnake.imaging.extract",
    "radiomics.featureextractor",
    "radsnake.core.tables",
    "pandas",
    "radsnake.imaging.case_inputs",
    "radsnake.io.imageio",
    "radsnake.imaging.qc",
    "radsnake.figures.overlay",
    "pydicom",
    # feature robustness jobs: the mask perturbations
    "radsnake.imaging.robustness",
    "scipy.ndimage",
    "radsnake.core.runtime",
    "radsnake.io.provenance",
    "radsnake.core.faults",
    "threadpoolctl",
    "pandas.io.formats.csvs",
    "PIL.PngImagePlugin",
    "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PpmImagePlugin",
)
# Built once in the worker for the study's params file, which PyRadiomics validates with
# pykwalify (radsnake.imaging.extract.cached_extractor).
WARM_UP = "radsnake.imaging.extract:warm_extractor"

parser = argparse.ArgumentParser()
for name in ("case", "spec", "params", "qc", "features", "diagnostics", "log"):
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--overlay", help="also draw the review overlay here")
parser.add_argument("--window", default="auto")
parser.add_argument("--on-fail", default="stop")
parser.add_argument("--tolerance", default="{}")
parser.add_argument("--resample", action="store_true")
parser.add_argument("--perturbation", default="", help="robustness jobs: perturb the ROI first")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--no-warm-worker", dest="warm", action="store_false")
args = parser.parse_args()

sys.exit(
    run(
        "radsnake.jobs.casejob:process_case",
        {
            "case_id": args.case,
            "spec": json.loads(args.spec),
            "params_path": args.params,
            "qc_csv": args.qc,
            "features_csv": args.features,
            "diagnostics_csv": args.diagnostics,
            "overlay_png": args.overlay,
            "on_fail": args.on_fail,
            "tolerance": json.loads(args.tolerance),
            "resample": args.resample,
            "window": args.window,
            "perturbation": args.perturbation,
        },
        log_path=args.log,
        threads=args.threads,
        warm=args.warm,
        what=f"case {args.case}: feature extraction",
        preload=PRELOAD,
        warm_up=[WARM_UP, os.path.abspath(args.params)],
    )
)
