"""Memory of aggregation: peak RSS of radsnake.jobs.aggregate.aggregate_features.

Writes N one-row feature CSVs like results/features/{case}.csv (header
`case_id,<features...>`, floats at full precision) and a cohort sheet, then runs the
aggregation in a child process and reads that child's peak RSS (os.wait4). A second
child only imports what the aggregation imports: the interpreter + imports baseline.
The final table's in-memory size is that of results/features.csv read back with
pandas. Target: peak RSS <= 2x the table. With --explain (or when the target is
missed) a third child runs the aggregation's steps one by one and prints the RSS
after each, to show where the memory goes.

    python bench/memory.py --cases 10000 --features 1500
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

import benchlib
from benchlib import say

TARGET_RATIO = 2.0

IMPORTS = (
    "import sys\n"
    f"sys.path.insert(0, {str(benchlib.REPO / 'scripts')!r})\n"
    "from radsnake.imaging.aggregate import aggregate_features\n"
)

# Samples the RSS every 20 ms while the real aggregate_features runs, with the radsnake /
# pandas frames on the main thread's stack: the samples of highest RSS say which step holds
# the memory, whatever the aggregation's internals are today.
EXPLAIN = """
import json, os, sys, threading, time
def rss_mb():
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["VmRSS"].split()[0]) / 1024
print(f"after interpreter start: RSS {rss_mb():.1f} MB", flush=True)
import numpy, pandas
print(f"after numpy + pandas: RSS {rss_mb():.1f} MB", flush=True)
""" + IMPORTS + """
print(f"after importing radsnake.imaging.aggregate: RSS {rss_mb():.1f} MB", flush=True)
job = json.load(open(sys.argv[1]))
main_id = threading.get_ident()
samples, done = [], threading.Event()
def where():
    frame, names, pandas_frames = sys._current_frames().get(main_id), [], 0
    while frame is not None:
        path = frame.f_code.co_filename
        if "radsnake" in path or ("pandas" in path and pandas_frames < 2):
            pandas_frames += "radsnake" not in path
            names.append(f"{os.path.basename(path)}:{frame.f_code.co_name}")
        frame = frame.f_back
    return " < ".join(names)
def sample():
    start = time.monotonic()
    while not done.is_set():
        samples.append((rss_mb(), time.monotonic() - start, where()))
        time.sleep(0.02)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
aggregate_features(job["files"], job["sheet"], job["schema"], {}, job["out"])
done.set()
thread.join()
peak = max(samples)
print(f"peak sampled RSS {peak[0]:.1f} MB at {peak[1]:.1f} s, in: {peak[2] or '(outside radsnake/pandas)'}")
best = {}
for mb, _, stack in samples:
    key = stack.split(" < ")[0] if stack else "(other)"
    best[key] = max(best.get(key, 0), mb)
print("highest RSS seen in each innermost radsnake/pandas function:")
for key, mb in sorted(best.items(), key=lambda item: -item[1])[:8]:
    print(f"  {mb:8.1f} MB  {key}")
"""


def write_case_files(folder: Path, n_cases: int, n_features: int, seed: int) -> tuple[list[str], Path]:
    """One-row CSVs as the extraction writes them, reused when an identical set exists."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"C{i:06d}" for i in range(n_cases)]
    files = [str(folder / f"{case}.csv") for case in ids]
    stamp = folder / "done.json"
    expected = {"cases": n_cases, "features": n_features, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return files, folder / "cohort.csv"
    rng = np.random.default_rng([seed, n_cases, n_features])
    header = "case_id," + ",".join(f"original_feature_{j:05d}" for j in range(n_features)) + "\n"
    scales = 10 ** rng.uniform(-3, 5, size=n_features)
    for case, path in zip(ids, files):
        values = rng.normal(size=n_features) * scales
        with open(path, "w") as handle:
            handle.write(header + case + "," + ",".join(map(repr, values.tolist())) + "\n")
    pd.DataFrame({"case_id": ids, "label": [i % 2 for i in range(n_cases)], "center": "A"}).to_csv(
        folder / "cohort.csv", index=False)
    stamp.write_text(json.dumps(expected))
    return files, folder / "cohort.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--features", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="print RSS after each aggregation step")
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    args = parser.parse_args()
    workdir = args.workdir.resolve() / f"memory-{args.cases}x{args.features}"

    benchlib.print_machine()
    say(f"\n== memory of aggregation, {args.cases} cases x {args.features} features")
    files, sheet = write_case_files(workdir / "features", args.cases, args.features, args.seed)
    out = workdir / "features.csv"
    out.unlink(missing_ok=True)
    job = {"files": files, "sheet": str(sheet), "schema": benchlib.COHORT_SCHEMA, "out": str(out)}
    (workdir / "job.json").write_text(json.dumps(job))

    baseline = benchlib.run_timed([benchlib.PYTHON, "-c", IMPORTS], cwd=workdir, label="imports-only")
    call = IMPORTS + (
        "import json\n"
        f"job = json.load(open({str(workdir / 'job.json')!r}))\n"
        "aggregate_features(job['files'], job['sheet'], job['schema'], {}, job['out'])\n"
    )
    aggregation = benchlib.run_timed([benchlib.PYTHON, "-c", call], cwd=workdir, label="aggregate")

    table = pd.read_csv(out)
    if table.shape != (args.cases, args.features + 3):
        raise SystemExit(f"unexpected aggregated table shape {table.shape}")
    table_mb = table.memory_usage(deep=True).sum() / 2**20
    peak, base = aggregation["maxrss_mb"], baseline["maxrss_mb"]
    raw, net = peak / table_mb, (peak - base) / table_mb
    say(f"  final table in memory: {table_mb:.1f} MB ({table.shape[0]} rows x {table.shape[1]} columns)")
    say(f"  interpreter + imports baseline: peak RSS {base:.1f} MB")
    say(f"  aggregation: peak RSS {peak:.1f} MB, wall {aggregation['wall_s']:.1f} s")
    say(f"  RATIO peak RSS / table: {raw:.2f}x raw, {net:.2f}x net of the baseline (target <= {TARGET_RATIO}x): "
        f"{'met' if raw <= TARGET_RATIO else 'MISSED'} raw, {'met' if net <= TARGET_RATIO else 'MISSED'} net")
    steps = ""
    if args.explain or raw > TARGET_RATIO:
        say("  where the memory goes (RSS sampled during the aggregation, in a fresh child):")
        say(f"  [explain] load average before run: {benchlib.load_average()}")
        steps = subprocess.run([benchlib.PYTHON, "-c", EXPLAIN, str(workdir / "job.json")], cwd=workdir, check=True,
                               capture_output=True, text=True).stdout
        say("\n".join("    " + line for line in steps.splitlines()))
    path = benchlib.save_result(args.workdir.resolve(), f"memory-{args.cases}x{args.features}", {
        "cases": args.cases, "features": args.features, "table_mb": table_mb, "baseline": baseline,
        "aggregation": aggregation, "ratio_raw": raw, "ratio_net": net, "steps": steps,
    })
    say(f"numbers saved to {path}")


if __name__ == "__main__":
    main()
