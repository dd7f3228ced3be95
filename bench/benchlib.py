"""Shared helpers of the benchmark scripts: timing, load, machine description, study folders."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
PYTHON = str(BIN / "python")
SNAKEMAKE = str(BIN / "snakemake")
PYRADIOMICS = str(BIN / "pyradiomics")
SNAKEFILE = str(REPO / "Snakefile")
COHORT_SCHEMA = str(REPO / "config" / "schemas" / "cohort.schema.yaml")
DEFAULT_WORKDIR = Path(os.environ.get("TMPDIR", "/tmp")) / "radsnake-bench"

# The package the rule scripts import, for the benchmarks that call it directly.
sys.path.insert(0, str(REPO / "scripts"))


def load_average() -> str:
    """The 1/5/15-minute load, printed before every timed run: the machine is shared."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def say(message: str) -> None:
    print(message, flush=True)


def run_timed(cmd: list[str], cwd: str | Path | None = None, env: dict | None = None,
              label: str = "", quiet: bool = True, log_dir: str | Path | None = None) -> dict:
    """Run a command, return wall time, CPU time of it and its descendants, and peak RSS.

    os.wait4 gives the rusage of exactly this child (with the descendants it waited for),
    so successive runs do not see each other's peaks.
    """
    load = load_average()
    say(f"  [{label or cmd[0]}] load average before run: {load}")
    out = subprocess.DEVNULL if quiet else None
    log_path = None
    if quiet and (log_dir or cwd) is not None:
        # Workflow runs start in the clone (the documented command); their logs go to the study.
        log_path = Path(log_dir or cwd) / f"bench-{label or 'run'}.log"
        out = open(log_path, "w")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log_path is not None:
        out.close()
    if proc.returncode != 0:
        tail = log_path.read_text()[-4000:] if log_path else ""
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "load_before": load,
    }


def env_for_runs() -> dict:
    # Snakemake's hashing of job params must not depend on the process's hash salt.
    return dict(os.environ, PYTHONHASHSEED="0")


def write_study_config(study: Path, config: dict) -> None:
    """A study folder as users keep it: config.yaml at its root, the sheet in config/."""
    (study / "config").mkdir(parents=True, exist_ok=True)
    with open(study / "config.yaml", "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


def write_own_features_study(study: Path, table, labels, seed: int, cores: int, extra_config: dict | None = None) -> None:
    """A bring-your-own-feature study (docs/studies.md): ``table`` (case_id + features) as
    features_in.csv, its labels in the sheet, the schema's defaults for all else. Jobs run in
    their own processes (no warm worker), so that Snakemake's per-job benchmark files, which
    these benchmarks read, count each job's CPU time."""
    import pandas as pd

    (study / "config").mkdir(parents=True, exist_ok=True)
    table.to_csv(study / "features_in.csv", index=False)
    pd.DataFrame({"case_id": table["case_id"], "label": labels, "center": "H1"}).to_csv(
        study / "config" / "cohort.csv", index=False)
    write_study_config(study, {
        "cohort": "config/cohort.csv",
        "seed": seed,
        "demo": {"enabled": False},
        "features_table": "features_in.csv",
        "clinical": {},
        "split": {"method": "random", "test_fraction": 0.3},
        "resources": {"model_threads": cores, "warm_worker": False},
        **(extra_config or {}),
    })


def study_command(study: Path, cores, *targets: str) -> list[str]:
    """The documented command: the repository's workflow on the study's config."""
    return [SNAKEMAKE, "--cores", str(cores), *targets, "--configfile", str(study / "config.yaml")]


def save_result(workdir: Path, name: str, result: dict) -> Path:
    """Each benchmark also leaves its numbers as JSON next to its data, for the docs."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.json"
    with open(path, "w") as handle:
        json.dump({"machine": machine(), **result}, handle, indent=2)
    return path


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        with open("/etc/os-release") as handle:
            fields = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
        return fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        return platform.platform()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    names = ["snakemake", "pyradiomics", "SimpleITK", "numpy", "pandas", "scikit-learn", "scipy", "PyWavelets"]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict:
    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(ram_gib, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": _versions(),
        "date": time.strftime("%Y-%m-%d"),
    }


def print_machine() -> None:
    info = machine()
    say(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']} "
        f"(kernel {info['kernel']}), Python {info['python']}")
    say("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    say(f"date: {info['date']}; load average now: {load_average()}")

