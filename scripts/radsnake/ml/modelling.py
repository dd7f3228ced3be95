"""Selection and model stages: everything is fitted on training cases only."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from radsnake.io.cohort_sheet import PROVENANCE_PREFIX
from radsnake.core.errors import InputError
from radsnake.cohort.harmonise import harmonisation_input
from radsnake.core.runtime import tell_console
from radsnake.ml.selection import LassoSelector

log = logging.getLogger(__name__)

META_COLUMNS = ("case_id", "label", "center")


@dataclass
class Design:
    """Radiomics features with each case's true label and set, in features.csv order."""

    features: pd.DataFrame
    labels: np.ndarray
    sets: np.ndarray
    # Features left out by the ICC filter (radsnake.imaging.robustness), in features.csv order.
    removed_by_icc: list[str] = field(default_factory=list)

    @property
    def train(self) -> np.ndarray:
        return self.sets == "train"


def feature_columns(columns, clinical: list[str]) -> list[str]:
    """The columns of a features table that are model inputs, in table order."""
    # source_* columns record where a case's data came from (file names, hashes): not features.
    return [c for c in columns if c not in (*META_COLUMNS, *clinical) and not c.startswith(PROVENANCE_PREFIX)]


def design_matrix(table: pd.DataFrame, clinical: list[str], source: str, columns: list[str] | None = None) -> pd.DataFrame:
    """X of a features table (features.csv layout), indexed by case_id.

    Training and applying a frozen model (radsnake.ml.apply) both build X here, so that
    whatever the design matrix gains flows into both. ``columns``: take exactly these
    (a frozen model's inputs, in its order); the caller checks they exist.
    """
    features = table.set_index("case_id")[columns if columns is not None else feature_columns(table.columns, clinical)]
    non_finite = features.columns[~np.isfinite(features.to_numpy()).all(axis=0)].tolist()
    if non_finite:
        raise InputError(
            f"{source}: feature(s) {non_finite[:10]} have missing or infinite values. "
            "Remove those columns or the cases lacking them."
        )
    # A copy, consolidated into one block per dtype: the column subset above holds one block
    # per column, and every CV split's row take then costs ~75x more (pandas take per block).
    return features.copy()


def read_features_table(features_csv: str) -> pd.DataFrame:
    return pd.read_csv(features_csv, dtype={"case_id": str, "center": str})


def load_design(features_csv: str, split_csv: str, clinical: list[str], icc_csv: str = "") -> Design:
    """The design; with ``icc_csv`` (results/robustness/icc.csv), without the features
    the ICC filter does not keep, before anything is fitted."""
    table = read_features_table(features_csv)
    split = pd.read_csv(split_csv, dtype=str).set_index("case_id")["set"]
    missing = sorted(set(table["case_id"]) - set(split.index))
    if missing:
        raise InputError(f"{split_csv} has no set for case(s) {missing[:10]}; rerun the split rule.")
    columns = feature_columns(table.columns, clinical)
    removed = []
    if icc_csv:
        from radsnake.imaging.robustness import removed_features

        removed = removed_features(icc_csv, columns)
        log.info("ICC filter: %d of %d features removed before selection", len(removed), len(columns))
        columns = [c for c in columns if c not in set(removed)]
        if not columns:
            raise InputError(
                f"the ICC filter ({icc_csv}) removed every feature. Lower robustness.icc_threshold, "
                "or look at results/robustness/cases.csv for what the ICC was computed on."
            )
    features = design_matrix(table, clinical, features_csv, columns=columns)
    return Design(features, table["label"].to_numpy(dtype=int), split.loc[features.index].to_numpy(), removed)


def control_positives(labels: np.ndarray) -> tuple[int, int]:
    """How many control positives to draw among the true 0s and the true 1s: each class's
    share of the positives (n_class * prevalence), rounded so that they sum to exactly the
    training set's positives (largest remainder). Rounding each share on its own lost a
    positive (5 + 5 cases: round(2.5) + round(2.5) = 4), and with it the control's smaller
    label could fall below the CV folds the training set was checked for."""
    counts = np.array([np.sum(labels == 0), np.sum(labels == 1)])
    positives = int(counts[1])
    quotas = counts * positives / max(int(counts.sum()), 1)
    sizes = np.floor(quotas).astype(int)
    # Ties in the remainder go to the true 1s, whatever the order of the classes above.
    for index in sorted((0, 1), key=lambda i: (-(quotas[i] - sizes[i]), -i))[: positives - int(sizes.sum())]:
        sizes[index] += 1
    return int(sizes[0]), int(sizes[1])


def training_labels(design: Design, permute: bool, seed: int) -> np.ndarray:
    """Training labels; for the leakage negative control, labels that carry no signal.

    A plain permutation of n labels is correlated with the true ones by chance
    (|r| ~ 1/sqrt(n)), and with a strong signal that alone gives AUCs far from 0.5.
    So the control draws the same share of positives within each true class: the
    control labels keep the prevalence and are uncorrelated with the truth.
    """
    labels = design.labels[design.train]
    if not permute:
        return labels
    rng = np.random.default_rng(seed)
    control = np.zeros_like(labels)
    for value, size in zip((0, 1), control_positives(labels)):
        members = np.flatnonzero(labels == value)
        control[rng.choice(members, size=size, replace=False)] = 1
    log.warning("negative control: training labels replaced by labels independent of the truth")
    return control


def training_data(
    features_csv: str,
    split_csv: str,
    clinical: list[str],
    permute: bool,
    seed: int,
    *,
    icc_csv: str = "",
    harmonisation: dict | None = None,
) -> tuple[Design, pd.DataFrame, np.ndarray]:
    """The design, the model input X and the training labels, built one way for selection,
    every model, the internal validation and the harmonisation figure. X is the design's
    features plus, with ComBat, the centre and covariate columns it consumes."""
    design = load_design(features_csv, split_csv, clinical, icc_csv=icc_csv)
    X = harmonisation_input(design.features, features_csv, harmonisation)
    return design, X, training_labels(design, permute, seed)


def radscore_selector(fitted: Pipeline) -> tuple[Pipeline, LassoSelector]:
    """The LASSO whose linear predictor is the rad-score, and the steps that feed it."""
    last = fitted.steps[-1][1]
    if not isinstance(last, LassoSelector):
        raise InputError(
            "selection.steps must end with a lasso step: the rad-score is the LASSO linear "
            "predictor. Add {step: lasso} at the end (after pca, if you use it)."
        )
    return fitted[:-1], last


def report_ranking(classifier, model_joblib: str, permute: bool, y_train: np.ndarray, p_train: np.ndarray) -> None:
    """One console line when a Platt map had the wrong sign (radsnake.ml.platt handles it)
    or when a model ranks its own training cases worse than chance."""
    from radsnake.ml.platt import PlattSVC
    from radsnake.stats.discrimination import auc_delong

    where = f"{os.path.dirname(model_joblib)}, fitted on the training set ({len(y_train)} cases"
    where += ", negative-control labels)" if permute else ")"
    if isinstance(classifier, PlattSVC) and classifier.wrong_sign_:
        tell_console(
            f"{where}: Platt's sigmoid fitted on the out-of-fold decision values has a "
            f"negative slope ({classifier.unconstrained_slope_:.3g}), i.e. it would reverse the SVM's "
            "ranking; the slope is kept at 0 (probabilities flat at the training prevalence, ordered "
            "as the SVM orders the cases), so this SVM shows no signal in cross-validation. See "
            "docs/troubleshooting.md."
        )
    if len(set(y_train)) == 2:
        auc = auc_delong(y_train, p_train)["auc"]
        if auc < 0.5:
            tell_console(
                f"{where}: its training AUC is {auc:.3f}, below 0.5: the model ranks its own "
                "training cases worse than chance. Do not report it as a finding; see docs/troubleshooting.md."
            )
