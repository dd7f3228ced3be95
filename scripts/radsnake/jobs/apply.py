"""Jobs of rules/apply.smk: checking bundles, collecting new patients' features, applying."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from radsnake.cohort.harmonise import harmonisation_input
from radsnake.core.errors import InputError
from radsnake.core.hashing import file_sha256
from radsnake.core.tables import write_csv
from radsnake.imaging.aggregate import checked, read_case_files, write_table
from radsnake.io.cohort_sheet import load_cohort, read_feature_table
from radsnake.ml.apply import METRIC_COLUMNS, bundle_problems, missing_features, read_bundle
from radsnake.ml.bundle import extraction_versions, library_versions
from radsnake.ml.modelling import design_matrix, read_features_table
from radsnake.stats import discrimination as stats
from radsnake.stats import intervals, signature
from radsnake.stats.calibration import calibration_stats

log = logging.getLogger(__name__)


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

    X is built by radsnake.ml.modelling.design_matrix, the function that builds the
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
        # A bundle whose selection kept no feature says so in every row (radsnake.stats.signature).
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
