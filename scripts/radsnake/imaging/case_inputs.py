"""One case's inputs as the workflow uses them: read, checked (QC) and extracted.

A case is described by a *spec* (built from its sheet row by
:func:`radsnake.io.cohort_sheet.case_spec`): its images, one per modality, each a file or a
DICOM folder with an optional series selector; its mask (label image, RTSTRUCT or
DICOM-SEG) drawn on the first image; the ROI label, ROI name or segment. The per-case
job (radsnake.jobs.casejob) reads the case once (:func:`load_case`), checks it
(:func:`qc_row`) and extracts what it checked. docs/inputs.md describes the policy for
users.
"""

from __future__ import annotations

import logging

import SimpleITK as sitk

from radsnake.io.cohort_sheet import PROVENANCE_PREFIX
from radsnake.core.errors import InputError
from radsnake.io.imagefiles import same_grid

log = logging.getLogger(__name__)


def load_case(case_id: str, spec: dict, resample: bool = False):
    """Images (modality name -> image, reference first), mask on the reference grid, and
    provenance info per image column and for the mask. Raises InputError on any file
    that cannot be read as specified (missing, damaged, ambiguous series, absent ROI)."""
    from radsnake.io.imageio import read_image, read_mask

    log.info("case %s: reading %s and mask %s", case_id, ", ".join(e["path"] for e in spec["images"]), spec["mask"])
    images, infos, reference = {}, {}, None
    for entry in spec["images"]:
        image, info = read_image(
            case_id, entry["path"], entry["column"], entry.get("series_uid"), entry.get("series_description")
        )
        if reference is None:
            reference = image
        elif resample and image.GetDimension() == 3 == reference.GetDimension() and not same_grid(image, reference):
            # Other modalities onto the grid the mask was drawn on; linear keeps values in range.
            log.info("case %s: %s resampled onto the grid of %s", case_id, entry["column"], spec["images"][0]["column"])
            image = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        images[entry["name"]] = image
        infos[entry["column"]] = info
    mask, mask_info = read_mask(
        case_id, spec["mask"], reference, spec["label"], spec.get("roi"), spec.get("segment"), spec.get("mask_threshold")
    )
    return images, mask, infos, mask_info


def _without_case(message: str, case_id: str) -> str:
    prefix = f"case {case_id}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def qc_row(case_id: str, spec: dict, tolerance: dict | None = None, resample: bool = False):
    """(QC row, loaded case or None). A file that cannot be read is a failing row whose
    reason is the reader's message (it names the file and the fix). PyRadiomics' own
    limits are checked by the extraction itself (radsnake.jobs.casejob, :func:`pyradiomics_checks`)."""
    from radsnake.imaging.qc import qc_case

    files = {entry["name"]: entry["path"] for entry in spec["images"]}
    try:
        loaded = load_case(case_id, spec, resample)
    except InputError as err:
        log.warning("%s", err)  # the full message (UIDs, descriptions): logs/ only
        # The row goes under results/: the message without DICOM free text or UIDs.
        reason = " ".join(_without_case(err.shareable, case_id).split())
        row = {
            "case_id": case_id,
            "modalities": ";".join(files),
            "mask_file": spec["mask"],
            "mask_label": int(spec["label"]),
            "qc_pass": False,
            "qc_reasons": reason.replace(";", ","),
            **{f"{name}_file": path for name, path in files.items()},
        }
        return row, None
    images, mask, mask_info = loaded[0], loaded[1], loaded[3]
    row = qc_case(case_id, images, mask, spec["label"], files, spec["mask"], tolerance)
    row["mask_threshold"] = mask_info.get("threshold")
    return row, loaded


def pyradiomics_checks(case_id: str, images: dict, mask: sitk.Image, label: int, extractor, params_path: str,
                       row: dict) -> list:
    """PyRadiomics' own limits: per image, the pixel type it is cast to for binning
    (recorded in ``<m>_cast_for_extraction``) and why PyRadiomics would refuse the ROI
    (reasons returned), run as extraction runs them (radsnake.jobs.casejob)."""
    from radsnake.imaging.extract import binnable, pyradiomics_refusal

    reasons = []
    for name, image in images.items():
        image, cast = binnable(image, extractor)
        row[f"{name}_cast_for_extraction"] = cast
        refusal = pyradiomics_refusal(image, snap_to_image(mask, image), label, extractor, params_path)
        if refusal:
            reasons.append(f"image {name}: {refusal}")
    return reasons


def stop_message(case_id: str, spec: dict, row: dict) -> str:
    files = ", ".join(entry["path"] for entry in spec["images"])
    return (
        f"case {case_id}: input QC failed for image {files} with mask {spec['mask']}: "
        f"{row['qc_reasons'].replace(';', '; ')}. Fix the file(s) or the case's row in the cohort "
        "sheet (mask_label, roi, segment, series selector), or set qc.on_fail: exclude in the "
        "config to leave failing cases out (they are then listed in results/qc/excluded.csv)."
    )


def snap_to_image(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """The mask on exactly the image's grid.

    QC passed, so sizes are equal and spacing/origin/direction differ by no more than
    the QC tolerance (rounding in another program's export); copying the image's
    geometry is then what nearest-neighbour resampling would give, and PyRadiomics'
    much stricter geometryTolerance no longer rejects the pair.
    """
    if same_grid(mask, image):
        return mask
    snapped = sitk.Image(mask)
    snapped.CopyInformation(image)
    return snapped


def provenance(spec: dict, infos: dict, mask_info: dict) -> dict:
    """source_<column>_file/_series/_sha256 per image column, source_mask_file/_sha256/_roi.
    A DICOM series is named by its SeriesNumber, not its UID (no identity under results/)."""
    out = {}
    for entry in spec["images"]:
        info = infos[entry["column"]]
        key = f"{PROVENANCE_PREFIX}{entry['column']}"
        out.update({f"{key}_file": info["file"], f"{key}_series": info["series"], f"{key}_sha256": info["sha256"]})
    out.update(
        {
            f"{PROVENANCE_PREFIX}mask_file": mask_info["file"],
            f"{PROVENANCE_PREFIX}mask_sha256": mask_info["sha256"],
            f"{PROVENANCE_PREFIX}mask_roi": mask_info["roi"],
        }
    )
    return out
