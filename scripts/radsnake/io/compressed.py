"""Compressed image files read whole: ITK reads a truncated .gz without an error, with the
missing voxels set to 0, so radsnake checks the gzip stream before ITK sees the file."""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from radsnake.core.errors import InputError


def check_complete_gzip(case_id: str, path: str, role: str) -> None:
    """Refuse a truncated or damaged .gz file: ITK reads one without an error, with the
    missing voxels set to 0. Cheap for NIfTI: the gzip trailer's size must be the one
    the header promises; anything else is decompressed once to be sure."""
    with open(path, "rb") as handle:
        if handle.read(2) != b"\x1f\x8b":
            return  # not gzip: ITK says what it is not
        handle.seek(-4, os.SEEK_END)
        stored_size = int.from_bytes(handle.read(4), "little")
    try:
        with gzip.open(path, "rb") as stream:
            expected = _nifti_file_size(stream.read(540))
            if expected is not None and expected % 2**32 == stored_size:
                return
            while stream.read(1 << 20):
                pass
    except EOFError as err:
        raise InputError(
            f"case {case_id}: {role} file {path} is incomplete or damaged ({err}); read as it is, "
            "its missing voxels would be 0. Copy or export the file again."
        ) from None
    except (OSError, zlib.error) as err:
        # Not cut short but garbled: nothing to say about missing voxels.
        raise InputError(
            f"case {case_id}: {role} file {path} cannot be read as an image (damaged compressed "
            f"data: {err}). Re-export it from the source, or copy it again."
        ) from None


def _nifti_file_size(header: bytes) -> int | None:
    """vox_offset + data bytes from a NIfTI-1 or -2 header, or None if it is not one."""
    for order in "<>":
        if len(header) >= 348 and struct.unpack(order + "i", header[:4])[0] == 348:
            dims = struct.unpack(order + "8h", header[40:56])
            bitpix = struct.unpack(order + "h", header[72:74])[0]
            offset = int(struct.unpack(order + "f", header[108:112])[0])
            break
        if len(header) >= 540 and struct.unpack(order + "i", header[:4])[0] == 540:
            dims = struct.unpack(order + "8q", header[16:80])
            bitpix = struct.unpack(order + "h", header[14:16])[0]
            offset = struct.unpack(order + "q", header[168:176])[0]
            break
    else:
        return None
    if not 1 <= dims[0] <= 7:
        return None
    return offset + int(np.prod(dims[1 : dims[0] + 1], dtype=np.int64)) * bitpix // 8
