"""Survival statistics for prognostic radiomics models, matching R's survival and riskRegression.

Every function takes plain arrays: ``time`` (follow-up, > 0), ``event`` (1 = event,
0 = censored) and ``risk`` (higher = earlier event, e.g. a Cox linear predictor), and
returns floats, dicts or DataFrames. Nothing here is random.

R equivalents (tests/test_survival_r_reference.py checks each to 1e-6):

- :func:`harrell_c`     -> ``concordance(Surv(time, event) ~ risk, reverse = TRUE)``;
                           CI = C +- 1.96 sqrt(var), var the infinitesimal jackknife
                           (survival 3.x's ``var``, not ``cvar``)
- :func:`uno_c`         -> ``concordance(..., reverse = TRUE, timewt = "n/G2")``
                           (scikit-survival's ``concordance_index_ipcw`` agrees on
                           untied times; with tied times it weights by G(T_i), R by G(T_i-))
- :func:`td_auc`        -> ``riskRegression::Score(..., metrics = "auc",
                           cens.model = "km")``: cumulative/dynamic AUC, IPCW
- :func:`brier`         -> the same ``Score``'s ``metrics = "brier"``
- :func:`logrank`       -> ``survdiff(Surv(time, event) ~ group)``
- :func:`cox_table`     -> ``summary(coxph(Surv(time, event) ~ ..., ties = "efron"))``:
                           Wald CI and p
- :func:`kaplan_meier`  -> ``summary(survfit(Surv(time, event) ~ 1))``

IPCW convention (riskRegression's, followed here): the censoring distribution G is the
reverse Kaplan-Meier of the evaluated set itself; a case (event at T_i <= t) is weighted
1 / G(T_i-), a control (T_i > t) 1 / G(t), censored cases before t get weight 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import chi2

Z95 = float(ndtri(0.975))


def as_arrays(time, event, *others):
    """Float times, 0/1 events (int) and float companions, all one-dimensional and equal length."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(int)
    out = [time, event]
    for other in others:
        other = np.asarray(other, dtype=float)
        if other.shape[0] != time.shape[0]:
            raise ValueError("time and the other arrays have different lengths")
        out.append(other)
    if time.shape != event.shape or time.ndim != 1:
        raise ValueError("time and event must be one-dimensional and of equal length")
    if not set(np.unique(event)) <= {0, 1}:
        raise ValueError("event must be 0 or 1")
    return out


# --------------------------------------------------------------------------- concordance


def concordance_counts(time, event, risk) -> dict:
    """Pair counts and each case's share of them, as survival::concordancefit counts them.

    A pair (i, j) is comparable when i has the event and j is known to outlive i
    (T_j > T_i, or T_j == T_i and j censored). Pairs with both events at one time are
    tied in time and not counted. Concordant: the earlier one has the higher risk; tied
    risks count 1/2 (tied.x)."""
    time, event, risk = as_arrays(time, event, risk)
    n = time.size
    influence = np.zeros((n, 3))  # concordant, discordant, tied risk, per case
    totals = np.zeros(3)
    for i in np.flatnonzero(event == 1):
        later = (time > time[i]) | ((time == time[i]) & (event == 0))
        conc = later & (risk < risk[i])
        disc = later & (risk > risk[i])
        tied = later & (risk == risk[i])
        counts = np.array([conc.sum(), disc.sum(), tied.sum()], dtype=float)
        influence[i] += counts
        totals += counts
        influence[conc, 0] += 1
        influence[disc, 1] += 1
        influence[tied, 2] += 1
    return {
        "concordant": float(totals[0]),
        "discordant": float(totals[1]),
        "tied_risk": float(totals[2]),
        "influence": influence,
    }


def harrell_c(time, event, risk) -> dict:
    """Harrell's C (higher risk = earlier event) with the infinitesimal-jackknife variance
    of survival::concordance and the Wald 95% CI C +- 1.96 sqrt(var).

    NaN (with a reason) when no pair is comparable (no event, or every event last)."""
    time, event, risk = as_arrays(time, event, risk)
    counts = concordance_counts(time, event, risk)
    pairs = counts["concordant"] + counts["discordant"] + counts["tied_risk"]
    out = {"n": int(time.size), "events": int(event.sum()), "comparable_pairs": pairs}
    if pairs == 0:
        nan = math.nan
        return {**out, "c_index": nan, "var": nan, "se": nan, "ci_low": nan, "ci_high": nan,
                "reason": "no comparable pair (no event, or no case outlives an event)"}
    somers = (counts["concordant"] - counts["discordant"]) / pairs
    imat = counts["influence"]
    dfbeta = (imat[:, 0] - imat[:, 1]) / pairs - (somers / pairs) * imat.sum(axis=1)
    var = float(np.sum(dfbeta**2) / 4)
    c_index = (somers + 1) / 2
    se = math.sqrt(var)
    return {**out, "c_index": c_index, "var": var, "se": se,
            "ci_low": c_index - Z95 * se, "ci_high": c_index + Z95 * se, "reason": ""}


def uno_c(time, event, risk, tau: float | None = None) -> float:
    """Uno's C: Harrell's pairs, each event time weighted by 1 / G(T_i-)^2 (G the set's own
    reverse Kaplan-Meier), events after ``tau`` left out; survival::concordance with
    timewt = "n/G2" (and ymax = tau). NaN when no pair is comparable."""
    time, event, risk = as_arrays(time, event, risk)
    _, g_before = censoring_survival(time, event)
    weighted = total = 0.0
    for i in np.flatnonzero(event == 1):
        if tau is not None and time[i] > tau:
            continue
        later = (time > time[i]) | ((time == time[i]) & (event == 0))
        weight = 1.0 / float(g_before(time[i])) ** 2
        weighted += weight * ((later & (risk < risk[i])).sum() + 0.5 * (later & (risk == risk[i])).sum())
        total += weight * later.sum()
    return weighted / total if total > 0 else math.nan


def structured(time, event):
    """scikit-survival's structured outcome array."""
    from sksurv.util import Surv

    time, event = as_arrays(time, event)
    return Surv.from_arrays(event=event.astype(bool), time=time)


# --------------------------------------------------------------------------- IPCW


def censoring_survival(time, event):
    """Reverse Kaplan-Meier G of the censoring times: returns (G at t, G just before t)
    as functions. At a time with events and censorings the events come first (prodlim's
    reverse = TRUE): those with an event at t are no longer at risk of censoring at t."""
    time, event = as_arrays(time, event)
    grid = np.unique(time)
    at_risk = np.array([(time > t).sum() + ((time == t) & (event == 0)).sum() for t in grid], dtype=float)
    censored = np.array([((time == t) & (event == 0)).sum() for t in grid], dtype=float)
    steps = np.cumprod(1.0 - censored / at_risk)

    def at(t):
        index = np.searchsorted(grid, np.asarray(t, float), side="right") - 1
        return np.where(index >= 0, steps[np.clip(index, 0, None)], 1.0)

    def before(t):
        index = np.searchsorted(grid, np.asarray(t, float), side="left") - 1
        return np.where(index >= 0, steps[np.clip(index, 0, None)], 1.0)

    return at, before


def ipcw_weights(time, event, horizon: float):
    """(case mask, control mask, weights) at a horizon, riskRegression's convention."""
    time, event = as_arrays(time, event)
    g_at, g_before = censoring_survival(time, event)
    cases = (time <= horizon) & (event == 1)
    controls = time > horizon
    weights = np.zeros(time.size)
    g_cases = g_before(time[cases])
    g_horizon = float(g_at(horizon))
    weights[cases] = 1.0 / g_cases
    if g_horizon > 0:
        weights[controls] = 1.0 / g_horizon
    return cases, controls, weights, g_horizon


def td_auc(time, event, risk, horizon: float) -> float:
    """Cumulative/dynamic AUC at a horizon (cases: event by the horizon; controls: event-free
    beyond it), IPCW-weighted; tied risks count 1/2. NaN without cases or controls."""
    time, event, risk = as_arrays(time, event, risk)
    cases, controls, weights, g_horizon = ipcw_weights(time, event, horizon)
    if not cases.any() or not controls.any() or g_horizon <= 0:
        return math.nan
    case_risk, case_w = risk[cases], weights[cases]
    control_risk = risk[controls]
    wins = (case_risk[:, None] > control_risk[None, :]).sum(axis=1)
    ties = (case_risk[:, None] == control_risk[None, :]).sum(axis=1)
    return float(np.sum(case_w * (wins + 0.5 * ties)) / (case_w.sum() * control_risk.size))


def brier(time, event, survival_at_horizon, horizon: float) -> float:
    """IPCW Brier score at a horizon of predicted survival probabilities S_i(horizon)."""
    time, event, surv = as_arrays(time, event, survival_at_horizon)
    cases, controls, weights, g_horizon = ipcw_weights(time, event, horizon)
    if g_horizon <= 0:
        return math.nan
    residual = np.where(cases, (0.0 - surv) ** 2, 0.0) + np.where(controls, (1.0 - surv) ** 2, 0.0)
    return float(np.sum(weights * residual) / time.size)


def integrated_brier(time, event, survival_matrix, grid) -> float:
    """The Brier score integrated over ``grid`` (trapezoid rule) and divided by its span:
    the IBS over [grid[0], grid[-1]]. survival_matrix: cases x grid points."""
    grid = np.asarray(grid, float)
    if grid.size < 2:
        return math.nan
    scores = np.array([brier(time, event, survival_matrix[:, k], t) for k, t in enumerate(grid)])
    if np.isnan(scores).any():
        return math.nan
    return float(np.trapezoid(scores, grid) / (grid[-1] - grid[0]))


def brier_grid(time, event, last: float, points: int = 50) -> np.ndarray:
    """Times the IBS is integrated over: the set's distinct event times up to ``last``
    (at most ``points`` of them, evenly taken), from the first event on."""
    time, event = as_arrays(time, event)
    times = np.unique(time[(event == 1) & (time <= last)])
    if times.size > points:
        times = times[np.linspace(0, times.size - 1, points).round().astype(int)]
    return times


# --------------------------------------------------------------------------- groups


def kaplan_meier(time, event) -> pd.DataFrame:
    """Kaplan-Meier at each distinct time: n at risk, events, censored, survival, and the
    log-log 95% CI (survfit's conf.type = "log-log"; NaN while the curve is at 1, and
    where the curve has reached 0)."""
    time, event = as_arrays(time, event)
    grid = np.unique(time)
    n_risk = np.array([(time >= t).sum() for t in grid], dtype=float)
    n_event = np.array([((time == t) & (event == 1)).sum() for t in grid], dtype=float)
    n_censor = np.array([((time == t) & (event == 0)).sum() for t in grid], dtype=float)
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(n_event / (n_risk * (n_risk - n_event)))
        se_loglog = np.sqrt(greenwood) / np.log(surv)
        low = surv ** np.exp(-Z95 * se_loglog)
        high = surv ** np.exp(Z95 * se_loglog)
    # No event yet: survfit gives no interval (NA) while the curve is at 1.
    low[surv == 1.0], high[surv == 1.0] = math.nan, math.nan
    return pd.DataFrame({"time": grid, "n_risk": n_risk.astype(int), "n_event": n_event.astype(int),
                         "n_censor": n_censor.astype(int), "survival": surv,
                         "ci_low": low, "ci_high": high})


def km_median(table: pd.DataFrame) -> float:
    """Median survival: the first time the KM curve is at or below 0.5 (survfit's median
    where the curve crosses 0.5 strictly between steps); NaN when never reached."""
    below = table.index[table["survival"] <= 0.5 + 1e-12]
    if len(below) == 0:
        return math.nan
    first = below[0]
    # survfit: when S is exactly 0.5 on a flat stretch, the median is the midpoint.
    if abs(table.loc[first, "survival"] - 0.5) < 1e-12 and first + 1 in table.index:
        return float((table.loc[first, "time"] + table.loc[first + 1, "time"]) / 2)
    return float(table.loc[first, "time"])


def at_risk_table(time, event, times) -> list[int]:
    """Numbers at risk (follow-up >= t) at each of ``times``, as under a KM figure."""
    time, _ = as_arrays(time, event)
    return [int((time >= t).sum()) for t in times]


def logrank(time, event, group) -> dict:
    """Log-rank test of equal survival across groups (survdiff with rho = 0)."""
    time, event = as_arrays(time, event)
    group = np.asarray(group)
    levels = np.unique(group)
    if levels.size < 2 or event.sum() == 0:
        return {"chisq": math.nan, "df": 0, "p_value": math.nan}
    observed = np.zeros(levels.size)
    expected = np.zeros(levels.size)
    covariance = np.zeros((levels.size, levels.size))
    for t in np.unique(time[event == 1]):
        at_risk = np.array([((time >= t) & (group == g)).sum() for g in levels], dtype=float)
        deaths = np.array([((time == t) & (event == 1) & (group == g)).sum() for g in levels], dtype=float)
        n, d = at_risk.sum(), deaths.sum()
        observed += deaths
        expected += d * at_risk / n
        if n > 1:
            share = at_risk / n
            covariance += d * (n - d) / (n - 1) * (np.diag(share) - np.outer(share, share))
    diff = (observed - expected)[:-1]
    var = covariance[:-1, :-1]
    statistic = float(diff @ np.linalg.solve(var, diff))
    df = levels.size - 1
    return {"chisq": statistic, "df": df, "p_value": float(chi2.sf(statistic, df))}


# --------------------------------------------------------------------------- Cox


def cox_table(covariates: pd.DataFrame, time, event) -> pd.DataFrame:
    """Cox proportional hazards (Efron ties, statsmodels' PHReg): per covariate the
    coefficient, its SE, HR = exp(coef) with the Wald 95% CI, and the Wald p-value."""
    from statsmodels.duration.hazard_regression import PHReg

    time, event = as_arrays(time, event)
    exog = covariates.to_numpy(dtype=float)
    fit = PHReg(time, exog, status=event, ties="efron").fit(tol=1e-12, maxiter=200, disp=False)
    coef = np.asarray(fit.params)
    se = np.asarray(fit.bse)
    z = coef / se
    return pd.DataFrame({
        "variable": list(covariates.columns),
        "coef": coef,
        "se": se,
        "hr": np.exp(coef),
        "hr_ci_low": np.exp(coef - Z95 * se),
        "hr_ci_high": np.exp(coef + Z95 * se),
        "p_value": chi2.sf(z**2, 1),
    })


def univariate_cox(covariates: pd.DataFrame, time, event) -> pd.DataFrame:
    """One Cox model per covariate (cox_table on that column alone), stacked."""
    return pd.concat([cox_table(covariates[[name]], time, event) for name in covariates.columns],
                     ignore_index=True)
