"""Build small, valid DICOM test data at test time: a CT series, an RTSTRUCT, a DICOM-SEG.

Nothing is downloaded. UIDs are derived from the arguments (pydicom's
``generate_uid(entropy_srcs=...)``), so the same call writes the same files.

Geometry: ``array_zyx[k, j, i]`` is the voxel at column i, row j of slice k; the series
is axial (ImageOrientationPatient 1,0,0,0,1,0), so its centre is at
``origin + (i * sx, j * sy, k * sz)`` in DICOM patient coordinates (LPS, mm), the same
convention as SimpleITK. Instance numbers run from the top slice down, as on most
scanners, so file-name order is not slice order and readers must sort by position.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
DETACHED_STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"
HU_OFFSET = 1024  # stored value = HU + 1024, RescaleIntercept = -1024, as scanners do


def _uid(*parts) -> str:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _save(ds: Dataset, path: str | os.PathLike) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(str(path), enforce_file_format=True)


def write_ct_series(
    folder,
    array_zyx: np.ndarray,
    spacing=(0.8, 0.8, 2.5),
    origin=(-25.0, -30.0, 100.0),
    series_description: str = "CT",
    patient_name: str = "Doe^Jane",
    patient_id: str = "PID-4711",
    birth_date: str = "19600101",
    series_uid: str | None = None,
    accession_number: str = "ACC-0815",
    series_number: int = 2,
) -> str:
    """Write a CT series, one file per slice, into ``folder``; return its SeriesInstanceUID.

    ``array_zyx`` holds HU values (int16, >= -1024); spacing and origin are (x, y, z) in
    mm. The PHI tags (PatientName, PatientID, PatientBirthDate, AccessionNumber) carry
    the given values so privacy tests can look for them in radsnake's outputs.
    """
    array = np.asarray(array_zyx)
    if array.ndim != 3:
        raise ValueError("array_zyx must be 3D (slices, rows, columns)")
    if array.min() < -HU_OFFSET or array.max() > 65535 - HU_OFFSET:
        raise ValueError(f"HU values must lie in [-{HU_OFFSET}, {65535 - HU_OFFSET}]")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_slices, rows, columns = array.shape
    sx, sy, sz = (float(v) for v in spacing)
    ox, oy, oz = (float(v) for v in origin)
    study_uid = _uid("study", patient_id)
    frame_uid = _uid("frame", patient_id)
    if series_uid is None:
        series_uid = _uid("series", patient_id, series_description, array.shape, spacing, origin)
    stored = (array.astype(np.int32) + HU_OFFSET).astype(np.uint16)
    prefix = hashlib.sha256(series_uid.encode()).hexdigest()[:8]  # several series may share a folder
    for k in range(n_slices):
        instance = n_slices - k  # top slice first
        ds = Dataset()
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = _uid("instance", series_uid, k)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240102"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
        ds.AccessionNumber = accession_number
        ds.Modality = "CT"
        ds.Manufacturer = "radsnake tests"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "radsnake test study"
        ds.SeriesDescription = series_description
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = birth_date
        ds.PatientSex = "F"
        ds.KVP = "120"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = instance
        ds.ImagePositionPatient = [ox, oy, oz + k * sz]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = oz + k * sz
        ds.SliceThickness = sz
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.PixelSpacing = [sy, sx]  # row spacing (y) first, as DICOM orders it
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -HU_OFFSET
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 40
        ds.WindowWidth = 400
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        _save(ds, folder / f"{prefix}_IM{instance:04d}.dcm")
    return series_uid


def read_series(series_folder, series_uid: str | None = None) -> list[Dataset]:
    """The CT slices written by :func:`write_ct_series`, sorted bottom to top."""
    datasets = [pydicom.dcmread(str(p)) for p in sorted(Path(series_folder).glob("*.dcm"))]
    datasets = [ds for ds in datasets if ds.SOPClassUID == CT_IMAGE_STORAGE]
    uids = {ds.SeriesInstanceUID for ds in datasets}
    if series_uid is None and len(uids) > 1:
        raise ValueError(f"{series_folder} holds {len(uids)} series: pass series_uid")
    datasets = [ds for ds in datasets if series_uid is None or ds.SeriesInstanceUID == series_uid]
    return sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))


def mask_to_contours(mask_zyx: np.ndarray, slices: list[Dataset]) -> list[np.ndarray]:
    """Closed contours (N x 3, mm) around the True voxels, slice by slice.

    Marching squares at level 0.5 (contourpy, matplotlib's contouring engine) passes
    half-way between inside and outside voxel centres, so every voxel centre is on the
    correct side; a hole comes out as its own contour on the same slice, which is the
    RTSTRUCT convention.
    """
    import contourpy

    mask = np.asarray(mask_zyx, dtype=bool)
    contours = []
    for k, ds in enumerate(slices):
        if not mask[k].any():
            continue
        padded = np.pad(mask[k].astype(np.float64), 1)  # closes contours at the border
        lines = contourpy.contour_generator(z=padded, line_type="Separate").lines(0.5)
        ox, oy, oz = (float(v) for v in ds.ImagePositionPatient)
        sy, sx = (float(v) for v in ds.PixelSpacing)
        for line in lines:
            line = np.asarray(line, dtype=np.float64)
            if np.allclose(line[0], line[-1]):
                line = line[:-1]
            cols, rows = line[:, 0] - 1, line[:, 1] - 1
            points = np.column_stack([ox + cols * sx, oy + rows * sy, np.full(len(line), oz)])
            contours.append(points)
    return contours


def write_rtstruct_contours(
    path,
    series_folder,
    rois: dict[str, list[np.ndarray]],
    patient_name: str = "Doe^Jane",
    patient_id: str = "PID-4711",
    series_uid: str | None = None,
) -> None:
    """Write an RTSTRUCT with the given CLOSED_PLANAR contours (lists of N x 3 mm arrays)
    drawn on the series ``series_uid`` in ``series_folder`` (needed when it holds several)."""
    slices = read_series(series_folder, series_uid)
    first = slices[0]
    series_uid = first.SeriesInstanceUID
    z_to_slice = {round(float(ds.ImagePositionPatient[2]), 3): ds for ds in slices}

    def image_ref(ds):
        item = Dataset()
        item.ReferencedSOPClassUID = ds.SOPClassUID
        item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
        return item

    rs = Dataset()
    rs.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    rs.SOPInstanceUID = _uid("rtstruct", series_uid, sorted(rois))
    rs.SpecificCharacterSet = "ISO_IR 100"
    rs.StudyDate = rs.SeriesDate = rs.StructureSetDate = "20240103"
    rs.StudyTime = rs.SeriesTime = rs.StructureSetTime = "090000"
    rs.AccessionNumber = first.AccessionNumber
    rs.Modality = "RTSTRUCT"
    rs.Manufacturer = "radsnake tests"
    rs.ReferringPhysicianName = ""
    rs.SeriesDescription = "contours"
    rs.OperatorsName = ""
    rs.PatientName = patient_name
    rs.PatientID = patient_id
    rs.PatientBirthDate = first.PatientBirthDate
    rs.PatientSex = first.PatientSex
    rs.StudyInstanceUID = first.StudyInstanceUID
    rs.SeriesInstanceUID = _uid("rtstruct-series", series_uid)
    rs.StudyID = first.StudyID
    rs.SeriesNumber = 90
    rs.InstanceNumber = 1
    rs.FrameOfReferenceUID = first.FrameOfReferenceUID
    rs.StructureSetLabel = "radsnake"

    series_ref = Dataset()
    series_ref.SeriesInstanceUID = series_uid
    series_ref.ContourImageSequence = Sequence([image_ref(ds) for ds in slices])
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = DETACHED_STUDY_MANAGEMENT
    study_ref.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = Sequence([series_ref])
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame_ref.RTReferencedStudySequence = Sequence([study_ref])
    rs.ReferencedFrameOfReferenceSequence = Sequence([frame_ref])

    roi_items, contour_items, observation_items = [], [], []
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "MANUAL"
        roi_items.append(roi)
        roi_contour = Dataset()
        roi_contour.ROIDisplayColor = [255, 0, 0]
        roi_contour.ReferencedROINumber = number
        items = []
        for points in contours:
            points = np.asarray(points, dtype=np.float64)
            contour = Dataset()
            ds = z_to_slice.get(round(float(points[0, 2]), 3))
            if ds is not None:
                contour.ContourImageSequence = Sequence([image_ref(ds)])
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            # DS values are limited to 16 characters
            contour.ContourData = [f"{v:.10g}"[:16] for v in points.ravel()]
            items.append(contour)
        roi_contour.ContourSequence = Sequence(items)
        contour_items.append(roi_contour)
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = "GTV"
        observation.ROIInterpreter = ""
        observation_items.append(observation)
    rs.StructureSetROISequence = Sequence(roi_items)
    rs.ROIContourSequence = Sequence(contour_items)
    rs.RTROIObservationsSequence = Sequence(observation_items)
    _save(rs, path)


def write_rtstruct(
    path,
    series_folder,
    rois: dict[str, np.ndarray],
    patient_name: str = "Doe^Jane",
    patient_id: str = "PID-4711",
    series_uid: str | None = None,
) -> None:
    """Write an RTSTRUCT whose ROIs are contours traced from boolean masks (z, y, x)
    drawn on the series in ``series_folder``."""
    slices = read_series(series_folder, series_uid)
    contours = {name: mask_to_contours(mask, slices) for name, mask in rois.items()}
    write_rtstruct_contours(path, series_folder, contours, patient_name, patient_id, series_uid)


def write_seg(path, series_folder, segments: dict[str, np.ndarray], series_uid: str | None = None) -> None:
    """Write a binary DICOM-SEG (highdicom) of boolean masks (z, y, x) on the series in
    ``series_folder``; segments are numbered 1, 2, ... in the dict's order and labelled
    with its keys."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    slices = read_series(series_folder, series_uid)
    stack = np.stack([np.asarray(m, dtype=bool) for m in segments.values()], axis=-1)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, label in enumerate(segments, start=1)
    ]
    series_uid = slices[0].SeriesInstanceUID
    seg = hd.seg.Segmentation(
        source_images=slices,
        pixel_array=stack,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=_uid("seg-series", series_uid),
        series_number=91,
        sop_instance_uid=_uid("seg", series_uid, list(segments)),
        instance_number=1,
        manufacturer="radsnake tests",
        manufacturer_model_name="dicom_factory",
        software_versions="1",
        device_serial_number="0",
    )
    seg.save_as(str(path))


def sphere(shape_zyx, centre_zyx, radius_mm, spacing_xyz) -> np.ndarray:
    """Boolean ball: voxels whose centre lies within ``radius_mm`` of ``centre_zyx``
    (a voxel index, may be fractional)."""
    zz, yy, xx = np.indices(shape_zyx, dtype=np.float64)
    cz, cy, cx = centre_zyx
    sx, sy, sz = spacing_xyz
    return ((xx - cx) * sx) ** 2 + ((yy - cy) * sy) ** 2 + ((zz - cz) * sz) ** 2 <= radius_mm**2


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())
