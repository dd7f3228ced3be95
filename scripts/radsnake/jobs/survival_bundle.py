"""Frozen survival models and their application to new patients (docs/survival.md,
"Bundles and apply"), in the layout of radsnake.ml.bundle and radsnake.ml.apply.

A survival study writes ``results/bundle/<model>/bundle.joblib`` and ``bundle.json`` for
each tuned model (coxnet, cox_ph, random_survival_forest): the fitted Pipeline's file as
written by ``survival_fit`` and a card that radsnake.ml.apply's checks read like a binary
bundle's (format, versions, params hash, features source, the negative-control flag), plus
the endpoint (time unit, horizons). Such a bundle has no separate rad-score pipeline:
every survival Pipeline holds its own Cox-LASSO selection. ``apply_all`` in the survival
study then writes each new case's risk and predicted survival at the horizons, and, when
the new sheet has the time and event columns, Harrell's C with its CI per model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from radsnake.ml.bundle import BUNDLE_FORMAT, provenance_fields, save_bundle, training_summary
from radsnake.core.errors import InputError
from radsnake.ml.modelling import design_matrix, load_design, read_features_table
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)


def write_survival_bundle(model: str, model_joblib: str, model_json: str, features_csv: str, split_csv: str,
                          clinical: list[str], params_path: str | None, diagnostics_files: list[str],
                          settings: dict, bundle_joblib: str, bundle_json: str) -> None:
    """Freeze one tuned survival model with what applying it needs and what it was made from."""
    design = load_design(features_csv, split_csv, clinical)
    centers = pd.read_csv(features_csv, dtype={"case_id": str, "center": str},
                          usecols=["case_id", "center"]).set_index("case_id")["center"]
    fitted = json.loads(Path(model_json).read_text())
    train_ids = set(design.features.index[design.train])
    training = training_summary(design, design.labels[design.train], centers)
    # The event is the label of features.csv: its "positives" are the training events.
    training["events"] = training.pop("n_positive")
    training.pop("prevalence")
    card = {
        "format": BUNDLE_FORMAT,
        "model": model,
        "endpoint": {"type": "survival", "time_unit": settings["time_unit"], "horizons": settings["horizons"]},
        "input_features": list(design.features.columns),
        "training": training,
        "fit": {"best_params": fitted["best_params"], "cv_c_index": fitted["cv_c_index"],
                "features": fitted["features"], "no_signal": fitted["no_signal"]},
        **provenance_fields(params_path, diagnostics_files, train_ids, settings),
    }
    # No rad-score file: the Pipeline holds its own Cox-LASSO.
    save_bundle(card, model_joblib, None, bundle_joblib, bundle_json)
    log.info("survival bundle of %s: %d input features, %d training cases (%d events)", model,
             len(card["input_features"]), training["n"], training["events"])


def new_outcomes(sheet_path: str, schema_path: str, endpoint: dict) -> pd.DataFrame | None:
    """The new cases' time and event, when the new sheet has both columns filled; else None.
    A bad cell stops the job with every problem listed (as the study's sheet check does)."""
    from radsnake.io.cohort_sheet import load_cohort
    from radsnake.io.survival_cohort import outcome_columns, outcome_problems, outcomes_table, with_outcome

    cohort = load_cohort(sheet_path, schema_path, {}, need_images=False, labels_required=False)
    columns = outcome_columns(endpoint)
    if not set(columns) <= set(cohort.columns) or (cohort[columns].astype(str).apply(lambda c: c.str.strip()) == "").any().any():
        return None
    problems = outcome_problems(cohort, endpoint)
    if problems:
        raise InputError(f"apply.cohort {sheet_path} has {len(problems)} problem(s) with its outcomes: "
                         + "; ".join(problems[:10]))
    return outcomes_table(with_outcome(cohort, endpoint), endpoint).set_index("case_id")


def apply_survival_bundles(features_csv: str, bundles: dict[str, tuple[str, str]], sheet_path: str,
                           schema_path: str, endpoint: dict, predictions_csv: str,
                           metrics_csv: str | None = None, source: str | None = None) -> None:
    """Each bundle's risk and S(h) at the study's horizons for every new case
    (``case_id,model,risk,survival_<h>...``); with the new cases' outcomes, Harrell's C
    with its 95% CI per model (``model,n,events,c_index,c_index_ci_low,c_index_ci_high``)."""
    from radsnake.ml.apply import missing_features, read_bundle
    from radsnake.stats.survival_evaluation import horizon_name
    from radsnake.ml.survival_models import survival_at
    from radsnake.stats.survival_stats import harrell_c

    table = read_features_table(features_csv)
    loaded = {model: read_bundle(*paths) for model, paths in sorted(bundles.items())}
    problems = [missing_features(bundle["card"]["input_features"], list(table.columns), model, bundles[model][1],
                                 source or features_csv) for model, bundle in loaded.items()]
    if any(problems):
        raise InputError("apply refused:\n  " + "\n  ".join(p for p in problems if p))
    outcomes = new_outcomes(sheet_path, schema_path, endpoint) if metrics_csv else None
    frames, rows = [], []
    for model, bundle in loaded.items():
        card = bundle["card"]
        X = design_matrix(table, [], features_csv, columns=card["input_features"])
        horizons = [float(h) for h in card["endpoint"]["horizons"]]
        frame = pd.DataFrame({"case_id": X.index, "model": model, "risk": bundle["model"].predict(X.to_numpy())})
        survival = survival_at(bundle["model"], X.to_numpy(), horizons)
        for column, horizon in enumerate(horizons):
            frame[f"survival_{horizon_name(horizon)}"] = survival[:, column]
        frames.append(frame)
        if outcomes is not None:
            known = outcomes.loc[frame["case_id"]]
            c = harrell_c(known["time"].to_numpy(), known["event"].to_numpy(), frame["risk"].to_numpy())
            rows.append({"model": model, "n": len(frame), "events": int(known["event"].sum()),
                         "c_index": c["c_index"], "c_index_ci_low": c["ci_low"], "c_index_ci_high": c["ci_high"]})
        log.info("survival model %s: %d new case(s) predicted", model, len(frame))
    write_csv(pd.concat(frames, ignore_index=True), predictions_csv)
    if metrics_csv:
        if outcomes is None:
            raise InputError(f"apply.cohort {sheet_path} lost its time or event column after the run was planned; "
                             "rerun apply_all.")
        write_csv(pd.DataFrame(rows), metrics_csv)
