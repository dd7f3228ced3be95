"""Jobs of rules/validation.smk: internal validation of each model in chunks
(radsnake.ml.validation_runs), its tables, summary and figures."""

from __future__ import annotations

import logging
import os

import pandas as pd

from radsnake.core.errors import InputError
from radsnake.core.tables import write_csv
from radsnake.figures.validation_figures import learning_curves_figure, validation_auc_figure
from radsnake.core.runtime import tell_console
from radsnake.ml.fit_checks import check_job_size, least_per_label
from radsnake.ml.settings import TrainingData
from radsnake.ml.validation import SUMMARY_COLUMNS, Settings, plan, skipped_points, unique_tasks, write_validation
from radsnake.ml.validation_runs import chunk_content, chunk_tasks, model_searches, read_chunks, run_chunk, write_json

log = logging.getLogger(__name__)


def validate_chunk(
    training: TrainingData,
    models: list[str],
    steps: list[dict],
    param_grids: dict,
    cv_folds: int,
    imbalance: str,
    settings: dict,
    chunk: int,
    n_chunks: int,
    chunk_json: str,
    timings_csv: str,
) -> None:
    """The validate_chunk rule: this chunk's fits of every model, on fit_model's training data."""
    design, X, y = training.load()
    for model in models:
        check_job_size(y, f"validate_model {model}", steps, "selection.steps", model, cv_folds, settings)
    designs = plan(y, Settings.from_config(settings), training.seed)
    distinct = unique_tasks(designs.tasks)
    mine = chunk_tasks(distinct, chunk, n_chunks)
    what = f"internal validation chunk {chunk} of {n_chunks}"
    log.info("%s: %d of the %d distinct fits (%d requested), each for %d model(s): %s", what, len(mine),
             len(distinct), len(designs.tasks), len(models), ", ".join(models))
    searches = model_searches(models, steps, param_grids, cv_folds, imbalance, training.seed, training.harmonisation)
    least = {model: least_per_label(steps, model, cv_folds) for model in models}
    results, timings = run_chunk(searches, X[design.train], y, mine, what, least)
    write_csv(timings, timings_csv)
    write_json(chunk_content(results), chunk_json)


def validate_model(
    training: TrainingData,
    model: str,
    settings: dict,
    chunk_files: list[str],
    repeated_cv_csv: str,
    repeats_csv: str,
    nested_cv_csv: str,
    bootstrap_csv: str,
    learning_curve_csv: str,
    summary_csv: str,
    model_json: str = "",
) -> None:
    """The validate_model rule: one model's tables from the results of every chunk.

    model_json: the model's model.json, whose no-signature message marks the tables."""
    _, _, y = training.load()
    chosen = Settings.from_config(settings)
    designs = plan(y, chosen, training.seed)
    found = read_chunks(chunk_files, model)
    missing = [task.what for task in designs.tasks if task.key() not in found]
    if missing:
        raise InputError(
            f"the validation chunks ({os.path.dirname(chunk_files[0])}) lack {len(missing)} fit(s) of model "
            f"{model}, e.g. {missing[0]}; rerun the validate_chunk jobs (snakemake --forcerun validate_chunk)."
        )
    result = designs.assemble([found[task.key()] for task in designs.tasks])
    write_validation(result, model, y, chosen, repeated_cv_csv, repeats_csv, nested_cv_csv, bootstrap_csv,
                     learning_curve_csv, summary_csv, model_json=model_json)
    skipped = skipped_points(result.learning_curve)
    if skipped:
        tell_console(f"internal validation of {model}: {skipped}")


def summarise_validation(summary_files: dict[str, str], summary_csv: str) -> None:
    """One row per model, in the config's model order."""
    frames = [pd.read_csv(path).reindex(columns=SUMMARY_COLUMNS) for path in summary_files.values()]
    write_csv(pd.concat(frames, ignore_index=True)[SUMMARY_COLUMNS], summary_csv)


def plot_validation_auc(summary_csv, png, pdf) -> None:
    validation_auc_figure(pd.read_csv(summary_csv), png, pdf)


def plot_learning_curves(curve_files: dict[str, str], png, pdf) -> None:
    learning_curves_figure({name: pd.read_csv(path) for name, path in curve_files.items()}, png, pdf)
