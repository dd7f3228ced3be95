"""Per-case PyRadiomics extraction: one case in, one feature row and one diagnostics row out."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radsnake.errors import InputError
from radsnake.imagefiles import check_exists, read_file
from radsnake.tables import write_csv

log = logging.getLogger(__name__)


def read_image(case_id: str, path: str, role: str) -> sitk.Image:
    """A plain image file, with imageio's messages for a missing or unreadable one."""
    check_exists(case_id, path, role)
    return read_file(case_id, path, role)


def check_pair(case_id: str, image: sitk.Image, mask: sitk.Image, mask_path: str, label: int) -> None:
    """Stop on the inputs PyRadiomics would otherwise reject with an obscure message."""
    if image.GetDimension() != 3:
        raise InputError(
            f"case {case_id}: the image is {image.GetDimension()}D; radsnake expects 3D "
            "volumes. Export the whole series, not a single slice."
        )
    if image.GetSize() != mask.GetSize():
        raise InputError(
            f"case {case_id}: mask {mask_path} has size {mask.GetSize()} but the image has "
            f"{image.GetSize()}. Re-export the mask on the image's grid."
        )
    values = sitk.GetArrayViewFromImage(mask)
    if not np.any(values):
        raise InputError(f"case {case_id}: mask {mask_path} is empty. Redraw the ROI or remove the case.")
    if not np.any(values == label):
        present = np.unique(values[values != 0])[:10].tolist()
        raise InputError(
            f"case {case_id}: mask {mask_path} has no voxel with label {label} (labels present: "
            f"{present}). Set mask_label for this case in the sheet or in the config."
        )
    pixels = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(pixels.dtype, np.floating) and not np.all(np.isfinite(pixels)):
        raise InputError(
            f"case {case_id}: the image has NaN or infinite voxels. Fix the export (or the "
            "conversion that produced it)."
        )


def make_extractor(params_path: str):
    from radiomics import featureextractor

    try:
        return featureextractor.RadiomicsFeatureExtractor(params_path)
    except Exception as err:  # PyRadiomics' schema check raises pykwalify's own errors
        raise InputError(
            f"PyRadiomics params file {params_path} is invalid: {err}. Compare it with the "
            "presets in config/pyradiomics/."
        ) from err


def split_result(result: dict) -> tuple[dict, dict]:
    """PyRadiomics mixes diagnostics with features; keep them apart."""
    features, diagnostics = {}, {}
    for key, value in result.items():
        if key.startswith("diagnostics_"):
            diagnostics[key] = value if np.ndim(value) == 0 else str(tuple(np.asarray(value).tolist()))
        else:
            features[key] = float(value)
    return features, diagnostics


def extract_case(
    case_id: str,
    image_path: str,
    mask_path: str,
    params_path: str,
    mask_label: int,
    features_csv: str,
    diagnostics_csv: str,
) -> None:
    import radiomics

    # Warnings still reach the job log through the root logger; keep them off the console.
    radiomics.setVerbosity(logging.ERROR)
    image = read_image(case_id, image_path, "image")
    mask = read_image(case_id, mask_path, "mask")
    check_pair(case_id, image, mask, mask_path, mask_label)
    extractor = make_extractor(params_path)
    try:
        result = extractor.execute(image, mask, label=mask_label)
    except ValueError as err:
        raise InputError(
            f"case {case_id}: PyRadiomics rejected image {image_path} with mask {mask_path}: "
            f"{err}. Check that the mask was drawn on this image."
        ) from err
    features, diagnostics = split_result(result)
    log.info("case %s: %d features", case_id, len(features))
    write_csv(pd.DataFrame([{"case_id": case_id, **features}]), features_csv)
    write_csv(pd.DataFrame([{"case_id": case_id, **diagnostics}]), diagnostics_csv)
