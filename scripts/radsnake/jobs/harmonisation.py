"""Jobs of rules/harmonisation.smk: ComBat fitted on the training cases, its tables and figure."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radsnake.cohort.harmonise import BATCH_COLUMN, harmonisation_steps
from radsnake.core.tables import write_csv
from radsnake.figures.harmonisation_figure import harmonisation_figure
from radsnake.ml.modelling import training_data

log = logging.getLogger(__name__)


def eta_squared(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Share of each feature's variance explained by the groups (one-way ANOVA eta^2)."""
    total = ((values - values.mean(axis=0)) ** 2).sum(axis=0)
    between = np.zeros(values.shape[1])
    for group in np.unique(groups):
        part = values[groups == group]
        between += part.shape[0] * (part.mean(axis=0) - values.mean(axis=0)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, between / total, np.nan)


def pca_scores(train: np.ndarray, data: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Scores of z-scored ``data`` on the principal axes of z-scored ``train``; signs fixed."""
    mean, sd = train.mean(axis=0), train.std(axis=0, ddof=1)
    keep = sd > 0
    z_train = (train[:, keep] - mean[keep]) / sd[keep]
    _, singular, vt = np.linalg.svd(z_train, full_matrices=False)
    axes = vt[:n_components]
    # An eigenvector's sign is arbitrary: make each axis' largest loading positive.
    axes *= np.sign(axes[np.arange(axes.shape[0]), np.abs(axes).argmax(axis=1)])[:, None]
    explained = singular[:n_components] ** 2 / (singular**2).sum()
    return ((data[:, keep] - mean[keep]) / sd[keep]) @ axes.T, explained


def harmonise_features(features_csv: str, split_csv: str, clinical: list[str], harmonisation: dict,
                       permute: bool, seed: int, harmonised_csv: str, parameters_csv: str,
                       centre_effect_csv: str, pca_csv: str) -> None:
    """Fit ComBat on the training cases (as the models' pipelines do) and describe its effect."""

    design, X, y_train = training_data(features_csv, split_csv, clinical, permute, seed, harmonisation=harmonisation)
    [(_, combat)] = harmonisation_steps(harmonisation)
    combat.fit(X[design.train], y_train)
    # The transform a fitted model applies to every case, training cases included.
    after = pd.DataFrame(combat.transform(X), index=X.index, columns=combat.get_feature_names_out())
    before = design.features
    batch = X[BATCH_COLUMN].to_numpy()
    seen = np.isin(batch, combat.batches_)
    log.info("ComBat fitted on %d training cases from centres %s; unseen centres (%s): %s",
             int(design.train.sum()), combat.batches_.tolist(), combat.unseen_batch, sorted(set(batch[~seen])))

    meta = pd.DataFrame({"case_id": before.index, "set": design.sets, "center": batch,
                         "seen_in_training": seen})
    write_csv(pd.concat([meta, after.reset_index(drop=True)], axis=1), harmonised_csv)

    names = combat.get_feature_names_out()
    rows = []
    for j, name in enumerate(combat.batches_):
        rows.append(pd.DataFrame({
            "center": name, "feature": names, "adjusted": combat.adjusted_,
            "gamma_hat": combat.gamma_hat_[j], "delta_hat": combat.delta_hat_[j],
            "gamma_star": combat.gamma_star_[j], "delta_star": combat.delta_star_[j],
        }))
    write_csv(pd.concat(rows, ignore_index=True), parameters_csv)

    train = design.train
    write_csv(pd.DataFrame({
        "feature": names,
        "eta2_before": eta_squared(before.to_numpy(float)[train], batch[train]),
        "eta2_after": eta_squared(after.to_numpy(float)[train], batch[train]),
    }), centre_effect_csv)

    frames = []
    for stage, data in (("before", before.to_numpy(float)), ("after", after.to_numpy(float))):
        scores, explained = pca_scores(before.to_numpy(float)[train], data)
        frames.append(meta.assign(stage=stage, PC1=scores[:, 0], PC2=scores[:, 1],
                                  PC1_variance=explained[0], PC2_variance=explained[1]))
    write_csv(pd.concat(frames, ignore_index=True), pca_csv)


def plot_harmonisation(pca_csv, centre_effect_csv, unseen_batch, png, pdf) -> None:
    harmonisation_figure(pd.read_csv(pca_csv, dtype={"case_id": str, "center": str}), pd.read_csv(centre_effect_csv),
                         png, pdf, unseen_batch=unseen_batch)
