"""Train / test / external assignment that never moves a case once it is assigned.

External cases are those of the listed centres (method center) and those with a value
in the sheet's `cohort` column; each external cohort gets its own set
(radsnake.external names them).

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
from radsnake.external import POOLED, cohort_set, external_cohorts
from radsnake.sheets import read_table
from radsnake.tables import write_csv

log = logging.getLogger(__name__)

# The fixed sets; external cohorts add theirs (radsnake.external).
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
    case_cohorts: dict[str, str] | None = None,
) -> pd.DataFrame:
    """cases has case_id, label and center; returns case_id,set sorted by case_id.

    case_cohorts: the sheet's non-empty `cohort` values by case id (all of the sheet's,
    so that the set names match those the workflow planned); a case with one is external
    in that cohort whatever its centre.
    """
    case_cohorts = case_cohorts or {}
    cohorts = external_cohorts(method, external_centers, case_cohorts.values())
    if method == "center":
        unknown = sorted(set(external_centers) - set(cases["center"]))
        if unknown:
            raise InputError(
                f"split: external centre(s) {unknown} do not occur in the sheet's 'center' "
                f"column (centres present: {sorted(set(cases['center']))})."
            )
    sets = []
    for case_id, center in zip(cases["case_id"], cases["center"]):
        cohort = case_cohorts.get(case_id) or (center if method == "center" and center in external_centers else "")
        if cohort:
            sets.append(cohort_set(cohort, cohorts))
        elif case_uniform(seed, case_id) < test_fraction:
            sets.append("test")
        else:
            sets.append("train")
    split = pd.DataFrame({"case_id": cases["case_id"].astype(str), "set": sets})
    if locked is not None:
        split["set"] = _apply_locked(split, locked, cohorts)
    split = split.sort_values("case_id", kind="stable").reset_index(drop=True)
    check_usable(split, cases)
    return split


def _apply_locked(split: pd.DataFrame, locked: pd.DataFrame, cohorts: list[str]) -> pd.Series:
    """Locked sets replace the drawn ones; a locked `external` keeps a case in its own cohort."""
    valid = {"train", "test", *([POOLED] if cohorts else []), *(cohort_set(c, cohorts) for c in cohorts)}
    unknown = sorted(set(locked["set"]) - valid)
    if unknown:
        raise InputError(
            f"split: the locked split names set(s) {unknown}, which this study does not have "
            f"(its sets: {sorted(valid)}). External cohorts are split.external_centers and the "
            "sheet's 'cohort' column."
        )
    kept = split["case_id"].map(dict(zip(locked["case_id"], locked["set"])))
    if len(cohorts) > 1:
        # An older single-cohort lock says `external`: that is the case's own cohort now.
        pooled = kept == POOLED
        own = split["set"].where(split["set"].str.startswith("external_"))
        ambiguous = split.loc[pooled & own.isna(), "case_id"].tolist()
        if ambiguous:
            raise InputError(
                f"split: the locked split puts case(s) {ambiguous[:10]} in 'external', but the "
                f"study has several external cohorts {cohorts} and these cases belong to none. "
                "Write the cohort's set, e.g. external_<cohort>, in the locked file."
            )
        kept = kept.where(~pooled, own)
    return kept.fillna(split["set"])


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
    # The sheets' reading rules: ids as text (001 stays 001), BOM, CRLF, ; or tab.
    locked = read_table(path, f"split: locked split file {os.path.abspath(path)} (config split.locked)")
    if {"case_id", "set"} - set(locked.columns):
        raise InputError(f"split: {path} must have columns case_id,set, e.g. a copy of results/split.csv.")
    # Which set names are valid depends on the study's external cohorts: assign_sets checks.
    return locked


def split_cases(
    features_csv: str,
    method: str,
    test_fraction: float,
    external_centers: list[str],
    seed: int,
    locked_csv: str,
    output_csv: str,
    case_cohorts: dict[str, str] | None = None,
) -> None:
    cases = pd.read_csv(features_csv, usecols=["case_id", "label", "center"], dtype={"case_id": str, "center": str})
    cases["center"] = cases["center"].fillna("")
    split = assign_sets(
        cases, method, test_fraction, external_centers, seed, read_locked(locked_csv), case_cohorts=case_cohorts
    )
    counts = pd.crosstab(split["set"], cases.set_index("case_id").loc[split["case_id"], "label"].to_numpy())
    log.info("cases per set and label:\n%s", counts.to_string())
    write_csv(split, output_csv)
