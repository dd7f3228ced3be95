"""The scheduler workaround: one pending wake-up per scheduler, for the pinned Snakemake."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import snakemake
from snakemake.scheduling.job_scheduler import JobScheduler

from radsnake.core.snakemake_fixes import FIXED_VERSIONS, apply

REPO = Path(__file__).resolve().parents[1]


def test_the_pinned_snakemake_is_one_the_fix_was_checked_against():
    pins = dict(
        line.split("==") for line in (REPO / "envs" / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["snakemake"] in FIXED_VERSIONS
    assert snakemake.__version__ in FIXED_VERSIONS


def test_other_versions_are_left_alone():
    assert apply("0.0.1") is False


def test_repeated_reevaluations_keep_one_pending_timer():
    assert apply(snakemake.__version__)
    scheduler = JobScheduler.__new__(JobScheduler)  # only the semaphore is needed
    scheduler._open_jobs = threading.Semaphore(0)
    before = threading.active_count()
    for _ in range(50):
        scheduler._schedule_reevalutation(0.2)
    assert threading.active_count() - before == 1
    assert scheduler._radsnake_timer.daemon
    assert scheduler._open_jobs.acquire(timeout=5)
    # One wake-up only, and afterwards the next pass may arm a new timer.
    assert not scheduler._open_jobs.acquire(timeout=0.5)
    deadline = time.monotonic() + 5
    while scheduler._radsnake_timer is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler._schedule_reevalutation(0.05)
    assert scheduler._open_jobs.acquire(timeout=5)


def test_another_snakemake_version_stops_the_workflow_in_one_line(tmp_path):
    """The documented command under a Snakemake that claims another version (set by a
    sitecustomize before the Snakefile is read): one radsnake line, no traceback, no job."""
    import os
    import subprocess
    import sys

    (tmp_path / "sitecustomize.py").write_text("import snakemake\nsnakemake.__version__ = '9.28.0'\n")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1", "--configfile", "config/demo/config.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(tmp_path)),
        timeout=300,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("radsnake: ")]
    assert lines == [
        "radsnake: Snakemake 9.28.0 is running, but radsnake is checked against Snakemake 9.27.1 only "
        "(envs/requirements.lock; its scheduler and run-log fixes, radsnake.core.snakemake_fixes, are written for "
        "that version): run `make install` and start the workflow with .venv/bin/snakemake"
    ]
    assert "Traceback" not in result.stderr and "Job stats" not in result.stdout


def test_recorded_signatures_pass_the_same_arguments():
    """remember_signatures records each input/params function's parameters once
    (Snakemake inspected them at every call); Snakemake then passes the same arguments."""
    from types import SimpleNamespace

    from snakemake.common import get_function_params, get_input_function_aux_params

    from radsnake.core.snakemake_fixes import remember_signatures

    def images(wildcards):
        return []

    def args(wildcards, output, threads=1):
        return ""

    candidates = {"input": 1, "output": 2, "threads": 3, "resources": 4}
    before = {f: get_input_function_aux_params(f, candidates) for f in (images, args)}
    rule = SimpleNamespace(input=[images], output=[], log=[], params=[args, "text"], resources={})
    assert remember_signatures([rule, rule]) == 2
    assert list(get_function_params(args)) == ["wildcards", "output", "threads"]
    assert {f: get_input_function_aux_params(f, candidates) for f in (images, args)} == before
    assert before[args] == {"output": 2, "threads": 3}
