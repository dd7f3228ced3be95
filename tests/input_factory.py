"""Study folders whose cases come in every input format the workflow reads, built at test
time from demo cases: NIfTI, NRRD, DICOM series with RTSTRUCT or DICOM-SEG, a second
modality, drafts, and bad inputs of each kind."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from dicom_factory import write_ct_series, write_rtstruct, write_seg
from radsnake.imaging.demo import make_case
from radsnake.io.cohort_sheet import PROVENANCE_PREFIX
from radsnake.jobs.casejob import process_case

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "PID-4711"
BIRTH_DATE = "19600101"
ACCESSION = "ACC-0815"


def demo_pair(folder: Path, case_id: str, label: int, center: str = "A", seed: int = 42):
    """A demo case's image and mask, read back (CT-like int16 HU, 64 x 64 x 32)."""
    folder.mkdir(parents=True, exist_ok=True)
    image_path, mask_path = folder / f"{case_id}_src_image.nii.gz", folder / f"{case_id}_src_mask.nii.gz"
    make_case(case_id, label, center, seed, str(image_path), str(mask_path))
    return sitk.ReadImage(str(image_path)), sitk.ReadImage(str(mask_path))


def pet_like(ct: sitk.Image) -> sitk.Image:
    """A second modality on the CT's grid: smooth, positive floats (an uptake-like map)."""
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(ct, sitk.sitkFloat32), 2.0)
    return sitk.Cast(sitk.Clamp(smooth + 1100.0, lowerBound=0.0) / 100.0, sitk.sitkFloat32)


def coarser(image: sitk.Image, factor: float = 2.0) -> sitk.Image:
    """The same field of view on a grid `factor` times coarser in-plane (linear)."""
    spacing = (image.GetSpacing()[0] * factor, image.GetSpacing()[1] * factor, image.GetSpacing()[2])
    size = [int(round(image.GetSize()[0] / factor)), int(round(image.GetSize()[1] / factor)), image.GetSize()[2]]
    reference = sitk.Image(size, image.GetPixelID())
    reference.SetSpacing(spacing)
    reference.SetDirection(image.GetDirection())
    # Same outer edge: the first voxel centre moves by half the change of spacing.
    origin = [o + (spacing[i] - image.GetSpacing()[i]) / 2 for i, o in enumerate(image.GetOrigin())]
    reference.SetOrigin(origin)
    return sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0, image.GetPixelID())


def write(image: sitk.Image, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)
    return str(path)


def dicom_case(
    folder: Path, ct: sitk.Image, description: str = "CT B30f", patient_id: str = PATIENT_ID, series_number: int = 2
) -> str:
    """The CT as a DICOM series (PHI tags set) in folder; returns its SeriesInstanceUID."""
    return write_ct_series(
        folder,
        sitk.GetArrayFromImage(ct).astype(np.int16),
        spacing=ct.GetSpacing(),
        origin=ct.GetOrigin(),
        series_description=description,
        patient_name=PATIENT_NAME,
        patient_id=patient_id,
        birth_date=BIRTH_DATE,
        accession_number=ACCESSION,
        series_number=series_number,
    )


def rtstruct(path: Path, series_folder: Path, rois: dict, series_uid: str | None = None) -> str:
    write_rtstruct(path, series_folder, rois, patient_name=PATIENT_NAME, patient_id=PATIENT_ID, series_uid=series_uid)
    return str(path)


def seg(path: Path, series_folder: Path, segments: dict) -> str:
    write_seg(path, series_folder, segments)
    return str(path)


def mask_array(mask: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(mask) > 0


def identity_found(results: Path, strings: list[str]) -> list[tuple[str, str]]:
    """(file, string) for every identifying string found in a file under ``results``: in
    its bytes, in a PNG's text chunks (zTXt/iTXt inflated) and in a PDF's inflated
    streams (page text, metadata). An HTML report's embedded files (base64, where any
    short string turns up by chance) are skipped: they are checked as the files they
    were made from."""
    found = []
    for path in sorted(results.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data]
        if path.suffix == ".html":
            texts = [re.sub(rb"data:[^\"']*", b"", data)]
        elif path.suffix == ".png":
            texts += _png_text(data)
        elif path.suffix == ".pdf":
            for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
                try:
                    texts.append(zlib.decompress(stream))
                except zlib.error:
                    pass
        found += [(str(path), s) for s in strings if any(s.encode() in text for text in texts)]
    return found


def _png_text(data: bytes) -> list[bytes]:
    texts, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            texts.append(body)
        elif kind == b"zTXt":
            texts.append(zlib.decompress(body.split(b"\0", 1)[1][1:]))
        elif kind == b"iTXt":
            keyword, rest = body.split(b"\0", 1)
            compressed, text = rest[0], rest[2:].split(b"\0", 2)[2]
            texts.append(zlib.decompress(text) if compressed else text)
        at += 12 + length
    return texts


def extract_one(case_id: str, image: str, mask: str, params: str, label: int, features_csv: str,
                diagnostics_csv: str) -> None:
    """One case through the workflow's per-case job (radsnake.jobs.casejob.process_case, what
    the extract_features rule runs): its QC, then its features and diagnostics."""
    qc_csv = Path(features_csv).parent / f"{case_id}_qc.csv"
    qc_csv.parent.mkdir(parents=True, exist_ok=True)
    spec = {"images": [{"name": "image", "path": str(image), "column": "image"}], "mask": str(mask),
            "label": int(label)}
    process_case(case_id, spec, str(params), str(qc_csv), str(features_csv), str(diagnostics_csv))


def without_provenance(columns) -> list[str]:
    """Feature columns of a per-case features file: case_id and the source_* columns left out."""
    return [c for c in columns if c != "case_id" and not c.startswith(PROVENANCE_PREFIX)]
