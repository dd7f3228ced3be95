"""Apply frozen model bundles (radsnake.ml.bundle) to new patients.

Three jobs: ``check_bundles`` refuses a bundle that cannot be applied here before any
new case is extracted; ``collect_features`` builds the new cases' features table (from
the per-case extraction rows, or from the user's own table); ``apply_bundles`` builds X
with the training code's own design-matrix function, refuses missing features, and
writes predictions (and metrics when the new sheet has labels).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import joblib
import sklearn

import radsnake
from radsnake.ml.bundle import BUNDLE_FORMAT, card_json
from radsnake.core.errors import InputError
from radsnake.core.hashing import file_sha256

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["case_id", "model", "radscore", "probability", "no_signature"]
METRIC_COLUMNS = [
    "model", "n", "n_positive", "auc", "auc_ci_low", "auc_ci_high", "accuracy", "sensitivity",
    "specificity", "ppv", "npv", "threshold", "calibration_intercept", "calibration_slope", "brier",
    # As in results/evaluation/metrics.csv (radsnake.stats.intervals, radsnake.stats.signature).
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
    # The fitted pipelines travel as their files' bytes (radsnake.ml.bundle says why).
    return {
        "format": bundle["format"],
        "card": bundle["card"],
        "model": joblib.load(io.BytesIO(bundle["model_file"])),
        # A survival bundle has none: its Pipeline holds its own Cox-LASSO (radsnake.jobs.survival_bundle).
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
