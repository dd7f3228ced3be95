"""Clinical statistics of a radiomics paper: odds-ratio tables, the clinical / rad-score /
combined logistic models, and the nomogram (layout and figure).

Conventions (the R functions each one matches are named in the docstrings):

* Design matrices use **treatment coding** with the *first level* as reference: levels
  are sorted (numerically when every level is a number, else alphabetically as strings),
  unless the column is a pandas ``Categorical``, whose declared category order is used
  (as R uses a factor's ``levels``). Dummy columns are named ``"<column>=<level>"``, the
  rms spelling (``sex=M``; R's ``glm`` would call it ``sexM``).
* Missing values are never dropped silently: a ``ValueError`` names the column and the
  number of missing rows (R's ``na.omit`` would silently change *n* between the
  univariate models of one table).
* Logistic models are maximum likelihood fits (statsmodels ``Logit``, Newton-Raphson,
  tolerance far below the printed precision) with Wald statistics; the 95 % CI of an OR
  is ``exp(beta ± qnorm(0.975) * se)`` (qnorm(0.975) = 1.959964, as R's
  ``confint.default``; *not* the profile-likelihood ``confint`` of MASS).
* Complete or quasi-complete separation (an MLE that does not exist: some coefficient
  runs off to ±infinity, R only warns "fitted probabilities numerically 0 or 1") is
  detected exactly with the linear program of Konis (2007) and raised as a
  ``ValueError`` naming the predictors and the setting ``clinical_model.penalty``, before
  any fit.
* ``penalty="firth"``: Firth's bias-reduced logistic regression (firthmodels, the
  penalised likelihood of R's ``logistf`` and ``brglm2::brglmFit(type = "AS_mean")``),
  finite under separation; its Wald SEs come from the penalised fit's information matrix
  (tests/test_clinical_firth.py checks both against brglm2 to 1e-6).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy import stats as sps

from radsnake.stats.penalised import firth_logit

__all__ = [
    "design_matrix",
    "logistic_table",
    "FittedLogistic",
    "fit_logistic",
    "fit_comparison_models",
    "r_pretty",
    "nomogram_axes",
]

KINDS = ("numeric", "categorical")
# config clinical_model.penalty
PENALTIES = ("none", "firth")
INTERCEPT = "Intercept"
_Z975 = float(sps.norm.ppf(0.975))  # R: qnorm(0.975); "1.96" would differ in the 4th digit
_SEP = "="  # rms: varname.label.sep


# ---------------------------------------------------------------------------------------
# Design matrix
# ---------------------------------------------------------------------------------------


def _check_predictors(frame: pd.DataFrame, predictors: Mapping[str, str]) -> None:
    if not predictors:
        raise ValueError("no predictors given")
    for col, kind in predictors.items():
        if kind not in KINDS:
            raise ValueError(f"predictor {col!r}: kind must be 'numeric' or 'categorical', got {kind!r}")
        if col not in frame.columns:
            raise ValueError(f"predictor {col!r} is not a column of the table "
                             f"(columns: {', '.join(map(str, frame.columns))})")
        n_missing = int(frame[col].isna().sum())
        if n_missing:
            raise ValueError(
                f"predictor {col!r} has {n_missing} missing value(s) out of {len(frame)}: "
                "impute them or exclude those cases before modelling")


def _level_label(value) -> str:
    # 1.0 read from a CSV column with gaps is the level "1", as R's factor(c(1, 2)) gives.
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _levels_of(series: pd.Series) -> tuple[str, ...]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().map(_level_label))
        return tuple(lv for lv in map(_level_label, series.cat.categories) if lv in present)
    labels = sorted(set(series.dropna().map(_level_label)))
    try:  # all numbers: numeric order, so "10" comes after "9" (R sorts numeric factors so)
        return tuple(sorted(labels, key=float))
    except ValueError:
        return tuple(labels)


def design_matrix(
    frame: pd.DataFrame,
    predictors: Mapping[str, str],
    *,
    levels: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Model matrix without intercept, as R's ``model.matrix(~ ., frame)[, -1]`` with
    treatment contrasts.

    ``predictors`` maps column -> ``"numeric"`` or ``"categorical"``. Numeric columns are
    used as they are; a categorical column with levels L1 < L2 < ... becomes 0/1 columns
    ``"col=L2"``, ``"col=L3"``, ... (L1 is the reference). ``levels`` fixes the levels
    (reference first), e.g. those of the training set when building the matrix of a test
    set; a value outside them raises ``ValueError``. Missing values raise ``ValueError``.
    """
    _check_predictors(frame, predictors)
    out: dict[str, np.ndarray] = {}
    for col, kind in predictors.items():
        s = frame[col]
        if kind == "numeric":
            values = pd.to_numeric(s, errors="coerce")
            bad = int(values.isna().sum())
            if bad:
                example = s[values.isna()].iloc[0]
                raise ValueError(f"numeric predictor {col!r} has {bad} non-numeric value(s), "
                                 f"e.g. {example!r}: declare it categorical or fix the values")
            out[col] = values.to_numpy(dtype=float)
            continue
        lv = tuple(levels[col]) if levels is not None and col in levels else _levels_of(s)
        labels = s.map(_level_label).to_numpy(dtype=object)
        unknown = sorted(set(labels) - set(lv))
        if unknown:
            raise ValueError(f"categorical predictor {col!r}: level(s) {unknown} not among the "
                             f"model's levels {list(lv)}")
        if len(lv) < 2:
            raise ValueError(f"categorical predictor {col!r} has a single level {list(lv)}: "
                             "it cannot be estimated; drop it")
        for level in lv[1:]:
            out[f"{col}{_SEP}{level}"] = (labels == level).astype(float)
    return pd.DataFrame(out, index=frame.index)


def predictor_levels(frame: pd.DataFrame, predictors: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    return {c: _levels_of(frame[c]) for c, k in predictors.items() if k == "categorical"}


def _outcome(frame: pd.DataFrame, outcome: str) -> np.ndarray:
    if outcome not in frame.columns:
        raise ValueError(f"outcome column {outcome!r} is not in the table")
    y = frame[outcome]
    if y.isna().any():
        raise ValueError(f"outcome {outcome!r} has {int(y.isna().sum())} missing value(s)")
    values = pd.to_numeric(y, errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        raise ValueError(f"outcome {outcome!r} must be coded 0/1, found {sorted(map(str, y.unique()))[:5]}")
    y01 = values.to_numpy(dtype=float)
    if y01.min() == y01.max():
        raise ValueError(f"outcome {outcome!r} has a single class ({int(y01[0])}): nothing to model")
    return y01


# ---------------------------------------------------------------------------------------
# Logistic regression
# ---------------------------------------------------------------------------------------


def _separated(X: np.ndarray, y01: np.ndarray) -> bool:
    """True if the classes are (quasi-)completely separated by some direction beta != 0.

    Konis (2007) / R package detectseparation: maximise sum_i s_i x_i beta subject to
    s_i x_i beta >= 0 for all i (s = +1 for events, -1 otherwise) and |beta| <= 1. The
    maximum is 0 exactly when the MLE exists (no direction improves the likelihood for
    ever). Columns are scaled to unit SD first so that the tolerance means the same for
    every predictor's units.
    """
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0  # the intercept
    A = (2 * y01 - 1)[:, None] * (X / scale)
    res = optimize.linprog(
        -A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(A)), bounds=[(-1, 1)] * A.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-6 * max(1, len(A)))


def _fit_mle(X: pd.DataFrame, y01: np.ndarray, what: str, penalty: str = "none"):
    """Logit with an intercept, maximum likelihood or Firth's (``penalty``); returns
    (coef, se) Series named by column."""
    import statsmodels.api as sm

    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {list(PENALTIES)}, got {penalty!r}")
    Xc = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    names = [INTERCEPT, *X.columns]
    if np.linalg.matrix_rank(Xc) < Xc.shape[1]:
        raise ValueError(f"{what}: the design is collinear (a predictor is constant or a linear "
                         f"combination of the others; columns {list(X.columns)}); drop one")
    if penalty == "firth":
        return firth_logit(Xc, y01, names, what)
    if _separated(Xc, y01):
        raise ValueError(
            f"{what}: perfect or quasi-perfect separation -- some combination of "
            f"{list(X.columns)} predicts the outcome without error in part of the data, so the "
            "odds ratio is infinite and no maximum-likelihood estimate exists. Set "
            "clinical_model.penalty: firth in the config (Firth's penalised model, finite under "
            "separation), merge sparse categories, or drop the predictor")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked just below
        res = sm.Logit(y01, Xc).fit(method="newton", maxiter=100, tol=1e-12, disp=0)
    if not res.mle_retvals.get("converged", False):
        raise ValueError(f"{what}: the logistic model did not converge")
    coef = pd.Series(np.asarray(res.params, dtype=float), index=names)
    se = pd.Series(np.sqrt(np.diag(np.asarray(res.cov_params(), dtype=float))), index=names)
    return coef, se


def logistic_table(
    frame: pd.DataFrame,
    outcome: str,
    predictors: Mapping[str, str],
    kind: str = "univariate",
    penalty: str = "none",
) -> pd.DataFrame:
    """Odds-ratio table of a univariate or multivariate logistic regression.

    Matches R ``glm(y ~ x, family = binomial)``: ``odds_ratio = exp(coef)``,
    ``ci_low/ci_high = exp(confint.default(fit))`` (Wald 95 %), ``p_value =
    summary(fit)$coefficients[, 4]`` (Wald z test). ``kind="univariate"`` fits one model
    per predictor (each with an intercept), ``"multivariate"`` one model with all of them.
    One row per model term (a categorical predictor with k levels gives k - 1 rows,
    ``term`` = ``"col=level"``; numeric: ``term`` = column), in predictor order; ``n`` is
    the number of cases in the model. The intercept is not reported.
    """
    if kind not in ("univariate", "multivariate"):
        raise ValueError(f"kind must be 'univariate' or 'multivariate', got {kind!r}")
    _check_predictors(frame, predictors)
    y01 = _outcome(frame, outcome)
    groups = ([{c: k} for c, k in predictors.items()] if kind == "univariate"
              else [dict(predictors)])
    rows = []
    for group in groups:
        X = design_matrix(frame, group)
        what = f"{kind} model of {outcome!r} on {', '.join(map(repr, group))}"
        coef, se = _fit_mle(X, y01, what, penalty)
        z = coef / se
        p = pd.Series(2.0 * sps.norm.sf(np.abs(z.to_numpy())), index=z.index)  # R: 2 * pnorm(-|z|)
        for col, k in group.items():
            terms = [col] if k == "numeric" else [t for t in X.columns if t.startswith(col + _SEP)]
            for t in terms:
                rows.append(dict(
                    predictor=col, term=t,
                    odds_ratio=math.exp(coef[t]),
                    ci_low=math.exp(coef[t] - _Z975 * se[t]),
                    ci_high=math.exp(coef[t] + _Z975 * se[t]),
                    p_value=float(p[t]),
                    n=len(frame),
                ))
    return pd.DataFrame(rows, columns=["predictor", "term", "odds_ratio", "ci_low", "ci_high",
                                       "p_value", "n"])


@dataclass(frozen=True)
class FittedLogistic:
    """A fitted logistic model: ``coef`` (``"Intercept"`` then the design columns, log-odds
    scale), ``se`` (Wald standard errors), the predictors and their categorical levels (from
    the training rows, reference first), so the same design can be rebuilt on new cases."""

    outcome: str
    predictors: dict[str, str]
    levels: dict[str, tuple[str, ...]]
    columns: tuple[str, ...]
    coef: pd.Series
    se: pd.Series
    n: int
    n_events: int

    def design(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Design matrix of ``frame`` with the training levels and column order."""
        X = design_matrix(frame, self.predictors, levels=self.levels)
        return X.reindex(columns=list(self.columns), fill_value=0.0)

    def linear_predictor(self, frame: pd.DataFrame) -> np.ndarray:
        """Log-odds (R: ``predict(fit, newdata)``)."""
        X = self.design(frame).to_numpy(dtype=float)
        return self.coef[INTERCEPT] + X @ self.coef[list(self.columns)].to_numpy(dtype=float)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(outcome = 1) for every row of ``frame``, a 1-D array (R:
        ``predict(fit, newdata, type = "response")``). Not sklearn's two-column layout."""
        return special.expit(self.linear_predictor(frame))


def fit_logistic(frame: pd.DataFrame, outcome: str, predictors: Mapping[str, str],
                 penalty: str = "none") -> FittedLogistic:
    """Fit ``glm(outcome ~ predictors, family = binomial)`` on ``frame`` (pass the
    *training* rows only; levels are learnt from them). Raises ``ValueError`` on missing
    values, a non-0/1 outcome, collinear predictors or separation."""
    _check_predictors(frame, predictors)
    y01 = _outcome(frame, outcome)
    predictors = dict(predictors)
    levels = predictor_levels(frame, predictors)
    X = design_matrix(frame, predictors, levels=levels)
    coef, se = _fit_mle(X, y01, f"model of {outcome!r} on {', '.join(map(repr, predictors))}", penalty)
    return FittedLogistic(
        outcome=outcome, predictors=predictors, levels=levels, columns=tuple(X.columns),
        coef=coef, se=se, n=len(frame), n_events=int(y01.sum()),
    )


def fit_comparison_models(
    frame_train: pd.DataFrame,
    outcome: str,
    clinical: Mapping[str, str],
    radscore: str = "radscore",
    penalty: str = "none",
) -> dict[str, FittedLogistic]:
    """The three models radiomics papers compare, all fitted on the training rows:
    ``"clinical"`` (clinical predictors), ``"radiomics"`` (the rad-score alone) and
    ``"combined"`` (clinical + rad-score: the nomogram model)."""
    rad = {radscore: "numeric"}
    return {
        "clinical": fit_logistic(frame_train, outcome, clinical, penalty),
        "radiomics": fit_logistic(frame_train, outcome, rad, penalty),
        "combined": fit_logistic(frame_train, outcome, {**dict(clinical), **rad}, penalty),
    }


# ---------------------------------------------------------------------------------------
# Nomogram
# ---------------------------------------------------------------------------------------

_DBL_EPS = np.finfo(float).eps
_DBL_MIN = np.finfo(float).tiny


def r_pretty(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """R's ``pretty(c(lo, hi), n)`` (R >= 4.2: ``R_pretty`` in src/appl/pretty.c and
    ``pretty.default``), reproduced step by step so the nomogram's tick values are the
    ones rms would choose."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    min_n = n // 3
    shrink, h = 0.75, 1.5
    h5 = 0.5 + 1.5 * h
    f_min = 2.0 ** -20
    rounding_eps = 1e-10
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        U = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        U *= max(1, n) * _DBL_EPS
        small = dx < cell * U * 3
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    cell = max(cell, f_min * _DBL_MIN)
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + rounding_eps)
    nu = math.ceil(hi / unit - rounding_eps)
    while ns * unit > lo + rounding_eps * unit:
        ns -= 1
    while nu * unit < hi - rounding_eps * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        ndiv = min_n
    else:
        ndiv = k
    low = ns * unit if ns * unit < lo else lo
    up = nu * unit if nu * unit > hi else hi
    # seq.int(low, up, length.out = ndiv + 1): filled from both ends, as R's C code does
    m = ndiv + 1
    s = np.empty(m)
    s[0] = low
    if m > 1:
        s[-1] = up
        by = (up - low) / (m - 1)
        for i in range(1, m - 1):
            s[i] = low + i * by if i < m // 2 else up - (m - 1 - i) * by
    if ndiv:
        delta = (up - low) / ndiv
        s[np.abs(s) < 1e-14 * delta] = 0.0
    return s


PROBABILITY_TICKS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def nomogram_axes(
    fitted: FittedLogistic,
    frame_train: pd.DataFrame,
    predictors: Mapping[str, str] | Sequence[str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    maxscale: float = 100.0,
    nint: int = 10,
) -> dict:
    """Layout of ``rms::nomogram(lrm(...), fun = plogis)`` for a fitted logistic model.

    Per predictor (in the order of ``predictors``, default the model's): the tick values
    (numeric: R ``pretty(range(training values), 10)``, as rms with a ``datadist`` of
    the training data; categorical: every level) and their points
    ``(beta * x - min over the ticks) * sc`` with ``sc = 100 / widest LP range``, so the
    most influential predictor spans 0–100 points exactly as rms computes ``points``.

    Returns a dict: ``predictors`` (list of dicts: ``name``, ``label``, ``kind``,
    ``values``, ``tick_labels``, ``points``), ``scale`` (points per log-odds unit),
    ``lp_at_zero`` (log-odds at 0 total points), ``points_axis`` (0..100 ticks),
    ``total_points`` (ticks: rms's ``pretty(c(0, sum.max), 10)`` where ``sum.max`` is
    reached by the training linear predictors) and ``probability`` (``values`` and the
    total ``points`` where each falls; the fixed ticks 0.01, 0.05, 0.1 ... 0.9, 0.95,
    0.99 inside the total-points axis, or R ``pretty`` values when fewer than 3 are).
    """
    if predictors is None:
        names = list(fitted.predictors)
    else:
        names = list(predictors)
    if sorted(names) != sorted(fitted.predictors):
        raise ValueError(f"nomogram predictors {names} must be the model's {list(fitted.predictors)}")
    labels = dict(labels or {})
    rows = []
    for name in names:
        kind = fitted.predictors[name]
        if kind == "numeric":
            x = pd.to_numeric(frame_train[name], errors="coerce").dropna().to_numpy(dtype=float)
            if x.size == 0:
                raise ValueError(f"nomogram: no numeric training values for {name!r}")
            values = r_pretty(x.min(), x.max(), nint)
            contrib = fitted.coef[name] * values
            tick_labels = [tick_text(v) for v in values]
            values_out = [float(v) for v in values]
        else:
            lv = fitted.levels[name]
            contrib = np.array([0.0] + [fitted.coef[f"{name}{_SEP}{level}"] for level in lv[1:]])
            tick_labels = list(lv)
            values_out = list(lv)
        rows.append(dict(name=name, label=labels.get(name, name), kind=kind, values=values_out,
                         tick_labels=tick_labels, contribution=np.asarray(contrib, float)))
    low = np.array([r["contribution"].min() for r in rows])
    high = np.array([r["contribution"].max() for r in rows])
    widest = float((high - low).max())
    if not widest > 0:
        raise ValueError("nomogram: every predictor has a zero effect; nothing to draw")
    sc = maxscale / widest  # rms: sc <- maxscale / max(R[2, ] - R[1, ])
    for r, lo_ in zip(rows, low):
        r["points"] = [float(v) for v in (r.pop("contribution") - lo_) * sc]
    lp_zero = float(fitted.coef[INTERCEPT] + low.sum())  # rms: Intercept + sum(R[1, ])

    # Total points axis exactly as rms: from the pretty range of the training LPs.
    lp_train = fitted.linear_predictor(frame_train)
    lp_at = r_pretty(lp_train.min(), lp_train.max(), nint)
    sum_max = maxscale if len(rows) == 1 else max(maxscale, sc * float(np.max(lp_at - lp_zero)))
    total_ticks = r_pretty(0.0, sum_max, nint)
    top = float(total_ticks.max())

    def _points_of(p):
        return (special.logit(np.asarray(p, float)) - lp_zero) * sc

    probs = np.array(PROBABILITY_TICKS)
    pts = _points_of(probs)
    keep = (pts >= 0) & (pts <= top)
    if keep.sum() < 3:  # narrow range: rms's default pretty() of the probability range
        ends = special.expit(lp_zero + np.array([0.0, top]) / sc)
        probs = r_pretty(ends[0], ends[1], nint)
        probs = probs[(probs > 0) & (probs < 1)]
        pts = _points_of(probs)
        keep = (pts >= 0) & (pts <= top)
    return dict(
        predictors=rows,
        scale=float(sc),
        lp_at_zero=lp_zero,
        points_axis=[float(v) for v in np.linspace(0, maxscale, 11)],
        total_points=[float(v) for v in total_ticks],
        probability=dict(values=[float(v) for v in probs[keep]],
                         points=[float(v) for v in pts[keep]]),
        maxscale=float(maxscale),
    )


def tick_text(v: float) -> str:
    return f"{v:.10g}".replace("-", "−")


def comparison_frame(features_csv, split_csv, radscore_csv, clinical_columns: dict[str, str]) -> pd.DataFrame:
    # Categories as text (01 stays 01); an empty cell stays missing, not the level "nan".
    text = {column: str for column, kind in clinical_columns.items() if kind == "categorical"}
    table = pd.read_csv(
        features_csv, dtype={"case_id": str, "center": str, **text}, usecols=["case_id", "label", *clinical_columns]
    )
    split = pd.read_csv(split_csv, dtype=str)
    radscore = pd.read_csv(radscore_csv, dtype={"case_id": str})[["case_id", "radscore"]]
    return table.merge(split, on="case_id").merge(radscore, on="case_id")
