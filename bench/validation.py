"""Validation at real size: bring-your-own-feature studies run end to end at schema defaults.

Each table of bench/feature_tables.py (by default issue 16's four sizes) becomes a study
folder with nothing but its inputs in the config, so everything else is the schema's
default: the default selection, all four default models, the model comparison's two
alternative selections, internal validation (10 x 5 CV, nested CV, the bootstrap, the
learning curves) and the leakage negative control (turned on). The documented command
runs the whole study (`snakemake --cores N --configfile study/config.yaml`), and the
bench prints

* the run's wall time, CPU time (all processes) and the load average before and after
  (the machine may be shared: CPU time is the steadier figure);
* wall and CPU seconds per rule (Snakemake's benchmark files, summed over its jobs);
* the internal validation's CPU seconds per model and per design, from the timings the
  validate_chunk jobs log (the selection steps, shared by the models, counted apart).

    python bench/validation.py                      # 70x280 93x105 173x105 180x1500
    python bench/validation.py --sizes 173x105 --cores 2
    python bench/validation.py --as-users-run       # the schema's resources too

By default the jobs run in their own processes (no warm worker), so that the benchmark
files count each job's CPU time. --as-users-run keeps the schema's resources as well
(warm worker on, one thread per tuning job): the run's wall time is then what a user
waits; the per-rule CPU seconds and the run's CPU time then miss the worker's children.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

import benchlib
from benchlib import say
from feature_tables import SIZES, parse_size, write_study

STAGES = ["repeated_cv", "nested_cv", "apparent", "bootstrap", "learning_curve"]


def rule_times(study: Path) -> pd.DataFrame:
    """Wall and CPU seconds per rule, summed over its jobs (benchmarks/<rule>[/...].tsv)."""
    rows = []
    for path in sorted((study / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(study / "benchmarks").parts[0].removesuffix(".tsv")
        bench = pd.read_csv(path, sep="\t")
        rows.append({"rule": rule, "jobs": 1, "wall_s": float(bench["s"].iloc[0]),
                     "cpu_s": float(bench["cpu_time"].iloc[0])})
    table = pd.DataFrame(rows, columns=["rule", "jobs", "wall_s", "cpu_s"])
    return table.groupby("rule", as_index=False).sum().sort_values("cpu_s", ascending=False)


def validation_times(study: Path) -> pd.DataFrame:
    """CPU seconds of the validation fits, model x design (logs/validate_chunk/*.timings.csv)."""
    frames = [pd.read_csv(path) for path in sorted((study / "logs" / "validate_chunk").glob("*.timings.csv"))]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames).pivot_table(index="model", columns="stage", values="cpu_s", aggfunc="sum", fill_value=0)
    table = table[[stage for stage in STAGES if stage in table.columns]]
    table["total"] = table.sum(axis=1)
    return table


def run_size(workdir: Path, n_cases: int, n_features: int, seed: int, cores: int, as_users_run: bool = False) -> dict:
    study = workdir / f"validation-{n_cases}x{n_features}"
    if study.exists():
        shutil.rmtree(study)
    write_study(study, n_cases, n_features, seed, cores, {"resources": {}} if as_users_run else None)
    run = benchlib.run_timed(benchlib.study_command(study, cores), cwd=benchlib.REPO, log_dir=study,
                             env=benchlib.env_for_runs(), label="study")
    run["load_after"] = benchlib.load_average()
    rules, stages = rule_times(study), validation_times(study)
    how = ", as users run it (warm worker)" if as_users_run else ""
    say(f"\n== {n_cases} cases x {n_features} features, --cores {cores}{how}: wall {run['wall_s']:.0f} s, "
        f"CPU {run['cpu_s']:.0f} s (load before {run['load_before']}, after {run['load_after']})")
    say("per rule (summed over its jobs):\n" + rules.to_string(index=False, float_format="%.1f"))
    if not stages.empty:
        say("internal validation, CPU s per model and design:\n" + stages.to_string(float_format="%.1f"))
    return {"cases": n_cases, "features": n_features, "cores": cores, "as_users_run": as_users_run, **run,
            "rules": rules.to_dict(orient="records"),
            "validation_cpu_s": stages.reset_index().to_dict(orient="records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=list(SIZES), help="e.g. 173x105")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    parser.add_argument("--as-users-run", action="store_true",
                        help="keep the schema's resources (warm worker, one thread per tuning job)")
    args = parser.parse_args()
    benchlib.print_machine()
    results = []
    for n_cases, n_features in args.sizes:
        results.append(run_size(args.workdir.resolve(), n_cases, n_features, args.seed, args.cores,
                                args.as_users_run))
        benchlib.save_result(args.workdir.resolve(), "validation", {"runs": results})
    say("\ncases  features  wall (s)  CPU (s)  load before -> after")
    for r in results:
        say(f"{r['cases']:5d}  {r['features']:8d}  {r['wall_s']:8.0f}  {r['cpu_s']:7.0f}  "
            f"{r['load_before']} -> {r['load_after']}")


if __name__ == "__main__":
    main()
