"""Two checks that a study's result is not an artefact: the leakage negative control
(real vs permuted-label AUCs) and the comparison of every model x selection combination.

Both are generic over the set names found in the predictions: every set other than
``train`` is a held-out set (``test``, ``external`` or one set per external cohort).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from radsnake.stats import intervals, discrimination as stats
from radsnake.io.external import in_set, ordered_sets
from radsnake.stats.signature import card_message
from radsnake.core.runtime import tell_console

log = logging.getLogger(__name__)

CHANCE = 0.5
CONTROL_COLUMNS = ["model", "set", "branch", "n", "auc", "auc_ci_low", "auc_ci_high", "ci_contains_chance",
                   "auc_ci_reason", "no_signature"]
COMPARISON_LEAD_COLUMNS = ["model", "selection", "main", "n_features", "cv_auc", "cv_auc_sd", "cv_rank", "best_params",
                           "no_signature"]
MAIN_SELECTION = "main"


def held_out_sets(frames: Sequence[pd.DataFrame], planned: Sequence[str] | None = None) -> list[str]:
    """The held-out sets: ``planned`` (the study's evaluation sets, which may add the pooled
    external set) without ``train``; else every set but ``train`` found in the frames."""
    if planned is not None:
        return [name for name in planned if name != "train"]
    found = {str(value) for frame in frames for value in frame["set"].unique()} - {"train"}
    return ordered_sets(found)


def auc_with_ci(part: pd.DataFrame, level: float) -> dict:
    """AUC and DeLong CI of one model on one set, and why the CI is missing or has no width
    (radsnake.stats.intervals); NaN when the set lacks a class."""
    y = part["label"].to_numpy(dtype=int)
    score = part["probability"].to_numpy(dtype=float)
    if len(np.unique(y)) < 2:
        auc = {"auc": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    else:
        auc = stats.auc_delong(y, score, level=level)
    reason = intervals.delong_reason(y, score, auc["auc"], auc["ci_low"], auc["ci_high"])
    return {"auc": auc["auc"], "auc_ci_low": auc["ci_low"], "auc_ci_high": auc["ci_high"], "auc_ci_reason": reason}


def auc_rows(predictions: Mapping[str, pd.DataFrame], sets: Sequence[str], level: float) -> list[dict]:
    """One row per model and set: n, AUC and its DeLong CI."""
    rows = []
    for model, frame in predictions.items():
        for set_name in sets:
            part = in_set(frame, set_name)
            if part.empty:
                continue
            rows.append({"model": model, "set": set_name, "n": len(part), **auc_with_ci(part, level)})
    return rows


def negative_control_table(
    real: Mapping[str, pd.DataFrame], control: Mapping[str, pd.DataFrame], level: float,
    sets: Sequence[str] | None = None, no_signature: Mapping[tuple[str, str], str] | None = None,
) -> pd.DataFrame:
    """Real and permuted-label AUCs per model and held-out set, side by side (long format).

    ``ci_contains_chance`` says whether the CI covers 0.5: expected for every permuted
    row of an honest pipeline, and for no real row of a study with signal.
    """
    sets = held_out_sets([*real.values(), *control.values()], sets)
    frames = []
    for branch, predictions in (("real", real), ("permuted", control)):
        rows = auc_rows(predictions, sets, level)
        frames.append(pd.DataFrame(rows, columns=["model", "set", "n", "auc", "auc_ci_low", "auc_ci_high",
                                                 "auc_ci_reason"]).assign(
            branch=branch
        ))
    table = pd.concat(frames, ignore_index=True)
    table["ci_contains_chance"] = (table["auc_ci_low"] <= CHANCE) & (table["auc_ci_high"] >= CHANCE)
    # (model, branch) -> the no-signature message of that fit (radsnake.stats.signature).
    messages = no_signature or {}
    table["no_signature"] = [messages.get((m, b), "") for m, b in zip(table["model"], table["branch"])]
    # Rows grouped by set, then model, real before permuted: the pairs to compare sit together.
    models = list(dict.fromkeys([*real, *control]))
    table["_set"] = table["set"].map({name: i for i, name in enumerate(sets)})
    table["_model"] = table["model"].map({name: i for i, name in enumerate(models)})
    table["_branch"] = table["branch"].map({"real": 0, "permuted": 1})
    table = table.sort_values(["_set", "_model", "_branch"], kind="stable").drop(columns=["_set", "_model", "_branch"])
    return table[CONTROL_COLUMNS].reset_index(drop=True)


@dataclass
class Fit:
    """One tuned model x selection combination, as its job wrote it."""

    model: str
    selection: str
    predictions: pd.DataFrame
    cv_results: pd.DataFrame
    info: dict


def best_cv_row(cv_results: pd.DataFrame) -> pd.Series:
    """The grid point GridSearchCV refitted (rank 1; the first of ties, as sklearn picks)."""
    return cv_results.sort_values("rank", kind="stable").iloc[0]


def model_comparison_table(fits: Sequence[Fit], level: float, sets: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per model x selection: CV AUC on the training set and AUC with DeLong CI per held-out set.

    ``cv_rank`` ranks the combinations by CV AUC (1 = best; ties share the best rank),
    so a reader sees where the configured (``main``) selection stands among the
    alternatives before looking at any test AUC.
    """
    sets = held_out_sets([fit.predictions for fit in fits], sets)
    rows = []
    for fit in fits:
        best = best_cv_row(fit.cv_results)
        row = {
            "model": fit.model,
            "selection": fit.selection,
            "main": fit.selection == MAIN_SELECTION,
            "n_features": len(fit.info.get("selected_features", [])),
            "cv_auc": float(best["mean_test_score"]),
            "cv_auc_sd": float(best["std_test_score"]),
            "best_params": str(best["params"]),
            "no_signature": card_message(fit.info),
        }
        for set_name in sets:
            part = in_set(fit.predictions, set_name)
            auc = auc_with_ci(part, level) if len(part) else {
                **dict.fromkeys(["auc", "auc_ci_low", "auc_ci_high"], np.nan), "auc_ci_reason": "no cases"}
            row[f"n_{set_name}"] = len(part)
            row[f"auc_{set_name}"] = auc["auc"]
            row[f"auc_{set_name}_ci_low"] = auc["auc_ci_low"]
            row[f"auc_{set_name}_ci_high"] = auc["auc_ci_high"]
            row[f"auc_{set_name}_ci_reason"] = auc["auc_ci_reason"]
        rows.append(row)
    set_columns = [f"{kind}_{name}{suffix}" for name in sets for kind, suffix in
                   (("n", ""), ("auc", ""), ("auc", "_ci_low"), ("auc", "_ci_high"), ("auc", "_ci_reason"))]
    table = pd.DataFrame(rows, columns=[c for c in COMPARISON_LEAD_COLUMNS if c != "cv_rank"] + set_columns)
    table.insert(COMPARISON_LEAD_COLUMNS.index("cv_rank"), "cv_rank",
                 # A CV AUC is NaN when a fold held one class (few events): no rank.
                 table["cv_auc"].rank(method="min", ascending=False).astype("Int64"))
    return table


def comparison_set_names(table: pd.DataFrame) -> list[str]:
    """Held-out set names of a comparison table, in column order."""
    return [c[len("auc_"):-len("_ci_low")] for c in table.columns if c.startswith("auc_") and c.endswith("_ci_low")]


def announce_empty_alternatives(fits: Sequence[Fit]) -> None:
    """One console line per alternative selection that kept no feature (the main one is
    announced by select_features)."""
    said = set()
    for fit in fits:
        text = card_message(fit.info)
        if text and fit.selection != MAIN_SELECTION and fit.selection not in said:
            said.add(fit.selection)
            tell_console(text.replace("this model's selection", f"comparison selection '{fit.selection}'", 1))


# ---- rule entry points -----------------------------------------------------------------
