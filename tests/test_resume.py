"""Kill a run with SIGKILL mid-way, rerun it, and get the bytes of an uninterrupted run.

The uninterrupted run (the reference) runs on one core, the killed and resumed run on two,
both with the warm worker (radsnake.core.worker), which the killing also hits. One
comparison so shows both: resuming loses nothing, and the core count changes no byte.
That the worker changes no byte either is shown where it is cheaper: test_slurm.py
compares a local run (jobs in the worker) with a SLURM run (the heavy jobs in their own
processes: the worker is never used inside cluster jobs), and test_worker.py compares a
case's extraction both ways."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import FAST_CONFIG, REPO, make_study, snakemake, study_command

pytestmark = pytest.mark.workflow

N_CASES = 24
# Two of the four models: a kill during modelling needs tuning jobs, not all of them.
CONFIG = {**FAST_CONFIG, "models": {**FAST_CONFIG["models"], "enabled": ["logistic", "decision_tree"]}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reference")
    make_study(workdir, N_CASES, CONFIG)
    snakemake(workdir, "--cores", "1")
    return workdir


def fresh_copy(reference: Path, workdir: Path) -> Path:
    """Same images, sheet and config as the reference study; nothing run yet."""
    for folder in ("images", "config"):
        shutil.copytree(reference / folder, workdir / folder)
    shutil.copy(reference / "config.yaml", workdir / "config.yaml")
    return workdir


def result_files(workdir: Path) -> dict[str, bytes]:
    root = workdir / "results"
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def comparable(name: str, data: bytes, workdir: Path):
    """The provenance record names the study folder and the command line (--cores 1 in the
    reference): compared without them. Every other file byte for byte."""
    if name not in ("provenance.json", "provenance.html"):
        return data
    text = data.decode().replace(str(workdir), "<study>")
    if name == "provenance.json":
        record = json.loads(text)
        assert record.pop("command_line")["argv"], "no command line recorded"
        return record
    return re.sub(r"<tr><th>command line</th>.*?</tr>", "", text)


def assert_same_results(workdir: Path, reference: Path) -> None:
    ours, theirs = result_files(workdir), result_files(reference)
    assert sorted(ours) == sorted(theirs), set(ours).symmetric_difference(theirs)
    differing = [
        name for name in theirs if comparable(name, ours[name], workdir) != comparable(name, theirs[name], reference)
    ]
    assert not differing, f"differ from the uninterrupted run: {differing}"
    assert not [name for name in ours if Path(name).name.startswith(".partial-")], "a partial file was left"


def run_until(workdir: Path, ready, what: str, timeout: float = 900) -> None:
    """Start the workflow, SIGKILL its whole process group once `ready()` holds."""
    # A killed Snakemake leaves its lock behind: --unlock is the documented first step.
    snakemake(workdir, "--unlock")
    run = subprocess.Popen(
        study_command(workdir),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONHASHSEED="0"),
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert run.poll() is None, f"the run ended before it was killed {what}"
            assert time.monotonic() < deadline, f"never reached the point to kill it {what}"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=60)


def count(folder: Path, pattern: str) -> int:
    return len(list(folder.glob(pattern))) if folder.exists() else 0


def test_killed_run_resumes_to_the_uninterrupted_results(reference, tmp_path):
    workdir = fresh_copy(reference, tmp_path)
    run_until(workdir, lambda: count(workdir / "results" / "features", "*.csv") >= N_CASES // 3, "during extraction")
    assert count(workdir / "results" / "features", "*.csv") < N_CASES
    run_until(workdir, lambda: (workdir / "logs" / "aggregate_features.log").exists(), "during aggregation")
    run_until(workdir, lambda: count(workdir / "logs" / "fit_model", "*.log") > 0, "during modelling")
    assert not (workdir / "results" / "evaluation" / "metrics.csv").exists()
    snakemake(workdir, "--unlock")
    snakemake(workdir)
    assert list((workdir / ".snakemake" / "radsnake-worker").glob("*.lock")), "no job went to the warm worker"
    assert_same_results(workdir, reference)
