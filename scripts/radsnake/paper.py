"""The statistics a radiomics paper reports beyond discrimination: calibration, decision
curves, bootstrap CIs and the formatted summary; clinical and combined models with the
nomogram; per-feature tests. Everything that is fitted is fitted on training cases."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radsnake import calibration, clinical, feature_stats, stats
from radsnake.errors import InputError
from radsnake.evaluation import model_metrics, pairwise_delong, read_predictions
from radsnake.external import ordered_sets, with_sets
from radsnake.modelling import load_design
from radsnake.tables import write_csv

log = logging.getLogger(__name__)

SUMMARY_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


def formatted(estimate: float, low: float, high: float) -> str:
    """As papers print it: 0.85 (0.78–0.91)."""
    if not np.isfinite(estimate):
        return "NA"
    return f"{estimate:.2f} ({low:.2f}\u2013{high:.2f})"


def _by_model_and_set(predictions: dict[str, pd.DataFrame]):
    for name, frame in predictions.items():
        for set_name in ordered_sets(frame["set"]):
            part = frame[frame["set"] == set_name]
            if not part.empty:
                yield name, set_name, part["label"].to_numpy(), part["probability"].to_numpy()


def calibration_tables(predictions: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    rows, binned, smoothed, curves = [], [], [], []
    for name, set_name, y, p in _by_model_and_set(predictions):
        key = {"model": name, "set": set_name}
        if len(set(y)) < 2:
            log.warning("%s on %s: one class only, no calibration", name, set_name)
            continue
        fit = calibration.calibration_stats(y, p)
        try:
            hl = calibration.hosmer_lemeshow(y, p)
        except ValueError as err:  # all predictions equal: no risk groups
            log.warning("%s on %s: no Hosmer-Lemeshow test (%s)", name, set_name, err)
            hl = {"statistic": np.nan, "df": np.nan, "p_value": np.nan}
        rows.append(
            {
                **key,
                "n": fit["n"],
                "intercept": fit["intercept"],
                "slope": fit["slope"],
                "intercept_slope_reason": fit["reason"],
                "calibration_in_the_large": fit["calibration_in_the_large"],
                "brier": fit["brier"],
                "emax": fit["emax"],
                "eavg": fit["eavg"],
                "hl_statistic": hl["statistic"],
                "hl_df": hl["df"],
                "hl_p_value": hl["p_value"],
            }
        )
        binned.append(calibration.calibration_curve(y, p).assign(**key))
        smoothed.append(calibration.smoothed_calibration(y, p, random_state=0).assign(**key))
        curves.append(calibration.decision_curve(y, p).assign(**key))

    def stacked(frames):
        frame = pd.concat(frames, ignore_index=True)
        return frame[["model", "set", *[c for c in frame.columns if c not in ("model", "set")]]]

    return {
        "calibration": pd.DataFrame(rows),
        "binned": stacked(binned),
        "smoothed": stacked(smoothed),
        "decision": stacked(curves),
    }


def bootstrap_tables(predictions, metrics: pd.DataFrame, n_boot: int, seed: int):
    """Stratified bootstrap CIs at each model's training threshold, and the counts."""
    thresholds = metrics[metrics["set"] == "train"].set_index("model")["threshold"]
    boot, confusion = [], []
    for name, set_name, y, p in _by_model_and_set(predictions):
        threshold = thresholds[name]
        counts = stats.threshold_metrics(y, p, threshold)
        confusion.append({"model": name, "set": set_name, **{k: counts[k] for k in ("tp", "fp", "tn", "fn")}})
        if len(set(y)) < 2:
            continue
        frame = stats.bootstrap_ci(y, p, threshold, n_boot=n_boot, random_state=seed).reset_index()
        boot.append(frame.assign(model=name, set=set_name))
    boot = pd.concat(boot, ignore_index=True)
    return boot[["model", "set", "metric", "estimate", "ci_low", "ci_high"]], pd.DataFrame(confusion)


def summary_table(metrics: pd.DataFrame, boot: pd.DataFrame) -> pd.DataFrame:
    """One row per model and set; AUC with its DeLong CI, the rest with bootstrap CIs."""
    ci = boot.set_index(["model", "set", "metric"])
    rows = []
    for row in metrics.itertuples(index=False):
        out = {"model": row.model, "set": row.set, "n": row.n, "auc": formatted(row.auc, row.auc_ci_low, row.auc_ci_high)}
        for metric in SUMMARY_METRICS:
            key = (row.model, row.set, metric)
            out[metric] = formatted(*ci.loc[key, ["estimate", "ci_low", "ci_high"]]) if key in ci.index else "NA"
        rows.append(out)
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame) -> str:
    header = ["Model", "Set", "n", "AUC (95 % CI)", "Accuracy", "Sensitivity", "Specificity", "PPV", "NPV"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def summarise_models(
    prediction_files: dict[str, str],
    radscore_csv: str,
    metrics_csv: str,
    n_boot: int,
    seed: int,
    outputs: dict[str, str],
    sets: list[str] | None = None,
) -> None:
    """outputs: calibration, binned, smoothed, decision, bootstrap, confusion, summary, summary_md.

    sets: as for radsnake.evaluation.read_predictions (the pooled external set included)."""
    predictions = read_predictions(prediction_files, radscore_csv, sets)
    metrics = pd.read_csv(metrics_csv)
    tables = calibration_tables(predictions)
    tables["bootstrap"], tables["confusion"] = bootstrap_tables(predictions, metrics, n_boot, seed)
    tables["summary"] = summary_table(metrics, tables["bootstrap"])
    for name, frame in tables.items():
        write_csv(frame, outputs[name])
    with open(outputs["summary_md"], "w") as handle:
        handle.write(markdown_table(tables["summary"]))


def comparison_frame(features_csv, split_csv, radscore_csv, clinical_columns: dict[str, str]) -> pd.DataFrame:
    table = pd.read_csv(features_csv, dtype={"case_id": str, "center": str}, usecols=["case_id", "label", *clinical_columns])
    for column, kind in clinical_columns.items():
        if kind == "categorical":
            table[column] = table[column].astype(str)
    split = pd.read_csv(split_csv, dtype=str)
    radscore = pd.read_csv(radscore_csv, dtype={"case_id": str})[["case_id", "radscore"]]
    return table.merge(split, on="case_id").merge(radscore, on="case_id")


def radscore_separates(train: pd.DataFrame) -> bool:
    """Every event's rad-score above (or below) every non-event's, ties included."""
    events, others = train.loc[train["label"] == 1, "radscore"], train.loc[train["label"] != 1, "radscore"]
    return bool(events.min() >= others.max() or events.max() <= others.min())


def clinical_comparison(
    features_csv: str,
    split_csv: str,
    radscore_csv: str,
    clinical_columns: dict[str, str],
    threshold_method: str,
    target: float,
    ci_level: float,
    outputs: dict[str, str],
    sets: list[str] | None = None,
) -> None:
    """outputs: univariate, multivariate, predictions, metrics, delong, nomogram_png, nomogram_pdf.

    sets: the sets to evaluate, the pooled external set included (radsnake.external);
    None evaluates the sets of split.csv. predictions.csv keeps one row per case."""
    frame = comparison_frame(features_csv, split_csv, radscore_csv, clinical_columns)
    train = frame[frame["set"] == "train"]
    # A LASSO that kept no feature leaves a constant rad-score: only the clinical model exists.
    with_radscore = train["radscore"].nunique() > 1
    if not with_radscore:
        log.warning("the rad-score is constant on the training set: clinical model only")
    elif radscore_separates(train):
        # No finite odds ratio exists: as with a constant rad-score, the clinical model alone.
        from radsnake.runtime import notice

        with_radscore = False
        notice(
            "radsnake: clinical models: the rad-score separates the training cases' labels "
            "perfectly, so its odds ratio is infinite (no maximum-likelihood estimate); "
            "results/clinical/ holds the clinical model only. See docs/troubleshooting.md."
        )
    predictors = {**clinical_columns, **({"radscore": "numeric"} if with_radscore else {})}
    try:
        write_csv(clinical.logistic_table(train, "label", predictors, kind="univariate"), outputs["univariate"])
        write_csv(clinical.logistic_table(train, "label", predictors, kind="multivariate"), outputs["multivariate"])
        if with_radscore:
            fitted = clinical.fit_comparison_models(train, "label", clinical_columns)
        else:
            fitted = {"clinical": clinical.fit_logistic(train, "label", clinical_columns)}
    except ValueError as err:
        raise InputError(f"clinical models on the training set: {err}") from err

    predictions = {
        name: frame[["case_id", "set", "label"]].assign(probability=model.predict_proba(frame))
        for name, model in fitted.items()
    }
    write_csv(
        pd.concat([p.assign(model=name) for name, p in predictions.items()], ignore_index=True)[
            ["model", "case_id", "set", "label", "probability"]
        ],
        outputs["predictions"],
    )
    if sets is not None:
        predictions = {name: with_sets(p, sets) for name, p in predictions.items()}
    rows = []
    for name, p in predictions.items():
        rows += model_metrics(name, p, threshold_method, target, ci_level)
    write_csv(pd.DataFrame(rows), outputs["metrics"])
    every_set = ordered_sets(set().union(*(p["set"] for p in predictions.values())))
    write_csv(pairwise_delong(predictions, sets=every_set), outputs["delong"])
    labels = {name: name for name in clinical_columns} | {"radscore": "Rad-score"}
    axes = clinical.nomogram_axes(fitted["combined" if with_radscore else "clinical"], train, labels=labels)
    clinical.nomogram_figure(axes, outputs["nomogram_png"], outputs["nomogram_pdf"])


def feature_statistics(
    features_csv: str,
    split_csv: str,
    clinical_columns: list[str],
    test: str,
    table_csv: str,
    volcano_png: str,
    volcano_pdf: str,
) -> None:
    design = load_design(features_csv, split_csv, clinical_columns)
    table = feature_stats.feature_table(design.features[design.train], design.labels[design.train], test=test)
    write_csv(table, table_csv)
    feature_stats.volcano_figure(table, volcano_png, volcano_pdf)
