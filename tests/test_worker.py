"""The warm worker: same bytes as a job in its own process, errors reach the job, and a
killed job takes its child with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radsnake import worker
from radsnake.demo import make_case

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "extract_features.py"
QC_SCRIPT = REPO / "scripts" / "qc_case.py"
PARAMS = REPO / "config" / "pyradiomics" / "original.yaml"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("worker")
    image, mask = str(folder / "image.nii.gz"), str(folder / "mask.nii.gz")
    make_case("c1", label=1, center="A", seed=3, image_path=image, mask_path=mask)
    return folder, image, mask


def spec(image: str, mask: str, label: int = 1) -> str:
    images = [{"name": "image", "column": "image", "path": image, "series_uid": None, "series_description": None}]
    return json.dumps({"images": images, "mask": mask, "label": label, "roi": None, "segment": None, "prefix": False})


def check(folder: Path, image: str, mask: str, name: str, *extra: str, label: int = 1):
    """The case's QC job (scripts/qc_case.py, also run through the worker)."""
    command = [sys.executable, str(QC_SCRIPT), "--case", "c1", "--spec", spec(image, mask, label)]
    command += ["--qc", str(folder / f"{name}_qc.csv"), "--on-fail", "stop"]
    command += ["--tolerance", "{}", "--log", str(folder / f"{name}_qc.log")]
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=300)


def overlay(folder: Path, image: str, mask: str, name: str, *extra: str):
    """The case's overlay job (scripts/qc_case.py --overlay) for the QC row `name`."""
    command = [sys.executable, str(QC_SCRIPT), "--case", "c1", "--spec", spec(image, mask)]
    command += ["--qc", str(folder / f"{name}_qc.csv"), "--overlay", str(folder / f"{name}.png")]
    command += ["--log", str(folder / f"{name}_overlay.log")]
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=300)


def extract(folder: Path, image: str, mask: str, name: str, *extra: str, label: int = 1):
    qc = folder / "qc_qc.csv"
    if not qc.exists():
        assert check(folder, image, mask, "qc", "--no-warm-worker").returncode == 0
    command = [sys.executable, str(SCRIPT), "--case", "c1", "--spec", spec(image, mask, label), "--qc", str(qc)]
    command += ["--params", str(PARAMS), "--log", str(folder / f"{name}.log")]
    command += ["--features", str(folder / f"{name}.csv"), "--diagnostics", str(folder / f"{name}_diag.csv")]
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=300)


def test_warm_worker_gives_the_same_bytes_as_its_own_process(case):
    folder, image, mask = case
    cold = extract(folder, image, mask, "cold", "--no-warm-worker")
    warm = extract(folder, image, mask, "warm")
    again = extract(folder, image, mask, "again")
    assert cold.returncode == warm.returncode == again.returncode == 0, warm.stderr
    assert (folder / "warm.csv").read_bytes() == (folder / "cold.csv").read_bytes()
    assert (folder / "again.csv").read_bytes() == (folder / "cold.csv").read_bytes()
    assert (folder / "warm_diag.csv").read_bytes() == (folder / "cold_diag.csv").read_bytes()
    assert os.path.exists(worker.socket_path()), "no warm worker is listening"
    assert "features" in (folder / "warm.log").read_text()


def test_input_error_reaches_the_job_from_the_worker(case):
    folder, image, mask = case
    result = check(folder, image, mask, "bad", label=7)
    assert result.returncode == 1
    assert "case c1" in result.stderr and "label 7" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "bad_qc.csv").exists()
    assert "label 7" in (folder / "bad_qc.log").read_text()


def test_qc_in_the_worker_gives_the_same_bytes(case):
    folder, image, mask = case
    cold = check(folder, image, mask, "qc_cold", "--no-warm-worker")
    warm = check(folder, image, mask, "qc_warm")
    assert cold.returncode == warm.returncode == 0, warm.stderr
    assert (folder / "qc_warm_qc.csv").read_bytes() == (folder / "qc_cold_qc.csv").read_bytes()
    cold = overlay(folder, image, mask, "qc_cold", "--no-warm-worker")
    warm = overlay(folder, image, mask, "qc_warm")
    assert cold.returncode == warm.returncode == 0, warm.stderr
    assert (folder / "qc_warm.png").stat().st_size > 10_000
    assert (folder / "qc_warm.png").read_bytes() == (folder / "qc_cold.png").read_bytes()


def test_worker_is_not_used_inside_a_cluster_job(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    assert not worker.warm_worker_allowed()
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv("RADSNAKE_WORKER", "0")
    assert not worker.warm_worker_allowed()


def test_killing_a_job_ends_its_child_in_the_worker(tmp_path):
    pid_file = tmp_path / "child.pid"
    client = (
        "import sys; sys.path.insert(0, sys.argv[1]); from radsnake.worker import run; "
        "run('subprocess:call', {'args': ['sh', '-c', 'echo $PPID > ' + sys.argv[2] + '; sleep 60']}, sys.argv[3])"
    )
    job = subprocess.Popen(
        [sys.executable, "-c", client, str(REPO / "scripts"), str(pid_file), str(tmp_path / "job.log")]
    )
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the job never started in the worker"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert child != job.pid, "the job ran in its own process, not in the worker"
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    deadline = time.monotonic() + 30
    while alive(child):
        assert time.monotonic() < deadline, f"worker child {child} outlived its killed job"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
