"""Metrics per model and set, with the operating threshold fixed on the training set.

The sets are those of results/split.csv, plus the pooled `external` set when the
workflow asks for it (``sets``); radsnake.io.external names them.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd

from radsnake.stats import intervals, discrimination as stats
from radsnake.io.external import ordered_sets, with_sets
from radsnake.core.runtime import tell_console
from radsnake.stats.signature import NO_SIGNATURE

log = logging.getLogger(__name__)

# The fixed sets; external cohorts add external_<cohort> (see radsnake.io.external.ordered_sets).
SET_ORDER = ("train", "test", "external")
METRIC_COLUMNS = [
    "model", "set", "n", "auc", "auc_ci_low", "auc_ci_high", "accuracy",
    "sensitivity", "specificity", "ppv", "npv", "threshold",
    # Why the AUC interval is missing or has no width; the model's no-signature message;
    # which threshold metrics are undefined and why (radsnake.stats.intervals, radsnake.stats.signature).
    "auc_ci_reason", "no_signature", "notes",
]
THRESHOLD_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


def read_predictions(
    prediction_files: dict[str, str], radscore_csv: str, sets: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Each model's predictions; the rad-score joins as a model whose probability is its logistic.

    sets: keep these sets, in this order, the pooled `external` formed from the external
    cohorts' rows (see radsnake.io.external); None keeps the rows as split.csv has them.
    """
    predictions = {name: pd.read_csv(path, dtype={"case_id": str}) for name, path in prediction_files.items()}
    radscore = pd.read_csv(radscore_csv, dtype={"case_id": str})
    radscore["probability"] = 1.0 / (1.0 + np.exp(-radscore.pop("radscore")))
    predictions["radscore"] = radscore
    if sets is not None:
        predictions = {name: with_sets(frame, sets) for name, frame in predictions.items()}
    return predictions


def training_threshold(train: pd.DataFrame, method: str, target: float) -> float:
    y, score = train["label"].to_numpy(), train["probability"].to_numpy()
    if method == "youden":
        return stats.youden_threshold(y, score)
    return stats.target_threshold(y, score, **{method: target})


def model_metrics(
    name: str, frame: pd.DataFrame, method: str, target: float, level: float, no_signature: str = ""
) -> list[dict]:
    """One row per set. A model without signature keeps its computed numbers (the table is
    complete) and carries the message, which also stands as its interval's reason."""
    threshold = training_threshold(frame[frame["set"] == "train"], method, target)
    rows = []
    for set_name in ordered_sets(frame["set"]):
        part = frame[frame["set"] == set_name]
        if part.empty:
            continue
        y, score = part["label"].to_numpy(), part["probability"].to_numpy()
        row = {"model": name, "set": set_name, "n": len(part)}
        if not intervals.unsupported("AUC", y):
            auc = stats.auc_delong(y, score, level=level)
            row.update(auc=auc["auc"], auc_ci_low=auc["ci_low"], auc_ci_high=auc["ci_high"])
        else:
            log.warning("%s on %s: one class only, AUC undefined", name, set_name)
            row.update(auc=np.nan, auc_ci_low=np.nan, auc_ci_high=np.nan)
        counts = stats.threshold_metrics(y, score, threshold)
        row.update({k: counts[k] for k in THRESHOLD_METRICS})
        row["threshold"] = threshold
        reason = intervals.delong_reason(y, score, row["auc"], row["auc_ci_low"], row["auc_ci_high"])
        row["auc_ci_reason"] = f"{NO_SIGNATURE}; {reason}" if no_signature and reason else (
            NO_SIGNATURE if no_signature else reason)
        row["no_signature"] = no_signature
        row["notes"] = "; ".join(filter(None, (intervals.undefined_metric_reason(k, counts) for k in THRESHOLD_METRICS)))
        rows.append(row)
    return rows


def small_sets(frame: pd.DataFrame) -> list[str]:
    """One line per set whose label counts some statistic can't use (intervals.MINIMUM_PER_LABEL)."""
    lines = []
    for set_name in ordered_sets(frame["set"]):
        y = frame.loc[frame["set"] == set_name, "label"].to_numpy()
        missing = intervals.unsupported_statistics(y)
        if missing:
            n_pos, n_neg = intervals.label_counts(y)
            lines.append(
                f"{set_name} set has {intervals.counts_text(n_pos, n_neg)}: {', '.join(missing)} "
                "undefined there, written empty with the reason; every other statistic is "
                "computed (what each statistic needs: docs/statistics.md)."
            )
    return lines


def announce_small_sets(frame: pd.DataFrame) -> None:
    """Once per study (evaluate_models): each set whose label counts some statistic can't use."""
    for line in small_sets(frame):
        tell_console(line)


def held_out_sets(predictions: dict[str, pd.DataFrame]) -> list[str]:
    present = ordered_sets(set().union(*(frame["set"] for frame in predictions.values())))
    return [name for name in present if name != "train"]


def pairwise_delong(predictions: dict[str, pd.DataFrame], sets=None) -> pd.DataFrame:
    """Paired DeLong tests between every two models on each of the sets (held-out by default)."""
    if sets is None:
        sets = held_out_sets(predictions)
    rows = []
    for set_name in sets:
        for model_a, model_b in itertools.combinations(predictions, 2):
            a = predictions[model_a][predictions[model_a]["set"] == set_name].set_index("case_id")
            b = predictions[model_b][predictions[model_b]["set"] == set_name].set_index("case_id")
            if a.empty or a["label"].nunique() < 2:
                continue
            b = b.loc[a.index]
            y = a["label"].to_numpy()
            reason = intervals.unsupported("DeLong test", y)
            if reason:
                auc_a, auc_b = (stats.auc_delong(y, s)["auc"] for s in (a["probability"], b["probability"]))
                test = {"auc_a": auc_a, "auc_b": auc_b, "z": np.nan, "p_value": np.nan}
            else:
                test = stats.delong_test(y, a["probability"].to_numpy(), b["probability"].to_numpy())
            rows.append({"set": set_name, "model_a": model_a, "model_b": model_b, **test, "reason": reason})
    return pd.DataFrame(rows, columns=["set", "model_a", "model_b", "auc_a", "auc_b", "z", "p_value", "reason"])
