"""Figures of a survival study (docs/survival.md), drawn from results/survival/'s tables:
Kaplan-Meier curves of the high/low risk groups with numbers at risk, time-dependent AUC
at the horizons, calibration at each horizon, the decision curve at the first horizon and
the Cox-LASSO path.

The house style, palette and deterministic saving are radsnake.figures.style' (same inputs,
byte-identical PNG and PDF).
"""

from __future__ import annotations

import logging
import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from radsnake.figures.style import PALETTE, STYLE, save_figure

# fontTools logs every glyph subset of every PDF at INFO: noise in the job log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

GROUP_COLOURS = {"low": PALETTE[0], "high": PALETTE[1]}
WIDTH_PER_PANEL = 2.6


def only_set(frame: pd.DataFrame, set_name: str) -> pd.DataFrame:
    return frame[frame["set"].astype(str) == set_name]


def p_text(p: float) -> str:
    if not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def hr_text(row) -> str:
    if not np.isfinite(row["hr"]):
        return "HR n/a"
    return f"HR {row['hr']:.2f} (95% CI {row['hr_ci_low']:.2f}–{row['hr_ci_high']:.2f})"


def new_figure(panels: int, height: float) -> tuple[Figure, list]:
    fig = Figure(figsize=(max(3.5, WIDTH_PER_PANEL * panels), height), layout="constrained", dpi=100)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def message_figure(message: str, png, pdf) -> None:
    fig = Figure(figsize=(3.5, 1.5), dpi=100)
    fig.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=8)
    save_figure(fig, png, pdf)


def tick_times(last: float, unit: str) -> np.ndarray:
    """Round ticks from 0 to the last follow-up (about six intervals)."""
    raw = max(last, 1e-9) / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    return np.arange(0, last + step * 1e-9, step)


def at_risk(curve: pd.DataFrame, t: float) -> int:
    """Numbers at risk at t from a KM table (n_risk at the first time >= t; 0 past the end)."""
    later = curve[curve["time"] >= t]
    return int(later["n_risk"].iloc[0]) if len(later) else 0


def km_steps(curve: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    times = np.r_[0.0, curve["time"].to_numpy(float)]
    values = np.r_[1.0, curve[column].to_numpy(float)]
    return times, values


def draw_km_panel(ax, table_ax, km: pd.DataFrame, groups: pd.DataFrame, model: str, unit: str) -> None:
    last = float(km["time"].max()) if len(km) else 1.0
    ticks = tick_times(last, unit)
    rows = []
    for group in ("low", "high"):
        curve = km[km["group"] == group].sort_values("time")
        if curve.empty:
            continue
        colour = GROUP_COLOURS[group]
        times, surv = km_steps(curve, "survival")
        ax.step(times, surv, where="post", color=colour, label=f"{group} risk (n = {int(curve['n_risk'].iloc[0])})")
        _, low = km_steps(curve, "ci_low")
        _, high = km_steps(curve, "ci_high")
        ax.fill_between(times, np.nan_to_num(low, nan=1.0), np.nan_to_num(high, nan=1.0), step="post",
                        color=colour, alpha=0.15, linewidth=0)
        censored = curve[curve["n_censor"] > 0]
        ax.plot(censored["time"], censored["survival"], "|", color=colour, markersize=4)
        rows.append((group, colour, [at_risk(curve, t) for t in ticks]))
    row = groups.iloc[0]
    ax.text(0.03, 0.04, f"log-rank {p_text(row['logrank_p'])}\n{hr_text(row)}", transform=ax.transAxes,
            fontsize=6.5, va="bottom")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-last * 0.02, last * 1.02)
    ax.set_xticks(ticks)
    ax.set_xlabel(f"Time ({unit})")
    ax.set_title(model)
    ax.legend(loc="upper right", fontsize=6)
    # Numbers at risk under the axis: one line per group, aligned with the time ticks.
    table_ax.set_xlim(ax.get_xlim())
    table_ax.set_ylim(-0.5, len(rows) - 0.5)
    for line, (_group, colour, counts) in enumerate(rows):
        y = len(rows) - 1 - line
        for t, count in zip(ticks, counts):
            table_ax.text(t, y, str(count), ha="center", va="center", fontsize=6, color=colour)
    table_ax.set_yticks(range(len(rows)))
    table_ax.set_yticklabels([group for group, _, _ in reversed(rows)], fontsize=6)
    for label, (_, colour, _) in zip(table_ax.get_yticklabels(), list(reversed(rows))):
        label.set_color(colour)
    table_ax.set_xticks([])
    table_ax.tick_params(left=False)
    for side in table_ax.spines.values():
        side.set_visible(False)
    table_ax.set_title("Number at risk", fontsize=6.5, loc="left")


def km_figure(km: pd.DataFrame, groups: pd.DataFrame, models: list[str], set_name: str, unit: str,
              png, pdf) -> None:
    """KM curves of the low and high risk groups (split at the training median), one panel
    per model, the log-rank p and HR (high vs low) with its 95% CI in each panel, the numbers
    at risk under it."""
    with matplotlib.rc_context(STYLE):
        shown = [m for m in models if (km["model"] == m).any()]
        if not shown:
            return message_figure(f"No Kaplan-Meier curve for {set_name}.", png, pdf)
        fig = Figure(figsize=(max(3.5, WIDTH_PER_PANEL * len(shown)), 3.4), layout="constrained", dpi=100)
        grid = fig.subplots(2, len(shown), squeeze=False, height_ratios=[4, 1])
        for column, model in enumerate(shown):
            draw_km_panel(grid[0][column], grid[1][column], km[km["model"] == model],
                          groups[groups["model"] == model], model, unit)
        grid[0][0].set_ylabel("Survival probability")
        fig.suptitle(f"Kaplan-Meier by risk group (training median) — {set_name}")
        save_figure(fig, png, pdf)


def td_auc_figure(metrics: pd.DataFrame, horizons: list[float], sets: list[str], unit: str, png, pdf) -> None:
    """Time-dependent AUC (cumulative/dynamic, IPCW) at each horizon; a panel per set."""
    from radsnake.stats.survival_evaluation import horizon_name

    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(sets), 2.6)
        columns = [f"td_auc_{horizon_name(h)}" for h in horizons]
        for ax, set_name in zip(axes, sets):
            rows = metrics[metrics["set"] == set_name]
            for i, row in enumerate(rows.itertuples()):
                values = [getattr(row, c) for c in columns]
                ax.plot(horizons, values, marker="o", markersize=3, color=PALETTE[i % len(PALETTE)],
                        label=row.model)
            ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
            ax.set_ylim(0.3, 1.0)
            ax.set_xticks(horizons)
            ax.set_xlabel(f"Horizon ({unit})")
            ax.set_title(set_name)
        axes[0].set_ylabel("Time-dependent AUC")
        axes[-1].legend(loc="lower right", fontsize=6)
        save_figure(fig, png, pdf)


def calibration_figure(calibration: pd.DataFrame, models: list[str], horizons: list[float], set_name: str,
                       unit: str, png, pdf) -> None:
    """Predicted vs observed (KM, 95% CI) survival at each horizon, by tertile of predicted
    survival; a panel per horizon."""
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(len(horizons), 2.7)
        for ax, h in zip(axes, horizons):
            at = calibration[np.isclose(calibration["horizon"].astype(float), h)]
            for i, model in enumerate(models):
                rows = at[at["model"] == model].dropna(subset=["observed"])
                if rows.empty:
                    continue
                low = (rows["observed"] - rows["observed_ci_low"]).clip(lower=0).fillna(0)
                high = (rows["observed_ci_high"] - rows["observed"]).clip(lower=0).fillna(0)
                ax.errorbar(rows["predicted"], rows["observed"], yerr=[low, high], marker="o", markersize=3,
                            linewidth=0.9, capsize=2, color=PALETTE[i % len(PALETTE)], label=model)
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.set_xlabel(f"Predicted S({h:g} {unit})")
            ax.set_title(f"{h:g} {unit}")
        axes[0].set_ylabel("Observed (Kaplan-Meier)")
        axes[0].legend(loc="upper left", fontsize=6)
        fig.suptitle(f"Calibration by tertile of predicted survival — {set_name}")
        save_figure(fig, png, pdf)


def decision_curve_figure(dca: pd.DataFrame, models: list[str], set_name: str, unit: str, png, pdf) -> None:
    """Net benefit against the threshold risk at the first horizon, with treat-all and treat-none."""
    with matplotlib.rc_context(STYLE):
        fig, (ax,) = new_figure(1, 2.8)
        if dca.empty:
            return message_figure(f"No decision curve for {set_name}.", png, pdf)
        horizon = float(dca["horizon"].iloc[0])
        reference = dca[dca["model"] == dca["model"].iloc[0]]
        for i, model in enumerate(models):
            rows = dca[dca["model"] == model]
            ax.plot(rows["threshold"], rows["net_benefit"], color=PALETTE[i % len(PALETTE)], label=model)
        ax.plot(reference["threshold"], reference["net_benefit_all"], color="grey", linewidth=0.9, label="treat all")
        ax.axhline(0, color="black", linewidth=0.8, label="treat none")
        top = float(np.nanmax(dca[["net_benefit", "net_benefit_all"]].to_numpy())) if len(dca) else 0.1
        ax.set_ylim(-0.05, max(top, 0.05) * 1.1)
        ax.set_xlabel(f"Threshold risk of an event by {horizon:g} {unit}")
        ax.set_ylabel("Net benefit")
        ax.set_title(f"Decision curve at {horizon:g} {unit} — {set_name}")
        ax.legend(loc="upper right", fontsize=6)
        save_figure(fig, png, pdf)


def plot_survival(tables: dict, models, horizons, sets, unit, outputs) -> None:
    """Every survival figure: per set the KM, calibration and decision curve; the td-AUC of
    all sets. tables: the paths of metrics, km, groups, calibration, decision_curve."""
    frames = {name: pd.read_csv(path) for name, path in tables.items()}
    for set_name in sets:
        # The tables name the pooled external set as such: rows are picked by name.
        km, groups, calibration, dca = (only_set(frames[name], set_name)
                                        for name in ("km", "groups", "calibration", "decision_curve"))
        km_figure(km, groups, models, set_name, unit, outputs[f"km_{set_name}_png"], outputs[f"km_{set_name}_pdf"])
        calibration_figure(calibration, models, horizons, set_name, unit, outputs[f"calibration_{set_name}_png"],
                           outputs[f"calibration_{set_name}_pdf"])
        decision_curve_figure(dca, models, set_name, unit, outputs[f"decision_curve_{set_name}_png"],
                              outputs[f"decision_curve_{set_name}_pdf"])
    metrics = frames["metrics"]
    td_auc_figure(metrics, horizons, [s for s in sets if (metrics["set"] == s).any()], unit, outputs["td_auc_png"],
                  outputs["td_auc_pdf"])


__all__ = ["calibration_figure", "decision_curve_figure", "km_figure", "plot_survival", "td_auc_figure"]


def cox_lasso_tables(path: pd.DataFrame, cv: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """results/survival/selection/lasso_path.csv and lasso_cv.csv in the long form of the
    binary LASSO figure (radsnake.figures.model_figures.lasso_figure): lambda is scikit-survival's alpha
    (glmnet's lambda); the 1-SE penalty is the largest within one SE of the CV minimum."""
    long = path.melt(id_vars="alpha", var_name="feature", value_name="coefficient").rename(columns={"alpha": "lambda"})
    mean, se = cv["cv_deviance"].to_numpy(float), cv["cv_se"].to_numpy(float)
    best = int(np.argmin(mean))
    within = np.flatnonzero(mean <= mean[best] + se[best])
    one_se = int(within[0]) if within.size else best
    nonzero = (path.drop(columns="alpha") != 0).sum(axis=1).to_numpy()
    table = pd.DataFrame({"lambda": cv["alpha"], "cv_mean_deviance": mean, "cv_se": se,
                          "is_min": np.arange(len(cv)) == best, "is_1se": np.arange(len(cv)) == one_se,
                          "is_used": cv["chosen"].astype(str).str.lower() == "true",
                          "n_nonzero": nonzero[: len(cv)]})
    return long, table


def plot_cox_lasso(path_csv, cv_csv, chosen: str, png, pdf) -> None:
    """Coefficients against log(lambda) and the CV partial-likelihood deviance, the
    minimum and 1-SE penalties marked (the one used for the rad-score says so)."""
    from radsnake.figures.model_figures import lasso_figure

    path, cv = cox_lasso_tables(pd.read_csv(path_csv), pd.read_csv(cv_csv))
    lasso_figure(path, cv, png, pdf, chosen=chosen, deviance_label="Partial-likelihood deviance (CV mean ± SE)")
