"""Calibration and clinical-usefulness statistics for predicted probabilities.

Every function takes plain arrays (``y`` coded 0/1, ``p`` the predicted probability
of ``y = 1``) and returns plain dicts or DataFrames. Nothing here is random except
the bootstrap band of :func:`smoothed_calibration`, which is seeded.

R equivalents:

- :func:`calibration_stats`        -> ``rms::val.prob(p, y, pl = FALSE)``:
                                      ``Intercept``, ``Slope``, ``Brier``, ``Emax``,
                                      ``E90``, ``Eavg`` (rms 6.5)
- :func:`calibration_in_the_large` -> ``coef(glm(y ~ 1, offset = qlogis(p),
                                      family = binomial))``
- :func:`hosmer_lemeshow`          -> ``ResourceSelection::hoslem.test(y, p, g)``
- :func:`calibration_curve`        -> observed proportion per group with
                                      ``prop.test(x, n, correct = FALSE)$conf.int``
                                      (Wilson score interval)
- :func:`smoothed_calibration`     -> ``lowess(p, y, iter = 0)`` (the curve drawn by
                                      ``val.prob``) plus a seeded bootstrap band
- :func:`decision_curve`           -> net benefit of Vickers & Elkin (2006), as in
                                      ``dcurves::dca`` / ``rmda::decision_curve``

Conventions:

- ``p`` must lie in [0, 1]. Probabilities of exactly 0 or 1 have an infinite
  logit; as in ``val.prob`` they are left out of the logistic calibration
  (intercept, slope, calibration-in-the-large) but kept for the Brier score and
  the smoothed (lowess) curve. ``n_excluded`` says how many were left out.
- When the logistic recalibration model has no finite maximum-likelihood estimate
  (the logits separate the classes perfectly) intercept and slope are NaN with a
  warning, where ``val.prob`` would print meaningless large numbers.
- A subject is "treated" (called positive) in the decision curve when
  ``p >= threshold``.
"""

from __future__ import annotations

import bisect
import math
import warnings

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri
from scipy.stats import chi2
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "calibration_stats",
    "calibration_in_the_large",
    "hosmer_lemeshow",
    "calibration_curve",
    "smoothed_calibration",
    "decision_curve",
]

_Z975 = float(ndtri(0.975))


# --------------------------------------------------------------------------- helpers


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to (float 0/1 labels, float probabilities)."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError("y and p must be one-dimensional")
    if y.shape != p.shape:
        raise ValueError("y and p have different lengths (%d vs %d)" % (y.size, p.size))
    try:
        yf = y.astype(float)
    except (TypeError, ValueError):
        raise ValueError("y must be coded 0 / 1") from None
    if not np.all(np.isin(yf, (0.0, 1.0))):
        raise ValueError("y must be coded 0 / 1; got values %s" % np.unique(y)[:10].tolist())
    if not np.all(np.isfinite(p)):
        raise ValueError("p contains NaN or infinite values")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("p must be probabilities in [0, 1]; got range [%g, %g]"
                         % (p.min(), p.max()))
    n1 = int(yf.sum())
    if n1 == 0 or n1 == yf.size:
        raise ValueError("need both classes: got %d events (y=1) and %d non-events (y=0)"
                         % (n1, yf.size - n1))
    return yf, p


def _logit(p: np.ndarray) -> np.ndarray:
    """R's qlogis(p) = log(p / (1 - p)), same arithmetic; +-inf at 1 and 0."""
    with np.errstate(divide="ignore"):
        return np.log(p / (1.0 - p))


def r_quantile7(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7)``, with R's exact arithmetic.

    Written out rather than ``np.quantile`` so that break points fall on exactly the
    same doubles as in R: a tied prediction then lands in the same group.
    """
    xs = np.sort(x)
    n = xs.size
    probs = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
    index = 1.0 + max(n - 1, 0) * probs
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = xs[lo - 1]
    xhi = xs[hi - 1]
    i = (index > lo) & (xhi != qs)
    h = (index - lo)[i]
    qs[i] = (1.0 - h) * qs[i] + h * xhi[i]
    return qs


def _hl_groups(p: np.ndarray, g: int) -> tuple[np.ndarray, int]:
    """hoslem.test's groups: 0-based group of each p and the number of groups.

    ``cut(p, breaks = unique(quantile(p, seq(0, 1, 1/g))), include.lowest = TRUE)``:
    intervals (b[k-1], b[k]], the first one closed on the left.
    """
    probs = np.minimum(np.arange(g + 1) * (1.0 / g), 1.0)  # R's seq(0, 1, 1/g)
    breaks = np.unique(r_quantile7(p, probs))
    if breaks.size < 2:
        raise ValueError("all predictions are equal (%g): Hosmer-Lemeshow groups "
                         "cannot be formed" % p[0])
    grp = np.searchsorted(breaks, p, side="left") - 1
    grp[grp < 0] = 0  # p == lowest break (include.lowest)
    return grp, breaks.size - 1


def lrm_fit(x: np.ndarray, y: np.ndarray, maxit: int = 12, eps: float = 0.025):
    """rms::lrm.fit(x, y) for one predictor, step for step (rms 6.5 Fortran LRMFIT).

    Newton-Raphson from (logit(mean y), 0) with step-halving; it stops one Newton
    step after -2 log L changed by <= ``eps`` (0.025), so the result can differ
    from the fully converged MLE (1e-4 seen at n = 10, ~1e-8 at n = 200) -- which
    is why it is reproduced here instead of solved to machine precision.
    Returns (intercept, slope) or None when lrm.fit would report failure.
    """
    X = np.column_stack([np.ones_like(x), x])
    pbar = y.mean()
    beta = np.array([math.log(pbar / (1.0 - pbar)), 0.0])
    oldl = 1e30
    delta = np.zeros(2)
    curstp = 1.0
    for it in range(1, maxit):
        pr = expit(np.clip(X @ beta, -30.0, 30.0))
        loglik = -2.0 * np.sum(np.where(y == 1.0, np.log(pr), np.log1p(-pr)))
        u = X.T @ (y - pr)
        if np.max(np.abs(u)) < 1e-9 and abs(loglik - oldl) < 0.1 * eps:
            return beta
        if loglik > oldl:
            if it == 1:
                return None
            curstp /= 2.0
            beta = beta - curstp * delta
            continue
        curstp = 1.0
        v = (X.T * (pr * (1.0 - pr))) @ X
        try:
            delta = np.linalg.solve(v, u)
        except np.linalg.LinAlgError:
            return None
        beta = beta + delta
        if abs(oldl - loglik) <= eps:
            return beta
        oldl = loglik
    return None


def clowess(x: np.ndarray, y: np.ndarray, f: float, delta: float) -> np.ndarray:
    """R's C ``clowess`` with ``iter = 0`` on x sorted ascending; fitted values.

    Same points fitted, same windows and weights as R; the local fits are done for
    all fitted points at once instead of one by one (sums in a different order, so
    results agree with R to ~1e-15, not bit for bit).
    """
    n = x.size
    if n < 2:
        return y.astype(float).copy()
    ns = max(2, min(n, int(f * n + 1e-7)))
    # 1. which points get a local fit (depends on x only): clowess' main loop
    xl = x.tolist()
    fit_i, fit_left = [], []
    nleft, nright, i = 0, ns - 1, 0
    while True:
        while nright < n - 1 and xl[i] - xl[nleft] > xl[nright + 1] - xl[i]:
            nleft += 1
            nright += 1
        fit_i.append(i)
        fit_left.append(nleft)
        last = max(i, bisect.bisect_right(xl, xl[i]) - 1)  # ties share the fit
        if last >= n - 1:
            break
        i = max(last + 1, bisect.bisect_right(xl, xl[i] + delta) - 1)
    fi = np.array(fit_i)
    left = np.array(fit_left)
    # 2. clowess' lowest() at every fitted point, vectorised over a padded window
    xs = x[fi][:, None]
    h = np.maximum(x[fi] - x[left], x[left + ns - 1] - x[fi])[:, None]
    end = np.searchsorted(x, x[fi] + h[:, 0], side="right")  # window ends by here
    width = int(np.max(np.minimum(end, n - 1) - left)) + 2  # +1 margin
    j = left[:, None] + np.arange(width)[None, :]
    inside = j < n
    j = np.minimum(j, n - 1)
    xw, yw = x[j], y[j]
    r = np.abs(xw - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    # pick up ties on the right; stop at the first point beyond h9 to the right
    beyond = ((r > h9) & (xw > xs)) | ~inside
    valid = np.cumsum(beyond, axis=1) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = 1.0 - (r / h) * (r / h) * (r / h)
        w = np.where(valid & (r <= h9), np.where(r <= h1, 1.0, t * t * t), 0.0)
        a = w.sum(axis=1, keepdims=True)
        w = w / a
        ctr = np.sum(w * xw, axis=1, keepdims=True)
        c = np.sum(w * (xw - ctr) * (xw - ctr), axis=1, keepdims=True)
        slope_ok = (h > 0.0) & (np.sqrt(c) > 0.001 * (x[-1] - x[0]))
        w = np.where(slope_ok, w * ((xs - ctr) / c * (xw - ctr) + 1.0), w)
        fitted = np.sum(w * yw, axis=1)
    fitted = np.where(a[:, 0] > 0.0, fitted, y[fi])
    # 3. copy fits to tied x, interpolate linearly over skipped points
    ys = np.empty(n)
    have = np.zeros(n, dtype=bool)
    ys[fi] = fitted
    tie_end = np.searchsorted(x, x[fi], side="right") - 1
    run = np.repeat(fi, tie_end - fi + 1) + np.concatenate(
        [np.arange(k) for k in tie_end - fi + 1])
    ys[run] = np.repeat(fitted, tie_end - fi + 1)
    have[run] = True
    known = np.flatnonzero(have)
    todo = np.flatnonzero(~have)
    if todo.size:
        pos = np.searchsorted(known, todo)
        lo, hi = known[pos - 1], known[pos]
        alpha = (x[todo] - x[lo]) / (x[hi] - x[lo])
        ys[todo] = alpha * ys[hi] + (1.0 - alpha) * ys[lo]
    return ys


def r_lowess(p: np.ndarray, y: np.ndarray, frac: float = 2 / 3):
    """``lowess(p, y, f = frac, iter = 0)`` in R: sorted x and fitted values."""
    o = np.argsort(p, kind="stable")
    xs = p[o]
    delta = 0.01 * (xs[-1] - xs[0])
    return xs, clowess(xs, y[o].astype(float), frac, delta)


def r_approx(xs: np.ndarray, ys: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R's ``approx(xs, ys, xout, ties = mean)``: NaN outside the range of xs."""
    ux, inv = np.unique(xs, return_inverse=True)
    uy = np.bincount(inv, weights=ys) / np.bincount(inv)
    out = np.interp(xout, ux, uy)
    out[(xout < ux[0]) | (xout > ux[-1])] = np.nan
    return out


def wilson_interval(events: np.ndarray, n: np.ndarray):
    """Wilson score 95 % interval (R's prop.test(correct = FALSE)), from statsmodels."""
    return proportion_confint(events, n, alpha=0.05, method="wilson")


# --------------------------------------------------------------------------- public


def calibration_in_the_large(y, p) -> float:
    """Calibration-in-the-large: intercept ``a`` of ``logit P(y=1) = a + logit(p)``.

    The logistic recalibration intercept with the slope fixed at 1 (the logits as an
    offset); 0 when the mean prediction is right, > 0 when risks are underestimated.
    Matches R's ``coef(glm(y ~ 1, offset = qlogis(p), family = binomial))``.
    Predictions of exactly 0 or 1 are left out, as in ``val.prob``.
    """
    yf, p = _check(y, p)
    lg = _logit(p)
    keep = np.isfinite(lg)
    yk, off = yf[keep], lg[keep]
    if yk.size == 0 or yk.min() == yk.max():
        return math.nan
    # Concave in a: Newton from the root of the linear approximation converges.
    a = math.log(yk.mean() / (1.0 - yk.mean())) - float(np.mean(off))
    for _ in range(100):
        pr = expit(a + off)
        step = float(np.sum(yk - pr)) / max(float(np.sum(pr * (1.0 - pr))), 1e-300)
        a += step
        if abs(step) < 1e-13 * max(1.0, abs(a)):
            break
    return a


def calibration_stats(y, p) -> dict:
    """Calibration intercept, slope, Brier score and lowess errors of predictions p.

    Matches R's ``rms::val.prob(p, y, pl = FALSE)`` (rms 6.5) entries ``Intercept``,
    ``Slope`` (from ``lrm.fit(qlogis(p), y)``, the logistic recalibration
    ``logit P(y=1) = intercept + slope * logit(p)``; ideal 0 and 1), ``Brier``
    (``mean((p - y)^2)``) and ``Emax``, ``E90``, ``Eavg`` (max, 90th percentile and
    mean of ``|p - lowess(p, y, iter = 0)|`` at the observed p).

    Returns ``n``, ``n_excluded`` (p of 0 or 1, left out of the logistic fit),
    ``intercept``, ``slope``, ``reason`` (why they are NaN; "" when estimated), ``brier``,
    ``emax``, ``e90``, ``eavg`` and ``calibration_in_the_large`` (see
    :func:`calibration_in_the_large`). A step-valued model (e.g. a shallow tree) gets
    values wherever val.prob gets them; where val.prob fails (e.g. one value left
    strictly between 0 and 1: lrm.fit's singular matrix) they are NaN with the reason.

    When all p are equal val.prob returns intercept ``qlogis(mean(y))`` and slope 0,
    reproduced here; its Emax/E90 are then 0 through a naming slip in rms, here all
    three are ``|p - mean(y)|``.
    """
    yf, p = _check(y, p)
    n = yf.size
    out = dict(n=n, n_excluded=0, brier=float(np.mean((p - yf) ** 2)))
    if np.all(p == p[0]):
        P = float(yf.mean())
        e = abs(float(p[0]) - P)
        out.update(intercept=math.log(P / (1.0 - P)), slope=0.0, reason="",
                   emax=e, e90=e, eavg=e,
                   calibration_in_the_large=calibration_in_the_large(yf, p))
        return out

    lg = _logit(p)
    keep = np.isfinite(lg)
    out["n_excluded"] = int(n - keep.sum())
    xk, yk = lg[keep], yf[keep]
    beta = None
    reason = None
    if yk.size < 3:
        reason = "fewer than 3 predictions strictly between 0 and 1"
    elif yk.min() == yk.max():
        reason = "only one outcome class among predictions strictly between 0 and 1"
    elif xk.min() == xk.max():
        reason = "all predictions strictly between 0 and 1 are equal"
    elif (xk[yk == 0].max() <= xk[yk == 1].min()
          or xk[yk == 1].max() <= xk[yk == 0].min()):
        reason = ("the predictions separate the outcome classes perfectly, so the "
                  "logistic calibration intercept and slope have no finite estimate")
    else:
        beta = lrm_fit(xk, yk)
        if beta is None:
            reason = "the logistic calibration fit (lrm.fit) did not converge"
    if beta is None:
        warnings.warn("calibration intercept and slope are NaN: " + reason,
                      RuntimeWarning, stacklevel=2)
        out.update(intercept=math.nan, slope=math.nan, reason=reason)
    else:
        out.update(intercept=float(beta[0]), slope=float(beta[1]), reason="")

    xs, fit = r_lowess(p, yf)
    er = np.abs(p - r_approx(xs, fit, p))
    out.update(emax=float(er.max()), e90=float(r_quantile7(er, np.array([0.9]))[0]),
               eavg=float(er.mean()),
               calibration_in_the_large=calibration_in_the_large(yf, p))
    return out


def hosmer_lemeshow(y, p, groups: int = 10) -> dict:
    """Hosmer-Lemeshow goodness-of-fit test, as ``ResourceSelection::hoslem.test``.

    Groups are "deciles of risk": ``cut(p, breaks = unique(quantile(p, seq(0, 1,
    1/g))), include.lowest = TRUE)`` with R's default (type 7) quantiles; intervals
    are closed on the right, the first also on the left. Tied break points are
    collapsed, so heavily tied predictions give fewer than ``groups`` groups, but
    the degrees of freedom stay ``groups - 2`` as in hoslem.test. The statistic is
    ``sum((O - E)^2 / E)`` over the groups and both outcome classes (E from the
    summed p and 1 - p). An empty group (possible when n is tiny) makes the
    statistic NaN, as in hoslem.test; a warning says so.

    Returns ``statistic``, ``df``, ``p_value`` and ``n_groups`` (groups formed).
    """
    yf, p = _check(y, p)
    if int(groups) != groups or groups < 3:
        raise ValueError("groups must be an integer >= 3 (df = groups - 2)")
    groups = int(groups)
    grp, k = _hl_groups(p, groups)
    cnt = np.bincount(grp, minlength=k).astype(float)
    o1 = np.bincount(grp, weights=yf, minlength=k)
    e1 = np.bincount(grp, weights=p, minlength=k)
    o0, e0 = cnt - o1, cnt - e1
    if np.any(cnt == 0):
        warnings.warn("Hosmer-Lemeshow: %d of %d groups are empty, the statistic is "
                      "NaN (use fewer groups)" % (int(np.sum(cnt == 0)), k),
                      RuntimeWarning, stacklevel=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.sum((o0 - e0) ** 2 / e0) + np.sum((o1 - e1) ** 2 / e1))
    df = groups - 2
    return dict(statistic=stat, df=df, p_value=float(chi2.sf(stat, df)), n_groups=k)


def calibration_curve(y, p, n_bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Binned calibration curve: observed event rate per bin of predicted risk.

    ``strategy="quantile"`` uses exactly the Hosmer-Lemeshow groups of
    :func:`hosmer_lemeshow` (deciles of risk for ``n_bins=10``), except when the
    predictions take at most ``n_bins`` distinct values (a step-valued model such as a
    shallow tree): then each distinct value is a group of its own, where quantile breaks
    would merge values and could put every case into one group; ``"uniform"`` uses
    ``n_bins`` equal-width bins on [0, 1], closed on the right (the first also on the
    left). Empty bins are left out. ``bin`` is the 0-based bin number.
    ``ci_low``/``ci_high`` are the Wilson score 95 % interval of the observed
    proportion, R's ``prop.test(events, n, correct = FALSE)$conf.int``.

    Columns: bin, n, mean_predicted, observed, ci_low, ci_high.
    """
    yf, p = _check(y, p)
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError("n_bins must be a positive integer")
    n_bins = int(n_bins)
    if strategy == "quantile":
        values, grp = np.unique(p, return_inverse=True)
        k = values.size
        if k > n_bins:
            grp, k = _hl_groups(p, n_bins)
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        grp = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, n_bins - 1)
        k = n_bins
    else:
        raise ValueError("strategy must be 'quantile' or 'uniform', not %r" % (strategy,))
    cnt = np.bincount(grp, minlength=k)
    ev = np.bincount(grp, weights=yf, minlength=k)
    sp = np.bincount(grp, weights=p, minlength=k)
    nz = np.flatnonzero(cnt > 0)
    cnt, ev, sp = cnt[nz], ev[nz], sp[nz]
    lo, hi = wilson_interval(ev, cnt.astype(float))
    return pd.DataFrame(dict(bin=nz, n=cnt, mean_predicted=sp / cnt, observed=ev / cnt,
                             ci_low=lo, ci_high=hi))


def smoothed_calibration(y, p, frac: float = 2 / 3, grid=None, n_boot: int = 200,
                         random_state: int = 0) -> pd.DataFrame:
    """Lowess calibration curve with a percentile bootstrap 95 % band.

    The curve is R's ``lowess(p, y, f = frac, iter = 0)`` -- the nonparametric curve
    of ``rms::val.prob`` -- reproduced exactly (R's default ``delta = 0.01 *
    diff(range(p))``; statsmodels' ``lowess(..., it=0, delta=0)`` agrees to ~1e-9
    but skips points differently when delta > 0: 1.3e-5 from R on
    tests/test_calibration_r_reference.py's near_separation data, so the port stays;
    docs/design.md, "Libraries"), interpolated linearly on ``grid``
    (default: 101 equally spaced points from min(p) to max(p)). The band re-fits the
    lowess on ``n_boot`` case resamples drawn with
    ``numpy.random.default_rng(random_state)``; a resample contributes only to grid
    points inside its own range of p. Percentiles 2.5 and 97.5 (numpy's linear rule).

    Columns: predicted, observed, ci_low, ci_high.
    """
    yf, p = _check(y, p)
    if not 0.0 < frac <= 1.0:
        raise ValueError("frac must be in (0, 1]")
    if grid is None:
        grid = np.linspace(p.min(), p.max(), 101)
    grid = np.asarray(grid, dtype=float)
    xs, fit = r_lowess(p, yf, frac)
    obs = r_approx(xs, fit, grid)
    lo = np.full(grid.size, np.nan)
    hi = np.full(grid.size, np.nan)
    if n_boot > 0:
        rng = np.random.default_rng(random_state)
        n = p.size
        boot = np.empty((n_boot, grid.size))
        for b in range(n_boot):
            idx = rng.integers(0, n, n)
            bx, bf = r_lowess(p[idx], yf[idx], frac)
            boot[b] = r_approx(bx, bf, grid)
        ok = np.sum(np.isfinite(boot), axis=0) > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanpercentile(boot[:, ok], [2.5, 97.5], axis=0)
        lo[ok], hi[ok] = q[0], q[1]
    return pd.DataFrame(dict(predicted=grid, observed=obs, ci_low=lo, ci_high=hi))


def decision_curve(y, p, thresholds=None) -> pd.DataFrame:
    """Decision curve (Vickers & Elkin 2006): net benefit across threshold risks pt.

    ``net_benefit = TP/n - FP/n * pt / (1 - pt)`` treating subjects with
    ``p >= pt``; ``net_benefit_all = prev - (1 - prev) * pt / (1 - pt)`` (treat
    everyone); ``net_benefit_none = 0``. Same definition as R's ``dcurves::dca``.
    Default thresholds are ``np.arange(1, 100) / 100`` -- exactly 0.01, ..., 0.99,
    unlike ``np.arange(0.01, 1, 0.01)`` whose 0.29000000000000004 would put a
    prediction of 0.29 below the 0.29 threshold. Thresholds must lie in (0, 1).

    Columns: threshold, net_benefit, net_benefit_all, net_benefit_none.
    """
    yf, p = _check(y, p)
    pt = (np.arange(1, 100) / 100.0 if thresholds is None
          else np.asarray(thresholds, dtype=float).ravel())
    if pt.size == 0 or not np.all((pt > 0.0) & (pt < 1.0)):
        raise ValueError("thresholds must lie strictly between 0 and 1")
    n = yf.size
    p1 = np.sort(p[yf == 1.0])
    p0 = np.sort(p[yf == 0.0])
    tp = p1.size - np.searchsorted(p1, pt, side="left")  # count of p >= pt
    fp = p0.size - np.searchsorted(p0, pt, side="left")
    odds = pt / (1.0 - pt)
    prev = p1.size / n
    return pd.DataFrame(dict(
        threshold=pt,
        net_benefit=tp / n - fp / n * odds,
        net_benefit_all=prev - (1.0 - prev) * odds,
        net_benefit_none=np.zeros(pt.size),
    ))
