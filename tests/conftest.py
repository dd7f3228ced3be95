"""Shared helpers: build a small study folder and run the real workflow on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# Small grids and 3 folds keep a tiny-cohort run to about a minute on two cores.
FAST_CONFIG = {
    "cohort": "config/cohort.csv",
    "seed": 42,
    "demo": {"enabled": False},
    "clinical": {"age": "numeric", "sex": "categorical"},
    "pyradiomics": {"params": str(REPO / "config" / "pyradiomics" / "original.yaml")},
    "split": {"method": "center", "test_fraction": 0.3, "external_centers": ["C"]},
    "selection": {
        "steps": [
            {"step": "zscore"},
            {"step": "variance", "threshold": 1e-8},
            {"step": "univariate", "test": "mannwhitney", "p_threshold": 0.1, "fdr": False},
            {"step": "correlation", "threshold": 0.9, "method": "spearman"},
            {"step": "lasso", "cv_folds": 3, "n_lambdas": 20, "rule": "1se"},
        ]
    },
    "models": {
        "enabled": ["logistic", "svm", "random_forest", "decision_tree"],
        "cv_folds": 3,
        "param_grid": {
            "logistic": {"C": [0.1, 1.0]},
            "svm": {"C": [1.0], "kernel": ["linear", "rbf"]},
            "random_forest": {"n_estimators": [50], "max_depth": [3]},
            "decision_tree": {"max_depth": [2, 3]},
        },
    },
    # No alternative selections: each would add a tuning job per model to every tiny study.
    "comparison": {"selections": {}},
    "resources": {"model_threads": 1},
    # Internal validation refits the tuning hundreds of times; tests that need it turn it on.
    "validation": {"enabled": False},
}


def write_config(workdir: Path, config: dict) -> None:
    """The study's config, at the study folder's root as a user keeps it (tests keep the sheet
    in its config/ folder, as FAST_CONFIG's cohort says)."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    with open(workdir / "config.yaml", "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


def make_study(workdir: Path, n_cases: int, config: dict | None = None, seed: int = 42) -> pd.DataFrame:
    """A study folder with real NIfTI images from the demo generator and its own config."""
    from radsnake.imaging.demo import make_cohort

    sheet = make_cohort(str(workdir / "images"), n_cases=n_cases, seed=seed, image_dir_relative="../images")
    write_config(workdir, config or FAST_CONFIG)
    sheet.to_csv(workdir / "config" / "cohort.csv", index=False)
    return sheet


def study_command(workdir: Path, *args: str, cores: str = "2", configfile: Path | None = None) -> list[str]:
    """The command a user types (README): from the repository root, the study's config given.

    --configfile comes last: it takes every word after it, targets included. A test's
    extra config file (``"--configfile", extra`` in args) follows the study's, as in
    docs/apply.md: later files override earlier ones."""
    args, extra = list(args), []
    while "--configfile" in args:
        at = args.index("--configfile")
        extra.append(str(args.pop(at + 1)))
        args.pop(at)
    study_config = str(configfile or workdir / "config.yaml")
    return [SNAKEMAKE, "--cores", cores, *args, "--configfile", study_config, *extra]


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 1200, configfile: Path | None = None
) -> subprocess.CompletedProcess:
    """Real Snakemake run as users run it: from the repository root, on the study's config."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    result = subprocess.run(
        study_command(workdir, *args, configfile=configfile),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs a dry run plans, per rule, read from Snakemake's job-stats table."""
    result = snakemake(workdir, "-n", *args)
    counts = {}
    lines = (result.stdout + result.stderr).splitlines()
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def r_unavailable(msg: str, packages: str = "r-base-core") -> None:
    """Reference tests must run in CI: there a missing R fails; elsewhere it skips."""
    msg += (
        " -- run the project's test setup (`make test`, i.e. `bash envs/install.sh --test`) "
        f"to install R (Debian/Ubuntu: {packages})"
    )
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def run_r(script: Path, *args: str, packages: str) -> None:
    """Run an R reference script (tests/r/) with Rscript --vanilla; a missing R or R package
    skips locally and fails in CI (r_unavailable), any other R error fails."""
    import shutil

    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript not found on PATH", packages)
    proc = subprocess.run([rscript, "--vanilla", str(script), *args], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        if "there is no package called" in proc.stderr:
            r_unavailable("R package missing: " + proc.stderr.strip()[-200:], packages)
        raise RuntimeError(f"{script.name} failed:\n" + proc.stderr)


def r_reference_values(script: Path, datasets: dict, columns: list[str], folder: Path, packages: str, parse=float) -> dict:
    """Run an R reference script on datasets written as one long CSV (a `dataset` column,
    then `columns`); the script writes `dataset,key,value` rows, returned as
    {(dataset, key): parse(value)}."""
    long = pd.concat([frame.assign(dataset=name) for name, frame in datasets.items()])
    long[["dataset", *columns]].to_csv(folder / "input.csv", index=False, float_format="%.17g")
    run_r(script, str(folder / "input.csv"), str(folder / "out.csv"), packages=packages)
    out = pd.read_csv(folder / "out.csv", dtype=str)
    return {(row.dataset, row.key): parse(row.value) for row in out.itertuples()}


# Test tiers (docs/development.md, "Test tiers"). `make test-fast` runs the tests marked `fast`:
# these unit-test modules and one small end-to-end study. A module not named here, a new one
# included, runs in `make test` only (which runs everything).
FAST_MODULES = {
    "test_aggregate.py", "test_apply.py", "test_browser.py", "test_calibration.py",
    "test_calibration_r_reference.py", "test_clinical.py", "test_clinical_data.py", "test_clinical_firth.py",
    "test_cohort.py", "test_comparison.py", "test_config_doc.py", "test_demo.py", "test_dictionary.py",
    "test_envs.py", "test_evaluation.py", "test_extract.py", "test_feature_stats.py", "test_figures.py",
    "test_figures_evaluation.py", "test_fingerprints.py", "test_fit_check_rules.py", "test_harmonise.py",
    "test_ibsi.py", "test_imageio.py", "test_imbalance.py", "test_inputs.py", "test_intervals.py",
    "test_models.py", "test_paper.py", "test_platt.py", "test_platt_r_reference.py", "test_provenance.py",
    "test_qc.py", "test_readme.py", "test_robustness.py", "test_runtime.py", "test_segment.py",
    "test_selection.py", "test_sheets.py", "test_snakemake_fixes.py", "test_split.py",
    "test_split_r_reference.py", "test_stats.py", "test_stats_r_reference.py", "test_survival_nomogram_r_reference.py",
    "test_validation.py",
}
# The fast tier's end-to-end study: a bring-your-own-features study through the whole workflow.
FAST_TESTS = {"test_own_features.py::test_feature_table_skips_images"}
# Under pytest-xdist (`make test` runs -n 2 --dist loadfile) each module is one work unit,
# so its module-scoped study is built once. The longest modules (their measured order) start
# first, so that no long module is left running alone at the end; the rest keep their order.
FIRST_MODULES = [
    "test_demo_study.py", "test_slurm.py", "test_resume.py", "test_workflow.py", "test_weak_signal.py",
    "test_harmonisation_workflow.py", "test_console.py", "test_own_study.py", "test_robustness_workflow.py",
    "test_study_config.py", "test_validation_workflow.py", "test_own_features.py",
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.name
        if module in FAST_MODULES or f"{module}::{item.name}" in FAST_TESTS:
            item.add_marker(pytest.mark.fast)
        # A test that names its own group (e.g. "clone": it runs Snakemake in the clone itself)
        # keeps it; every other test goes with its module.
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(module))
    first = {name: rank for rank, name in enumerate(FIRST_MODULES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))
