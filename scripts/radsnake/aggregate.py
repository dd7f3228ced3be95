"""Join per-case feature rows (or a bring-your-own table) with the sheet's outcome data."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pandas as pd

from radsnake.cohort import load_cohort, read_feature_table
from radsnake.errors import InputError
from radsnake.tables import write_csv

log = logging.getLogger(__name__)

META_COLUMNS = ("case_id", "label", "center")


def read_feature_rows(feature_files: list[str]) -> pd.DataFrame:
    """Stack one-row CSVs into a float matrix, checking every case has the same features."""
    columns = None
    values = None
    ids = []
    for row_number, path in enumerate(feature_files):
        with open(path, newline="") as handle:
            header, row = list(csv.reader(handle))[:2]
        if columns is None:
            columns = header[1:]
            # Preallocated: peak memory stays near the final table's size.
            values = np.empty((len(feature_files), len(columns)), dtype=np.float64)
        elif header[1:] != columns:
            differing = sorted(set(header[1:]).symmetric_difference(columns))[:5]
            raise InputError(
                f"case {row[0]}: {path} has different feature columns from the first case "
                f"({differing}...). All cases must be extracted with the same params; delete "
                "results/features/ and rerun."
            )
        ids.append(row[0])
        values[row_number] = np.asarray(row[1:], dtype=np.float64)
    return pd.DataFrame(values, index=pd.Index(ids, name="case_id"), columns=columns)


def build_table(features: pd.DataFrame, cohort: pd.DataFrame, clinical: list[str]) -> pd.DataFrame:
    """Cases sorted by id; outcome, centre and clinical columns first, then features."""
    clashes = [c for c in (*META_COLUMNS, *clinical) if c in features.columns]
    if clashes:
        raise InputError(f"feature column(s) {clashes} clash with the sheet's column names; rename them.")
    meta = cohort.loc[features.index, ["label", "center", *clinical]]
    table = pd.concat([meta, features], axis=1).sort_index()
    table.index.name = "case_id"
    return table.reset_index()


def write_table(features: pd.DataFrame, cohort: pd.DataFrame, clinical: dict[str, str], output_csv: str) -> None:
    table = build_table(features, cohort, list(clinical))
    log.info("%d cases x %d features -> %s", len(table), features.shape[1], output_csv)
    write_csv(table, output_csv)


def aggregate_features(
    feature_files: list[str],
    sheet_path: str,
    schema_path: str,
    clinical: dict[str, str],
    output_csv: str,
) -> None:
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False)
    write_table(read_feature_rows(feature_files), cohort, clinical, output_csv)


def import_features(
    table_path: str,
    sheet_path: str,
    schema_path: str,
    clinical: dict[str, str],
    output_csv: str,
) -> None:
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False)
    write_table(read_feature_table(table_path, cohort).astype(np.float64), cohort, clinical, output_csv)
