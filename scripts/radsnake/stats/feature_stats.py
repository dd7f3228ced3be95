"""Univariate statistics of radiomics features between the two outcome groups (the
"Table 2" of a radiomics paper) and its volcano plot.

Everything is computed on the **training** cases only (the caller passes them), so the
table never leaks test-set information into feature selection.

* Mann–Whitney U test: two-sided normal approximation with tie and continuity
  correction, i.e. R ``wilcox.test(x1, x0, exact = FALSE, correct = TRUE)``. The exact
  test is not used: with hundreds of cases it equals the approximation, and R switches
  to it only without ties and n < 50.
* Welch t-test: R ``t.test(x1, x0)`` (unequal variances).
* FDR: Benjamini–Hochberg over the features with a p-value, R ``p.adjust(p, "BH")``.
* Effect size: for Mann–Whitney the rank-biserial correlation ``2 * AUC - 1``; for the
  t-test Cohen's d with the **pooled** SD, ``(mean_1 - mean_0) / sqrt(((n1 - 1) s1² +
  (n0 - 1) s0²) / (n1 + n0 - 2))``. Positive: higher in label 1.
* AUC: ``P(X1 > X0) + 0.5 P(X1 = X0)`` = U1 / (n1 n0), the feature used alone as a
  score, without flipping AUCs below 0.5.
* Constant features (within the training cases) get p = NaN, as R does (NaN for
  wilcox.test, an error for t.test); NaN p-values are left out of the FDR, as in
  ``p.adjust``.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["bh_adjust", "feature_table"]

COLUMNS = ["feature", "p_value", "p_fdr", "effect_size", "auc", "median_0", "median_1", "mean_0", "mean_1"]


def bh_adjust(p) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (scipy's false_discovery_control), as R's
    ``p.adjust(p, method = "BH")``: NaN stays NaN and does not count in the number of tests."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out


def _prepare(X_train: pd.DataFrame, y_train) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(X_train, pd.DataFrame):
        raise TypeError("X_train must be a DataFrame (one column per feature)")
    if isinstance(y_train, pd.Series) and not y_train.index.equals(X_train.index):
        if set(y_train.index) != set(X_train.index):
            raise ValueError("y_train's index does not match X_train's rows")
        y_train = y_train.reindex(X_train.index)
    y = np.asarray(y_train)
    if y.shape != (len(X_train),):
        raise ValueError(f"y_train has {y.size} values for {len(X_train)} rows of X_train")
    y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy()
    if np.isnan(y).any() or not np.isin(y, [0, 1]).all():
        raise ValueError("y_train must be coded 0/1 without missing values")
    if min((y == 0).sum(), (y == 1).sum()) < 2:
        raise ValueError("each class needs at least 2 training cases for the tests")
    bad = [c for c in X_train.columns if not pd.api.types.is_numeric_dtype(X_train[c])
           or pd.api.types.is_bool_dtype(X_train[c])]
    if bad:
        raise ValueError(f"{len(bad)} non-numeric feature column(s), e.g. {bad[:3]}")
    n_missing = X_train.isna().sum()
    if n_missing.any():
        cols = n_missing[n_missing > 0]
        raise ValueError(f"{len(cols)} feature(s) have missing values, e.g. "
                         + ", ".join(f"{c!r} ({k})" for c, k in cols.head(3).items())
                         + ": impute or drop them first")
    return X_train, y.astype(int)


def _tie_sums(A: np.ndarray) -> np.ndarray:
    """sum(t^3 - t) over the groups of tied values, per column (R: NTIES <- table(r))."""
    n, p = A.shape
    S = np.sort(A, axis=0)
    start = np.ones_like(S, dtype=bool)
    start[1:] = S[1:] != S[:-1]
    group = np.cumsum(start, axis=0) - 1 + np.arange(p) * n  # unique id per (column, group)
    counts = np.bincount(group.ravel(order="F"), minlength=n * p).astype(float)
    return np.bincount(np.arange(n * p) // n, weights=counts**3 - counts, minlength=p)


def feature_table(X_train: pd.DataFrame, y_train, test: str = "mannwhitney") -> pd.DataFrame:
    """Per-feature two-group statistics on the training cases, one row per feature in
    column order: ``feature, p_value, p_fdr, effect_size, auc, median_0, median_1,
    mean_0, mean_1``.

    ``test="mannwhitney"``: p from R ``wilcox.test(exact = FALSE, correct = TRUE)``,
    effect size = rank-biserial correlation ``2 * auc - 1``. ``test="ttest"``: p from R
    ``t.test`` (Welch), effect size = Cohen's d with the pooled SD. ``p_fdr`` is R
    ``p.adjust(p, "BH")``. Vectorised over features (1,500 x 500 in well under a second).
    """
    if test not in ("mannwhitney", "ttest"):
        raise ValueError(f"test must be 'mannwhitney' or 'ttest', got {test!r}")
    X, y = _prepare(X_train, y_train)
    A = X.to_numpy(dtype=float)
    is1 = y == 1
    x1, x0 = A[is1], A[~is1]
    n1, n0 = float(x1.shape[0]), float(x0.shape[0])
    n = n1 + n0

    ranks = sps.rankdata(A, axis=0)  # midranks, as R's rank()
    u1 = ranks[is1].sum(axis=0) - n1 * (n1 + 1) / 2
    auc = u1 / (n1 * n0)
    mean1, mean0 = x1.mean(axis=0), x0.mean(axis=0)
    var1, var0 = x1.var(axis=0, ddof=1), x0.var(axis=0, ddof=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        if test == "mannwhitney":
            z = u1 - n1 * n0 / 2
            sigma = np.sqrt(n1 * n0 / 12 * ((n + 1) - _tie_sums(A) / (n * (n - 1))))
            z = (z - np.sign(z) * 0.5) / sigma  # continuity correction towards 0
            p = 2 * sps.norm.sf(np.abs(z))
            p[~(sigma > 0)] = np.nan  # constant feature: R gives NaN
            effect = 2 * auc - 1
        else:
            se1, se0 = var1 / n1, var0 / n0
            stderr = np.sqrt(se1 + se0)
            df = stderr**4 / (se1**2 / (n1 - 1) + se0**2 / (n0 - 1))
            t = (mean1 - mean0) / stderr
            p = 2 * sps.t.sf(np.abs(t), df)
            # R stops with "data are essentially constant" below this; we give NaN
            constant = stderr < 10 * np.finfo(float).eps * np.maximum(np.abs(mean1), np.abs(mean0))
            p[constant | ~np.isfinite(t)] = np.nan
            pooled = np.sqrt(((n1 - 1) * var1 + (n0 - 1) * var0) / (n - 2))
            effect = np.where(pooled > 0, (mean1 - mean0) / pooled, np.nan)

    return pd.DataFrame({
        "feature": [str(c) for c in X.columns],
        "p_value": p,
        "p_fdr": bh_adjust(p),
        "effect_size": effect,
        "auc": auc,
        "median_0": np.median(x0, axis=0),
        "median_1": np.median(x1, axis=0),
        "mean_0": mean0,
        "mean_1": mean1,
    }, columns=COLUMNS)


# ---------------------------------------------------------------------------------------
# Volcano plot
# ---------------------------------------------------------------------------------------
