"""Train / test / external assignment that never moves a case once it is assigned.

Each case's draw is a hash of (seed, case_id) alone, so adding or removing other cases
cannot change it: the test set of a growing cohort only ever gains cases. The price is
that each label stratum's test share equals test_fraction in expectation rather than
exactly; the realised shares are logged.
"""

from __future__ import annotations

import hashlib
import logging
import os

import pandas as pd

from radsnake.errors import InputError
from radsnake.tables import write_csv

log = logging.getLogger(__name__)

SETS = ("train", "test", "external")


def case_uniform(seed: int, case_id: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the case id alone.

    The label is left out on purpose: correcting a case's label must not move it.
    """
    digest = hashlib.sha256(f"{seed}\x1f{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_sets(
    cases: pd.DataFrame,
    method: str,
    test_fraction: float,
    external_centers: list[str],
    seed: int,
    locked: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """cases has case_id, label and center; returns case_id,set sorted by case_id."""
    if method == "center":
        unknown = sorted(set(external_centers) - set(cases["center"]))
        if unknown:
            raise InputError(
                f"split: external centre(s) {unknown} do not occur in the sheet's 'center' "
                f"column (centres present: {sorted(set(cases['center']))})."
            )
    sets = []
    for case_id, center in zip(cases["case_id"], cases["center"]):
        if method == "center" and center in external_centers:
            sets.append("external")
        elif case_uniform(seed, case_id) < test_fraction:
            sets.append("test")
        else:
            sets.append("train")
    split = pd.DataFrame({"case_id": cases["case_id"].astype(str), "set": sets})
    if locked is not None:
        kept = split["case_id"].map(dict(zip(locked["case_id"], locked["set"])))
        split["set"] = kept.fillna(split["set"])
    split = split.sort_values("case_id", kind="stable").reset_index(drop=True)
    check_usable(split, cases)
    return split


def check_usable(split: pd.DataFrame, cases: pd.DataFrame) -> None:
    labels = cases.set_index("case_id").loc[split["case_id"], "label"].to_numpy()
    train_labels = set(labels[(split["set"] == "train").to_numpy()])
    if train_labels != {0, 1}:
        raise InputError(
            "split: the training set needs cases of both labels; it has "
            f"{sorted(train_labels) or 'no cases'}. Lower test_fraction or add cases."
        )


def read_locked(path: str) -> pd.DataFrame | None:
    if not path:
        return None
    if not os.path.exists(path):
        raise InputError(f"split: locked split file {path} (config split.locked) does not exist.")
    locked = pd.read_csv(path, dtype=str)
    bad = sorted(set(locked.get("set", pd.Series(dtype=str))) - set(SETS))
    if {"case_id", "set"} - set(locked.columns) or bad:
        raise InputError(f"split: {path} must have columns case_id,set with set in {SETS}.")
    return locked


def split_cases(
    features_csv: str,
    method: str,
    test_fraction: float,
    external_centers: list[str],
    seed: int,
    locked_csv: str,
    output_csv: str,
) -> None:
    cases = pd.read_csv(features_csv, usecols=["case_id", "label", "center"], dtype={"case_id": str, "center": str})
    cases["center"] = cases["center"].fillna("")
    split = assign_sets(cases, method, test_fraction, external_centers, seed, read_locked(locked_csv))
    counts = pd.crosstab(split["set"], cases.set_index("case_id").loc[split["case_id"], "label"].to_numpy())
    log.info("cases per set and label:\n%s", counts.to_string())
    write_csv(split, output_csv)
