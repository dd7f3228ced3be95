"""Job of rules/split.smk: the train/test split and the checks of the training set before fitting."""

from __future__ import annotations

import logging
import os

import pandas as pd

from radsnake.cohort.split import KEPT_CSV, assign_sets, check_usable, read_kept, read_locked, set_table, updated_kept
from radsnake.core.errors import InputError
from radsnake.core.tables import write_csv
from radsnake.ml.fit_checks import check_sizes, settings_from_config
from radsnake.ml.modelling import load_design, read_features_table
from radsnake.ml.plausibility import plausibility

log = logging.getLogger(__name__)


def split_cases(
    features_csv: str,
    population: pd.DataFrame,
    method: str,
    test_fraction: float,
    external_centers: list[str],
    seed: int,
    locked_csv: str,
    output_csv: str,
    sets_csv: str,
    kept_csv: str = KEPT_CSV,
    case_cohorts: dict[str, str] | None = None,
    strata: list[str] | None = None,
) -> None:
    """results/split.csv for the cases of features.csv, and the kept file updated.

    population: :func:`draw_population` of the sheet, made at parse time, so that the
    first draw is the one predict_sets foresaw; cases of features.csv it lacks join it.
    """
    strata = list(strata or [])
    columns = ["case_id", "label", "center", *[s for s in strata if s != "center"]]
    cases = pd.read_csv(features_csv, usecols=columns, dtype={c: str for c in columns if c != "label"})
    cases = cases.fillna("")
    extra = cases[~cases["case_id"].isin(population["case_id"])]
    population = pd.concat([population[columns], extra], ignore_index=True)
    kept = read_kept(kept_csv, earlier_csv="")
    assignment = assign_sets(
        population, method, test_fraction, external_centers, seed, read_locked(locked_csv),
        case_cohorts=case_cohorts, kept=kept, strata=strata,
    )
    new_kept = updated_kept(kept, assignment)
    if kept is None or not new_kept.equals(kept.reset_index(drop=True)):
        write_csv(new_kept, kept_csv)
        log.info("kept assignment written to %s (%d cases)", os.path.abspath(kept_csv), len(new_kept))
    split = assignment[assignment["case_id"].isin(cases["case_id"])].reset_index(drop=True)
    check_usable(split, cases)
    labels = cases.set_index("case_id")["label"].astype(int)
    counts = pd.crosstab([split["set"], split["assigned_by"]], labels.loc[split["case_id"]].to_numpy())
    log.info("cases per set, how assigned, and label:\n%s", counts.to_string())
    write_csv(split[["case_id", "set"]], output_csv)
    write_csv(set_table(split, labels), sets_csv)


def check_training_set(features_csv: str, split_csv: str, config: dict, output_csv: str) -> list[str]:
    """The checks of the split_cases rule, right after the split: plausibility of the
    features, then outcome and size checks; writes one row per check and returns the
    cautions for the console. Every stop is one InputError naming each problem, its
    counts and the fix.

    ``config`` is the study's whole config (snakemake.config), not rule params, so that
    editing a fold count does not rerun the split and every fit after it."""


    clinical = dict(config["clinical"])
    settings = settings_from_config(config)
    allow = list(config["plausibility"]["allow"])
    source = os.path.abspath(config["features_table"]) if config["features_table"] else "results/features.csv"
    design = load_design(features_csv, split_csv, list(clinical))
    sets = pd.Series(design.sets, index=design.features.index)
    stops, cautions, rows = plausibility(design.features, design.labels, design.train, sets, allow, source)
    train_labels = design.labels[design.train]
    held_out = {name: design.labels[design.sets == name] for name in sorted(set(design.sets)) if name != "train"}
    table = read_features_table(features_csv).set_index("case_id").loc[design.features.index]
    levels = {name: int(table.loc[design.train, name].nunique()) for name, kind in clinical.items() if kind != "numeric"}
    sizes = []
    # The sizes of the binary branch's CVs and models; a survival study runs none of them (its
    # events per variable are checked at parse time, radsnake.io.survival_cohort).
    survival = config["endpoint"]["type"] == "survival"
    try:
        sizes = [] if survival else check_sizes(train_labels, held_out, dict(settings, clinical=clinical), levels)
    except InputError as err:
        stops.append(str(err))
    if len(stops) == 1:
        raise InputError(stops[0])
    if stops:
        listed = "\n  ".join(stops)
        raise InputError(f"{len(stops)} problem(s) with the training set stop the run before selection:\n  {listed}")
    rows.append({"check": "outcome and size", "status": "caution" if sizes else "ok", "count": len(sizes),
                 "found": " | ".join(sizes)})
    cautions += sizes
    write_csv(pd.DataFrame(rows, columns=["check", "status", "count", "found"]), output_csv)
    return cautions
