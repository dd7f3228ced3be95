"""Job of rules/evaluation.smk: metrics, intervals and DeLong tests of every model on every set."""

from __future__ import annotations

import logging

import pandas as pd

from radsnake.core.tables import write_csv
from radsnake.stats.evaluation import (
    METRIC_COLUMNS,
    announce_small_sets,
    model_metrics,
    pairwise_delong,
    read_predictions,
)
from radsnake.stats.signature import marked, read_message

log = logging.getLogger(__name__)


def evaluate(
    prediction_files: dict[str, str],
    radscore_csv: str,
    threshold_method: str,
    target: float,
    ci_level: float,
    metrics_csv: str,
    delong_csv: str,
    sets: list[str] | None = None,
    signature_files: dict[str, str] | None = None,
) -> None:
    """signature_files: model (and "radscore") -> its model.json (signature.json), whose
    no-signature message marks its rows."""
    predictions = read_predictions(prediction_files, radscore_csv, sets)
    announce_small_sets(predictions["radscore"])
    messages = {name: read_message(path) for name, path in (signature_files or {}).items()}
    rows = []
    for name, frame in predictions.items():
        rows += model_metrics(name, frame, threshold_method, target, ci_level, messages.get(name, ""))
    metrics = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    log.info("metrics:\n%s", metrics.to_string())
    write_csv(metrics, metrics_csv)
    write_csv(marked(pairwise_delong(predictions), messages, ("model_a", "model_b")), delong_csv)
