"""Read one case's image and mask: NIfTI/NRRD/MHA files, DICOM series, RTSTRUCT, DICOM-SEG.

Two entry points, both returning ``(SimpleITK image, info dict)``:

- :func:`read_image` reads an image file or a DICOM series folder;
- :func:`read_mask` reads a label image, an RTSTRUCT (contours rasterised onto the
  image's grid) or a DICOM-SEG (placed onto the image's grid).

Privacy: nothing identifying leaves a DICOM file. The info dicts hold only file or
folder base names, SHA-256 content hashes, the SeriesInstanceUID and the chosen ROI
name or segment label. Images come back with their metadata dictionary emptied, except
the SeriesInstanceUID (``0020|000e``) and FrameOfReferenceUID (``0020|0052``) of DICOM
inputs, which :func:`read_mask` uses to check that a mask was drawn on this image.
Error messages may also show series descriptions, ROI names and segment labels, so
that the user can pick one. See docs/dicom.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from radsnake.compressed import check_complete_gzip
from radsnake.errors import InputError

log = logging.getLogger(__name__)

SERIES_UID_KEY = "0020|000e"
FRAME_OF_REFERENCE_KEY = "0020|0052"
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
SEG_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"}  # binary/fractional, label map
# DICOM objects that may share a folder with an image series but are not images of it.
NON_IMAGE_MODALITIES = {"SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "SR", "PR", "KO", "REG", "RWV", "DOC"}
CLOSED_CONTOUR_TYPES = {"CLOSED_PLANAR", "CLOSEDPLANAR_XOR"}
# A contour counts as lying on a slice when within this many voxels of the slice's centre.
SLICE_TOLERANCE = 0.25
SCAN_TAGS = [
    "SOPClassUID",
    "Modality",
    "SeriesInstanceUID",
    "SeriesDescription",
    "FrameOfReferenceUID",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "InstanceNumber",
]


# ---------------------------------------------------------------------------- shared


def _name(path: str) -> str:
    return os.path.basename(os.path.normpath(path))


def _sha256(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _content_files(path: str) -> list[str]:
    """The files holding an image's content: an MHD/NHDR header and its detached data."""
    if not path.lower().endswith((".mhd", ".nhdr")):
        return [path]
    key = "ElementDataFile" if path.lower().endswith(".mhd") else "data file"
    files = [path]
    try:
        with open(path, errors="replace") as handle:
            for line in handle:
                name, sep, value = line.partition("=" if key == "ElementDataFile" else ":")
                if sep and name.strip().lower() == key.lower():
                    data = os.path.join(os.path.dirname(path), value.strip())
                    if os.path.isfile(data):
                        files.append(data)
    except OSError:
        pass
    return files


def _given(value) -> str | None:
    """A sheet cell as text, or None when empty (None, "", NaN); 2.0 from a float column is "2"."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def check_exists(case_id: str, path: str, role: str) -> None:
    if not os.path.exists(path):
        raise InputError(
            f"case {case_id}: {role} file {path} does not exist. Correct its path in the "
            "cohort sheet or remove the case."
        )


def _has_dicom_magic(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


class _Damaged(Exception):
    pass


_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF


def _check_complete(path: str) -> None:
    """Raise _Damaged unless the file's data elements exactly fill it.

    pydicom silently stops at the end of a truncated file (an interrupted copy), which
    would drop contours or frames without a word; walking the element headers (values
    are skipped) catches it cheaply. Files without preamble and deflated files are left
    to the readers.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fp:

        def read(pos: int, n: int) -> bytes:
            fp.seek(pos)
            data = fp.read(n)
            if len(data) < n:
                raise _Damaged(f"it is cut off at byte {size}, inside a data element header")
            return data

        def element(pos: int, implicit: bool, endian: str) -> tuple[int, int, bytes | None, int, int]:
            group, number = struct.unpack(endian + "HH", read(pos, 4))
            if implicit or group == 0xFFFE:
                return group, number, None, struct.unpack(endian + "I", read(pos + 4, 4))[0], pos + 8
            vr = read(pos + 4, 2)
            if vr in _LONG_VRS:
                return group, number, vr, struct.unpack(endian + "I", read(pos + 8, 4))[0], pos + 12
            return group, number, vr, struct.unpack(endian + "H", read(pos + 6, 2))[0], pos + 8

        def items(pos: int, implicit: bool, endian: str) -> int:
            while True:
                group, number, _, length, start = element(pos, True, endian)
                if (group, number) == (0xFFFE, 0xE0DD):
                    return start
                if (group, number) != (0xFFFE, 0xE000):
                    raise _Damaged(f"a sequence is malformed at byte {pos}")
                if length == _UNDEFINED:
                    pos = elements(start, implicit, endian, in_item=True)
                else:
                    pos = start + length

        def elements(pos: int, implicit: bool, endian: str, in_item: bool = False) -> int:
            while pos < size:
                group, number, vr, length, start = element(pos, implicit, endian)
                if (group, number) == (0xFFFE, 0xE00D) and in_item:
                    return start
                if length == _UNDEFINED:
                    pos = items(start, implicit or vr == b"UN", endian)
                else:
                    pos = start + length
            if pos > size or in_item:
                raise _Damaged(f"it is cut off: its last data element needs {pos - size} more bytes")
            return pos

        if read(128, 4) != b"DICM":
            return
        pos, syntax = 132, ""
        while True:
            group, number, _, length, start = element(pos, False, "<")
            if group != 0x0002:
                break
            if number == 0x0010:
                syntax = read(start, length).rstrip(b"\0 ").decode("ascii", "replace")
            pos = start + length
        if syntax == "1.2.840.10008.1.2.1.99" or pos >= size:  # deflated, or nothing after the meta
            return
        # Like pydicom, trust the first element's bytes over the declared syntax.
        vr = read(pos + 4, 2) if pos + 6 <= size else b""
        implicit = not (len(vr) == 2 and vr.isalpha() and vr.isupper())
        elements(pos, implicit, ">" if syntax == "1.2.840.10008.1.2.2" else "<")


def _read_dicom_header(case_id: str, path: str, role: str, full: bool = False):
    import pydicom

    try:
        _check_complete(path)
        if full:
            return pydicom.dcmread(path, force=not _has_dicom_magic(path))
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=SCAN_TAGS, force=True)
    except Exception as err:  # pydicom raises many types on damaged files
        reason = str(err).strip()[:200]
        if not isinstance(err, _Damaged):
            reason = f"{type(err).__name__}: {reason}"
        raise InputError(
            f"case {case_id}: {role} file {path} is a damaged DICOM file ({reason}). Export it "
            "again from the PACS or planning system, or remove it from the folder."
        ) from err


def _clean(image: sitk.Image, keep: dict[str, str] | None = None) -> sitk.Image:
    """Drop every metadata entry (DICOM readers copy PatientName & co. into it)."""
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)
    for key, value in (keep or {}).items():
        if value:
            image.SetMetaData(key, value)
    return image


def _meta(image: sitk.Image, key: str) -> str:
    return image.GetMetaData(key).strip() if image.HasMetaDataKey(key) else ""


def _uids(image: sitk.Image) -> dict[str, str]:
    return {key: _meta(image, key) for key in (SERIES_UID_KEY, FRAME_OF_REFERENCE_KEY)}


def read_file(case_id: str, path: str, role: str) -> sitk.Image:
    if path.endswith(".gz"):
        check_complete_gzip(case_id, path, role)
    try:
        return sitk.ReadImage(path)
    except RuntimeError as err:
        first_line = str(err).strip().splitlines()[-1] if str(err).strip() else "unknown error"
        raise InputError(
            f"case {case_id}: {role} file {path} cannot be read as an image ({first_line}). "
            "Re-export it as NIfTI, NRRD or MHA, or replace the file."
        ) from err


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
    "series_uid": SeriesInstanceUID or "", "sha256": hash of the file's bytes (an MHD's
    data file included) or of the series files' bytes in sorted path order}``. The
    image's metadata holds only ``0020|000e`` and ``0020|0052`` (DICOM inputs).

    Raises InputError naming the case, the file and the fix when the path is missing or
    unreadable, the folder holds no or several series and the selectors do not pick
    exactly one, or the series is not a regular volume.
    """
    check_exists(case_id, path, role)
    if os.path.isdir(path):
        return _read_series_folder(case_id, path, role, _given(series_uid), _given(series_description))
    if _has_dicom_magic(path):
        image = _read_dicom_file(case_id, path, role)
    else:
        image = _clean(read_file(case_id, path, role), _uids(_read_file_metadata(path)))
    uid = _meta(image, SERIES_UID_KEY)
    return image, {"file": _name(path), "series_uid": uid, "sha256": _sha256(_content_files(path))}


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


def _read_dicom_file(case_id: str, path: str, role: str) -> sitk.Image:
    """A single DICOM file given as image: fine when multi-frame, else point to the folder."""
    ds = _read_dicom_header(case_id, path, role)
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
    image = _narrow(read_file(case_id, path, role))
    uids = {
        SERIES_UID_KEY: str(ds.get("SeriesInstanceUID", "")),
        FRAME_OF_REFERENCE_KEY: str(ds.get("FrameOfReferenceUID", "")),
    }
    return _clean(image, uids)


@dataclass
class _Instance:
    path: str
    series_uid: str
    description: str
    frame_uid: str
    rows: int
    columns: int
    frames: int
    position: tuple | None
    orientation: tuple | None
    pixel_spacing: tuple | None


def _scan_folder(
    case_id: str, folder: str, role: str
) -> tuple[dict[str, list[_Instance]], dict[str, int], list[tuple[str, str, InputError]]]:
    """Image instances per SeriesInstanceUID, counts of what else was found, and the
    damaged files as (path, SeriesInstanceUID or "" when unreadable, error)."""
    import pydicom

    series: dict[str, list[_Instance]] = {}
    others: dict[str, int] = {}
    damaged: list[tuple[str, str, InputError]] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if not (_has_dicom_magic(path) or name.lower().endswith(".dcm")):
                others["non-DICOM files"] = others.get("non-DICOM files", 0) + 1
                continue
            try:
                ds = _read_dicom_header(case_id, path, f"{role} series")
            except InputError as err:
                try:  # which series it belongs to, if its header survived
                    header = pydicom.dcmread(path, specific_tags=["SeriesInstanceUID"], force=True)
                    uid = str(header.get("SeriesInstanceUID", ""))
                except Exception:
                    uid = ""
                damaged.append((path, uid, err))
                continue
            modality = str(ds.get("Modality", "")).upper()
            uid = str(ds.get("SeriesInstanceUID", ""))
            if not uid or "Rows" not in ds or modality in NON_IMAGE_MODALITIES:
                kind = modality or "other DICOM"
                others[f"{kind} objects"] = others.get(f"{kind} objects", 0) + 1
                continue
            position = ds.get("ImagePositionPatient")
            orientation = ds.get("ImageOrientationPatient")
            spacing = ds.get("PixelSpacing")
            series.setdefault(uid, []).append(
                _Instance(
                    path=path,
                    series_uid=uid,
                    description=str(ds.get("SeriesDescription", "")),
                    frame_uid=str(ds.get("FrameOfReferenceUID", "")),
                    rows=int(ds.Rows),
                    columns=int(ds.get("Columns", 0)),
                    frames=int(ds.get("NumberOfFrames", 1) or 1),
                    position=tuple(float(v) for v in position) if position is not None else None,
                    orientation=tuple(float(v) for v in orientation) if orientation is not None else None,
                    pixel_spacing=tuple(float(v) for v in spacing) if spacing is not None else None,
                )
            )
    return series, others, damaged


def _series_list(series: dict[str, list[_Instance]], uids=None) -> str:
    uids = sorted(uids if uids is not None else series, key=lambda u: (series[u][0].description, u))
    return "; ".join(f"{u} ('{series[u][0].description}', {len(series[u])} files)" for u in uids)


def _choose_series(
    case_id: str,
    folder: str,
    role: str,
    series: dict[str, list[_Instance]],
    uid: str | None,
    description: str | None,
) -> str:
    fix = (
        f"Put the SeriesInstanceUID of the {role} series in the series_uid column of the cohort "
        "sheet, or a regular expression matching its description in series_description"
    )
    if uid:
        uid = str(uid).strip()
        if uid in series:
            return uid
        raise InputError(
            f"case {case_id}: {role} folder {folder} has no series with SeriesInstanceUID {uid}; "
            f"series found: {_series_list(series)}. {fix}."
        )
    if description:
        try:
            pattern = re.compile(str(description))
        except re.error as err:
            raise InputError(
                f"case {case_id}: series_description '{description}' is not a valid regular "
                f"expression ({err}). Correct it in the cohort sheet."
            ) from err
        matches = [u for u in series if pattern.search(series[u][0].description)]
        if len(matches) == 1:
            return matches[0]
        found = "no series" if not matches else f"{len(matches)} series ({_series_list(series, matches)})"
        raise InputError(
            f"case {case_id}: series_description '{description}' matches {found} in {role} folder "
            f"{folder}; series found: {_series_list(series)}. {fix}, so that exactly one matches."
        )
    if len(series) == 1:
        return next(iter(series))
    raise InputError(
        f"case {case_id}: {role} folder {folder} holds {len(series)} DICOM series: "
        f"{_series_list(series)}. {fix}."
    )


def _sort_slices(case_id: str, folder: str, role: str, instances: list[_Instance]) -> list[_Instance]:
    """Slices in increasing position along the slice normal, checked to form a regular volume."""
    where = f"case {case_id}: the {role} series {instances[0].series_uid} in folder {folder}"
    if any(i.position is None or i.orientation is None for i in instances):
        raise InputError(
            f"{where} lacks ImagePositionPatient/ImageOrientationPatient, so its slices cannot "
            "be placed in space. Export the series from the scanner or PACS, not as screenshots."
        )
    if any(i.frames > 1 for i in instances):
        raise InputError(
            f"{where} consists of {len(instances)} multi-frame files. Remove all but one from the "
            "folder, or give that file's path in the cohort sheet."
        )
    if len({(i.rows, i.columns) for i in instances}) > 1:
        raise InputError(
            f"{where} mixes image sizes {sorted({(i.rows, i.columns) for i in instances})}. "
            "Export the series again, or choose another series."
        )
    orientations = np.array([i.orientation for i in instances])
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise InputError(
            f"{where} mixes slice orientations (e.g. a localiser among the slices). Remove the "
            "odd images from the folder or choose another series."
        )
    row, col = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row, col)
    positions = np.array([i.position for i in instances])
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    instances = [instances[k] for k in order]
    distance, positions = distance[order], positions[order]
    if len(instances) < 2:
        return instances
    gaps = np.diff(distance)
    if gaps.min() < 1e-3:
        raise InputError(
            f"{where} has several images at the same slice position (several phases, echoes or "
            "acquisitions in one series). Export them as separate series, or remove the extra "
            "images from the folder."
        )
    typical = float(np.median(gaps))
    # Scanners round positions (to 0.01 mm or so); a missing slice doubles a gap.
    if np.abs(gaps - typical).max() > 0.05 * typical + 0.01:
        worst = int(np.argmax(np.abs(gaps - typical)))
        raise InputError(
            f"{where} has unevenly spaced slices (gap of {gaps[worst]:.4g} mm after slice "
            f"{worst + 1} of {len(instances)}, typical {typical:.4g} mm): a slice is probably "
            "missing. Export the complete series again."
        )
    lateral = (positions - positions[0]) - np.outer(distance - distance[0], normal)
    pixel = min(instances[0].pixel_spacing) if instances[0].pixel_spacing else 0.5
    if np.abs(lateral).max() > 0.1 * pixel:
        raise InputError(
            f"{where} was acquired with a tilted gantry (slices are shifted sideways). Convert it "
            "with a tool that corrects gantry tilt (e.g. dcm2niix) and give the NIfTI file."
        )
    return instances


def _read_series_folder(
    case_id: str, folder: str, role: str, series_uid: str | None, series_description: str | None
) -> tuple[sitk.Image, dict]:
    series, others, damaged = _scan_folder(case_id, folder, role)
    if damaged and not series:
        raise damaged[0][2]
    if not series:
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(others.items())) or "nothing"
        raise InputError(
            f"case {case_id}: {role} folder {folder} holds no DICOM image series (found {found}). "
            "Point the cohort sheet at the folder of the series, or at a NIfTI, NRRD or MHA file."
        )
    uid = _choose_series(case_id, folder, role, series, series_uid, series_description)
    # A damaged file of another series does not matter; one that may be of this series does.
    for path, damaged_uid, err in damaged:
        if damaged_uid in ("", uid):
            raise err
        log.warning("case %s: ignoring damaged file %s of another series", case_id, path)
    instances = series[uid]
    paths_for_hash = sorted(i.path for i in instances)
    if len(instances) == 1 and instances[0].frames > 1:
        image = read_file(case_id, instances[0].path, role)
    else:
        instances = _sort_slices(case_id, folder, role, instances)
        reader = sitk.ImageSeriesReader()
        reader.SetImageIO("GDCMImageIO")
        reader.SetFileNames([i.path for i in instances])
        try:
            image = reader.Execute()
        except RuntimeError as err:
            last = str(err).strip().splitlines()[-1] if str(err).strip() else "unknown error"
            raise InputError(
                f"case {case_id}: the {role} series {uid} in folder {folder} cannot be read "
                f"({last}). A file of the series is probably damaged: export the series again."
            ) from err
    image = _narrow(image)
    _clean(image, {SERIES_UID_KEY: uid, FRAME_OF_REFERENCE_KEY: instances[0].frame_uid})
    spacing = tuple(round(s, 4) for s in image.GetSpacing())
    log.info("case %s: %s series %s, %d files, size %s, spacing %s", case_id, role, uid, len(paths_for_hash),
             image.GetSize(), spacing)
    info = {"file": _name(folder), "series_uid": uid, "sha256": _sha256(paths_for_hash)}
    return image, info


def _narrow(image: sitk.Image) -> sitk.Image:
    """GDCM returns 32-bit integers for CT's stored value + intercept; int16 halves memory."""
    if image.GetPixelID() != sitk.sitkInt32:
        return image
    values = sitk.GetArrayViewFromImage(image)
    if values.size and values.min() >= -32768 and values.max() <= 32767:
        return sitk.Cast(image, sitk.sitkInt16)
    return image


# ---------------------------------------------------------------------------- masks


def read_mask(
    case_id: str,
    path: str,
    image: sitk.Image,
    label: int = 1,
    roi: str | None = None,
    segment: int | str | None = None,
) -> tuple[sitk.Image, dict]:
    """Read a case's mask for ``image`` (as returned by :func:`read_image`).

    ``path`` is one of:

    - a label image file (NIfTI, NRRD, MHA/MHD): returned as read, no resampling (the
      geometry is checked elsewhere); ``roi`` and ``segment`` are ignored;
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

    Returns ``(mask, info)`` with ``info = {"file": base name, "sha256": hash of the
    file's bytes, "roi": the chosen ROI name or segment label, or ""}``.

    Raises InputError naming the case, the file and the fix when the file is missing,
    damaged or not a mask, the ROI/segment is missing or ambiguous (the available ones
    are listed), the mask references another series, or its contours or frames do not
    lie on the image's slices.
    """
    check_exists(case_id, path, "mask")
    text = _given(label)
    if isinstance(label, bool) or text is None or not text.isdigit() or int(text) < 1:
        raise InputError(
            f"case {case_id}: mask label {label!r} must be a whole number >= 1. Correct mask_label in "
            "the cohort sheet or the config."
        )
    label, roi, segment = int(text), _given(roi), _given(segment)
    if os.path.isdir(path):
        raise InputError(
            f"case {case_id}: mask {path} is a folder. Give the RTSTRUCT or DICOM-SEG file in it, "
            "or a label image (NIfTI, NRRD or MHA)."
        )
    info = {"file": _name(path), "sha256": _sha256(_content_files(path)), "roi": ""}
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
        mask, info["roi"] = _read_rtstruct(case_id, path, image, label, roi)
    elif kind == "SEG":
        if segment is None and roi is not None:
            raise InputError(
                f"case {case_id}: mask {path} is a DICOM-SEG; choose its segment with the segment "
                "column (roi is for RTSTRUCT files)."
            )
        mask, info["roi"] = _read_seg(case_id, path, image, label, segment)
    else:
        mask = _clean(read_file(case_id, path, "mask"))
    return mask, info


def _mask_kind(case_id: str, path: str) -> str:
    if not (_has_dicom_magic(path) or path.lower().endswith(".dcm")):
        return "label image"
    ds = _read_dicom_header(case_id, path, "mask")
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
    image_series, image_frame = _meta(image, SERIES_UID_KEY), _meta(image, FRAME_OF_REFERENCE_KEY)
    if image_series and series and image_series not in series:
        raise InputError(
            f"case {case_id}: {kind} {path} was drawn on series {', '.join(sorted(series))}, but the "
            f"image is series {image_series}. Give the {kind} of this image, or choose the series it "
            "was drawn on with series_uid."
        )
    if image_frame and frame and image_frame not in frame:
        raise InputError(
            f"case {case_id}: {kind} {path} uses frame of reference {', '.join(sorted(frame))}, but the "
            f"image uses {image_frame}: they are not in the same space. Give the {kind} drawn on this "
            "image."
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


def _read_rtstruct(case_id: str, path: str, image: sitk.Image, label: int, roi) -> tuple[sitk.Image, str]:
    ds = _read_dicom_header(case_id, path, "mask", full=True)
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


def _to_continuous_index(image: sitk.Image, points: np.ndarray) -> np.ndarray:
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
    indices = [_to_continuous_index(image, c) for c in contours]
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


def _read_seg(case_id: str, path: str, image: sitk.Image, label: int, segment) -> tuple[sitk.Image, str]:
    import highdicom as hd

    try:
        _check_complete(path)
        seg = hd.seg.segread(path)
    except Exception as err:  # pydicom/highdicom raise many types on damaged files
        raise InputError(
            f"case {case_id}: mask file {path} is a damaged or invalid DICOM-SEG ({type(err).__name__}: "
            f"{str(err).strip()[:200]}). Export it again."
        ) from err
    labels = {int(n): str(seg.get_segment_description(n).segment_label) for n in seg.segment_numbers}
    if not labels:
        raise InputError(f"case {case_id}: DICOM-SEG {path} holds no segment. Export it again.")
    text = _given(segment)
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
