"""Read the workflow's tables and hand them to the figure functions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsnake import figures, stats
from radsnake.evaluation import read_predictions
from radsnake.external import in_set


def plot_roc(prediction_files, radscore_csv, metrics_csv, set_name, n_boot, seed, png, pdf) -> None:
    # Only this set's rows (for the pooled external set: every external cohort's).
    predictions = read_predictions(prediction_files, radscore_csv, [set_name])
    bands = {}
    for name, part in predictions.items():
        if part["label"].nunique() == 2:
            bands[name] = stats.roc_band(part["label"], part["probability"], n_boot=n_boot, random_state=seed)
    figures.roc_figure(predictions, pd.read_csv(metrics_csv), set_name, png, pdf, bands=bands)


def plot_calibration(binned_csv, smoothed_csv, calibration_csv, set_name, png, pdf) -> None:
    binned, smoothed = (in_set(pd.read_csv(path), set_name) for path in (binned_csv, smoothed_csv))
    figures.calibration_figure(
        {name: frame.drop(columns=["model", "set"]) for name, frame in binned.groupby("model", sort=False)},
        {name: frame.drop(columns=["model", "set"]) for name, frame in smoothed.groupby("model", sort=False)},
        pd.read_csv(calibration_csv),
        set_name,
        png,
        pdf,
    )


def plot_decision_curve(decision_csv, set_name, png, pdf) -> None:
    curves = in_set(pd.read_csv(decision_csv), set_name)
    figures.decision_curve_figure(
        {name: frame.drop(columns=["model", "set"]) for name, frame in curves.groupby("model", sort=False)},
        set_name,
        png,
        pdf,
    )


def plot_confusion(confusion_csv, png, pdf) -> None:
    figures.confusion_matrix_figure(pd.read_csv(confusion_csv), png, pdf)


def plot_radscore_violin(radscore_csv, png, pdf) -> None:
    figures.radscore_violin_figure(pd.read_csv(radscore_csv, dtype={"case_id": str}), png, pdf)


def plot_lasso(path_csv, cv_csv, chosen, png, pdf) -> None:
    figures.lasso_figure(pd.read_csv(path_csv), pd.read_csv(cv_csv), png, pdf, chosen=chosen)


def plot_waterfall(radscore_csv, metrics_csv, set_name, png, pdf) -> None:
    metrics = pd.read_csv(metrics_csv)
    # The rad-score's threshold was chosen on its logistic scale; draw it on the score's own.
    threshold = metrics.loc[(metrics["model"] == "radscore") & (metrics["set"] == "train"), "threshold"].iloc[0]
    cutoff = float(np.log(threshold / (1.0 - threshold))) if 0.0 < threshold < 1.0 else None
    radscore = in_set(pd.read_csv(radscore_csv, dtype={"case_id": str}), set_name)
    figures.waterfall_figure(radscore, set_name, png, pdf, cutoff=cutoff)


def plot_correlation(features_csv, split_csv, selected_csv, png, pdf) -> None:
    selected = pd.read_csv(selected_csv)["feature"].tolist()
    table = pd.read_csv(features_csv, dtype={"case_id": str}).set_index("case_id")
    train = pd.read_csv(split_csv, dtype=str).query("set == 'train'")["case_id"]
    figures.correlation_heatmap(table.loc[train, selected], png, pdf)


def plot_importance(importance_files, png, pdf) -> None:
    importances = {name: pd.read_csv(path) for name, path in importance_files.items()}
    figures.importance_figure(importances, png, pdf)
