"""Train / test / external assignment: exactly stratified once, then kept.

External cases are those of the listed centres (method center) and those with a value
in the sheet's `cohort` column; each external cohort gets its own set
(radsnake.io.external names them).

The other (internal) cases are split in two steps (docs/design.md, "Split"):

* the first run draws the test set exactly: in each stratum (label, and the
  `split.strata` columns) the round(test_fraction x n) cases with the smallest
  seeded hash of their id go to test. The draw is made over the sheet's cases (those
  not pending review), so it is known at parse time (:func:`predict_sets`) and equal
  to what the split job writes.
* the assignment is kept in the study folder (:data:`KEPT_CSV`, columns
  :data:`KEPT_COLUMNS`); later runs keep every case listed there and assign only new
  cases, each by its own hash (test when below test_fraction), so adding patients never
  moves anyone. A study folder from before this file existed keeps the sets of its
  results/split.csv (:func:`adopt_earlier_split`).

`split.locked` (the user's file) wins over both.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from fractions import Fraction

import numpy as np
import pandas as pd

from radsnake.core.errors import InputError
from radsnake.io.external import POOLED, cohort_set, external_cohorts, ordered_sets
from radsnake.io.sheets import read_table
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)

# The fixed sets; external cohorts add theirs (radsnake.io.external).
SETS = ("train", "test", "external")
# The kept assignment, relative to the study folder: outside results/, which users delete.
KEPT_CSV = os.path.join("split", "assignments.csv")
# The split of a study folder from before KEPT_CSV existed.
EARLIER_SPLIT_CSV = os.path.join("results", "split.csv")
KEPT_COLUMNS = ["case_id", "set", "assigned_by"]
# How a kept case got its set (the assigned_by column).
DRAWN, HASHED, LOCKED, EARLIER = "stratified_draw", "hash", "locked", "earlier_split"
INTERNAL_SETS = ("train", "test")
SET_TABLE_TEST = "Fisher's exact test (two-sided), vs train"


def case_uniform(seed: int, case_id: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the case id alone.

    The label is left out on purpose: correcting a case's label must not move it.
    """
    digest = hashlib.sha256(f"{seed}\x1f{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def n_test_cases(n: int, test_fraction: float) -> int:
    """round(test_fraction x n), halves rounded up, on the fraction as written (0.3 is 3/10)."""
    return math.floor(Fraction(str(test_fraction)) * n + Fraction(1, 2))


def stratified_draw(cases: pd.DataFrame, test_fraction: float, seed: int, strata: list[str]) -> pd.Series:
    """Set of each case (indexed like ``cases``): per stratum, the n_test_cases smallest hashes go to test."""
    draws = cases["case_id"].map(lambda case: case_uniform(seed, case))
    sets = pd.Series("train", index=cases.index, dtype=object)
    for _, members in cases.groupby(["label", *strata], sort=True, dropna=False):
        order = pd.DataFrame({"u": draws[members.index], "case_id": members["case_id"]}).sort_values(
            ["u", "case_id"], kind="stable"
        )
        sets[order.index[: n_test_cases(len(members), test_fraction)]] = "test"
    return sets


def assign_sets(
    cases: pd.DataFrame,
    method: str,
    test_fraction: float,
    external_centers: list[str],
    seed: int,
    locked: pd.DataFrame | None = None,
    case_cohorts: dict[str, str] | None = None,
    kept: pd.DataFrame | None = None,
    strata: list[str] | None = None,
) -> pd.DataFrame:
    """cases has case_id, label, center (and the strata columns); returns case_id, set,
    assigned_by sorted by case_id.

    kept: the kept assignment (:func:`read_kept`); its train/test cases keep their set,
    and the cases it lacks are assigned by their hash. None means the first run: the
    internal cases are drawn exactly by stratum (:func:`stratified_draw`).
    case_cohorts: the sheet's non-empty `cohort` values by case id (all of the sheet's,
    so that the set names match those the workflow planned); a case with one is external
    in that cohort whatever its centre.
    """
    case_cohorts = case_cohorts or {}
    strata = list(strata or [])
    cohorts = external_cohorts(method, external_centers, case_cohorts.values())
    if method == "center":
        unknown = sorted(set(external_centers) - set(cases["center"]))
        if unknown:
            raise InputError(
                f"split: external centre(s) {unknown} do not occur in the sheet's 'center' "
                f"column (centres present: {sorted(set(cases['center']))})."
            )
    cases = cases.reset_index(drop=True).astype({"case_id": str})
    external = [
        case_cohorts.get(case_id) or (center if method == "center" and center in external_centers else "")
        for case_id, center in zip(cases["case_id"], cases["center"])
    ]
    split = pd.DataFrame(
        {
            "case_id": cases["case_id"],
            "set": [cohort_set(cohort, cohorts) if cohort else "" for cohort in external],
            "assigned_by": ["external" if cohort else "" for cohort in external],
        }
    )
    internal = split["set"] == ""
    locked_sets = {} if locked is None else dict(zip(locked["case_id"], locked["set"]))
    if kept is not None:
        kept_sets = dict(zip(kept["case_id"], kept["set"]))
        kept_by = dict(zip(kept["case_id"], kept["assigned_by"]))
        known = internal & split["case_id"].isin(kept_sets)
        split.loc[known, "set"] = split.loc[known, "case_id"].map(kept_sets)
        split.loc[known, "assigned_by"] = split.loc[known, "case_id"].map(kept_by)
        new = internal & ~known
        hashed = split.loc[new, "case_id"].map(lambda case: case_uniform(seed, case) < test_fraction)
        split.loc[new, "set"] = np.where(hashed, "test", "train")
        split.loc[new, "assigned_by"] = HASHED
    else:
        # Cases the locked file places are not part of the draw.
        drawn = internal & ~split["case_id"].isin(locked_sets)
        split.loc[drawn, "set"] = stratified_draw(cases[drawn], test_fraction, seed, strata)
        split.loc[drawn, "assigned_by"] = DRAWN
        split.loc[internal & ~drawn, ["set", "assigned_by"]] = ["train", HASHED]  # replaced by the lock below
    if locked is not None:
        split = _apply_locked(split, locked, cohorts)
    split = split.sort_values("case_id", kind="stable").reset_index(drop=True)
    check_usable(split, cases)
    return split


def _apply_locked(split: pd.DataFrame, locked: pd.DataFrame, cohorts: list[str]) -> pd.DataFrame:
    """Locked sets replace the others; a locked `external` keeps a case in its own cohort."""
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
    split = split.copy()
    split["assigned_by"] = split["assigned_by"].where(kept.isna(), LOCKED)
    split["set"] = kept.fillna(split["set"])
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
    # The sheets' reading rules: ids as text (001 stays 001), BOM, CRLF, ; or tab.
    locked = read_table(path, f"split: locked split file {os.path.abspath(path)} (config split.locked)")
    if {"case_id", "set"} - set(locked.columns):
        raise InputError(f"split: {path} must have columns case_id,set, e.g. a copy of results/split.csv.")
    # Which set names are valid depends on the study's external cohorts: assign_sets checks.
    return locked


def read_kept(path: str = KEPT_CSV, earlier_csv: str = EARLIER_SPLIT_CSV) -> pd.DataFrame | None:
    """The kept assignment (case_id, set, assigned_by); without one, the train/test rows of
    an earlier results/split.csv; None when neither exists (the first run)."""
    if os.path.exists(path):
        kept = pd.read_csv(path, dtype=str, keep_default_na=False)
        bad_sets = sorted(set(kept.get("set", [])) - set(INTERNAL_SETS))
        if set(KEPT_COLUMNS) - set(kept.columns) or bad_sets:
            raise InputError(
                f"split: {os.path.abspath(path)} is the study's kept split and must have columns "
                f"{','.join(KEPT_COLUMNS)} with set train or test (found columns {list(kept.columns)}"
                f"{', sets ' + str(bad_sets) if bad_sets else ''}). Restore it from a backup, or "
                "delete it to draw the split anew (every case may then change set)."
            )
        return kept[KEPT_COLUMNS]
    if earlier_csv and os.path.exists(earlier_csv):
        earlier = pd.read_csv(earlier_csv, dtype=str, keep_default_na=False)
        earlier = earlier[earlier["set"].isin(INTERNAL_SETS)]
        return earlier[["case_id", "set"]].assign(assigned_by=EARLIER).reset_index(drop=True)
    return None


def adopt_earlier_split(path: str = KEPT_CSV, earlier_csv: str = EARLIER_SPLIT_CSV) -> str:
    """Keep the sets of a study folder's results/split.csv made before KEPT_CSV existed.

    Run at parse time: the split job cannot read results/split.csv, which Snakemake
    deletes before rerunning the job that writes it. Returns the note to show, or "".
    """
    if os.path.exists(path) or not os.path.exists(earlier_csv):
        return ""
    write_csv(read_kept(path, earlier_csv), path)
    return (
        f"radsnake: split: the sets of {earlier_csv} (an earlier run) are kept in {path}; "
        "new cases are assigned by their hash, none of these moves."
    )


def updated_kept(kept: pd.DataFrame | None, split: pd.DataFrame) -> pd.DataFrame:
    """The kept assignment plus every internal case of ``split`` (locked sets included).

    Rows of cases no longer in the sheet stay, so a case that comes back keeps its set.
    """
    current = split.loc[split["set"].isin(INTERNAL_SETS), KEPT_COLUMNS]
    old = kept if kept is not None else pd.DataFrame(columns=KEPT_COLUMNS)
    merged = pd.concat([old[~old["case_id"].isin(current["case_id"])], current], ignore_index=True)
    return merged.sort_values("case_id", kind="stable").reset_index(drop=True)


def check_strata(strata: list[str], clinical: dict[str, str]) -> None:
    """split.strata may name the centre and categorical clinical columns."""
    allowed = ["center", *(name for name, kind in clinical.items() if kind == "categorical")]
    bad = [name for name in strata if name not in allowed]
    if bad:
        raise InputError(
            f"split.strata {bad}: a stratum must be 'center' or a categorical clinical column "
            f"(this study's: {allowed}). Declare the column under clinical as categorical, or "
            "remove it from split.strata."
        )


def draw_population(cohort: pd.DataFrame, strata: list[str] | None = None) -> pd.DataFrame:
    """The cases the split assigns, from the sheet (indexed by case_id): those not pending
    review, with label, center and the strata columns as text; sorted by case_id."""
    strata = list(strata or [])
    if "pending" in cohort.columns:
        cohort = cohort[cohort["pending"].fillna("") == ""]
    frame = pd.DataFrame({"case_id": cohort.index.astype(str)})
    frame["label"] = pd.to_numeric(cohort["label"].to_numpy()).astype(int)
    for column in ["center", *[s for s in strata if s != "center"]]:
        frame[column] = pd.Series(cohort[column].to_numpy()).fillna("").astype(str).str.strip().to_numpy()
    return frame.sort_values("case_id", kind="stable").reset_index(drop=True)


def predict_sets(
    cohort: pd.DataFrame,
    split: dict,
    seed: int,
    case_cohorts: dict[str, str] | None = None,
    kept_csv: str = KEPT_CSV,
) -> pd.DataFrame:
    """Each case's set as the split job will write it, from the sheet and the kept file alone.

    The public way to know sets at parse time (the robustness planner and the clinical
    checks use it). cohort: the sheet as radsnake.io.cohort_sheet.load_cohort returns it; split:
    the config's split section; returns case_id, set, assigned_by for the cases not
    pending review. Paths are relative to the study folder (the working directory).
    """
    locked = split.get("locked", "")
    return assign_sets(
        draw_population(cohort, split.get("strata", [])),
        split["method"],
        split["test_fraction"],
        list(split["external_centers"]),
        seed,
        read_locked(locked) if locked and os.path.exists(locked) else None,
        case_cohorts=case_cohorts,
        # The kept file alone, as the split job reads it: an earlier results/split.csv is
        # adopted into it at parse time (adopt_earlier_split), not read here.
        kept=read_kept(kept_csv, earlier_csv=""),
        strata=split.get("strata", []),
    )


def set_table(split: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Per set: cases, events, prevalence, and the two-sided Fisher's exact test of the
    set's prevalence against the training set's (R's fisher.test on the 2 x 2 table)."""
    # Imported here: the workflow imports this module at parse time, where scipy.stats
    # cost a quarter of a 2,000-case dry run's own time.
    from scipy.stats import fisher_exact

    frame = split.assign(label=labels.loc[split["case_id"]].to_numpy())
    rows = []
    counts = {}
    for name in ordered_sets(frame["set"]):
        part = frame.loc[frame["set"] == name, "label"]
        counts[name] = (int(part.sum()), int(len(part) - part.sum()))
        rows.append({"set": name, "cases": len(part), "events": int(part.sum()), "prevalence": part.mean()})
    for row in rows:
        if row["set"] == "train" or "train" not in counts:
            row.update(test="", p_value=np.nan)
            continue
        _, p_value = fisher_exact([counts[row["set"]], counts["train"]], alternative="two-sided")
        row.update(test=SET_TABLE_TEST, p_value=float(p_value))
    return pd.DataFrame(rows, columns=["set", "cases", "events", "prevalence", "test", "p_value"])
