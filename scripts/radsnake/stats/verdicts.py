"""A plain-language verdict per model, computed from the tables, never written by hand;
and the notices (no signature, sets too small for a statistic) that head summary.md and
the report. Rules: docs/statistics.md ("Verdicts").
"""

from __future__ import annotations

import math

import pandas as pd

from radsnake.stats import intervals

CHANCE = 0.5


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def auc_phrase(row) -> tuple[str, str]:
    """(verdict word, evidence) of one metrics.csv row: beats / worse than / does not beat chance."""
    reason = _text(getattr(row, "auc_ci_reason", ""))
    if reason or not math.isfinite(row.auc_ci_low):
        return "no verdict", f"{row.set} ({reason or 'no interval'})"
    evidence = f"{row.set} AUC {intervals.formatted(row.auc, row.auc_ci_low, row.auc_ci_high)}"
    if row.auc_ci_low > CHANCE:
        return "beats chance", evidence
    if row.auc_ci_high < CHANCE:
        return "worse than chance", evidence
    return "does not beat chance", evidence


def beats_control(control: pd.DataFrame | None, model: str) -> str:
    """Where the negative control ran: on which held-out sets the real AUC's CI lies wholly above
    the permuted-label AUC's CI."""
    if control is None or control.empty:
        return ""
    rows = control[control["model"] == model]
    above, not_above = [], []
    for set_name, part in rows.groupby("set", sort=False):
        real, permuted = part[part["branch"] == "real"], part[part["branch"] == "permuted"]
        if real.empty or permuted.empty:
            continue
        low, high = real["auc_ci_low"].iloc[0], permuted["auc_ci_high"].iloc[0]
        (above if math.isfinite(low) and math.isfinite(high) and low > high else not_above).append(set_name)
    parts = []
    if above:
        parts.append(f"beats the leakage negative control on {', '.join(above)}")
    if not_above:
        parts.append(f"does not beat the leakage negative control on {', '.join(not_above)}")
    return "; ".join(parts)


def verdicts(metrics: pd.DataFrame, control: pd.DataFrame | None = None) -> pd.DataFrame:
    """One sentence per model from metrics.csv (and negative_control/metrics.csv)."""
    rows = []
    for model, frame in metrics.groupby("model", sort=False):
        held_out = frame[frame["set"] != "train"]
        no_signature = _text(frame["no_signature"].iloc[0]) if "no_signature" in frame else ""
        if no_signature:
            sentence = f"{model}: no signature (the selection kept no feature); not a model to report."
            rows.append({"model": model, "beats_chance": False, "verdict": sentence})
            continue
        groups: dict[str, list[str]] = {}
        for row in held_out.itertuples(index=False):
            word, evidence = auc_phrase(row)
            groups.setdefault(word, []).append(evidence)
        said = [f"{word} on {', '.join(evidence)}" for word, evidence in groups.items()]
        control_text = beats_control(control, model)
        sentence = f"{model}: " + ("; ".join(said) if said else "no held-out set") + (
            f"; {control_text}" if control_text else "") + "."
        rows.append({"model": model, "beats_chance": "beats chance" in groups, "verdict": sentence})
    return pd.DataFrame(rows, columns=["model", "beats_chance", "verdict"])


def study_sentence(table: pd.DataFrame) -> str:
    if table.empty or not table["beats_chance"].any():
        return "No model beats chance on any held-out set."
    return f"Models that beat chance on at least one held-out set: {', '.join(table.loc[table['beats_chance'], 'model'])}."


def notices(signature_message: str, small_sets: list[str]) -> list[str]:
    """The lines that head summary.md and the report: no signature, and sets too small."""
    return ([signature_message] if signature_message else []) + small_sets


def markdown(notes: list[str], table: pd.DataFrame) -> str:
    """The head of summary.md."""
    head = "".join(f"**Note:** {line}\n\n" for line in notes)
    return head + f"**Verdicts.** {study_sentence(table)}\n" + "".join(f"- {v}\n" for v in table["verdict"]) + "\n"


def rst(notes: list[str], table: pd.DataFrame) -> str:
    """The same head for the report's first page (reStructuredText)."""
    out = [f"**Note:** {line}\n" for line in notes]
    out.append(f"**Verdicts.** {study_sentence(table)}\n")
    out += [f"- {v}" for v in table["verdict"]]
    return "\n".join(out) + "\n\n"
