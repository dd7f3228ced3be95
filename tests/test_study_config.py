"""A researcher's own study: their config is the whole truth and their study folder is theirs.

Every run here is the documented command, from the repository root:
`snakemake --cores 2 --configfile <study>/config.yaml`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, make_study, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

# A config as a user writes it: only what differs from the schema's defaults. The demo
# config turns on the negative control, validation, comparison selections and age/sex;
# none of that may leak in.
OWN_CONFIG = {
    "cohort": "config/cohort.csv",
    "clinical": {},
    "comparison": {"selections": {}},
    "pyradiomics": {"params": "original"},
    "split": {"method": "random", "test_fraction": 0.3},
    "selection": {
        "steps": [
            {"step": "zscore"},
            {"step": "variance", "threshold": 1e-8},
            {"step": "lasso", "cv_folds": 3, "n_lambdas": 20, "rule": "1se"},
        ]
    },
    "models": {"enabled": ["logistic"], "cv_folds": 3, "param_grid": {"logistic": {"C": [1.0]}}},
    "validation": {"enabled": False},
    "resources": {"model_threads": 1},
}
N_CASES = 24


def files_under(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def without_run_logs(files: dict) -> dict:
    return {name: value for name, value in files.items() if not name.startswith(".snakemake/log/")}


def clone_state() -> dict[str, tuple[int, bytes]]:
    """What a study run could wrongly write into the clone (the demo's study folder). Not
    the clone's run logs: other modules' demo runs (the lint, the dry runs) write theirs
    there meanwhile; each study's own run log is checked to be in its own folder."""
    state = {}
    for name in ("results", "logs", "benchmarks"):
        if (REPO / name).exists():
            state.update({f"{name}/{key}": value for key, value in files_under(REPO / name).items()})
    return state


@pytest.fixture(scope="module")
def own_study(tmp_path_factory):
    """An image study without age/sex columns, run with its own config only."""
    study = tmp_path_factory.mktemp("lung")
    sheet = make_study(study, N_CASES, OWN_CONFIG, seed=7)
    sheet.drop(columns=["age", "sex"]).to_csv(study / "config" / "cohort.csv", index=False)
    return study


def test_own_config_replaces_the_demo_config(own_study):
    jobs = planned_jobs(own_study)
    assert jobs["extract_features"] == N_CASES and jobs["fit_model"] == 1
    # The demo's clinical model, comparison fits, negative control and validation are gone.
    for rule in ("compare_clinical_models", "comparison_fit_model", "control_fit_model", "validate_model", "demo_case"):
        assert rule not in jobs, jobs


def test_two_study_folders_run_from_one_install_without_touching_each_other(own_study, tmp_path):
    # A second study: bring-your-own features, in another folder anywhere.
    kidney = tmp_path / "kidney"
    kidney.mkdir()
    rng = np.random.default_rng(3)
    n = 50
    labels = np.arange(n) % 2
    features = rng.normal(size=(n, 8))
    features[:, 0] += 1.5 * labels
    table = pd.DataFrame(features, columns=[f"own_{i}" for i in range(8)])
    table.insert(0, "case_id", [f"k{i:02d}" for i in range(n)])
    table.to_csv(kidney / "features.csv", index=False)
    pd.DataFrame({"case_id": table["case_id"], "label": labels}).to_csv(kidney / "sheet.csv", index=False)
    write_config(kidney, {**OWN_CONFIG, "cohort": "sheet.csv", "features_table": "features.csv"})

    clone_before = clone_state()
    snakemake(own_study)
    lung_after_lung = files_under(own_study)
    snakemake(kidney)
    kidney_after_kidney = files_under(kidney)
    rerun = snakemake(own_study)  # the kidney run changed nothing of the lung study
    assert "Nothing to be done" in rerun.stdout + rerun.stderr

    # Every run adds its own run log; nothing else may change.
    assert without_run_logs(files_under(own_study)) == without_run_logs(lung_after_lung)
    assert files_under(kidney) == kidney_after_kidney
    assert clone_state() == clone_before, "a study run wrote into the clone"
    for study, first_case in ((own_study, "case"), (kidney, "k")):
        # Each study's results, logs and Snakemake state (locks, metadata, run log) are its own.
        metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv")
        assert set(metrics["model"]) == {"logistic", "radscore"}
        assert (study / "logs").is_dir() and list((study / ".snakemake" / "log").glob("*.snakemake.log"))
        cases = pd.read_csv(study / "results" / "split.csv")["case_id"]
        assert cases.str.startswith(first_case).all()
    assert not (own_study / "results" / "clinical").exists()
    assert not (own_study / "results" / "comparison").exists()
    assert not (kidney / "results" / "features").exists()


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def config_lines(result: subprocess.CompletedProcess) -> list[str]:
    """What the user sees, less Snakemake's note that it used the workflow profile."""
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip() and not line.startswith("Using workflow specific profile")]


@pytest.mark.parametrize(
    "mistake, expected",
    [
        ({"clincal": {}}, "radsnake: {config}: `clincal` is not a config key; did you mean `clinical`?"),
        (
            {"split": {"method": "random", "tset_fraction": 0.2}},
            "radsnake: {config}: `tset_fraction` is not a config key under `split`; did you mean `test_fraction`?",
        ),
        ({"seed": "forty"}, "radsnake: {config}: `seed` is 'forty', but must be a whole number"),
        (
            {"split": {"method": "randm"}},
            "radsnake: {config}: `split.method` is 'randm'; allowed values: random, center",
        ),
    ],
)
def test_a_config_mistake_is_one_line_naming_the_key(tmp_path, mistake, expected):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**OWN_CONFIG, **mistake}))
    result = run("-n", "--cores", "1", "--configfile", str(config))
    assert result.returncode != 0
    assert config_lines(result) == [expected.format(config=config)]


def test_paths_resolve_against_the_config_folder_from_anywhere(own_study, tmp_path):
    """The same config works whatever folder Snakemake is started from."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("-n", "-s", str(REPO / "Snakefile"), "--cores", "1", "--configfile", str(own_study / "config.yaml"),
                 cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(elsewhere.iterdir())


@pytest.mark.xdist_group("clone")
def test_plain_snakemake_runs_the_demo_study():
    """No --configfile: the demo study (config/demo/config.yaml), in the clone (planned whole,
    as after `make demo` its jobs are done)."""
    result = run("-n", "--forceall", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "demo_case" in result.stdout
