"""The bad-input catalogue, through the real workflow on one small cohort holding one bad
case of each per-case kind next to good cases; sheet-level problems and a bad params file
on top of finished results.

Each message must name the case, the file and what to do; good cases must finish
(--keep-going) and finished results must survive a run stopped at parse time. Unit-level
checks of the same messages are in test_extract.py, test_imageio.py and test_cohort.py.
"""

from __future__ import annotations

import copy
import os
import re
import shutil

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
import yaml

from conftest import FAST_CONFIG, snakemake, write_config
from input_factory import (
    ACCESSION,
    BIRTH_DATE,
    PATIENT_NAME,
    demo_pair,
    dicom_case,
    identity_found,
    mask_array,
    rtstruct,
    write,
)

pytestmark = pytest.mark.workflow

# good3 is an int8 image (cast for PyRadiomics' binning); dicom1 a DICOM series whose
# description and tags carry the patient's identity.
GOOD = ["dicom1", "good1", "good2", "good3"]
# Descriptions as PACS exports write them: they carry the patient's ID.
DESCRIPTION = "IBSI_1_STS_003_CT_image"
TARGETS = ["results/features.csv", "results/qc/qc.csv", "results/qc/excluded.csv"]


def _image_like(array, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like)
    return image


def bad_cases(data):
    """{case: (sheet row, regex the message must match: case, file, what to do)}."""
    cases = {}
    ct, mask = demo_pair(data / "src", "base", 1)
    ok_image, ok_mask = write(ct, data / "base_ct.nii.gz"), write(mask, data / "base_mask.nii.gz")

    corrupt = data / "corrupt_ct.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b this is not an image")
    cases["corrupt"] = ({"image": str(corrupt), "mask": ok_mask},
                        r"case corrupt: image file \S*corrupt_ct.nii.gz cannot be read as an image .*Re-export it")
    bigger = sitk.ConstantPad(mask, (0, 0, 0), (0, 0, 2))
    cases["size"] = ({"image": ok_image, "mask": write(bigger, data / "size_mask.nii.gz")},
                     r"case size: input QC failed for image \S*base_ct.nii.gz with mask \S*size_mask.nii.gz: "
                     r"mask size \(64, 64, 34\) differs from image image size \(64, 64, 32\).*Fix the file")
    shifted = sitk.Image(mask)
    shifted.SetOrigin([o + (2.0 if i == 0 else 0.0) for i, o in enumerate(mask.GetOrigin())])
    cases["origin"] = ({"image": ok_image, "mask": write(shifted, data / "origin_mask.nii.gz")},
                       r"case origin: input QC failed .*origin_mask.nii.gz: mask origin differs from image image by 2 mm "
                       r"\(tolerance 0.01\).*Fix the file")
    spaced = sitk.Image(mask)
    spaced.SetSpacing([s * 1.01 for s in mask.GetSpacing()])
    cases["spacing"] = ({"image": ok_image, "mask": write(spaced, data / "spacing_mask.nii.gz")},
                        r"case spacing: input QC failed .*spacing_mask.nii.gz: mask spacing differs from image image by "
                        r".*Fix the file")
    empty = _image_like(np.zeros(sitk.GetArrayFromImage(mask).shape, np.uint8), mask)
    cases["empty"] = ({"image": ok_image, "mask": write(empty, data / "empty_mask.nii.gz")},
                      r"case empty: input QC failed .*empty_mask.nii.gz: mask is empty.*Fix the file")
    cases["label"] = ({"image": ok_image, "mask": write(mask * 3, data / "label_mask.nii.gz")},
                      r"case label: input QC failed .*label_mask.nii.gz: mask has no voxel with label 1 "
                      r"\(labels present: 3\), set mask_label for this case")
    flat = sitk.GetArrayFromImage(ct)[16]
    flat_mask = sitk.GetArrayFromImage(mask)[16]
    cases["flat"] = ({"image": write(sitk.GetImageFromArray(flat), data / "flat_ct.nii.gz"),
                      "mask": write(sitk.GetImageFromArray(flat_mask), data / "flat_mask.nii.gz")},
                     r"case flat: input QC failed for image \S*flat_ct.nii.gz .*image image is 2D, radsnake expects 3D")
    values = sitk.GetArrayFromImage(ct).astype(np.float32)
    values[16, 30:33, 30:33] = np.nan
    cases["nan"] = ({"image": write(_image_like(values, ct), data / "nan_ct.mha"), "mask": ok_mask},
                    r"case nan: input QC failed for image \S*nan_ct.mha .*image image has 9 NaN or infinite voxels")

    folder = data / "noroi" / "ct"
    dicom_case(folder, ct, "CT", patient_id="PID-1")
    cases["noroi"] = ({"image": str(folder), "roi": "GTV",
                       "mask": rtstruct(data / "noroi" / "RS.dcm", folder, {"GTV_1": mask_array(mask)})},
                      r"case noroi: mask \S*RS.dcm has no ROI 'GTV'; available: 'GTV_1'.*Set roi for this case")
    folder = data / "mixed" / "ct"
    dicom_case(folder, ct, DESCRIPTION, patient_id="PID-2")
    dicom_case(folder, ct, DESCRIPTION + " sharp", patient_id="PID-2", series_number=3)
    cases["mixed"] = ({"image": str(folder), "mask": ok_mask},
                      r"case mixed: image folder \S*mixed/ct holds 2 DICOM series.*series_uid column")

    # Issue 13, read images whole: a .nii.gz cut short, a series missing a slice, one
    # holding a slice twice, and one whose slice has less pixel data than it declares.
    truncated = data / "truncated_ct.nii.gz"
    truncated.write_bytes(open(ok_image, "rb").read()[: os.path.getsize(ok_image) // 2])
    cases["truncated"] = ({"image": str(truncated), "mask": ok_mask},
                          r"case truncated: image file \S*truncated_ct.nii.gz is incomplete or damaged .*missing "
                          r"voxels would be 0\. Copy or export the file again")
    gap, dup, short = (data / name / "ct" for name in ("gap", "dup", "short"))
    for folder, patient in ((gap, "PID-3"), (dup, "PID-4"), (short, "PID-5")):
        dicom_case(folder, ct, DESCRIPTION, patient_id=patient)
    slices = sorted(gap.iterdir())
    slices[10].unlink()
    cases["gap"] = ({"image": str(gap), "mask": ok_mask},
                    r"case gap: the image series 2 \(31 files\) in folder \S*gap/ct has unevenly spaced slices "
                    r"\(gap of 5 mm .*typical 2.5 mm\): a slice is probably missing\. Export the complete series")
    copy_of = sorted(dup.iterdir())[5]
    shutil.copy(copy_of, dup / "copy_of_slice.dcm")
    cases["dup"] = ({"image": str(dup), "mask": ok_mask},
                    r"case dup: the image series 2 \(33 files\) in folder \S*dup/ct holds the same slice twice: "
                    rf"files (copy_of_slice.dcm and {copy_of.name}|{copy_of.name} and copy_of_slice.dcm) are copies"
                    r".*Remove the duplicate files")
    victim = sorted(short.iterdir())[7]
    ds = pydicom.dcmread(victim)
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    ds.save_as(victim)
    cases["short"] = ({"image": str(short), "mask": ok_mask},
                      rf"case short: image series file \S*{victim.name} is a damaged DICOM file \(its pixel data "
                      r"holds 4096 bytes, but its header declares 64 x 64 pixels x 1 frame\(s\) at 16 bits, 8192 "
                      r"bytes\)\. Export it again")

    # Issue 13, PyRadiomics' own limits: a 1-voxel ROI.
    one = np.zeros(sitk.GetArrayFromImage(mask).shape, np.uint8)
    one[16, 30, 30] = 1
    cases["onevoxel"] = ({"image": ok_image, "mask": write(_image_like(one, mask), data / "onevoxel_mask.nii.gz")},
                         r"case onevoxel: input QC failed .*onevoxel_mask.nii.gz: image image: PyRadiomics would refuse "
                         r"the ROI with params file \S*original.yaml \(minimumROIDimensions 2, minimumROISize None\): "
                         r"mask only contains 1 segmented voxel")
    # Issue 19, masks must be label maps: a fractional mask (linear resampling), an image as the mask.
    fractional = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(sitk.Cast(mask, sitk.sitkFloat32), 1.0))
    fractional = np.round(np.clip(fractional, 0, 1) * 4) / 4
    cases["fraction"] = ({"image": ok_image, "mask": write(_image_like(fractional.astype(np.float32), mask),
                                                            data / "fraction_mask.nii.gz")},
                         r"case fraction: mask file \S*fraction_mask.nii.gz is not a label map: it holds non-integer "
                         r"values \(0.25, 0.5, 0.75\).*set qc.mask_threshold \(e.g. 0.5\)")
    cases["imagemask"] = ({"image": ok_image, "mask": ok_image},
                          r"case imagemask: mask file \S*base_ct.nii.gz does not look like a label map: it holds "
                          r"\d+ distinct non-zero values from -\d+ to \d+ .*Is it an image given as the mask")
    return cases


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue")
    data = root / "data"
    rows = []
    for number, case_id in enumerate(GOOD):
        ct, mask = demo_pair(data / "src", case_id, number % 2)
        if case_id == "good3":
            ct = _image_like(np.clip(sitk.GetArrayFromImage(ct), -128, 127).astype(np.int8), ct)
        image = write(ct, data / f"{case_id}_ct.nii.gz")
        if case_id == "dicom1":
            image = str(data / "dicom1" / "ct")
            dicom_case(data / "dicom1" / "ct", ct, DESCRIPTION)
        rows.append({"case_id": case_id, "label": number % 2, "image": image,
                     "mask": write(mask, data / f"{case_id}_mask.nii.gz")})
    # A 27-voxel ROI: fine with the default params, too small for the exclude run's params.
    ct, mask = demo_pair(data / "src", "small", 1)
    cube = np.zeros(sitk.GetArrayFromImage(mask).shape, np.uint8)
    cube[15:18, 30:33, 30:33] = 1
    rows.append({"case_id": "small", "label": 1, "image": write(ct, data / "small_ct.nii.gz"),
                 "mask": write(_image_like(cube, mask), data / "small_mask.nii.gz")})
    cases = bad_cases(data)
    for number, (case_id, (row, _)) in enumerate(cases.items()):
        rows.append({"case_id": case_id, "label": number % 2, **row})
    config = copy.deepcopy(FAST_CONFIG)
    config["clinical"] = {}
    config["qc"] = {"on_fail": "stop"}
    write_config(root, config)
    pd.DataFrame(rows).fillna("").to_csv(root / "config" / "cohort.csv", index=False)
    stopped = snakemake(root, "--keep-going", *TARGETS, check=False)
    return root, cases, stopped


def _identity(root) -> list[str]:
    """What must never be written under results/: the patient attributes planted in the
    DICOM files, the series descriptions and every UID of the study, series and images."""
    strings = {PATIENT_NAME, PATIENT_NAME.replace("^", " "), BIRTH_DATE, ACCESSION, DESCRIPTION}
    for path in (root / "data").rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        strings |= {str(ds.get(tag, "")) for tag in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                                                      "FrameOfReferenceUID", "SOPInstanceUID")}
    return sorted(s for s in strings if s)


def test_no_identity_under_results_when_stopped(catalogue):
    """Issue 13 item 9: the console may quote a series' description to help choose it;
    results/ holds none of it."""
    root, _, stopped = catalogue
    assert DESCRIPTION in stopped.stderr  # the "mixed" message lists the series
    assert len(list((root / "results").rglob("*.csv"))) >= 8
    assert not identity_found(root / "results", _identity(root))


def test_every_bad_case_stops_with_its_message(catalogue):
    root, cases, stopped = catalogue
    assert stopped.returncode != 0
    output = stopped.stdout + stopped.stderr
    missing = [case for case, (_, pattern) in cases.items() if not re.search(pattern, output)]
    assert not missing, f"messages not found for {missing}:\n{output[-6000:]}"
    for case_id in cases:
        log = (root / "logs" / "extract_features" / f"{case_id}.log").read_text()
        assert re.search(cases[case_id][1], " ".join(log.split())), case_id
        assert not (root / "results" / "features" / f"{case_id}.csv").exists()


def test_good_cases_finish_despite_bad_ones(catalogue):
    root, _, _ = catalogue
    for case_id in GOOD + ["small"]:
        row = pd.read_csv(root / "results" / "features" / f"{case_id}.csv", keep_default_na=False)
        assert len(row) == 1 and row.shape[1] > 100
    assert not (root / "results" / "features.csv").exists()
    # The DICOM series is named by its number in the provenance columns, not its UID.
    assert row.loc[0, "source_image_series"] == "" and "source_image_series_uid" not in row
    assert str(pd.read_csv(root / "results" / "features" / "dicom1.csv").loc[0, "source_image_series"]) == "2"


def test_int8_image_is_cast_losslessly_and_extracted(catalogue):
    """Issue 13 item 2: PyRadiomics bins an int8 image wrongly (a GLCM IndexError); QC
    records the cast to int16 and extraction gives the features of the int16 image."""
    root, _, _ = catalogue
    qc = pd.read_csv(root / "results" / "qc" / "cases" / "good3.csv", keep_default_na=False)
    assert qc.loc[0, "image_pixel_type"] == "8-bit signed integer"
    assert qc.loc[0, "image_cast_for_extraction"] == "16-bit signed integer"
    good1 = pd.read_csv(root / "results" / "qc" / "cases" / "good1.csv", keep_default_na=False)
    assert good1.loc[0, "image_cast_for_extraction"] == ""
    features = pd.read_csv(root / "results" / "features" / "good3.csv")
    assert np.isfinite(features.filter(like="original_glcm_").to_numpy()).all()
    assert features.loc[0, "original_glcm_Contrast"] > 0


@pytest.fixture(scope="module")
def excluded_run(catalogue):
    root, cases, _ = catalogue
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["qc"]["on_fail"] = "exclude"
    # Fractional masks binarised on purpose: the "fraction" case then passes.
    config["qc"]["mask_threshold"] = 0.5
    # PyRadiomics' limits come from the params file in use: "small" is now too small.
    strict = root / "config" / "strict.yaml"
    strict.write_text(open(config["pyradiomics"]["params"]).read() + "  minimumROISize: 30\n")
    config["pyradiomics"]["params"] = str(strict)
    write_config(root, config)
    snakemake(root, *TARGETS)
    return root, cases


def test_exclude_lists_every_bad_case_with_its_reason(excluded_run):
    root, cases = excluded_run
    bad = sorted(set(cases) - {"fraction"} | {"small"})
    excluded = pd.read_csv(root / "results" / "qc" / "excluded.csv", keep_default_na=False).set_index("case_id")
    assert sorted(excluded.index) == bad
    assert set(excluded["stage"]) == {"input QC"}
    assert "no ROI 'GTV'" in excluded.loc["noroi", "reasons"]
    assert "NaN or infinite" in excluded.loc["nan", "reasons"]
    # The reason names the series by number and file count, never by UID or description.
    # ";" separates reasons in the table, so the reason's own ";" became ",".
    assert re.search(r"holds 2 DICOM series: series 2 \(32 files\), series 3 \(32 files\)\. Put the "
                     r"SeriesInstanceUID .*the console and logs/ list their UIDs and descriptions",
                     excluded.loc["mixed", "reasons"]), excluded.loc["mixed", "reasons"]
    short_reasons = {
        "truncated": r"image file \S*truncated_ct.nii.gz is incomplete or damaged",
        "gap": r"the image series 2 \(31 files\) in folder \S*gap/ct has unevenly spaced slices",
        "dup": r"the image series 2 \(33 files\) in folder \S*dup/ct holds the same slice twice",
        "short": r"image series file \S*\.dcm is a damaged DICOM file \(its pixel data holds 4096 bytes",
        "onevoxel": r"^image image: PyRadiomics would refuse the ROI .*mask only contains 1 segmented voxel",
        "imagemask": r"mask file \S*base_ct.nii.gz does not look like a label map",
        "small": r"^image image: PyRadiomics would refuse the ROI with params file \S*strict.yaml "
                 r"\(minimumROIDimensions 2, minimumROISize 30\): Size of the ROI is too small \(minimum size: 30, "
                 r"ROI size: 27, redraw the ROI, or lower minimumROISize in the params file$",
    }
    for case_id, pattern in short_reasons.items():
        assert re.search(pattern, excluded.loc[case_id, "reasons"]), (case_id, excluded.loc[case_id, "reasons"])
        assert list(pd.read_csv(root / "results" / "features" / f"{case_id}.csv").columns) == [
            "case_id", "excluded_reason"]
    features = pd.read_csv(root / "results" / "features.csv")
    assert features["case_id"].tolist() == sorted(GOOD + ["fraction"])
    qc = pd.read_csv(root / "results" / "qc" / "qc.csv", dtype={"case_id": str}, keep_default_na=False)
    passed = qc.set_index("case_id")["qc_pass"].astype(str) == "True"
    assert passed.loc[GOOD + ["fraction"]].all() and not passed.loc[bad].any()
    # The threshold is recorded where it was applied, and the ROI is the >= 0.5 region.
    threshold = qc.set_index("case_id")["mask_threshold"]
    assert threshold.loc["fraction"] == "0.5" and threshold.loc[GOOD].eq("").all()
    fractional = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "data" / "fraction_mask.nii.gz")))
    roi = qc.set_index("case_id").loc["fraction", "roi_voxels"]
    assert int(roi) == int((fractional >= 0.5).sum()) < int((fractional > 0).sum())


def test_no_identity_under_results_when_excluded(excluded_run):
    """Issue 13 item 9, in exclude mode: the QC table, the exclusion list, the per-case
    records and overlays hold no description, UID or patient attribute."""
    root, _ = excluded_run
    assert not identity_found(root / "results", _identity(root))
    # An excluded case has an exclusion record, not features.
    record = pd.read_csv(root / "results" / "features" / "empty.csv")
    assert list(record.columns) == ["case_id", "excluded_reason"]


def _snapshot(root):
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((root / "results").rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("missing", r"row ROW \(case_id 'missing'\): image file \S*nowhere.nii.gz does not exist\. Correct the path"),
        ("label", r"row ROW \(case_id 'badlabel'\): label '2' is not binary: the outcome must be 0 or 1\. Recode it"),
        ("params", r"PyRadiomics params file \S*bad_params.yaml is invalid .*Key 'binWidht' was not defined.*Correct the"),
    ],
)
def test_sheet_and_params_problems_stop_before_any_job(excluded_run, problem, expected):
    root, _ = excluded_run
    before = _snapshot(root)
    sheet_path, config_path = root / "config" / "cohort.csv", root / "config.yaml"
    sheet_text, config_text = sheet_path.read_text(), config_path.read_text()
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    try:
        good = sheet.iloc[0].to_dict()
        if problem == "missing":
            sheet.loc[len(sheet)] = {**good, "case_id": "missing", "image": str(root / "data" / "nowhere.nii.gz")}
        elif problem == "label":
            sheet.loc[len(sheet)] = {**good, "case_id": "badlabel", "label": "2"}
        else:
            bad = root / "config" / "bad_params.yaml"
            bad.write_text("setting:\n  binWidht: 25\n")
            config = yaml.safe_load(config_text)
            config["pyradiomics"]["params"] = str(bad)
            write_config(root, config)
        sheet.to_csv(sheet_path, index=False)
        result = snakemake(root, *TARGETS, check=False)
    finally:
        sheet_path.write_text(sheet_text)
        config_path.write_text(config_text)
    assert result.returncode != 0
    expected = expected.replace("ROW", str(len(sheet) + 1))  # the header is row 1
    assert re.search(expected, " ".join((result.stdout + result.stderr).split())), result.stderr[-3000:]
    assert "Select jobs to execute" not in result.stdout + result.stderr
    assert _snapshot(root) == before
