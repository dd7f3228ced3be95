"""Clinical vs radiomics vs combined Cox models of a survival study, and the survival
nomogram of the combined model's layout (docs/survival.md, "Clinical, radiomics and combined
models"), all fitted on the training cases only.

The Cox models follow ``rms::cph`` (``survival::coxph``, Efron ties): the linear predictor
is centred at its training mean, and the predicted survival is ``S_c(t) ^ exp(lp)`` with
``S_c`` the Efron baseline survival at that centre (``survfit.coxph``'s default for Efron
ties, which ``rms::Survival`` returns). The nomogram is ``rms::nomogram`` of that fit with
one survival axis per horizon: radsnake.stats.clinical's points (``nomogram_axes``), the fit's
``Intercept`` being minus the centre, as rms's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from radsnake.stats.clinical import INTERCEPT, design_matrix, nomogram_axes, predictor_levels
from radsnake.stats.survival_stats import cox_table

log = logging.getLogger(__name__)

COMPARISON_MODELS = ("clinical", "radscore", "combined")
# Survival probabilities marked on each horizon's axis (those inside the total-points range).
SURVIVAL_TICKS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def efron_baseline(linear_predictor, time, event) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative hazard at ``linear_predictor`` = 0 (survival's ``agsurv``, ctype 2:
    Efron's correction for tied events), at each distinct event time."""
    lp, time, event = (np.asarray(a, float) for a in (linear_predictor, time, event))
    weight = np.exp(lp)
    times = np.unique(time[event == 1])
    increments = np.empty(times.size)
    for k, t in enumerate(times):
        at_risk = weight[time >= t].sum()
        dying = (time == t) & (event == 1)
        d, tied = int(dying.sum()), weight[dying].sum()
        increments[k] = sum(1.0 / (at_risk - j / d * tied) for j in range(d))
    return times, np.cumsum(increments)


@dataclass
class FittedCox:
    """A Cox PH fit as rms keeps it: ``coef`` holds ``Intercept`` (minus the centre, as
    ``attr(nomogram, "info")$Intercept`` counts it) then the design columns."""

    predictors: dict[str, str]
    levels: dict[str, tuple[str, ...]]
    columns: tuple[str, ...]
    coef: pd.Series
    table: pd.DataFrame
    event_times: np.ndarray
    cumulative_hazard: np.ndarray

    def linear_predictor(self, frame: pd.DataFrame) -> np.ndarray:
        """Centred at the training mean, as cph's ``linear.predictors``."""
        if not self.columns:
            return np.zeros(len(frame))
        X = design_matrix(frame, self.predictors, levels=self.levels)[list(self.columns)]
        return X.to_numpy(float) @ self.coef[list(self.columns)].to_numpy() + self.coef[INTERCEPT]

    def baseline_survival(self, times) -> np.ndarray:
        """S_c(t): a step function, 1 before the first event time."""
        at = np.searchsorted(self.event_times, np.asarray(times, float) + 1e-6, side="right") - 1
        hazard = np.where(at >= 0, self.cumulative_hazard[np.maximum(at, 0)], 0.0)
        return np.exp(-hazard)

    def survival(self, frame: pd.DataFrame, times) -> np.ndarray:
        """Predicted S(t) per case (rows) and time (columns)."""
        return self.baseline_survival(times)[None, :] ** np.exp(self.linear_predictor(frame))[:, None]


def fit_cox(train: pd.DataFrame, predictors: dict[str, str]) -> FittedCox:
    """Cox PH (Efron ties) of (time, event) on ``predictors`` over the training rows."""
    levels = predictor_levels(train, predictors)
    time, event = train["time"].to_numpy(float), train["event"].to_numpy(int)
    if not predictors:
        times, hazard = efron_baseline(np.zeros(len(train)), time, event)
        return FittedCox({}, {}, (), pd.Series({INTERCEPT: 0.0}), pd.DataFrame(), times, hazard)
    X = design_matrix(train, predictors, levels=levels)
    table = cox_table(X, time, event)
    coef = pd.Series(table["coef"].to_numpy(), index=list(X.columns))
    centre = float((X.to_numpy(float) @ coef.to_numpy()).mean())
    times, hazard = efron_baseline(X.to_numpy(float) @ coef.to_numpy() - centre, time, event)
    return FittedCox(dict(predictors), levels, tuple(X.columns), pd.concat([pd.Series({INTERCEPT: -centre}), coef]),
                     table, times, hazard)


def comparison_predictors(clinical: dict[str, str], radscore_informative: bool) -> dict[str, dict[str, str]]:
    """The three models' predictors; without a rad-score signal (a constant rad-score) the
    radscore model is the null model and the combined one the clinical one."""
    radscore = {"radscore": "numeric"} if radscore_informative else {}
    return {"clinical": dict(clinical), "radscore": radscore, "combined": {**clinical, **radscore}}


def survival_axes(fit: FittedCox, axes: dict, horizons: list[float], unit: str) -> list[dict]:
    """One nomogram axis per horizon: the total points at which S(h) takes each of
    SURVIVAL_TICKS (rms: ``fun = function(lp) surv(h, lp)``, ``fun.at``), those inside the
    total-points axis."""
    top = max(axes["total_points"])
    outcomes = []
    for horizon, base in zip(horizons, fit.baseline_survival(horizons)):
        values = np.asarray(SURVIVAL_TICKS)
        points = (np.log(np.log(values) / np.log(base)) - axes["lp_at_zero"]) * axes["scale"]
        keep = (points >= 0) & (points <= top)
        outcomes.append({"label": f"{horizon:g}-{unit.rstrip('s')} survival", "horizon": float(horizon),
                         "values": [float(v) for v in values[keep]], "points": [float(p) for p in points[keep]]})
    return outcomes


def nomogram_layout(fit: FittedCox, train: pd.DataFrame, horizons: list[float], unit: str) -> dict:
    """rms::nomogram of the combined Cox model: points per predictor, total points and
    survival at each horizon."""
    axes = nomogram_axes(fit, train, list(fit.predictors), labels={"radscore": "Rad-score"})
    axes.pop("probability")  # the logistic scale; a Cox model has one survival axis per horizon
    axes["outcomes"] = survival_axes(fit, axes, horizons, unit)
    return axes


def nomogram_table(axes: dict) -> pd.DataFrame:
    """axis,value,points: every predictor's ticks, the total-points ticks and each horizon's
    survival ticks (as ``rms::nomogram`` lists them)."""
    rows = [{"axis": r["name"], "value": v if isinstance(v, str) else f"{v:.10g}", "points": p}
            for r in axes["predictors"] for v, p in zip(r["values"], r["points"])]
    rows += [{"axis": "total_points", "value": f"{v:g}", "points": v} for v in axes["total_points"]]
    rows += [{"axis": f"survival_{o['horizon']:g}", "value": f"{v:g}", "points": p}
             for o in axes["outcomes"] for v, p in zip(o["values"], o["points"])]
    rows += [{"axis": "lp_at_zero_points", "value": "", "points": axes["lp_at_zero"]},
             {"axis": "points_per_lp", "value": "", "points": axes["scale"]}]
    return pd.DataFrame(rows, columns=["axis", "value", "points"])
