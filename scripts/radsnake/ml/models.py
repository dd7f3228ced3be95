"""Classifiers, their tuning grids, and tuning of selection + classifier as one Pipeline.

Selection runs inside the Pipeline that GridSearchCV cross-validates, so every CV score
comes from features chosen without seeing that fold's validation cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import radsnake
from radsnake.cohort.harmonise import harmonisation_steps
from radsnake.ml.platt import PlattSVC
from radsnake.ml.selection import build_selection

MODEL_NAMES = ("logistic", "svm", "random_forest", "decision_tree")
# How the classifiers meet unequal outcome groups (docs/validation.md): balanced class
# weights, or SMOTE oversampling of training folds with unweighted classifiers.
IMBALANCE_METHODS = ("class_weight", "smote")

_DEFAULT_GRIDS = {
    "logistic": {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
    "svm": {"kernel": ["linear", "rbf"], "C": [0.1, 1.0, 10.0], "gamma": ["scale", 0.01]},
    # Forests are little tuned and gain little beyond 100 trees (docs/validation.md, "Defaults").
    "random_forest": {"n_estimators": [100], "min_samples_leaf": [1, 3]},
    "decision_tree": {"max_depth": [2, 3, 4, 5], "min_samples_leaf": [1, 3, 5]},
}


def _check_model_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; allowed models: {list(MODEL_NAMES)}")


def build_classifier(name: str, random_state: int, class_weight: str | None = "balanced") -> BaseEstimator:
    """An unfitted classifier; class_weight='balanced' because outcome groups are rarely equal.

    ``class_weight=None`` is for training data already balanced by oversampling (SMOTE):
    weighting on top of it would count the minority twice.
    """
    _check_model_name(name)
    if name == "logistic":
        return LogisticRegression(class_weight=class_weight, max_iter=5000, random_state=random_state)
    if name == "svm":
        # Platt scaling on out-of-fold decision values (unshuffled folds, so deterministic),
        # its slope kept non-negative so that probabilities rank as the SVM does (radsnake.ml.platt).
        return PlattSVC(SVC(class_weight=class_weight, random_state=random_state), random_state=random_state)
    if name == "random_forest":
        return RandomForestClassifier(class_weight=class_weight, random_state=random_state)
    return DecisionTreeClassifier(class_weight=class_weight, random_state=random_state)


def _final_estimator(clf: BaseEstimator) -> BaseEstimator:
    """The SVC inside the calibration wrapper, or the classifier itself."""
    if isinstance(clf, PlattSVC):
        return getattr(clf, "estimator_", clf.estimator)
    return clf


def _grid_prefix(name: str) -> str:
    return "clf__estimator__" if name == "svm" else "clf__"


def default_param_grid(name: str) -> dict[str, list]:
    """A modest default grid, keys prefixed for the Pipeline's ``clf`` step."""
    _check_model_name(name)
    return {f"{_grid_prefix(name)}{key}": list(values) for key, values in _DEFAULT_GRIDS[name].items()}


def resolve_param_grid(name: str, override: dict | None) -> dict[str, list]:
    """Default grid with the config's unprefixed keys (e.g. ``{"C": [...]}``) replacing defaults."""
    grid = default_param_grid(name)
    allowed = _final_estimator(build_classifier(name, random_state=0)).get_params(deep=False)
    for key, values in (override or {}).items():
        if key not in allowed:
            raise ValueError(f"param_grid for {name!r}: unknown key {key!r}; allowed keys: {sorted(allowed)}")
        grid[f"{_grid_prefix(name)}{key}"] = list(values) if isinstance(values, (list, tuple)) else [values]
    return grid


def params_text(params: dict) -> str:
    """Grid point as stable JSON with the Pipeline prefix removed, for tables and logs."""
    return json.dumps({key.rsplit("__", 1)[-1]: value for key, value in params.items()}, sort_keys=True)


def build_pipeline(model: str, selection_steps: list[dict], random_state: int, *,
                   imbalance: str = "class_weight", memory=None,
                   harmonisation: dict | None = None) -> Pipeline:
    """The unfitted Pipeline every model is: [ComBat,] selection steps, [SMOTE,] classifier.

    The one place the pipeline is built, so that tuning (tune_model) and internal
    validation (radsnake.ml.validation) refit exactly the same steps. With
    ``imbalance="smote"`` it is imbalanced-learn's Pipeline, which runs the sampler
    in fit only (never in predict or transform), after selection so that neighbours are
    found among the few selected (z-scored) features; the classifier is then unweighted.
    """
    if imbalance not in IMBALANCE_METHODS:
        raise ValueError(f"unknown imbalance method {imbalance!r}; allowed: {list(IMBALANCE_METHODS)}")
    # ComBat first (radsnake.cohort.harmonise): refitted on every training fold like the rest.
    steps = harmonisation_steps(harmonisation) + build_selection(selection_steps, random_state)
    if imbalance == "smote":
        from imblearn.pipeline import Pipeline as SamplingPipeline

        from radsnake.ml.imbalance import FoldSMOTE

        steps += [("smote", FoldSMOTE(random_state=random_state)), ("clf", build_classifier(model, random_state, None))]
        pipeline = SamplingPipeline(steps, memory=memory)
    else:
        pipeline = Pipeline(steps + [("clf", build_classifier(model, random_state))], memory=memory)
    return pipeline.set_output(transform="pandas")  # keeps feature names on every step, e.g. for lasso.path_frame()


def build_search(model: str, selection_steps: list[dict], param_grid: dict | None, cv_folds: int,
                 scoring: str = "roc_auc", *, random_state: int, n_jobs: int = 1,
                 imbalance: str = "class_weight", memory=None,
                 harmonisation: dict | None = None) -> GridSearchCV:
    """The unfitted grid search of tune_model; validation clones and refits it in every fold."""
    return GridSearchCV(
        build_pipeline(model, selection_steps, random_state, imbalance=imbalance, memory=memory,
                       harmonisation=harmonisation),
        resolve_param_grid(model, param_grid),
        scoring=scoring,
        cv=StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=random_state),
        n_jobs=n_jobs,
        refit=True,
        error_score="raise",
    )


def tune_model(X: pd.DataFrame, y: np.ndarray, model: str, selection_steps: list[dict],
               param_grid: dict | None, cv_folds: int, scoring: str = "roc_auc", *,
               random_state: int, n_jobs: int = 1,
               memory=None, imbalance: str = "class_weight",
               harmonisation: dict | None = None) -> tuple[Pipeline, pd.DataFrame]:
    """Grid-search selection + classifier with stratified k-fold CV, refit on all of X.

    ``param_grid`` is the config override (unprefixed keys) merged into the default
    grid. With ``memory`` (a joblib.Memory folder, or a radsnake.ml.fitcache.FitCache when
    the search runs in one process) the Pipeline memoises its fitted selection steps, so
    each fold's selection is fitted once and reused by every grid point.
    ``harmonisation`` (the config's section, see radsnake.cohort.harmonise) puts ComBat first,
    so it too is refitted on every training fold; X then carries its reserved columns.
    Returns the refitted best Pipeline and one row per grid point.
    """
    search = build_search(
        model, selection_steps, param_grid, cv_folds, scoring,
        random_state=random_state, n_jobs=n_jobs, imbalance=imbalance, memory=memory,
        harmonisation=harmonisation,
    )
    search.fit(X, y)
    results = search.cv_results_
    cv_results = pd.DataFrame({
        "model": model,
        "params": [params_text(params) for params in results["params"]],
        "mean_test_score": results["mean_test_score"],
        "std_test_score": results["std_test_score"],
        "rank": results["rank_test_score"],
    })
    return search.best_estimator_, cv_results


def classifier_feature_names(pipeline: Pipeline, feature_names=None) -> np.ndarray:
    """Names of the columns reaching the final step (PC1..PCk after PCA).

    ``feature_names`` are the pipeline's input columns; None uses the names seen in fit
    (x0, x1, ... for numpy input).
    """
    if len(pipeline) == 1:
        return np.asarray(feature_names if feature_names is not None else pipeline.feature_names_in_, dtype=object)
    return np.asarray(pipeline[:-1].get_feature_names_out(feature_names), dtype=object)


def feature_importance(pipeline: Pipeline, feature_names) -> pd.DataFrame:
    """Per-feature importance of the fitted classifier, in the order the classifier sees them.

    Coefficients for logistic regression and linear SVM (sign = direction towards the
    positive class; for the SVM, of the uncalibrated SVC), impurity importances for
    trees; an RBF SVM has no per-feature weights, so its frame is empty.
    """
    clf = _final_estimator(pipeline[-1])
    names = classifier_feature_names(pipeline, feature_names)
    if isinstance(clf, LogisticRegression) or (isinstance(clf, SVC) and clf.kernel == "linear"):
        importance, kind = np.ravel(clf.coef_), "coefficient"
    elif isinstance(clf, (RandomForestClassifier, DecisionTreeClassifier)):
        importance, kind = clf.feature_importances_, "impurity"
    else:
        return pd.DataFrame({
            "feature": pd.Series(dtype=object), "importance": pd.Series(dtype=float), "kind": pd.Series(dtype=object),
        })
    return pd.DataFrame({"feature": names, "importance": np.asarray(importance, dtype=float), "kind": kind})


def _json_value(value):
    """Make numpy scalars/arrays and other objects JSON-serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def platt_card(clf: PlattSVC) -> dict:
    """The fitted Platt map, for the model card: P = expit(slope * decision + intercept)."""
    return {
        "method": "sigmoid (Platt), slope constrained to be non-negative",
        "slope": clf.slope_,
        "intercept": clf.intercept_,
        "unconstrained_slope": clf.unconstrained_slope_,
        "wrong_sign": clf.wrong_sign_,
    }


def save_model(pipeline: Pipeline, path_joblib: str, path_json: str, extra: dict) -> None:
    """Pickle the fitted pipeline and write a sorted-key JSON card describing it."""
    Path(path_joblib).parent.mkdir(parents=True, exist_ok=True)
    Path(path_json).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, path_joblib)
    clf = _final_estimator(pipeline[-1])
    card = {
        "versions": {
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "radsnake": getattr(radsnake, "__version__", "unknown"),
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
        },
        "steps": [name for name, _ in pipeline.steps],
        "classifier": type(clf).__name__,
        "probability_calibration": platt_card(pipeline[-1]) if isinstance(pipeline[-1], PlattSVC) else None,
        "classifier_params": clf.get_params(deep=False),
        "selected_features": classifier_feature_names(pipeline).tolist(),
        "extra": extra,
    }
    Path(path_json).write_text(json.dumps(card, sort_keys=True, indent=2, default=_json_value) + "\n")
