"""The real workflow on a two-modality cohort mixing NIfTI, NRRD, DICOM + RTSTRUCT and
DICOM + SEG inputs, with a draft awaiting review: QC, overlays in the report, provenance
columns, the feature dictionary, and no patient identity anywhere in results/."""

from __future__ import annotations

import copy

import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from browser import assert_report_reads_in_a_browser
from conftest import FAST_CONFIG, planned_jobs, snakemake, write_config
from input_factory import (
    ACCESSION,
    BIRTH_DATE,
    PATIENT_ID,
    PATIENT_NAME,
    coarser,
    demo_pair,
    dicom_case,
    identity_found,
    mask_array,
    pet_like,
    rtstruct,
    seg,
    write,
)

pytestmark = pytest.mark.workflow

# A series description that carries the patient's ID, as PACS exports often do.
DESCRIPTION_ID = "IBSI_1_STS_017"

TARGETS = [
    "results/features.csv",
    "results/qc/qc.csv",
    "results/qc/excluded.csv",
    "results/features_dictionary.csv",
    "results/drafts/draft1_mask.nii.gz",
]
EXTRACTED = ["nifti1", "nrrd1", "rtstruct1", "seg1"]
TARGETS += [f"results/qc/overlays/{case_id}.png" for case_id in EXTRACTED]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    data = root / "data"
    rows = []

    # NIfTI CT + a PET-like map on a coarser grid (resampled onto the CT's).
    ct, mask = demo_pair(data / "src", "nifti1", 1)
    rows.append({"case_id": "nifti1", "label": 1, "image": write(ct, data / "nifti1" / "ct.nii.gz"),
                 "image_PET": write(coarser(pet_like(ct)), data / "nifti1" / "pet.nii.gz"),
                 "mask": write(mask, data / "nifti1" / "mask.nii.gz")})
    # NRRD, mask label 2.
    ct, mask = demo_pair(data / "src", "nrrd1", 0)
    rows.append({"case_id": "nrrd1", "label": 0, "image": write(ct, data / "nrrd1" / "ct.nrrd"),
                 "image_PET": write(pet_like(ct), data / "nrrd1" / "pet.nrrd"),
                 "mask": write(mask * 2, data / "nrrd1" / "mask.nrrd"), "mask_label": "2"})
    # DICOM folder with two reconstructions (selected by description) + RTSTRUCT (ROI by regex).
    ct, mask = demo_pair(data / "src", "rtstruct1", 1)
    folder = data / "rtstruct1" / "ct"
    uid = dicom_case(folder, ct, f"CT B30f {DESCRIPTION_ID}")
    dicom_case(folder, ct, f"CT B70f sharp {DESCRIPTION_ID}", series_number=3)
    body = mask_array(mask) | True
    body[:, :2, :] = False
    rows.append({"case_id": "rtstruct1", "label": 1, "image": str(folder), "series_description": "B30f",
                 "image_PET": write(pet_like(ct), data / "rtstruct1" / "pet.nii.gz"),
                 "mask": rtstruct(data / "rtstruct1" / "RS.dcm", folder, {"GTV_1": mask_array(mask), "Body": body}, uid),
                 "roi": "regex:^GTV"})
    # DICOM series + SEG (segment by label).
    ct, mask = demo_pair(data / "src", "seg1", 0)
    folder = data / "seg1" / "ct"
    dicom_case(folder, ct, "CT")
    rows.append({"case_id": "seg1", "label": 0, "image": str(folder),
                 "image_PET": write(pet_like(ct), data / "seg1" / "pet.nii.gz"),
                 "mask": seg(data / "seg1" / "SEG.dcm", folder, {"liver": ~mask_array(mask), "tumour": mask_array(mask)}),
                 "segment": "tumour"})
    # A case with only a box around the lesion: drafted for review, not extracted.
    ct, mask = demo_pair(data / "src", "draft1", 1)
    rows.append({"case_id": "draft1", "label": 1, "image": write(ct, data / "draft1" / "ct.nii.gz"),
                 "image_PET": write(pet_like(ct), data / "draft1" / "pet.nii.gz"), "mask": "",
                 "draft_bbox": ",".join(f"{v:.2f}" for v in _box(mask, margin_mm=4.0))})

    config = copy.deepcopy(FAST_CONFIG)
    config["modalities"] = ["CT", "PET"]
    config["qc"] = {"on_fail": "stop", "resample_to_reference": True}
    write_config(root, config)
    sheet = pd.DataFrame(rows)
    sheet["center"] = "A"
    sheet["age"] = [60, 61, 62, 63, 64]
    sheet["sex"] = ["F", "M", "F", "M", "F"]
    (root / "config").mkdir(exist_ok=True)  # write_config puts config.yaml at the study's root
    sheet.fillna("").to_csv(root / "config" / "cohort.csv", index=False)
    snakemake(root, *TARGETS)
    return root


def _box(mask, margin_mm):
    """Corners (mm, LPS) of the ROI's bounding box widened by margin_mm."""
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    x, y, z, sx, sy, sz = stats.GetBoundingBox(1)
    low = mask.TransformIndexToPhysicalPoint([x, y, z])
    high = mask.TransformIndexToPhysicalPoint([x + sx - 1, y + sy - 1, z + sz - 1])
    return [v - margin_mm for v in low] + [v + margin_mm for v in high]


def test_features_of_every_format_with_modality_prefixes(study):
    table = pd.read_csv(study / "results" / "features.csv", dtype={"case_id": str})
    assert table["case_id"].tolist() == EXTRACTED
    features = [c for c in table.columns if c.startswith(("CT_", "PET_"))]
    assert "CT_original_shape_VoxelVolume" in features and "PET_original_firstorder_Mean" in features
    assert len([c for c in features if c.startswith("CT_")]) == len([c for c in features if c.startswith("PET_")])
    assert table[features].notna().all().all()
    # Same mask on both modalities: same shape.
    assert (table["CT_original_shape_VoxelVolume"] == table["PET_original_shape_VoxelVolume"]).all()


def test_rois_match_the_drawn_masks(study):
    """RTSTRUCT rasterised and SEG placed on the DICOM grid give (about) the demo ROI."""
    table = pd.read_csv(study / "results" / "features.csv").set_index("case_id")
    for case_id in ("rtstruct1", "seg1", "nrrd1"):
        truth = sitk.ReadImage(str(study / "data" / "src" / f"{case_id}_src_mask.nii.gz"))
        voxels = int(mask_array(truth).sum())
        spacing = truth.GetSpacing()
        expected = voxels * spacing[0] * spacing[1] * spacing[2]
        assert table.loc[case_id, "CT_original_shape_VoxelVolume"] == pytest.approx(expected, rel=0.05), case_id


def test_provenance_columns(study):
    table = pd.read_csv(study / "results" / "features.csv", dtype=str, keep_default_na=False).set_index("case_id")
    sources = [c for c in table.columns if c.startswith("source_")]
    assert sources == [
        "source_image_file", "source_image_series", "source_image_sha256",
        "source_image_PET_file", "source_image_PET_series", "source_image_PET_sha256",
        "source_mask_file", "source_mask_sha256", "source_mask_roi",
    ]
    assert table.loc["nifti1", "source_image_file"] == "ct.nii.gz"
    assert table.loc["nrrd1", "source_mask_file"] == "mask.nrrd"
    assert table.loc["rtstruct1", "source_image_file"] == "ct"
    # A DICOM series by its SeriesNumber: its UID is identifying (docs/dicom.md).
    assert table.loc["rtstruct1", "source_image_series"] == "2"
    assert table.loc["nifti1", "source_image_series"] == ""
    assert table.loc["rtstruct1", "source_mask_roi"] == "GTV_1"
    assert table.loc["seg1", "source_mask_roi"] == "tumour"
    for column in ("source_image_sha256", "source_image_PET_sha256", "source_mask_sha256"):
        assert table[column].str.fullmatch(r"[0-9a-f]{64}").all()
    assert table["source_image_sha256"].nunique() == len(table)


def test_qc_table_and_excluded_draft(study):
    qc = pd.read_csv(study / "results" / "qc" / "qc.csv", dtype={"case_id": str})
    assert qc["case_id"].tolist() == EXTRACTED and qc["qc_pass"].all()
    assert {"CT_spacing_x", "PET_spacing_x", "PET_geometry_ok"} <= set(qc.columns)
    # The coarse PET was resampled onto the CT grid before QC.
    assert qc.set_index("case_id").loc["nifti1", "PET_spacing_x"] == pytest.approx(qc.iloc[0]["CT_spacing_x"])
    excluded = pd.read_csv(study / "results" / "qc" / "excluded.csv")
    assert excluded["case_id"].tolist() == ["draft1"]
    assert excluded.loc[0, "stage"] == "mask review"
    assert "mask_status accepted" in excluded.loc[0, "reasons"]
    assert not (study / "results" / "features" / "draft1.csv").exists()


def test_draft_written_for_review(study):
    draft = sitk.ReadImage(str(study / "results" / "drafts" / "draft1_mask.nii.gz"))
    truth = sitk.ReadImage(str(study / "data" / "src" / "draft1_src_mask.nii.gz"))
    a, b = mask_array(draft), mask_array(truth)
    assert a.any() and (study / "results" / "drafts" / "draft1.png").stat().st_size > 10_000
    assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.5


def test_feature_dictionary_parses_modalities(study):
    dictionary = pd.read_csv(study / "results" / "features_dictionary.csv", keep_default_na=False)
    assert set(dictionary["modality"]) == {"CT", "PET"}
    assert not dictionary["feature"].str.startswith("source_").any()
    row = dictionary.set_index("feature").loc["PET_original_firstorder_Mean"]
    assert row["ibsi_code"] == "Q4LE" and row["family"] == "firstorder"


def test_overlays_in_report_and_no_patient_identity(study):
    snakemake(study, "--report", str(study / "results" / "report.html"), *TARGETS)
    html = (study / "results" / "report.html").read_text(errors="replace")
    for case_id in EXTRACTED:
        assert (study / "results" / "qc" / "overlays" / f"{case_id}.png").stat().st_size > 10_000
        assert f"{case_id}.png" in html
    assert "draft1.png" in html and "excluded.csv" in html
    assert_report_reads_in_a_browser(study / "results" / "report.html")
    identity = [PATIENT_NAME, PATIENT_NAME.replace("^", " "), PATIENT_ID, BIRTH_DATE, ACCESSION, DESCRIPTION_ID]
    for path in (study / "data").rglob("*.dcm"):  # and every UID of the study, series and images
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        identity += [str(ds[tag].value) for tag in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
    assert not identity_found(study / "results", sorted(set(identity)))
    assert len(list((study / "results").rglob("*.csv"))) >= 12


def test_accepting_the_draft_extracts_it(study):
    sheet_path = study / "config" / "cohort.csv"
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    # Accepted as drafted: the sheet points at the draft itself (relative to the sheet).
    sheet.loc[sheet["case_id"] == "draft1", "mask"] = "../results/drafts/draft1_mask.nii.gz"
    sheet["mask_status"] = ""
    sheet.loc[sheet["case_id"] == "draft1", "mask_status"] = "accepted"
    sheet.to_csv(sheet_path, index=False)
    jobs = planned_jobs(study, *TARGETS)
    assert jobs.get("extract_features") == 1, jobs
    assert "draft_mask" not in jobs, jobs
    snakemake(study, *TARGETS)
    assert "draft1" in pd.read_csv(study / "results" / "features.csv")["case_id"].tolist()
    assert pd.read_csv(study / "results" / "qc" / "excluded.csv").empty
