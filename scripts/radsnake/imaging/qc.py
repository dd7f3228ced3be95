"""Per-case input QC (image/mask geometry, ROI) for the QC table.

:func:`qc_case` *reports* problems in one table row; it never raises on a bad image or
mask, so one QC table can list every problem of a cohort at once. The caller decides
whether a failing case stops the study or is excluded. The review overlays are in
radsnake.figures.overlay. docs/qc.md describes both for users.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radsnake.core.errors import InputError
from radsnake.io.imagefiles import read_file
from radsnake.core.tables import write_csv

#: Geometry tolerances of :func:`qc_case`; the limits that are None are not checked.
DEFAULT_TOLERANCE: dict = {
    "spacing_mm": 1e-3,
    "origin_mm": 1e-2,
    "direction": 1e-4,
    "max_components": None,
    "min_volume_ml": None,
}

#: Case-level columns of a QC row, in table order.
CASE_COLUMNS = [
    "case_id",
    "qc_pass",
    "qc_reasons",
    "modalities",
    "mask_file",
    "mask_label",
    "mask_dimension",
    "mask_pixel_type",
    "mask_size_x",
    "mask_size_y",
    "mask_size_z",
    "mask_spacing_x",
    "mask_spacing_y",
    "mask_spacing_z",
    "mask_nonempty",
    "mask_labels_present",
    "mask_label_present",
    "mask_threshold",
    "roi_voxels",
    "roi_volume_ml",
    "roi_components",
]

#: Per-modality columns, each written ``<modality>_<column>``, in table order.
MODALITY_COLUMNS = [
    "file",
    "dimension",
    "pixel_type",
    "size_x",
    "size_y",
    "size_z",
    "spacing_x",
    "spacing_y",
    "spacing_z",
    "slice_thickness_mm",
    "size_matches_mask",
    "spacing_max_diff_mm",
    "origin_max_diff_mm",
    "direction_max_diff",
    "geometry_ok",
    "nonfinite_voxels",
    "min",
    "max",
    "roi_mean",
    "roi_std",
    "cast_for_extraction",
]

_INTEGER_COLUMNS = {
    "mask_label", "mask_dimension", "mask_size_x", "mask_size_y", "mask_size_z",
    "roi_voxels", "roi_components",
}
_INTEGER_MODALITY_COLUMNS = {"dimension", "size_x", "size_y", "size_z", "nonfinite_voxels"}
_BOOL_COLUMNS = {"qc_pass", "mask_nonempty", "mask_label_present"}
_BOOL_MODALITY_COLUMNS = {"size_matches_mask", "geometry_ok"}
_TEXT_COLUMNS = {"case_id", "qc_reasons", "modalities", "mask_file", "mask_pixel_type", "mask_labels_present"}
_TEXT_MODALITY_COLUMNS = {"file", "pixel_type", "cast_for_extraction"}
_AXES = ("x", "y", "z")
_MODALITY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
_MAX_LABELS_LISTED = 20


def _tolerances(tolerance: Mapping | None) -> dict:
    tol = dict(DEFAULT_TOLERANCE)
    unknown = sorted(set(tolerance or {}) - set(tol))
    if unknown:
        raise InputError(
            f"QC tolerance has unknown key(s) {unknown}; the known keys are {sorted(tol)}. "
            "Correct the spelling in the config."
        )
    tol.update({k: v for k, v in (tolerance or {}).items() if v is not None})
    return tol


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _axis_values(values, prefix: str) -> dict:
    values = list(values)
    return {f"{prefix}_{a}": (values[i] if i < len(values) else None) for i, a in enumerate(_AXES)}


def _labels_text(labels: np.ndarray) -> str:
    shown = [f"{v:g}" for v in labels[:_MAX_LABELS_LISTED].tolist()]
    return ";".join(shown + (["…"] if labels.size > _MAX_LABELS_LISTED else []))


def _geometry_differences(image: sitk.Image, mask: sitk.Image) -> tuple[float, float, float]:
    """Largest absolute differences of spacing (mm), origin (mm) and direction cosines."""
    if image.GetDimension() != mask.GetDimension():
        return math.nan, math.nan, math.nan
    spacing = float(np.max(np.abs(np.subtract(image.GetSpacing(), mask.GetSpacing()))))
    origin = float(np.max(np.abs(np.subtract(image.GetOrigin(), mask.GetOrigin()))))
    direction = float(np.max(np.abs(np.subtract(image.GetDirection(), mask.GetDirection()))))
    return spacing, origin, direction


def _components(roi: np.ndarray) -> int:
    """Connected components, fully connected (26-connectivity in 3D, 8 in 2D)."""
    if roi.ndim in (2, 3):
        # Counted in the ROI's bounding box: the same count, without a pass over a whole CT.
        box = []
        for axis in range(roi.ndim):
            present = np.flatnonzero(roi.any(axis=tuple(a for a in range(roi.ndim) if a != axis)))
            box.append(slice(present[0], present[-1] + 1))
        roi = roi[tuple(box)]
        counter = sitk.ConnectedComponentImageFilter()
        counter.SetFullyConnected(True)
        counter.Execute(sitk.GetImageFromArray(roi.astype(np.uint8), isVector=False))
        return int(counter.GetObjectCount())
    from scipy import ndimage  # a 4D mask: SimpleITK's filter is built for 2D and 3D only

    return int(ndimage.label(roi, structure=np.ones((3,) * roi.ndim))[1])


def _modality_row(
    name: str, image: sitk.Image, path: str, mask: sitk.Image, roi: np.ndarray | None, tol: dict
) -> tuple[dict, list[str]]:
    reasons = []
    dimension = image.GetDimension()
    components = image.GetNumberOfComponentsPerPixel()
    row = {
        "file": path,
        "dimension": dimension,
        "pixel_type": image.GetPixelIDTypeAsString(),
        **_axis_values(image.GetSize(), "size"),
        **_axis_values(image.GetSpacing(), "spacing"),
        "slice_thickness_mm": image.GetSpacing()[2] if dimension >= 3 else None,
    }
    if dimension != 3:
        reasons.append(f"image {name} is {dimension}D, radsnake expects 3D volumes (export the whole series)")
    if components != 1:
        reasons.append(
            f"image {name} has {components} values per voxel (colour or vector image), "
            "radsnake expects one grey value per voxel"
        )
    size_ok = image.GetSize() == mask.GetSize()
    if not size_ok:
        reasons.append(f"mask size {mask.GetSize()} differs from image {name} size {image.GetSize()}")
    spacing, origin, direction = _geometry_differences(image, mask)
    checks = (
        ("spacing", spacing, tol["spacing_mm"], " mm"),
        ("origin", origin, tol["origin_mm"], " mm"),
        ("direction", direction, tol["direction"], ""),
    )
    geometry_ok = size_ok and dimension == mask.GetDimension()
    for what, diff, limit, unit in checks:
        if not math.isnan(diff) and diff > limit:
            geometry_ok = False
            reasons.append(
                f"mask {what} differs from image {name} by {_fmt(diff)}{unit} (tolerance {_fmt(limit)})"
            )
    row.update(
        size_matches_mask=size_ok,
        spacing_max_diff_mm=spacing,
        origin_max_diff_mm=origin,
        direction_max_diff=direction,
        geometry_ok=geometry_ok,
    )
    pixels = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(pixels.dtype, np.floating):
        finite = np.isfinite(pixels)
        nonfinite = int(pixels.size - np.count_nonzero(finite))
    else:
        finite, nonfinite = None, 0
    if nonfinite:
        reasons.append(f"image {name} has {nonfinite} NaN or infinite voxels")
    values = pixels[finite] if finite is not None else pixels
    row["nonfinite_voxels"] = nonfinite
    row["min"] = float(values.min()) if values.size else None
    row["max"] = float(values.max()) if values.size else None
    # ROI statistics only when the mask voxels sit on this image's voxels.
    row["roi_mean"] = row["roi_std"] = None
    if roi is not None and size_ok and components == 1 and np.any(roi):
        inside = pixels[roi]
        inside = inside[np.isfinite(inside)] if nonfinite else inside
        if inside.size:
            row["roi_mean"] = float(np.mean(inside, dtype=np.float64))
            row["roi_std"] = float(np.std(inside, dtype=np.float64))
    return row, reasons


def qc_case(
    case_id: str,
    images: Mapping[str, sitk.Image],
    mask: sitk.Image,
    label: int,
    image_files: Mapping[str, str],
    mask_file: str,
    tolerance: Mapping | None = None,
) -> dict:
    """One QC row for a case: geometry of every image against the mask, and the ROI.

    ``images`` maps a modality name (``"CT"``, ``"T2"``, or ``"image"`` for a one-image
    sheet) to its image; ``image_files`` maps the same names to the file paths reported
    in the row. Every per-modality column is *always* prefixed ``<modality>_`` (also with
    a single image), so a study's QC columns depend only on its modality names.

    ``tolerance`` overrides :data:`DEFAULT_TOLERANCE` key by key: ``spacing_mm``,
    ``origin_mm`` (largest absolute difference per axis) and ``direction`` (largest
    absolute difference of the direction cosines) between each image and the mask;
    ``max_components`` and ``min_volume_ml`` (None: not checked) turn the ROI's
    connected-component count and volume from information into pass/fail checks.

    ``qc_pass`` is False, with a reason each, when an image or the mask is not 3D or not
    scalar, an image's size, spacing, origin or direction differs from the mask's, the
    mask is empty, has no voxel with ``label``, or an image has NaN/infinite voxels (and
    for the optional limits above). ``qc_reasons`` joins the reasons with ";". Nothing is
    raised for bad images or masks; an unknown tolerance key raises InputError.
    """
    tol = _tolerances(tolerance)
    names = list(images)
    if set(names) != set(image_files):
        raise ValueError(f"case {case_id}: images {names} and image_files {list(image_files)} differ")
    for name in names:
        if not _MODALITY_NAME.match(name) or name.lower() in {"mask", "roi", "qc"}:
            raise InputError(
                f"case {case_id}: modality name {name!r} cannot be a QC column prefix; use letters, "
                "digits, '.' or '-' (and not mask, roi or qc)."
            )
    reasons: list[str] = []
    row: dict = {"case_id": case_id, "modalities": ";".join(names), "mask_file": mask_file,
                 "mask_label": int(label)}

    m_dim = mask.GetDimension()
    row.update(
        mask_dimension=m_dim,
        mask_pixel_type=mask.GetPixelIDTypeAsString(),
        **_axis_values(mask.GetSize(), "mask_size"),
        **_axis_values(mask.GetSpacing(), "mask_spacing"),
    )
    if m_dim != 3:
        reasons.append(f"mask is {m_dim}D, radsnake expects 3D volumes")
    roi = None
    if mask.GetNumberOfComponentsPerPixel() != 1:
        reasons.append(
            f"mask has {mask.GetNumberOfComponentsPerPixel()} values per voxel, expected a label image"
        )
        row.update(mask_nonempty=None, mask_labels_present="", mask_label_present=None,
                   roi_voxels=None, roi_volume_ml=None, roi_components=None)
    else:
        values = sitk.GetArrayViewFromImage(mask)
        nonzero = values[(values != 0) & ~np.isnan(values)] if values.dtype.kind == "f" else values[values != 0]
        labels = np.unique(nonzero)
        roi = values == label
        voxels = int(np.count_nonzero(roi))
        row.update(mask_nonempty=bool(labels.size), mask_labels_present=_labels_text(labels),
                   mask_label_present=voxels > 0, roi_voxels=voxels)
        if not labels.size:
            reasons.append("mask is empty (no non-zero voxel)")
        elif not voxels:
            reasons.append(
                f"mask has no voxel with label {label} (labels present: "
                f"{_labels_text(labels).replace(';', ', ')}), set mask_label for this case"
            )
        row["roi_volume_ml"] = (
            voxels * float(np.prod(mask.GetSpacing())) / 1000.0 if m_dim == 3 else None
        )
        row["roi_components"] = _components(roi) if voxels else 0
        if voxels and tol["max_components"] is not None and row["roi_components"] > tol["max_components"]:
            reasons.append(
                f"ROI has {row['roi_components']} connected components (max_components "
                f"{tol['max_components']})"
            )
        volume = row["roi_volume_ml"]
        if voxels and tol["min_volume_ml"] is not None and volume is not None and volume < tol["min_volume_ml"]:
            reasons.append(f"ROI volume {_fmt(volume)} ml is below min_volume_ml {_fmt(tol['min_volume_ml'])}")

    for name in names:
        part, part_reasons = _modality_row(name, images[name], image_files[name], mask, roi, tol)
        row.update({f"{name}_{k}": v for k, v in part.items()})
        reasons += part_reasons
    row["qc_pass"] = not reasons
    row["qc_reasons"] = _join(reasons)
    return row


def _join(reasons: list[str]) -> str:
    # ";" separates reasons, so none may contain one (ITK's read errors might).
    return ";".join(r.replace(";", ",") for r in reasons)


def _read(path: str) -> tuple[sitk.Image | None, str]:
    """The image, or what is wrong with the file (a truncated .gz included)."""
    if not os.path.exists(path):
        return None, "does not exist"
    try:
        return read_file("", path, "file"), ""
    except InputError as err:
        problem = str(err).split(f"file {path} ", 1)[-1]
        return None, problem.rsplit(". ", 1)[0]  # without the reader's advice, its last sentence


def qc_files(
    case_id: str,
    image_files: Mapping[str, str],
    mask_file: str,
    label: int,
    tolerance: Mapping | None = None,
) -> dict:
    """:func:`qc_case` on files. A missing or unreadable file is a failing row (its reason
    names the file), not an exception, so the QC table still lists the case."""
    images, reasons = {}, []
    for name, path in image_files.items():
        images[name], problem = _read(path)
        if problem:
            reasons.append(f"image {name} file {path} {problem}")
    mask, problem = _read(mask_file)
    if problem:
        reasons.append(f"mask file {mask_file} {problem}")
    if reasons:
        row = {"case_id": case_id, "modalities": ";".join(image_files), "mask_file": mask_file,
               "mask_label": int(label), "qc_pass": False, "qc_reasons": _join(reasons)}
        row.update({f"{name}_file": path for name, path in image_files.items()})
        return row
    return qc_case(case_id, images, mask, label, image_files, mask_file, tolerance)


def qc_columns(rows: Iterable[Mapping]) -> list[str]:
    """Stable column order: case columns, then each modality's block (in the order the
    modalities first appear), then any other columns sorted by name."""
    rows = list(rows)
    modalities: list[str] = []
    for row in rows:
        for name in str(row.get("modalities") or "").split(";"):
            if name and name not in modalities:
                modalities.append(name)
    columns = CASE_COLUMNS + [f"{m}_{c}" for m in modalities for c in MODALITY_COLUMNS]
    known = set(columns)
    extra = sorted({k for row in rows for k in row} - known)
    return columns + extra


def write_qc_table(rows: Iterable[Mapping] | pd.DataFrame, output_csv: str) -> pd.DataFrame:
    """Write QC rows (dicts from :func:`qc_case`/:func:`qc_files`, or a DataFrame of them,
    e.g. per-case QC files read back) sorted by case id, in :func:`qc_columns` order.

    Integer columns stay integers and a value that does not apply is an empty cell.
    Returns the table as written.
    """
    if isinstance(rows, pd.DataFrame):
        records = rows.to_dict("records")
    else:
        records = [dict(r) for r in rows]
    columns = qc_columns(records)
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame = frame.sort_values("case_id", kind="stable").reset_index(drop=True)
    modalities = [c[: -len("_file")] for c in columns if c.endswith("_file") and c != "mask_file"]
    integer = set(_INTEGER_COLUMNS) | {f"{m}_{c}" for m in modalities for c in _INTEGER_MODALITY_COLUMNS}
    boolean = set(_BOOL_COLUMNS) | {f"{m}_{c}" for m in modalities for c in _BOOL_MODALITY_COLUMNS}
    text = set(_TEXT_COLUMNS) | {f"{m}_{c}" for m in modalities for c in _TEXT_MODALITY_COLUMNS}
    for column in columns:
        values = frame[column]
        if column in text:
            # Read back from CSV, a labels cell "1" becomes the float 1.0: write it as "1" again.
            frame[column] = values.map(lambda v: v if isinstance(v, str) or pd.isna(v) else f"{v:g}")
        elif column in integer:
            frame[column] = pd.to_numeric(values).astype("Int64")
        elif column in boolean:
            frame[column] = values.astype("boolean")
    write_csv(frame, output_csv)
    return frame
