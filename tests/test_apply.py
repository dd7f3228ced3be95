"""The frozen model bundle and applying it, on a small synthetic study (package imported
directly; the real workflow runs it in tests/test_workflow.py)."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

import radsnake.ml.apply as apply_module
from conftest import REPO
from radsnake.jobs.apply import apply_bundles, check_bundles, collect_features
from radsnake.jobs.bundle import write_bundle
from radsnake.io.cohort_sheet import load_cohort
from radsnake.core.errors import InputError
from radsnake.jobs.modelling import fit_model, select_features
from radsnake.core.tables import write_csv
from radsnake.ml.settings import ModelSearch, TrainingData

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "config", "schemas", "cohort.schema.yaml")
STEPS = [
    {"step": "zscore"},
    {"step": "variance", "threshold": 1e-8},
    {"step": "lasso", "cv_folds": 3, "n_lambdas": 10, "rule": "min"},
]
SETTINGS = {"seed": 1, "threshold": "youden", "target": 0.9, "permuted_labels": False}


def bundle_study(folder, X, y, steps=STEPS):
    """features.csv/split.csv of X, y (every 4th case in the test set), selection, one
    logistic model and its bundle, written to folder."""
    n = len(y)
    ids = [f"c{i:03d}" for i in range(n)]
    table = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    table.insert(0, "case_id", ids)
    table.insert(1, "label", y)
    table.insert(2, "center", np.where(np.arange(n) % 2, "A", "B"))
    write_csv(table, folder / "features.csv")
    write_csv(pd.DataFrame({"case_id": ids, "set": ["test" if i % 4 == 0 else "train" for i in range(n)]}),
              folder / "split.csv")
    params = folder / "params.yaml"
    params.write_text("setting:\n  binWidth: 25\n")
    f = {name: str(folder / name) for name in (
        "features.csv", "split.csv", "selected.csv", "coef.csv", "path.csv", "cv.csv", "radscore.csv",
        "radscore.joblib", "pred.csv", "model.joblib", "model.json", "cvres.csv", "imp.csv",
        "bundle.joblib", "bundle.json",
    )}
    training = TrainingData(f["features.csv"], f["split.csv"], [], permute=False, seed=1)
    select_features(training, steps, f["selected.csv"], f["coef.csv"], f["path.csv"], f["cv.csv"], f["radscore.csv"],
                    radscore_joblib=f["radscore.joblib"])
    fit_model(training, ModelSearch("logistic", steps, {"C": [1.0]}, cv_folds=3), 1,
              f["pred.csv"], f["model.joblib"], f["model.json"], f["cvres.csv"], f["imp.csv"])
    write_bundle("logistic", f["model.joblib"], f["model.json"], f["radscore.joblib"], f["features.csv"],
                 f["split.csv"], f["pred.csv"], f["radscore.csv"], [], str(params), [], SETTINGS,
                 f["bundle.joblib"], f["bundle.json"])
    f["params"] = str(params)
    f["folder"] = folder
    return f


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """80 cases whose labels follow f0 - f1."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 6))
    y = (X[:, 0] - X[:, 1] + rng.normal(scale=0.8, size=80) > 0).astype(int)
    return bundle_study(tmp_path_factory.mktemp("bundle"), X, y)


def bundles(study):
    return {"logistic": (study["bundle.joblib"], study["bundle.json"])}


def new_cases(study, tmp_path, drop=(), labels=True):
    """The study's test cases as a fresh sheet and feature table."""
    table = pd.read_csv(study["features.csv"], dtype={"case_id": str})
    split = pd.read_csv(study["split.csv"], dtype=str)
    test = table[table["case_id"].isin(split.loc[split["set"] == "test", "case_id"])]
    sheet = test[["case_id", "label"] if labels else ["case_id"]]
    sheet.to_csv(tmp_path / "new.csv", index=False)
    test.drop(columns=["label", "center", *drop]).to_csv(tmp_path / "own.csv", index=False)
    collect_features(str(tmp_path / "new.csv"), SCHEMA, str(tmp_path / "features.csv"),
                     table_path=str(tmp_path / "own.csv"))
    return str(tmp_path / "features.csv")


def test_bundle_card(study):
    card = json.loads(open(study["bundle.json"]).read())
    assert card["input_features"] == [f"f{j}" for j in range(6)]
    assert card["pyradiomics_params"]["settings"] == {"setting": {"binWidth": 25}}
    assert len(card["pyradiomics_params"]["sha256"]) == 64
    training = card["training"]
    assert training["n"] == 60 and training["centers"] == {"A": 40, "B": 20}
    train = pd.read_csv(study["features.csv"]).iloc[[i for i in range(80) if i % 4]]
    assert training["features"]["f0"]["mean"] == pytest.approx(train["f0"].mean(), abs=1e-12)
    assert training["features"]["f0"]["max"] == train["f0"].max()
    assert {"python", "numpy", "scikit-learn", "radsnake"} <= set(card["versions"])
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert card["radsnake_git"]["commit"] == head and isinstance(card["radsnake_git"]["dirty"], bool)
    assert card["config"]["seed"] == 1
    # The threshold is the one the evaluation fixes on the training set.
    assert 0 < card["thresholds"]["model"] < 1


def test_bundle_json_is_deterministic(study, tmp_path):
    f = study
    write_bundle("logistic", f["model.joblib"], f["model.json"], f["radscore.joblib"], f["features.csv"],
                 f["split.csv"], f["pred.csv"], f["radscore.csv"], [], f["params"], [], SETTINGS,
                 str(tmp_path / "b.joblib"), str(tmp_path / "b.json"))
    assert (tmp_path / "b.json").read_bytes() == open(f["bundle.json"], "rb").read()
    # tests/test_resume.py compares every file of results/, the pickles included.
    assert (tmp_path / "b.joblib").read_bytes() == open(f["bundle.joblib"], "rb").read()


def test_applied_model_reproduces_the_study(study, tmp_path):
    check_bundles(bundles(study), study["params"], True, str(tmp_path / "checks.json"))
    features = new_cases(study, tmp_path)
    apply_bundles(features, bundles(study), 0.95, str(tmp_path / "pred.csv"), str(tmp_path / "metrics.csv"))
    applied = pd.read_csv(tmp_path / "pred.csv", dtype={"case_id": str}).set_index("case_id")
    main = pd.read_csv(study["pred.csv"], dtype={"case_id": str}).set_index("case_id").loc[applied.index]
    radscore = pd.read_csv(study["radscore.csv"], dtype={"case_id": str}).set_index("case_id").loc[applied.index]
    assert np.max(np.abs(applied["probability"] - main["probability"])) <= 1e-12
    assert np.max(np.abs(applied["radscore"] - radscore["radscore"])) <= 1e-12
    assert (applied["label"] == main["label"]).all()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics["model"].tolist() == ["logistic", "radscore"]
    assert (metrics["n"] == 20).all() and metrics["auc"].between(0.5, 1).all()


def test_without_labels_only_predictions(study, tmp_path):
    features = new_cases(study, tmp_path, labels=False)
    apply_bundles(features, bundles(study), 0.95, str(tmp_path / "pred.csv"))
    assert list(pd.read_csv(tmp_path / "pred.csv").columns) == ["case_id", "model", "radscore", "probability", "no_signature"]
    with pytest.raises(InputError, match="no labels"):
        apply_bundles(features, bundles(study), 0.95, str(tmp_path / "p.csv"), str(tmp_path / "m.csv"))


def test_a_bundle_without_signature_is_marked(tmp_path):
    """Labels independent of the features: the bundle's LASSO keeps nothing, and every row
    of the applied predictions and metrics says so; no AUC interval is shown as one."""
    rng = np.random.default_rng(11)
    y = rng.permutation(np.r_[np.zeros(40, int), np.ones(40, int)])
    steps = [*STEPS[:-1], {**STEPS[-1], "rule": "1se"}]
    study = bundle_study(tmp_path, rng.normal(size=(80, 6)), y, steps)
    assert pd.read_csv(study["radscore.csv"])["no_signature"].str.startswith("no signature").all()
    features = new_cases(study, tmp_path)
    apply_bundles(features, bundles(study), 0.95, str(tmp_path / "p.csv"), str(tmp_path / "m.csv"))
    predictions, metrics = pd.read_csv(tmp_path / "p.csv"), pd.read_csv(tmp_path / "m.csv")
    assert predictions["no_signature"].str.startswith("no signature: model logistic's selection kept no").all()
    assert metrics["model"].tolist() == ["logistic", "radscore"]
    assert metrics["no_signature"].str.startswith("no signature").all()
    assert metrics["auc_ci_reason"].str.startswith("no signature").all()


def test_missing_feature_refused(study, tmp_path):
    features = new_cases(study, tmp_path, drop=["f1"])
    with pytest.raises(InputError) as err:
        apply_bundles(features, bundles(study), 0.95, str(tmp_path / "pred.csv"))
    assert "lacks 1 of the 6 feature column(s)" in str(err.value) and "['f1']" in str(err.value)
    assert features in str(err.value) and not (tmp_path / "pred.csv").exists()


def test_other_params_refused(study, tmp_path):
    other = tmp_path / "params.yaml"
    other.write_text("setting:\n  binWidth: 50\n")
    with pytest.raises(InputError) as err:
        check_bundles(bundles(study), str(other), False, str(tmp_path / "checks.json"))
    message = str(err.value)
    assert f"params file {other}" in message and "differs from the one" in message
    assert study["bundle.json"] in message and "pyradiomics_params.text" in message
    assert not (tmp_path / "checks.json").exists()


def test_other_scikit_learn_or_radsnake_major_refused(study, tmp_path, monkeypatch):
    monkeypatch.setattr(apply_module.sklearn, "__version__", "0.0.1")
    monkeypatch.setattr(apply_module.radsnake, "__version__", "99.0.0")
    with pytest.raises(InputError) as err:
        check_bundles(bundles(study), study["params"], False, str(tmp_path / "checks.json"))
    assert "2 problem(s)" in str(err.value)
    assert "this environment has 0.0.1" in str(err.value) and "another major version" in str(err.value)


def test_edited_card_refused(study, tmp_path):
    card = tmp_path / "bundle.json"
    card.write_text(open(study["bundle.json"]).read().replace('"seed": 1', '"seed": 2'))
    with pytest.raises(InputError, match="does not describe"):
        check_bundles({"logistic": (study["bundle.joblib"], str(card))}, study["params"], False,
                      str(tmp_path / "checks.json"))


def test_new_sheet_labels_optional(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("case_id,center\nx1,A\nx2,B\n")
    cohort = load_cohort(str(path), SCHEMA, {}, need_images=False, labels_required=False)
    assert cohort["label"].isna().all()
    path.write_text("case_id,label\nx1,\nx2,\n")
    assert load_cohort(str(path), SCHEMA, {}, need_images=False, labels_required=False)["label"].isna().all()
    path.write_text("case_id,label\nx1,1\nx2,\n")
    with pytest.raises(InputError, match=r"row 3 \(case_id 'x2'\): 'label' is empty"):
        load_cohort(str(path), SCHEMA, {}, need_images=False, labels_required=False)
    # The study's own sheet still needs its labels.
    path.write_text("case_id,center\nx1,A\n")
    with pytest.raises(InputError, match="lacks the column"):
        load_cohort(str(path), SCHEMA, {}, need_images=False)
