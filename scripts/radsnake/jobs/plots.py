"""Read the workflow's tables and hand them to the figure functions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsnake.figures import model_figures, evaluation_figures
from radsnake.stats import discrimination as stats
from radsnake.stats.evaluation import read_predictions
from radsnake.io.external import in_set
from radsnake.stats.intervals import no_signature_mark


def shown_names(metrics_csv) -> dict[str, str]:
    """Each model's name in a figure: a model without signature reads "svm — no signature",
    the mark the ROC legend gives it (radsnake.stats.intervals.no_signature_mark)."""
    metrics = pd.read_csv(metrics_csv).drop_duplicates("model")
    return {str(row["model"]): f"{row['model']}{no_signature_mark(row)}" for _, row in metrics.iterrows()}


def radscore_mark(metrics_csv) -> str:
    """The rad-score's mark in a figure: " — no signature" when it has none, else ''."""
    rows = pd.read_csv(metrics_csv).query("model == 'radscore'")
    return no_signature_mark(rows.iloc[0]) if len(rows) else ""


def renamed(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    return frame.assign(model=[names.get(str(m), str(m)) for m in frame["model"]])


def plot_roc(prediction_files, radscore_csv, metrics_csv, set_name, n_boot, seed, png, pdf) -> None:
    # Only this set's rows (for the pooled external set: every external cohort's).
    predictions = read_predictions(prediction_files, radscore_csv, [set_name])
    bands = {}
    for name, part in predictions.items():
        if part["label"].nunique() == 2:
            bands[name] = stats.roc_band(part["label"], part["probability"], n_boot=n_boot, random_state=seed)
    model_figures.roc_figure(predictions, pd.read_csv(metrics_csv), set_name, png, pdf, bands=bands)


def plot_calibration(binned_csv, smoothed_csv, calibration_csv, metrics_csv, set_name, png, pdf) -> None:
    names = shown_names(metrics_csv)
    binned, smoothed = (renamed(in_set(pd.read_csv(path), set_name), names) for path in (binned_csv, smoothed_csv))
    evaluation_figures.calibration_figure(
        {name: frame.drop(columns=["model", "set"]) for name, frame in binned.groupby("model", sort=False)},
        {name: frame.drop(columns=["model", "set"]) for name, frame in smoothed.groupby("model", sort=False)},
        renamed(pd.read_csv(calibration_csv), names),
        set_name,
        png,
        pdf,
    )


def plot_decision_curve(decision_csv, metrics_csv, set_name, png, pdf) -> None:
    curves = renamed(in_set(pd.read_csv(decision_csv), set_name), shown_names(metrics_csv))
    evaluation_figures.decision_curve_figure(
        {name: frame.drop(columns=["model", "set"]) for name, frame in curves.groupby("model", sort=False)},
        set_name,
        png,
        pdf,
    )


def plot_confusion(confusion_csv, metrics_csv, png, pdf) -> None:
    evaluation_figures.confusion_matrix_figure(renamed(pd.read_csv(confusion_csv), shown_names(metrics_csv)), png, pdf)


def plot_radscore_violin(radscore_csv, metrics_csv, png, pdf) -> None:
    radscore = pd.read_csv(radscore_csv, dtype={"case_id": str})
    evaluation_figures.radscore_violin_figure(radscore, png, pdf, mark=radscore_mark(metrics_csv))


def plot_lasso(path_csv, cv_csv, chosen, png, pdf) -> None:
    model_figures.lasso_figure(pd.read_csv(path_csv), pd.read_csv(cv_csv), png, pdf, chosen=chosen)


def plot_waterfall(radscore_csv, metrics_csv, set_name, png, pdf) -> None:
    metrics = pd.read_csv(metrics_csv)
    # The rad-score's threshold was chosen on its logistic scale; draw it on the score's own.
    threshold = metrics.loc[(metrics["model"] == "radscore") & (metrics["set"] == "train"), "threshold"].iloc[0]
    cutoff = float(np.log(threshold / (1.0 - threshold))) if 0.0 < threshold < 1.0 else None
    radscore = in_set(pd.read_csv(radscore_csv, dtype={"case_id": str}), set_name)
    model_figures.waterfall_figure(radscore, set_name, png, pdf, cutoff=cutoff, mark=radscore_mark(metrics_csv))


def plot_correlation(features_csv, split_csv, selected_csv, png, pdf) -> None:
    selected = pd.read_csv(selected_csv)["feature"].tolist()
    table = pd.read_csv(features_csv, dtype={"case_id": str}).set_index("case_id")
    train = pd.read_csv(split_csv, dtype=str).query("set == 'train'")["case_id"]
    model_figures.correlation_heatmap(table.loc[train, selected], png, pdf)


def plot_importance(importance_files, metrics_csv, png, pdf) -> None:
    names = shown_names(metrics_csv)
    importances = {names.get(name, name): pd.read_csv(path) for name, path in importance_files.items()}
    model_figures.importance_figure(importances, png, pdf)
