"""Jobs of rules/selection.smk and rules/models.smk: the LASSO selection (rad-score) and the
fitted models."""

from __future__ import annotations

import logging
import tempfile
from contextlib import nullcontext

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from radsnake.cohort.harmonise import harmonisation_steps, reserved_columns
from radsnake.core.runtime import tell_console
from radsnake.core.tables import write_csv
from radsnake.ml.fit_checks import check_job_size
from radsnake.ml.fitcache import FitCache
from radsnake.ml.modelling import radscore_selector, report_ranking
from radsnake.ml.models import feature_importance, save_model, tune_model
from radsnake.ml.selection import build_selection
from radsnake.ml.settings import ModelSearch, TrainingData
from radsnake.stats import signature

log = logging.getLogger(__name__)


def select_features(
    training: TrainingData,
    steps: list[dict],
    selected_csv: str,
    coefficients_csv: str,
    path_csv: str,
    cv_csv: str,
    radscore_csv: str,
    radscore_joblib: str | None = None,
    signature_json: str = "",
) -> None:
    design, X, y_train = training.load()
    permute, seed, harmonisation = training.permute, training.seed, training.harmonisation
    check_job_size(y_train, "select_features", steps, "selection.steps")
    pipeline = Pipeline(harmonisation_steps(harmonisation) + build_selection(steps, random_state=seed))
    pipeline.set_output(transform="pandas")
    pipeline.fit(X[design.train], y_train)
    upstream, lasso = radscore_selector(pipeline)
    selected = list(lasso.get_feature_names_out())
    log.info("%d of %d features selected: %s", len(selected), design.features.shape[1], selected)
    where = "the negative control's selection" if permute else "selection 'main'"
    found = signature.status(where, int(design.train.sum()), pipeline)
    if found["message"]:
        # Expected on the control's labels that carry no signal: logged, not announced.
        (log.warning if permute else tell_console)(found["message"])
    if signature_json:
        signature.write_status(found, signature_json)

    lasso_input = upstream.transform(X) if len(upstream) else X
    radscore = lasso.decision_function(lasso_input)
    coefficients = pd.DataFrame({"feature": selected, "coefficient": lasso.coef_[lasso.support_]})
    write_csv(coefficients, selected_csv)
    write_csv(
        pd.concat(
            [pd.DataFrame({"feature": ["(intercept)"], "coefficient": [lasso.intercept_]}), coefficients],
            ignore_index=True,
        ),
        coefficients_csv,
    )
    write_csv(lasso.path_frame(), path_csv)
    write_csv(lasso.cv_frame(), cv_csv)
    write_csv(
        pd.DataFrame(
            {
                "case_id": design.features.index,
                "set": design.sets,
                "label": design.labels,
                "radscore": radscore,
                # The selection's no-signature message on every row ('' when it kept features).
                "no_signature": found["message"],
            }
        ),
        radscore_csv,
    )
    if radscore_joblib:
        # Kept for the frozen model bundle (radsnake.ml.bundle): new patients get their
        # rad-score from exactly this fitted selection.
        joblib.dump(pipeline, radscore_joblib)


def fit_model(
    training: TrainingData,
    search: ModelSearch,
    threads: int,
    predictions_csv: str,
    model_joblib: str,
    model_json: str,
    cv_results_csv: str,
    importance_csv: str,
) -> None:
    design, X, y_train = training.load()
    permute, seed, harmonisation, icc_csv = training.permute, training.seed, training.harmonisation, training.icc_csv
    model, steps, param_grid, cv_folds = search.model, search.steps, search.param_grid, search.cv_folds
    imbalance, selection_setting = search.imbalance, search.selection_setting
    check_job_size(y_train, f"fit_model {model}", steps, selection_setting, model, cv_folds)
    # One process: fitted selection steps shared in memory (FitCache). Several threads
    # (loky processes) share them through a joblib.Memory folder instead.
    with (nullcontext() if threads <= 1 else tempfile.TemporaryDirectory(prefix="radsnake-cache-")) as folder:
        best, cv_results = tune_model(
            X[design.train],
            y_train,
            model=model,
            selection_steps=steps,
            param_grid=param_grid,
            cv_folds=cv_folds,
            random_state=seed,
            n_jobs=threads,
            memory=folder or FitCache(),
            harmonisation=harmonisation,
            imbalance=imbalance,
        )
        # The cache dies here; the saved model must not point into it.
        best.memory = None
    probability = best.predict_proba(X)[:, 1]
    report_ranking(best[-1], model_joblib, permute, y_train, probability[design.train])
    write_csv(
        pd.DataFrame(
            {
                "case_id": design.features.index,
                "set": design.sets,
                "label": design.labels,
                "probability": probability,
            }
        ),
        predictions_csv,
    )
    write_csv(cv_results, cv_results_csv)
    best_row = cv_results.sort_values("rank", kind="stable").iloc[0]
    write_csv(feature_importance(best, list(X.columns)), importance_csv)
    save_model(
        best,
        model_joblib,
        model_json,
        extra={
            "model": model,
            "best_params": best_row["params"],
            "cv_auc": float(best_row["mean_test_score"]),
            "input_features": list(design.features.columns),
            "selection_steps": steps,
            "cv_folds": cv_folds,
            "imbalance": imbalance,
            "seed": seed,
            "permuted_labels": permute,
            "n_train": int(design.train.sum()),
            # The model's input columns beyond the features: reserved name -> features.csv column.
            "harmonisation": harmonisation if reserved_columns(harmonisation) else None,
            "reserved_columns": reserved_columns(harmonisation),
            "icc_filter": bool(icc_csv),
            "icc_removed_features": design.removed_by_icc,
            # Set when a selection step kept no feature (radsnake.stats.signature): not a model to report.
            "no_signature": signature.message(
                "this model's selection", int(design.train.sum()), signature.empty_steps(best)
            ) or None,
        },
    )
