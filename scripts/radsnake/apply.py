"""Apply frozen model bundles (radsnake.bundle) to new patients.

Three jobs: ``check_bundles`` refuses a bundle that cannot be applied here before any
new case is extracted; ``collect_features`` builds the new cases' features table (from
the per-case extraction rows, or from the user's own table); ``apply_bundles`` builds X
with the training code's own design-matrix function, refuses missing features, and
writes predictions (and metrics when the new sheet has labels).
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn

import radsnake
from radsnake import intervals, signature, stats
from radsnake.aggregate import checked, read_case_files, write_table
from radsnake.bundle import BUNDLE_FORMAT, card_json, extraction_versions, library_versions
from radsnake.calibration import calibration_stats
from radsnake.cohort import load_cohort, read_feature_table
from radsnake.errors import InputError
from radsnake.harmonise import harmonisation_input
from radsnake.modelling import design_matrix, read_features_table
from radsnake.provenance import file_sha256
from radsnake.tables import write_csv

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["case_id", "model", "radscore", "probability", "no_signature"]
METRIC_COLUMNS = [
    "model", "n", "n_positive", "auc", "auc_ci_low", "auc_ci_high", "accuracy", "sensitivity",
    "specificity", "ppv", "npv", "threshold", "calibration_intercept", "calibration_slope", "brier",
    # As in results/evaluation/metrics.csv (radsnake.intervals, radsnake.signature).
    "auc_ci_reason", "no_signature",
]


def _major(version: str) -> str:
    return str(version).split(".")[0]


def read_bundle(bundle_joblib: str, bundle_json: str) -> dict:
    """The bundle's objects; refused when its card and its JSON disagree or its layout is unknown."""
    bundle = joblib.load(bundle_joblib)
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        found = bundle.get("format") if isinstance(bundle, dict) else type(bundle).__name__
        raise InputError(
            f"{bundle_joblib} is not a radsnake model bundle of format {BUNDLE_FORMAT} (found {found!r}). "
            f"Use a bundle written by radsnake {radsnake.__version__} (results/bundle/<model>/ of a study "
            "run with it), or the radsnake version that wrote this one."
        )
    if card_json(bundle["card"]) != Path(bundle_json).read_text():
        raise InputError(
            f"{bundle_json} does not describe {bundle_joblib} (edited, or copied from another bundle). "
            "Copy the bundle folder again as the study wrote it."
        )
    # The fitted pipelines travel as their files' bytes (radsnake.bundle says why).
    return {
        "format": bundle["format"],
        "card": bundle["card"],
        "model": joblib.load(io.BytesIO(bundle["model_file"])),
        # A survival bundle has none: its Pipeline holds its own Cox-LASSO (radsnake.survival_bundle).
        "radscore": joblib.load(io.BytesIO(bundle["radscore_file"])) if bundle["radscore_file"] else None,
    }


def bundle_problems(card: dict, bundle_json: str, params_path: str | None, from_table: bool) -> list[str]:
    """Why this bundle cannot be applied here; [] when it can."""
    problems = []
    versions = card["versions"]
    if _major(versions["radsnake"]) != _major(radsnake.__version__):
        problems.append(
            f"{bundle_json} was written by radsnake {versions['radsnake']}, this is radsnake "
            f"{radsnake.__version__} (another major version, whose features or models may differ). "
            f"Apply it with radsnake {versions['radsnake']}, or retrain the study with this version."
        )
    if versions["scikit-learn"] != sklearn.__version__:
        problems.append(
            f"{bundle_json} holds a model pickled by scikit-learn {versions['scikit-learn']}, this "
            f"environment has {sklearn.__version__}; scikit-learn only guarantees a pickled model in "
            f"the version that wrote it. Install scikit-learn=={versions['scikit-learn']} "
            "(envs/requirements.lock of that radsnake), or retrain the study here."
        )
    if card["config"].get("permuted_labels"):
        problems.append(
            f"{bundle_json} is the leakage negative control (trained on permuted labels), not a "
            "model. Set negative_control.permute_labels: false, rerun the study, and apply that bundle."
        )
    expected = card["pyradiomics_params"]
    if expected is None:
        if not from_table:
            problems.append(
                f"{bundle_json} was trained on features from the study's own feature table, not on "
                "PyRadiomics extraction: radsnake cannot make the same features from images. Give the "
                "new cases' features the same way: apply.features_table."
            )
    elif params_path is None:
        problems.append(
            f"{bundle_json} was trained on features PyRadiomics extracted with params SHA-256 "
            f"{expected['sha256']}, and no params file is named for the new features. Set "
            "pyradiomics.params to the params file that made your feature table."
        )
    else:
        actual = file_sha256(params_path)
        if actual != expected["sha256"]:
            problems.append(
                f"the PyRadiomics params file {params_path} (SHA-256 {actual}) differs from the one "
                f"the model in {bundle_json} was trained with ({expected['file']}, SHA-256 "
                f"{expected['sha256']}). Features made with other settings are other numbers, so "
                "the model would give wrong predictions. Restore the training params file (its exact "
                f"text is pyradiomics_params.text in {bundle_json}) and point pyradiomics.params at "
                "it, or retrain the study with the new params."
            )
    return problems


def check_bundles(
    bundles: dict[str, tuple[str, str]],
    params_path: str | None,
    from_table: bool,
    checks_json: str,
) -> None:
    """Refuse, before any new case is extracted, bundles that cannot be applied here.

    bundles: {model: (bundle.joblib, bundle.json)}. params_path: the PyRadiomics params
    file the new features are (or, for a table, were) made with. Writes what was
    checked to checks_json.
    """
    problems, record = [], {}
    for model, (bundle_joblib, bundle_json) in sorted(bundles.items()):
        card = read_bundle(bundle_joblib, bundle_json)["card"]
        problems += bundle_problems(card, bundle_json, params_path, from_table)
        record[model] = {
            "bundle_sha256": file_sha256(bundle_json),
            "params_sha256": (card["pyradiomics_params"] or {}).get("sha256"),
            "radsnake": card["versions"]["radsnake"],
        }
    if problems:
        raise InputError(
            f"apply refused ({len(problems)} problem(s)):\n  " + "\n  ".join(problems)
            + "\nNothing was extracted or predicted; the study's own results are untouched."
        )
    checks = {
        "bundles": record,
        "params_sha256": file_sha256(params_path) if params_path else None,
        "versions": library_versions(),
    }
    Path(checks_json).write_text(json.dumps(checks, sort_keys=True, indent=2) + "\n")


def collect_features(
    sheet_path: str,
    schema_path: str,
    output_csv: str,
    feature_files: list[str] | None = None,
    table_path: str | None = None,
    params_path: str | None = None,
) -> None:
    """The new cases' features table (features.csv layout; label empty when unknown):
    from per-case extraction rows (all made with params_path), or from the user's own table."""
    cohort = load_cohort(sheet_path, schema_path, {}, need_images=False, labels_required=False)
    if table_path:
        features = read_feature_table(table_path, cohort, "apply.features_table")
        write_table(features.astype(np.float64), cohort, {}, output_csv)
        return
    folder = os.path.dirname(feature_files[0]) + "/" if feature_files else ""
    case_files = checked(read_case_files(feature_files or []), params_path, what=folder)
    features, sources, excluded = case_files.features, case_files.sources, case_files.excluded
    for case_id, reason in sorted(excluded.items()):
        log.warning("case %s left out (no prediction): %s", case_id, reason)
    if len(features) == 0:
        raise InputError(
            f"no new case of {sheet_path} has features: every case failed input QC. Fix the inputs "
            "listed in the apply folder's qc/excluded.csv."
        )
    write_table(features, cohort, {}, output_csv, sources)


def missing_features(needed: list[str], available: list[str], model: str, bundle_json: str, source: str) -> str:
    missing = [name for name in needed if name not in set(available)]
    if not missing:
        return ""
    return (
        f"{source} lacks {len(missing)} of the {len(needed)} feature column(s) that model {model} "
        f"({bundle_json}) was trained on: {missing[:10]}{' ...' if len(missing) > 10 else ''}. "
        "Make the new features exactly as the training ones (same PyRadiomics version, params file, "
        "image types and modality names), or add the missing columns to your feature table."
    )


def _out_of_range(X: pd.DataFrame, card: dict, model: str) -> None:
    """Warn (log only) about new cases outside the training range of the classifier's features."""
    ranges = card["training"]["features"]
    used = [name for name in card["fit"]["classifier_features"] if name in ranges and name in X.columns]
    for case_id, row in X[used].iterrows():
        outside = [n for n in used if not ranges[n]["min"] <= row[n] <= ranges[n]["max"]]
        if outside:
            log.warning("case %s, model %s: outside the training range in %s", case_id, model, outside[:5])


def _compare_versions(new: dict, loaded: dict) -> None:
    for model, bundle in loaded.items():
        trained = bundle["card"]["extraction_versions"]
        for library in ("PyRadiomics", "SimpleITK"):
            if library in trained and new.get(library) != trained[library]:
                log.warning(
                    "model %s: the new features were extracted with %s %s, the training ones with %s; "
                    "features may differ between versions",
                    model, library, new.get(library), trained[library],
                )


def _metrics_row(name: str, y: np.ndarray, probability: np.ndarray, threshold: float, level: float) -> dict:
    row = {"model": name, "n": len(y), "n_positive": int(y.sum()), "threshold": threshold}
    if len(set(y)) == 2:
        auc = stats.auc_delong(y, probability, level=level)
        row.update(auc=auc["auc"], auc_ci_low=auc["ci_low"], auc_ci_high=auc["ci_high"],
                   auc_ci_reason=intervals.delong_reason(y, probability, auc["auc"], auc["ci_low"], auc["ci_high"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            calibration = calibration_stats(y, probability)
        row.update(
            calibration_intercept=calibration["intercept"],
            calibration_slope=calibration["slope"],
            brier=calibration["brier"],
        )
    else:
        log.warning("%s: the new cases have one class only; AUC and calibration undefined", name)
        row.update(auc=np.nan, auc_ci_low=np.nan, auc_ci_high=np.nan, brier=float(np.mean((probability - y) ** 2)),
                   auc_ci_reason=intervals.unsupported("AUC", y))
    counts = stats.threshold_metrics(y, probability, threshold)
    row.update({k: counts[k] for k in ("accuracy", "sensitivity", "specificity", "ppv", "npv")})
    return row


def apply_bundles(
    features_csv: str,
    bundles: dict[str, tuple[str, str]],
    ci_level: float,
    predictions_csv: str,
    metrics_csv: str | None = None,
    diagnostics_files: list[str] | None = None,
    source: str | None = None,
) -> None:
    """Predictions of every bundle for the new cases; metrics when they are labelled.

    X is built by radsnake.modelling.design_matrix, the function that builds the
    training design matrix, restricted to each bundle's input features in its order.
    diagnostics_files: the new cases' PyRadiomics diagnostics, to warn when another
    PyRadiomics or SimpleITK version made them. source: the file messages name (the
    user's own feature table, when the features came from one).
    """
    table = read_features_table(features_csv)
    # Any column counts (not only feature_columns): a reserved design column such as the centre may be an input.
    available = list(table.columns)
    labelled = table["label"].notna().all()
    frames, rows, problems, loaded = [], [], [], {}
    for model, (bundle_joblib, bundle_json) in sorted(bundles.items()):
        loaded[model] = read_bundle(bundle_joblib, bundle_json)
        problem = missing_features(
            loaded[model]["card"]["input_features"], available, model, bundle_json, source or features_csv
        )
        if problem:
            problems.append(problem)
    if problems:
        raise InputError("apply refused:\n  " + "\n  ".join(problems))
    if diagnostics_files:
        _compare_versions(extraction_versions(diagnostics_files), loaded)

    radscore_rows, messages = {}, {}
    for model, bundle in loaded.items():
        card = bundle["card"]
        X = design_matrix(table, [], features_csv, columns=card["input_features"])
        _out_of_range(X, card, model)
        X = harmonisation_input(X, table, card.get("harmonisation"))
        probability = bundle["model"].predict_proba(X)[:, 1]
        selection = bundle["radscore"]
        lasso_input = selection[:-1].transform(X) if len(selection) > 1 else X
        radscore = selection[-1].decision_function(lasso_input)
        # A bundle whose selection kept no feature says so in every row (radsnake.signature).
        messages[model] = signature.message(f"model {model}'s selection", int(card["training"]["n"]),
                                            signature.empty_steps(bundle["model"]))
        messages["radscore"] = signature.message("the rad-score's selection", int(card["training"]["n"]),
                                                 signature.empty_steps(selection))
        frame = pd.DataFrame({"case_id": X.index, "model": model, "radscore": radscore, "probability": probability,
                              "no_signature": messages[model]})
        if labelled:
            frame["label"] = table["label"].to_numpy(dtype=int)
            rows.append(_metrics_row(model, frame["label"].to_numpy(), probability, card["thresholds"]["model"], ci_level))
            radscore_rows[model] = (frame["label"].to_numpy(), 1.0 / (1.0 + np.exp(-radscore)), card["thresholds"]["radscore"])
        frames.append(frame)
        log.info("model %s: %d new case(s) predicted", model, len(frame))
    predictions = pd.concat(frames, ignore_index=True)
    write_csv(predictions, predictions_csv)
    if metrics_csv is None:
        return
    if not labelled:
        raise InputError(f"{features_csv}: the new cases have no labels, so no metrics can be computed.")
    # The rad-score is the same selection in every bundle of one study: one row.
    y, probability, threshold = next(iter(radscore_rows.values()))
    rows.append(_metrics_row("radscore", y, probability, threshold, ci_level))
    metrics = signature.marked(pd.DataFrame(rows, columns=METRIC_COLUMNS[:-1]), messages)
    # Not presented as an interval: the reason says no signature first (as metrics.csv does).
    metrics["auc_ci_reason"] = [
        "; ".join(part for part in (signature.NO_SIGNATURE if mark else "", reason if isinstance(reason, str) else "") if part)
        for mark, reason in zip(metrics["no_signature"], metrics["auc_ci_reason"])
    ]
    log.info("metrics:\n%s", metrics.to_string())
    write_csv(metrics, metrics_csv)
