"""All five benchmarks, one after another (never in parallel: they would time each other).

--cases is the extraction cohort size (200 for the full run); the other benchmarks scale
with it, so `--cases 20` is a smoke run of everything in a few minutes:

| benchmark | full (--cases 200) | scaled by s = cases / 200 |
|---|---|---|
| extraction | 200 cases, CT preset and defaults | cases |
| planning | 1,000 and 10,000 cases, 3 repeats | 1000 s and 10000 s (at least 10), 1 repeat when s < 1 |
| modelling | 250 / 500 / 1000 cases x 500 / 1500 features | when s < 1, one size: 500 s cases (at least 60) x 1500 s features |
| memory | 10,000 cases x 1,500 features | 10000 s x 1500 s (at least 50 x 20) |
| warm worker | 50 demo cases, with and without, 3 repeats each | 50 s cases (at least 10), 1 repeat when s < 1 |

The output also goes to <workdir>/run_all.log; each benchmark leaves a JSON of its numbers.

    python bench/run_all.py --cases 200 --cores 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import benchlib

HERE = Path(__file__).resolve().parent


def commands(cases: int, cores: int, workdir: Path) -> dict[str, list[str]]:
    scale = cases / 200
    common = ["--workdir", str(workdir)]
    if scale >= 1:
        planning = ["--cases", str(round(1000 * scale)), str(round(10000 * scale)), "--repeats", "3"]
        modelling = ["--cases", *(str(round(c * scale)) for c in (250, 500, 1000)),
                     "--features", *(str(round(f * scale)) for f in (500, 1500))]
    else:
        planning = ["--cases", str(max(10, round(1000 * scale))), str(max(10, round(10000 * scale))),
                    "--repeats", "1"]
        # One size only: tuning the four models with their default grids is the slow part.
        modelling = ["--cases", str(max(60, round(500 * scale))), "--features", str(max(20, round(1500 * scale)))]
    memory = ["--cases", str(max(50, round(10000 * scale))), "--features", str(max(20, round(1500 * scale)))]
    warm_worker = ["--cases", str(max(10, round(50 * scale))), "--repeats", "3" if scale >= 1 else "1"]
    scripts = {
        "extraction": ["extraction.py", "--cases", str(cases), "--cores", str(cores)],
        "planning": ["planning.py", *planning],
        "modelling": ["modelling.py", *modelling, "--cores", str(cores)],
        "memory": ["memory.py", *memory],
        "worker": ["worker.py", *warm_worker, "--cores", str(cores)],
    }
    return {name: [benchlib.PYTHON, str(HERE / script), *rest, *common] for name, (script, *rest) in scripts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=["extraction", "planning", "modelling", "memory", "worker"])
    parser.add_argument("--workdir", type=Path, default=benchlib.DEFAULT_WORKDIR)
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    failed = []
    with open(workdir / "run_all.log", "w") as log:
        for name, cmd in commands(args.cases, args.cores, workdir).items():
            if args.only and name not in args.only:
                continue
            header = f"\n######## {name}: {' '.join(cmd)}\n"
            print(header, flush=True)
            log.write(header)
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                log.write(line)
                log.flush()
            if proc.wait() != 0:
                failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall benchmarks done; log in {workdir / 'run_all.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
