"""Clinical values the clinical and combined models can use, checked with the sheet.

The policy (config ``clinical_missing``, docs/studies.md "Clinical data"):

* ``refuse`` (default): an empty clinical cell, or a category that no training case has
  (a typo such as ``female`` among ``F``/``M``, in a test case), stops the run at sheet
  validation, before any job, naming the case, the column and the set;
* ``impute``: such values are imputed from the training cases only (median of a numeric
  column, most frequent category of a categorical one; scikit-learn's SimpleImputer
  fitted on the training rows), the unseen category counting as missing; every imputed
  cell is written to results/clinical/imputation.csv.

Harmonisation covariates (harmonisation.covariates) are always refused when missing:
ComBat needs each case's own value. The same check runs at parse time, on the sets the
split will assign (radsnake.imaging.robustness.planned_sets), and again in the clinical job on
results/split.csv, so a case whose set was not known in advance is caught too.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import pandas as pd

from radsnake.core.errors import InputError

log = logging.getLogger(__name__)

POLICIES = ("refuse", "impute")
IMPUTATION_COLUMNS = ["case_id", "set", "column", "found", "imputed", "fitted_on"]


class Gap(NamedTuple):
    case: str
    column: str
    set: str
    found: str  # "" for a missing value, else the unseen category


def _missing(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype(str).str.strip().eq("")


def training_levels(values: pd.Series, train: pd.Series) -> list[str]:
    known = values[train & ~_missing(values)]
    return sorted(set(known.astype(str)))


def clinical_gaps(frame: pd.DataFrame, clinical: dict[str, str], sets: pd.Series) -> list[Gap]:
    """Empty clinical cells, and categories of non-training cases that no training case has.

    frame: indexed by case id, the clinical columns; sets: each case's set, by case id.
    """
    sets = sets.reindex(frame.index).fillna("")
    train = sets.eq("train")
    gaps = []
    for column, kind in clinical.items():
        values = frame[column]
        missing = _missing(values)
        gaps += [Gap(case, column, sets[case], "") for case in frame.index[missing]]
        if kind == "categorical":
            levels = set(training_levels(values, train))
            unseen = ~missing & ~train & ~values.astype(str).isin(levels)
            gaps += [Gap(case, column, sets[case], str(values[case])) for case in frame.index[unseen]]
    return sorted(gaps, key=lambda gap: (gap.case, list(clinical).index(gap.column)))


def _describe(gap: Gap, frame: pd.DataFrame, sets: pd.Series) -> str:
    where = f"case {gap.case} ({gap.set or 'no'} set): clinical column '{gap.column}'"
    if not gap.found:
        return f"{where} is empty"
    levels = training_levels(frame[gap.column], sets.reindex(frame.index).eq("train"))
    return f"{where} holds '{gap.found}', a category no training case has (training: {', '.join(levels)})"


def check_clinical(
    frame: pd.DataFrame,
    clinical: dict[str, str],
    sets: pd.Series,
    policy: str,
    protected=(),
    source: str = "",
    after: str = "no job has run",
) -> list[Gap]:
    """Refuse what the policy does not allow, in one message (one line per cell); return
    the gaps the policy imputes. protected: columns never imputed (ComBat covariates)."""
    gaps = clinical_gaps(frame, clinical, sets)
    refused = [gap for gap in gaps if policy == "refuse" or gap.column in protected]
    lines = [_describe(gap, frame, sets) for gap in refused]
    if policy == "impute":
        train = sets.reindex(frame.index).eq("train")
        for column in clinical:
            if column not in protected and not (train & ~_missing(frame[column])).any():
                lines.append(f"clinical column '{column}' has no value in any training case: nothing to impute from")
    if lines:
        shown = lines[:50] + ([f"... and {len(lines) - 50} more"] if len(lines) > 50 else [])
        covariates = [c for c in protected if any(gap.column == c for gap in refused)]
        fix = (
            "Fill in or correct these cells" + (f" in {source}" if source else "")
            + ", or set clinical_missing: impute to impute them from the training cases "
            "(docs/studies.md#clinical-data)"
        )
        if covariates:
            fix += f"; harmonisation covariate(s) {covariates} are never imputed: ComBat needs each case's value"
        raise InputError(
            f"clinical data: {len(lines)} value(s) the clinical models cannot use "
            f"(clinical_missing: {policy}):\n  " + "\n  ".join(shown) + f"\n{fix}; {after}."
        )
    return [gap for gap in gaps if gap not in refused]


def impute_clinical(frame: pd.DataFrame, clinical: dict[str, str], sets: pd.Series, gaps: list[Gap]):
    """The frame with its gaps imputed from the training rows, and the record of every
    imputed cell (IMPUTATION_COLUMNS). frame is indexed by case id."""
    from sklearn.impute import SimpleImputer

    frame = frame.copy()
    train = sets.reindex(frame.index).eq("train").to_numpy()
    for gap in gaps:  # an unseen category is a missing value to the model
        frame.loc[gap.case, gap.column] = np.nan
    rows = []
    for column, kind in clinical.items():
        holes = [gap for gap in gaps if gap.column == column]
        if not holes:
            continue
        values = frame[[column]]
        if kind == "numeric":
            imputer = SimpleImputer(strategy="median")
            values = values.astype(float)
        else:
            imputer = SimpleImputer(strategy="most_frequent", missing_values=np.nan)
            values = values.where(~_missing(frame[column]).to_frame(), np.nan).astype(object)
        imputer.fit(values[train])  # training cases only: no leakage into test or external sets
        filled = imputer.transform(values)[:, 0]
        frame[column] = filled if kind == "categorical" else filled.astype(float)
        fill = imputer.statistics_[0]
        n_train = int((train & ~_missing(values[column]).to_numpy()).sum())
        how = "median" if kind == "numeric" else "most frequent category"
        for gap in holes:
            rows.append([gap.case, gap.set, column, gap.found, _text(fill), f"{how} of {n_train} training cases"])
            log.warning(
                "case %s (%s set): clinical column '%s' %s imputed as %s (%s of the training cases)",
                gap.case, gap.set, column, f"'{gap.found}'" if gap.found else "empty", _text(fill), how,
            )
    record = pd.DataFrame(rows, columns=IMPUTATION_COLUMNS).sort_values(["column", "case_id"], kind="stable")
    return frame, record.reset_index(drop=True)


def _text(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.10g}"
    return str(value)


def usable_clinical(frame: pd.DataFrame, clinical: dict[str, str], policy: str, source: str):
    """The clinical job's frame (case_id, set and the clinical columns) after the policy,
    and the imputation record (None under refuse)."""
    indexed = frame.set_index("case_id", drop=False)
    sets = indexed["set"]
    gaps = check_clinical(
        indexed, clinical, sets, policy, source=source, after="the clinical models were not fitted"
    )
    if policy != "impute":
        return frame, None
    imputed, record = impute_clinical(indexed, clinical, sets, gaps)
    return imputed.reset_index(drop=True), record
