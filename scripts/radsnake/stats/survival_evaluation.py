"""Per model and set: the survival statistics of radsnake.stats.survival_stats as the tables of
results/survival/ (docs/survival.md, docs/outputs.md).

The risk groups split every set at the TRAINING median of the model's risk (high: above
it), so that a held-out set is grouped by a threshold fixed before it was seen.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from radsnake.stats import survival_stats as ss
from radsnake.io.external import in_set

GROUPS = ("low", "high")


def horizon_name(horizon: float) -> str:
    return f"{horizon:g}"


def metrics_row(model: str, set_name: str, frame: pd.DataFrame, curves: pd.DataFrame,
                horizons: list[float]) -> dict:
    """One row of metrics.csv. frame: case_id, time, event, risk of the set's cases;
    curves: predicted survival, cases (index case_id) x times (columns)."""
    time, event, risk = frame["time"].to_numpy(), frame["event"].to_numpy(), frame["risk"].to_numpy()
    harrell = ss.harrell_c(time, event, risk)
    last = float(time.max())
    row = {
        "model": model, "set": set_name, "n": len(frame), "events": int(event.sum()),
        "c_index": harrell["c_index"], "c_index_ci_low": harrell["ci_low"], "c_index_ci_high": harrell["ci_high"],
        "uno_c": ss.uno_c(time, event, risk, tau=max(horizons)),
    }
    surv = curves.loc[frame["case_id"]]
    grid = np.array([t for t in surv.columns.astype(float) if t < last and t <= max(horizons)])
    first_event = time[event == 1].min() if event.any() else math.inf
    grid = grid[grid >= first_event]
    row["ibs"] = ss.integrated_brier(time, event, surv[[c for c in surv.columns if float(c) in set(grid)]]
                                     .to_numpy(), grid) if grid.size >= 2 else math.nan
    for h in horizons:
        within = h < last
        row[f"td_auc_{horizon_name(h)}"] = ss.td_auc(time, event, risk, h) if within else math.nan
    for h in horizons:
        column = [c for c in surv.columns if math.isclose(float(c), h)][0]
        row[f"brier_{horizon_name(h)}"] = ss.brier(time, event, surv[column].to_numpy(), h) if h < last else math.nan
    return row


def risk_groups(frame: pd.DataFrame, threshold: float) -> pd.Series:
    return pd.Series(np.where(frame["risk"].to_numpy() > threshold, "high", "low"), index=frame.index)


def group_rows(model: str, set_name: str, frame: pd.DataFrame, threshold: float) -> tuple[list[dict], list[pd.DataFrame]]:
    """risk_groups.csv rows (low, high) and the KM tables of both groups."""
    groups = risk_groups(frame, threshold)
    time, event = frame["time"].to_numpy(), frame["event"].to_numpy()
    test = ss.logrank(time, event, groups.to_numpy())
    hr = dict(hr=math.nan, hr_ci_low=math.nan, hr_ci_high=math.nan)
    if groups.nunique() == 2 and event.sum() > 0:
        high = pd.DataFrame({"high_risk": (groups == "high").astype(float).to_numpy()})
        table = ss.cox_table(high, time, event).iloc[0]
        hr = dict(hr=table["hr"], hr_ci_low=table["hr_ci_low"], hr_ci_high=table["hr_ci_high"])
    rows, curves = [], []
    for group in GROUPS:
        members = (groups == group).to_numpy()
        km = ss.kaplan_meier(time[members], event[members]) if members.any() else None
        rows.append({
            "model": model, "set": set_name, "group": group, "n": int(members.sum()),
            "events": int(event[members].sum()),
            "median_survival": ss.km_median(km) if km is not None else math.nan,
            "logrank_p": test["p_value"], **hr,
        })
        if km is not None:
            curves.append(km.assign(model=model, set=set_name, group=group))
    return rows, curves


def evaluate(predictions: dict[str, pd.DataFrame], curves: dict[str, pd.DataFrame], sets: list[str],
             horizons: list[float]) -> dict[str, pd.DataFrame]:
    """metrics, risk_groups and km tables over every model (predictions: case_id, set,
    time, event, risk) and evaluated set (train first)."""
    metrics, groups, km = [], [], []
    for model, frame in predictions.items():
        threshold = float(np.median(frame.loc[frame["set"] == "train", "risk"]))
        for set_name in ["train", *[s for s in sets if s != "train"]]:
            members = in_set(frame, set_name)
            if members.empty:
                continue
            metrics.append(metrics_row(model, set_name, members, curves[model], horizons))
            rows, tables = group_rows(model, set_name, members, threshold)
            groups += rows
            km += tables
    km_table = pd.concat(km, ignore_index=True)[
        ["model", "set", "group", "time", "n_risk", "n_event", "n_censor", "survival", "ci_low", "ci_high"]
    ]
    return {"metrics": pd.DataFrame(metrics), "risk_groups": pd.DataFrame(groups), "km": km_table}


def calibration_table(predictions: dict[str, pd.DataFrame], curves: dict[str, pd.DataFrame], sets: list[str],
                      horizons: list[float], groups: int = 3) -> pd.DataFrame:
    """Predicted vs observed survival at each horizon by risk group (tertiles of the set's
    predicted survival): mean predicted S(h) against the group's Kaplan-Meier S(h) with its
    log-log 95% CI."""
    rows = []
    for model, frame in predictions.items():
        for set_name in ["train", *[s for s in sets if s != "train"]]:
            members = in_set(frame, set_name)
            if len(members) < groups:
                continue
            for h in horizons:
                column = [c for c in curves[model].columns if math.isclose(float(c), h)][0]
                predicted = curves[model].loc[members["case_id"], column].to_numpy()
                order = np.argsort(predicted, kind="stable")
                for number, rows_of_group in enumerate(np.array_split(order, groups), start=1):
                    km = ss.kaplan_meier(members["time"].to_numpy()[rows_of_group],
                                         members["event"].to_numpy()[rows_of_group])
                    before = km[km["time"] <= h]
                    observed = float(before["survival"].iloc[-1]) if len(before) else 1.0
                    low = float(before["ci_low"].iloc[-1]) if len(before) else math.nan
                    high = float(before["ci_high"].iloc[-1]) if len(before) else math.nan
                    followed = members["time"].to_numpy()[rows_of_group].max() >= h
                    rows.append({
                        "model": model, "set": set_name, "horizon": h, "group": number,
                        "n": len(rows_of_group), "predicted": float(predicted[rows_of_group].mean()),
                        "observed": observed if followed else math.nan,
                        "observed_ci_low": low if followed else math.nan,
                        "observed_ci_high": high if followed else math.nan,
                    })
    return pd.DataFrame(rows)


def decision_curve(time, event, survival_at_horizon, horizon: float, thresholds=None) -> pd.DataFrame:
    """Net benefit at a horizon of treating the cases whose predicted risk 1 - S(h) is at
    least the threshold, with the observed risk from the Kaplan-Meier of those treated
    (Vickers et al. 2008's survival extension): NB = P(treat)(1 - S_treated(h)) -
    P(treat) S_treated(h) pt / (1 - pt); treat-all uses everybody's KM."""
    time, event, surv = ss.as_arrays(time, event, survival_at_horizon)
    thresholds = np.arange(0.01, 1.0, 0.01) if thresholds is None else np.asarray(thresholds)
    risk = 1 - surv

    def km_at(mask):
        if not mask.any():
            return math.nan
        km = ss.kaplan_meier(time[mask], event[mask])
        before = km[km["time"] <= horizon]
        return float(before["survival"].iloc[-1]) if len(before) else 1.0

    everyone = km_at(np.ones(time.size, bool))
    rows = []
    for pt in thresholds:
        treated = risk >= pt
        share = treated.mean()
        s_treated = km_at(treated)
        model = 0.0 if share == 0 else share * (1 - s_treated) - share * s_treated * pt / (1 - pt)
        rows.append({"threshold": pt, "net_benefit": model,
                     "net_benefit_all": (1 - everyone) - everyone * pt / (1 - pt)})
    return pd.DataFrame(rows)
