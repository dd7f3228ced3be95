"""Shared file readers for images and masks: plain image files (with the gzip check),
DICOM headers checked end to end, content hashes, and metadata emptied of identity.

Used by radsnake.io.dicom_series, radsnake.io.dicom_masks and radsnake.io.imageio (imports run
one way: imageio -> dicom_series, dicom_masks -> imagefiles).
"""

from __future__ import annotations

import hashlib
import os
import struct

import numpy as np
import SimpleITK as sitk

from radsnake.io.compressed import check_complete_gzip
from radsnake.core.errors import InputError

SERIES_UID_KEY = "0020|000e"
FRAME_OF_REFERENCE_KEY = "0020|0052"
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
    "SeriesNumber",
    "SOPInstanceUID",
    "SamplesPerPixel",
    "BitsAllocated",
]
PIXEL_DATA = (0x7FE0, 0x0010)


def base_name(path: str) -> str:
    return os.path.basename(os.path.normpath(path))


def sha256_of_files(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def content_files(path: str) -> list[str]:
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


def sheet_text(value) -> str | None:
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


def has_dicom_magic(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


class DamagedDicom(Exception):
    pass


_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF


def check_complete_dicom(path: str) -> int | None:
    """Raise DamagedDicom unless the file's data elements exactly fill it; return the
    length of its native (not encapsulated) pixel data, or None.

    pydicom silently stops at the end of a truncated file (an interrupted copy), which
    would drop contours or frames without a word; walking the element headers (values
    are skipped) catches it cheaply. Files without preamble and deflated files are left
    to the readers.
    """
    size = os.path.getsize(path)
    found: dict[str, int] = {}
    with open(path, "rb") as fp:

        def read(pos: int, n: int) -> bytes:
            fp.seek(pos)
            data = fp.read(n)
            if len(data) < n:
                raise DamagedDicom(f"it is cut off at byte {size}, inside a data element header")
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
                    raise DamagedDicom(f"a sequence is malformed at byte {pos}")
                if length == _UNDEFINED:
                    pos = elements(start, implicit, endian, in_item=True)
                else:
                    pos = start + length

        def elements(pos: int, implicit: bool, endian: str, in_item: bool = False) -> int:
            while pos < size:
                group, number, vr, length, start = element(pos, implicit, endian)
                if (group, number) == (0xFFFE, 0xE00D) and in_item:
                    return start
                if (group, number) == PIXEL_DATA and not in_item and length != _UNDEFINED:
                    found["pixel_bytes"] = length
                if length == _UNDEFINED:
                    pos = items(start, implicit or vr == b"UN", endian)
                else:
                    pos = start + length
            if pos > size or in_item:
                raise DamagedDicom(f"it is cut off: its last data element needs {pos - size} more bytes")
            return pos

        if read(128, 4) != b"DICM":
            return None
        pos, syntax = 132, ""
        while True:
            group, number, _, length, start = element(pos, False, "<")
            if group != 0x0002:
                break
            if number == 0x0010:
                syntax = read(start, length).rstrip(b"\0 ").decode("ascii", "replace")
            pos = start + length
        if syntax == "1.2.840.10008.1.2.1.99" or pos >= size:  # deflated, or nothing after the meta
            return None
        # Like pydicom, trust the first element's bytes over the declared syntax.
        vr = read(pos + 4, 2) if pos + 6 <= size else b""
        implicit = not (len(vr) == 2 and vr.isalpha() and vr.isupper())
        elements(pos, implicit, ">" if syntax == "1.2.840.10008.1.2.2" else "<")
    return found.get("pixel_bytes")


def read_dicom_header(case_id: str, path: str, role: str, full: bool = False):
    """The file's header (the scan tags, or ``full``), after checking the file is whole
    and, for an image, that its pixel data has the size its header declares."""
    import pydicom

    try:
        pixel_bytes = check_complete_dicom(path)
        if full:
            return pydicom.dcmread(path, force=not has_dicom_magic(path))
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=SCAN_TAGS, force=True)
        expected = declared_pixel_bytes(ds)
        # Pixel data is padded to an even length.
        if pixel_bytes is not None and expected is not None and pixel_bytes not in (expected, expected + expected % 2):
            raise DamagedDicom(
                f"its pixel data holds {pixel_bytes} bytes, but its header declares {ds.Rows} x {ds.Columns} "
                f"pixels x {int(ds.get('NumberOfFrames', 1) or 1)} frame(s) at {ds.BitsAllocated} bits, "
                f"{expected} bytes"
            )
        return ds
    except Exception as err:  # pydicom raises many types on damaged files
        reason = str(err).strip()[:200]
        if not isinstance(err, DamagedDicom):
            reason = f"{type(err).__name__}: {reason}"
        raise InputError(
            f"case {case_id}: {role} file {path} is a damaged DICOM file ({reason}). Export it "
            "again from the PACS or planning system, or remove it from the folder."
        ) from err


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """Same size, and spacing, origin and direction equal to 1e-6 (float rounding)."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=0, atol=1e-6)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), rtol=0, atol=1e-6)
        and np.allclose(a.GetDirection(), b.GetDirection(), rtol=0, atol=1e-6)
    )


def declared_pixel_bytes(ds) -> int | None:
    """Rows x Columns x frames x samples x BitsAllocated / 8, as the header declares; None
    when a tag is missing."""
    try:
        pixels = int(ds.Rows) * int(ds.Columns) * int(ds.get("NumberOfFrames", 1) or 1)
        pixels *= int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError):
        return None
    return (pixels * bits + 7) // 8


def clean_metadata(image: sitk.Image, keep: dict[str, str] | None = None) -> sitk.Image:
    """Drop every metadata entry (DICOM readers copy PatientName & co. into it)."""
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)
    for key, value in (keep or {}).items():
        if value:
            image.SetMetaData(key, value)
    return image


def metadata_text(image: sitk.Image, key: str) -> str:
    return image.GetMetaData(key).strip() if image.HasMetaDataKey(key) else ""


def reference_uids(image: sitk.Image) -> dict[str, str]:
    return {key: metadata_text(image, key) for key in (SERIES_UID_KEY, FRAME_OF_REFERENCE_KEY)}


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
