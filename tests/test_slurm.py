"""The shipped SLURM profile on a real one-node SLURM cluster gives the local run's tables.

A study is run twice from identical copies (same images, same config): locally with
`--cores 2`, and with `--profile profiles/slurm` against a cluster that
tests/slurm_cluster.py starts on localhost. Every CSV under results/ must be
byte-identical, and the heavy jobs must have been SLURM jobs (the per-case extraction
grouped into few of them). Needs root and `slurm-wlm munge` (`bash envs/install.sh --test`):
skipped without them, failed when the CI environment variable is set.
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import FAST_CONFIG, REPO, SNAKEMAKE, make_study
from radsnake.cohort.split import assign_sets
from slurm_cluster import PARTITION, ClusterUnavailable, local_slurm

pytestmark = pytest.mark.workflow

PROFILE = REPO / "profiles" / "slurm"
N_CASES = 24
# Seed 12 splits these 24 demo cases 8+8 train / 4+4 test: enough of each label for the
# DeLong statistics on the test set. Two fast models and 100 bootstrap resamples keep the
# two runs short; a random split (no external set) saves four figure jobs.
CONFIG = copy.deepcopy(FAST_CONFIG)
CONFIG["seed"] = 12
CONFIG["split"] = {"method": "random", "test_fraction": 0.3}
CONFIG["models"]["enabled"] = ["logistic", "decision_tree"]
CONFIG["evaluation"] = {"bootstrap": 100}
# Internal validation too, its fits dealt into two validate_chunk jobs (SLURM jobs here,
# local jobs run two at a time there): its tables must not depend on where the chunks ran.
# Learning curves at full size only: they reuse the CV's fits (half of 8 + 8 cases is too
# few for the tuning CV).
CONFIG["validation"] = {"enabled": True, "folds": 3, "repeats": 1, "nested_outer_folds": 3, "bootstrap": 2,
                        "learning_curve_sizes": [1.0], "learning_curve_repeats": 1, "chunks": 2}
# Rules that the profile sends to SLURM; every other rule has `localrule: True` (rules/*.smk).
# Each case's job (QC, overlay and extraction) is one piece of the profile's `extract` group.
GROUPED_RULES = {"extract_features"}
SLURM_RULES = GROUPED_RULES | {"select_features", "fit_model", "feature_statistics", "summarise_models", "compare_clinical_models",
                               "validate_chunk"}
# Extraction cases per SLURM job here (the profile's 20 would leave a lone 4-case job).
GROUP_SIZE = 12
# Hard limit of one Snakemake run; `timeout -k` also ends a run hung on a pending job.
RUN_SECONDS = 1200


def slurm_unavailable(msg: str) -> None:
    """The SLURM test must run in CI: there a missing cluster fails; elsewhere it skips."""
    msg += (
        " -- run the project's test setup as root (`make test`, i.e. `bash envs/install.sh --test`) "
        "to install SLURM (Debian/Ubuntu: slurm-wlm munge)"
    )
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def cluster():
    # The context manager stops the daemons and removes /etc/slurm/slurm.conf whatever
    # happens in the tests; a cluster that cannot start never yields.
    try:
        with local_slurm() as running:
            yield running
    except ClusterUnavailable as err:
        slurm_unavailable(f"cannot start a local SLURM cluster: {err}")


def profile_default_resources(**changes: str) -> list[str]:
    """The profile's default-resources as command-line items, with some values replaced.

    On the command line --default-resources replaces the profile's whole list, so the
    profile's other defaults (runtime, mem_mb) are passed on unchanged.
    """
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    resources = {**profile["default-resources"], **changes}
    return [f"{key}={value}" for key, value in resources.items()]


def run_snakemake(workdir: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Real Snakemake on the repository's Snakefile in a study folder, under `timeout -k`."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = ["timeout", "-k", "15", str(RUN_SECONDS), SNAKEMAKE, *args, "--configfile", str(workdir / "config.yaml")]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=RUN_SECONDS + 60)
    return result, time.monotonic() - start


def check_split_is_usable(workdir: Path) -> None:
    """Fail early and clearly if the demo generator or the split changed the test's cohort."""
    sheet = pd.read_csv(workdir / "config" / "cohort.csv", dtype={"case_id": str})
    split = assign_sets(sheet, "random", CONFIG["split"]["test_fraction"], [], CONFIG["seed"]).merge(sheet, on="case_id")
    counts = split.groupby(["set", "label"]).size()
    assert len(counts) == 4 and counts.min() >= 3, f"pick another CONFIG seed: set x label counts are\n{counts}"


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm_vs_local")
    local, on_slurm = base / "local", base / "slurm"
    make_study(local, N_CASES, CONFIG)
    check_split_is_usable(local)
    shutil.copytree(local, on_slurm)

    slurm_args = [
        "--profile", str(PROFILE),
        # profiles/default would otherwise be layered on top (as the workflow profile).
        "--workflow-profile", "none",
        # Test-only overrides for a one-node cluster: its partition, and at most its memory
        # per job and per group (groups ask for the sum of their layers' resources).
        "--default-resources", *profile_default_resources(slurm_account="radsnake_test", slurm_partition=PARTITION),
        "--resources", f"mem_mb={cluster.memory_mb}",
        # One CPU per job: the two extraction groups run side by side, each case after case,
        # and finish together, so the plugin's growing status-check pauses cost least.
        "--cores", "1",
        "--group-components", f"extract={GROUP_SIZE}",
        # No accounting database here: job states come from squeue, polled from the first second.
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "1",
        "--seconds-between-status-checks", "1",
        # Kept as evidence that the jobs ran under SLURM.
        "--slurm-keep-successful-logs",
    ]
    # Both runs at once: the local one fills the SLURM run's polling pauses.
    with ThreadPoolExecutor(max_workers=2) as pool:
        local_run = pool.submit(run_snakemake, local, "--cores", "2")
        slurm_run = pool.submit(run_snakemake, on_slurm, *slurm_args)
        (local_result, local_seconds), (slurm_result, slurm_seconds) = local_run.result(), slurm_run.result()
    print(f"\nwall time: local run {local_seconds:.0f} s, SLURM run {slurm_seconds:.0f} s (concurrently)")
    for name, result in (("local", local_result), ("SLURM", slurm_result)):
        if result.returncode != 0:
            reason = " (killed by timeout)" if result.returncode in (124, 137) else ""
            pytest.fail(f"{name} run failed{reason}, exit code {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-8000:]}")
    return {
        "local": local,
        "slurm": on_slurm,
        "local_log": local_result.stdout + local_result.stderr,
        "slurm_log": slurm_result.stdout + slurm_result.stderr,
    }


def result_csvs(workdir: Path) -> list[str]:
    return sorted(str(path.relative_to(workdir)) for path in (workdir / "results").rglob("*.csv"))


def test_every_table_is_byte_identical(runs):
    local, on_slurm = runs["local"], runs["slurm"]
    tables = result_csvs(local)
    assert tables == result_csvs(on_slurm)
    # Per case a feature row and a diagnostics row, plus the study tables.
    assert len(tables) > 2 * N_CASES + 20
    for expected in ("results/features.csv", "results/split.csv", "results/evaluation/metrics.csv",
                     "results/evaluation/bootstrap_ci.csv", "results/clinical/metrics.csv",
                     "results/models/decision_tree/predictions.csv", "results/selection/radscore.csv",
                     "results/validation/summary.csv", "results/validation/logistic/bootstrap.csv",
                     "results/validation/decision_tree/repeated_cv.csv"):
        assert expected in tables
    different = [name for name in tables if (local / name).read_bytes() != (on_slurm / name).read_bytes()]
    assert different == [], f"{len(different)} of {len(tables)} tables differ between the local and the SLURM run"


def submissions(log: str) -> dict[str, str]:
    """SLURM job id -> its log folder (group_/rule_ name), from the plugin's messages."""
    pattern = r"has been submitted with SLURM jobid (\d+) \(log: .*?/slurm_logs/([^/]+)/"
    return dict(re.findall(pattern, log))


def test_heavy_jobs_ran_as_slurm_jobs(runs):
    jobs = submissions(runs["slurm_log"])
    folders = sorted(jobs.values())
    # Extraction is grouped: 24 cases in SLURM jobs of GROUP_SIZE cases.
    extraction_jobs = [f for f in folders if f.startswith("group_")]
    assert len(extraction_jobs) == math.ceil(N_CASES / GROUP_SIZE)
    rule_jobs = {f.removeprefix("rule_") for f in folders if f.startswith("rule_")}
    assert rule_jobs == SLURM_RULES - GROUPED_RULES
    assert folders.count("rule_fit_model") == len(CONFIG["models"]["enabled"])
    assert folders.count("rule_validate_chunk") == CONFIG["validation"]["chunks"]
    # The localrules never became SLURM jobs, and the local run never talked to SLURM.
    assert "SLURM" not in runs["local_log"]

    # The scheduler itself knows every one of these jobs as finished successfully
    # (the cluster keeps finished jobs visible for an hour: MinJobAge).
    queue = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T"], capture_output=True, text=True, timeout=30)
    states = dict(line.split("|") for line in queue.stdout.split())
    assert {job_id: states.get(job_id) for job_id in jobs} == {job_id: "COMPLETED" for job_id in jobs}
    # Each kept SLURM log is the job's own output, written on the node.
    logs = sorted((runs["slurm"] / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert sorted(p.stem for p in logs) == sorted(jobs)
