"""Join per-case feature rows (or a bring-your-own table) with the sheet's outcome data."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pandas as pd

from radsnake.cohort import load_cohort, read_feature_table
from radsnake.errors import InputError
from radsnake.inputs import EXCLUSION_COLUMNS, PROVENANCE_PREFIX
from radsnake.tables import write_csv

log = logging.getLogger(__name__)

META_COLUMNS = ("case_id", "label", "center")


def read_feature_rows(feature_files: list[str]) -> pd.DataFrame:
    """Stack one-row CSVs into a float matrix, checking every case has the same features."""
    return _read_rows(feature_files)[0]


def _read_rows(feature_files: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features as floats, provenance columns as text), one row per file, in file order."""
    columns = None
    values = None
    keep = None
    ids, sources = [], []
    for row_number, path in enumerate(feature_files):
        with open(path, newline="") as handle:
            header, row = list(csv.reader(handle))[:2]
        if columns is None:
            columns = header[1:]
            keep = [i for i, c in enumerate(columns) if not c.startswith(PROVENANCE_PREFIX)]
            source_columns = [c for c in columns if c.startswith(PROVENANCE_PREFIX)]
            # Preallocated: peak memory stays near the final table's size.
            values = np.empty((len(feature_files), len(keep)), dtype=np.float64)
        elif header[1:] != columns:
            differing = sorted(set(header[1:]).symmetric_difference(columns))[:5]
            raise InputError(
                f"case {row[0]}: {path} has different feature columns from the first case "
                f"({differing}...). All cases must be extracted with the same params; delete "
                "results/features/ and rerun."
            )
        ids.append(row[0])
        cells = row[1:]
        values[row_number] = np.asarray([cells[i] for i in keep], dtype=np.float64)
        sources.append([c for i, c in enumerate(cells) if i not in set(keep)])
    index = pd.Index(ids, name="case_id")
    if columns is None:
        return pd.DataFrame(index=index, dtype=np.float64), pd.DataFrame(index=index)
    features = pd.DataFrame(values, index=index, columns=[columns[i] for i in keep])
    return features, pd.DataFrame(sources, index=index, columns=source_columns, dtype=str)


def split_exclusions(feature_files: list[str]) -> tuple[list[str], dict[str, str]]:
    """Feature files with features, and {case: reason} of the exclusion records written
    for cases that failed QC (qc.on_fail: exclude)."""
    included, excluded = [], {}
    for path in feature_files:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))[:2]
        if rows and rows[0] == EXCLUSION_COLUMNS:
            excluded[rows[1][0]] = rows[1][1]
        else:
            included.append(path)
    return included, excluded


def build_table(
    features: pd.DataFrame, cohort: pd.DataFrame, clinical: list[str], sources: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Cases sorted by id; outcome, centre and clinical columns first, then the
    provenance (source_*) columns, then features."""
    clashes = [c for c in (*META_COLUMNS, *clinical) if c in features.columns]
    if clashes:
        raise InputError(f"feature column(s) {clashes} clash with the sheet's column names; rename them.")
    meta = cohort.loc[features.index, ["label", "center", *clinical]]
    parts = [meta] + ([sources.loc[features.index]] if sources is not None and not sources.empty else []) + [features]
    table = pd.concat(parts, axis=1).sort_index()
    table.index.name = "case_id"
    return table.reset_index()


def write_table(
    features: pd.DataFrame, cohort: pd.DataFrame, clinical: dict[str, str], output_csv: str, sources=None
) -> None:
    table = build_table(features, cohort, list(clinical), sources)
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
    included, excluded = split_exclusions(feature_files)
    for case_id, reason in sorted(excluded.items()):
        log.warning("case %s left out: %s", case_id, reason)
    if not included:
        raise InputError(
            "no case has features: every extracted case failed input QC (see results/qc/excluded.csv). "
            "Fix the inputs listed there."
        )
    features, sources = _read_rows(included)
    write_table(features, cohort, clinical, output_csv, sources)


def import_features(
    table_path: str,
    sheet_path: str,
    schema_path: str,
    clinical: dict[str, str],
    output_csv: str,
) -> None:
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False)
    write_table(read_feature_table(table_path, cohort).astype(np.float64), cohort, clinical, output_csv)
