"""Realistic radiomics feature tables, written as bring-your-own-feature study folders.

Real radiomics tables (67 x 280, 93 x 105, 173 x 105 in the papers behind issue 16) share
three traits the bench must reproduce, since each one drives the cost or the outcome of
selection and validation:

* correlated blocks: features come in families (shape, first order, GLCM, GLRLM, ...,
  each repeated per image filter) driven by a few latent traits of the lesion, so that
  within a block |r| is typically 0.7-0.99 and across blocks small; some features are
  near-copies of another (volume and voxel count);
* weak signal: the label shifts two latent traits by a fraction of an SD, so the best
  single features reach an AUC of about 0.6-0.7 and a good model about 0.7-0.75;
* class imbalance: about one case in three has label 1.

Values get the scales and skew of real features (1e-3 to 1e5, a third log-normal).

    python bench/feature_tables.py --out /tmp/tables          # the four sizes of issue 16
    python bench/feature_tables.py --sizes 173x105 --out /tmp/tables
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import benchlib

# Issue 16's real sizes (cases x features).
SIZES = ((70, 280), (93, 105), (173, 105), (180, 1500))
PREVALENCE = 0.33
# Shift of the three label-related latent traits, in SDs: a weak signal.
SIGNAL = (0.8, -0.6, 0.4)


def feature_table(n_cases: int, n_features: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """(table with case_id and the features, labels) of one synthetic study."""
    rng = np.random.default_rng([seed, n_cases, n_features])
    n_positive = max(2, int(round(PREVALENCE * n_cases)))
    labels = np.zeros(n_cases, dtype=int)
    labels[rng.choice(n_cases, size=n_positive, replace=False)] = 1
    # About one block per 12 features (a feature family under one filter), at least 6.
    n_blocks = max(6, n_features // 12)
    traits = rng.normal(size=(n_cases, n_blocks))
    for trait, shift in enumerate(SIGNAL):
        traits[:, trait] += shift * labels
    # Blocks share a little of a global "size" trait, as texture and shape features do.
    size = rng.normal(size=n_cases)
    traits = np.sqrt(0.85) * traits + np.sqrt(0.15) * size[:, None]
    block = np.sort(rng.integers(0, n_blocks, size=n_features))
    loading = rng.uniform(0.8, 0.995, size=n_features)
    sign = rng.choice([-1.0, 1.0], size=n_features)
    noise = rng.normal(size=(n_cases, n_features))
    values = sign * loading * traits[:, block] + np.sqrt(1 - loading**2) * noise
    # A few near-copies (r > 0.999), like volume and voxel count.
    copies = rng.choice(n_features, size=max(1, n_features // 50), replace=False)
    values[:, copies] = values[:, (copies + 1) % n_features] + 0.01 * rng.normal(size=(n_cases, copies.size))
    skewed = rng.uniform(size=n_features) < 0.33
    values[:, skewed] = np.exp(0.8 * values[:, skewed])
    values = values * 10 ** rng.uniform(-3, 5, size=n_features) + 10 ** rng.uniform(-2, 3, size=n_features)
    families = ["shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]
    filters = ["original", "wavelet-LLH", "wavelet-HLL", "log-sigma-2", "log-sigma-4", "square", "exponential"]
    names = [
        f"{filters[b % len(filters)]}_{families[b % len(families)]}_b{b:03d}_f{i:04d}"
        for i, b in enumerate(block)
    ]
    table = pd.DataFrame(values, columns=names)
    table.insert(0, "case_id", [f"R{i:04d}" for i in range(n_cases)])
    return table, labels


def write_study(study: Path, n_cases: int, n_features: int, seed: int, cores: int,
                extra_config: dict | None = None) -> Path:
    """A bring-your-own-feature study folder (docs/studies.md): the table, the sheet and a
    config with the schema's defaults for everything but the inputs."""
    table, labels = feature_table(n_cases, n_features, seed)
    # The leakage negative control runs alongside (it is off by default).
    benchlib.write_own_features_study(study, table, labels, seed, cores,
                                      {"negative_control": {"enabled": True}, **(extra_config or {})})
    return study


def parse_size(text: str) -> tuple[int, int]:
    cases, features = text.lower().split("x")
    return int(cases), int(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=list(SIZES), help="e.g. 173x105")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=benchlib.DEFAULT_WORKDIR / "tables")
    args = parser.parse_args()
    for n_cases, n_features in args.sizes:
        study = write_study(args.out / f"table-{n_cases}x{n_features}", n_cases, n_features, args.seed, args.cores)
        benchlib.say(f"{study}: {n_cases} cases x {n_features} features")


if __name__ == "__main__":
    main()
