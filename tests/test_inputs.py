"""Unit checks of the input wiring: params validated before the run, sheet columns for
multi-modality, drafts and review status, and provenance columns that modelling ignores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsnake.io.cohort_sheet import case_spec, load_cohort, pending_reason
from radsnake.jobs.aggregate import write_feature_dictionary
from radsnake.core.errors import InputError
from radsnake.ml.modelling import load_design
from radsnake.io.params import check_params
from test_cohort import SCHEMA


def test_params_presets_are_valid():
    for name in ("ct", "mr", "demo", "original", "ibsi"):
        assert "setting" in check_params(f"config/pyradiomics/{name}.yaml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("setting:\n  binWidht: 25\n", r"Key 'binWidht' was not defined"),
        ("setting:\n  interpolator: sitkCubic\n", r"Interpolator value \"sitkCubic\" not valid"),
        ("- a list\n", r"must be a mapping"),
    ],
)
def test_params_problems_name_file_key_and_fix(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"params file \S*params.yaml (.|\n)*{expected}(.|\n)*(Correct|presets)"):
        check_params(str(path))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("imageType:\n  Orignal: {}\n", "imageType: `Orignal` is not a filter (image type) PyRadiomics knows; did you mean `Original`?"),
        ("featureClass:\n  glcmm:\n", "featureClass: `glcmm` is not a feature class PyRadiomics knows; did you mean `glcm`?"),
        ("setting:\n  binWidth: 25\n  binCount: 16\n", "setting has both binWidth (25) and binCount (16)"),
        ("featureClass:\n  shape2D:\n", "featureClass shape2D needs setting force2D: true"),
        ("setting:\n  resampledPixelSpacing: [1, 1, 1, 1]\n", "setting resampledPixelSpacing is [1, 1, 1, 1] (4 value(s))"),
        ("setting:\n  label: 3\n", "setting label is 3, but radsnake extracts the label of pyradiomics.mask_label (1)"),
    ],
)
def test_params_meaning_one_line_each(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        check_params(str(path), mask_label=1)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"PyRadiomics params file {path} has 1 problem(s) (no job has run):"
    assert len(lines) == 2 and lines[1].startswith("  " + expected), lines


def test_params_label_equal_to_mask_label_and_2d_shape_with_force2d_pass(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("featureClass:\n  shape2D:\nsetting:\n  force2D: true\n  label: 2\n  binCount: 32\n")
    assert check_params(str(path), mask_label=2)["setting"]["label"] == 2


def sheet(tmp_path, rows, columns):
    """The sheet, and every file it names holding bytes of its own (rows sharing an
    image's bytes are one patient entered twice: radsnake.io.cohort_sheet.shared_image_rows)."""
    named = {c for row in rows for c in row if str(c).endswith(".nii.gz") and not str(c).startswith("gone")}
    names = {"ct.nii.gz", "pet.nii.gz", "m.nii.gz"} | named
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    path = tmp_path / "cohort.csv"
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return str(path)


def test_modalities_need_their_columns_and_files(tmp_path):
    path = sheet(tmp_path, [["a", "ct.nii.gz", "m.nii.gz", 1]], ["case_id", "image", "mask", "label"])
    with pytest.raises(InputError, match="lacks the column\\(s\\) image_PET"):
        load_cohort(path, SCHEMA, {}, need_images=True, modalities=["CT", "PET"])
    path = sheet(tmp_path, [["a", "ct.nii.gz", "gone.nii.gz", "m.nii.gz", 1]], ["case_id", "image", "image_PET", "mask", "label"])
    with pytest.raises(InputError, match="row 2 \\(case_id 'a'\\): image_PET file \\S*gone.nii.gz does not exist"):
        load_cohort(path, SCHEMA, {}, need_images=True, modalities=["CT", "PET"])


def test_case_spec_names_images_and_selectors(tmp_path):
    columns = ["case_id", "image", "image_PET", "mask", "label", "series_description_PET", "roi", "mask_label"]
    path = sheet(tmp_path, [["a", "ct.nii.gz", "pet.nii.gz", "m.nii.gz", 1, "AC$", "regex:GTV", ""]], columns)
    cohort = load_cohort(path, SCHEMA, {}, need_images=True, modalities=["CT", "PET"])
    spec = case_spec(cohort.loc["a"], ["CT", "PET"], 1, {"image": "B30f"})
    assert [(e["name"], e["column"]) for e in spec["images"]] == [("CT", "image"), ("PET", "image_PET")]
    assert spec["images"][0]["series_description"] == "B30f"  # the config's default for the column
    assert spec["images"][1]["series_description"] == "AC$"
    assert spec["roi"] == "regex:GTV" and spec["label"] == 1 and spec["prefix"]
    single = case_spec(cohort.loc["a"], [], 2, {})
    assert [e["name"] for e in single["images"]] == ["image"] and not single["prefix"] and single["label"] == 2


def test_drafts_wait_for_acceptance(tmp_path):
    columns = ["case_id", "image", "mask", "label", "draft_seed", "mask_status"]
    rows = [
        ["plain", "ct.nii.gz", "m.nii.gz", 1, "", ""],
        ["seeded", "ct2.nii.gz", "", 0, "1,2,3", ""],
        ["accepted", "ct3.nii.gz", "m3.nii.gz", 1, "1,2,3", "accepted"],
        ["held", "ct4.nii.gz", "m4.nii.gz", 0, "", "draft"],
    ]
    cohort = load_cohort(sheet(tmp_path, rows, columns), SCHEMA, {}, need_images=True)
    pending = cohort["pending"].to_dict()
    assert pending["plain"] == "" and pending["accepted"] == ""
    assert "mask_status accepted" in pending["seeded"] and "no mask yet" in pending["seeded"]
    assert "mask_status 'draft'" in pending["held"]
    assert pending_reason({"mask": "results/drafts/x_mask.nii.gz", "mask_status": ""})


def test_bad_draft_and_status_cells_are_listed(tmp_path):
    columns = ["case_id", "image", "mask", "label", "draft_seed", "mask_status"]
    rows = [["a", "ct.nii.gz", "", 1, "1,2", ""], ["b", "ct.nii.gz", "m.nii.gz", 0, "", "done"],
            ["c", "ct.nii.gz", "", 1, "", ""]]
    with pytest.raises(InputError) as err:
        load_cohort(sheet(tmp_path, rows, columns), SCHEMA, {}, need_images=True)
    message = str(err.value)
    assert "row 2 (case_id 'a'): draft_seed '1,2' is not three numbers" in message
    assert "row 3 (case_id 'b'): mask_status 'done' must be accepted, draft or empty" in message
    assert "no job has run" in message
    rows = [["c", "ct.nii.gz", "", 1, "", ""]]
    with pytest.raises(InputError, match="row 2 \\(case_id 'c'\\): mask is empty; every case needs one \\(or a draft_seed"):
        load_cohort(sheet(tmp_path, rows, columns), SCHEMA, {}, need_images=True)


def test_modelling_ignores_provenance_columns(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    base = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "label": [i % 2 for i in range(n)], "center": "A"})
    features = pd.DataFrame(rng.normal(size=(n, 3)), columns=["original_firstorder_Mean", "original_glcm_Idm", "x_shape_f"])
    sources = pd.DataFrame({"source_image_file": [f"c{i}.nii.gz" for i in range(n)], "source_image_sha256": "ab" * 32,
                            "source_image_series_uid": ""})
    pd.DataFrame({"case_id": base["case_id"], "set": "train"}).to_csv(tmp_path / "split.csv", index=False)
    pd.concat([base, sources, features], axis=1).to_csv(tmp_path / "with.csv", index=False)
    pd.concat([base, features], axis=1).to_csv(tmp_path / "without.csv", index=False)
    with_sources = load_design(str(tmp_path / "with.csv"), str(tmp_path / "split.csv"), [])
    without = load_design(str(tmp_path / "without.csv"), str(tmp_path / "split.csv"), [])
    pd.testing.assert_frame_equal(with_sources.features, without.features)
    assert (with_sources.labels == without.labels).all()


def test_dictionary_skips_provenance(tmp_path):
    table = pd.DataFrame({"case_id": ["a"], "label": [1], "center": [""], "source_mask_file": ["m.nii.gz"],
                          "T2_original_firstorder_Mean": [1.0]})
    table.to_csv(tmp_path / "f.csv", index=False)
    write_feature_dictionary(str(tmp_path / "f.csv"), str(tmp_path / "d.csv"), ["case_id", "label", "center"])
    dictionary = pd.read_csv(tmp_path / "d.csv")
    assert dictionary["feature"].tolist() == ["T2_original_firstorder_Mean"] and dictionary["modality"][0] == "T2"
