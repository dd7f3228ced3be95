"""The warm worker: same bytes as a job in its own process, errors reach the job naming
the case, a killed job takes its child with it, and a killed child is reported for its
case. The worker is private to the study folder (the jobs' working directory) and keyed
by the installed distributions."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAST_CONFIG, make_study, snakemake
from radsnake.core import worker
from radsnake.imaging.demo import make_case

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "extract_features.py"
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


def extract(folder: Path, image: str, mask: str, name: str, *extra: str, label: int = 1):
    """The case's job (scripts/extract_features.py: QC row, features, diagnostics; with
    --overlay also the overlay), as the extract_features rule runs it."""
    command = [sys.executable, str(SCRIPT), "--case", "c1", "--spec", spec(image, mask, label)]
    command += ["--params", str(PARAMS), "--qc", str(folder / f"{name}_qc.csv"), "--on-fail", "stop"]
    command += ["--tolerance", "{}", "--log", str(folder / f"{name}.log")]
    command += ["--features", str(folder / f"{name}.csv"), "--diagnostics", str(folder / f"{name}_diag.csv")]
    return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=300, cwd=folder)


def sockets(folder: Path) -> list[Path]:
    return sorted((folder / ".snakemake" / "radsnake-worker").glob("*.sock"))


def test_warm_worker_gives_the_same_bytes_as_its_own_process(case):
    folder, image, mask = case
    cold = extract(folder, image, mask, "cold", "--no-warm-worker", "--overlay", str(folder / "cold.png"))
    warm = extract(folder, image, mask, "warm", "--overlay", str(folder / "warm.png"))
    again = extract(folder, image, mask, "again")
    assert cold.returncode == warm.returncode == again.returncode == 0, warm.stderr
    for suffix in (".csv", "_diag.csv", "_qc.csv"):
        assert (folder / f"warm{suffix}").read_bytes() == (folder / f"cold{suffix}").read_bytes(), suffix
        assert (folder / f"again{suffix}").read_bytes() == (folder / f"cold{suffix}").read_bytes(), suffix
    assert (folder / "warm.png").stat().st_size > 10_000
    assert (folder / "warm.png").read_bytes() == (folder / "cold.png").read_bytes()
    assert not (folder / "again.png").exists()
    # (A second one if someone installed a package meanwhile: the key follows the venv.)
    assert sockets(folder), "no warm worker is listening in the study folder"
    assert (folder / ".snakemake" / "radsnake-worker").stat().st_mode & 0o777 == 0o700
    assert "features" in (folder / "warm.log").read_text()


def test_input_error_reaches_the_job_from_the_worker(case):
    folder, image, mask = case
    result = extract(folder, image, mask, "bad", label=7)
    assert result.returncode == 1
    assert "case c1" in result.stderr and "label 7" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "bad_qc.csv").exists() and not (folder / "bad.csv").exists()
    assert "label 7" in (folder / "bad.log").read_text()


def test_worker_is_not_used_inside_a_cluster_job(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    assert not worker.warm_worker_allowed()
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv("RADSNAKE_WORKER", "0")
    assert not worker.warm_worker_allowed()


def test_killing_a_job_ends_its_child_in_the_worker(tmp_path):
    pid_file = tmp_path / "child.pid"
    client = (
        "import sys; sys.path.insert(0, sys.argv[1]); from radsnake.core.worker import run; "
        "run('subprocess:call', {'args': ['sh', '-c', 'echo $PPID > ' + sys.argv[2] + '; sleep 60']}, sys.argv[3])"
    )
    job = subprocess.Popen(
        [sys.executable, "-c", client, str(REPO / "scripts"), str(pid_file), str(tmp_path / "job.log")], cwd=tmp_path
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


def job_in_worker(folder: Path, shell: str, case: str = "c9") -> subprocess.CompletedProcess:
    """A job whose body is a shell command run by the worker's child (its parent: $PPID)."""
    client = (
        "import sys; sys.path.insert(0, sys.argv[1]); from radsnake.core.worker import run; "
        "sys.exit(run('subprocess:call', {'args': ['sh', '-c', sys.argv[2]]}, sys.argv[3], what='case ' + sys.argv[4]))"
    )
    command = [sys.executable, "-c", client, str(REPO / "scripts"), shell, str(folder / "job.log"), case]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=folder)


def test_a_killed_child_is_reported_for_its_case_and_a_killed_worker_is_replaced(tmp_path):
    # The worker: the parent of the job's child ($PPID).
    worker_pid = "awk '/^PPid/ {print $2}' /proc/$PPID/status > "
    first = job_in_worker(tmp_path, worker_pid + "before")
    assert first.returncode == 0, first.stderr
    killed = job_in_worker(tmp_path, "kill -9 $PPID")
    assert killed.returncode == 128 + signal.SIGKILL
    assert "case c9" in killed.stderr and "killed by SIGKILL" in killed.stderr, killed.stderr
    assert "out-of-memory killer" in killed.stderr
    assert "warm worker died" not in killed.stderr
    # The next job runs in the same worker.
    after = job_in_worker(tmp_path, worker_pid + "after")
    assert after.returncode == 0, after.stderr
    assert (tmp_path / "after").read_text() == (tmp_path / "before").read_text()
    worker_cmdline = Path(f"/proc/{int((tmp_path / 'after').read_text())}/cmdline").read_bytes()
    assert b"radsnake.core.worker" in worker_cmdline

    # A killed worker is replaced: the next job starts a new one and runs in it.
    os.kill(int((tmp_path / "after").read_text()), signal.SIGKILL)
    replaced = job_in_worker(tmp_path, worker_pid + "replaced")
    assert replaced.returncode == 0, replaced.stderr
    new_worker = int((tmp_path / "replaced").read_text())
    assert new_worker != int((tmp_path / "after").read_text())
    assert b"radsnake.core.worker" in Path(f"/proc/{new_worker}/cmdline").read_bytes()


def write_huge(image_path, mask_path, output: str) -> None:
    """The image as floats, its ROI's intensities multiplied by 1e12: QC passes it, and
    PyRadiomics' binning (bin width 25) needs an array of terabytes, so numpy's
    MemoryError comes at once, without using memory."""
    import numpy as np
    import SimpleITK as sitk

    image = sitk.ReadImage(str(image_path))
    values = sitk.GetArrayFromImage(image).astype(np.float32)
    values[sitk.GetArrayFromImage(sitk.ReadImage(str(mask_path))) > 0] *= 1e12
    huge = sitk.GetImageFromArray(values)
    huge.CopyInformation(image)
    sitk.WriteImage(huge, output)


def test_a_library_error_in_the_worker_names_the_case_the_file_and_the_cause(case, tmp_path):
    """A float image of intensities far beyond the params' bin width (here 1e12 x HU)
    makes PyRadiomics' binning ask for terabytes: the job says so, in one line. (An
    int8 image was the example until QC cast such images for PyRadiomics' binning.)"""
    folder, image, mask = case
    huge = str(tmp_path / "huge.nii.gz")
    write_huge(image, mask, huge)
    for name, extra in (("huge_warm", ()), ("huge_cold", ("--no-warm-worker",))):
        result = extract(folder, huge, mask, name, *extra)
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.startswith("radsnake:")]
        assert len(lines) == 1, result.stderr
        assert f"case c1: feature extraction failed on image {huge} with mask {mask}" in lines[0]
        assert "MemoryError: Unable to allocate" in lines[0]
        assert "Traceback" not in result.stderr and "warm worker died" not in result.stderr
        assert "Traceback" in (folder / f"{name}.log").read_text()
        assert not (folder / f"{name}.csv").exists()


def test_the_worker_is_private_to_its_study_folder(case, tmp_path):
    folder, image, mask = case
    for study in ("lung", "kidney"):
        (tmp_path / study).mkdir()
        assert extract(tmp_path / study, image, mask, "qc").returncode == 0
        assert sockets(tmp_path / study)
    # A worker folder that is a link, or someone else's, is not used: each job runs in
    # its own process.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    (linked / ".snakemake").mkdir(parents=True)
    (linked / ".snakemake" / "radsnake-worker").symlink_to(elsewhere)
    studies = [linked]
    if os.getuid() == 0:
        owned = tmp_path / "owned"
        (owned / ".snakemake" / "radsnake-worker").mkdir(parents=True)
        os.chown(owned / ".snakemake" / "radsnake-worker", 65534, 65534)
        studies.append(owned)
    for study in studies:
        result = extract(study, image, mask, "qc")
        assert result.returncode == 0, result.stderr
        assert "not using the warm worker" in result.stderr
        assert (study / "qc_qc.csv").read_bytes() == (tmp_path / "lung" / "qc_qc.csv").read_bytes()
    assert not list(elsewhere.iterdir())


def test_the_worker_key_follows_the_installed_distributions(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "somelib-1.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    before = worker.code_key()
    assert worker.code_key() == before
    (site / "somelib-1.0.dist-info").rename(site / "somelib-1.1.dist-info")
    assert worker.code_key() != before


def test_the_worker_key_covers_every_distribution_importlib_metadata_finds():
    from importlib.metadata import distributions

    def normal(text: str) -> str:
        return re.sub(r"[-_.]+", "_", text).lower()

    listed = normal(worker.distributions_key())
    missing = [d.metadata["Name"] for d in distributions() if normal(f"{d.metadata['Name']}-{d.version}") not in listed]
    assert not missing


def test_the_worker_key_differs_between_checkouts(tmp_path):
    """Two checkouts of the same code get separate workers."""
    import shutil

    shutil.copytree(REPO / "scripts" / "radsnake", tmp_path / "radsnake", ignore=shutil.ignore_patterns("__pycache__"))
    key = "import sys; sys.path.insert(0, sys.argv[1]); from radsnake.core.worker import code_key; print(code_key())"
    here, there = (
        subprocess.run([sys.executable, "-c", key, path], capture_output=True, text=True, check=True).stdout
        for path in (str(REPO / "scripts"), str(tmp_path))
    )
    assert here != there


def test_a_case_failing_in_the_worker_is_named_and_the_other_cases_finish(tmp_path):
    """Through the workflow: one case's image has intensities far beyond the bin width,
    which passes QC but makes PyRadiomics' binning fail inside the warm worker. With
    --keep-going every other case is extracted, and the console names the case, the file
    and the library's message."""
    sheet = make_study(tmp_path, n_cases=6, config=FAST_CONFIG)
    bad = sheet["case_id"].iloc[2]
    image = (tmp_path / "config" / sheet["image"].iloc[2]).resolve()
    mask = (tmp_path / "config" / sheet["mask"].iloc[2]).resolve()
    write_huge(image, mask, str(image))
    result = snakemake(tmp_path, "--keep-going", "results/features.csv", check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0, console[-6000:]
    message = [line for line in console.splitlines() if line.startswith(f"radsnake: case {bad}:")]
    assert len(message) == 1, console[-6000:]
    assert f"feature extraction failed on image {image} with mask {mask}:" in message[0], message[0]
    assert "MemoryError: Unable to allocate" in message[0]
    # Snakemake shows the failed job's log (show-failed-logs in profiles/default), which keeps
    # the traceback and ends with the same line; the console has no other traceback.
    log = (tmp_path / "logs" / "extract_features" / f"{bad}.log").read_text()
    assert log.splitlines()[-1].endswith(message[0].removeprefix("radsnake: ")), log[-2000:]
    outside_log = console.replace(log, "")
    assert "Traceback" not in outside_log and "warm worker died" not in console, outside_log[-6000:]
    assert "QC failed" not in log, "the image should pass QC"
    assert not (tmp_path / "results" / "features" / f"{bad}.csv").exists()
    for case in sheet["case_id"]:
        if case != bad:
            assert (tmp_path / "results" / "features" / f"{case}.csv").exists(), f"{case}\n{console[-6000:]}"
    assert sockets(tmp_path), "the jobs did not run in the warm worker"


RULE_SCRIPT = """
import os, sys
sys.path.insert(0, {scripts!r})


class Snakemake:  # what a rule script's preamble gives it, as far as hand_to_worker reads
    config, wildcards, rule, log, threads = {{}}, {{"case": "c1"}}, "demo_rule", [{log!r}], 1


snakemake = Snakemake()
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)
print(open(f"/proc/{{os.getppid()}}/cmdline", "rb").read().split(b"\\0")[:3])
if len(sys.argv) > 1 or os.environ.get("FAIL"):
    raise RuntimeError("the script's own error")
"""


def run_rule_script(folder: Path, **env) -> subprocess.CompletedProcess:
    script = folder / "rule_script.py"
    script.write_text(RULE_SCRIPT.format(scripts=str(REPO / "scripts"), log=str(folder / "job.log")))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=folder,
                          env=dict(os.environ, **env))


def test_a_rule_script_runs_in_the_worker_as_in_its_own_process(tmp_path):
    """hand_to_worker: the script runs on in the worker's child (whose parent is the
    worker), once, with its stdout and exit status; its own error is a Python error as
    it would be in its own process. RADSNAKE_WORKER=0 runs it here."""
    warm = run_rule_script(tmp_path)
    assert warm.returncode == 0, warm.stderr
    assert "radsnake.core.worker" in warm.stdout and warm.stdout.count("\n") == 1, warm.stdout
    failed = run_rule_script(tmp_path, FAIL="1")
    assert failed.returncode == 1
    assert "Traceback" in failed.stderr and "RuntimeError: the script's own error" in failed.stderr
    assert "radsnake.core.worker" in failed.stdout
    cold = run_rule_script(tmp_path, RADSNAKE_WORKER="0")
    assert cold.returncode == 0 and "radsnake.core.worker" not in cold.stdout, cold.stdout


def test_the_worker_key_ignores_folders_named_twice_on_the_path(tmp_path, monkeypatch):
    """A rule script's sys.path names site-packages again (Snakemake's preamble), maybe by
    another path: it and a case job must find the same worker."""
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    before = worker.code_key()
    (tmp_path / "site").symlink_to(os.path.realpath(site), target_is_directory=True)
    monkeypatch.setattr(sys, "path", [*sys.path, site, str(tmp_path / "site")])
    assert worker.code_key() == before
