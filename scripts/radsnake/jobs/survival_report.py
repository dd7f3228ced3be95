"""results/survival/summary.md: the survival study in a few paper-ready lines (C-index with
its 95% CI per model and set, the verdicts on the held-out and negative-control C-indices,
the clinical vs radiomics vs combined models, and the bootstrap-corrected C-index when
internal validation ran)."""

from __future__ import annotations

import math

import pandas as pd

from radsnake.io.external import is_external

CHANCE = 0.5


def interval(row) -> str:
    return f"{row['c_index']:.3f} ({row['c_index_ci_low']:.3f}–{row['c_index_ci_high']:.3f})"


def excludes_chance(row) -> bool:
    return bool(row["c_index_ci_low"] > CHANCE or row["c_index_ci_high"] < CHANCE)


def held_out(frame: pd.DataFrame) -> pd.DataFrame:
    sets = frame["set"].astype(str)
    return frame[(sets == "test") | sets.map(is_external)]


def metrics_table(metrics: pd.DataFrame) -> list[str]:
    horizons = [c for c in metrics.columns if c.startswith("td_auc_")]
    head = ["model", "set", "n", "events", "Harrell's C (95% CI)", "Uno's C", "IBS",
            *[f"td-AUC {c.removeprefix('td_auc_')}" for c in horizons]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in metrics.iterrows():
        cells = [row["model"], row["set"], str(int(row["n"])), str(int(row["events"])), interval(row),
                 fmt(row["uno_c"]), fmt(row["ibs"]), *[fmt(row[c]) for c in horizons]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def signal_verdict(row) -> str:
    if row["c_index_ci_low"] > CHANCE:
        return "the CI lies above 0.5: a prognostic signal on held-out cases"
    if row["c_index_ci_high"] < CHANCE:
        return "the CI lies below 0.5: the risk ranks the cases backwards"
    return "the CI contains 0.5: no signal shown"


def control_verdict(row) -> str:
    if excludes_chance(row):
        return ("the CI EXCLUDES 0.5: by chance (about 1 in 20 per row) or leakage; "
                "look at the pipeline before trusting the real models")
    return "the CI contains 0.5, as it must"


def verdict_lines(metrics: pd.DataFrame, verdict) -> list[str]:
    """One line per model and held-out set: its C-index with CI and the verdict on it."""
    return [f"- {row['model']} on {row['set']}: C-index {interval(row)}; {verdict(row)}."
            for _, row in held_out(metrics).iterrows()]


def validation_lines(validation: pd.DataFrame) -> list[str]:
    lines = []
    for _, row in validation.iterrows():
        lines.append(
            f"- {row['model']}: apparent C-index {row['apparent_c']:.3f}, optimism {row['optimism']:.3f} "
            f"(SD {row['optimism_sd']:.3f}, {int(row['n_boot'])} bootstrap resamples), "
            f"optimism-corrected {row['corrected_c']:.3f}."
        )
    return lines


COMPARISON = ("clinical", "radscore", "combined")


def comparison_lines(metrics: pd.DataFrame) -> list[str]:
    """Clinical vs radiomics vs combined Cox models, per set: their C-indices and the
    combined model's difference from the clinical one (a point difference, not a test)."""
    by_model = metrics.set_index(["model", "set"])
    lines = []
    for set_name in dict.fromkeys(metrics["set"]):
        rows = {model: by_model.loc[(model, set_name)] for model in COMPARISON}
        gain = rows["combined"]["c_index"] - rows["clinical"]["c_index"]
        lines.append(f"- {set_name}: " + ", ".join(f"{model} {interval(row)}" for model, row in rows.items())
                     + f"; combined − clinical {gain:+.3f}.")
    return lines


def summary_lines(metrics: pd.DataFrame, control: pd.DataFrame | None, validation: pd.DataFrame | None,
                  unit: str) -> list[str]:
    train = metrics[metrics["set"] == "train"].iloc[0]
    lines = [
        "# Survival study",
        "",
        (f"Training set: {int(train['n'])} cases, {int(train['events'])} events (time in {unit}). "
         "Harrell's C with the 95% CI of survival::concordance (infinitesimal jackknife)."),
        "",
        *metrics_table(metrics),
        "",
        "## Held-out C-index",
        "",
        *verdict_lines(metrics, signal_verdict),
    ]
    if set(COMPARISON) <= set(metrics["model"]):
        lines += ["", "## Clinical vs radiomics vs combined (Cox PH on the training cases)", "",
                  ("Harrell's C (95% CI) of Cox models on the clinical variables, on the rad-score, "
                   "and on both (the nomogram's model)."), "", *comparison_lines(metrics)]
    if validation is not None:
        lines += ["", "## Internal validation (Harrell's bootstrap optimism, training cases)", "",
                  *validation_lines(validation)]
    if control is not None:
        lines += ["", "## Negative control (training outcomes permuted)", "", *verdict_lines(control, control_verdict)]
    return lines


def write_summary(metrics_csv, control_csv, validation_csv, unit: str, summary_md) -> None:
    metrics = pd.read_csv(metrics_csv)
    control = pd.read_csv(control_csv) if control_csv else None
    validation = pd.read_csv(validation_csv) if validation_csv else None
    with open(summary_md, "w") as handle:
        handle.write("\n".join(summary_lines(metrics, control, validation, unit)) + "\n")
