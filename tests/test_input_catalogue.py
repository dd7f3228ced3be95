"""The bad-input catalogue, through the real workflow on one small cohort holding one bad
case of each per-case kind next to good cases; sheet-level problems and a bad params file
on top of finished results.

Each message must name the case, the file and what to do; good cases must finish
(--keep-going) and finished results must survive a run stopped at parse time. Unit-level
checks of the same messages are in test_extract.py, test_imageio.py and test_cohort.py.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from conftest import FAST_CONFIG, snakemake, write_config
from input_factory import demo_pair, dicom_case, mask_array, rtstruct, write

pytestmark = pytest.mark.workflow

GOOD = ["good1", "good2"]
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
    dicom_case(folder, ct, "CT B30f", patient_id="PID-2")
    dicom_case(folder, ct, "CT B70f", patient_id="PID-2")
    cases["mixed"] = ({"image": str(folder), "mask": ok_mask},
                      r"case mixed: image folder \S*mixed/ct holds 2 DICOM series.*series_uid column")
    return cases


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue")
    data = root / "data"
    rows = []
    for number, case_id in enumerate(GOOD):
        ct, mask = demo_pair(data / "src", case_id, number % 2)
        rows.append({"case_id": case_id, "label": number % 2, "image": write(ct, data / f"{case_id}_ct.nii.gz"),
                     "mask": write(mask, data / f"{case_id}_mask.nii.gz")})
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


def test_every_bad_case_stops_with_its_message(catalogue):
    root, cases, stopped = catalogue
    assert stopped.returncode != 0
    output = stopped.stdout + stopped.stderr
    missing = [case for case, (_, pattern) in cases.items() if not re.search(pattern, output)]
    assert not missing, f"messages not found for {missing}:\n{output[-6000:]}"
    for case_id in cases:
        log = (root / "logs" / "qc_case" / f"{case_id}.log").read_text()
        assert re.search(cases[case_id][1], " ".join(log.split())), case_id
        assert not (root / "results" / "features" / f"{case_id}.csv").exists()


def test_good_cases_finish_despite_bad_ones(catalogue):
    root, _, _ = catalogue
    for case_id in GOOD:
        row = pd.read_csv(root / "results" / "features" / f"{case_id}.csv")
        assert len(row) == 1 and row.shape[1] > 100
    assert not (root / "results" / "features.csv").exists()


@pytest.fixture(scope="module")
def excluded_run(catalogue):
    root, cases, _ = catalogue
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["qc"]["on_fail"] = "exclude"
    write_config(root, config)
    snakemake(root, *TARGETS)
    return root, cases


def test_exclude_lists_every_bad_case_with_its_reason(excluded_run):
    root, cases = excluded_run
    excluded = pd.read_csv(root / "results" / "qc" / "excluded.csv", keep_default_na=False).set_index("case_id")
    assert sorted(excluded.index) == sorted(cases)
    assert set(excluded["stage"]) == {"input QC"}
    assert "no ROI 'GTV'" in excluded.loc["noroi", "reasons"]
    assert "2 DICOM series" in excluded.loc["mixed", "reasons"]
    assert "NaN or infinite" in excluded.loc["nan", "reasons"]
    features = pd.read_csv(root / "results" / "features.csv")
    assert features["case_id"].tolist() == GOOD
    qc = pd.read_csv(root / "results" / "qc" / "qc.csv", dtype={"case_id": str}, keep_default_na=False)
    qc = qc.set_index("case_id")["qc_pass"].astype(str) == "True"
    assert qc.loc[GOOD].all() and not qc.loc[list(cases)].any()
    # An excluded case has an exclusion record, not features.
    record = pd.read_csv(root / "results" / "features" / "empty.csv")
    assert list(record.columns) == ["case_id", "excluded_reason"]


def _snapshot(root):
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((root / "results").rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("missing", r"row 14 \(case_id 'missing'\): image file \S*nowhere.nii.gz does not exist\. Correct the path"),
        ("label", r"row 14 \(case_id 'badlabel'\): label '2' is not binary: the outcome must be 0 or 1\. Recode it"),
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
    assert re.search(expected, " ".join((result.stdout + result.stderr).split())), result.stderr[-3000:]
    assert "Select jobs to execute" not in result.stdout + result.stderr
    assert _snapshot(root) == before
