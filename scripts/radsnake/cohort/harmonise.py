"""ComBat harmonisation of radiomics features across centres (batches).

ComBat (Johnson, Li & Rabinovic 2007, Biostatistics 8:118; for imaging Fortin et al.
2017/2018, neuroCombat) models each feature of case i in batch b as

    x_ib = alpha + C_i beta + gamma_b + delta_b * eps_ib

with C_i the covariates to protect (here at least the outcome label), and removes the
batch location gamma_b and scale delta_b, shrunk towards their across-feature means by
empirical Bayes (parametric: normal / inverse-gamma priors; non-parametric: a
likelihood-weighted average over the other features).

``ComBat`` is a scikit-learn transformer meant to be the FIRST step of a Pipeline, so
that cross-validation refits it on every training fold:

* The batch reaches it as a reserved column of X (``__batch__``), and protected clinical
  covariates as ``__covariate__<name>`` columns; the step consumes and drops them, so
  every later step sees the radiomics features only. ``harmonisation_input`` adds them.
* ``fit(X, y)`` estimates everything from the rows it is given (training cases only),
  protecting the label y (and the covariate columns).
* ``fit_transform(X, y)`` returns those rows harmonised exactly as neuroCombat's
  ``neuroCombat()`` does: each row's own covariate effects are kept.
* ``transform(X)`` applies the fitted estimates unchanged to any rows (test, external,
  CV validation folds) exactly as neuroCombat's ``neuroCombatFromTraining()`` does: a
  new row's label is unknown (and must not be used), so the covariate effect is held at
  its training mean. No row passed to ``transform`` changes anything learned.
* Rows of a batch never seen in fit follow ``unseen_batch`` (docs/harmonisation.md):
  ``unadjusted`` (default: left as they are), ``refuse`` (InputError), or ``self``
  (that batch's own location/scale, estimated without labels from the rows passed
  together).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from radsnake.core.errors import InputError

log = logging.getLogger(__name__)

BATCH_COLUMN = "__batch__"
COVARIATE_PREFIX = "__covariate__"
UNSEEN_POLICIES = ("unadjusted", "refuse", "self")
_CHUNK = 256  # features per block of the non-parametric F x F likelihood matrix


def _reserved_message(column: str) -> str:
    return f"ComBat: X has no column {column!r}; add it with radsnake.cohort.harmonise.harmonisation_input."


def _aprior(delta_hat: np.ndarray) -> float:
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    return (2 * s2 + m**2) / s2


def _bprior(delta_hat: np.ndarray) -> float:
    m, s2 = delta_hat.mean(), delta_hat.var(ddof=1)
    return (m * s2 + m**3) / s2


def parametric_eb(s_batch: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray,
                  tol: float = 1e-4, max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Posterior batch location and scale under normal / inverse-gamma priors.

    The iteration and its stopping rule (relative change, not in absolute value, as in
    sva's R ComBat and neuroCombat) are the reference ones, so results agree to rounding.
    """
    n = s_batch.shape[0]
    gamma_bar, t2 = gamma_hat.mean(), gamma_hat.var(ddof=1)
    a, b = _aprior(delta_hat), _bprior(delta_hat)
    g_old, d_old = gamma_hat.copy(), delta_hat.copy()
    change, count = 1.0, 0
    with np.errstate(divide="ignore", invalid="ignore"):
        while change > tol:
            g_new = (t2 * n * gamma_hat + d_old * gamma_bar) / (t2 * n + d_old)
            sum2 = ((s_batch - g_new) ** 2).sum(axis=0)
            d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
            change = max((np.abs(g_new - g_old) / g_old).max(), (np.abs(d_new - d_old) / d_old).max())
            g_old, d_old = g_new, d_new
            count += 1
            if count >= max_iter:
                log.warning("ComBat: parametric EB stopped after %d iterations (change %.3g)", count, change)
                break
    return g_old, d_old


def nonparametric_eb(s_batch: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior batch location and scale as likelihood-weighted means over the OTHER features.

    Same estimator as neuroCombat's ``int_eprior``, vectorised and computed in log
    space so that the likelihoods cannot underflow for large batches.
    """
    n, n_features = s_batch.shape
    s1, s2 = s_batch.sum(axis=0), (s_batch**2).sum(axis=0)
    log_norm = -0.5 * n * np.log(2 * math.pi * delta_hat)
    gamma_star, delta_star = np.empty(n_features), np.empty(n_features)
    for start in range(0, n_features, _CHUNK):
        rows = np.arange(start, min(start + _CHUNK, n_features))
        # sum over cases of (x_ik - gamma_j)^2, for feature i's data under feature j's estimates
        sum2 = s2[rows, None] - 2 * s1[rows, None] * gamma_hat[None, :] + n * gamma_hat[None, :] ** 2
        log_lh = log_norm[None, :] - sum2 / (2 * delta_hat[None, :])
        log_lh[np.arange(rows.size), rows] = -np.inf  # leave the feature itself out
        weights = np.exp(log_lh - log_lh.max(axis=1, keepdims=True))
        total = weights.sum(axis=1)
        gamma_star[rows] = weights @ gamma_hat / total
        delta_star[rows] = weights @ delta_hat / total
    return gamma_star, delta_star


class ComBat(TransformerMixin, BaseEstimator):
    """ComBat harmonisation fitted on the rows passed to ``fit`` (see the module docstring).

    Parameters
    ----------
    batch_column : reserved column of X holding each row's batch (centre); consumed and dropped.
    categorical_covariates, continuous_covariates : reserved columns of X with covariates to
        protect (one-hot with the first sorted level dropped, or numeric); consumed and dropped.
    protect_label : protect y (needed in fit) as a categorical covariate.
    parametric : parametric (True) or non-parametric (False) empirical Bayes.
    empirical_bayes : False uses the per-batch least-squares estimates without shrinkage.
    unseen_batch : rows of a batch absent from fit: ``unadjusted``, ``refuse`` or ``self``.
    tol, max_iter : convergence of the parametric EB iteration (neuroCombat's tol is 1e-4).
    """

    def __init__(self, batch_column: str = BATCH_COLUMN, categorical_covariates=(), continuous_covariates=(),
                 protect_label: bool = True, parametric: bool = True, empirical_bayes: bool = True,
                 unseen_batch: str = "unadjusted", tol: float = 1e-4, max_iter: int = 1000):
        self.batch_column = batch_column
        self.categorical_covariates = categorical_covariates
        self.continuous_covariates = continuous_covariates
        self.protect_label = protect_label
        self.parametric = parametric
        self.empirical_bayes = empirical_bayes
        self.unseen_batch = unseen_batch
        self.tol = tol
        self.max_iter = max_iter

    # -- input handling ---------------------------------------------------------------

    def _reserved(self) -> list[str]:
        return [self.batch_column, *self.categorical_covariates, *self.continuous_covariates]

    def _split(self, X) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("ComBat needs a pandas DataFrame with the batch column (see radsnake.cohort.harmonise)")
        for column in self._reserved():
            if column not in X.columns:
                raise ValueError(_reserved_message(column))
        batch = X[self.batch_column]
        if batch.isna().any():
            raise InputError(f"ComBat: no batch (centre) for case(s) {list(X.index[batch.isna()][:10])}")
        features = X.drop(columns=self._reserved())
        values = features.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            bad = features.columns[~np.isfinite(values).all(axis=0)].tolist()
            raise InputError(f"ComBat: feature(s) {bad[:10]} have missing or infinite values")
        return values, batch.astype(str).to_numpy(), X

    def _covariate_design(self, X: pd.DataFrame, y, fitting: bool) -> np.ndarray:
        """Protected covariates of the rows, coded with the levels learned in fit."""
        blocks = []
        if fitting:
            self.covariate_levels_ = {}
        sources = []
        if self.protect_label:
            if y is None:
                raise ValueError("ComBat(protect_label=True) needs the labels y in fit")
            sources.append(("label", pd.Series(np.asarray(y), index=X.index), True))
        sources += [(c, X[c], True) for c in self.categorical_covariates]
        sources += [(c, X[c], False) for c in self.continuous_covariates]
        for name, values, categorical in sources:
            missing = values.isna().to_numpy()
            if missing.any():
                raise InputError(f"ComBat: covariate {name!r} is missing for case(s) {list(X.index[missing][:10])}")
            if categorical:
                text = values.astype(str).to_numpy()
                if fitting:
                    self.covariate_levels_[name] = np.unique(text)
                for level in self.covariate_levels_[name][1:]:
                    blocks.append((text == level).astype(float))
            else:
                numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
                if not np.isfinite(numeric).all():
                    raise InputError(f"ComBat: covariate {name!r} is not numeric for case(s) "
                                     f"{list(X.index[~np.isfinite(numeric)][:10])}")
                blocks.append(numeric)
        return np.column_stack(blocks) if blocks else np.zeros((X.shape[0], 0))

    # -- fit --------------------------------------------------------------------------

    def estimate(self, X, y):
        if self.unseen_batch not in UNSEEN_POLICIES:
            raise ValueError(f"ComBat: unseen_batch must be one of {UNSEEN_POLICIES}, not {self.unseen_batch!r}")
        values, batch, X = self._split(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        reserved = set(self._reserved())
        self.feature_names_out_ = np.asarray([c for c in X.columns if c not in reserved], dtype=object)

        self.batches_, batch_index, counts = np.unique(batch, return_inverse=True, return_counts=True)
        if self.batches_.size < 2:
            raise InputError(
                f"ComBat: the training cases come from one centre only ({self.batches_.tolist()}); "
                "there is nothing to harmonise. Set harmonisation.method: none."
            )
        small = self.batches_[counts < 2].tolist()
        if small:
            raise InputError(
                f"ComBat: centre(s) {small} have fewer than 2 training cases (in this CV fold), so their "
                "scale cannot be estimated. Merge small centres in the batch column or use fewer CV folds."
            )
        self.batch_counts_ = counts
        n, n_batches = values.shape[0], self.batches_.size
        onehot = np.zeros((n, n_batches))
        onehot[np.arange(n), batch_index] = 1.0
        covariates = self._covariate_design(X, y, fitting=True)
        design = np.hstack([onehot, covariates])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise InputError(
                "ComBat: the protected covariates are confounded with the centres in the training cases "
                "(e.g. the label or a covariate takes one value per centre), so centre and covariate effects "
                "cannot be told apart. Protect fewer covariates or merge centres."
            )
        coef = np.linalg.solve(design.T @ design, design.T @ values)
        self.grand_mean_ = (counts / n) @ coef[:n_batches]
        self.var_pooled_ = ((values - design @ coef) ** 2).mean(axis=0)
        covariate_effect = covariates @ coef[n_batches:]
        self.covariate_mean_ = covariate_effect.mean(axis=0)

        # Features with no residual variance, or constant within a batch, are left as they
        # are (as R's sva::ComBat does): their scale cannot be estimated.
        scale = np.maximum(np.mean(values**2, axis=0), np.finfo(float).tiny)
        adjusted = self.var_pooled_ > 1e-20 * scale
        for j in range(n_batches):
            adjusted &= values[batch_index == j].var(axis=0) > 1e-20 * scale
        sd = np.sqrt(np.where(adjusted, self.var_pooled_, 1.0))
        standardised = (values - self.grand_mean_ - covariate_effect) / sd
        gamma_hat = np.vstack([standardised[batch_index == j].mean(axis=0) for j in range(n_batches)])
        delta_hat = np.vstack([standardised[batch_index == j].var(axis=0, ddof=1) for j in range(n_batches)])
        adjusted &= (delta_hat > 1e-12).all(axis=0)
        if (~adjusted).any():
            log.warning("ComBat: %d feature(s) constant within a centre are left unadjusted: %s",
                        (~adjusted).sum(), self.feature_names_out_[~adjusted][:10].tolist())
        if adjusted.sum() < 2:
            raise InputError("ComBat: fewer than 2 features vary within every centre; nothing to harmonise")
        self.adjusted_ = adjusted

        self.gamma_hat_ = np.where(adjusted, gamma_hat, 0.0)
        self.delta_hat_ = np.where(adjusted, delta_hat, 1.0)
        self.gamma_star_ = self.gamma_hat_.copy()
        self.delta_star_ = self.delta_hat_.copy()
        for j in range(n_batches):
            rows = standardised[batch_index == j][:, adjusted]
            g, d = self._shrink(rows, gamma_hat[j, adjusted], delta_hat[j, adjusted])
            self.gamma_star_[j, adjusted], self.delta_star_[j, adjusted] = g, d
        return values, batch_index, standardised, covariate_effect

    def _shrink(self, rows, gamma_hat, delta_hat):
        if not self.empirical_bayes:
            return gamma_hat, delta_hat
        if self.parametric:
            return parametric_eb(rows, gamma_hat, delta_hat, self.tol, self.max_iter)
        return nonparametric_eb(rows, gamma_hat, delta_hat)

    def fit(self, X, y=None):
        self.estimate(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """The fitted rows harmonised as ``neuroCombat()`` does, keeping each row's covariate effects."""
        values, batch_index, standardised, covariate_effect = self.estimate(X, y)
        adjusted = self.adjusted_
        out = values.copy()
        sd = np.sqrt(self.var_pooled_[adjusted])
        clean = (standardised[:, adjusted] - self.gamma_star_[batch_index][:, adjusted]) / np.sqrt(
            self.delta_star_[batch_index][:, adjusted]
        )
        out[:, adjusted] = clean * sd + self.grand_mean_[adjusted] + covariate_effect[:, adjusted]
        return out

    # -- transform --------------------------------------------------------------------

    def transform(self, X):
        """Apply the fitted estimates unchanged (``neuroCombatFromTraining()``); labels are not used."""
        check_is_fitted(self, "gamma_star_")
        if list(getattr(X, "columns", [])) != list(self.feature_names_in_):
            raise ValueError("ComBat.transform: X must have the columns seen in fit, in the same order")
        values, batch, X = self._split(X)
        adjusted = self.adjusted_
        centre = (self.grand_mean_ + self.covariate_mean_)[adjusted]
        sd = np.sqrt(self.var_pooled_[adjusted])
        standardised = (values[:, adjusted] - centre) / sd
        gamma = np.empty_like(standardised)
        delta = np.empty_like(standardised)
        seen = np.isin(batch, self.batches_)
        positions = np.searchsorted(self.batches_, batch[seen])
        gamma[seen] = self.gamma_star_[positions][:, adjusted]
        delta[seen] = self.delta_star_[positions][:, adjusted]
        unseen = sorted(set(batch[~seen]))
        keep = np.zeros(len(batch), dtype=bool)  # rows returned exactly as they came
        if unseen:
            counts = {b: int((batch == b).sum()) for b in unseen}
            if self.unseen_batch == "refuse":
                raise InputError(
                    f"ComBat: centre(s) {counts} (cases per centre) were not in the training set, so no "
                    "harmonisation was estimated for them. Set harmonisation.unseen_batch to unadjusted "
                    "or self (docs/harmonisation.md), or train with those centres."
                )
            log.info("ComBat: centre(s) %s not seen in training: %s", counts, self.unseen_batch)
            for name in unseen:
                rows = batch == name
                if self.unseen_batch == "unadjusted":
                    gamma[rows], delta[rows], keep[rows] = 0.0, 1.0, True
                    continue
                own = standardised[rows]
                if own.shape[0] < 2:
                    raise InputError(
                        f"ComBat: centre {name!r} is new and has 1 case; unseen_batch: self needs at least 2 "
                        "cases of a centre at once. Use unseen_batch: unadjusted for single cases."
                    )
                g, d = self._shrink(own, own.mean(axis=0), own.var(axis=0, ddof=1))
                gamma[rows], delta[rows] = g, d
        out = values.copy()
        out[:, adjusted] = (standardised - gamma) / np.sqrt(delta) * sd + centre
        out[keep] = values[keep]
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        if input_features is not None and list(input_features) != list(self.feature_names_in_):
            raise ValueError("ComBat.get_feature_names_out: input_features differ from the columns seen in fit")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # the batch column holds centre names
        return tags


# -- workflow plumbing ----------------------------------------------------------------


def enabled(settings: dict | None) -> bool:
    return bool(settings) and settings.get("method", "none") == "combat"


def _covariate_types(settings: dict) -> tuple[list[str], list[str]]:
    types = settings.get("covariate_types", {})
    names = list(settings.get("covariates", []))
    unknown = [name for name in names if name not in types]
    if unknown:
        raise InputError(f"harmonisation.covariates {unknown} are not declared under clinical")
    return ([name for name in names if types[name] == "categorical"],
            [name for name in names if types[name] != "categorical"])


def harmonisation_steps(settings: dict | None) -> list[tuple[str, ComBat]]:
    """The Pipeline step(s) the config asks for: [("combat", ComBat(...))] or nothing."""
    if not enabled(settings):
        return []
    categorical, continuous = _covariate_types(settings)
    return [(
        "combat",
        ComBat(
            batch_column=BATCH_COLUMN,
            categorical_covariates=tuple(COVARIATE_PREFIX + c for c in categorical),
            continuous_covariates=tuple(COVARIATE_PREFIX + c for c in continuous),
            protect_label=settings.get("protect_label", True),
            parametric=settings.get("parametric", True),
            empirical_bayes=settings.get("empirical_bayes", True),
            unseen_batch=settings.get("unseen_batch", "unadjusted"),
        ),
    )]


def reserved_columns(settings: dict | None) -> dict[str, str]:
    """Reserved X column -> features.csv column it is copied from."""
    if not enabled(settings):
        return {}
    columns = {BATCH_COLUMN: settings.get("batch_column", "center")}
    columns.update({COVARIATE_PREFIX + name: name for name in settings.get("covariates", [])})
    return columns


def harmonisation_input(features: pd.DataFrame, table: pd.DataFrame | str, settings: dict | None) -> pd.DataFrame:
    """The model input X: the batch and covariate columns (reserved names) then the features.

    ``table`` is features.csv (or its frame) holding case_id and the batch/covariate
    columns; ``features`` is indexed by case_id. Unchanged when harmonisation is off.
    """
    columns = reserved_columns(settings)
    if not columns:
        return features
    if isinstance(table, str):
        table = pd.read_csv(table, dtype={"case_id": str, "center": str})
    table = table.set_index("case_id") if "case_id" in table.columns else table
    clash = sorted(set(columns) & set(features.columns))
    if clash:
        raise InputError(f"feature column(s) {clash} use names reserved for harmonisation; rename them")
    missing = [source for source in columns.values() if source not in table.columns]
    if missing:
        raise InputError(
            f"harmonisation needs column(s) {missing} in the features table; add the centre to the cohort "
            "sheet (center column) or set harmonisation.batch_column / covariates to existing columns"
        )
    meta = table.loc[features.index, list(columns.values())].copy()
    meta.columns = list(columns)
    batch = meta[BATCH_COLUMN]
    empty = batch.isna() | (batch.astype(str).str.strip() == "")
    if empty.any():
        raise InputError(
            f"harmonisation: case(s) {list(meta.index[empty][:10])} have no "
            f"{columns[BATCH_COLUMN]!r} value; fill it in the cohort sheet (every case needs its centre)"
        )
    meta[BATCH_COLUMN] = batch.astype(str)
    return pd.concat([meta, features], axis=1)

