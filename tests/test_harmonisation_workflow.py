"""The real workflow with ComBat harmonisation on, on a tiny cohort of real NIfTI files."""

from __future__ import annotations

import copy
import json

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from browser import assert_report_reads_in_a_browser
from conftest import FAST_CONFIG, make_study, planned_jobs, snakemake, write_config
from radsnake.cohort.harmonise import BATCH_COLUMN, COVARIATE_PREFIX, harmonisation_input

pytestmark = pytest.mark.workflow

N_CASES = 40
META = ["case_id", "label", "center", "age", "sex"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("harmonised")
    config = copy.deepcopy(FAST_CONFIG)
    # One model is enough here: harmonisation is the same first step of every model's Pipeline.
    config["models"]["enabled"] = ["logistic"]
    config["evaluation"] = {"bootstrap": 200}
    config["harmonisation"] = {"method": "combat", "covariates": ["age"]}
    make_study(workdir, N_CASES, config)
    snakemake(workdir)
    return workdir


def features_table(study):
    return pd.read_csv(study / "results" / "features.csv", dtype={"case_id": str, "center": str})


def test_figure_and_report(study):
    png = study / "results" / "figures" / "harmonisation.png"
    with Image.open(png) as image:
        assert round(image.info["dpi"][0]) == 300
        assert len(set(image.convert("L").getdata())) > 2
    assert (study / "results" / "figures" / "harmonisation.pdf").read_bytes().startswith(b"%PDF")
    snakemake(study, "--report", str(study / "report.html"))
    assert "harmonisation.png" in (study / "report.html").read_text(errors="replace")
    assert_report_reads_in_a_browser(study / "report.html")


def test_saved_model_holds_the_training_fitted_combat(study):
    folder = study / "results" / "models" / "logistic"
    card = json.loads((folder / "model.json").read_text())
    assert card["steps"][0] == "combat"
    assert card["extra"]["reserved_columns"] == {BATCH_COLUMN: "center", COVARIATE_PREFIX + "age": "age"}
    pipeline = joblib.load(folder / "model.joblib")
    combat = pipeline.named_steps["combat"]
    split = pd.read_csv(study / "results" / "split.csv", dtype=str)
    train_centres = sorted(set(features_table(study).merge(split).query("set == 'train'")["center"]))
    assert combat.batches_.tolist() == train_centres == ["A", "B"]

    # The harmonise_features rule fits the same ComBat as the model's final refit.
    parameters = pd.read_csv(study / "results" / "harmonisation" / "parameters.csv", dtype={"center": str})
    for j, centre in enumerate(combat.batches_):
        rows = parameters[parameters["center"] == centre]
        assert rows["feature"].tolist() == combat.get_feature_names_out().tolist()
        np.testing.assert_array_equal(rows["gamma_star"].to_numpy(), combat.gamma_star_[j])
        np.testing.assert_array_equal(rows["delta_star"].to_numpy(), combat.delta_star_[j])

    # Applying the saved model to the features table reproduces its predictions exactly.
    table = features_table(study).set_index("case_id")
    features = table[[c for c in table.columns if c not in META and not c.startswith("source_")]]
    X = harmonisation_input(features, str(study / "results" / "features.csv"), card["extra"]["harmonisation"])
    predictions = pd.read_csv(folder / "predictions.csv", dtype={"case_id": str}).set_index("case_id")
    np.testing.assert_array_equal(pipeline.predict_proba(X)[:, 1], predictions.loc[X.index, "probability"].to_numpy())


def test_harmonisation_tables(study):
    folder = study / "results" / "harmonisation"
    harmonised = pd.read_csv(folder / "harmonised_features.csv", dtype={"case_id": str, "center": str})
    table = features_table(study)
    assert harmonised["case_id"].tolist() == table["case_id"].tolist()
    external = harmonised[harmonised["center"] == "C"]
    assert set(external["set"]) == {"external"} and not external["seen_in_training"].any()
    # The unseen external centre is left exactly as extracted (unseen_batch: unadjusted).
    features = [c for c in harmonised.columns if c not in ("case_id", "set", "center", "seen_in_training")]
    original = table.set_index("case_id").loc[external["case_id"], features].to_numpy()
    np.testing.assert_array_equal(external[features].to_numpy(), original)
    seen = harmonised[harmonised["center"] != "C"].set_index("case_id")[features]
    assert not np.allclose(seen.to_numpy(), table.set_index("case_id").loc[seen.index, features].to_numpy())
    effect = pd.read_csv(folder / "centre_effect.csv").dropna()
    assert effect["eta2_after"].median() < 0.5 * effect["eta2_before"].median()
    pca = pd.read_csv(folder / "pca.csv")
    assert set(pca["stage"]) == {"before", "after"} and len(pca) == 2 * N_CASES


def test_editing_harmonisation_reruns_selection_and_models_not_extraction(study):
    config_file = study / "config.yaml"
    before = config_file.read_bytes()
    try:
        config = yaml.safe_load(before)
        config["harmonisation"]["parametric"] = False
        write_config(study, config)
        jobs = planned_jobs(study)
    finally:
        config_file.write_bytes(before)
    assert "extract_features" not in jobs and "split_cases" not in jobs, jobs
    assert {"harmonise_features", "select_features", "fit_model", "plot_harmonisation"} <= set(jobs), jobs
