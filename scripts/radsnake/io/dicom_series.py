"""DICOM series folders: scanned, one series chosen, its slices checked to form a whole,
regular volume, and read with SimpleITK (GDCM). docs/dicom.md describes the rules."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from radsnake.core.errors import InputError
from radsnake.io.imagefiles import (
    FRAME_OF_REFERENCE_KEY,
    SERIES_UID_KEY,
    base_name,
    clean_metadata,
    has_dicom_magic,
    read_dicom_header,
    read_file,
    sha256_of_files,
)

log = logging.getLogger(__name__)

# DICOM objects that may share a folder with an image series but are not images of it.
NON_IMAGE_MODALITIES = {"SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "SR", "PR", "KO", "REG", "RWV", "DOC"}


@dataclass
class _Instance:
    path: str
    series_uid: str
    description: str
    number: str
    sop_uid: str
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
            if not (has_dicom_magic(path) or name.lower().endswith(".dcm")):
                others["non-DICOM files"] = others.get("non-DICOM files", 0) + 1
                continue
            try:
                ds = read_dicom_header(case_id, path, f"{role} series")
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
                    number=str(ds.get("SeriesNumber", "") or "").strip(),
                    sop_uid=str(ds.get("SOPInstanceUID", "")),
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


def series_label(instances: list[_Instance]) -> str:
    """'series 3 (120 files)': how messages that may be written under results/ name a
    series (no UID, no description: descriptions often carry the patient's ID)."""
    number = instances[0].number
    return f"series {number if number else '(no number)'} ({len(instances)} files)"


def _series_list(series: dict[str, list[_Instance]], uids=None) -> str:
    """UIDs and descriptions: for the console and logs/ only."""
    uids = sorted(uids if uids is not None else series, key=lambda u: (series[u][0].description, u))
    return "; ".join(
        f"{series_label(series[u])}: {u} ('{series[u][0].description}')" for u in uids
    )


def _series_labels(series: dict[str, list[_Instance]], uids=None) -> str:
    uids = sorted(uids if uids is not None else series, key=lambda u: (series[u][0].number.zfill(12), u))
    return "; ".join(series_label(series[u]) for u in uids)


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
    # What results/ may hold: series by number and file count (the console and logs/ say more).
    shareable_fix = f"{fix} (the console and logs/ list their UIDs and descriptions)"
    if uid:
        uid = str(uid).strip()
        if uid in series:
            return uid
        raise InputError(
            f"case {case_id}: {role} folder {folder} has no series with SeriesInstanceUID {uid}; "
            f"series found: {_series_list(series)}. {fix}.",
            shareable=f"case {case_id}: {role} folder {folder} has no series with the SeriesInstanceUID "
            f"given in series_uid; series found: {_series_labels(series)}. {shareable_fix}.",
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
        shared = "no series" if not matches else f"{len(matches)} series ({_series_labels(series, matches)})"
        raise InputError(
            f"case {case_id}: series_description '{description}' matches {found} in {role} folder "
            f"{folder}; series found: {_series_list(series)}. {fix}, so that exactly one matches.",
            shareable=f"case {case_id}: series_description matches {shared} in {role} folder {folder}; "
            f"series found: {_series_labels(series)}. {shareable_fix}, so that exactly one matches.",
        )
    if len(series) == 1:
        return next(iter(series))
    raise InputError(
        f"case {case_id}: {role} folder {folder} holds {len(series)} DICOM series: "
        f"{_series_list(series)}. {fix}.",
        shareable=f"case {case_id}: {role} folder {folder} holds {len(series)} DICOM series: "
        f"{_series_labels(series)}. {shareable_fix}.",
    )


def _sort_slices(case_id: str, folder: str, role: str, instances: list[_Instance]) -> list[_Instance]:
    """Slices in increasing position along the slice normal, checked to form a regular volume."""
    where = f"case {case_id}: the {role} {series_label(instances)} in folder {folder}"
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
        at = int(np.argmin(gaps))
        first, second = instances[at], instances[at + 1]
        names = f"{os.path.basename(first.path)} and {os.path.basename(second.path)}"
        if first.sop_uid and first.sop_uid == second.sop_uid:
            raise InputError(
                f"{where} holds the same slice twice: files {names} are copies of one image "
                f"(slice {at + 1} of {len(instances)}). Remove the duplicate files from the folder."
            )
        raise InputError(
            f"{where} has several images at the same slice position (files {names}, slice "
            f"{at + 1} of {len(instances)}: several phases, echoes or acquisitions in one series). "
            "Export them as separate series, or remove the extra images from the folder."
        )
    typical = float(np.median(gaps))
    # Scanners round positions (to 0.01 mm or so); a missing slice doubles a gap.
    if np.abs(gaps - typical).max() > 0.05 * typical + 0.01:
        worst = int(np.argmax(np.abs(gaps - typical)))
        files = f"{os.path.basename(instances[worst].path)} and {os.path.basename(instances[worst + 1].path)}"
        raise InputError(
            f"{where} has unevenly spaced slices (gap of {gaps[worst]:.4g} mm between files {files}, after "
            f"slice {worst + 1} of {len(instances)}, typical {typical:.4g} mm): a slice is probably "
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


def read_series_folder(
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
                f"case {case_id}: the {role} {series_label(instances)} in folder {folder} cannot be read "
                f"({last}). A file of the series is probably damaged: export the series again."
            ) from err
    image = narrow_int32(image)
    clean_metadata(image, {SERIES_UID_KEY: uid, FRAME_OF_REFERENCE_KEY: instances[0].frame_uid})
    spacing = tuple(round(s, 4) for s in image.GetSpacing())
    log.info("case %s: %s series %s, %d files, size %s, spacing %s", case_id, role, uid, len(paths_for_hash),
             image.GetSize(), spacing)
    info = {"file": base_name(folder), "series": instances[0].number, "sha256": sha256_of_files(paths_for_hash)}
    return image, info


def narrow_int32(image: sitk.Image) -> sitk.Image:
    """GDCM returns 32-bit integers for CT's stored value + intercept; int16 halves memory."""
    if image.GetPixelID() != sitk.sitkInt32:
        return image
    values = sitk.GetArrayViewFromImage(image)
    if values.size and values.min() >= -32768 and values.max() <= 32767:
        return sitk.Cast(image, sitk.sitkInt16)
    return image
