"""Plausibility of the features before selection, on the training set (familiar 2.0's
checks, with messages that name the columns, the cases and the fix).

Stops (a leak, or a duplicated patient, makes every number after it wrong):

* a column named like an outcome (``Target``, ``label``, ``outcome``, ``y``, ...);
* a column that is the training outcome under another coding (two values, one per label);
* two cases with identical feature rows (one patient twice, or a copied row);
* a single feature that separates the training labels perfectly, when the training set
  is large enough that this is no accident: at least ``SEPARATION_MIN_CASES`` of each
  label, and fewer than ``SEPARATION_CHANCE`` features expected to do so by chance.

Cautions (shown, the run goes on):

* perfect separation on a smaller training set, where real features do it by chance
  (5 + 5 training cases: a noise feature separates them with probability 2/252);
* constant columns: PyRadiomics writes them legitimately (e.g. shape features of a 2D
  ROI, a filter that is flat on small ROIs), and the variance step drops them.

A column or case listed under ``plausibility.allow`` is not reported: the user says
they mean it (docs/design.md, "Checks before fitting").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Usual names of an outcome column, compared case-insensitively (the sheet's own outcome
# column is `label`).
OUTCOME_NAMES = ("target", "label", "labels", "outcome", "y", "class", "response", "diagnosis", "event")
SEPARATION_MIN_CASES = 10
SEPARATION_CHANCE = 1e-3
SHOWN = 10


def listed(names) -> str:
    names = [str(name) for name in names]
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def outcome_named(columns, outcome: str = "label") -> list[str]:
    names = {*OUTCOME_NAMES, outcome.lower()}
    return [column for column in columns if str(column).strip().lower() in names]


def outcome_copies(X: pd.DataFrame, y: np.ndarray) -> list[str]:
    """Columns with two values, each on exactly one training label."""
    found = []
    for column in X.columns:
        values = X[column].to_numpy()
        if np.unique(values).size == 2 and all(np.unique(values[y == label]).size == 1 for label in (0, 1)):
            found.append(column)
    return found


def separating(X: pd.DataFrame, y: np.ndarray) -> list[str]:
    """Columns whose every training value of one label lies above every value of the other."""
    values = X.to_numpy(dtype=float)
    positives, negatives = values[y == 1], values[y == 0]
    above = positives.min(axis=0) > negatives.max(axis=0)
    below = positives.max(axis=0) < negatives.min(axis=0)
    return list(X.columns[above | below])


def chance_separators(n_features: int, positives: int, negatives: int) -> float:
    """Features expected to separate the labels perfectly by chance: each continuous
    noise feature does so with probability 2 / C(n, positives)."""
    return n_features * 2.0 / math.comb(positives + negatives, positives)


def constant(X: pd.DataFrame) -> list[str]:
    values = X.to_numpy(dtype=float)
    return list(X.columns[(values == values[0]).all(axis=0)]) if len(X) else []


def identical_rows(X: pd.DataFrame, sets: pd.Series) -> list[list[str]]:
    """Groups of cases (by case id, with their set) whose feature rows are identical."""
    # Rows hashed first (one pass), then compared exactly within each group of equal hashes.
    hashes = pd.util.hash_pandas_object(X, index=False)
    found = []
    for _, members in hashes[hashes.duplicated(keep=False)].groupby(hashes, sort=False):
        alike: dict[bytes, list[str]] = {}
        for case, row in zip(members.index, X.loc[members.index].to_numpy(dtype=float)):
            alike.setdefault(row.tobytes(), []).append(case)
        found += [[f"{case} ({sets[case]})" for case in sorted(same)] for same in alike.values() if len(same) > 1]
    return sorted(found)


def plausibility(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, sets: pd.Series, allow: list[str],
                 source: str) -> tuple[list[str], list[str], list[dict]]:
    """(stop lines, caution lines, table rows) for the features X of every case (indexed by case id)."""
    allowed = {str(name) for name in allow}
    X_train, y_train = X[train], np.asarray(y)[train]
    columns = [c for c in X.columns if str(c) not in allowed]
    fix = f"Remove it from {source}, or list it under plausibility.allow in the config if you mean it"
    stops, cautions, rows = [], [], []

    def record(check: str, status: str, found: list, line: str = "") -> None:
        rows.append({"check": check, "status": status, "count": len(found), "found": listed(found)})
        if status == "stop":
            stops.append(line)
        elif status == "caution":
            cautions.append(line)

    named = outcome_named(columns)
    record("outcome name", "stop" if named else "ok", named,
           f"feature column(s) {listed(named)} in {source} are named like an outcome ({', '.join(OUTCOME_NAMES)}): "
           f"an outcome among the features leaks it into every model. {fix}.")
    copies = [c for c in outcome_copies(X_train[columns], y_train) if c not in named]
    record("equal to the outcome", "stop" if copies else "ok", copies,
           f"feature column(s) {listed(copies)} in {source} equal the training outcome (one value per label): "
           f"the outcome is among the features. {fix}.")
    rest = [c for c in columns if c not in named and c not in copies]
    flat = constant(X_train[rest])
    varying = [c for c in rest if c not in set(flat)]
    separators = separating(X_train[varying], y_train) if varying else []
    positives, negatives = int(np.sum(y_train == 1)), int(np.sum(y_train == 0))
    expected = chance_separators(len(varying), positives, negatives)
    decisive = min(positives, negatives) >= SEPARATION_MIN_CASES and expected < SEPARATION_CHANCE
    what = (
        f"feature(s) {listed(separators)} in {source} separate the training labels perfectly on their own "
        f"({positives} with label 1, {negatives} with label 0)"
    )
    if decisive:
        line = (f"{what}; by chance that would happen to {expected:.1g} of {len(varying)} features, so it is "
                f"likely a leak (a feature computed from the outcome). {fix}.")
    else:
        line = (f"{what}; on so few cases this also happens by chance ({expected:.2g} features expected), so "
                "the run goes on. Check these columns are not derived from the outcome.")
    record("perfect separation", ("stop" if decisive else "caution") if separators else "ok", separators, line)
    record("constant", "caution" if flat else "ok", flat,
           f"{len(flat)} feature column(s) of {source} are constant on the training set ({listed(flat)}); the "
           "variance step drops them. Expected for some extracted features (e.g. shape on a 2D ROI); otherwise "
           "check how the table was made.")
    twins = [group for group in identical_rows(X[columns], sets) if not all(c.split(" ")[0] in allowed for c in group)]
    record("identical rows", "stop" if twins else "ok", ["=".join(group) for group in twins],
           f"case(s) with identical feature rows in {source}: {'; '.join(' = '.join(g) for g in twins[:SHOWN])}. "
           "One patient entered twice (or a copied row) counts twice and, across sets, scores the model on its own "
           "training data. Remove the duplicate row, or list the case ids under plausibility.allow if they are "
           "different patients.")
    return stops, cautions, rows
