"""Join per-case feature rows (or a bring-your-own table) with the sheet's outcome data."""

from __future__ import annotations

import csv
import logging
import shlex
from typing import NamedTuple

import numpy as np
import pandas as pd

from radsnake.io.cohort_sheet import EXCLUSION_COLUMNS, PROVENANCE_PREFIX
from radsnake.core.errors import InputError
from radsnake.io.provenance import PARAMS_HASH_COLUMN, STAMP_COLUMNS, VERSION_COLUMN, rerun_command
from radsnake.core.hashing import file_sha256
from radsnake.core.tables import write_csv_chunks

log = logging.getLogger(__name__)

META_COLUMNS = ("case_id", "label", "center")


def read_feature_rows(feature_files: list[str]) -> pd.DataFrame:
    """Stack one-row CSVs into a float matrix, checking every case has the same features."""
    case_files = read_case_files(feature_files)
    if case_files.column_problem:
        raise InputError(case_files.column_problem)
    return case_files.features


class CaseFiles(NamedTuple):
    """Per-case feature files read into tables, one row per file with features, in file order."""

    features: pd.DataFrame  # floats
    sources: pd.DataFrame  # source_* columns (input files, hashes) as text, minus the stamp
    stamps: pd.DataFrame  # the stamp (params hash, radsnake version) as text; "" when absent
    excluded: dict[str, str]  # {case: reason} of exclusion records (QC failed, qc.on_fail: exclude)
    paths: dict[str, str]  # {case: its file}
    column_problem: str  # "" or the message naming the first file whose columns differ from the first one's


def read_case_files(feature_files: list[str]) -> CaseFiles:
    """Read every per-case feature file once; exclusion records are listed, not read as rows.

    Columns are matched by name (a params file with its sections in another order gives
    the same features in another order). A file with other columns is not raised at once
    but reported in ``column_problem``, so that checked() can first name the params files.
    """
    features_columns = source_columns = None
    layouts = {}  # header -> positions of its features, sources and stamp cells (usually one header)
    values = None
    ids, sources, stamps, excluded, paths = [], [], [], {}, {}
    problem = ""
    for path in feature_files:
        with open(path, newline="") as handle:
            header, row = list(csv.reader(handle))[:2]
        if header == EXCLUSION_COLUMNS:
            excluded[row[0]] = row[1]
            continue
        key = tuple(header)
        if key not in layouts:
            names = header[1:]
            found_features = [c for c in names if not c.startswith(PROVENANCE_PREFIX)]
            found_sources = [c for c in names if c.startswith(PROVENANCE_PREFIX) and c not in STAMP_COLUMNS]
            if features_columns is None:
                features_columns, source_columns = found_features, found_sources
                # Preallocated: peak memory stays near the final table's size.
                values = np.empty((len(feature_files), len(features_columns)), dtype=np.float64)
            differing = sorted(set(found_features + found_sources) ^ set(features_columns + source_columns))
            if differing or len(found_features) != len(features_columns):
                layouts[key] = None
                problem = problem or (
                    f"case {row[0]}: {path} has different feature columns from the first case "
                    f"({differing[:5]}...). All cases must be extracted with the same params; delete "
                    "results/features/ and rerun."
                )
            else:
                position = {name: i for i, name in enumerate(names)}
                layouts[key] = (
                    [position[c] for c in features_columns],
                    [position[c] for c in source_columns],
                    [position.get(c) for c in STAMP_COLUMNS],
                )
        cells = row[1:]
        if layouts[key] is None:  # other columns: kept only for the stamp check
            position = dict(zip(header[1:], cells))
            values[len(ids)] = np.nan
            source_cells = [position.get(c, "") for c in source_columns]
            stamp_cells = [position.get(c, "") for c in STAMP_COLUMNS]
        else:
            keep, source_positions, stamp_positions = layouts[key]
            values[len(ids)] = np.asarray([cells[i] for i in keep], dtype=np.float64)
            source_cells = [cells[i] for i in source_positions]
            stamp_cells = ["" if i is None else cells[i] for i in stamp_positions]
        ids.append(row[0])
        paths[row[0]] = path
        sources.append(source_cells)
        stamps.append(stamp_cells)
    index = pd.Index(ids, name="case_id")
    stamp_table = pd.DataFrame(stamps, index=index, columns=list(STAMP_COLUMNS), dtype=str)
    if features_columns is None:
        empty = pd.DataFrame(index=index, dtype=np.float64)
        return CaseFiles(empty, pd.DataFrame(index=index), stamp_table, excluded, paths, problem)
    features = pd.DataFrame(values[: len(ids)], index=index, columns=features_columns, copy=False)
    sources_table = pd.DataFrame(sources, index=index, columns=source_columns, dtype=str)
    return CaseFiles(features, sources_table, stamp_table, excluded, paths, problem)


def checked(case_files: CaseFiles, params_path: str | None, what: str = "results/features/") -> CaseFiles:
    """The files, once they are known to come from one params file and to have one set of columns."""
    check_same_params(case_files, params_path, what)
    if case_files.column_problem:
        raise InputError(case_files.column_problem)
    return case_files


def _case_list(cases: list[str], limit: int = 20) -> str:
    listed = ", ".join(cases[:limit])
    return listed + (f" ... and {len(cases) - limit} more" if len(cases) > limit else "")


def check_same_params(case_files: CaseFiles, params_path: str | None, what: str = "results/features/") -> None:
    """Refuse feature files made with different PyRadiomics params files (or with another
    params file than the current one), naming the cases by params hash and the rerun.

    Extraction reruns by itself when the params file is edited (it is an input); files
    mix when they were copied between studies, kept with ``--touch``, or made with a
    params file changed for some cases only. Files without a hash (made by a radsnake
    before the stamp existed) cannot be checked: alone they pass with a warning, mixed
    with stamped ones they are a group of their own.
    """
    stamps = case_files.stamps
    versions = stamps.groupby(VERSION_COLUMN, sort=True).groups
    if len(versions) > 1:  # the same params give the same features unless extraction code changed
        for version, cases in versions.items():
            listed = _case_list(sorted(cases))
            log.warning("radsnake %s extracted %d case(s): %s", version or "(not recorded)", len(cases), listed)
    groups = {h: sorted(cases) for h, cases in stamps.groupby(PARAMS_HASH_COLUMN, sort=True).groups.items()}
    current = file_sha256(params_path) if params_path else None
    if set(groups) == {""}:
        log.warning("%d feature file(s) record no params hash (made by an older radsnake); not checked", len(stamps))
        return
    if not groups:
        return
    if set(groups) == {current} or (current is None and len(groups) == 1):
        return
    lines = []
    for digest, cases in sorted(groups.items(), key=lambda item: (item[0] != current, item[0])):
        label = f"params sha256 {digest}" if digest else "no params hash recorded (older radsnake)"
        if digest == current:
            label += f" (the current pyradiomics.params, {params_path})"
        lines.append(f"  {label}: {len(cases)} case(s): {_case_list(cases)}")
    stale = sorted(case for digest, cases in groups.items() if digest != current for case in cases)
    files = [case_files.paths[case] for case in stale]
    if current is None:
        fix = f"Rerun every case with one params file: {rerun_command(['--forcerun', 'extract_features'])}"
    elif len(files) <= 20:
        fix = (
            f"Rerun the {len(stale)} case(s) not made with {params_path}: delete their files in the study "
            f"folder ({shlex.join(['rm', *files])}) and run snakemake again, or run "
            f"{rerun_command(['--forcerun', *files])}"
        )
    else:
        fix = (
            f"Rerun the {len(stale)} case(s) not made with {params_path}: delete their files from {what} "
            f"and run snakemake again, or rerun every case: {rerun_command(['--forcerun', 'extract_features'])}"
        )
    if len(groups) > 1:
        problem = f"{what} mixes features made with different PyRadiomics params files (by the file's SHA-256)"
    else:
        problem = f"{what} holds features made with another PyRadiomics params file than {params_path}"
    raise InputError(
        f"{problem}; features made with other settings are other numbers and cannot share one table:\n"
        + "\n".join(lines)
        + f"\n{fix}"
    )


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



def write_table(
    features: pd.DataFrame, cohort: pd.DataFrame, clinical: dict[str, str], output_csv: str, sources=None
) -> None:
    log.info("%d cases x %d features -> %s", len(features), features.shape[1], output_csv)
    write_csv_chunks(table_blocks(features, cohort, list(clinical), sources), output_csv)
