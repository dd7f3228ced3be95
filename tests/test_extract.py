import os

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from radsnake.imaging.demo import make_case
from radsnake.core.errors import InputError
from input_factory import extract_one

PARAMS = os.path.join(os.path.dirname(__file__), "..", "config", "pyradiomics", "original.yaml")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    image, mask = str(folder / "img.nii.gz"), str(folder / "msk.nii.gz")
    make_case("p1", 1, "A", 3, image, mask)
    return folder, image, mask


def run(folder, image, mask, params=PARAMS, label=1):
    out = folder / "out"
    extract_one("p1", image, mask, params, label, str(out / "f.csv"), str(out / "d.csv"))
    return pd.read_csv(out / "f.csv"), pd.read_csv(out / "d.csv")


def test_one_row_features_apart_from_diagnostics(case):
    features, diagnostics = run(*case)
    assert len(features) == 1 and features.loc[0, "case_id"] == "p1"
    assert "original_shape_Sphericity" in features.columns
    assert not any(c.startswith("diagnostics_") for c in features.columns)
    assert all(c.startswith("diagnostics_") for c in diagnostics.columns[1:])
    assert 0 < features.loc[0, "original_shape_Sphericity"] < 1
    assert features.shape[1] > 100


def test_identical_rerun_gives_identical_bytes(case):
    folder, image, mask = case
    run(folder, image, mask)
    first = (folder / "out" / "f.csv").read_bytes()
    run(folder, image, mask)
    assert (folder / "out" / "f.csv").read_bytes() == first


def write(array, path, spacing=(1.0, 1.0, 1.0)):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing[: img.GetDimension()])
    sitk.WriteImage(img, str(path))
    return str(path)


def with_nan():
    array = np.ones((10, 12, 14), np.float32)
    array[5, 5, 5] = np.nan
    return array


def cube(shape=(10, 12, 14)):
    return np.zeros(shape, dtype=np.uint8)


def test_unknown_params_key(case, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("setting:\n  binWidht: 25\n")
    with pytest.raises(InputError, match="params file .*params.yaml is invalid"):
        run(case[0], case[1], case[2], params=str(params))


@pytest.mark.parametrize(
    "dtype, cast",
    [(np.int8, "16-bit signed integer"), (np.uint8, "16-bit signed integer"), (np.int16, ""), (np.float32, "")],
)
def test_images_pyradiomics_cannot_bin_are_cast_losslessly(case, dtype, cast):
    """PyRadiomics computes bin edges in the image's own type: 8-bit images overflow."""
    from radsnake.imaging.extract import binnable, make_extractor

    _, image_path, mask_path = case
    image, mask = sitk.ReadImage(image_path), sitk.ReadImage(mask_path)
    values = np.clip(sitk.GetArrayFromImage(image), 0 if dtype == np.uint8 else -128, 127)
    small = sitk.GetImageFromArray(values.astype(dtype))
    small.CopyInformation(image)
    extractor = make_extractor(PARAMS)
    ready, cast_to = binnable(small, extractor)
    assert cast_to == cast
    assert np.array_equal(sitk.GetArrayFromImage(ready), values)  # lossless
    wide = sitk.GetImageFromArray(values.astype(np.int16))
    wide.CopyInformation(image)
    expected = extractor.execute(wide, mask)
    assert extractor.execute(ready, mask)["original_glcm_Contrast"] == expected["original_glcm_Contrast"] > 0
    # An int16 image within two bin widths of its type's maximum is cast too.
    near_limit = sitk.GetImageFromArray(np.full((4, 4, 4), 32760, np.int16))
    assert binnable(near_limit, extractor)[1] == "32-bit signed integer"


def test_pyradiomics_limits_are_read_from_the_params_file(case, tmp_path):
    from radsnake.imaging.extract import make_extractor, pyradiomics_refusal

    _, image_path, mask_path = case
    image, mask = sitk.ReadImage(image_path), sitk.ReadImage(mask_path)
    voxels = int((sitk.GetArrayFromImage(mask) == 1).sum())
    strict = tmp_path / "strict.yaml"
    strict.write_text(open(PARAMS).read().replace("binWidth: 25", f"binWidth: 25\n  minimumROISize: {voxels}"))
    assert pyradiomics_refusal(image, mask, 1, make_extractor(PARAMS), PARAMS) == ""
    assert pyradiomics_refusal(image, mask, 1, make_extractor(str(strict)), str(strict)) == (
        f"PyRadiomics would refuse the ROI with params file {strict} (minimumROIDimensions 2, minimumROISize "
        f"{voxels}): Size of the ROI is too small (minimum size: {voxels}, ROI size: {voxels}; redraw the ROI, or "
        "lower minimumROISize in the params file"
    )
    line = sitk.Image(mask.GetSize(), sitk.sitkUInt8)
    line.CopyInformation(mask)
    for x in range(20, 25):
        line[x, 30, 10] = 1
    assert "mask has too few dimensions (number of dimensions 1, minimum required 2); raise the ROI's extent" in (
        pyradiomics_refusal(image, line, 1, make_extractor(PARAMS), PARAMS)
    )


def test_the_extractor_is_built_once_per_params_content_and_leaves_tolerances_as_found(tmp_path):
    """The warm worker builds the study's extractor before forking its jobs
    (radsnake.imaging.extract.warm_extractor): a job finds it by the params file's path and
    bytes, an edited file gets a new one, and the worker's own SimpleITK tolerances stay."""
    from radsnake.imaging.extract import cached_extractor, warm_extractor

    params = tmp_path / "params.yaml"
    params.write_text(open(PARAMS).read())
    process = sitk.ProcessObject
    before = process.GetGlobalDefaultCoordinateTolerance(), process.GetGlobalDefaultDirectionTolerance()
    warm_extractor(str(params))
    assert (process.GetGlobalDefaultCoordinateTolerance(), process.GetGlobalDefaultDirectionTolerance()) == before
    first = cached_extractor(str(params))
    assert first is cached_extractor(str(params))
    # A job with this params file gets the tolerance PyRadiomics would have set.
    assert process.GetGlobalDefaultCoordinateTolerance() == first.settings["geometryTolerance"] == 1e-4
    params.write_text(open(PARAMS).read().replace("geometryTolerance: 1.0e-4", "geometryTolerance: 1.0e-3"))
    edited = cached_extractor(str(params))
    assert edited is not first and edited.settings["geometryTolerance"] == 1e-3
    process.SetGlobalDefaultCoordinateTolerance(before[0])
    process.SetGlobalDefaultDirectionTolerance(before[1])
