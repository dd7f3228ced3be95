"""Intervals that say what they are: why a bound pair has no width, why a statistic is
undefined on a set, an exact interval for proportions, and how a paper prints them.

Tables keep the bounds a method computed (R parity: pROC gives DeLong 1.0–1.0 at AUC 1
too) and add the reason beside them; the summary prints the reason instead of
``x (x–x)``. docs/statistics.md ("Intervals without width, undefined statistics").
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest

# What each statistic needs of a set, as (positives, negatives); docs/statistics.md.
MINIMUM_PER_LABEL = {
    "AUC": (1, 1),
    "DeLong CI": (2, 2),
    "DeLong test": (2, 2),
    "bootstrap CI": (2, 2),
    "calibration": (1, 1),
}
PROPORTIONS = {
    # metric -> (what its denominator counts, why it can be 0)
    "sensitivity": "positive cases",
    "specificity": "negative cases",
    "ppv": "cases called positive",
    "npv": "cases called negative",
    "accuracy": "cases",
}


def label_counts(y) -> tuple[int, int]:
    y = np.asarray(y).astype(float)
    return int((y == 1).sum()), int((y == 0).sum())


def counts_text(n_pos: int, n_neg: int) -> str:
    return f"{n_pos} positive{'s' if n_pos != 1 else ''} and {n_neg} negative{'s' if n_neg != 1 else ''}"


def unsupported(statistic: str, y) -> str:
    """Why a set cannot support `statistic` (a MINIMUM_PER_LABEL key), or '' when it can."""
    need_pos, need_neg = MINIMUM_PER_LABEL[statistic]
    n_pos, n_neg = label_counts(y)
    if n_pos >= need_pos and n_neg >= need_neg:
        return ""
    return f"{statistic} needs at least {need_pos} case(s) of each label; this set has {counts_text(n_pos, n_neg)}"


def unsupported_statistics(y) -> list[str]:
    """The statistics (MINIMUM_PER_LABEL) a set with labels y cannot support."""
    return [name for name in MINIMUM_PER_LABEL if unsupported(name, y)]


def delong_reason(y, score, auc: float, low: float, high: float) -> str:
    """Why a DeLong interval is missing or has no width, '' when it is a real interval."""
    if not math.isfinite(auc):
        return unsupported("AUC", y) or "AUC undefined"
    if not (math.isfinite(low) and math.isfinite(high)):
        return unsupported("DeLong CI", y) or "DeLong variance undefined"
    if low != high:
        return ""
    if np.unique(np.asarray(score, dtype=float)).size == 1:
        return "constant score: every case has the same prediction, so the DeLong variance is 0"
    if auc in (0.0, 1.0):
        return f"DeLong variance is 0 at AUC {auc:g}: the labels are completely separated (pROC gives the same)"
    return "DeLong variance is 0"


def exact_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a proportion (R ``binom.test(x, n)$conf.int``); NaN when n = 0."""
    if trials <= 0:
        return math.nan, math.nan
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def proportion_counts(metric: str, counts: dict) -> tuple[int, int] | None:
    """(successes, trials) of a threshold metric from tp/fp/tn/fn; None for non-proportions."""
    tp, fp, tn, fn = (counts[k] for k in ("tp", "fp", "tn", "fn"))
    return {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
        "accuracy": (tp + tn, tp + tn + fp + fn),
    }.get(metric)


def undefined_metric_reason(metric: str, counts: dict) -> str:
    """Why a threshold metric is undefined (its denominator is 0), '' when it is defined."""
    pair = proportion_counts(metric, counts)
    if pair is None or pair[1] > 0:
        return ""
    return f"{metric} undefined: no {PROPORTIONS[metric]} in this set at the training threshold"


def bootstrap_reason(metric: str, estimate: float, low: float, high: float) -> str:
    """Why a percentile-bootstrap interval has no width, '' when it has."""
    if not (math.isfinite(low) and math.isfinite(high)) or low != high:
        return ""
    if metric in PROPORTIONS and estimate in (0.0, 1.0):
        return (
            f"every resample gives {metric} {estimate:g}: a percentile bootstrap of a proportion "
            "at 0 or 1 has no width; see the Clopper-Pearson interval"
        )
    if metric == "auc" and estimate in (0.0, 1.0):
        return f"every resample gives AUC {estimate:g}: the labels are completely separated"
    return f"every bootstrap resample gives the same {metric}"


def no_signature_mark(row) -> str:
    """What follows a model's name in a figure when its metrics.csv row has no signature."""
    return " \u2014 no signature" if isinstance(row.get("no_signature"), str) and row.get("no_signature") else ""


def legend_interval(row) -> str:
    """A figure legend's CI for a metrics.csv row: " (0.78–0.91)", or what stands instead."""
    if no_signature_mark(row):
        return no_signature_mark(row)
    reason = row.get("auc_ci_reason")
    if isinstance(reason, str) and reason:
        return " (no CI: " + ("too few cases)" if "needs at least" in reason else "zero width)")
    low, high = row.get("auc_ci_low"), row.get("auc_ci_high")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return ""
    return formatted(0.0, float(low), float(high))[4:]


def formatted(estimate: float, low: float, high: float, reason: str = "") -> str:
    """As papers print it, 0.85 (0.78–0.91); a reason replaces an interval without width."""
    if not np.isfinite(estimate):
        return f"NA ({reason})" if reason else "NA"
    if reason:
        return f"{estimate:.2f} ({reason})"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{estimate:.2f}"
    digits = 2
    # A narrow interval gets the digits that tell its bounds apart.
    while f"{low:.{digits}f}" == f"{high:.{digits}f}" and digits < 6:
        digits += 1
    return f"{estimate:.{digits}f} ({low:.{digits}f}\u2013{high:.{digits}f})"
