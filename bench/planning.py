"""Planning time: `snakemake -n` of the real workflow against a trivial Snakefile.

For each size, a study with that many cases (empty placeholder image and mask files:
a dry run reads no image, but the cohort loader checks that they exist) is dry-run
with the real workflow (default target: every output of the study) and with
bench/trivial.smk (one job per case + one aggregate job), and with bench/required.smk (the
same DAG with the per-case files and per-job parts issue 16's item 1 and the standards
require: the split of the gap between the two). Each is run --repeats
times, interleaved; the median counts. Targets: the largest size under 10 s and within 1.5x of
the trivial Snakefile. The cost of reruns by content (radsnake.core.fingerprints: a stat
of every input file, and a reading of those not hashed before) is timed on its own, on
the same files: cold (no store: every file read) and warm (store present: stats
only), as a ratio to the trivial Snakefile's dry run. The placeholder files are empty,
so the cold figure is the per-file cost; reading real images adds their size at the
disk's speed (the SHA-256 speed of this machine is printed). With --profile (or when a target is missed) the real
workflow's largest dry run is profiled with cProfile and its top entries printed.

    python bench/planning.py --cases 1000 10000
"""

from __future__ import annotations

import argparse
import io
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

import benchlib
from benchlib import say

TARGET_SECONDS = 10.0
TARGET_RATIO = 1.5
TRIVIAL = benchlib.REPO / "bench" / "trivial.smk"
# The baselines: the minimal per-patient DAG (the floor), and the same DAG with the
# per-case files and per-job parts that item 1 and the standards require (bench/required.smk).
BASELINES = {"trivial": TRIVIAL, "required": benchlib.REPO / "bench" / "required.smk"}
PARAMS = benchlib.REPO / "config" / "pyradiomics" / "ct.yaml"


def make_study(workdir: Path, n_cases: int) -> Path:
    study = workdir / f"plan-{n_cases}"
    images = study / "images"
    images.mkdir(parents=True, exist_ok=True)
    ids = [f"P{i:06d}" for i in range(n_cases)]
    for case in ids:
        for role in ("image", "mask"):
            path = images / f"{case}_{role}.nii.gz"
            if not path.exists():
                path.touch()
    pd.DataFrame({
        "case_id": ids,
        "image": [f"../images/{c}_image.nii.gz" for c in ids],
        "mask": [f"../images/{c}_mask.nii.gz" for c in ids],
        "label": [i % 2 for i in range(n_cases)],
        "center": ["A" if i % 3 else "B" for i in range(n_cases)],
    }).to_csv(study / "cohort.csv", index=False)
    (study / "config").mkdir(exist_ok=True)
    (study / "cohort.csv").replace(study / "config" / "cohort.csv")
    benchlib.write_study_config(study, {
        "cohort": "config/cohort.csv",
        "demo": {"enabled": False},
        "clinical": {},
        "pyradiomics": {"params": str(PARAMS)},
    })
    return study


def dry_run_cmd(study: Path, which: str) -> list[str]:
    if which == "workflow":
        return benchlib.study_command(study, 2, "-n")
    config = ["cohort=config/cohort.csv"]
    if which == "required":
        config.append(f"params={PARAMS}")
    return [benchlib.SNAKEMAKE, "-s", str(BASELINES[which]), "-d", str(study), "--cores", "2", "-n",
            "--config", *config]


def count_jobs(log: Path) -> int:
    lines = log.read_text().splitlines()
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total" and parts[1].isdigit():
            return int(parts[1])
    return -1


def time_dry_runs(study: Path, repeats: int) -> dict:
    """Both dry runs, interleaved (workflow, trivial, workflow, ...), so that a change in
    the machine's load falls on both sides alike."""
    walls = {which: [] for which in ("workflow", *BASELINES)}
    cpus = {which: [] for which in walls}
    loads = []
    for _ in range(repeats):
        for which in walls:
            loads.append(benchlib.load_average())
            run = benchlib.run_timed(dry_run_cmd(study, which), cwd=benchlib.REPO, log_dir=study,
                                     env=benchlib.env_for_runs(), label=f"{which}-dry-run")
            walls[which].append(run["wall_s"])
            cpus[which].append(run["cpu_s"])
    return {
        which: {"walls_s": runs, "median_s": statistics.median(runs), "median_cpu_s": statistics.median(cpus[which]),
                "jobs": count_jobs(study / f"bench-{which}-dry-run.log"), "loads_before": loads}
        for which, runs in walls.items()
    }


def time_fingerprints(study: Path, repeats: int) -> dict:
    """The content-rerun mechanism's own planning cost, as rules/common.smk spends it."""
    from radsnake.core.fingerprints import Fingerprints

    sheet = pd.read_csv(study / "config" / "cohort.csv")
    folder = study / "config"
    cases = [[str(folder / image), str(folder / mask)] for image, mask in zip(sheet["image"], sheet["mask"])]
    store = study / "bench-fingerprints.json"

    def plan() -> float:
        start = time.perf_counter()
        fingerprints = Fingerprints(str(store))
        fingerprints.update(path for files in cases for path in files)
        fingerprints.save()
        for files in cases:
            fingerprints.of(files)
        return time.perf_counter() - start

    cold, warm = [], []
    for _ in range(repeats):
        store.unlink(missing_ok=True)
        cold.append(plan())
        warm.append(plan())
    return {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm), "files": 2 * len(cases)}


def sha256_speed(size_mb: int = 256) -> float:
    """MB/s of hashlib's SHA-256 on this machine (memory, not disk)."""
    import hashlib

    block = b"\x5a" * (1 << 20)
    digest = hashlib.sha256()
    start = time.perf_counter()
    for _ in range(size_mb):
        digest.update(block)
    return size_mb / (time.perf_counter() - start)


def profile_dry_run(study: Path, top: int = 30) -> str:
    """cProfile of one real dry run, in a child process; returns the top cumulative/own-time entries."""
    out = study / "dry-run.prof"
    code = (
        "import cProfile, sys\n"
        "from snakemake.cli import main\n"
        f"sys.argv = {['snakemake', *dry_run_cmd(study, 'workflow')[1:]]!r}\n"
        f"cProfile.run('main()', {str(out)!r})\n"
    )
    say(f"  profiling the real workflow's dry run (load before: {benchlib.load_average()}) ...")
    subprocess.run([benchlib.PYTHON, "-c", code], cwd=benchlib.REPO, env=benchlib.env_for_runs(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile the largest real dry run anyway")
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    args = parser.parse_args()
    workdir = args.workdir.resolve()

    benchlib.print_machine()
    say(f"SHA-256 on this machine: {sha256_speed():.0f} MB/s (reruns by content read each new input file once)")
    results = []
    for n in sorted(args.cases):
        say(f"\n== planning (snakemake -n), {n} cases")
        start = time.perf_counter()
        study = make_study(workdir, n)
        say(f"  study with placeholder files ready in {time.perf_counter() - start:.1f} s: {study}")
        timed = time_dry_runs(study, args.repeats)
        real, trivial, required = timed["workflow"], timed["trivial"], timed["required"]
        ratio = real["median_s"] / trivial["median_s"]
        for which, side in timed.items():
            say(f"  {which + ':':9} {side['jobs']} jobs, dry runs {', '.join(f'{w:.2f}' for w in side['walls_s'])} s "
                f"(median {side['median_s']:.2f} s, CPU {side['median_cpu_s']:.2f} s)")
        say(f"  required / trivial: {required['median_s'] / trivial['median_s']:.2f}x wall (what item 1 and the "
            f"standards add per case); workflow / required: {real['median_s'] / required['median_s']:.2f}x wall "
            f"(radsnake's own cost beyond them)")
        say(f"  CPU time (median): workflow {real['median_cpu_s']:.2f} s, trivial {trivial['median_cpu_s']:.2f} s, "
            f"ratio {real['median_cpu_s'] / trivial['median_cpu_s']:.2f}x")
        say(f"  RATIO workflow / trivial: {ratio:.2f}x (target <= {TARGET_RATIO}x); load before each run: "
            f"{'; '.join(real['loads_before'])}")
        content = time_fingerprints(study, args.repeats)
        content["cold_ratio"] = content["cold_s"] / trivial["median_s"]
        content["warm_ratio"] = content["warm_s"] / trivial["median_s"]
        say(f"  reruns by content, {content['files']} input files: first planning (every file read) "
            f"{content['cold_s']:.2f} s = {content['cold_ratio']:.2f}x the trivial dry run; later plannings "
            f"(stats only) {content['warm_s']:.2f} s = {content['warm_ratio']:.2f}x")
        results.append({"cases": n, "workflow": real, "trivial": trivial, "required": required, "ratio": ratio,
                        "content_reruns": content})

    largest = results[-1]
    met_time = largest["workflow"]["median_s"] < TARGET_SECONDS
    met_ratio = largest["ratio"] <= TARGET_RATIO
    say(f"\nlargest size {largest['cases']} cases: workflow dry run {largest['workflow']['median_s']:.2f} s "
        f"(target < {TARGET_SECONDS:.0f} s: {'met' if met_time else 'MISSED'}), "
        f"{largest['ratio']:.2f}x the trivial Snakefile (target <= {TARGET_RATIO}x: "
        f"{'met' if met_ratio else 'MISSED'})")
    profile = ""
    summary = {"runs": results, "met_time": met_time, "met_ratio": met_ratio}
    benchlib.save_result(workdir, "planning", summary)  # kept even if the profiling below is cut short
    if args.profile or not (met_time and met_ratio):
        profile = profile_dry_run(workdir / f"plan-{largest['cases']}")
        say(profile)
    path = benchlib.save_result(workdir, "planning", {**summary, "profile": profile})
    say(f"numbers saved to {path}")


if __name__ == "__main__":
    sys.exit(main())
