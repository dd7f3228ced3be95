"""Extraction throughput: the workflow against PyRadiomics' own batch CLI.

Same cases (bench/make_ct_cohort.py), same params, same parallelism N: the workflow's
`snakemake --cores N results/features.csv` (one job per case, then aggregation) against
`pyradiomics cases.csv -o out.csv -f csv -j N --param params.yaml`. Also timed: a
minimal process-pool script (bench/pool_extract.py), because the CLI's busy-wait costs
it a core. Then, for the first --floor-cases cases, bench/case_floor.py: the case
job's own work against PyRadiomics' execute in one process, the floor of the
workflow / pool ratio. The sides run interleaved, --repeats times. Prints wall and CPU times, the
ratios of the medians, the targets, and the largest difference between the
workflow's and the others' feature values.

    python bench/extraction.py --cases 200 --cores 2 --presets ct defaults --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

import benchlib
from benchlib import say
from make_ct_cohort import make_cohort

PRESETS = {
    "ct": benchlib.REPO / "config" / "pyradiomics" / "ct.yaml",
    "defaults": benchlib.REPO / "bench" / "params_defaults.yaml",
}
# Issue 16: at most the CLI's wall time, and at most 1.10x a plain process pool's.
TARGETS = {"ct": 1.0, "defaults": 1.0}
POOL_TARGET = 1.10
try:
    from radsnake.io.cohort_sheet import PROVENANCE_PREFIX
except ImportError:  # a workflow version without provenance columns
    PROVENANCE_PREFIX = "source_"
TOLERANCE = 1e-9


def check_defaults_file() -> None:
    """params_defaults.yaml must load to PyRadiomics' defaults; say whether original.yaml does."""
    from radiomics import featureextractor

    defaults = featureextractor.RadiomicsFeatureExtractor()

    def same(path: Path) -> bool:
        loaded = featureextractor.RadiomicsFeatureExtractor(str(path))
        # None and [] both mean "every feature of the class".
        features = {k: v or [] for k, v in loaded.enabledFeatures.items()}
        return (loaded.settings == defaults.settings and loaded.enabledImagetypes == defaults.enabledImagetypes
                and features == {k: v or [] for k, v in defaults.enabledFeatures.items()})

    if not same(PRESETS["defaults"]):
        raise SystemExit(f"{PRESETS['defaults']} no longer loads to PyRadiomics' default settings; fix it.")
    original = benchlib.REPO / "config" / "pyradiomics" / "original.yaml"
    say(f"config/pyradiomics/original.yaml equals PyRadiomics' defaults: {same(original)} "
        f"(the defaults run uses {PRESETS['defaults'].relative_to(benchlib.REPO)})")


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_workflow(manifest: pd.DataFrame, params: Path, cores: int, study: Path) -> dict:
    fresh_dir(study)
    sheet = manifest[["case_id", "image", "mask", "label"]]
    benchlib.write_study_config(study, {
        "cohort": "config/cohort.csv",
        "demo": {"enabled": False},
        "clinical": {},
        "pyradiomics": {"params": str(params)},
    })
    sheet.to_csv(study / "config" / "cohort.csv", index=False)
    cmd = benchlib.study_command(study, cores, "results/features.csv")
    # The warm worker (radsnake.core.worker) is private to the study folder, which is new: it starts
    # cold inside the timed run, never one left warm by an earlier run.
    timing = benchlib.run_timed(cmd, cwd=benchlib.REPO, log_dir=study, env=benchlib.env_for_runs(), label="workflow")
    # The worker is detached (its own session), so wait4 does not count its CPU; read it from /proc.
    time.sleep(2.5)  # the worker reaps finished children about once a second
    worker_cpu = detached_cpu_seconds(str(study))
    timing["cpu_waited_s"] = timing["cpu_s"]
    timing["cpu_worker_s"] = worker_cpu
    timing["cpu_s"] += worker_cpu
    table = pd.read_csv(study / "results" / "features.csv", dtype={"case_id": str}).set_index("case_id")
    # Outcome and provenance columns (source image/mask, hashes) are not features.
    meta = [c for c in table.columns if c in ("label", "center") or c.startswith(PROVENANCE_PREFIX)]
    return {**timing, "table": table.drop(columns=meta)}


def detached_cpu_seconds(marker: str) -> float:
    """CPU (own + reaped children) of the live processes whose command line names marker."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker not in (entry / "cmdline").read_bytes().decode(errors="replace"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of /proc/PID/stat
        total += sum(int(v) for v in fields[11:15]) / ticks
    return total


def write_cli_cases(manifest: pd.DataFrame, folder: Path) -> Path:
    path = folder / "cases.csv"
    pd.DataFrame({"Image": manifest["image"], "Mask": manifest["mask"], "Label": 1}).to_csv(path, index=False)
    return path


def read_batch_output(path: Path, manifest: pd.DataFrame) -> pd.DataFrame:
    """The features of a CLI-style table (Image, Mask, Label, diagnostics, features) by case id."""
    table = pd.read_csv(path)
    ids = dict(zip(manifest["image"], manifest["case_id"]))
    table.index = pd.Index([ids[p] for p in table["Image"]], name="case_id")
    keep = [c for c in table.columns if c not in ("Image", "Mask", "Label") and not c.startswith("diagnostics_")]
    return table[keep].astype(np.float64)


def run_cli(manifest: pd.DataFrame, params: Path, cores: int, folder: Path) -> dict:
    fresh_dir(folder)
    cases = write_cli_cases(manifest, folder)
    cmd = [benchlib.PYRADIOMICS, str(cases), "-o", str(folder / "out.csv"), "-f", "csv", "-j", str(cores),
           "--param", str(params)]
    timing = benchlib.run_timed(cmd, cwd=folder, label="pyradiomics-cli")
    return {**timing, "table": read_batch_output(folder / "out.csv", manifest)}


def run_pool(manifest: pd.DataFrame, params: Path, cores: int, folder: Path) -> dict:
    fresh_dir(folder)
    cases = write_cli_cases(manifest, folder)
    cmd = [benchlib.PYTHON, str(benchlib.REPO / "bench" / "pool_extract.py"), str(cases), str(params), str(cores),
           str(folder / "out.csv")]
    timing = benchlib.run_timed(cmd, cwd=folder, label="process-pool")
    return {**timing, "table": read_batch_output(folder / "out.csv", manifest)}


def compare(workflow: pd.DataFrame, other: pd.DataFrame) -> dict:
    """Largest relative difference over every shared case and feature (relative to max(1, |x|))."""
    only_workflow = sorted(set(workflow.columns) - set(other.columns))
    only_other = sorted(set(other.columns) - set(workflow.columns))
    cases = sorted(set(workflow.index) & set(other.index))
    columns = [c for c in workflow.columns if c in other.columns]
    a = workflow.loc[cases, columns].to_numpy(np.float64)
    b = other.loc[cases, columns].to_numpy(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    diff = np.where(both_nan, 0.0, np.abs(a - b) / scale)
    worst = np.unravel_index(np.nanargmax(np.nan_to_num(diff, nan=np.inf)), diff.shape) if diff.size else None
    return {
        "cases": len(cases),
        "features": len(columns),
        "only_workflow": only_workflow,
        "only_other": only_other,
        "max_rel_diff": float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else float("nan"),
        "worst": f"{cases[worst[0]]} {columns[worst[1]]}" if worst else "",
    }


def bench_preset(name: str, manifest: pd.DataFrame, cores: int, workdir: Path, pool: bool, repeats: int = 1,
                 floor_cases: int = 0) -> dict:
    """The sides run back to back, interleaved (workflow, CLI, pool; then CLI, pool,
    workflow; ...), --repeats times; the ratios are of the medians."""
    params = PRESETS[name]
    n = len(manifest)
    say(f"\n== extraction, preset {name} ({params.relative_to(benchlib.REPO)}), {n} cases, N = {cores}, "
        f"{repeats} interleaved repeat(s)")
    sides = {"workflow": lambda: run_workflow(manifest, params, cores, workdir / f"study-{name}-{n}"),
             "cli": lambda: run_cli(manifest, params, cores, workdir / f"cli-{name}-{n}")}
    if pool:
        sides["pool"] = lambda: run_pool(manifest, params, cores, workdir / f"pool-{name}-{n}")
    order = list(sides)
    runs: dict[str, list[dict]] = {key: [] for key in sides}
    for repeat in range(repeats):
        for key in order[repeat % len(order):] + order[:repeat % len(order)]:
            run = sides[key]()
            runs[key].append(run)
            say(f"  {key:9s} wall {run['wall_s']:8.1f} s   CPU {run['cpu_s']:8.1f} s   "
                f"({n / run['wall_s']:.2f} cases/s; load before {run['load_before']})")
            if "cpu_worker_s" in run:
                say(f"            (CPU: {run['cpu_waited_s']:.1f} s in processes Snakemake waited for + "
                    f"{run['cpu_worker_s']:.1f} s in the warm extraction worker)")
    result = {"preset": name, "cases": n, "cores": cores, "target": TARGETS[name], "repeats": repeats}
    median = {key: {m: statistics.median(r[m] for r in rs) for m in ("wall_s", "cpu_s")} for key, rs in runs.items()}
    for key, rs in runs.items():
        result[key] = {"runs": [{k: v for k, v in r.items() if k != "table"} for r in rs], "median": median[key]}
    for key in runs:
        if key == "workflow":
            continue
        check = compare(runs["workflow"][-1]["table"], runs[key][-1]["table"])
        result[f"values_vs_{key}"] = check
        say(f"  values workflow vs {key}: {check['cases']} cases x {check['features']} features, "
            f"max relative difference {check['max_rel_diff']:.3g}"
            f"{' (at ' + check['worst'] + ')' if check['max_rel_diff'] > 0 else ''}; "
            f"columns only in workflow: {len(check['only_workflow'])}, only in {key}: {len(check['only_other'])}")
        if check["max_rel_diff"] > TOLERANCE or check["only_workflow"] or check["only_other"]:
            say(f"  WARNING: the workflow and {key} do not compute the same features; the timing is not a fair "
                "comparison")
    ratio = median["workflow"]["wall_s"] / median["cli"]["wall_s"]
    result["ratio_wall_vs_cli"] = ratio
    result["met"] = ratio <= TARGETS[name]
    say(f"  RATIO workflow / CLI wall time (medians): {ratio:.3f}x (target <= {TARGETS[name]}x): "
        f"{'met' if result['met'] else 'MISSED'}")
    say(f"  ratio workflow / CLI CPU time: {median['workflow']['cpu_s'] / median['cli']['cpu_s']:.3f}x")
    if pool:
        result["ratio_wall_vs_pool"] = median["workflow"]["wall_s"] / median["pool"]["wall_s"]
        result["met_pool"] = result["ratio_wall_vs_pool"] <= POOL_TARGET
        say(f"  RATIO workflow / process pool wall time (medians): {result['ratio_wall_vs_pool']:.3f}x "
            f"(target <= {POOL_TARGET}x: {'met' if result['met_pool'] else 'MISSED'}), "
            f"CPU time: {median['workflow']['cpu_s'] / median['pool']['cpu_s']:.3f}x")
    if floor_cases:
        result["case_job_floor"] = case_job_floor(manifest.head(floor_cases), params, workdir / f"floor-{name}")
    return result


def case_job_floor(manifest: pd.DataFrame, params: Path, folder: Path) -> dict:
    """bench/case_floor.py on these cases: the case job's own work against PyRadiomics'
    execute alone, in one process (no runner): the lowest workflow / pool ratio any runner
    of item 1's case job could reach."""
    fresh_dir(folder)
    cases = folder / "cases.csv"
    manifest[["case_id", "image", "mask"]].to_csv(cases, index=False)
    say(f"  case job floor, {len(manifest)} cases in one process (load before {benchlib.load_average()}) ...")
    done = subprocess.run([benchlib.PYTHON, str(benchlib.REPO / "bench" / "case_floor.py"), str(cases),
                           str(params), str(folder / "out"), "--cases", str(len(manifest))],
                          cwd=benchlib.REPO / "bench", capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench/case_floor.py failed:\n{done.stderr[-4000:]}")
    floor = json.loads(done.stdout.strip().splitlines()[-1])
    say(f"  FLOOR case job / PyRadiomics execute, CPU, one process: {floor['ratio_cpu']:.3f}x "
        f"({floor['case_job']['cpu_s']:.1f} s vs {floor['pyradiomics']['cpu_s']:.1f} s; "
        f"+{floor['extra_cpu_per_case_s']:.3f} s a case): no runner of this job is below it")
    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--cores", type=int, default=2, help="N: --cores of Snakemake, -j of the CLI")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated cohort")
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=["ct", "defaults"])
    parser.add_argument("--pool-presets", nargs="*", choices=sorted(PRESETS), default=["ct", "defaults"],
                        help="presets that also get the process-pool baseline (it costs another run)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs of each side; medians compared")
    parser.add_argument("--floor-cases", type=int, default=20,
                        help="cases for the case job's floor (bench/case_floor.py; 0: not measured)")
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()

    benchlib.print_machine()
    check_defaults_file()
    say(f"generating (or reusing) {args.cases} CT-like cases, seed {args.seed} ...")
    manifest = make_cohort(args.workdir / "ct-cohort", args.cases, args.seed, jobs=args.cores)
    sizes = manifest["roi_voxels"]
    say(f"cohort: {len(manifest)} cases, 512 x 512 x {manifest['slices'].min()}-{manifest['slices'].max()} voxels, "
        f"ROI {sizes.min()}-{sizes.max()} voxels (median {int(sizes.median())})")
    results = [bench_preset(name, manifest, args.cores, args.workdir, name in args.pool_presets, args.repeats,
                            args.floor_cases)
               for name in args.presets]
    path = benchlib.save_result(args.workdir, f"extraction-{args.cases}", {"runs": results})
    say(f"\nnumbers saved to {path}")


if __name__ == "__main__":
    main()
