"""Does the warm worker pay? The workflow with and without it, on the same cases.

Same demo-size cases (radsnake.imaging.demo, 64 x 64 x 32 voxels, the demo's params), same
N: `snakemake --cores N results/features.csv` (one extract_features job per case, then
aggregation) with `resources.warm_worker: true` and `false`. Runs are
interleaved (warm, cold, cold, warm, ...) so that load from other work hits both sides
alike. Each run starts from an empty study folder, so a warm run starts its own worker
(private to the study folder) inside the timed run. CPU time counts the detached
worker too. Prints wall and CPU time per run, the medians and the ratios
no worker / warm worker, and checks that every run writes the same feature table.

With --whole-study the runs go on past the features to the study's end (the default
target: split, selection, the tuned models, evaluation, figures, provenance; internal
validation off), where most jobs are rule scripts, and every run's tables (all CSV files
under results/) are compared.

    python bench/worker.py --cases 50 --repeats 3 --cores 2
    python bench/worker.py --cases 40 --repeats 2 --cores 2 --whole-study
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import benchlib
from benchlib import say
from extraction import detached_cpu_seconds

DEMO_PARAMS = benchlib.REPO / "config" / "pyradiomics" / "demo.yaml"


def run_study(cohort: Path, sheet_rows, study: Path, cores: int, warm: bool, params: Path, whole: bool) -> dict:
    if study.exists():
        shutil.rmtree(study)
    benchlib.write_study_config(study, {
        "cohort": "config/cohort.csv",
        "demo": {"enabled": False},
        "clinical": {},
        "pyradiomics": {"params": str(params)},
        "resources": {"warm_worker": warm},
        **({"validation": {"enabled": False}, "split": {"method": "random", "test_fraction": 0.3}} if whole else {}),
    })
    sheet_rows.to_csv(study / "config" / "cohort.csv", index=False)
    env = benchlib.env_for_runs()
    cmd = benchlib.study_command(study, cores, *([] if whole else ["results/features.csv"]))
    timing = benchlib.run_timed(cmd, cwd=benchlib.REPO, log_dir=study, env=env, label="warm" if warm else "cold")
    worker_cpu = 0.0
    if warm:
        # The worker is detached (its own session): wait4 does not count it; read /proc.
        time.sleep(2.5)
        worker_cpu = detached_cpu_seconds(str(study))
    timing["cpu_waited_s"] = timing["cpu_s"]
    timing["cpu_worker_s"] = worker_cpu
    timing["cpu_s"] += worker_cpu
    results = study / "results"
    tables = sorted(results.rglob("*.csv")) if whole else [results / "features.csv"]
    timing["table"] = b"".join(str(path.relative_to(results)).encode() + path.read_bytes() for path in tables)
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--params", type=Path, default=DEMO_PARAMS)
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    parser.add_argument("--whole-study", action="store_true", help="run to the study's end, not only the features")
    args = parser.parse_args()
    workdir = args.workdir.resolve()

    from radsnake.imaging.demo import make_cohort

    benchlib.print_machine()
    cohort = workdir / f"demo-cohort-{args.cases}"
    say(f"generating {args.cases} demo cases in {cohort} ...")
    sheet = make_cohort(str(cohort / "images"), n_cases=args.cases, seed=11)
    sheet = sheet[["case_id", "image", "mask", "label", "center"]]
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for repeat in range(args.repeats):
        order = (True, False) if repeat % 2 == 0 else (False, True)
        for warm in order:
            name = f"worker-{'whole-' if args.whole_study else ''}{'warm' if warm else 'cold'}-{args.cases}-{repeat}"
            run = run_study(cohort, sheet, workdir / name, args.cores, warm, args.params.resolve(), args.whole_study)
            runs[warm].append(run)
            say(f"  repeat {repeat} {'warm' if warm else 'cold'}: wall {run['wall_s']:7.1f} s   "
                f"CPU {run['cpu_s']:7.1f} s ({run['cpu_waited_s']:.1f} waited-for + "
                f"{run['cpu_worker_s']:.1f} worker)")
    tables = {run["table"] for side in runs.values() for run in side}
    what = "all tables" if args.whole_study else "feature tables"
    say(f"{what} identical across all {2 * args.repeats} runs: {len(tables) == 1}")
    result = {"cases": args.cases, "cores": args.cores, "params": str(args.params), "whole_study": args.whole_study}
    for key in ("wall_s", "cpu_s"):
        warm = statistics.median(run[key] for run in runs[True])
        cold = statistics.median(run[key] for run in runs[False])
        result[key] = {"warm": [r[key] for r in runs[True]], "cold": [r[key] for r in runs[False]],
                       "ratio_cold_over_warm": cold / warm}
        say(f"RATIO {key[:-2]} time, no worker / warm worker (medians {cold:.1f} s / {warm:.1f} s): "
            f"{cold / warm:.2f}x; the worker saves {100 * (1 - warm / cold):.0f} %")
    path = benchlib.save_result(workdir, f"worker-{'whole-' if args.whole_study else ''}{args.cases}", result)
    say(f"numbers saved to {path}")


if __name__ == "__main__":
    main()
