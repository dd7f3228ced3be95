"""ComBat: reference test against neuroCombat, no leakage, unseen centres, Pipeline wiring."""

from __future__ import annotations

import importlib
import json
import os

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from radsnake.cohort import harmonise
from radsnake.core.errors import InputError
from radsnake.cohort.harmonise import BATCH_COLUMN, COVARIATE_PREFIX, ComBat, harmonisation_input
from radsnake.jobs.modelling import fit_model, select_features
from radsnake.ml.models import tune_model
from radsnake.ml.settings import ModelSearch, TrainingData

AGE = COVARIATE_PREFIX + "age"
SEX = COVARIATE_PREFIX + "sex"
# Differences seen against neuroCombat are ~2e-14; the tolerance leaves room for BLAS.
TOL = 1e-10


def neurocombat():
    """neuroCombat 0.2.12, a test-only dependency (envs/install.sh --test); CI must have it."""
    try:
        return importlib.import_module("neuroCombat.neuroCombat")
    except ImportError:
        msg = "neuroCombat is not installed: run `bash envs/install.sh --test` (pins neuroCombat==0.2.12)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def from_training(module, dat, batch, estimates):
    """neuroCombatFromTraining, run as published.

    neuroCombat 0.2.12 predates NumPy 2, where ``int()`` of a one-element 1-d array (its
    ``int(np.where(levels == x)[0])``) became an error. For the duration of the call its
    module sees a numpy whose ``where`` returns that single index as a 0-d array, which
    ``int()`` accepts; nothing else changes.
    """

    class Numpy2Compatible:
        def __getattr__(self, name):
            return getattr(np, name)

        def where(self, *args):
            found = np.where(*args)
            if len(args) == 1 and found[0].size == 1:
                return (found[0].reshape(()),)
            return found

    module.np = Numpy2Compatible()
    try:
        return module.neuroCombatFromTraining(dat, batch, estimates)
    finally:
        module.np = np


def cohort(n_per_batch=(24, 20, 16), n_features=25, seed=0):
    """Features with a label effect, an age effect, a sex effect and centre location/scale effects.

    Ages are whole years: neuroCombat casts continuous covariates to float32, exact for them.
    """
    rng = np.random.default_rng(seed)
    batch = np.repeat(["A", "B", "C"][: len(n_per_batch)], n_per_batch)
    n = batch.size
    y = rng.integers(0, 2, n)
    age = rng.integers(40, 80, n).astype(float)
    sex = rng.choice(["F", "M"], n)
    base = (rng.normal(size=(n, n_features)) + 0.8 * y[:, None] * rng.normal(size=n_features)
            + 0.03 * age[:, None] + 0.4 * (sex == "M")[:, None])
    shift = {"A": 0.0, "B": 1.5, "C": -1.0}
    scale = {"A": 1.0, "B": 2.0, "C": 0.6}
    values = np.array([base[i] * scale[b] + shift[b] + 10.0 for i, b in enumerate(batch)])
    X = pd.DataFrame(values, columns=[f"f{i}" for i in range(n_features)], index=[f"P{i:03d}" for i in range(n)])
    X.insert(0, SEX, sex)
    X.insert(0, AGE, age)
    X.insert(0, BATCH_COLUMN, batch)
    return X, y


def feature_values(X):
    return X.drop(columns=[BATCH_COLUMN, AGE, SEX]).to_numpy()


def reference_fit(module, X, y, parametric):
    covars = pd.DataFrame({"batch": X[BATCH_COLUMN].to_numpy(), "label": y, "sex": X[SEX].to_numpy(),
                           "age": X[AGE].to_numpy()})
    return module.neuroCombat(feature_values(X).T.copy(), covars, "batch", categorical_cols=["label", "sex"],
                              continuous_cols=["age"], parametric=parametric)


def ours(parametric, **kwargs):
    return ComBat(categorical_covariates=(SEX,), continuous_covariates=(AGE,), parametric=parametric, **kwargs)


# --- reference: neuroCombat ----------------------------------------------------------


@pytest.mark.parametrize("parametric", [True, False], ids=["parametric", "nonparametric"])
def test_fit_transform_matches_neurocombat(parametric):
    module = neurocombat()
    X, y = cohort()
    reference = reference_fit(module, X, y, parametric)
    combat = ours(parametric)
    harmonised = combat.fit_transform(X, y)
    np.testing.assert_allclose(harmonised, reference["data"].T, rtol=0, atol=TOL)
    estimates = reference["estimates"]
    np.testing.assert_allclose(combat.gamma_star_, estimates["gamma.star"], rtol=0, atol=TOL)
    np.testing.assert_allclose(combat.delta_star_, estimates["delta.star"], rtol=0, atol=TOL)
    np.testing.assert_allclose(combat.var_pooled_, estimates["var.pooled"][:, 0], rtol=TOL)
    np.testing.assert_allclose(combat.grand_mean_, estimates["stand.mean"][:, 0], rtol=0, atol=TOL)
    assert combat.batches_.tolist() == [str(b) for b in estimates["batches"]]
    # The harmonisation did something: the centres' means moved together.
    before = pd.DataFrame(feature_values(X)).groupby(X[BATCH_COLUMN].to_numpy()).mean()
    after = pd.DataFrame(harmonised).groupby(X[BATCH_COLUMN].to_numpy()).mean()
    assert after.std().mean() < 0.25 * before.std().mean()


@pytest.mark.parametrize("parametric", [True, False], ids=["parametric", "nonparametric"])
def test_transform_of_held_out_cases_matches_neurocombat_from_training(parametric):
    module = neurocombat()
    X, y = cohort()
    held_out, _ = cohort(n_per_batch=(5, 4, 3), seed=7)  # new cases from the same three centres
    held_out = held_out.iloc[::-1]  # centres in any order
    reference = reference_fit(module, X, y, parametric)
    expected = from_training(module, feature_values(held_out).T.copy(), held_out[BATCH_COLUMN].to_numpy(),
                             reference["estimates"])["data"].T
    combat = ours(parametric).fit(X, y)
    np.testing.assert_allclose(combat.transform(held_out), expected, rtol=0, atol=TOL)


def test_transform_holds_covariates_at_their_training_mean():
    """The one documented difference between the two outputs for the training cases.

    neuroCombat() keeps each case's own covariate effect c_i; neuroCombatFromTraining(),
    and so transform(), which cannot use a new case's label, uses the training mean c.
    For a case of centre b they differ by exactly (c_i - c)(1 - 1/sqrt(delta*_b)).
    """
    X, y = cohort()
    combat = ours(True)
    own = combat.fit_transform(X, y)
    mean_effect = combat.transform(X)
    features = feature_values(X)
    design = np.column_stack([y == 1, X[SEX] == "M", X[AGE]]).astype(float)
    onehot = pd.get_dummies(X[BATCH_COLUMN]).to_numpy(float)
    full = np.hstack([onehot, design])
    coef = np.linalg.lstsq(full, features, rcond=None)[0]
    effect = design @ coef[3:]
    delta = combat.delta_star_[np.searchsorted(combat.batches_, X[BATCH_COLUMN])]
    expected = (effect - effect.mean(axis=0)) * (1 - 1 / np.sqrt(delta))
    np.testing.assert_allclose(own - mean_effect, expected, rtol=0, atol=1e-9)


def test_nonparametric_does_not_underflow_with_large_centres():
    X, y = cohort(n_per_batch=(400, 300), n_features=12)
    harmonised = ours(False).fit_transform(X, y)
    assert np.isfinite(harmonised).all()


# --- fitted on training cases only ---------------------------------------------------


def learned(combat):
    return {key: np.array(value, copy=True) for key, value in vars(combat).items() if key.endswith("_")
            and not isinstance(value, dict)}


def test_held_out_cases_change_nothing_learned():
    X, y = cohort()
    train = np.arange(len(y)) % 3 != 0
    combat = ours(True).fit(X[train], y[train])
    state = learned(combat)
    held_out = X[~train].copy()
    first = combat.transform(held_out)
    held_out.iloc[:, 3:] = held_out.iloc[:, 3:] * 5 + 100  # any other held-out values
    combat.transform(held_out)
    for key, value in learned(combat).items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    # Each held-out case is harmonised on its own: the others do not change its values.
    np.testing.assert_array_equal(combat.transform(X[~train].iloc[[4]]), first[[4]])
    # And refitting on the same training rows with other held-out rows around gives the same.
    again = ours(True).fit(X[train], y[train])
    for key, value in learned(again).items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)


def test_training_labels_are_used_and_test_labels_are_not():
    X, y = cohort()
    a = ours(True).fit(X, y)
    b = ours(True).fit(X, 1 - y)  # the same grouping: the protected covariate is identical
    np.testing.assert_allclose(a.gamma_star_, b.gamma_star_, rtol=0, atol=1e-12)
    c = ours(True).fit(X, np.roll(y, 5))
    assert not np.allclose(a.gamma_star_, c.gamma_star_)
    # transform takes no labels at all.
    with pytest.raises(TypeError):
        a.transform(X, y)


def test_refitted_inside_every_cv_fold(monkeypatch):
    """tune_model puts ComBat first, so GridSearchCV fits it on each fold's training rows only."""
    X, y = cohort(n_per_batch=(30, 30, 24), n_features=15)
    fitted_rows = []
    original = ComBat.estimate

    def recording(self, X, y):
        fitted_rows.append(list(X.index))
        return original(self, X, y)

    monkeypatch.setattr(ComBat, "estimate", recording)
    settings = {"method": "combat", "covariates": ["age"], "covariate_types": {"age": "numeric"}}
    best, cv_results = tune_model(X.drop(columns=[SEX]), y, "logistic", [{"step": "zscore"}], {"C": [0.1, 1.0]},
                                  cv_folds=3, random_state=0, harmonisation=settings)
    assert list(best.named_steps)[0] == "combat"
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y)
    expected = [sorted(X.index[train]) for train, _ in folds]
    # 3 folds x 2 grid points, then the refit on every training case.
    assert len(fitted_rows) == 7
    assert sorted(sorted(rows) for rows in fitted_rows[:6]) == sorted(expected * 2)
    assert sorted(fitted_rows[6]) == sorted(X.index)


# --- centres not seen in training ----------------------------------------------------


def split_off_centre_c():
    X, y = cohort()
    seen = X[BATCH_COLUMN] != "C"
    return X[seen], y[seen.to_numpy()], X[~seen]


def test_unseen_centre_left_unadjusted_by_default():
    X, y, external = split_off_centre_c()
    combat = ours(True).fit(X, y)
    assert combat.unseen_batch == "unadjusted"
    np.testing.assert_array_equal(combat.transform(external), feature_values(external))


def test_unseen_centre_refused_on_request():
    X, y, external = split_off_centre_c()
    with pytest.raises(InputError, match=r"'C': 16.*not in the training set"):
        ours(True, unseen_batch="refuse").fit(X, y).transform(external)


def test_unseen_centre_own_location_and_scale():
    X, y, external = split_off_centre_c()
    combat = ours(True, unseen_batch="self", empirical_bayes=False).fit(X, y)
    harmonised = combat.transform(external)
    # Without shrinkage the new centre lands exactly on the training centre and scale.
    np.testing.assert_allclose(harmonised.mean(axis=0), combat.grand_mean_ + combat.covariate_mean_, atol=1e-9)
    np.testing.assert_allclose(harmonised.var(axis=0, ddof=1), combat.var_pooled_, rtol=1e-9)
    with pytest.raises(InputError, match="needs at least 2 cases"):
        combat.transform(external.iloc[:1])
    # With shrinkage it moves most of the way.
    shrunk = ours(True, unseen_batch="self").fit(X, y).transform(external)
    target = combat.grand_mean_ + combat.covariate_mean_
    before = np.abs(feature_values(external).mean(axis=0) - target).mean()
    assert np.abs(shrunk.mean(axis=0) - target).mean() < 0.2 * before


# --- conventions and bad input -------------------------------------------------------


def test_sklearn_conventions_and_determinism():
    X, y = cohort()
    combat = ours(False, unseen_batch="self")
    assert clone(combat).get_params() == combat.get_params()
    assert not [key for key in vars(combat) if key.endswith("_")]  # __init__ only stores
    first = combat.fit_transform(X, y)
    np.testing.assert_array_equal(clone(combat).fit_transform(X, y), first)
    assert combat.get_feature_names_out().tolist() == [f"f{i}" for i in range(25)]
    frame = clone(combat).set_output(transform="pandas").fit(X, y).transform(X)
    assert list(frame.columns) == [f"f{i}" for i in range(25)] and list(frame.index) == list(X.index)


def test_constant_feature_in_a_centre_is_left_unadjusted():
    X, y = cohort()
    X["f3"] = np.where(X[BATCH_COLUMN] == "B", 7.0, X["f3"])
    combat = ours(True).fit(X, y)
    assert not combat.adjusted_[3] and combat.adjusted_.sum() == 24
    np.testing.assert_array_equal(combat.transform(X)[:, 3], X["f3"].to_numpy())


def test_bad_input_is_named():
    X, y = cohort()
    with pytest.raises(InputError, match="one centre only"):
        ours(True).fit(X[X[BATCH_COLUMN] == "A"], y[(X[BATCH_COLUMN] == "A").to_numpy()])
    keep = (X[BATCH_COLUMN] != "C").to_numpy() | (np.arange(len(y)) == len(y) - 1)
    with pytest.raises(InputError, match=r"\['C'\] have fewer than 2 training cases"):
        ours(True).fit(X[keep], y[keep])
    confounded = X.copy()
    confounded[SEX] = np.where(confounded[BATCH_COLUMN] == "A", "F", "M")
    with pytest.raises(InputError, match="confounded with the centres"):
        ours(True).fit(confounded, y)
    with pytest.raises(ValueError, match="needs the labels"):
        ours(True).fit(X)
    with pytest.raises(ValueError, match="no column '__batch__'"):
        ours(True).fit(X.drop(columns=[BATCH_COLUMN]), y)
    missing_age = X.copy()
    missing_age.loc["P004", AGE] = np.nan
    with pytest.raises(InputError, match=r"'__covariate__age' is missing for case\(s\) \['P004'\]"):
        ours(True).fit(missing_age, y)


def test_harmonisation_input_names_cases_without_a_centre():
    features = pd.DataFrame({"f0": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="case_id"))
    table = pd.DataFrame({"case_id": ["a", "b"], "center": ["X", None]})
    with pytest.raises(InputError, match=r"\['b'\] have no 'center' value"):
        harmonisation_input(features, table, {"method": "combat"})
    assert harmonisation_input(features, table, {"method": "none"}) is features
    assert harmonisation_input(features, table, None) is features


# --- the modelling stage with harmonisation on ---------------------------------------


def test_selection_and_saved_model_carry_the_fitted_combat(tmp_path):
    X, y = cohort(n_per_batch=(36, 30, 24), n_features=20)
    table = X.drop(columns=[BATCH_COLUMN, AGE, SEX]).copy()
    table.insert(0, "age", X[AGE].to_numpy())
    table.insert(0, "center", X[BATCH_COLUMN].to_numpy())
    table.insert(0, "label", y)
    table.insert(0, "case_id", X.index)
    features_csv, split_csv = tmp_path / "features.csv", tmp_path / "split.csv"
    table.to_csv(features_csv, index=False)
    sets = np.where(X[BATCH_COLUMN] == "C", "external", np.where(np.arange(len(y)) % 4 == 0, "test", "train"))
    pd.DataFrame({"case_id": X.index, "set": sets}).to_csv(split_csv, index=False)
    settings = {"method": "combat", "parametric": True, "empirical_bayes": True, "batch_column": "center",
                "protect_label": True, "covariates": ["age"], "covariate_types": {"age": "numeric"},
                "unseen_batch": "unadjusted"}
    steps = [{"step": "zscore"}, {"step": "lasso", "cv_folds": 3, "n_lambdas": 10}]
    out = {name: str(tmp_path / name) for name in ("selected.csv", "coefficients.csv", "path.csv", "cv.csv",
                                                    "radscore.csv", "predictions.csv", "model.joblib", "model.json",
                                                    "cv_results.csv", "importance.csv")}
    training = TrainingData(str(features_csv), str(split_csv), ["age"], permute=False, seed=0, harmonisation=settings)
    select_features(training, steps, out["selected.csv"], out["coefficients.csv"], out["path.csv"], out["cv.csv"],
                    out["radscore.csv"])
    assert pd.read_csv(out["radscore.csv"])["radscore"].notna().all()
    fit_model(training, ModelSearch("logistic", steps, {"C": [1.0]}, cv_folds=3), 1,
              out["predictions.csv"], out["model.joblib"], out["model.json"], out["cv_results.csv"],
              out["importance.csv"])
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["steps"][0] == "combat"
    assert card["extra"]["reserved_columns"] == {BATCH_COLUMN: "center", AGE: "age"}
    assert set(pd.read_csv(out["importance.csv"])["feature"]) <= set(table.columns[4:])
    # The saved Pipeline, applied later to the same cases, reproduces the predictions.
    pipeline = joblib.load(out["model.joblib"])
    train = sets == "train"
    reference = ComBat(continuous_covariates=(AGE,)).fit(X.drop(columns=[SEX])[train], y[train])
    np.testing.assert_array_equal(pipeline.named_steps["combat"].gamma_star_, reference.gamma_star_)
    design = pd.read_csv(features_csv, dtype={"case_id": str}).set_index("case_id")
    model_input = harmonise.harmonisation_input(design.drop(columns=["label", "center", "age"]), str(features_csv),
                                                settings)
    predictions = pd.read_csv(out["predictions.csv"])
    np.testing.assert_array_equal(pipeline.predict_proba(model_input)[:, 1], predictions["probability"].to_numpy())
