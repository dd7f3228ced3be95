"""Job of rules/bundle.smk: a frozen model bundle with what applying it to new patients needs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from radsnake.core.errors import InputError
from radsnake.ml.bundle import BUNDLE_FORMAT, provenance_fields, save_bundle, training_summary
from radsnake.ml.modelling import load_design
from radsnake.stats.evaluation import training_threshold

log = logging.getLogger(__name__)


def _thresholds(predictions_csv: str, radscore_csv: str, method: str, target: float) -> dict:
    """The operating thresholds the evaluation fixed on the training set (same function)."""
    predictions = pd.read_csv(predictions_csv, dtype={"case_id": str})
    radscore = pd.read_csv(radscore_csv, dtype={"case_id": str})
    radscore["probability"] = 1.0 / (1.0 + np.exp(-radscore["radscore"]))
    return {
        "method": method,
        "target": target if method != "youden" else None,
        "model": float(training_threshold(predictions[predictions["set"] == "train"], method, target)),
        "radscore": float(training_threshold(radscore[radscore["set"] == "train"], method, target)),
    }


def write_bundle(
    model: str,
    model_joblib: str,
    model_json: str,
    radscore_joblib: str,
    features_csv: str,
    split_csv: str,
    predictions_csv: str,
    radscore_csv: str,
    clinical: list[str],
    params_path: str | None,
    diagnostics_files: list[str],
    settings: dict,
    bundle_joblib: str,
    bundle_json: str,
    icc_csv: str = "",
) -> None:
    """Freeze one fitted model with what applying it needs and what it was made from.

    params_path: the PyRadiomics params file that made the features, or None when they
    came from the user's own table (config features_table). settings: the config that
    produced the model (seed, selection, model grid, threshold rule, ...).
    """
    # The ICC filter (robustness) decides the model's input features, as in fit_model.
    design = load_design(features_csv, split_csv, clinical, icc_csv=icc_csv)
    table = pd.read_csv(features_csv, dtype={"case_id": str, "center": str}, usecols=["case_id", "center"])
    centers = table.set_index("case_id")["center"]
    y_true = design.labels[design.train]
    radscore_pipeline = joblib.load(radscore_joblib)
    model_card = json.loads(Path(model_json).read_text())
    expected = list(design.features.columns)
    if list(model_card["extra"]["input_features"]) != expected:
        raise InputError(
            f"{model_json} was fitted on other features than {features_csv} holds now; rerun fit_model "
            "(snakemake --forcerun fit_model)."
        )
    train_ids = set(design.features.index[design.train])
    card = {
        "format": BUNDLE_FORMAT,
        "model": model,
        "input_features": expected,
        "training": training_summary(design, y_true, centers),
        "thresholds": _thresholds(predictions_csv, radscore_csv, settings["threshold"], settings["target"]),
        "fit": {
            "best_params": model_card["extra"]["best_params"],
            "classifier": model_card["classifier"],
            "cv_auc": model_card["extra"]["cv_auc"],
            "steps": model_card["steps"],
            "classifier_features": model_card["selected_features"],
            "radscore_features": list(radscore_pipeline[-1].get_feature_names_out()),
        },
        # ComBat in the pipelines needs each case's centre (and covariates) as reserved columns.
        "harmonisation": model_card["extra"].get("harmonisation"),
        **provenance_fields(params_path, diagnostics_files, train_ids, settings),
    }
    save_bundle(card, model_joblib, radscore_joblib, bundle_joblib, bundle_json)
    log.info(
        "bundle of %s: %d input features, %d training cases, params %s",
        model,
        len(expected),
        card["training"]["n"],
        card["pyradiomics_params"]["sha256"] if params_path else "(own feature table)",
    )
