import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from radsnake.ml import models
from radsnake.ml.models import (
    MODEL_NAMES,
    build_classifier,
    default_param_grid,
    feature_importance,
    resolve_param_grid,
    save_model,
    tune_model,
)
from radsnake.ml.selection import UnivariateFilter, build_selection

N_INFORMATIVE = 10


def radiomics_like(n=100, p=300, shift=1.0, seed=0):
    """Balanced outcome; the first N_INFORMATIVE features are shifted in cases, the rest noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.standard_normal((n, p))
    X[:, :N_INFORMATIVE] += shift * y[:, None]
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(p)]), y


def pipeline_C(pipeline):
    return pipeline.named_steps["clf"].C


FAST_SELECTION = [
    {"step": "zscore"},
    {"step": "variance", "threshold": 1e-8},
    {"step": "univariate", "test": "mannwhitney", "p_threshold": 0.05, "fdr": False},
    {"step": "correlation", "threshold": 0.9, "method": "spearman"},
    {"step": "lasso", "cv_folds": 3, "n_lambdas": 15, "rule": "1se"},
]


# --- classifiers and grids ------------------------------------------------------------

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_build_classifier_is_balanced_seeded_and_cloneable(name):
    clf = build_classifier(name, random_state=3)
    params = clf.get_params(deep=True)
    prefix = "estimator__" if name == "svm" else ""
    assert params[f"{prefix}class_weight"] == "balanced"
    assert params[f"{prefix}random_state"] == 3
    assert clone(clf).get_params(deep=False).keys() == clf.get_params(deep=False).keys()


def test_svm_gives_deterministic_probabilities():
    X, y = radiomics_like(n=60, p=5)
    first = build_classifier("svm", 0).fit(X, y).predict_proba(X)
    second = build_classifier("svm", 0).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="xgboost.*logistic"):
        build_classifier("xgboost", 0)
    with pytest.raises(ValueError, match="xgboost"):
        default_param_grid("xgboost")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_grids_are_prefixed_and_valid(name):
    grid = default_param_grid(name)
    prefix = "clf__estimator__" if name == "svm" else "clf__"
    assert grid and all(key.startswith(prefix) for key in grid)
    pipeline = Pipeline([("clf", build_classifier(name, 0))])
    pipeline.set_params(**{key: values[0] for key, values in grid.items()})


def test_expected_default_grids():
    assert default_param_grid("logistic") == {"clf__C": [0.01, 0.1, 1.0, 10.0, 100.0]}
    assert default_param_grid("random_forest") == {
        "clf__n_estimators": [100], "clf__min_samples_leaf": [1, 3],
    }
    assert default_param_grid("decision_tree") == {
        "clf__max_depth": [2, 3, 4, 5], "clf__min_samples_leaf": [1, 3, 5],
    }
    assert set(default_param_grid("svm")["clf__estimator__kernel"]) == {"linear", "rbf"}


def test_param_grid_override_merges_and_validates():
    grid = resolve_param_grid("svm", {"C": [0.5, 5], "kernel": "linear"})
    assert grid["clf__estimator__C"] == [0.5, 5]
    assert grid["clf__estimator__kernel"] == ["linear"]
    assert grid["clf__estimator__gamma"] == default_param_grid("svm")["clf__estimator__gamma"]
    assert resolve_param_grid("logistic", {"C": [3.0]}) == {"clf__C": [3.0]}
    assert resolve_param_grid("logistic", None) == default_param_grid("logistic")
    grid["clf__estimator__C"].append(99)  # the defaults are not shared mutable state
    assert 99 not in default_param_grid("svm")["clf__estimator__C"]
    with pytest.raises(ValueError, match="'Cs'.*allowed keys"):
        resolve_param_grid("logistic", {"Cs": [1]})


# --- tune_model end to end ------------------------------------------------------------

@pytest.fixture(scope="module")
def tuned_logistic(tmp_path_factory):
    X, y = radiomics_like()
    cache = tmp_path_factory.mktemp("cache")
    pipeline, cv_results = tune_model(
        X, y, "logistic", FAST_SELECTION, None, cv_folds=5, random_state=0, memory=str(cache),
    )
    return pipeline, cv_results, X, y


def test_tune_model_finds_signal(tuned_logistic):
    pipeline, cv_results, X, y = tuned_logistic
    assert cv_results["mean_test_score"].max() > 0.7
    selected = models.classifier_feature_names(pipeline, X.columns)
    informative = {f"f{i}" for i in range(N_INFORMATIVE)}
    assert len(selected) >= 3
    assert len(set(selected) & informative) / len(selected) >= 0.6
    assert list(pipeline.named_steps) == ["zscore", "variance", "univariate", "correlation", "lasso", "clf"]


def test_tune_model_cv_results_are_tidy(tuned_logistic):
    _, cv_results, _, _ = tuned_logistic
    assert list(cv_results.columns) == ["model", "params", "mean_test_score", "std_test_score", "rank"]
    assert len(cv_results) == 5
    assert cv_results["params"].tolist()[0] == '{"C": 0.01}'
    expected_rank = cv_results["mean_test_score"].rank(ascending=False, method="min").astype(int)
    assert cv_results["rank"].tolist() == expected_rank.tolist()
    best = cv_results.loc[cv_results["rank"] == 1, "params"].iloc[0]
    assert json.loads(best)["C"] == pytest.approx(pipeline_C(tuned_logistic[0]))


def test_tune_model_is_deterministic_and_cache_changes_nothing(tuned_logistic):
    pipeline, cv_results, X, y = tuned_logistic
    again, cv_again = tune_model(X, y, "logistic", FAST_SELECTION, {"C": [pipeline_C(pipeline)]},
                                 cv_folds=5, random_state=0)
    row = cv_results[cv_results["rank"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(cv_again.drop(columns="rank"), row.drop(columns="rank"))
    np.testing.assert_array_equal(again.predict_proba(X), pipeline.predict_proba(X))


def test_tune_model_each_model_runs():
    X, y = radiomics_like(n=60, p=40, shift=1.5)
    steps = [{"step": "zscore"}, {"step": "univariate", "p_threshold": 0.01}]
    grids = {
        "logistic": {"C": [1.0]},
        "svm": {"C": [1.0], "kernel": ["rbf"], "gamma": ["scale"]},
        "random_forest": {"n_estimators": [20], "max_depth": [3], "min_samples_leaf": [1]},
        "decision_tree": {"max_depth": [2]},
    }
    for name in MODEL_NAMES:
        pipeline, cv_results = tune_model(X, y, name, steps, grids[name], cv_folds=3, random_state=0)
        assert cv_results["mean_test_score"].iloc[0] > 0.7, name
        assert pipeline.predict_proba(X).shape == (60, 2)


# --- leakage --------------------------------------------------------------------------

def test_selection_inside_cv_does_not_leak_but_selection_before_cv_does():
    """Pure noise and random labels: honest CV must sit near AUC 0.5.

    Selecting the 'significant' features on all cases first and cross-validating only
    the classifier afterwards is the classic radiomics mistake; it reports a high AUC
    for features that carry no information at all.
    """
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.standard_normal((100, 1000)), columns=[f"n{i}" for i in range(1000)])
    y = rng.permutation(np.repeat([0, 1], 50))
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0)
    classifier = LogisticRegression(class_weight="balanced", max_iter=5000)

    honest = Pipeline([("zscore", StandardScaler()), ("univariate", UnivariateFilter()), ("clf", classifier)])
    honest_auc = cross_val_score(honest, X, y, cv=folds, scoring="roc_auc").mean()

    leaked_X = UnivariateFilter().fit_transform(X, y)
    leaky = Pipeline([("zscore", StandardScaler()), ("clf", classifier)])
    leaky_auc = cross_val_score(leaky, leaked_X, y, cv=folds, scoring="roc_auc").mean()

    assert 0.35 < honest_auc < 0.65
    assert leaky_auc > 0.8
    assert leaky_auc - honest_auc > 0.2

    # tune_model's own CV estimate (selection refitted per fold) is honest too.
    _, cv_results = tune_model(X, y, "logistic", [{"step": "zscore"}, {"step": "univariate"}], {"C": [0.1, 1.0]},
                               cv_folds=5, random_state=0)
    assert cv_results["mean_test_score"].max() < 0.65


# --- feature importance and saving ----------------------------------------------------

def small_fit(name, selection_steps=({"step": "zscore"}, {"step": "univariate", "p_threshold": 0.01}), **params):
    X, y = radiomics_like(n=80, p=30, shift=1.5)
    pipeline = Pipeline(build_selection(list(selection_steps), 0) + [("clf", build_classifier(name, 0))])
    pipeline.set_params(**{key: values[0] for key, values in resolve_param_grid(name, params).items()})
    return pipeline.fit(X, y), X


@pytest.mark.parametrize("name,params,kind", [
    ("logistic", {}, "coefficient"),
    ("svm", {"kernel": "linear"}, "coefficient"),
    ("random_forest", {"n_estimators": 20}, "impurity"),
    ("decision_tree", {}, "impurity"),
])
def test_feature_importance_kinds(name, params, kind):
    pipeline, X = small_fit(name, **params)
    importance = feature_importance(pipeline, X.columns)
    assert list(importance.columns) == ["feature", "importance", "kind"]
    assert list(importance["feature"]) == list(pipeline[:-1].get_feature_names_out(X.columns))
    assert set(importance["feature"]) <= {f"f{i}" for i in range(N_INFORMATIVE)} | set(X.columns)
    assert (importance["kind"] == kind).all()
    if kind == "coefficient":
        # Informative features are higher in cases, so their weights are positive.
        informative = importance["feature"].isin([f"f{i}" for i in range(N_INFORMATIVE)])
        assert (importance.loc[informative, "importance"] > 0).all()
    else:
        assert importance["importance"].sum() == pytest.approx(1.0)


def test_feature_importance_rbf_svm_is_empty():
    pipeline, X = small_fit("svm", kernel="rbf")
    importance = feature_importance(pipeline, X.columns)
    assert importance.empty
    assert list(importance.columns) == ["feature", "importance", "kind"]


def test_feature_importance_after_pca_uses_pc_names():
    pipeline, X = small_fit("logistic", ({"step": "zscore"}, {"step": "pca", "n_components": 3}))
    importance = feature_importance(pipeline, X.columns)
    assert list(importance["feature"]) == ["PC1", "PC2", "PC3"]


def test_save_model_round_trip_and_deterministic(tmp_path, tuned_logistic):
    pipeline, _, X, _ = tuned_logistic
    extra = {"model": "logistic", "cv_auc": np.float64(0.9), "seed": 0}
    save_model(pipeline, tmp_path / "a" / "model.joblib", tmp_path / "a" / "model.json", extra)
    save_model(pipeline, tmp_path / "b" / "model.joblib", tmp_path / "b" / "model.json", extra)
    text = (tmp_path / "a" / "model.json").read_text()
    assert text == (tmp_path / "b" / "model.json").read_text()

    card = json.loads(text)
    assert list(card) == sorted(card)
    assert set(card["versions"]) == {"numpy", "pandas", "radsnake", "scikit-learn", "scipy"}
    assert card["classifier"] == "LogisticRegression"
    assert card["classifier_params"]["C"] == pipeline_C(pipeline)
    assert card["selected_features"] == list(models.classifier_feature_names(pipeline))
    assert card["steps"] == ["zscore", "variance", "univariate", "correlation", "lasso", "clf"]
    assert card["extra"] == {"cv_auc": 0.9, "model": "logistic", "seed": 0}

    loaded = joblib.load(tmp_path / "a" / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
