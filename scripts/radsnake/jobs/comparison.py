"""Jobs of rules/comparison.smk and rules/negative_control.smk: the selection comparison and
the negative control, their tables and figures."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import pandas as pd

from radsnake.core.tables import write_csv
from radsnake.figures.comparison_figures import model_comparison_figure, negative_control_figure
from radsnake.stats.comparison import Fit, announce_empty_alternatives, model_comparison_table, negative_control_table
from radsnake.stats.evaluation import read_predictions
from radsnake.stats.signature import read_message

log = logging.getLogger(__name__)


def evaluate_negative_control(
    models: list[str],
    real_predictions: list[str],
    real_radscore: str,
    control_predictions: list[str],
    control_radscore: str,
    ci_level: float,
    table_csv: str,
    sets: list[str] | None = None,
    signature_files: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """sets: the study's evaluation sets (radsnake.io.external.evaluation_sets), pooled included.
    signature_files: (model or "radscore", branch) -> its model.json or signature.json."""
    real = read_predictions(dict(zip(models, real_predictions)), real_radscore)
    control = read_predictions(dict(zip(models, control_predictions)), control_radscore)
    messages = {key: read_message(path) for key, path in (signature_files or {}).items()}
    table = negative_control_table(real, control, ci_level, sets, messages)
    log.info("negative control:\n%s", table.to_string())
    leaked = table[(table["branch"] == "permuted") & ~table["ci_contains_chance"] & table["auc"].notna()]
    if not leaked.empty:
        log.warning(
            "permuted-label AUC CI excludes 0.5 for %s: by chance (1 in 20 per row) or leakage; look at the pipeline",
            ", ".join(f"{r.model} on {r.set}" for r in leaked.itertuples()),
        )
    write_csv(table, table_csv)


def compare_models(
    models: list[str],
    selections: list[str],
    predictions: list[str],
    cv_results: list[str],
    model_info: list[str],
    ci_level: float,
    table_csv: str,
    sets: list[str] | None = None,
) -> None:
    """Inputs are lists in the order of ``selections`` x ``models`` (selection-major);
    sets: the study's evaluation sets, pooled included."""
    combos = [(selection, model) for selection in selections for model in models]
    if not len(combos) == len(predictions) == len(cv_results) == len(model_info):
        raise ValueError("compare_models: one predictions, cv_results and model.json file per model x selection")
    fits = []
    for (selection, model), pred, cv, info in zip(combos, predictions, cv_results, model_info):
        with open(info) as handle:
            card = json.load(handle)
        fits.append(Fit(model, selection, pd.read_csv(pred, dtype={"case_id": str}), pd.read_csv(cv), card))
    # Grouped by model, so each classifier's selections sit together.
    fits.sort(key=lambda fit: (models.index(fit.model), selections.index(fit.selection)))
    announce_empty_alternatives(fits)
    table = model_comparison_table(fits, ci_level, sets)
    log.info("model comparison:\n%s", table.to_string())
    write_csv(table, table_csv)


def plot_negative_control(table_csv: str, ci_level: float, png: str, pdf: str) -> None:

    negative_control_figure(pd.read_csv(table_csv), png, pdf, level=ci_level)


def plot_model_comparison(table_csv: str, ci_level: float, png: str, pdf: str) -> None:

    table = pd.read_csv(table_csv, dtype={"model": str, "selection": str, "best_params": str})
    model_comparison_figure(table, png, pdf, level=ci_level)
