"""The survival outcome in the cohort sheet, and the checks made before any job runs.

A survival study's sheet gives a follow-up time and an event indicator per case (their
column names in the config's endpoint section). radsnake.io.cohort_sheet.load_cohort calls
:func:`outcome_problems` on the sheet's rows and :func:`with_outcome` on the loaded
cohort, whose ``label`` then is the event: the split stratifies by it, as the binary
study stratifies by its label (docs/survival.md).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from radsnake.io.sheets import is_number, to_numbers


def is_survival(endpoint: dict | None) -> bool:
    return bool(endpoint) and endpoint.get("type", "binary") == "survival"


def outcome_columns(endpoint: dict) -> list[str]:
    return [endpoint.get("time_column", "time"), endpoint.get("event_column", "event")]


def outcome_problems(sheet: pd.DataFrame, endpoint: dict, separator: str = "comma") -> list[str]:
    """One line per bad time or event cell, naming the row (header = row 1) and case."""
    time_column, event_column = outcome_columns(endpoint)
    problems = []
    for index, record in enumerate(sheet.to_dict("records")):
        where = f"row {index + 2} (case_id '{record.get('case_id', '')}')"
        time = str(record[time_column]).strip()
        if time == "":
            problems.append(
                f"{where}: the follow-up time ({time_column}) is missing. Give the time to the event, "
                "or to the last contact when the case is censored."
            )
        elif not is_number(time, separator) or not math.isfinite(number(time, separator)):
            problems.append(f"{where}: the follow-up time ({time_column}) '{time}' is not a number.")
        elif number(time, separator) < 0:
            problems.append(
                f"{where}: the follow-up time ({time_column}) {time} is negative. Times run from the "
                "start of follow-up (diagnosis, treatment) and are >= 0: fix the date arithmetic."
            )
        event = str(record[event_column]).strip()
        if event not in ("0", "1"):
            problems.append(
                f"{where}: the event ({event_column}) is '{event}', but must be 1 (event at that time) "
                "or 0 (censored). Recode it."
            )
    return problems


def number(text: str, separator: str) -> float:
    return float(to_numbers(pd.Series([text]), separator).iloc[0])


def with_outcome(cohort: pd.DataFrame, endpoint: dict, separator: str = "comma") -> pd.DataFrame:
    """The cohort with numeric time and event columns and ``label`` = the event."""
    time_column, event_column = outcome_columns(endpoint)
    cohort = cohort.copy()
    cohort[time_column] = to_numbers(cohort[time_column], separator).astype(float)
    cohort[event_column] = cohort[event_column].astype(int)
    cohort["label"] = cohort[event_column].astype(int)
    return cohort


def outcomes_table(cohort: pd.DataFrame, endpoint: dict) -> pd.DataFrame:
    """case_id, time, event of every case, sorted by id (results/survival/outcomes.csv)."""
    time_column, event_column = outcome_columns(endpoint)
    table = pd.DataFrame({
        "case_id": cohort["case_id"].astype(str).to_numpy(),
        "time": cohort[time_column].to_numpy(dtype=float),
        "event": cohort[event_column].to_numpy(dtype=int),
    })
    return table.sort_values("case_id", kind="stable").reset_index(drop=True)


def study_problems(cohort: pd.DataFrame, planned_sets: pd.Series, endpoint: dict, sheet_path: str) -> list[str]:
    """The checks that need the planned split: at least one horizon, each below the
    training set's last follow-up, and enough training events (events per variable)."""
    time_column, event_column = outcome_columns(endpoint)
    unit = endpoint.get("time_unit", "months")
    horizons = list(endpoint.get("horizons", []))
    problems = []
    if not horizons:
        problems.append(
            "endpoint.horizons is empty: a survival study needs at least one horizon (in "
            f"endpoint.time_unit, {unit}) for the time-dependent AUC, Brier score and calibration. "
            "Set e.g. horizons: [12, 24, 36]."
        )
    train = cohort.loc[planned_sets.index[planned_sets == "train"]]
    if train.empty:
        return problems
    times = train[time_column].to_numpy(dtype=float)
    last = float(np.max(times))
    last_case = str(train.index[int(np.argmax(times))])
    beyond = [h for h in horizons if h >= last]
    if beyond:
        problems.append(
            f"endpoint.horizons {beyond} {unit}: at or beyond the last follow-up of the training set "
            f"({last:g} {unit}, case {last_case} in {sheet_path}); no training case is followed that "
            f"long, so nothing can be estimated there. Use horizons below {last:g}, or add cases with "
            "longer follow-up."
        )
    events = int(train[event_column].sum())
    epv = int(endpoint.get("min_events_per_variable", 10))
    if events < epv:
        problems.append(
            f"{sheet_path}: the training set will hold {events} event(s) among {len(train)} cases; a Cox "
            f"model needs at least {epv} events per variable (endpoint.min_events_per_variable), so at "
            f"least {epv} events for a single variable. Add cases with events (or follow the cases longer)."
        )
    return problems
