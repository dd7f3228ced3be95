"""A selection that keeps no feature is a result, not a model: find it in a fitted
Pipeline, say it in one line, and label the rad-score and the models built on it
"no signature" everywhere they are listed.

What happens then (docs/statistics.md, "Selection that keeps nothing"): the rad-score is
the LASSO intercept, the same for every case; the models are still fitted, on the
selection's documented fallback (the first feature to enter the LASSO path, or the
smallest-p feature of the univariate filter), so that the workflow's outputs exist,
and every table, summary and figure that lists them says "no signature" instead of
presenting their intervals.
"""

from __future__ import annotations

import json

import numpy as np

NO_SIGNATURE = "no signature"
# Settings that make a step keep features, each with its cost (docs/statistics.md).
WHAT_TO_CHANGE = {
    "lasso": "lasso rule: min (lambda_min) or n_features: k (a fixed number of features)",
    "univariate": "univariate p_threshold higher, or fdr: false",
}


def empty_steps(pipeline) -> list[dict]:
    """Steps of a fitted Pipeline that kept no feature: step, finding, the fallback kept."""
    found = []
    for name, step in getattr(pipeline, "steps", []):
        finding = getattr(step, "kept_nothing_", None)
        if finding:
            names = getattr(step, "feature_names_in_", np.array([f"x{i}" for i in range(step.support_.size)]))
            found.append({"step": name, "finding": finding, "fallback": [str(f) for f in names[step.support_]]})
    return found


def settings_text(steps: list[dict]) -> str:
    kinds = dict.fromkeys(step["step"].split("_")[0] for step in steps)
    return "; ".join(WHAT_TO_CHANGE[kind] for kind in kinds if kind in WHAT_TO_CHANGE)


def message(selection: str, n_train: int, steps: list[dict]) -> str:
    """The one line a study prints when a selection kept no feature ('' when it kept some).

    selection: how the line names it, e.g. "selection 'main'"."""
    if not steps:
        return ""
    found = "; ".join(f"{step['step']}: {step['finding']}" for step in steps)
    fallback = steps[-1]["fallback"]
    return (
        f"{NO_SIGNATURE}: {selection} kept no feature on the training set ({n_train} cases): "
        f"{found}. The rad-score is constant; models are fitted on the fallback feature(s) "
        f"{fallback} and labelled '{NO_SIGNATURE}'. Settings that keep features, each at a cost in "
        f"optimism (docs/statistics.md): {settings_text(steps)}."
    )


def status(selection: str, n_train: int, pipeline) -> dict:
    """What results/selection/signature.json records."""
    steps = empty_steps(pipeline)
    return {"selection": selection, "signature": not steps, "empty_steps": steps,
            "message": message(selection, n_train, steps)}


def marked(frame, messages: dict[str, str], columns=("model",)):
    """frame with a ``no_signature`` column: for each row, the no-signature message of its
    model (messages: model -> message, '' or absent when it has a signature). With several
    model columns (a pairwise table), the models without signature are named."""
    if any(column not in frame for column in columns):  # an empty table
        marks = [""] * len(frame)
    elif len(columns) == 1:
        marks = [messages.get(str(model), "") or "" for model in frame[columns[0]]]
    else:
        marks = []
        for models in zip(*(frame[column] for column in columns)):
            empty = [str(model) for model in models if messages.get(str(model))]
            marks.append(f"{NO_SIGNATURE}: {', '.join(empty)}" if empty else "")
    return frame.assign(no_signature=marks)


def write_status(record: dict, path: str) -> None:
    with open(path, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")


def card_message(record: dict) -> str:
    """The no-signature message of a signature.json or model.json record ('' when there is a
    signature); a model.json keeps it under "extra" (radsnake.ml.models.save_model)."""
    return record.get("message") or record.get("extra", {}).get("no_signature") or ""


def read_message(path: str) -> str:
    with open(path) as handle:
        return card_message(json.load(handle))
