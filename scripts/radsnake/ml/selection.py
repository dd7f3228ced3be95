"""Feature-selection steps for radiomics pipelines.

Every selector is a scikit-learn transformer that learns only from the data passed to
``fit``. They are meant to sit INSIDE a ``Pipeline`` so that cross-validation refits
them on each training fold; selecting on the whole cohort before CV leaks the outcome
into the features and inflates every CV score.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectorMixin
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
# Private, but what LogisticRegression(solver="liblinear").fit calls (l1_logistic_fit).
from sklearn.svm._base import _fit_liblinear
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

logger = logging.getLogger(__name__)


def _binary_target(y) -> np.ndarray:
    """Return y as 0/1 (1 = the larger label), refusing anything but two classes."""
    check_classification_targets(y)
    classes, y01 = np.unique(y, return_inverse=True)
    if classes.size != 2:
        raise ValueError(f"expected a binary outcome, got {classes.size} classes: {classes!r}")
    return y01.astype(float)


def _univariate_auc(ranks: np.ndarray, y01: np.ndarray) -> np.ndarray:
    """AUC of each column for predicting y, from column-wise (tie-averaged) ranks."""
    positive = y01 == 1
    n_pos = positive.sum()
    n_neg = y01.size - n_pos
    rank_sum = ranks[positive].sum(axis=0)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


class _SupervisedSelector(SelectorMixin, BaseEstimator):
    """Shared plumbing: supervised selectors expose their mask as ``support_``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class VarianceFilter(SelectorMixin, BaseEstimator):
    """Drop features whose training-set variance is at most ``threshold``."""

    def __init__(self, threshold: float = 1e-8):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=float)
        self.variances_ = X.var(axis=0)
        self.support_ = self.variances_ > self.threshold
        if not self.support_.any():
            raise ValueError(f"VarianceFilter: no feature has variance above {self.threshold}")
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class UnivariateFilter(_SupervisedSelector):
    """Keep features whose two-group test p-value is below ``p_threshold``.

    ``test="ttest"`` is Welch's t-test (radiomics features rarely have equal
    variances between groups). With ``fdr=True`` the p-values are Benjamini-Hochberg
    adjusted before thresholding. If fewer than ``min_features`` pass, the
    ``min_features`` smallest-p features are kept so later steps never get an empty
    matrix.
    """

    def __init__(self, test: str = "mannwhitney", p_threshold: float = 0.05,
                 fdr: bool = False, min_features: int = 1):
        self.test = test
        self.p_threshold = p_threshold
        self.fdr = fdr
        self.min_features = min_features

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=float)
        y01 = _binary_target(y)
        cases, controls = X[y01 == 1], X[y01 == 0]
        with warnings.catch_warnings():
            # Constant columns give NaN p-values (handled below) plus a scipy warning.
            warnings.simplefilter("ignore", RuntimeWarning)
            if self.test == "mannwhitney":
                pvalues = stats.mannwhitneyu(cases, controls, axis=0, alternative="two-sided").pvalue
            elif self.test == "ttest":
                pvalues = stats.ttest_ind(cases, controls, axis=0, equal_var=False).pvalue
            else:
                raise ValueError(f"UnivariateFilter: test must be 'mannwhitney' or 'ttest', got {self.test!r}")
        self.pvalues_ = np.where(np.isnan(pvalues), 1.0, pvalues)
        self.pvalues_adjusted_ = (
            stats.false_discovery_control(self.pvalues_, method="bh") if self.fdr else self.pvalues_
        )
        self.support_ = self.pvalues_adjusted_ < self.p_threshold
        self.kept_nothing_ = None
        if not self.support_.any():
            # Recorded so that the study can say so (radsnake.stats.signature); the fallback below
            # only keeps later steps from an empty matrix.
            adjusted = "BH-adjusted " if self.fdr else ""
            self.kept_nothing_ = f"no feature has {adjusted}p < {self.p_threshold:g} ({self.test})"
        n_keep = min(self.min_features, X.shape[1])
        if self.support_.sum() < n_keep:
            logger.warning(
                "UnivariateFilter: %d feature(s) with p < %g (fdr=%s); keeping the %d smallest-p instead",
                self.support_.sum(), self.p_threshold, self.fdr, n_keep,
            )
            self.support_ = np.zeros(X.shape[1], dtype=bool)
            self.support_[np.argsort(self.pvalues_, kind="stable")[:n_keep]] = True
        return self


class CorrelationFilter(_SupervisedSelector):
    """Remove redundancy: of any pair with ``|r| > threshold`` keep the more relevant.

    Relevance is ``|AUC - 0.5|`` of the feature alone on the training data. Features are
    visited by relevance (ties: column order) and kept unless they are too correlated
    with an already-kept feature, so the result does not depend on pair order.
    """

    def __init__(self, threshold: float = 0.9, method: str = "spearman"):
        self.threshold = threshold
        self.method = method

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=float)
        y01 = _binary_target(y)
        if self.method not in ("spearman", "pearson"):
            raise ValueError(f"CorrelationFilter: method must be 'spearman' or 'pearson', got {self.method!r}")
        ranks = stats.rankdata(X, axis=0)
        self.relevance_ = np.abs(_univariate_auc(ranks, y01) - 0.5)
        values = ranks if self.method == "spearman" else X
        centred = values - values.mean(axis=0)
        norms = np.linalg.norm(centred, axis=0)
        # Constant columns get norm 1 so they correlate 0 with everything instead of NaN.
        unit = centred / np.where(norms > 0, norms, 1.0)
        too_close = np.abs(unit.T @ unit) > self.threshold
        order = np.argsort(-self.relevance_, kind="stable")
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        blocked = np.zeros(X.shape[1], dtype=bool)
        for j in order:
            if not blocked[j]:
                self.support_[j] = True
                blocked |= too_close[j]
        return self


def _binomial_deviance(y01: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Mean binomial deviance per column of linear predictors ``eta`` (n x k)."""
    # -2 log-likelihood written with logaddexp to stay finite for large |eta|.
    return 2 * np.mean(np.logaddexp(0, eta) - y01[:, None] * eta, axis=0)


LASSO_INTERCEPT_SCALING = 100.0


def l1_logistic_fit(Z: np.ndarray, y01: np.ndarray, C: float, tol: float, max_iter: int,
                    random_state) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of LogisticRegression(l1_ratio=1.0, solver="liblinear",
    intercept_scaling=LASSO_INTERCEPT_SCALING, C=C, ...) fitted on ``Z`` and 0/1 ``y01``:
    the liblinear fit that LogisticRegression.fit calls once its checks are done.
    scikit-learn is pinned in envs/; a change there fails tests/test_selection.py, not the
    numbers."""
    # LogisticRegression.fit hands liblinear a C-ordered float64 array; so does this (no
    # copy when Z already is one, as on the LASSO path).
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    coef, intercept, _ = _fit_liblinear(Z, y01, C, True, LASSO_INTERCEPT_SCALING, None, "l1", False, 0,
                                        max_iter, tol, random_state)
    return coef[0], float(intercept[0])


class LassoSelector(_SupervisedSelector):
    """L1-penalised logistic regression with lambda chosen by CV, as glmnet does.

    The penalty is glmnet's: minimise ``mean(log-loss) + lambda * ||beta||_1`` on
    standardised features. sklearn minimises ``C * sum(log-loss) + ||beta||_1``, so
    ``C = 1 / (n * lambda)``. The grid runs log-evenly from ``lambda_max`` (the smallest
    lambda with all-zero coefficients, ``max|X'(y - ybar)| / n``) down to
    ``lambda_max * 1e-3``. Features are standardised internally with the training
    mean/SD, so already z-scored input is unchanged and raw input is still penalised
    fairly; coefficients are reported on the input scale.

    ``rule="1se"`` picks the largest lambda whose mean CV deviance is within one
    standard error of the minimum (glmnet's ``lambda.1se``); ``rule="min"`` the minimum.
    ``n_features=k`` overrides the rule: the largest lambda of the path with at least k
    nonzero coefficients (a signature of k features whatever the CV says; more optimism).
    """

    def __init__(self, n_lambdas: int = 50, cv_folds: int = 5, rule: str = "1se",
                 random_state: int = 0, max_iter: int = 1000, tol: float = 1e-4,
                 n_features: int | None = None):
        self.n_features = n_features
        self.n_lambdas = n_lambdas
        self.cv_folds = cv_folds
        self.rule = rule
        self.random_state = random_state
        self.max_iter = max_iter
        self.tol = tol

    def _fit_path(self, X: np.ndarray, y01: np.ndarray, lambdas: np.ndarray):
        """Coefficients (len(lambdas) x p, input scale) and intercepts along the path."""
        scaler = StandardScaler().fit(X)
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        # C order once here, not a copy in each of the path's fits (l1_logistic_fit).
        Z = np.ascontiguousarray((X - scaler.mean_) / scale)
        # liblinear: as exact as converged saga here and ~10x faster, but it has no warm
        # start and penalises the intercept; a large intercept_scaling makes that
        # penalty negligible, matching glmnet's unpenalised intercept.
        coefs = np.zeros((lambdas.size, X.shape[1]))
        intercepts = np.zeros(lambdas.size)
        # The path is many small fits: each calls the liblinear fit of
        # LogisticRegression(l1_ratio=1, solver="liblinear") directly, without the estimator's
        # per-call input and parameter checks (inputs were validated once in fit). Same
        # numbers in a third of the time (tests/test_selection.py compares it with
        # LogisticRegression).
        with warnings.catch_warnings(), config_context(assume_finite=True, skip_parameter_validation=True):
            # The least-penalised end of the path is nearly separable when p > n and may
            # stop at max_iter; it never decides lambda_1se, so accept the tolerance.
            warnings.simplefilter("ignore", ConvergenceWarning)
            for i, lam in enumerate(lambdas):
                coef, intercept = l1_logistic_fit(Z, y01, 1.0 / (X.shape[0] * lam), self.tol, self.max_iter,
                                                  self.random_state)
                coefs[i] = coef / scale
                intercepts[i] = intercept - coefs[i] @ scaler.mean_
        return coefs, intercepts

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=float)
        y01 = _binary_target(y)
        if self.rule not in ("1se", "min"):
            raise ValueError(f"LassoSelector: rule must be '1se' or 'min', got {self.rule!r}")
        n = X.shape[0]
        Z = StandardScaler().fit_transform(X)
        lambda_max = np.max(np.abs(Z.T @ (y01 - y01.mean()))) / n
        self.lambdas_ = lambda_max * np.logspace(0, -3, self.n_lambdas)

        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.random_state)
        fold_deviance, fold_size = [], []
        for train, test in folds.split(X, y01):
            if np.unique(y01[train]).size < 2:
                # scikit-learn >= 1.8 reports this as liblinear "multiclass (n_classes >= 3)".
                raise ValueError(
                    f"LassoSelector: a training part of its {self.cv_folds}-fold CV holds only one label "
                    f"({int(y01.sum())} cases with label 1, {int(y01.size - y01.sum())} with label 0 here); "
                    "lower the lasso step's cv_folds or add cases"
                )
            coefs, intercepts = self._fit_path(X[train], y01[train], self.lambdas_)
            eta = X[test] @ coefs.T + intercepts
            fold_deviance.append(_binomial_deviance(y01[test], eta))
            fold_size.append(test.size)
        fold_deviance, weights = np.array(fold_deviance), np.array(fold_size) / n
        # glmnet's cv.glmnet: fold-size weighted mean and SE of the fold deviances.
        self.cv_mean_ = weights @ fold_deviance
        self.cv_se_ = np.sqrt(weights @ (fold_deviance - self.cv_mean_) ** 2 / (self.cv_folds - 1))

        i_min = int(np.argmin(self.cv_mean_))
        i_1se = int(np.argmax(self.cv_mean_ <= self.cv_mean_[i_min] + self.cv_se_[i_min]))
        self.lambda_min_, self.lambda_1se_ = self.lambdas_[i_min], self.lambdas_[i_1se]
        self.chosen_index_ = i_1se if self.rule == "1se" else i_min

        self.coef_path_, self.intercept_path_ = self._fit_path(X, y01, self.lambdas_)
        if self.n_features:
            # The path's last lambda when even it has fewer than k nonzero coefficients.
            enough = (self.coef_path_ != 0).sum(axis=1) >= int(self.n_features)
            self.chosen_index_ = int(np.argmax(enough)) if enough.any() else self.lambdas_.size - 1
        self.lambda_ = self.lambdas_[self.chosen_index_]
        self.coef_ = self.coef_path_[self.chosen_index_]
        self.intercept_ = self.intercept_path_[self.chosen_index_]
        self.support_ = self.coef_ != 0
        self.kept_nothing_ = None
        if not self.support_.any():
            # The rad-score is then the constant intercept: no signature (radsnake.stats.signature
            # announces it). The fallback feature only keeps a Pipeline's classifier fittable.
            chosen = f"n_features {self.n_features}" if self.n_features else f"rule {self.rule}"
            self.kept_nothing_ = f"no coefficient is nonzero at lambda = {self.lambda_:.4g} ({chosen})"
            first = self._first_entering_feature()
            logger.warning(
                "LassoSelector: no coefficient is nonzero at lambda=%.4g; keeping %s, the first "
                "feature to enter the path (its rad-score coefficient stays 0)",
                self.lambda_, self._feature_names()[first],
            )
            self.support_[first] = True
        return self

    def _first_entering_feature(self) -> int:
        """Index of the feature that becomes nonzero earliest along the path."""
        nonzero = self.coef_path_ != 0
        entry = np.where(nonzero.any(axis=0), nonzero.argmax(axis=0), self.lambdas_.size)
        entry_size = np.abs(self.coef_path_[np.minimum(entry, self.lambdas_.size - 1), np.arange(entry.size)])
        # Earliest entry first, then the larger coefficient at entry, then column order.
        return int(np.lexsort((np.arange(entry.size), -entry_size, entry))[0])

    def decision_function(self, X) -> np.ndarray:
        """Rad-score: ``intercept_ + X @ coef_`` at the chosen lambda (X as given to fit)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=float, reset=False)
        return self.intercept_ + X @ self.coef_

    def _feature_names(self) -> np.ndarray:
        return getattr(self, "feature_names_in_", np.array([f"x{i}" for i in range(self.n_features_in_)]))

    def path_frame(self) -> pd.DataFrame:
        """Coefficient path in long form: one row per (lambda, feature)."""
        check_is_fitted(self, "coef_path_")
        names = self._feature_names()
        return pd.DataFrame({
            "lambda": np.repeat(self.lambdas_, names.size),
            "feature": np.tile(names, self.lambdas_.size),
            "coefficient": self.coef_path_.ravel(),
        })

    def cv_frame(self) -> pd.DataFrame:
        """CV deviance curve with the number of nonzero coefficients per lambda."""
        check_is_fitted(self, "cv_mean_")
        return pd.DataFrame({
            "lambda": self.lambdas_,
            "cv_mean_deviance": self.cv_mean_,
            "cv_se": self.cv_se_,
            "n_nonzero": (self.coef_path_ != 0).sum(axis=1),
            "is_min": self.lambdas_ == self.lambda_min_,
            "is_1se": self.lambdas_ == self.lambda_1se_,
            # The lambda the selection used (the rule's, or n_features'); the figure marks it.
            "is_used": self.lambdas_ == self.lambda_,
        })


class PrincipalComponents(PCA):
    """sklearn PCA whose output columns are named PC1..PCk, as in papers."""

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_components_")
        return np.array([f"PC{i + 1}" for i in range(self.n_components_)], dtype=object)


# Config step name -> (estimator class, keys allowed in the config entry).
SELECTION_STEPS = {
    "zscore": (StandardScaler, ()),
    "variance": (VarianceFilter, ("threshold",)),
    "univariate": (UnivariateFilter, ("test", "p_threshold", "fdr", "min_features")),
    "correlation": (CorrelationFilter, ("threshold", "method")),
    "lasso": (LassoSelector, ("n_lambdas", "cv_folds", "rule", "max_iter", "tol", "n_features")),
    "pca": (PrincipalComponents, ("n_components",)),
}
_SEEDED_STEPS = {"lasso", "pca"}


def build_selection(steps: list[dict], random_state: int) -> list[tuple[str, BaseEstimator]]:
    """Turn the config's selection list into named Pipeline steps, in the given order.

    A repeated step gets a numeric suffix (``zscore``, ``zscore_2``) because Pipeline
    step names must be unique.
    """
    built, seen = [], {}
    for position, entry in enumerate(steps):
        params = dict(entry)
        name = params.pop("step", None)
        if name not in SELECTION_STEPS:
            raise ValueError(
                f"selection step {position}: unknown step {name!r}; allowed steps: {sorted(SELECTION_STEPS)}"
            )
        estimator_class, allowed = SELECTION_STEPS[name]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(
                f"selection step {name!r}: unknown key(s) {unknown}; allowed keys: {['step', *allowed]}"
            )
        if name in _SEEDED_STEPS:
            params["random_state"] = random_state
        seen[name] = seen.get(name, 0) + 1
        step_name = name if seen[name] == 1 else f"{name}_{seen[name]}"
        built.append((step_name, estimator_class(**params)))
    return built
