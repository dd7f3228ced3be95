"""Jobs of rules/validation.smk: internal validation of each model, its summary and figures."""

from __future__ import annotations

import logging

import pandas as pd

from radsnake.core.tables import write_csv
from radsnake.figures.validation_figures import learning_curves_figure, validation_auc_figure
from radsnake.ml.fit_checks import check_job_size
from radsnake.ml.models import build_search
from radsnake.ml.settings import ModelSearch, TrainingData
from radsnake.ml.validation import SUMMARY_COLUMNS, Settings, per_repeat, validate

log = logging.getLogger(__name__)


def validate_model(
    training: TrainingData,
    search: ModelSearch,
    settings: dict,
    threads: int,
    repeated_cv_csv: str,
    repeats_csv: str,
    nested_cv_csv: str,
    bootstrap_csv: str,
    learning_curve_csv: str,
    summary_csv: str,
) -> None:
    """The validate_model rule: the training cases and labels fit_model uses, the same search."""
    design, X, y_train = training.load()
    seed, harmonisation = training.seed, training.harmonisation
    model, steps, param_grid, cv_folds, imbalance = (search.model, search.steps, search.param_grid, search.cv_folds,
                                                     search.imbalance)
    chosen = Settings.from_config(settings)
    check_job_size(y_train, f"validate_model {model}", steps, "selection.steps", model, cv_folds, settings)
    search = build_search(
        model, steps, param_grid, cv_folds, random_state=seed, n_jobs=1, imbalance=imbalance,
        harmonisation=harmonisation,
    )
    result = validate(search, X[design.train], y_train, chosen, random_state=seed, n_jobs=threads)
    summary = result.summary(model, y_train, chosen)
    row = summary.iloc[0]
    log.info(
        "%s: apparent AUC %.3f, optimism %.3f, corrected %.3f, repeated CV %.3f (SD %.3f), nested CV %.3f",
        model, row["apparent_auc"], row["optimism"], row["corrected_auc"], row["cv_auc_mean"],
        row["cv_auc_sd"], row["nested_auc"],
    )
    write_csv(result.repeated_cv, repeated_cv_csv)
    write_csv(per_repeat(result.repeated_cv), repeats_csv)
    write_csv(result.nested_cv, nested_cv_csv)
    write_csv(result.bootstrap, bootstrap_csv)
    write_csv(result.learning_curve, learning_curve_csv)
    write_csv(summary, summary_csv)


def summarise_validation(summary_files: dict[str, str], summary_csv: str) -> None:
    """One row per model, in the config's model order."""
    frames = [pd.read_csv(path) for path in summary_files.values()]
    write_csv(pd.concat(frames, ignore_index=True)[SUMMARY_COLUMNS], summary_csv)


def plot_validation_auc(summary_csv, png, pdf) -> None:
    validation_auc_figure(pd.read_csv(summary_csv), png, pdf)


def plot_learning_curves(curve_files: dict[str, str], png, pdf) -> None:
    learning_curves_figure({name: pd.read_csv(path) for name, path in curve_files.items()}, png, pdf)
