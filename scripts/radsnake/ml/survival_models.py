"""Survival models as scikit-learn Pipelines (scaling, selection and the model, all refitted
in every CV fold), tuned on Harrell's C by grid search over folds stratified by event.

Models (config survival.models):
- coxnet: elastic-net penalised Cox (CoxnetSurvivalAnalysis) after the univariate and
  correlation screens; its penalty is a fraction (alpha_ratio) of the smallest penalty
  that zeroes every coefficient on the rows it is fitted on.
- cox_ph: Cox proportional hazards on the Cox-LASSO's features, at most
  floor(events / endpoint.min_events_per_variable) of them.
- random_survival_forest: a random survival forest on the Cox-LASSO's features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from radsnake.ml.modelling import load_design
from radsnake.ml.survival_selection import LASSO_TOL, CoxSelector, outcome_arrays

MODELS = ("coxnet", "cox_ph", "random_survival_forest")
DEFAULT_GRIDS = {
    "coxnet": {"model__l1_ratio": [0.5, 1.0], "model__alpha_ratio": [0.5, 0.2, 0.1]},
    "cox_ph": {"select__rule": ["1se", "min"]},
    "random_survival_forest": {"model__n_estimators": [200], "model__min_samples_leaf": [5, 10]},
}


class ScaledCoxnet(BaseEstimator):
    """Elastic-net Cox at alpha_ratio x the data's largest useful penalty (the alpha at which
    every coefficient is 0), so that one grid fits every fold and study."""

    def __init__(self, l1_ratio=1.0, alpha_ratio=0.1):
        self.l1_ratio = l1_ratio
        self.alpha_ratio = alpha_ratio

    def fit(self, X, y):
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        settings = dict(l1_ratio=self.l1_ratio, normalize=False, tol=LASSO_TOL, max_iter=1_000_000)
        largest = CoxnetSurvivalAnalysis(n_alphas=2, **settings).fit(X, y).alphas_[0]
        self.alpha_ = float(largest * self.alpha_ratio)
        self.model_ = CoxnetSurvivalAnalysis(alphas=[self.alpha_], fit_baseline_model=True, **settings).fit(X, y)
        self.coef_ = self.model_.coef_[:, 0]
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_survival_function(self, X):
        return self.model_.predict_survival_function(X)

    def score(self, X, y):
        return self.model_.score(X, y)


def build_pipeline(model: str, settings: dict, epv: int, seed: int) -> Pipeline:
    """settings: the config's survival section."""
    from sksurv.ensemble import RandomSurvivalForest
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    select = CoxSelector(
        fdr=settings["fdr"],
        correlation_threshold=settings["correlation_threshold"],
        lasso=model != "coxnet",
        cv_folds=settings["cv_folds"],
        n_alphas=settings["n_alphas"],
        rule=settings["lasso_rule"],
        max_per_events=epv if model == "cox_ph" else None,
        random_state=seed,
    )
    if model == "coxnet":
        estimator = ScaledCoxnet()
    elif model == "cox_ph":
        estimator = CoxPHSurvivalAnalysis(ties="efron", n_iter=200)
    elif model == "random_survival_forest":
        estimator = RandomSurvivalForest(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=1)
    else:
        raise ValueError(f"unknown survival model {model!r}; choose from {MODELS}")
    return Pipeline([("scale", StandardScaler()), ("select", select), ("model", estimator)])


def param_grid(model: str, override: dict | None) -> dict:
    """The model's grid; a config grid names the model's own parameters (n_estimators) and
    may name the selection's with select__."""
    if not override:
        return dict(DEFAULT_GRIDS[model])
    return {(key if "__" in key else f"model__{key}"): list(values) for key, values in override.items()}


def tune(X: np.ndarray, y, model: str, settings: dict, epv: int, seed: int) -> GridSearchCV:
    """Grid search on Harrell's C (the estimators' score) over K folds stratified by event."""
    _, event = outcome_arrays(y)
    folds = min(settings["cv_folds"], int(event.sum()), int((1 - event).sum()))
    splits = list(StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed).split(X, event))
    search = GridSearchCV(
        build_pipeline(model, settings, epv, seed),
        param_grid(model, settings["param_grid"].get(model)),
        cv=splits,
        n_jobs=1,
        refit=True,
        error_score="raise",
    )
    return search.fit(X, y)


def survival_at(pipeline: Pipeline, X: np.ndarray, times) -> np.ndarray:
    """Predicted S(t | x) of each case (rows) at each time (columns); times beyond a step
    function's domain take its last value."""
    functions = pipeline.predict_survival_function(X)
    times = np.asarray(times, float)
    out = np.empty((len(functions), times.size))
    for row, function in enumerate(functions):
        low, high = function.domain
        out[row] = function(np.clip(times, low, high))
    return out


def survival_data(features_csv: str, split_csv: str, outcomes_csv: str, clinical: list[str]):
    """(X, frame) of every case in features.csv order: frame has case_id, set, time, event."""
    design = load_design(features_csv, split_csv, clinical)
    outcomes = pd.read_csv(outcomes_csv, dtype={"case_id": str}).set_index("case_id")
    ids = design.features.index
    frame = pd.DataFrame({"case_id": ids, "set": design.sets,
                          "time": outcomes.loc[ids, "time"].to_numpy(float),
                          "event": outcomes.loc[ids, "event"].to_numpy(int)})
    return design.features, frame
