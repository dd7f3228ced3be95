"""Checks before fitting, through the real workflow: the params file's meaning (parse
time), the outcome and size checks and the plausibility of the features (the
check_training_set job every fit depends on), and the Firth option of the clinical models."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import FAST_CONFIG, make_study, snakemake, write_config
from radsnake.cohort.split import assign_sets

pytestmark = pytest.mark.workflow

# What a console must never show: a library's traceback or scikit-learn's own messages.
RAW = ("Traceback", "sklearn", "ValueError", "n_splits", "liblinear")


RUN_END = "radsnake: this run ended with"


def radsnake_lines(result) -> list[str]:
    """radsnake's lines before the run's closing list, which repeats each failed job's
    message (radsnake.core.run_end); the list itself must name the failed job when there is one."""
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("radsnake: ")]
    ends = [at for at, line in enumerate(lines) if line.startswith(RUN_END)]
    if not ends:
        return lines
    closing = lines[ends[0] + 1 :]
    assert closing and all(line.startswith(("radsnake: failed job", "radsnake: excluded case")) for line in closing), closing
    return lines[: ends[0]]


def test_params_that_do_not_mean_what_they_say_stop_the_dry_run(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        "imageType:\n  Orignal: {}\n"
        "featureClass:\n  shape2D:\n  firstorder:\n"
        "setting:\n  binWidth: 25\n  binCount: 32\n  resampledPixelSpacing: [1, 1]\n  label: 2\n"
    )
    config = copy.deepcopy(FAST_CONFIG)
    config["pyradiomics"]["params"] = "params.yaml"
    make_study(tmp_path, 2, config)

    result = snakemake(tmp_path, "-n", check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"radsnake: PyRadiomics params file {params} has 5 problem(s) (no job has run):" in console, console[-3000:]
    for expected in (
        "imageType: `Orignal` is not a filter (image type) PyRadiomics knows; did you mean `Original`?",
        "setting has both binWidth (25) and binCount (32), and PyRadiomics would silently use binCount only",
        "featureClass shape2D needs setting force2D: true",
        "setting resampledPixelSpacing is [1, 1] (2 value(s)), but it needs 3",
        "setting label is 2, but radsnake extracts the label of pyradiomics.mask_label (1)",
    ):
        assert sum(expected in line for line in console.splitlines()) == 1, (expected, console[-3000:])
    assert "Traceback" not in console


def test_eight_cases_with_the_default_config_stop_before_fitting_with_one_message(tmp_path):
    """The 8-patient trial of issue 13: only the sheet is the user's, every setting the default."""
    make_study(tmp_path, 8, {"cohort": "config/cohort.csv"})
    result = snakemake(tmp_path, check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0
    lines = radsnake_lines(result)
    assert len(lines) == 1, lines
    message = lines[0]
    assert message.startswith(
        "radsnake: the training set is too small for the configured cross-validation: it has 4 case(s) with "
        "label 1 and 1 with label 0"
    ), message
    for expected in ("select_features needs 5 (selection.steps[4].cv_folds=5)",
                     "fit_model needs 7 (models.cv_folds=5 > selection.steps[4].cv_folds=5)",
                     "validation.enabled: false", "No model was fitted."):
        assert expected in message, message
    assert not any(word in console for word in RAW), console[-4000:]
    assert not (tmp_path / "results" / "split.csv").exists()
    assert not (tmp_path / "results" / "selection").exists() and not (tmp_path / "results" / "models").exists()


def own_table(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    labels = np.arange(n) % 2
    features = rng.normal(size=(n, 8))
    features[:, 0] += 1.0 * labels
    table = pd.DataFrame(features, columns=[f"own_{i}" for i in range(8)])
    table.insert(0, "case_id", [f"pt{i:02d}" for i in range(n)])
    return table, labels


def own_study(folder, table, labels, **config_keys) -> None:
    table.to_csv(folder / "own_features.csv", index=False)
    sheet = pd.DataFrame({"case_id": table["case_id"], "label": labels, "center": "H1"})
    for name, values in config_keys.pop("sheet_columns", {}).items():
        sheet[name] = values
    sheet.to_csv(folder / "cohort.csv", index=False)
    config = copy.deepcopy(FAST_CONFIG)
    config.update(cohort="cohort.csv", features_table="own_features.csv", clinical={}, **config_keys)
    config["split"] = {"method": "random", "test_fraction": 0.3}
    config["models"]["enabled"] = ["logistic"]
    write_config(folder, config)


def test_leaky_columns_and_duplicate_cases_stop_before_selection(tmp_path):
    table, labels = own_table(60, np.random.default_rng(3))
    table["Target"] = labels  # a public table that still holds its outcome
    table["grade"] = np.where(labels == 1, "3", "1").astype(float)  # the outcome under another coding
    rng = np.random.default_rng(4)
    table["marker"] = labels + rng.uniform(0, 0.9, len(labels))  # separates every case perfectly
    table["scanner_id"] = 7.0  # constant: a caution, not a stop
    table.loc[5, table.columns[1:]] = table.loc[3, table.columns[1:]]  # pt05 is pt03 again
    own_study(tmp_path, table, labels)

    result = snakemake(tmp_path, check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0
    source = tmp_path / "own_features.csv"
    lines = radsnake_lines(result)
    assert lines == ["radsnake: 4 problem(s) with the training set stop the run before selection:"], lines
    problems = console.split(lines[0], 1)[1].splitlines()[1:5]
    assert problems[0] == (
        f"  feature column(s) Target in {source} are named like an outcome (target, label, labels, "
        "outcome, y, class, response, diagnosis, event): an outcome among the features leaks it into every model. "
        f"Remove it from {source}, or list it under plausibility.allow in the config if you mean it."
    ), problems
    assert problems[1].startswith(f"  feature column(s) grade in {source} equal the training outcome"), problems
    assert problems[2].startswith(f"  feature(s) marker in {source} separate the training labels perfectly"), problems
    assert "likely a leak" in problems[2]
    assert problems[3].startswith(f"  case(s) with identical feature rows in {source}: pt03 (train) = pt05 ("), problems
    assert not any(word in console for word in RAW), console[-4000:]
    assert not (tmp_path / "results" / "selection").exists() and not (tmp_path / "results" / "models").exists()

    # The user says they mean it, and locks a test set holding one label: the check passes
    # with cautions on the console and in its table.
    assert not (tmp_path / "results" / "split.csv").exists()  # a failed check removes it: no fit can start
    cases = pd.DataFrame({"case_id": table["case_id"], "label": labels, "center": "H1"})
    split = assign_sets(cases, "random", 0.3, [], FAST_CONFIG["seed"])
    split["set"] = np.where(labels == 1, "train", split["set"])
    split.to_csv(tmp_path / "locked.csv", index=False)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["plausibility"] = {"allow": ["Target", "grade", "marker", "pt03", "pt05"]}
    config["split"]["locked"] = "locked.csv"
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "results/checks/training_set.csv")
    cautions = radsnake_lines(result)
    test_counts = (int(((split["set"] == "test") & (labels == 1)).sum()), int(((split["set"] == "test") & (labels == 0)).sum()))
    assert test_counts[0] == 0 and test_counts[1] > 0
    assert cautions == [
        f"radsnake: caution: 1 feature column(s) of {source} are constant on the training set (scanner_id); the "
        "variance step drops them. Expected for some extracted features (e.g. shape on a 2D ROI); otherwise check "
        "how the table was made.",
        f"radsnake: caution: the test set has 0 case(s) with label 1 and {test_counts[1]} with label 0 (only label 0): "
        "AUC, its DeLong CI and tests, calibration and decision curves are undefined on it; specificity and accuracy "
        "are still computed. Change split.test_fraction or split.seed, or give it cases of both labels "
        "(split.locked, or the sheet's cohort/center for external sets).",
    ], cautions
    checks = pd.read_csv(tmp_path / "results" / "checks" / "training_set.csv")
    assert dict(zip(checks["check"], checks["status"])) == {
        "outcome name": "ok", "equal to the outcome": "ok", "perfect separation": "ok", "constant": "caution",
        "identical rows": "ok", "outcome and size": "caution",
    }


def test_separated_clinical_model_names_the_firth_setting_and_firth_finishes(tmp_path):
    # 50 cases: the exact split leaves 17 of each label in training, fewer than 10 events
    # for each of the combined model's 2 coefficients.
    table, labels = own_table(50, np.random.default_rng(8))
    rng = np.random.default_rng(9)
    # A clinical marker that separates the outcome: no maximum-likelihood odds ratio exists.
    own_study(tmp_path, table, labels, sheet_columns={"marker": labels * 2.0 + rng.uniform(0, 1, len(labels))})
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["clinical"] = {"marker": "numeric"}
    write_config(tmp_path, config)

    result = snakemake(tmp_path, "results/clinical/metrics.csv", check=False)
    lines = radsnake_lines(result)
    assert result.returncode != 0
    # Before any fit, the check job warned of few events per coefficient (marker and the rad-score).
    split = pd.read_csv(tmp_path / "results" / "split.csv")
    train = labels[(split.sort_values("case_id")["set"] == "train").to_numpy()]
    events = min(train.sum(), (1 - train).sum())
    assert events < 20
    assert lines[0] == (
        f"radsnake: caution: the training set has {events} events (cases of its smaller label: {train.sum()} with "
        f"label 1, {(1 - train).sum()} with label 0) for the 2 coefficient(s) of the combined clinical + rad-score "
        f"model, {events / 2:.1f} per coefficient (fewer than 10 biases logistic coefficients and odds ratios): set "
        "clinical_model.penalty: firth (penalised, less biased with few events), declare fewer clinical columns, "
        "or add cases."
    ), lines
    assert len(lines) == 2 and lines[1].startswith("radsnake: clinical models on the training set: "), lines
    assert "separation" in lines[1] and "Set clinical_model.penalty: firth in the config" in lines[1], lines

    config["clinical_model"] = {"penalty": "firth"}
    write_config(tmp_path, config)
    snakemake(tmp_path, "results/clinical/metrics.csv", "results/clinical/multivariate.csv")
    metrics = pd.read_csv(tmp_path / "results" / "clinical" / "metrics.csv")
    assert {"clinical", "radiomics", "combined"} <= set(metrics["model"])
    odds = pd.read_csv(tmp_path / "results" / "clinical" / "multivariate.csv").set_index("term")["odds_ratio"]
    assert np.isfinite(odds["marker"]) and odds["marker"] > 1
