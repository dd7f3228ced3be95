"""Internal validation and SMOTE through the real workflow, on a small own-features table."""

import copy
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from browser import assert_report_reads_in_a_browser
from conftest import FAST_CONFIG, planned_jobs, snakemake, write_config
from interval_checks import equal_bound_rows_without_reason, intervals_shown_with_equal_bounds, report_texts

pytestmark = pytest.mark.workflow

MODELS = ["logistic", "decision_tree"]
SETTINGS = {
    "enabled": True,
    "folds": 3,
    "repeats": 2,
    "nested_outer_folds": 3,
    "bootstrap": 4,
    "learning_curve_sizes": [0.6, 1.0],
    "learning_curve_repeats": 1,
}
# What these tests read: the other figures and paper tables are left out to keep the run short.
TARGETS = [
    "results/validation/summary.csv",
    "results/figures/validation_auc.png",
    "results/figures/learning_curves.png",
    "results/evaluation/metrics.csv",
]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("validation")
    rng = np.random.default_rng(11)
    n = 60
    labels = (np.arange(n) % 3 == 0).astype(int)  # one case in three: imbalanced
    features = rng.normal(size=(n, 20))
    features[:, 0] += 1.5 * labels
    features[:, 1] -= 1.2 * labels
    table = pd.DataFrame(features, columns=[f"own_{i}" for i in range(20)])
    table.insert(0, "case_id", [f"pt{i:02d}" for i in range(n)])
    table.to_csv(root / "own_features.csv", index=False)
    pd.DataFrame({"case_id": table["case_id"], "label": labels, "center": "H1"}).to_csv(
        root / "cohort.csv", index=False
    )
    config = copy.deepcopy(FAST_CONFIG)
    config.update(cohort="cohort.csv", features_table="own_features.csv", clinical={}, validation=SETTINGS)
    config["split"] = {"method": "random", "test_fraction": 0.3}
    config["models"]["enabled"] = MODELS
    config["models"]["imbalance"] = "smote"
    config["resources"]["model_threads"] = 2
    write_config(root, config)
    snakemake(root, *TARGETS)
    return root


def test_summary_has_every_estimate_per_model(study):
    summary = pd.read_csv(study / "results" / "validation" / "summary.csv")
    assert summary["model"].tolist() == MODELS
    for column in ("apparent_auc", "corrected_auc", "cv_auc_mean", "nested_auc"):
        assert summary[column].between(0, 1).all(), column
    assert np.allclose(summary["corrected_auc"], summary["apparent_auc"] - summary["optimism"])
    assert (summary["optimism_low"] <= summary["optimism_high"]).all()
    assert (summary["cv_auc_sd"] > 0).all() and (summary["bootstrap_resamples"] == 4).all()
    # The signal is real: honest estimates beat chance on average.
    assert (summary["cv_auc_mean"] > 0.6).all(), summary.to_string()


def test_apparent_auc_is_the_fitted_models_training_auc(study):
    # Validation rebuilt exactly the pipeline fit_model tuned (SMOTE included).
    summary = pd.read_csv(study / "results" / "validation" / "summary.csv").set_index("model")
    metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv")
    train = metrics[metrics["set"] == "train"].set_index("model")
    for model in MODELS:
        assert summary.loc[model, "apparent_auc"] == pytest.approx(train.loc[model, "auc"], abs=1e-12)
        assert summary.loc[model, "n_train"] == train.loc[model, "n"]


def test_per_model_tables(study):
    for model in MODELS:
        folder = study / "results" / "validation" / model
        assert len(pd.read_csv(folder / "repeated_cv.csv")) == 2 * 3
        assert pd.read_csv(folder / "repeated_cv_repeats.csv")["repeat"].tolist() == [1, 2]
        nested = pd.read_csv(folder / "nested_cv.csv")
        assert len(nested) == 3 and nested["params"].str.startswith("{").all()
        boot = pd.read_csv(folder / "bootstrap.csv")
        assert list(boot.columns) == ["resample", "auc_bootstrap", "auc_original", "optimism", "params", "no_signature"]
        assert len(boot) == 4
        curve = pd.read_csv(folder / "learning_curve.csv")
        assert sorted(set(curve["size"])) == [0.6, 1.0] and len(curve) == 2 * 3


def test_tables_do_not_depend_on_chunks_or_cores(study, tmp_path):
    # The fixture dealt the fits into the default 8 validate_chunk jobs run two at a time;
    # here 3 chunks run one at a time, from the inputs alone.
    other = tmp_path / "rechunked"
    shutil.copytree(study, other, ignore=shutil.ignore_patterns("results", "logs", "benchmarks", ".snakemake"))
    config = yaml.safe_load((other / "config.yaml").read_text())
    config["validation"]["chunks"] = 3
    write_config(other, config)
    names = ["repeated_cv", "repeated_cv_repeats", "nested_cv", "bootstrap", "learning_curve", "summary"]
    tables = [f"results/validation/{model}/{name}.csv" for model in MODELS for name in names]
    snakemake(other, "--cores", "1", *tables)
    for table in tables:
        assert (other / table).read_bytes() == (study / table).read_bytes(), table
    assert len(list((study / "results" / "validation" / "chunks").glob("*.json"))) == 8
    assert sorted(p.name for p in (other / "results" / "validation" / "chunks").glob("*.json")) == [
        "1.json", "2.json", "3.json"]
    # Each chunk job logs its progress: resamples done and the time left.
    assert "internal validation chunk 2 of 3: 5 of 5 resamples fitted in" in (
        other / "logs" / "validate_chunk" / "2.log").read_text()


def test_smote_is_in_the_fitted_models(study):
    for model in MODELS:
        info = json.loads((study / "results" / "models" / model / "model.json").read_text())
        assert info["steps"][-2:] == ["smote", "clf"]
        assert info["extra"]["imbalance"] == "smote"
        assert info["classifier_params"]["class_weight"] is None


@pytest.mark.parametrize("name", ["validation_auc", "learning_curves"])
def test_figures_in_the_report(study, name):
    with Image.open(study / "results" / "figures" / f"{name}.png") as image:
        assert round(image.info["dpi"][0]) == 300
        assert len(set(image.convert("L").getdata())) > 2
    assert (study / "results" / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_report_has_the_validation(study):
    snakemake(study, "--report", str(study / "report.html"), *TARGETS)
    html = (study / "report.html").read_text(errors="replace")
    for name in ("validation_auc.png", "learning_curves.png", "summary.csv", "Internal validation"):
        assert name in html
    # No interval of zero width shown as one in the validation's tables and pages (issue 18).
    assert equal_bound_rows_without_reason(study / "results") == []
    assert [shown for text in report_texts(html) for shown in intervals_shown_with_equal_bounds(text)] == []
    assert_report_reads_in_a_browser(study / "report.html")


def test_switching_validation_off_plans_no_validation_job(study):
    switch = study / "off.yaml"
    switch.write_text("validation:\n  enabled: false\n")
    assert planned_jobs(study, *TARGETS) == {}
    jobs = planned_jobs(study, "--configfile", str(switch), "--forceall")
    assert "validate_model" not in jobs and "fit_model" in jobs


def test_editing_validation_settings_reruns_only_the_validation(study):
    switch = study / "more.yaml"
    switch.write_text("validation:\n  bootstrap: 5\n")
    # Targets first: --configfile takes every word after it.
    jobs = planned_jobs(study, *TARGETS, "--configfile", str(switch))
    assert set(jobs) == {"validate_chunk", "validate_model", "summarise_validation", "plot_validation_auc",
                         "plot_learning_curves"}
    assert jobs["validate_model"] == len(MODELS) and jobs["validate_chunk"] == 8
