"""Jobs of rules/robustness.smk: the ICC table of the perturbed extractions and its figure."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radsnake.core.errors import InputError
from radsnake.core.tables import write_csv
from radsnake.figures.icc_figure import icc_figure
from radsnake.imaging.robustness import CASE_COLUMNS, ICC_COLUMNS, ICC_TYPES, MIN_CASES, ORIGINAL, icc, icc_reason
from radsnake.io.cohort_sheet import PROVENANCE_PREFIX

log = logging.getLogger(__name__)


def _feature_row(path: str) -> pd.Series | str:
    """A per-case feature file's features, or the reason it holds none."""

    row = pd.read_csv(path, dtype={"case_id": str}).iloc[0]
    if "excluded_reason" in row.index:
        return str(row["excluded_reason"])
    return row.drop([c for c in row.index if c == "case_id" or c.startswith(PROVENANCE_PREFIX)]).astype(float)


def write_icc(
    split_csv: str,
    cases: list[str],
    raters: list[str],
    original_csvs: list[str],
    rater_csvs: list[str],
    icc_type: str,
    threshold: float,
    icc_csv: str,
    cases_csv: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """results/robustness/icc.csv and cases.csv from the per-case feature files.

    ``original_csvs[i]`` is case ``cases[i]``'s own extraction; ``rater_csvs`` holds,
    case by case, one file per rater in ``raters``. Only cases in the training set of
    ``split_csv`` are used, so the held-out sets never inform the filter; a case whose
    original or any rater file is an exclusion record (QC, or a perturbation leaving no
    ROI) is left out and listed with its reason in ``cases_csv``. A feature is kept when
    its ``icc_type`` ICC is at least ``threshold``; an undefined ICC is not kept.
    """
    if icc_type not in ICC_TYPES:
        raise InputError(f"robustness.icc_type must be one of {list(ICC_TYPES)}, not {icc_type!r}.")
    if len(original_csvs) != len(cases) or len(rater_csvs) != len(cases) * len(raters):
        raise ValueError("one original file per case and one file per case and rater are needed")
    split = pd.read_csv(split_csv, dtype=str).set_index("case_id")["set"]
    rows, usable = [], []
    for i, case in enumerate(cases):
        files = [original_csvs[i], *rater_csvs[i * len(raters) : (i + 1) * len(raters)]]
        case_set = split.get(case, "")
        reason = ""
        if case_set != "train":
            reason = "not in the training set" if case_set else "not in results/split.csv (left out upstream)"
        values = []
        if not reason:
            for name, path in zip((ORIGINAL, *raters), files):
                found = _feature_row(path)
                if isinstance(found, str):
                    reason = f"{name}: {found}"
                    break
                values.append(found)
        if reason:
            log.warning("case %s left out of the ICC: %s", case, reason)
        else:
            usable.append(values)
        raters_text = ";".join((ORIGINAL, *raters))
        rows.append({"case_id": case, "set": case_set, "raters": raters_text, "used": not reason, "reason": reason})
    write_csv(pd.DataFrame(rows, columns=CASE_COLUMNS), cases_csv)
    if len(usable) < MIN_CASES:
        raise InputError(
            f"robustness: only {len(usable)} training case(s) are usable for the ICC (at least {MIN_CASES} "
            f"are needed); see {cases_csv} for why the others were left out. Raise robustness.max_cases "
            "or add cases."
        )
    features = list(usable[0][0].index)
    # cases x raters x features; a feature missing from a perturbed file is NaN (undefined ICC).
    ratings = np.stack([np.stack([row.reindex(features).to_numpy(dtype=float) for row in values]) for values in usable])
    result = icc(ratings, alpha=alpha)
    table = pd.DataFrame({"feature": features, **result})
    finite = np.isfinite(ratings).all(axis=(0, 1))
    for name in ICC_TYPES:
        table[f"{name}_ci_reason"] = [
            icc_reason(*values) for values in zip(table[name], table[f"{name}_ci_low"], table[f"{name}_ci_high"], finite)
        ]
    table["n_cases"] = len(usable)
    table["n_raters"] = 1 + len(raters)
    chosen = table[icc_type].to_numpy()
    table["kept"] = np.where(np.isnan(chosen), False, chosen >= threshold)
    table = table[ICC_COLUMNS]
    log.info(
        "ICC on %d training case(s) x %d raters: %d of %d features kept (%s >= %g), %d undefined",
        len(usable),
        1 + len(raters),
        int(table["kept"].sum()),
        len(table),
        icc_type,
        threshold,
        int(np.isnan(chosen).sum()),
    )
    write_csv(table, icc_csv)
    return table


def plot_icc(icc_csv: str, icc_type: str, threshold: float, png: str, pdf: str) -> None:
    icc_figure(pd.read_csv(icc_csv, dtype={"feature": str}), icc_type, threshold, png, pdf)
