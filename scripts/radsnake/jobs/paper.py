"""The statistics a radiomics paper reports beyond discrimination: calibration, decision
curves, bootstrap CIs and the formatted summary; clinical and combined models with the
nomogram; per-feature tests. Everything that is fitted is fitted on training cases."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radsnake.stats import calibration, clinical, feature_stats, intervals, discrimination as stats, verdicts
from radsnake.io.clinical_data import usable_clinical
from radsnake.stats.clinical import comparison_frame
from radsnake.core.errors import InputError
from radsnake.core.runtime import tell_console
from radsnake.stats.evaluation import model_metrics, pairwise_delong, read_predictions, small_sets
from radsnake.io.external import ordered_sets, with_sets
from radsnake.stats.intervals import formatted
from radsnake.ml.modelling import load_design
from radsnake.stats.signature import NO_SIGNATURE, marked, read_message
from radsnake.core.tables import write_csv
from radsnake.figures.nomogram import nomogram_figure
from radsnake.figures.volcano import volcano_figure

log = logging.getLogger(__name__)

SUMMARY_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")
# stats.bootstrap_ci's rows, in its order.
BOOTSTRAP_METRICS = ("auc", "sensitivity", "specificity", "ppv", "npv", "accuracy")
BOOTSTRAP_COLUMNS = ["model", "set", "metric", "estimate", "ci_low", "ci_high", "ci_reason",
                     "clopper_pearson_low", "clopper_pearson_high"]


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
        smooth = calibration.smoothed_calibration(y, p, random_state=0)
        # A grid point every resample reaching it smooths to the same value: the band has no width.
        smooth["ci_reason"] = np.where(
            smooth["ci_low"] == smooth["ci_high"],
            "every bootstrap resample that reaches this predicted value gives the same smoothed value",
            "",
        )
        smoothed.append(smooth.assign(**key))
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


def bootstrap_rows(y, p, threshold: float, n_boot: int, seed: int) -> pd.DataFrame:
    """One model on one set: percentile CIs with the reason where they have no width (or
    can't be computed), and the Clopper–Pearson interval of every proportion."""
    counts = stats.threshold_metrics(y, p, threshold)
    too_few = intervals.unsupported("bootstrap CI", y)
    if too_few:
        point = {**counts, "auc": stats.auc_delong(y, p)["auc"]}
        frame = pd.DataFrame({"metric": list(BOOTSTRAP_METRICS)})
        frame["estimate"] = [float(point[m]) for m in frame["metric"]]
        frame["ci_low"] = frame["ci_high"] = np.nan
    else:
        frame = stats.bootstrap_ci(y, p, threshold, n_boot=n_boot, random_state=seed).reset_index()
    reasons, low, high = [], [], []
    for row in frame.itertuples(index=False):
        undefined = intervals.undefined_metric_reason(row.metric, counts)
        reasons.append(undefined or too_few or intervals.bootstrap_reason(row.metric, row.estimate, row.ci_low, row.ci_high))
        pair = intervals.proportion_counts(row.metric, counts)
        exact = intervals.exact_interval(*pair) if pair else (np.nan, np.nan)
        low.append(exact[0])
        high.append(exact[1])
    return frame.assign(ci_reason=reasons, clopper_pearson_low=low, clopper_pearson_high=high)


def bootstrap_tables(predictions, metrics: pd.DataFrame, n_boot: int, seed: int):
    """Stratified bootstrap CIs at each model's training threshold, and the counts."""
    thresholds = metrics[metrics["set"] == "train"].set_index("model")["threshold"]
    no_signature = _no_signature(metrics)
    boot, confusion = [], []
    for name, set_name, y, p in _by_model_and_set(predictions):
        threshold = thresholds[name]
        counts = stats.threshold_metrics(y, p, threshold)
        confusion.append({"model": name, "set": set_name, **{k: counts[k] for k in ("tp", "fp", "tn", "fn")}})
        if len(set(y)) < 2:
            continue
        frame = bootstrap_rows(y, p, threshold, n_boot, seed)
        if no_signature.get(name):
            frame["ci_reason"] = [f"{NO_SIGNATURE}; {r}" if r else NO_SIGNATURE for r in frame["ci_reason"]]
        boot.append(frame.assign(model=name, set=set_name))
    boot = pd.concat(boot, ignore_index=True)
    return boot[BOOTSTRAP_COLUMNS], pd.DataFrame(confusion)


def _no_signature(metrics: pd.DataFrame) -> dict[str, str]:
    if "no_signature" not in metrics:
        return {}
    return {model: str(text) for model, text in metrics.groupby("model")["no_signature"].first().dropna().items() if text}


def _reason(value) -> str:
    return "" if pd.isna(value) else str(value)


def summary_text(estimate, low, high, reason, exact_low=np.nan, exact_high=np.nan) -> str:
    """A summary cell: the interval, or the reason it has none; at a proportion of 0 or 1 the
    Clopper–Pearson interval, named."""
    reason = _reason(reason)
    if reason.startswith(NO_SIGNATURE):
        return formatted(estimate, low, high, NO_SIGNATURE)
    exact = f"{exact_low:.2f}\u2013{exact_high:.2f} Clopper\u2013Pearson" if np.isfinite(exact_low) else ""
    if reason.startswith("every resample gives") and exact:
        return f"{estimate:.2f} ({exact}; bootstrap without width)"
    if "needs at least" in reason:
        return f"{estimate:.2f} ({exact}; too few cases for the bootstrap)" if exact else formatted(
            estimate, low, high, "no CI: too few cases")
    if reason.startswith("DeLong variance is 0") or reason.startswith("constant score"):
        return formatted(estimate, low, high, "no CI: " + reason.split(":")[0].replace("DeLong variance is 0 at", "DeLong variance 0 at"))
    return formatted(estimate, low, high, reason)


def summary_table(metrics: pd.DataFrame, boot: pd.DataFrame) -> pd.DataFrame:
    """One row per model and set; AUC with its DeLong CI, the rest with bootstrap CIs."""
    ci = boot.set_index(["model", "set", "metric"])
    columns = ["estimate", "ci_low", "ci_high", "ci_reason", "clopper_pearson_low", "clopper_pearson_high"]
    rows = []
    for row in metrics.itertuples(index=False):
        auc = summary_text(row.auc, row.auc_ci_low, row.auc_ci_high, getattr(row, "auc_ci_reason", ""))
        out = {"model": row.model, "set": row.set, "n": row.n, "auc": auc}
        for metric in SUMMARY_METRICS:
            key = (row.model, row.set, metric)
            out[metric] = summary_text(*ci.loc[key, columns]) if key in ci.index else "NA"
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
    signature_json: str = "",
    control_csv: str = "",
    report_text: str = "",
) -> None:
    """outputs: calibration, binned, smoothed, decision, bootstrap, confusion, summary, summary_md,
    verdicts, overview (the report's first page: report_text with the notices and verdicts).

    sets: as for radsnake.stats.evaluation.read_predictions (the pooled external set included).
    control_csv: the negative control's table, when it ran."""
    predictions = read_predictions(prediction_files, radscore_csv, sets)
    metrics = pd.read_csv(metrics_csv)
    tables = calibration_tables(predictions)
    tables["bootstrap"], tables["confusion"] = bootstrap_tables(predictions, metrics, n_boot, seed)
    tables["summary"] = summary_table(metrics, tables["bootstrap"])
    tables["verdicts"] = verdicts.verdicts(metrics, pd.read_csv(control_csv) if control_csv else None)
    # Every table that lists a model carries metrics.csv's no-signature message (docs/statistics.md).
    no_signature = _no_signature(metrics)
    for name, frame in tables.items():
        if name in outputs:
            write_csv(marked(frame, no_signature), outputs[name])
    notes = verdicts.notices(read_message(signature_json) if signature_json else "", small_sets(predictions["radscore"]))
    with open(outputs["summary_md"], "w") as handle:
        handle.write(verdicts.markdown(notes, tables["verdicts"]) + markdown_table(tables["summary"]))
    if "overview" in outputs:
        with open(report_text) as handle:
            title, underline, rest = handle.read().split("\n", 2)
        with open(outputs["overview"], "w") as handle:
            handle.write(f"{title}\n{underline}\n\n{verdicts.rst(notes, tables['verdicts'])}{rest}")


def radscore_separates(train: pd.DataFrame) -> bool:
    """Every event's rad-score above (or below) every non-event's, ties included."""
    events, others = train.loc[train["label"] == 1, "radscore"], train.loc[train["label"] != 1, "radscore"]
    return bool(events.min() >= others.max() or events.max() <= others.min())


# What the clinical tables say in place of the rad-score when the selection kept nothing.
CLINICAL_NO_SIGNATURE = (
    f"{NO_SIGNATURE}: the selection kept no feature, so the rad-score is no predictor here; "
    "the clinical model stands alone (no radiomics or combined model is fitted)"
)


def appended(table: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    """table with rows standing for the rad-score's absence, marked CLINICAL_NO_SIGNATURE."""
    return pd.concat([table, pd.DataFrame(rows).assign(no_signature=CLINICAL_NO_SIGNATURE)], ignore_index=True)


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
    missing_policy: str = "refuse",
    sheet: str = "",
    penalty: str = "none",
    signature_json: str = "",
) -> None:
    """outputs: univariate, multivariate, predictions, metrics, delong, nomogram_png, nomogram_pdf,
    and imputation when missing_policy is impute (radsnake.io.clinical_data); sheet: the
    cohort sheet, named in messages. penalty: config clinical_model.penalty, for every
    logistic model here.

    sets: the sets to evaluate, the pooled external set included (radsnake.io.external);
    None evaluates the sets of split.csv. predictions.csv keeps one row per case.
    signature_json: results/selection/signature.json; a rad-score without signature is no
    predictor here, and the tables and nomogram say so (CLINICAL_NO_SIGNATURE)."""
    frame = comparison_frame(features_csv, split_csv, radscore_csv, clinical_columns)
    frame, imputed = usable_clinical(frame, clinical_columns, missing_policy, sheet)
    if imputed is not None:
        write_csv(imputed, outputs["imputation"])
    train = frame[frame["set"] == "train"]
    # A selection that kept no feature (or any constant rad-score): only the clinical model exists.
    no_signature = bool(signature_json and read_message(signature_json))
    with_radscore = not no_signature and train["radscore"].nunique() > 1
    if not with_radscore:
        log.warning(CLINICAL_NO_SIGNATURE if no_signature else "the rad-score is constant on the training set: clinical model only")
    elif penalty == "none" and radscore_separates(train):
        # No finite odds ratio exists: as with a constant rad-score, the clinical model alone
        # (Firth's penalty gives a finite one, so with it the combined model is fitted).
        with_radscore = False
        tell_console(
            "clinical models: the rad-score separates the training cases' labels "
            "perfectly, so its odds ratio is infinite (no maximum-likelihood estimate); "
            "results/clinical/ holds the clinical model only. Set clinical_model.penalty: firth "
            "in the config for a combined model. See docs/troubleshooting.md."
        )
    predictors = {**clinical_columns, **({"radscore": "numeric"} if with_radscore else {})}
    try:
        for kind in ("univariate", "multivariate"):
            table = clinical.logistic_table(train, "label", predictors, kind=kind, penalty=penalty)
            if no_signature:
                table = appended(table, [{"predictor": "radscore", "term": "radscore", "n": len(train)}])
            write_csv(table, outputs[kind])
        if with_radscore:
            fitted = clinical.fit_comparison_models(train, "label", clinical_columns, penalty=penalty)
        else:
            fitted = {"clinical": clinical.fit_logistic(train, "label", clinical_columns, penalty)}
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
    metrics = pd.DataFrame(rows)
    if no_signature:
        sets_seen = predictions["clinical"]["set"]
        metrics = appended(metrics, [
            {"model": name, "set": set_name, "n": int((sets_seen == set_name).sum()), "auc_ci_reason": NO_SIGNATURE}
            for name in ("radiomics", "combined") for set_name in ordered_sets(set(sets_seen))
        ])
    write_csv(metrics, outputs["metrics"])
    every_set = ordered_sets(set().union(*(p["set"] for p in predictions.values())))
    write_csv(pairwise_delong(predictions, sets=every_set), outputs["delong"])
    labels = {name: name for name in clinical_columns} | {"radscore": "Rad-score"}
    axes = clinical.nomogram_axes(fitted["combined" if with_radscore else "clinical"], train, labels=labels)
    nomogram_figure(axes, outputs["nomogram_png"], outputs["nomogram_pdf"],
                             title=f"Clinical model alone (rad-score: {NO_SIGNATURE})" if no_signature else None)


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
    volcano_figure(table, volcano_png, volcano_pdf)
