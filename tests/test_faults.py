"""Faults of the machine and reruns by content, through the real workflow on a 6-case
study (target results/features.csv, qc.on_fail: exclude, one case excluded):

- a full disk under results/ (a 16 KiB tmpfs, so the kernel's own ENOSPC), a read-only
  results folder (a read-only bind mount, EROFS) and a killed warm worker (SIGKILL to
  its process group mid-run) each end with one line naming the cause and the folder; a
  rerun of the same command then gives the bytes of a clean run (the read-only folder
  stops the run before any job, so its rerun is a clean run);
- a mask replaced by a corrected copy with an older modification time (`cp -p`) reruns
  that case alone, a params file replaced so reruns every extraction and no QC, and
  `touch` on every input reruns nothing (dry-run job counts).

The mounts are made in a user and mount namespace (`unshare -Urm`), which needs no root;
they vanish with the run, like a disk that was freed or remounted.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import SimpleITK as sitk
import yaml

from conftest import FAST_CONFIG, REPO, make_study, planned_jobs, snakemake, study_command

pytestmark = pytest.mark.workflow

N_CASES = 6
TARGET = "results/features.csv"
EXCLUDED = 3  # index of the case whose mask holds 0/255: excluded in qc.on_fail: exclude mode


def namespaces_work() -> bool:
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    shutil.which("unshare") is None or not namespaces_work(),
    reason="unprivileged user namespaces (unshare -Urm) are not available here",
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A clean run, and its console's end, which lists the excluded case."""
    workdir = tmp_path_factory.mktemp("reference")
    config = copy.deepcopy(FAST_CONFIG)
    config["qc"] = {"on_fail": "exclude"}
    # The study's own params file, so that tests may replace it.
    config["pyradiomics"]["params"] = "params.yaml"
    sheet = make_study(workdir, N_CASES, config)
    shutil.copy(REPO / "config" / "pyradiomics" / "original.yaml", workdir / "params.yaml")
    mask = workdir / "config" / sheet["mask"].iloc[EXCLUDED]
    sitk.WriteImage(sitk.Cast(sitk.ReadImage(str(mask)), sitk.sitkUInt8) * 255, str(mask))
    result = snakemake(workdir, TARGET)
    return workdir, sheet, result.stdout + result.stderr


def fresh_copy(reference: Path, workdir: Path) -> Path:
    for folder in ("images", "config"):
        shutil.copytree(reference / folder, workdir / folder)
    for name in ("config.yaml", "params.yaml"):
        shutil.copy(reference / name, workdir / name)
    return workdir


def tables(workdir: Path) -> dict[str, bytes]:
    root = workdir / "results"
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def run_in_namespace(workdir: Path, mount: str, folder: Path) -> subprocess.CompletedProcess:
    """The documented command, with `mount` (a shell command on "$0") made on `folder` first."""
    command = ["unshare", "-Urm", "sh", "-c", f'{mount} && exec "$@"', str(folder), *study_command(workdir, TARGET)]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, env=dict(os.environ, PYTHONHASHSEED="0")
    )


def worker_pids(workdir: Path) -> list[int]:
    """The study's warm workers (radsnake.core.worker names its folder on its command line)."""
    folder = str(workdir / ".snakemake" / "radsnake-worker").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                words = (entry / "cmdline").read_bytes().split(b"\0")
                if b"radsnake.core.worker" in words and folder in words:
                    pids.append(int(entry.name))
    return pids


def stop_workers(workdir: Path) -> None:
    """A worker started inside a namespace keeps its mounts: it must not serve the rerun."""
    for pid in worker_pids(workdir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def radsnake_lines(console: str) -> list[str]:
    return [line for line in console.splitlines() if line.startswith("radsnake: ")]


def assert_resumes_to_reference(workdir: Path, reference: Path) -> None:
    snakemake(workdir, TARGET)
    ours, theirs = tables(workdir), tables(reference)
    assert sorted(ours) == sorted(theirs), set(ours).symmetric_difference(theirs)
    assert [name for name in theirs if ours[name] != theirs[name]] == []


def test_a_clean_run_ends_with_the_excluded_case(reference):
    workdir, sheet, console = reference
    case = sheet["case_id"].iloc[EXCLUDED]
    lines = console.splitlines()
    last = lines[[n for n, line in enumerate(lines) if line.startswith("radsnake: this run ended")][-1] :]
    assert len(last) <= 4, last
    assert last[0].startswith("radsnake: this run ended with 1 excluded case (also in"), last
    assert last[1].startswith(f"radsnake: excluded case {case} (input QC): mask has no voxel with label 1"), last
    assert "fix the file or the sheet row" in last[1]
    listed = (workdir / "logs" / "failures.txt").read_text().splitlines()
    assert listed == last[:2]


@needs_namespaces
def test_a_full_disk_names_the_folder_and_a_rerun_loses_nothing(reference, tmp_path):
    ref, _, _ = reference
    workdir = fresh_copy(ref, tmp_path)
    features = workdir / "results" / "features"
    features.mkdir(parents=True)
    result = run_in_namespace(workdir, 'mount -t tmpfs -o size=16k tmpfs "$0"', features)
    stop_workers(workdir)
    console = result.stdout + result.stderr
    assert result.returncode != 0, console[-3000:]
    full = [line for line in radsnake_lines(console) if "(No space left on device)" in line]
    assert full, console[-4000:]
    assert all(f"the disk holding {features} is full" in line for line in full), full
    assert "Traceback" not in console and "worker died" not in console
    assert "failed job extract_features" in (workdir / "logs" / "failures.txt").read_text()
    assert_resumes_to_reference(workdir, ref)
    assert not (workdir / "logs" / "failures.txt").read_text().count("failed job"), "the rerun has no failure"


@needs_namespaces
def test_a_read_only_results_folder_stops_before_any_job(reference, tmp_path):
    ref, _, _ = reference
    workdir = fresh_copy(ref, tmp_path)
    results = workdir / "results"
    results.mkdir()
    result = run_in_namespace(workdir, 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', results)
    console = result.stdout + result.stderr
    assert result.returncode == 1
    assert radsnake_lines(console) == [
        f"radsnake: nothing can be written in {results} (Read-only file system): {results} is on a read-only "
        "file system. Remount it writable (or move the study folder), then rerun the same command."
    ], console[-3000:]
    # Nothing ran and nothing was written: the rerun after the fix is a clean run.
    assert not list(results.iterdir()) and not (workdir / "logs").exists()
    assert not (workdir / ".snakemake" / "metadata").exists()


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def children_running_a_job(pid: int) -> list[int]:
    """The frozen worker's children that run a job: alive, and already writing to the job's
    stdout (a child that has not yet taken its job still writes to the worker's /dev/null;
    killing it then only makes the job start another worker)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    deadline = time.monotonic() + 2
    while any(process_state(child) not in "TZ" for child in children) and time.monotonic() < deadline:
        time.sleep(0.001)  # SIGSTOP is delivered asynchronously
    return [
        child
        for child in children
        if process_state(child) == "T" and os.readlink(f"/proc/{child}/fd/1") != os.devnull
    ]


def kill_the_worker_mid_job(workdir: Path, console_txt: Path) -> tuple[bool, str]:
    """Run the study and SIGKILL the warm worker's process group while a job runs in it."""
    output = open(console_txt, "w")
    run = subprocess.Popen(
        study_command(workdir, TARGET),
        cwd=REPO,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    killed = False
    deadline = time.monotonic() + 300
    while run.poll() is None and not killed and time.monotonic() < deadline:
        for pid in worker_pids(workdir):
            # Freeze the worker and its children first, so that a job seen running cannot
            # finish before the kill: the kill lands mid-job, as the out-of-memory killer's would.
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGSTOP)
                try:
                    running = children_running_a_job(pid)
                except OSError:
                    running = []
                os.killpg(pid, signal.SIGKILL if running else signal.SIGCONT)
                killed = killed or bool(running)
        time.sleep(0.01)
    run.wait(timeout=600)
    output.close()
    return killed, console_txt.read_text()


def test_a_killed_worker_names_its_jobs_and_a_rerun_loses_nothing(reference, tmp_path):
    ref, _, _ = reference
    workdir = fresh_copy(ref, tmp_path / "study")
    killed, console = kill_the_worker_mid_job(workdir, tmp_path / "console.txt")
    assert killed, "the worker never ran an extraction"
    stopped = [line for line in radsnake_lines(console) if "was stopped before it finished" in line]
    assert stopped, console[-4000:]
    named = f"the warm worker running it (in {workdir}/.snakemake/radsnake-worker) was killed"
    assert all(named in line for line in stopped), stopped
    failures = (workdir / "logs" / "failures.txt").read_text()
    assert "failed job" in failures and "was killed" in failures, failures
    assert_resumes_to_reference(workdir, ref)


def replace_keeping_an_older_time(path: Path, new_content: Path) -> None:
    """What `cp -p corrected.nii.gz mask.nii.gz` does when the corrected file is older."""
    old = time.time() - 30 * 86400
    os.utime(new_content, (old, old))
    subprocess.run(["cp", "-p", str(new_content), str(path)], check=True)
    assert path.stat().st_mtime < time.time() - 86400


def test_reruns_follow_content_not_modification_times(reference, tmp_path):
    ref, sheet, _ = reference
    workdir = tmp_path / "study"
    shutil.copytree(ref, workdir, symlinks=True, ignore=shutil.ignore_patterns("radsnake-worker"))
    inputs = [workdir / "params.yaml", workdir / "config" / "cohort.csv"]
    inputs += [(workdir / "config" / path).resolve() for path in [*sheet["image"], *sheet["mask"]]]
    subprocess.run(["touch", *map(str, inputs)], check=True)
    assert planned_jobs(workdir, TARGET) == {}

    case = 1
    mask = (workdir / "config" / sheet["mask"].iloc[case]).resolve()
    corrected = tmp_path / "corrected_mask.nii.gz"
    sitk.WriteImage(sitk.BinaryErode(sitk.ReadImage(str(mask)), [1, 1, 1]), str(corrected))
    replace_keeping_an_older_time(mask, corrected)
    assert planned_jobs(workdir, TARGET) == {"extract_features": 1, "aggregate_features": 1}
    dry = snakemake(workdir, "-n", TARGET).stdout
    assert f"case={sheet['case_id'].iloc[case]}" in dry

    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["setting"]["binWidth"] = 10
    edited = tmp_path / "params.yaml"
    edited.write_text(yaml.safe_dump(params))
    replace_keeping_an_older_time(workdir / "params.yaml", edited)
    # Every case is checked and extracted again (the excluded one writes its exclusion record again).
    assert planned_jobs(workdir, TARGET) == {"extract_features": N_CASES, "aggregate_features": 1}
