"""Read one case's image and mask: NIfTI/NRRD/MHA files, DICOM series, RTSTRUCT, DICOM-SEG.

Two entry points, both returning ``(SimpleITK image, info dict)``:

- :func:`read_image` reads an image file or a DICOM series folder;
- :func:`read_mask` reads a label image, an RTSTRUCT (contours rasterised onto the
  image's grid) or a DICOM-SEG (placed onto the image's grid).

Privacy: nothing identifying leaves a DICOM file. The info dicts hold only file or
folder base names, SHA-256 content hashes, the SeriesNumber and the chosen ROI name or
segment label. Images come back with their metadata dictionary emptied, except the
SeriesInstanceUID (``0020|000e``) and FrameOfReferenceUID (``0020|0052``) of DICOM
inputs, which :func:`read_mask` uses to check that a mask was drawn on this image.
Error messages may also show series descriptions and UIDs so that the user can pick
a series; their ``shareable`` form, the one written under results/, names a series by
its number and file count only. See docs/dicom.md.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import SimpleITK as sitk

from radsnake.io.dicom_masks import read_rtstruct, read_seg
from radsnake.io.dicom_series import NON_IMAGE_MODALITIES, narrow_int32, read_series_folder
from radsnake.core.errors import InputError
from radsnake.io.imagefiles import (
    FRAME_OF_REFERENCE_KEY,
    SERIES_UID_KEY,
    base_name,
    check_exists,
    clean_metadata,
    content_files,
    has_dicom_magic,
    read_dicom_header,
    read_file,
    reference_uids,
    sha256_of_files,
    sheet_text,
)

log = logging.getLogger(__name__)

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
# A label map holds at most this many distinct labels; more is an image given as the mask.
MAX_MASK_LABELS = 255
MASK_VALUES_LISTED = 8
SEG_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"}  # binary/fractional, label map


# ---------------------------------------------------------------------------- images


def read_image(
    case_id: str,
    path: str,
    role: str = "image",
    series_uid: str | None = None,
    series_description: str | None = None,
) -> tuple[sitk.Image, dict]:
    """Read a case's image.

    ``path`` is a NIfTI (.nii, .nii.gz), NRRD, MHA or MHD file, or a folder holding a
    DICOM series (searched recursively; RTSTRUCT, SEG and other non-image objects in it
    are ignored). When the folder holds several image series, ``series_uid`` (the exact
    SeriesInstanceUID) or ``series_description`` (a regular expression, ``re.search``
    on SeriesDescription) chooses one; both are ignored for files. A DICOM series is
    sorted by slice position and must have one orientation, evenly spaced slices and
    no tilt; it is read by SimpleITK's ImageSeriesReader (GDCM) with the rescale slope
    and intercept applied.

    Returns ``(image, info)`` with ``info = {"file": base name of the file or folder,
    "series": SeriesNumber or "", "sha256": hash of the file's bytes (an MHD's
    data file included) or of the series files' bytes in sorted path order}``. The
    image's metadata holds only ``0020|000e`` and ``0020|0052`` (DICOM inputs).

    Raises InputError naming the case, the file and the fix when the path is missing or
    unreadable, the folder holds no or several series and the selectors do not pick
    exactly one, or the series is not a regular volume.
    """
    check_exists(case_id, path, role)
    if os.path.isdir(path):
        return read_series_folder(case_id, path, role, sheet_text(series_uid), sheet_text(series_description))
    number = ""
    if has_dicom_magic(path):
        image, number = _read_dicom_file(case_id, path, role)
    else:
        image = clean_metadata(read_file(case_id, path, role), reference_uids(_read_file_metadata(path)))
    return image, {"file": base_name(path), "series": number, "sha256": sha256_of_files(content_files(path))}


def _read_file_metadata(path: str) -> sitk.Image:
    """An empty image carrying the file's metadata (for UIDs an NRRD/MHA may carry)."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return sitk.Image()
    holder = sitk.Image()
    for key in (SERIES_UID_KEY, FRAME_OF_REFERENCE_KEY):
        if reader.HasMetaDataKey(key):
            holder.SetMetaData(key, reader.GetMetaData(key))
    return holder


def _read_dicom_file(case_id: str, path: str, role: str) -> tuple[sitk.Image, str]:
    """A single DICOM file given as image, and its SeriesNumber: fine when multi-frame,
    else point to the folder."""
    ds = read_dicom_header(case_id, path, role)
    modality = str(ds.get("Modality", "")).upper()
    if modality in NON_IMAGE_MODALITIES or ds.get("SOPClassUID") == RTSTRUCT_SOP_CLASS:
        raise InputError(
            f"case {case_id}: {role} file {path} is a DICOM {modality or 'non-image'} object, not "
            "an image. Put it in the mask column and the folder of the image series in the "
            "image column."
        )
    if int(ds.get("NumberOfFrames", 1) or 1) <= 1:
        raise InputError(
            f"case {case_id}: {role} file {path} is a single DICOM slice. Put the folder that "
            "holds the whole series in the cohort sheet instead of one of its files."
        )
    image = narrow_int32(read_file(case_id, path, role))
    uids = {
        SERIES_UID_KEY: str(ds.get("SeriesInstanceUID", "")),
        FRAME_OF_REFERENCE_KEY: str(ds.get("FrameOfReferenceUID", "")),
    }
    return clean_metadata(image, uids), str(ds.get("SeriesNumber", "") or "").strip()


# ---------------------------------------------------------------------------- masks


def read_mask(
    case_id: str,
    path: str,
    image: sitk.Image,
    label: int = 1,
    roi: str | None = None,
    segment: int | str | None = None,
    threshold: float | None = None,
) -> tuple[sitk.Image, dict]:
    """Read a case's mask for ``image`` (as returned by :func:`read_image`).

    ``path`` is one of:

    - a label image file (NIfTI, NRRD, MHA/MHD): returned as read, no resampling (the
      geometry is checked elsewhere); ``roi`` and ``segment`` are ignored. It must be a
      label map (:func:`as_label_map`): a fractional mask is refused, or binarised at
      ``threshold`` when one is given (config ``qc.mask_threshold``);
    - a DICOM RTSTRUCT: the ROI named ``roi`` (exact name, or ``"regex:<expression>"``
      for ``re.search`` on the ROI names; may be omitted when there is one ROI) is
      rasterised onto the image's grid. Closed planar contours lying on the same slice
      are combined by even-odd parity (XOR), so inner contours are holes; a voxel is
      inside when its centre is;
    - a DICOM-SEG: the segment ``segment`` (a number, int or digit string; a segment
      label; or ``"regex:<expression>"`` on the labels; may be omitted when there is
      one segment) is read with highdicom and placed onto the image's grid by its frame
      positions (nearest neighbour; fractional segments are thresholded at 0.5).

    The kind is detected from the DICOM Modality/SOPClassUID, else the file is read as a
    label image. RTSTRUCT and SEG masks are uint8 (wider when ``label`` > 255), with the
    image's size, spacing, origin and direction, ``label`` inside the ROI and 0
    elsewhere. When the image came from DICOM, the referenced SeriesInstanceUID and
    FrameOfReferenceUID must match the image's.

    Returns ``(mask, info)`` with ``info = {"file": base name, "threshold": the threshold
    applied or None, "sha256": hash of the
    file's bytes, "roi": the chosen ROI name or segment label, or ""}``.

    Raises InputError naming the case, the file and the fix when the file is missing,
    damaged or not a mask, the ROI/segment is missing or ambiguous (the available ones
    are listed), the mask references another series, or its contours or frames do not
    lie on the image's slices.
    """
    check_exists(case_id, path, "mask")
    text = sheet_text(label)
    if isinstance(label, bool) or text is None or not text.isdigit() or int(text) < 1:
        raise InputError(
            f"case {case_id}: mask label {label!r} must be a whole number >= 1. Correct mask_label in "
            "the cohort sheet or the config."
        )
    label, roi, segment = int(text), sheet_text(roi), sheet_text(segment)
    if os.path.isdir(path):
        raise InputError(
            f"case {case_id}: mask {path} is a folder. Give the RTSTRUCT or DICOM-SEG file in it, "
            "or a label image (NIfTI, NRRD or MHA)."
        )
    info = {"file": base_name(path), "sha256": sha256_of_files(content_files(path)), "roi": "", "threshold": None}
    kind = _mask_kind(case_id, path)
    if kind in ("RTSTRUCT", "SEG") and image.GetDimension() != 3:
        raise InputError(
            f"case {case_id}: the image is {image.GetDimension()}D, but the {kind} {path} needs the 3D "
            "image it was drawn on. Give the folder of the whole series."
        )
    if kind == "RTSTRUCT":
        if roi is None and segment is not None:
            raise InputError(
                f"case {case_id}: mask {path} is an RTSTRUCT; choose its ROI with the roi column "
                "(segment is for DICOM-SEG files)."
            )
        mask, info["roi"] = read_rtstruct(case_id, path, image, label, roi)
    elif kind == "SEG":
        if segment is None and roi is not None:
            raise InputError(
                f"case {case_id}: mask {path} is a DICOM-SEG; choose its segment with the segment "
                "column (roi is for RTSTRUCT files)."
            )
        mask, info["roi"] = read_seg(case_id, path, image, label, segment)
    else:
        mask = clean_metadata(read_file(case_id, path, "mask"))
        mask, info["threshold"] = as_label_map(case_id, path, mask, label, threshold)
    return mask, info


def _listing(values: np.ndarray) -> str:
    shown = [f"{v:g}" for v in values[:MASK_VALUES_LISTED].tolist()]
    return ", ".join(shown) + (f", … ({values.size} distinct values)" if values.size > MASK_VALUES_LISTED else "")


def as_label_map(
    case_id: str, path: str, mask: sitk.Image, label: int, threshold: float | None
) -> tuple[sitk.Image, float | None]:
    """The mask as a label map, and the threshold applied (None when none was).

    A label map holds whole numbers >= 0. A mask with other values (a fractional mask
    from linear resampling or a soft segmentation) is refused unless ``threshold`` is
    given: then voxels with a value >= threshold get ``label``, the others 0. A mask
    with negative values or more than MAX_MASK_LABELS distinct non-zero values is
    refused as an image given as the mask. Vector masks are left to QC.
    """
    if mask.GetNumberOfComponentsPerPixel() != 1:
        return mask, None
    values = sitk.GetArrayViewFromImage(mask)
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values))
        if not whole.all():
            found = np.unique(values[~whole])
            if threshold is None:
                raise InputError(
                    f"case {case_id}: mask file {path} is not a label map: it holds non-integer values "
                    f"({_listing(found)}), e.g. a mask resampled with linear interpolation. Give the label "
                    "map, or set qc.mask_threshold (e.g. 0.5) in the config to binarise fractional masks "
                    "on purpose."
                )
            dtype = np.uint8 if label <= 255 else np.uint32
            binary = sitk.GetImageFromArray((values >= threshold).astype(dtype) * dtype(label))
            binary.CopyInformation(mask)
            log.info("case %s: fractional mask %s binarised at %g", case_id, path, threshold)
            return binary, float(threshold)
    nonzero = np.unique(values[values != 0])
    if nonzero.size and (nonzero[0] < 0 or nonzero.size > MAX_MASK_LABELS):
        raise InputError(
            f"case {case_id}: mask file {path} does not look like a label map: it holds "
            f"{nonzero.size} distinct non-zero values from {nonzero[0]:g} to {nonzero[-1]:g} (a label map "
            f"holds whole numbers from 1, at most {MAX_MASK_LABELS} of them). Is it an image given as the "
            "mask? Put the segmentation's file in the mask column."
        )
    return mask, None


def _mask_kind(case_id: str, path: str) -> str:
    if not (has_dicom_magic(path) or path.lower().endswith(".dcm")):
        return "label image"
    ds = read_dicom_header(case_id, path, "mask")
    modality = str(ds.get("Modality", "")).upper()
    sop_class = str(ds.get("SOPClassUID", ""))
    if modality == "RTSTRUCT" or sop_class == RTSTRUCT_SOP_CLASS:
        return "RTSTRUCT"
    if modality == "SEG" or sop_class in SEG_SOP_CLASSES:
        return "SEG"
    raise InputError(
        f"case {case_id}: mask file {path} is a DICOM {modality or 'object'} file, not a mask. "
        "Give an RTSTRUCT, a DICOM-SEG or a label image (NIfTI, NRRD or MHA)."
    )
