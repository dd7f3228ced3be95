"""The frozen model bundle: everything needed to apply a trained model to new patients.

One bundle per model, written by the main run (results/bundle/{model}/):

- ``bundle.joblib``: ``{"format", "model_file", "radscore_file", "card"}``: the bytes of
  the fitted model Pipeline's file (scaling, selection, classifier: model.joblib) and of
  the fitted rad-score pipeline's (selection steps + LASSO), and the card below. The
  files are kept as written, not loaded and pickled again: re-pickling a loaded tree
  copies its node array with uninitialised padding bytes, so the bundle would differ
  from run to run (found by tests/test_resume.py).
- ``bundle.json``: the card, for people and for the checks radsnake.ml.apply makes before
  any new case is extracted: the input feature list, the PyRadiomics params file's
  SHA-256 and settings, the training-set summary, the operating thresholds, library
  versions and the config that produced the model. Deterministic: sorted keys, no
  dates, no absolute paths that the config did not contain.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import scipy
import sklearn
import yaml

import radsnake
from radsnake.core.hashing import file_sha256
from radsnake.core.tables import partial_path
from radsnake.io.provenance import git_state

log = logging.getLogger(__name__)

# Bumped when the bundle's layout changes; radsnake.ml.apply refuses layouts it does not know.
BUNDLE_FORMAT = 1
_VERSION_COLUMN = re.compile(r"^diagnostics_(?:.+_)?Versions_(?P<library>\w+)$")


def params_record(params_path: str) -> dict:
    """The params file as the bundle keeps it: hash, parsed settings and exact text (to restore it)."""
    text = Path(params_path).read_text()
    return {
        "file": params_path,
        "sha256": file_sha256(params_path),
        "settings": yaml.safe_load(text),
        "text": text,
    }


def library_versions() -> dict:
    """Versions of the environment that fitted (or applies) the model."""
    return {
        "joblib": joblib.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
        "radsnake": radsnake.__version__,
        "scikit-learn": sklearn.__version__,
        "scipy": scipy.__version__,
    }


def radsnake_git() -> dict:
    """The commit of the radsnake checkout that fitted the model, and whether it had local
    changes (results/provenance.json has the details); null when it is not a git checkout."""
    state = git_state(str(Path(radsnake.__file__).resolve().parents[2]))
    return {"commit": state["git_commit"], "dirty": state["git_dirty"]}


def extraction_versions(diagnostics_files: list[str], cases=None) -> dict:
    """PyRadiomics, SimpleITK, numpy, PyWavelets and Python versions that extracted the
    features, from PyRadiomics' own diagnostics (the extraction environment, which need
    not be this one). ``cases``: read only these cases' files. Several versions of one
    library (a study extracted over an upgrade) are listed sorted, joined by ' | '."""
    found: dict[str, set[str]] = {}
    for path in diagnostics_files:
        if cases is not None and Path(path).name[: -len(".csv")] not in cases:
            continue
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2:
            continue
        for column, value in zip(rows[0], rows[1]):
            match = _VERSION_COLUMN.match(column)
            if match:
                found.setdefault(match["library"], set()).add(value)
    return {library: " | ".join(sorted(values)) for library, values in sorted(found.items())}


def diagnostics_files(folder: str) -> list[str]:
    """The per-case diagnostics files of a study (none for a feature table); the bundle
    reads the training cases' only."""
    import glob

    return sorted(glob.glob(os.path.join(folder, "*.csv"))) if folder else []


def training_summary(design, y_true: np.ndarray, centers: pd.Series) -> dict:
    """n, prevalence, centres and per-feature mean/sd/min/max of the training cases, so
    that new cases can be compared with what the model has seen."""
    train = design.features[design.train]
    numeric = train.select_dtypes(include="number")
    stats = {
        name: {
            "max": float(column.max()),
            "mean": float(column.mean()),
            "min": float(column.min()),
            "sd": float(column.std(ddof=1)) if len(column) > 1 else 0.0,
        }
        for name, column in numeric.items()
    }
    train_centers = centers.loc[train.index].fillna("").astype(str)
    return {
        "n": int(len(train)),
        "n_positive": int(y_true.sum()),
        "prevalence": float(y_true.mean()),
        "centers": {str(k): int(v) for k, v in sorted(train_centers.value_counts().items())},
        "features": stats,
    }


def card_json(card: dict) -> str:
    return json.dumps(card, sort_keys=True, indent=2) + "\n"


def provenance_fields(params_path: str | None, diagnostics_files: list[str], train_ids, settings: dict) -> dict:
    """The card's record of what made the model, alike for binary and survival bundles:
    the features' source and params file, library versions, the code's git state, the
    training cases' extraction versions and the study config."""
    return {
        "features_source": "pyradiomics" if params_path else "table",
        "pyradiomics_params": params_record(params_path) if params_path else None,
        "versions": library_versions(),
        "radsnake_git": radsnake_git(),
        "extraction_versions": extraction_versions(diagnostics_files, train_ids) if params_path else {},
        "config": settings,
    }


def save_bundle(card: dict, model_joblib: str, radscore_joblib: str | None, bundle_joblib: str,
                bundle_json: str) -> None:
    """bundle.joblib (the fitted pipelines' files' bytes and the card) and bundle.json.
    Written atomically like the tables: a killed job leaves no bundle that looks finished."""
    text = card_json(card)
    for path in (bundle_joblib, bundle_json):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = partial_path(bundle_joblib)
    joblib.dump(
        {
            "format": BUNDLE_FORMAT,
            "model_file": Path(model_joblib).read_bytes(),
            "radscore_file": Path(radscore_joblib).read_bytes() if radscore_joblib else None,
            "card": json.loads(text),
        },
        partial,
    )
    os.replace(partial, bundle_joblib)
    Path(bundle_json).write_text(text)
