import logging
import os

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsnake.imaging import demo


def _write(tmp_path, name, **overrides):
    args = {"case_id": "case001", "label": 1, "center": "A", "seed": 42}
    args.update(overrides)
    image, mask = str(tmp_path / f"{name}_image.nii.gz"), str(tmp_path / f"{name}_mask.nii.gz")
    params = demo.make_case(image_path=image, mask_path=mask, **args)
    return image, mask, params


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_same_inputs_give_byte_identical_files(tmp_path):
    first = _write(tmp_path, "first")
    second = _write(tmp_path, "second")
    assert _bytes(first[0]) == _bytes(second[0])
    assert _bytes(first[1]) == _bytes(second[1])
    assert first[2] == second[2]


def test_other_seed_or_case_gives_other_files(tmp_path):
    reference = _write(tmp_path, "reference")
    for name, change in {"seed": {"seed": 43}, "case": {"case_id": "case002"}}.items():
        other = _write(tmp_path, name, **change)
        assert _bytes(other[0]) != _bytes(reference[0]), name
        assert _bytes(other[1]) != _bytes(reference[1]), name


def test_image_and_mask_are_3d_with_equal_geometry(tmp_path):
    image_path, mask_path, params = _write(tmp_path, "case")
    image, mask = sitk.ReadImage(image_path), sitk.ReadImage(mask_path)
    assert image.GetDimension() == mask.GetDimension() == 3
    assert image.GetSize() == mask.GetSize() == demo.GRID_SIZE
    assert image.GetSpacing() == pytest.approx(mask.GetSpacing())
    assert image.GetSpacing() == pytest.approx(demo.SPACING_MM)
    assert image.GetOrigin() == pytest.approx(mask.GetOrigin())
    assert image.GetDirection() == pytest.approx(mask.GetDirection())
    assert image.GetPixelID() == sitk.sitkInt16
    assert mask.GetPixelID() == sitk.sitkUInt8
    labels = sitk.GetArrayFromImage(mask)
    assert set(np.unique(labels)) == {0, 1}
    assert labels.sum() == params["lesion_voxels"]
    assert 1_000 <= params["lesion_voxels"] <= 12_000
    faces = [labels[0], labels[-1], labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]]
    assert not any(face.any() for face in faces), "lesion cut by the border"


def test_centre_changes_intensities_but_not_the_lesion(tmp_path):
    a_image, a_mask, _ = _write(tmp_path, "a", center="A")
    b_image, b_mask, _ = _write(tmp_path, "b", center="B")
    assert _bytes(a_mask) == _bytes(b_mask)
    lesion = sitk.GetArrayFromImage(sitk.ReadImage(a_mask)) == 1
    mean_a = sitk.GetArrayFromImage(sitk.ReadImage(a_image))[lesion].mean()
    mean_b = sitk.GetArrayFromImage(sitk.ReadImage(b_image))[lesion].mean()
    scanner_b = demo.SCANNERS["B"]
    assert mean_b == pytest.approx(scanner_b["gain"] * mean_a + scanner_b["offset_hu"], abs=3.0)


def test_unknown_centre_gets_stable_scanner():
    assert demo.scanner_for("Z") == demo.scanner_for("Z")
    assert demo.scanner_for("Z") != demo.scanner_for("Y")


def test_cohort_sheet_columns_types_and_proportions():
    sheet = demo.cohort_sheet(n_cases=120, centers=("A", "B", "C"), seed=42, prevalence=0.4, image_dir="demo")
    assert list(sheet.columns) == ["case_id", "image", "mask", "label", "center", "age", "sex"]
    assert sheet.case_id.tolist() == [f"case{i:03d}" for i in range(1, 121)]
    assert sheet.image.iloc[0] == os.path.join("demo", "case001_image.nii.gz")
    assert sheet["mask"].iloc[0] == os.path.join("demo", "case001_mask.nii.gz")
    assert set(sheet.label) == {0, 1} and pd.api.types.is_integer_dtype(sheet.label)
    assert 0.3 <= sheet.label.mean() <= 0.5
    assert set(sheet.center) == {"A", "B", "C"}
    assert sheet.center.value_counts().min() >= 25
    assert pd.api.types.is_numeric_dtype(sheet.age) and sheet.age.between(25, 90).all()
    assert set(sheet.sex) == {"F", "M"}
    # Age is weakly, not strongly, related to the label.
    age_gap = sheet.age[sheet.label == 1].mean() - sheet.age[sheet.label == 0].mean()
    assert 0 < age_gap < 10


def test_cohort_sheet_is_deterministic_and_grows_by_appending():
    small = demo.cohort_sheet(n_cases=30, seed=7)
    pd.testing.assert_frame_equal(small, demo.cohort_sheet(n_cases=30, seed=7))
    pd.testing.assert_frame_equal(small, demo.cohort_sheet(n_cases=40, seed=7).head(30))
    assert not small.label.equals(demo.cohort_sheet(n_cases=30, seed=8).label)


def test_shipped_demo_sheet_is_the_generator_s_and_has_two_external_centres():
    sheet = demo.demo_sheet()
    shipped = os.path.join(os.path.dirname(__file__), "..", "config", "demo", "cohort.csv")
    with open(shipped) as handle:
        assert handle.read() == sheet.to_csv(index=False)
    # C and D are the external cohorts of config/demo/config.yaml: each needs both labels for an AUC CI.
    counts = sheet.groupby(["center", "label"]).size()
    assert set(sheet.center) == {"A", "B", "C", "D"}
    assert all(counts[centre, label] >= 12 for centre in ("C", "D") for label in (0, 1))


def test_make_cohort_writes_the_sheet_cases(tmp_path):
    sheet = demo.make_cohort(str(tmp_path / "images"), n_cases=3, seed=42, image_dir_relative="images")
    pd.testing.assert_frame_equal(sheet, demo.cohort_sheet(n_cases=3, seed=42, image_dir="images"))
    for path in [*sheet.image, *sheet["mask"]]:
        assert (tmp_path / path).is_file()
    row = sheet.iloc[0]
    expected_image, _, _ = _write(tmp_path, "single", case_id=row.case_id, label=row.label, center=row.center)
    assert _bytes(tmp_path / row.image) == _bytes(expected_image)


@pytest.fixture(scope="module")
def signal_features(tmp_path_factory):
    """Shape and first-order features of 20 + 20 cases from one centre."""
    from radiomics import featureextractor, setVerbosity

    setVerbosity(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor(binWidth=25)
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=["Sphericity"], firstorder=["Entropy"], glcm=["Correlation"])
    out = tmp_path_factory.mktemp("signal")
    rows = []
    for i in range(40):
        label = i % 2
        image, mask = str(out / f"{i}_image.nii.gz"), str(out / f"{i}_mask.nii.gz")
        params = demo.make_case(f"case{i:03d}", label, "A", 42, image, mask)
        features = extractor.execute(image, mask)
        rows.append({**params, **{k: float(v) for k, v in features.items() if k.startswith("original_")}})
    return pd.DataFrame(rows)


def test_label_1_is_less_spherical(signal_features):
    means = signal_features.groupby("label")["original_shape_Sphericity"].mean()
    assert means[1] < means[0] - 0.03


def test_label_1_is_more_heterogeneous(signal_features):
    means = signal_features.groupby("label")[["original_firstorder_Entropy", "original_glcm_Correlation"]].mean()
    assert (means.loc[1] > means.loc[0]).all()
