"""Class imbalance: balanced class weights by default, SMOTE inside training folds only."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from radsnake.ml.imbalance import FoldSMOTE
from radsnake.ml.models import build_pipeline, tune_model

SELECTION = [{"step": "zscore"}, {"step": "univariate", "p_threshold": 0.2}]


def imbalanced(n=60, p=8, seed=0):
    """One case in four has label 1; the first feature carries the signal."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 4 == 0).astype(int)
    X = rng.standard_normal((n, p))
    X[:, 0] += 1.5 * y
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(p)], index=[f"c{i:02d}" for i in range(n)]), y


@pytest.mark.parametrize("model", ["logistic", "svm", "random_forest", "decision_tree"])
def test_class_weights_are_the_default_and_smote_turns_them_off(model):
    default = build_pipeline(model, SELECTION, 0)
    assert [name for name, _ in default.steps] == ["zscore", "univariate", "clf"]
    weights = {k: v for k, v in default.get_params().items() if k.endswith("class_weight")}
    assert set(weights.values()) == {"balanced"}

    smote = build_pipeline(model, SELECTION, 0, imbalance="smote")
    assert [name for name, _ in smote.steps] == ["zscore", "univariate", "smote", "clf"]
    weights = {k: v for k, v in smote.get_params().items() if k.endswith("class_weight")}
    assert weights and set(weights.values()) == {None}
    assert smote.named_steps["smote"].random_state == 0


def test_unknown_imbalance_method():
    with pytest.raises(ValueError, match="oversample.*class_weight"):
        build_pipeline("logistic", SELECTION, 0, imbalance="oversample")


def test_smote_balances_the_training_rows_it_is_given():
    X, y = imbalanced()
    X_res, y_res = FoldSMOTE(random_state=0).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [45, 45]
    # The original rows come first, unchanged; the rest are synthetic minority cases.
    np.testing.assert_array_equal(X_res.iloc[: len(X)].to_numpy(), X.to_numpy())
    again, _ = FoldSMOTE(random_state=0).fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res, again)


def test_smote_neighbours_shrink_to_a_small_fold():
    X, y = imbalanced(n=16)  # 4 cases with label 1
    sampler = FoldSMOTE(random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert sampler.k_neighbors_ == 3 and np.bincount(y_res).tolist() == [12, 12]
    one = np.array([1] + [0] * 15)
    sampler = FoldSMOTE(random_state=0)
    X_res, y_res = sampler.fit_resample(X, one)
    assert sampler.k_neighbors_ == 0 and len(X_res) == 16


def test_smote_never_changes_predictions_of_held_out_rows():
    X, y = imbalanced()
    train, test = next(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    fitted = build_pipeline("logistic", SELECTION, 0, imbalance="smote").fit(X.iloc[train], y[train])
    # The same fitted steps with the sampler taken out: predict must not resample.
    without = Pipeline([(name, step) for name, step in fitted.steps if name != "smote"])
    np.testing.assert_array_equal(
        fitted.predict_proba(X.iloc[test]), without.predict_proba(X.iloc[test])
    )
    # SMOTE changed the fit: the same steps fitted on the unresampled rows differ.
    plain = build_pipeline("logistic", SELECTION, 0).set_params(clf__class_weight=None).fit(X.iloc[train], y[train])
    assert not np.allclose(plain.predict_proba(X.iloc[test]), fitted.predict_proba(X.iloc[test]))


def test_smote_sees_only_the_training_fold_rows(monkeypatch):
    X, y = imbalanced()
    seen = []
    original = FoldSMOTE.fit_resample

    def spy(self, X_fold, y_fold, **params):
        seen.append(frozenset(X_fold.index))  # the Pipeline hands on case ids (pandas output)
        return original(self, X_fold, y_fold, **params)

    monkeypatch.setattr(FoldSMOTE, "fit_resample", spy)
    best, _ = tune_model(X, y, "logistic", SELECTION, {"C": [0.1, 1.0]}, cv_folds=3, random_state=4,
                         imbalance="smote")
    folds = StratifiedKFold(3, shuffle=True, random_state=4).split(X, y)
    training_folds = {frozenset(X.index[train]) for train, _ in folds}
    # Two grid points per fold, then the refit on every training case.
    assert len(seen) == 2 * 3 + 1
    assert set(seen[:-1]) == training_folds
    assert seen[-1] == frozenset(X.index)
    seen.clear()
    best.predict_proba(X)
    assert seen == []
