"""External cohorts: which there are, what their sets are called, and the pooled set.

A study can hold out several external cohorts: the centres listed in
``split.external_centers`` (method ``center``) and the values of the cohort sheet's
optional ``cohort`` column. Each cohort is evaluated as a set of its own; the pooled set
holds every external case. The names are a function of the config and the sheet alone,
so that Snakemake plans every per-set figure at parse time, without a checkpoint:

* one external cohort: its set is ``external`` (as before there could be several);
* two or more: ``external_<cohort>`` each, plus the pooled ``external`` when
  ``split.pool_external`` is true.

So ``external`` always means "every external case". ``results/split.csv`` names each
case's own cohort set; the pooled set is formed from those rows when it is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pandas as pd

from radsnake.core.errors import InputError

POOLED = "external"
PREFIX = "external_"
# Cohort names become parts of file names (results/figures/roc_external_<cohort>.png).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_names(names: Iterable[str], source: str) -> None:
    """Stop when a cohort name cannot be part of a file name, or two differ only in case."""
    names = list(dict.fromkeys(names))
    bad = [name for name in names if not NAME_PATTERN.fullmatch(name)]
    if bad:
        raise InputError(
            f"{source}: external cohort name(s) {bad} cannot be used in file names "
            "(results/figures/roc_external_<name>.png): use letters, digits, '.', '_' and '-' "
            "only, starting with a letter or digit. Rename the centre in the sheet's 'center' "
            "column (and in split.external_centers), or give the cases a safe name in the "
            "sheet's 'cohort' column."
        )
    folded: dict[str, str] = {}
    for name in names:
        other = folded.setdefault(name.lower(), name)
        if other != name:
            raise InputError(
                f"{source}: external cohorts '{other}' and '{name}' differ only in upper/lower "
                "case; their files would collide on case-insensitive file systems. Use one spelling."
            )


def external_cohorts(method: str, external_centers: Sequence[str], sheet_cohorts: Iterable[str]) -> list[str]:
    """Names of the external cohorts, sorted: listed centres (method center) and `cohort` values."""
    names = set(external_centers) if method == "center" else set()
    names |= {str(value).strip() for value in sheet_cohorts if str(value).strip()}
    names = sorted(names)
    check_names(names, "split")
    return names


def cohort_set(cohort: str, cohorts: Sequence[str]) -> str:
    """The set a cohort's cases belong to in results/split.csv."""
    return POOLED if len(cohorts) == 1 else f"{PREFIX}{cohort}"


def evaluation_sets(test_fraction: float, cohorts: Sequence[str], pool: bool) -> list[str]:
    """Every set that is evaluated, in report order: train, test, each cohort, pooled."""
    sets = ["train"]
    if test_fraction > 0:
        sets.append("test")
    if len(cohorts) == 1:
        sets.append(POOLED)
    elif cohorts:
        sets += [cohort_set(cohort, cohorts) for cohort in sorted(cohorts)]
        if pool:
            sets.append(POOLED)
    return sets


def is_external(set_name: str) -> bool:
    return set_name == POOLED or set_name.startswith(PREFIX)


def _order(set_name: str) -> tuple:
    rank = {"train": 0, "test": 1, POOLED: 3}.get(set_name, 2 if set_name.startswith(PREFIX) else 4)
    return rank, set_name


def ordered_sets(names: Iterable) -> list[str]:
    """Distinct set names in report order: train, test, external cohorts, pooled, others."""
    return sorted({str(name) for name in names if pd.notna(name)}, key=_order)


def in_set(frame: pd.DataFrame, set_name: str) -> pd.DataFrame:
    """Rows of one set; for the pooled set, every external cohort's rows, labelled as it."""
    if set_name != POOLED:
        return frame[frame["set"] == set_name]
    return frame[frame["set"].astype(str).map(is_external)].assign(set=POOLED)


def with_sets(frame: pd.DataFrame, sets: Sequence[str]) -> pd.DataFrame:
    """The rows of every named set, stacked in that order (pooled rows repeat their cohort's)."""
    parts = [in_set(frame, name) for name in sets]
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]
