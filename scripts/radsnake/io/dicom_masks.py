"""DICOM masks: an RTSTRUCT's contours rasterised onto the image's grid, a DICOM-SEG's
segment placed onto it. docs/dicom.md describes the rules."""

from __future__ import annotations

import logging
import re

import numpy as np
import SimpleITK as sitk

from radsnake.core.errors import InputError
from radsnake.io.imagefiles import (
    FRAME_OF_REFERENCE_KEY,
    SERIES_UID_KEY,
    check_complete_dicom,
    metadata_text,
    read_dicom_header,
    sheet_text,
)

log = logging.getLogger(__name__)

CLOSED_CONTOUR_TYPES = {"CLOSED_PLANAR", "CLOSEDPLANAR_XOR"}
# A contour counts as lying on a slice when within this many voxels of the slice's centre.
SLICE_TOLERANCE = 0.25

def _pick(
    case_id: str, path: str, what: str, column: str, names: dict[int, str], selector, numbered: bool
) -> int:
    """The number of the ROI/segment in ``names`` chosen by exact name or ``regex:``."""
    listing = ", ".join(f"{k}: '{v}'" if numbered else f"'{v}'" for k, v in names.items())
    how = "number, exact label" if numbered else "exact name"
    fix = f"Set {column} for this case in the cohort sheet to one of them ({how}, or regex:<expression>)"
    if selector is None or str(selector).strip() == "":
        if len(names) == 1:
            return next(iter(names))
        raise InputError(
            f"case {case_id}: mask {path} holds {len(names)} {what}s ({listing}) and none is chosen. {fix}."
        )
    text = str(selector).strip()
    if text.startswith("regex:"):
        try:
            pattern = re.compile(text[len("regex:"):])
        except re.error as err:
            raise InputError(
                f"case {case_id}: {column} '{text}' is not a valid regular expression ({err}). "
                "Correct it in the cohort sheet."
            ) from err
        matches = [k for k, v in names.items() if pattern.search(v)]
    else:
        matches = [k for k, v in names.items() if v == text]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(f"case {case_id}: mask {path} has no {what} '{text}'; available: {listing}. {fix}.")
    chosen = ", ".join(f"'{names[k]}'" for k in matches)
    raise InputError(
        f"case {case_id}: {column} '{text}' matches {len(matches)} {what}s in mask {path} ({chosen}). {fix}, "
        "so that exactly one matches."
    )


def _check_reference(case_id: str, path: str, kind: str, image: sitk.Image, series: set, frame: set) -> None:
    image_series, image_frame = metadata_text(image, SERIES_UID_KEY), metadata_text(image, FRAME_OF_REFERENCE_KEY)
    if image_series and series and image_series not in series:
        fix = f"Give the {kind} of this image, or choose the series it was drawn on with series_uid."
        raise InputError(
            f"case {case_id}: {kind} {path} was drawn on series {', '.join(sorted(series))}, but the "
            f"image is series {image_series}. {fix}",
            shareable=f"case {case_id}: {kind} {path} was drawn on another series than the image (the "
            f"console and logs/ name their SeriesInstanceUIDs). {fix}",
        )
    if image_frame and frame and image_frame not in frame:
        fix = f"Give the {kind} drawn on this image."
        raise InputError(
            f"case {case_id}: {kind} {path} uses frame of reference {', '.join(sorted(frame))}, but the "
            f"image uses {image_frame}: they are not in the same space. {fix}",
            shareable=f"case {case_id}: {kind} {path} uses another frame of reference than the image: "
            f"they are not in the same space. {fix}",
        )


def _to_image(inside: np.ndarray, image: sitk.Image, label: int) -> sitk.Image:
    dtype = np.uint8 if label <= 255 else np.uint16 if label <= 65535 else np.uint32
    mask = sitk.GetImageFromArray(inside.astype(dtype) * dtype(label))
    mask.CopyInformation(image)
    return mask


def _rtstruct_content(ds) -> tuple[dict[int, str], set, dict[int, set], dict[int, list[np.ndarray]]]:
    """ROI names, referenced series, frames of reference and closed contours per ROI number."""
    rois, frames = {}, {}
    for item in ds.get("StructureSetROISequence", []):
        rois[int(item.ROINumber)] = str(item.get("ROIName", ""))
        frame = item.get("ReferencedFrameOfReferenceUID")
        frames[int(item.ROINumber)] = {str(frame)} if frame else set()
    series = set()
    for frame_ref in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame_ref.get("RTReferencedStudySequence", []):
            for ref in study.get("RTReferencedSeriesSequence", []):
                series.add(str(ref.SeriesInstanceUID))
    contours: dict[int, list[np.ndarray]] = {}
    for item in ds.get("ROIContourSequence", []):
        number = int(item.ReferencedROINumber)
        for contour in item.get("ContourSequence", []):
            if str(contour.get("ContourGeometricType", "")).upper() not in CLOSED_CONTOUR_TYPES:
                continue  # points and open lines enclose no volume
            points = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
            if len(points) >= 3:
                contours.setdefault(number, []).append(points)
    return rois, series, frames, contours


def read_rtstruct(case_id: str, path: str, image: sitk.Image, label: int, roi) -> tuple[sitk.Image, str]:
    ds = read_dicom_header(case_id, path, "mask", full=True)
    try:
        rois, series, frames, contours = _rtstruct_content(ds)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise InputError(
            f"case {case_id}: RTSTRUCT {path} is malformed ({type(err).__name__}: {str(err).strip()[:200]}). "
            "Export the structure set again."
        ) from err
    if not rois:
        raise InputError(f"case {case_id}: RTSTRUCT {path} holds no ROI. Export the structure set again.")
    number = _pick(case_id, path, "ROI", "roi", rois, roi, numbered=False)
    name = rois[number]
    _check_reference(case_id, path, "RTSTRUCT", image, series, frames[number])
    if not contours.get(number):
        raise InputError(
            f"case {case_id}: ROI '{name}' in RTSTRUCT {path} has no closed contour. Redraw it, or "
            "choose another ROI with the roi column."
        )
    inside = rasterise_contours(case_id, path, name, contours[number], image)
    if not inside.any():
        raise InputError(
            f"case {case_id}: ROI '{name}' in RTSTRUCT {path} covers no voxel centre of the image. "
            "Check that it was drawn on this image."
        )
    log.info("case %s: RTSTRUCT ROI '%s', %d contours, %d voxels", case_id, name, len(contours[number]),
             int(inside.sum()))
    return _to_image(inside, image, label), name


def to_continuous_index(image: sitk.Image, points: np.ndarray) -> np.ndarray:
    """Vectorised ``image.TransformPhysicalPointToContinuousIndex`` (index order x, y, z)."""
    direction = np.array(image.GetDirection()).reshape(3, 3)
    scale = direction @ np.diag(image.GetSpacing())
    return np.linalg.solve(scale, (points - np.array(image.GetOrigin())).T).T


def rasterise_contours(
    case_id: str, path: str, name: str, contours: list[np.ndarray], image: sitk.Image
) -> np.ndarray:
    """Boolean array (z, y, x) on ``image``'s grid of the voxels whose centres are inside.

    Contours (N x 3 physical points) are mapped to continuous voxel indices. They must
    lie on the image's slices along one index axis (usually z, but any axis the
    contours are constant along, so a reoriented image works too); the contours on
    each slice are filled together by even-odd parity.
    """
    size = image.GetSize()
    indices = [to_continuous_index(image, c) for c in contours]
    # The slice axis: the one every contour is constant along, preferring z.
    axis = None
    for candidate in (2, 1, 0):
        if all(np.ptp(ix[:, candidate]) <= 2 * SLICE_TOLERANCE for ix in indices):
            axis = candidate
            break
    if axis is None:
        raise InputError(
            f"case {case_id}: the contours of ROI '{name}' in RTSTRUCT {path} are not parallel to "
            "the image's slices. Check that the RTSTRUCT was drawn on this image."
        )
    in_plane = [a for a in (0, 1, 2) if a != axis]  # (u, v): u varies fastest in the array
    shape = (size[in_plane[1]], size[in_plane[0]])
    slices: dict[int, list[np.ndarray]] = {}
    off_slice, outside = [], []
    for ix in indices:
        level = float(np.mean(ix[:, axis]))
        k = int(round(level))
        if np.abs(ix[:, axis] - k).max() > SLICE_TOLERANCE:
            off_slice.append(level)
        elif not 0 <= k < size[axis]:
            outside.append(k)
        else:
            slices.setdefault(k, []).append(ix[:, in_plane])
    if off_slice:
        raise InputError(
            f"case {case_id}: {len(off_slice)} of {len(contours)} contours of ROI '{name}' in RTSTRUCT "
            f"{path} lie between the image's slices (e.g. at slice {off_slice[0]:.2f}): it was drawn "
            "on a series with other slice positions. Give the image series the RTSTRUCT was drawn on."
        )
    if outside:
        raise InputError(
            f"case {case_id}: {len(outside)} of {len(contours)} contours of ROI '{name}' in RTSTRUCT "
            f"{path} lie outside the image (slice {outside[0]} of 0-{size[axis] - 1}). Give the full "
            "image series the RTSTRUCT was drawn on, not a cropped one."
        )
    volume = np.zeros(size[::-1], dtype=bool)  # (z, y, x)
    for k, polygons in slices.items():
        plane = fill_polygons(polygons, shape)
        if axis == 2:
            volume[k, :, :] = plane
        elif axis == 1:
            volume[:, k, :] = plane
        else:
            volume[:, :, k] = plane
    return volume


def fill_polygons(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Even-odd fill of closed polygons (N x 2 vertices, (u, v) in pixel-centre units)
    on a grid of ``shape`` (nv, nu): True where a pixel centre has an odd number of
    polygon edges to its left on its row.

    Edges follow the half-open rule (an edge counts on row v when v_min <= v < v_max and
    a centre is inside when strictly right of the crossing), so polygons sharing an edge
    never both claim a centre on it and a polygon with vertices on pixel centres covers
    as many pixels as its area. Overlapping polygons cancel (XOR): inner contours are holes.
    """
    nv, nu = shape
    starts = np.concatenate([p for p in polygons])
    ends = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
    u0, v0, u1, v1 = starts[:, 0], starts[:, 1], ends[:, 0], ends[:, 1]
    lo, hi = np.minimum(v0, v1), np.maximum(v0, v1)
    first = np.clip(np.ceil(lo), 0, nv).astype(np.int64)
    stop = np.clip(np.ceil(hi), 0, nv).astype(np.int64)
    counts = np.maximum(stop - first, 0)
    counts[v0 == v1] = 0  # horizontal edges never cross a row
    edge = np.repeat(np.arange(len(counts)), counts)
    row = first[edge] + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    u = u0[edge] + (row - v0[edge]) * (u1[edge] - u0[edge]) / (v1[edge] - v0[edge])
    column = np.clip(np.floor(u).astype(np.int64) + 1, 0, nu)
    toggles = np.zeros((nv, nu + 1), dtype=np.int64)
    np.add.at(toggles, (row, column), 1)
    return (np.cumsum(toggles, axis=1)[:, :nu] % 2).astype(bool)


def read_seg(case_id: str, path: str, image: sitk.Image, label: int, segment) -> tuple[sitk.Image, str]:
    import highdicom as hd

    try:
        check_complete_dicom(path)
        seg = hd.seg.segread(path)
    except Exception as err:  # pydicom/highdicom raise many types on damaged files
        raise InputError(
            f"case {case_id}: mask file {path} is a damaged or invalid DICOM-SEG ({type(err).__name__}: "
            f"{str(err).strip()[:200]}). Export it again."
        ) from err
    labels = {int(n): str(seg.get_segment_description(n).segment_label) for n in seg.segment_numbers}
    if not labels:
        raise InputError(f"case {case_id}: DICOM-SEG {path} holds no segment. Export it again.")
    text = sheet_text(segment)
    if text is not None and text.isdigit():
        number = int(text)
        if number not in labels:
            listing = ", ".join(f"{k}: '{v}'" for k, v in labels.items())
            raise InputError(
                f"case {case_id}: mask {path} has no segment number {number}; available: {listing}. "
                "Set segment for this case in the cohort sheet to one of them (number or label)."
            )
    else:
        number = _pick(case_id, path, "segment", "segment", labels, text, numbered=True)
    name = labels[number]

    series = {str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])}
    frame = {str(seg.FrameOfReferenceUID)} if seg.get("FrameOfReferenceUID") else set()
    _check_reference(case_id, path, "DICOM-SEG", image, series, frame)

    fractional = seg.segmentation_type == hd.seg.SegmentationTypeValues.FRACTIONAL
    try:
        volume = seg.get_volume(segment_numbers=[number], combine_segments=not fractional, relabel=True)
    except (RuntimeError, ValueError) as err:
        raise InputError(
            f"case {case_id}: segment {number} ('{name}') of DICOM-SEG {path} cannot be placed in "
            f"space ({str(err).strip()[:200]}). It may be empty, or its frames do not form a regular "
            "volume; export it again."
        ) from err
    values = volume.array
    if values.ndim == 4:
        values = values[..., 0]
    present = values >= 0.5 if fractional else values > 0
    if not present.any():
        raise InputError(
            f"case {case_id}: segment {number} ('{name}') of DICOM-SEG {path} is empty"
            f"{' (no pixel reaches 0.5)' if fractional else ''}. Choose another segment or redraw it."
        )
    placed = sitk.Resample(
        _volume_to_image(present, volume.affine), image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8
    )
    inside = sitk.GetArrayFromImage(placed) > 0
    if not inside.any():
        raise InputError(
            f"case {case_id}: segment {number} ('{name}') of DICOM-SEG {path} lies outside the image. "
            "Check that it was drawn on this image."
        )
    log.info("case %s: SEG segment %d '%s', %d voxels", case_id, number, name, int(inside.sum()))
    return _to_image(inside, image, label), name


def _volume_to_image(array_slice_row_col: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A highdicom volume (array indexed slice, row, column; affine to LPS) as a SimpleITK image."""
    out = sitk.GetImageFromArray(array_slice_row_col.astype(np.uint8))
    # SimpleITK's index (x, y, z) is highdicom's (column, row, slice).
    vectors = affine[:3, [2, 1, 0]]
    spacing = np.linalg.norm(vectors, axis=0)
    out.SetSpacing(spacing.tolist())
    out.SetDirection((vectors / spacing).ravel().tolist())
    out.SetOrigin(affine[:3, 3].tolist())
    return out
