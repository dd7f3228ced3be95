"""Load and check the cohort sheet before any job runs.

Every problem is reported with the sheet's row number (as a spreadsheet shows it: the
header is row 1) and the case id, and all problems are listed at once, so that a user
fixes the sheet in one go instead of one error per run.
"""

from __future__ import annotations

import os

import jsonschema
import numpy as np
import pandas as pd

from radsnake.core.errors import InputError
from radsnake.core.study import load_schema
from radsnake.io.identity import same_content_groups
from radsnake.io.sheets import is_number, read_table, to_numbers
from radsnake.io.survival_cohort import is_survival, outcome_columns, outcome_problems, with_outcome

REQUIRED_IMAGE_COLUMNS = ("image", "mask")
# Optional second segmentation of a case, for the ICC of feature robustness.
REPEAT_MASK_COLUMN = "mask_repeat"
CASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
DRAFT_COLUMNS = ("draft_seed", "draft_bbox")
# Columns of results/features.csv that say where a case's data came from, not features.
PROVENANCE_PREFIX = "source_"
# Header of the per-case record written instead of features for a case left out by QC.
EXCLUSION_COLUMNS = ["case_id", "excluded_reason"]
# Drafts are written here; a mask in this folder is a draft whatever the sheet says.
DRAFT_FOLDER = os.path.join("results", "drafts")


def image_columns(modalities) -> list[str]:
    """Sheet columns of a case's images: `image` (the first modality, whose grid the mask
    is drawn on), then `image_<name>` for every further modality."""
    return ["image", *(f"image_{name}" for name in list(modalities)[1:])]


def selector_columns(column: str) -> tuple[str, str]:
    """The series selector columns of an image column: series_uid[_<m>], series_description[_<m>]."""
    suffix = column[len("image") :]
    return f"series_uid{suffix}", f"series_description{suffix}"


def has_draft(record) -> bool:
    return any(str(record.get(c, "") or "").strip() for c in DRAFT_COLUMNS)


def pending_reason(record) -> str:
    """Why a case's mask may not be extracted yet ("" when it may).

    A mask is used only once a human has accepted it: a case with a draft request, or
    whose mask lies in results/drafts/, needs mask_status `accepted`; any case marked
    `draft` waits.
    """
    status = str(record.get("mask_status", "") or "").strip()
    mask = str(record.get("mask", "") or "").strip()
    if status == "accepted":
        return ""
    in_drafts = DRAFT_FOLDER in os.path.normpath(mask)
    if status == "draft" or has_draft(record) or in_drafts:
        what = f"mask {mask}" if mask else "no mask yet"
        return (
            f"mask not accepted ({what}, mask_status '{status}'): review the draft overlay "
            "results/drafts/<case>.png, then put the reviewed mask in the mask column and "
            "mask_status accepted in the cohort sheet"
        )
    return ""


def _sheet_row(index: int) -> int:
    # Row 1 is the header, so data row 0 is row 2 in a spreadsheet.
    return index + 2


def resolve_path(path: str, sheet_dir: str) -> str:
    """A sheet path as the workflow uses it: absolute stays, relative joins the sheet's folder."""
    if os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(sheet_dir, path))


def load_cohort(
    sheet_path: str,
    schema_path: str,
    clinical: dict[str, str],
    need_images: bool,
    generated_files: bool = False,
    modalities=(),
    labels_required: bool = True,
    endpoint: dict | None = None,
) -> pd.DataFrame:
    """Read the sheet, check it, and return it indexed by case_id with resolved paths.

    need_images: the sheet must give image and mask (false when features come from a
    table). generated_files: the image files are made by the workflow itself (demo), so
    they need not exist yet. modalities: the config's modality names; the second and
    later ones need an `image_<name>` column.

    The returned frame has a `pending` column: the reason a case's mask may not be
    extracted yet (draft not accepted, see :func:`pending_reason`), or "".

    labels_required=False (a sheet of new patients for a frozen model): the label
    column may be left out, or left empty for every case; its `label` is then NA. A
    sheet that labels some cases and not others is refused.
    """
    # Messages name the sheet as the user finds it, wherever Snakemake was started.
    shown_path = os.path.abspath(sheet_path)
    if not os.path.exists(sheet_path):
        raise InputError(
            f"Cohort sheet {shown_path} does not exist. Set 'cohort' in the config to the "
            "path of your CSV sheet (one row per case)."
        )
    # Everything as stripped text (radsnake.io.sheets): ids like 007 and labels like 1.0 are
    # seen as written, and 'P001 ' is P001.
    sheet = read_table(sheet_path, f"Cohort sheet {shown_path}")
    separator = sheet.attrs["separator"]

    image_cols = image_columns(modalities)
    survival = is_survival(endpoint)
    if survival:  # the event is the label
        sheet, labels_required = sheet.drop(columns="label", errors="ignore"), False
    if not labels_required and "label" in sheet.columns and not sheet["label"].str.strip().any():
        sheet = sheet.drop(columns="label")
    labelled = labels_required or "label" in sheet.columns
    required = ["case_id", *(["label"] if labelled else []), *((*image_cols, "mask") if need_images else ())]
    required += list(clinical) + (outcome_columns(endpoint) if survival else [])
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise InputError(
            f"Cohort sheet {shown_path} lacks the column(s) {', '.join(missing)}. "
            f"It has: {', '.join(sheet.columns) or 'no columns'}. Add them (the header row "
            "names the columns)."
        )
    if sheet.empty:
        raise InputError(
            f"Cohort sheet {shown_path} has no cases. Add one row per case under the header "
            "(the columns are explained in docs/inputs.md, and in cohort.md of a new study)."
        )

    problems = _row_problems(sheet, schema_path, clinical, labelled, separator)
    problems += _duplicate_problems(sheet)
    if survival:
        problems += outcome_problems(sheet, endpoint, separator)
    notes = []
    if need_images and not problems:
        problems += _file_problems(sheet, os.path.dirname(sheet_path), generated_files, image_cols)
    if need_images and not generated_files:
        refused, notes = shared_image_rows(sheet, os.path.dirname(sheet_path), image_cols)
        problems += refused
    if problems:
        shown = problems[:50]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > 50 else ""
        raise InputError(
            f"Cohort sheet {shown_path} has {len(problems)} problem(s):\n  "
            + "\n  ".join(shown)
            + more
            + "\nFix these rows and run again; no job has run."
        )

    cohort = sheet.copy()
    cohort["label"] = cohort["label"].astype(int) if labelled else pd.array([pd.NA] * len(cohort), dtype="Int64")
    if "center" not in cohort.columns:
        cohort["center"] = ""
    for column, kind in clinical.items():
        if kind == "numeric":
            cohort[column] = to_numbers(cohort[column], separator)
    if survival:
        cohort = with_outcome(cohort, endpoint, separator)
    cohort["pending"] = [pending_reason(r) if need_images else "" for r in sheet.to_dict("records")]
    if need_images:
        sheet_dir = os.path.dirname(sheet_path)
        for column in (*image_cols, "mask", *_repeat_column(cohort)):
            cohort[column] = [resolve_path(p, sheet_dir) if p else "" for p in cohort[column]]
    cohort = cohort.set_index("case_id", drop=False).sort_index()
    # Warnings for the console (rules/common.smk prints them): rows sharing an image.
    cohort.attrs["notes"] = notes
    return cohort


def _repeat_column(sheet) -> tuple[str, ...]:
    return (REPEAT_MASK_COLUMN,) if REPEAT_MASK_COLUMN in sheet.columns else ()


def _row_problems(sheet, schema_path, clinical, labelled: bool = True, separator: str = "comma") -> list[str]:
    schema = load_schema(schema_path)
    if not labelled:
        schema["required"] = [column for column in schema["required"] if column != "label"]
    validator = jsonschema.Draft202012Validator(schema)
    known = set(schema["properties"])
    problems = []
    for index, record in enumerate(sheet.to_dict("records")):
        where = f"row {_sheet_row(index)} (case_id '{record.get('case_id', '')}')"
        # Optional columns left blank are absent, not invalid.
        row = {k: v.strip() for k, v in record.items() if k in known and v.strip() != ""}
        for error in sorted(validator.iter_errors(row), key=lambda e: list(e.path)):
            problems.append(f"{where}: {_explain(error)}")
        for column, kind in clinical.items():
            value = record[column].strip()
            if kind == "numeric" and value != "":
                if not is_number(value, separator):
                    problems.append(
                        f"{where}: clinical column '{column}' is declared numeric but holds "
                        f"'{value}'. Fix the value or declare the column categorical."
                    )
    return problems


def _explain(error: jsonschema.ValidationError) -> str:
    column = error.path[0] if error.path else None
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"'{missing}' is empty; every case needs one."
    if column == "case_id":
        return (
            f"case_id '{error.instance}' is not a safe file name: use letters, digits, "
            "'.', '_' and '-' only, starting with a letter or digit (no spaces, '/' or '..')."
        )
    if column == "label":
        return (
            f"label '{error.instance}' is not binary: the outcome must be 0 or 1. "
            "Recode it (e.g. benign=0, malignant=1)."
        )
    if column == "draft_seed":
        return f"draft_seed '{error.instance}' is not three numbers: write x,y,z in mm, e.g. -12.5,40,101."
    if column == "draft_bbox":
        return f"draft_bbox '{error.instance}' is not six numbers: write x0,y0,z0,x1,y1,z1 (two opposite corners)."
    if column == "cohort":
        return (
            f"cohort '{error.instance}' cannot be used in file names: use letters, digits, '.', "
            "'_' and '-' only, starting with a letter or digit."
        )
    if column == "mask_status":
        return f"mask_status '{error.instance}' must be accepted, draft or empty."
    return f"column '{column}': {error.message}"


def _duplicate_problems(sheet) -> list[str]:
    """The same id twice, or ids that differ only in upper/lower case (P001, p001): on a
    case-insensitive file system those two cases would share their result files."""
    ids = sheet["case_id"]
    folded = ids.str.casefold()
    colliding = folded[folded.duplicated(keep=False) & ids.ne("")]  # usually none: O(n) to find
    problems = []
    for _, rows in colliding.groupby(colliding, sort=True).groups.items():
        listed = ", ".join(f"{_sheet_row(i)} ('{ids[i]}')" for i in rows)
        if ids[rows].nunique() == 1:
            numbers = ", ".join(str(_sheet_row(i)) for i in rows)
            problems.append(f"case_id '{ids[rows[0]]}' appears in rows {numbers}; case ids must be unique.")
        else:
            problems.append(
                f"case ids of rows {listed} differ only in upper/lower case: they would be one "
                "patient's files on a case-insensitive disk. Merge the rows if they are one patient, "
                "or give them ids that differ otherwise."
            )
    return problems


def shared_image_rows(sheet, sheet_dir: str, image_cols) -> tuple[list[str], list[str]]:
    """Rows whose image holds the same bytes as another row's (radsnake.io.identity).

    Same image and same mask: one patient entered twice, who would be in training and test
    at once: refused. Same image, other masks: two lesions of one patient, or a row copied
    without its image corrected: a warning naming the rows (the note list).
    """
    refused, notes = [], []
    folder = os.path.abspath(sheet_dir)
    ids, mask_cells = sheet["case_id"].tolist(), sheet["mask"].tolist()
    for column in image_cols:
        paths = {i: resolve_path(cell, folder) for i, cell in enumerate(sheet[column].tolist()) if cell}
        for group in same_content_groups(paths):
            masks = {i: resolve_path(mask_cells[i], folder) for i in group if mask_cells[i]}
            same_mask = {i for g in same_content_groups(masks) for i in g}
            listed = ", ".join(f"{_sheet_row(i)} (case_id '{ids[i]}')" for i in group)
            where = f"rows {listed}: their {column} files hold the same bytes ({paths[group[0]]})"
            if same_mask == set(group):
                refused.append(
                    f"{where}, and so do their masks ({masks[group[0]]}): one patient entered twice would be "
                    "in training and test at once. Keep one row, or correct the paths of the others."
                )
            elif same_mask:
                twins = ", ".join(f"{_sheet_row(i)} ('{ids[i]}')" for i in sorted(same_mask))
                refused.append(
                    f"{where}, and rows {twins} their masks too: one patient entered twice would be in "
                    "training and test at once. Keep one row, or correct the image path of the other."
                )
            else:
                notes.append(
                    f"{where} with different masks: if these are lesions of one patient they may land in "
                    "different sets; if a row was copied, correct its image path."
                )
    return refused, notes


def _file_problems(sheet, sheet_dir, generated_files, image_cols=("image",)) -> list[str]:
    problems = []
    for index, record in enumerate(sheet.to_dict("records")):
        where = f"row {_sheet_row(index)} (case_id '{record['case_id']}')"
        pending = pending_reason(record)
        for column in (*image_cols, "mask"):
            value = record[column].strip()
            if not value:
                if column == "mask" and has_draft(record):
                    continue  # the draft rule makes one for review
                extra = " (or a draft_seed/draft_bbox to draft one)" if column == "mask" else ""
                problems.append(f"{where}: {column} is empty; every case needs one{extra}.")
                continue
            path = resolve_path(value, sheet_dir)
            if generated_files or (column == "mask" and pending):
                continue
            if not os.path.exists(path):
                problems.append(
                    f"{where}: {column} file "
                    f"{path} does not exist. Correct the path (relative paths are read from "
                    f"the sheet's folder {sheet_dir or '.'}) or remove the case."
                )
        for column in _repeat_column(sheet):
            value = record[column].strip()
            if value and not generated_files and not os.path.exists(resolve_path(value, sheet_dir)):
                problems.append(
                    f"{where}: {column} file {resolve_path(value, sheet_dir)} does not exist. Correct the "
                    f"path (relative to the sheet's folder {sheet_dir or '.'}) or leave the cell empty."
                )
    return problems


def read_feature_table(path: str, cohort: pd.DataFrame, setting: str = "features_table") -> pd.DataFrame:
    """A bring-your-own feature table (read by radsnake.io.sheets' rules), checked against the
    sheet: ids as text, one row per case, numeric and finite feature columns. Every
    message names the user's file."""
    shown = os.path.abspath(path)
    what = f"Feature table {shown} (config {setting})"
    if not os.path.exists(path):
        raise InputError(f"{what} does not exist. Correct the path (relative to the config's folder).")
    table = read_table(path, what, text=False)
    if "case_id" not in table.columns:
        raise InputError(f"{what} needs a 'case_id' column naming each case; it has {', '.join(table.columns[:10])}.")
    duplicated = table["case_id"][table["case_id"].duplicated()].unique().tolist()
    if duplicated:
        raise InputError(f"{what} lists case(s) {duplicated[:10]} more than once. Keep one row per case.")
    missing = sorted(set(cohort.index) - set(table["case_id"]))
    if missing:
        folded = {case.casefold(): case for case in table["case_id"]}
        near = [f"'{folded[c.casefold()]}' for '{c}'" for c in missing if c.casefold() in folded]
        hint = f" (it has {', '.join(near[:5])}: ids must match the sheet exactly)" if near else ""
        raise InputError(
            f"{what} has no row for case(s) {missing[:10]} of the cohort sheet{hint}. "
            "Add their features or remove them from the sheet."
        )
    provenance = [c for c in table.columns if c.startswith(PROVENANCE_PREFIX)]
    if provenance:
        raise InputError(
            f"{what}: column(s) {provenance[:10]} start with '{PROVENANCE_PREFIX}', which "
            "radsnake reserves for provenance columns that modelling ignores. Rename them."
        )
    reserved = [c for c in ("label", "center", *cohort.columns) if c in table.columns and c != "case_id"]
    features = table.drop(columns=reserved).set_index("case_id").loc[sorted(cohort.index)]
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise InputError(
            f"{what}: column(s) {non_numeric[:10]} are not numeric. Feature "
            "columns must hold numbers; move other columns to the cohort sheet."
        )
    check_finite(features, what)
    return features


def _first_ten(names: list[str]) -> str:
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def check_finite(features: pd.DataFrame, what: str) -> None:
    """Missing (empty, NA) or infinite values, named by column and case, at import: once,
    and in the user's own file rather than in a table radsnake derived from it."""
    bad = ~np.isfinite(features.to_numpy(dtype=np.float64))
    if not bad.any():
        return
    columns = features.columns[bad.any(axis=0)].tolist()
    cases = features.index[bad.any(axis=1)].tolist()
    shown_columns = _first_ten([f"'{c}'" for c in columns])
    shown_cases = _first_ten(cases)
    raise InputError(
        f"{what} has {int(bad.sum())} missing or infinite value(s), in column(s) {shown_columns} "
        f"of case(s) {shown_cases}. Fill them in, or remove those columns or cases."
    )


def _cell(record, column: str) -> str:
    value = record.get(column, "")
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def case_spec(record, modalities, default_label: int, series_defaults: dict | None = None) -> dict:
    """What the per-case jobs need to read a case (see radsnake.jobs.inputs), from its row.

    Modalities: [] reads one image (`image`), named "image" in QC and with unprefixed
    features; [A, B, ...] reads `image` as A and `image_B` as B, features prefixed.
    series_defaults: config dicom.series_description, per image column.
    """
    modalities = list(modalities)
    names = modalities or ["image"]
    images = []
    for name, column in zip(names, image_columns(names)):
        uid_column, description_column = selector_columns(column)
        description = _cell(record, description_column) or (series_defaults or {}).get(column, "")
        images.append(
            {
                "name": name,
                "column": column,
                "path": _cell(record, column),
                "series_uid": _cell(record, uid_column) or None,
                "series_description": description or None,
            }
        )
    label = _cell(record, "mask_label")
    return {
        "images": images,
        "mask": _cell(record, "mask"),
        "label": int(label) if label else int(default_label),
        "roi": _cell(record, "roi") or None,
        "segment": _cell(record, "segment") or None,
        "prefix": bool(modalities),
    }
