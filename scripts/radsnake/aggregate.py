"""Join per-case feature rows (or a bring-your-own table) with the sheet's outcome data."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pandas as pd

from radsnake.cohort import EXCLUSION_COLUMNS, PROVENANCE_PREFIX, load_cohort, read_feature_table
from radsnake.errors import InputError
from radsnake.tables import write_csv_chunks

log = logging.getLogger(__name__)

META_COLUMNS = ("case_id", "label", "center")


def read_feature_rows(feature_files: list[str]) -> pd.DataFrame:
    """Stack one-row CSVs into a float matrix, checking every case has the same features."""
    return _read_rows(feature_files)[0]


def _read_rows(feature_files: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(features as floats, provenance columns as text), one row per file with features,
    in file order; and {case: reason} of the exclusion records written for cases that
    failed QC (qc.on_fail: exclude). Each file is read once."""
    columns = None
    values = None
    keep = None
    ids, sources, excluded = [], [], {}
    for path in feature_files:
        with open(path, newline="") as handle:
            header, row = list(csv.reader(handle))[:2]
        if header == EXCLUSION_COLUMNS:
            excluded[row[0]] = row[1]
            continue
        row_number = len(ids)
        if columns is None:
            columns = header[1:]
            keep = [i for i, c in enumerate(columns) if not c.startswith(PROVENANCE_PREFIX)]
            source_positions = [i for i, c in enumerate(columns) if c.startswith(PROVENANCE_PREFIX)]
            source_columns = [columns[i] for i in source_positions]
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
        sources.append([cells[i] for i in source_positions])
    index = pd.Index(ids, name="case_id")
    if columns is None:
        return pd.DataFrame(index=index, dtype=np.float64), pd.DataFrame(index=index), excluded
    features = pd.DataFrame(values[: len(ids)], index=index, columns=[columns[i] for i in keep], copy=False)
    return features, pd.DataFrame(sources, index=index, columns=source_columns, dtype=str), excluded


def table_blocks(
    features: pd.DataFrame,
    cohort: pd.DataFrame,
    clinical: list[str],
    sources: pd.DataFrame | None = None,
    rows: int = 200,
):
    """The table in blocks of rows, cases sorted by id: outcome, centre and clinical
    columns first, then the provenance (source_*) columns, then features. Blocks keep
    the peak memory of 10,000 cases x 1,500 features near the feature matrix itself."""
    clashes = [c for c in (*META_COLUMNS, *clinical) if c in features.columns]
    if clashes:
        raise InputError(f"feature column(s) {clashes} clash with the sheet's column names; rename them.")
    has_sources = sources is not None and not sources.empty
    order = np.argsort(features.index.to_numpy(dtype=str), kind="stable")
    for start in range(0, max(len(order), 1), rows):
        block = order[start : start + rows]
        ids = features.index[block]
        parts = [cohort.loc[ids, ["label", "center", *clinical]]]
        if has_sources:
            parts.append(sources.loc[ids])
        parts.append(features.iloc[block])
        table = pd.concat(parts, axis=1)
        table.index.name = "case_id"
        yield table.reset_index()


def build_table(
    features: pd.DataFrame, cohort: pd.DataFrame, clinical: list[str], sources: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The whole table as one frame (for tests and small studies)."""
    return pd.concat(list(table_blocks(features, cohort, clinical, sources)), ignore_index=True)


def write_table(
    features: pd.DataFrame, cohort: pd.DataFrame, clinical: dict[str, str], output_csv: str, sources=None
) -> None:
    log.info("%d cases x %d features -> %s", len(features), features.shape[1], output_csv)
    write_csv_chunks(table_blocks(features, cohort, list(clinical), sources), output_csv)


def aggregate_features(
    feature_files: list[str],
    sheet_path: str,
    schema_path: str,
    clinical: dict[str, str],
    output_csv: str,
) -> None:
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False)
    features, sources, excluded = _read_rows(feature_files)
    for case_id, reason in sorted(excluded.items()):
        log.warning("case %s left out: %s", case_id, reason)
    if len(features) == 0 and excluded:
        raise InputError(
            "no case has features: every extracted case failed input QC (see results/qc/excluded.csv). "
            "Fix the inputs listed there."
        )
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
