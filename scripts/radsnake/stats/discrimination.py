"""ROC statistics for binary radiomics models, matching R's pROC (1.18).

Every function takes plain arrays (``y`` coded 0 = control, 1 = case, ``score``
where higher means "more likely a case") and returns plain floats, dicts or
DataFrames. Nothing here is random except :func:`bootstrap_ci`, which is seeded.

R equivalents (``r <- roc(y, score, direction = "<", levels = c(0, 1))``):

- :func:`auc_delong`       -> ``auc(r)``, ``var(r, method = "delong")``,
                              ``ci.auc(r, method = "delong")``
- :func:`delong_test`      -> ``roc.test(r1, r2, method = "delong", paired = TRUE)``
- :func:`youden_threshold` -> ``coords(r, "best", best.method = "youden")``, first row
- :func:`threshold_metrics`-> ``coords(r, x = threshold, input = "threshold",
                              ret = c("tp", "fp", "tn", "fn", "sensitivity", ...))``
- :func:`target_threshold` -> ``coords(r, "all")`` filtered on the target sensitivity
                              or specificity (pROC has no single call for this)
- :func:`bootstrap_ci`     -> ``ci.auc`` / ``ci.coords`` with ``boot.stratified = TRUE``
                              (same resampling scheme, not the same random stream)

Conventions shared by all functions:

- The direction is fixed to pROC's ``direction = "<"``: controls are expected to
  score lower. It is never flipped automatically, so a model worse than chance
  reports an AUC below 0.5 instead of silently hiding it.
- A subject is called positive when ``score >= threshold`` (pROC's rule for "<").
- Candidate thresholds are pROC's: ``-inf``, the midpoints between consecutive
  distinct scores, and ``+inf``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = [
    "auc_delong",
    "delong_test",
    "youden_threshold",
    "threshold_metrics",
    "target_threshold",
    "bootstrap_ci",
]


# --------------------------------------------------------------------------- helpers


def _check(y, score, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to (bool labels, float scores)."""
    y = np.asarray(y)
    score = np.asarray(score, dtype=float)
    if y.ndim != 1 or score.ndim != 1:
        raise ValueError("y and %s must be one-dimensional" % name)
    if y.shape != score.shape:
        raise ValueError(
            "y and %s have different lengths (%d vs %d)" % (name, y.size, score.size)
        )
    if y.dtype == bool:
        yb = y
    else:
        try:
            yf = y.astype(float)
        except (TypeError, ValueError):
            raise ValueError("y must be coded 0 (control) / 1 (case)") from None
        if not np.all(np.isin(yf, (0.0, 1.0))):
            raise ValueError(
                "y must be coded 0 (control) / 1 (case); got values %s"
                % np.unique(y)[:10].tolist()
            )
        yb = yf == 1.0
    # pROC silently drops NA; here a missing prediction is a pipeline bug, so fail.
    if not np.all(np.isfinite(score)):
        raise ValueError("%s contains NaN or infinite values" % name)
    n_case = int(yb.sum())
    if n_case == 0 or n_case == yb.size:
        raise ValueError(
            "need both classes to compute ROC statistics: got %d cases (y=1) and "
            "%d controls (y=0)" % (n_case, yb.size - n_case)
        )
    return yb, score


def _midrank(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    mid = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size, dtype=float)
    ranks[order] = np.repeat(mid, ends - starts)
    return ranks


def _placements(cases: np.ndarray, controls: np.ndarray):
    """DeLong placements by the Sun & Xu (2014) midrank algorithm, O(N log N).

    v10[i] = P(control < case_i) + 1/2 P(control == case_i), v01[j] likewise for
    control_j; their mean is the AUC with ties counted 1/2, as in pROC.
    """
    m, n = cases.size, controls.size
    tz = _midrank(np.concatenate([cases, controls]))
    v10 = (tz[:m] - _midrank(cases)) / n
    v01 = 1.0 - (tz[m:] - _midrank(controls)) / m
    return v10, v01


def roc_points(yb: np.ndarray, score: np.ndarray):
    """pROC's thresholds (ascending) with tp and tn counts at each.

    Returns (thresholds, tp, tn, n_case, n_control).
    """
    u = np.unique(score)
    lo = np.r_[-np.inf, u]
    hi = np.r_[u, np.inf]
    with np.errstate(over="ignore", invalid="ignore"):
        thr = (lo + hi) / 2.0
    # Like pROC: halve first when the sum could overflow.
    big = ~(np.abs(thr) <= 1e100)
    thr[big] = lo[big] / 2.0 + hi[big] / 2.0
    # Adjacent doubles have no midpoint strictly between them; pROC then moves the
    # threshold up to the upper value so that ">=" still separates the two.
    thr = np.where((thr == lo) & np.isfinite(lo), hi, thr)

    cases = np.sort(score[yb])
    controls = np.sort(score[~yb])
    tp = cases.size - np.searchsorted(cases, thr, side="left")  # cases >= thr
    tn = np.searchsorted(controls, thr, side="left")  # controls < thr
    return thr, tp, tn, cases.size, controls.size


# --------------------------------------------------------------------------- AUC


def auc_delong(y, score, level: float = 0.95) -> dict:
    """AUC with DeLong variance and normal CI (pROC ``ci.auc(method="delong")``).

    Returns dict(auc, var, ci_low, ci_high). The CI is AUC +/- z * SE clipped to
    [0, 1]. With a single case or a single control the variance is undefined and
    var/CI are NaN (pROC returns NA there too).
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1), got %r" % (level,))
    yb, s = _check(y, score)
    cases, controls = s[yb], s[~yb]
    m, n = cases.size, controls.size
    v10, v01 = _placements(cases, controls)
    auc = float(v10.mean())
    if m <= 1 or n <= 1:
        return dict(auc=auc, var=math.nan, ci_low=math.nan, ci_high=math.nan)
    var = float(
        np.sum((v10 - auc) ** 2) / (m - 1) / m + np.sum((v01 - auc) ** 2) / (n - 1) / n
    )
    z = float(ndtri(1 - (1 - level) / 2))
    se = math.sqrt(var)
    return dict(
        auc=auc,
        var=var,
        ci_low=min(max(auc - z * se, 0.0), 1.0),
        ci_high=min(max(auc + z * se, 0.0), 1.0),
    )


def delong_test(y, score_a, score_b) -> dict:
    """Paired two-sided DeLong test of AUC(a) vs AUC(b) on the same subjects.

    Matches pROC ``roc.test(r_a, r_b, method="delong", paired=TRUE)``.
    Returns dict(auc_a, auc_b, z, p_value), z = (auc_a - auc_b) / SE(diff).

    Degenerate case, as in pROC: when the difference and its SE are both exactly
    zero (e.g. identical scores, or two perfect models) z = 0 and p = 1. A non-zero
    difference with zero SE (one perfect model, one perfectly reversed) gives
    z = +/-inf and p = 0.
    """
    yb, a = _check(y, score_a, "score_a")
    _, b = _check(y, score_b, "score_b")
    m, n = int(yb.sum()), int((~yb).sum())
    if m <= 1 or n <= 1:
        raise ValueError("DeLong test needs at least 2 cases and 2 controls")
    a10, a01 = _placements(a[yb], a[~yb])
    b10, b01 = _placements(b[yb], b[~yb])
    auc_a, auc_b = float(a10.mean()), float(b10.mean())
    # Variance of the difference from the differenced placements: algebraically
    # L'SL of pROC, but never negative through cancellation.
    dx = (a10 - auc_a) - (b10 - auc_b)
    dy = (a01 - auc_a) - (b01 - auc_b)
    var_d = np.sum(dx * dx) / (m - 1) / m + np.sum(dy * dy) / (n - 1) / n
    d = auc_a - auc_b
    sig = math.sqrt(var_d)
    if sig == 0.0:
        z = 0.0 if d == 0.0 else math.copysign(math.inf, d)
    else:
        z = d / sig
    p = float(2 * ndtr(-abs(z)))
    return dict(auc_a=auc_a, auc_b=auc_b, z=float(z), p_value=p)


# --------------------------------------------------------------------------- thresholds


def youden_threshold(y, score) -> float:
    """Threshold maximising sensitivity + specificity - 1 (Youden's J).

    Same candidates and criterion as pROC ``coords(r, "best", best.method="youden")``
    (criterion computed as ``tp/n_case + tn/n_control`` in floating point exactly as
    pROC does, so the same points tie). When several thresholds tie, pROC returns
    all of them in ascending order; we return the first, i.e. the LOWEST threshold
    (the most sensitive of the equally good cut-offs). The result can be -inf
    (call everyone positive) when no cut-off beats J = 0, e.g. a reversed model.
    """
    yb, s = _check(y, score)
    thr, tp, tn, m, n = roc_points(yb, s)
    crit = tp / m + tn / n
    return float(thr[np.flatnonzero(crit == crit.max())[0]])


def threshold_metrics(y, score, threshold: float) -> dict:
    """Confusion-matrix metrics with positive = ``score >= threshold``.

    Returns dict(n, accuracy, sensitivity, specificity, ppv, npv, tp, fp, tn, fn).
    Undefined ratios (0/0, e.g. PPV when nobody is called positive) are NaN.
    Unlike the other functions, one class may be absent here (e.g. a small
    external test subset); the metrics depending on it are then NaN.
    """
    y = np.asarray(y)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("y and score must be one-dimensional and equally long")
    if not np.all(np.isin(y.astype(float), (0.0, 1.0))):
        raise ValueError("y must be coded 0 (control) / 1 (case)")
    if np.isnan(s).any():
        raise ValueError("score contains NaN values")
    if math.isnan(float(threshold)):
        raise ValueError("threshold is NaN")
    yb = y.astype(float) == 1.0
    pos = s >= threshold
    tp = int(np.sum(pos & yb))
    fp = int(np.sum(pos & ~yb))
    tn = int(np.sum(~pos & ~yb))
    fn = int(np.sum(~pos & yb))
    return dict(
        n=int(y.size),
        accuracy=_ratio(tp + tn, y.size),
        sensitivity=_ratio(tp, tp + fn),
        specificity=_ratio(tn, tn + fp),
        ppv=_ratio(tp, tp + fp),
        npv=_ratio(tn, tn + fn),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
    )


def _ratio(a, b) -> float:
    return a / b if b else math.nan


def target_threshold(y, score, sensitivity: float | None = None,
                     specificity: float | None = None) -> float:
    """Threshold reaching at least a target sensitivity OR specificity.

    Among pROC's candidate thresholds whose sensitivity (resp. specificity) is
    >= the target, return the one with the highest specificity (resp.
    sensitivity); if several share it, the one with the highest value of the
    targeted metric. Always defined: -inf gives sensitivity 1, +inf specificity 1.
    Fit it on training data and then apply it unchanged to test data.
    """
    if (sensitivity is None) == (specificity is None):
        raise ValueError("give exactly one of sensitivity= or specificity=")
    target = sensitivity if sensitivity is not None else specificity
    if not 0 <= target <= 1:
        raise ValueError("target must be within [0, 1], got %r" % (target,))
    yb, s = _check(y, score)
    thr, tp, tn, m, n = roc_points(yb, s)
    # Compare on integer counts, so a target of e.g. 0.9 with 10 cases needs 9
    # cases, not "9/10 >= 0.9 up to rounding".
    if sensitivity is not None:
        ok = tp >= math.ceil(target * m - 1e-9)
        primary, secondary = tn, tp
    else:
        ok = tn >= math.ceil(target * n - 1e-9)
        primary, secondary = tp, tn
    idx = np.flatnonzero(ok)
    best = idx[np.lexsort((-secondary[idx], -primary[idx]))[0]]
    return float(thr[best])


# --------------------------------------------------------------------------- bootstrap


_BOOT_METRICS = ("auc", "sensitivity", "specificity", "ppv", "npv", "accuracy")


def bootstrap_ci(y, score, threshold: float, n_boot: int = 2000, level: float = 0.95,
                 random_state: int = 0) -> pd.DataFrame:
    """Stratified bootstrap percentile CIs for AUC and metrics at a fixed threshold.

    Cases and controls are resampled separately (pROC ``boot.stratified=TRUE``), so
    every resample keeps the observed prevalence and the AUC is always defined.
    The threshold is held fixed (it was chosen on training data; re-optimising it
    per resample would answer a different question). ``estimate`` is the value on
    the original data; CIs are quantiles (numpy "linear" = R type 7) of the
    resampled values, skipping resamples where a metric is undefined (PPV/NPV
    when nobody is called positive/negative).

    Returns a DataFrame indexed by metric with columns estimate, ci_low, ci_high.
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1), got %r" % (level,))
    if int(n_boot) < 1:
        raise ValueError("n_boot must be >= 1")
    yb, s = _check(y, score)
    rng = np.random.default_rng(int(random_state))
    cases, controls = s[yb], s[~yb]
    m, n = cases.size, controls.size
    # Resample indices into the distinct score values: each resample then only
    # needs per-value counts, and the AUC follows from cumulative sums.
    u, inv = np.unique(s, return_inverse=True)
    k = u.size
    ci = rng.integers(0, m, size=(n_boot, m))
    ki = rng.integers(0, n, size=(n_boot, n))
    rows = np.arange(n_boot)[:, None] * k
    c_cnt = np.bincount((rows + inv[yb][ci]).ravel(), minlength=n_boot * k)
    c_cnt = c_cnt.reshape(n_boot, k)
    k_cnt = np.bincount((rows + inv[~yb][ki]).ravel(), minlength=n_boot * k)
    k_cnt = k_cnt.reshape(n_boot, k)
    below = np.cumsum(k_cnt, axis=1) - k_cnt  # controls strictly below each value
    auc = np.sum(c_cnt * (below + 0.5 * k_cnt), axis=1) / (m * n)

    pos_val = u >= threshold
    tp = c_cnt[:, pos_val].sum(axis=1)
    fp = k_cnt[:, pos_val].sum(axis=1)
    fn = m - tp
    tn = n - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = dict(
            auc=auc,
            sensitivity=tp / m,
            specificity=tn / n,
            ppv=np.where(tp + fp > 0, tp / (tp + fp), np.nan),
            npv=np.where(tn + fn > 0, tn / (tn + fn), np.nan),
            accuracy=(tp + tn) / (m + n),
        )

    point = threshold_metrics(yb.astype(int), s, threshold)
    point["auc"] = auc_delong(yb.astype(int), s)["auc"]
    alpha = (1 - level) / 2
    out = []
    for name in _BOOT_METRICS:
        vals = boot[name]
        vals = vals[~np.isnan(vals)]
        if vals.size:
            lo, hi = np.quantile(vals, [alpha, 1 - alpha])
        else:
            lo = hi = math.nan
        out.append((name, float(point[name]), float(lo), float(hi)))
    df = pd.DataFrame(out, columns=["metric", "estimate", "ci_low", "ci_high"])
    return df.set_index("metric")


def roc_band(y, score, n_boot: int = 2000, level: float = 0.95, random_state: int = 0,
             n_points: int = 101) -> pd.DataFrame:
    """Pointwise confidence band of the ROC curve: sensitivity at fixed specificities.

    As pROC ``ci.se(roc, specificities=...)``: stratified bootstrap resamples, and for
    each specificity the percentile interval of the resampled sensitivities. The curve
    is the empirical step ROC, so the sensitivity at false-positive rate f is the
    highest one reached without exceeding f.
    """
    yb, s = _check(y, score)
    rng = np.random.default_rng(int(random_state))
    u, inv = np.unique(s, return_inverse=True)
    k = u.size
    m, n = int(yb.sum()), int((~yb).sum())
    rows = np.arange(n_boot)[:, None] * k
    c_idx = inv[yb][rng.integers(0, m, size=(n_boot, m))]
    k_idx = inv[~yb][rng.integers(0, n, size=(n_boot, n))]
    c_cnt = np.bincount((rows + c_idx).ravel(), minlength=n_boot * k).reshape(n_boot, k)
    k_cnt = np.bincount((rows + k_idx).ravel(), minlength=n_boot * k).reshape(n_boot, k)
    # Lowering the threshold past each distinct value, highest first: ROC points.
    tpr = np.hstack([np.zeros((n_boot, 1)), np.cumsum(c_cnt[:, ::-1], axis=1) / m])
    fpr = np.hstack([np.zeros((n_boot, 1)), np.cumsum(k_cnt[:, ::-1], axis=1) / n])
    grid = np.linspace(0.0, 1.0, n_points)
    sens = np.empty((n_boot, n_points))
    for b in range(n_boot):
        last = np.searchsorted(fpr[b], grid + 1e-12, side="right") - 1
        sens[b] = tpr[b][last]
    alpha = (1 - level) / 2
    low, high = np.quantile(sens, [alpha, 1 - alpha], axis=0)
    return pd.DataFrame({"fpr": grid, "tpr_low": low, "tpr_high": high})
