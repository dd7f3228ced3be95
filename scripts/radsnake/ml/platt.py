"""Platt scaling of an SVM whose probabilities keep the SVM's own ranking.

Platt (1999) maps the decision value f to P(y = 1 | f) = 1 / (1 + exp(A f + B)), fitted
on out-of-fold decision values against the smoothed targets (N+ + 1) / (N+ + 2) for
positives and 1 / (N- + 2) for negatives. Nothing in that fit stops A from coming out
positive, i.e. a map that reverses the SVM's ranking (it happens when the out-of-fold
decision values anti-correlate with the labels, which weak signals do by chance). Here
the map is fitted with its slope constrained to be non-negative (A <= 0), so it is
non-decreasing in the SVM's own score (docs/design.md, "Probabilities keep the model's
ranking"):

* where the unconstrained fit has the right sign, the constraint is inactive and the map
  is Platt's (tests/test_platt_r_reference.py checks it against R's optim);
* where it has the wrong sign, the constrained optimum is flat: every case gets the
  smoothed training prevalence. ``wrong_sign_`` says so (fit_model reports it), and the
  probabilities are tilted by :data:`TIE_BREAK` logit per standard deviation of the
  out-of-fold decision values, so that they still order the cases as the SVM does and
  the discrimination metrics computed on them are the SVM's own.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import SVC

# Logit per SD of the decision values, added to a flat map: below any printed digit of a
# probability, above float resolution, so ties are broken by the SVM's ranking only.
TIE_BREAK = 1e-6


def platt_targets(y: np.ndarray) -> np.ndarray:
    """Platt's smoothed targets: (N+ + 1) / (N+ + 2) for positives, 1 / (N- + 2) for negatives."""
    y = np.asarray(y)
    positives, negatives = float(np.sum(y == 1)), float(np.sum(y != 1))
    return np.where(y == 1, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))


def platt_fit(decision: np.ndarray, y: np.ndarray, non_negative: bool = True) -> tuple[float, float]:
    """(slope, intercept) of P = expit(slope * f + intercept) minimising the cross-entropy
    to Platt's targets; Platt's (A, B) are (-slope, -intercept). With ``non_negative`` the
    slope is bounded below by 0."""
    f = np.asarray(decision, dtype=float)
    t = platt_targets(y)

    def loss_and_gradient(params):
        eta = params[0] * f + params[1]
        loss = -np.sum(t * log_expit(eta) + (1.0 - t) * log_expit(-eta))
        residual = expit(eta) - t
        return loss, np.array([residual @ f, residual.sum()])

    start = np.array([0.0, math.log(t.mean() / (1.0 - t.mean()))])
    result = minimize(
        loss_and_gradient, start, jac=True, method="L-BFGS-B",
        bounds=[(0.0 if non_negative else None, None), (None, None)],
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000},
    )
    return float(result.x[0]), float(result.x[1])


# Stratified folds of the out-of-fold decision values (radsnake.ml.fit_checks counts them).
PLATT_FOLDS = 5


class PlattSVC(ClassifierMixin, BaseEstimator):
    """An SVC with Platt probabilities whose map is non-decreasing in its decision value.

    As ``CalibratedClassifierCV(estimator, method="sigmoid", ensemble=False)``: the map is
    fitted on out-of-fold decision values (``cv`` unshuffled stratified folds, so
    deterministic) and the SVC is refitted on all cases. Learned: ``estimator_`` (the
    SVC), ``slope_``, ``intercept_`` (the map), ``unconstrained_slope_`` (Platt's own
    fit), ``wrong_sign_`` (that fit reversed the ranking), ``decision_sd_``.

    The map costs ``cv`` more SVC fits, and a grid search scores its candidates by the
    decision function alone (the roc_auc scorer prefers it to predict_proba), so the map
    is fitted on first use: predicting a probability or a class, reading one of the map's
    attributes, or pickling (a saved model always holds its map, never the training data).
    The numbers are the same as fitting it in ``fit``: the same folds, fits and optimiser.
    """

    def __init__(self, estimator=None, cv: int = PLATT_FOLDS, random_state=None):
        self.estimator = estimator
        self.cv = cv
        self.random_state = random_state

    def _svc(self):
        return clone(self.estimator) if self.estimator is not None else SVC(random_state=self.random_state)

    def fit(self, X, y):
        y = np.asarray(y)
        self.estimator_ = self._svc().fit(X, y)
        self.classes_ = self.estimator_.classes_
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        # The training data until the map is fitted (then dropped).
        self._uncalibrated = (X, y)
        self._map = None
        return self

    def _platt_map(self) -> dict:
        """The fitted map, fitting it on the training data kept by fit the first time."""
        if self._map is None:
            X, y = self._uncalibrated
            folds = StratifiedKFold(n_splits=self.cv)
            decision = cross_val_predict(self._svc(), X, y, cv=folds, method="decision_function")
            positive = (y == self.classes_[1]).astype(int)
            unconstrained_slope, _ = platt_fit(decision, positive, non_negative=False)
            slope, intercept = platt_fit(decision, positive, non_negative=True)
            sd = float(np.std(decision))
            self._map = {"slope_": slope, "intercept_": intercept, "unconstrained_slope_": unconstrained_slope,
                         "wrong_sign_": bool(unconstrained_slope < 0), "decision_sd_": sd if sd > 0 else 1.0}
            self._uncalibrated = None
        return self._map

    slope_ = property(lambda self: self._platt_map()["slope_"])
    intercept_ = property(lambda self: self._platt_map()["intercept_"])
    unconstrained_slope_ = property(lambda self: self._platt_map()["unconstrained_slope_"])
    wrong_sign_ = property(lambda self: self._platt_map()["wrong_sign_"])
    decision_sd_ = property(lambda self: self._platt_map()["decision_sd_"])

    def __getstate__(self):
        if getattr(self, "estimator_", None) is not None:
            self._platt_map()
        return super().__getstate__()

    def decision_function(self, X):
        return self.estimator_.decision_function(X)

    def predict_proba(self, X):
        f = self.decision_function(X)
        slope = self.slope_ if self.slope_ > 0 else TIE_BREAK / self.decision_sd_
        positive = expit(slope * f + self.intercept_)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
