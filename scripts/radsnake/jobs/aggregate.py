"""Jobs of rules/aggregate.smk: the features table (per-case rows or the user's own table)
and the feature dictionary."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from radsnake.core.errors import InputError
from radsnake.core.tables import write_csv
from radsnake.imaging.aggregate import checked, read_case_files, write_table
from radsnake.imaging.dictionary import feature_dictionary
from radsnake.io.cohort_sheet import PROVENANCE_PREFIX, load_cohort, read_feature_table

log = logging.getLogger(__name__)


def aggregate_features(
    feature_files: list[str],
    sheet_path: str,
    schema_path: str,
    clinical: dict[str, str],
    output_csv: str,
    params_path: str | None = None,
    endpoint: dict | None = None,
) -> None:
    """features.csv from the per-case files; params_path: the current PyRadiomics params
    file, which every file must have been made with (check_same_params)."""
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False, endpoint=endpoint)
    case_files = checked(read_case_files(feature_files), params_path)
    features, sources, excluded = case_files.features, case_files.sources, case_files.excluded
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
    endpoint: dict | None = None,
) -> None:
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False, endpoint=endpoint)
    write_table(read_feature_table(table_path, cohort).astype(np.float64), cohort, clinical, output_csv)


def write_feature_dictionary(features_csv: str, output_csv: str, non_feature_columns: list[str]) -> None:
    """Dictionary of every column of features_csv not named in non_feature_columns."""
    # The header is all that is needed; a large feature table is not read.
    header = list(pd.read_csv(features_csv, nrows=0).columns)
    skip = set(non_feature_columns)
    # source_* columns are provenance (file names, hashes), never features.
    columns = [column for column in header if column not in skip and not column.startswith(PROVENANCE_PREFIX)]
    try:
        table = feature_dictionary(columns)
    except ValueError as err:
        raise InputError(
            f"feature table {features_csv}: {err}. Declare such columns as clinical columns in "
            "the config, or rename them as PyRadiomics features ([<modality>_]<imagetype>_<class>_<feature>)."
        ) from None
    write_csv(table, output_csv)
