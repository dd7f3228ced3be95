"""radsnake.io.imageio on real files: NIfTI/NRRD/MHA, DICOM series, RTSTRUCT and DICOM-SEG
written at test time by tests/dicom_factory.py."""

import hashlib
import os
import re
import shutil
import sys

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

sys.path.insert(0, os.path.dirname(__file__))
from dicom_factory import (  # noqa: E402
    dice,
    sphere,
    write_ct_series,
    write_rtstruct,
    write_rtstruct_contours,
    write_seg,
)

from radsnake.core.errors import InputError  # noqa: E402
from radsnake.io.dicom_masks import fill_polygons  # noqa: E402
from radsnake.io.imageio import read_image, read_mask  # noqa: E402

SHAPE = (20, 64, 64)  # z, y, x
SPACING = (0.75, 0.75, 1.0)  # x, y, z in mm
ORIGIN = (-20.0, -30.5, 112.0)
PHI = ["Doe", "Jane", "PID-4711", "19600101", "ACC-0815"]


def hu(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(-1000, 1500, SHAPE).astype(np.int16)


def ball(centre=(10, 30, 33), radius_mm=6.0):
    """Radius 6 mm: 8 voxels in-plane, 6 slices."""
    return sphere(SHAPE, centre, radius_mm, SPACING)


def ring():
    """A flattened shell on 7 slices, the middle 3 with a hole: outer and inner contours
    on the same slice."""
    outer = sphere(SHAPE, (10, 32, 32), 12.0, (SPACING[0], SPACING[1], 4.0))
    inner = sphere(SHAPE, (10, 32, 32), 6.0, (SPACING[0], SPACING[1], 4.0))
    return outer & ~inner


def sha256_of(paths):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(open(path, "rb").read())
    return digest.hexdigest()


def as_array(image):
    return sitk.GetArrayFromImage(image)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two series (a, b) of one patient in one flat folder with an RTSTRUCT, and series a
    exported again alone ("single"); RTSTRUCTs and SEGs drawn on them."""
    root = tmp_path_factory.mktemp("dicom")
    both = root / "study"
    uid_a = write_ct_series(both, hu(1), SPACING, ORIGIN, series_description="CT thorax 1.0 B30f")
    uid_b = write_ct_series(both, hu(2), SPACING, ORIGIN, series_description="CT thorax 1.0 B70f lung")
    single = root / "single"
    uid_s = write_ct_series(single, hu(1), SPACING, ORIGIN, series_description="CT thorax 1.0 B30f")
    rois = {"GTV_primary": ball(), "Lung_L": ball((10, 30, 12), 5.0), "Ring": ring()}
    write_rtstruct(root / "rs.dcm", single, rois)
    write_rtstruct(both / "rs_a.dcm", both, rois, series_uid=uid_a)
    write_rtstruct(root / "rs_b.dcm", both, rois, series_uid=uid_b)
    write_seg(root / "seg.dcm", single, {"tumour": ball(), "node": ball((10, 30, 12), 5.0)})
    write_seg(root / "seg_b.dcm", both, {"tumour": ball()}, series_uid=uid_b)
    return {"root": root, "both": both, "single": single, "a": uid_a, "b": uid_b, "s": uid_s}


@pytest.fixture(scope="module")
def ct(study):
    return read_image("P001", str(study["single"]))


# ------------------------------------------------------------------ image files


@pytest.mark.parametrize("name", ["img.nii.gz", "img.nii", "img.nrrd", "img.mha", "img.mhd"])
def test_reads_image_files_with_geometry_and_hash(tmp_path, name):
    array = hu(3)
    written = sitk.GetImageFromArray(array)
    written.SetSpacing(SPACING)
    written.SetOrigin(ORIGIN)
    path = str(tmp_path / name)
    sitk.WriteImage(written, path)
    image, info = read_image("P001", path)
    assert np.array_equal(as_array(image), array)
    assert np.allclose(image.GetSpacing(), SPACING) and np.allclose(image.GetOrigin(), ORIGIN)
    files = [path, str(tmp_path / "img.raw")] if name.endswith(".mhd") else [path]
    assert info == {"file": name, "series": "", "sha256": sha256_of(files)}


def test_mhd_hash_covers_its_data_file(tmp_path):
    path = str(tmp_path / "img.mhd")
    sitk.WriteImage(sitk.GetImageFromArray(hu(3)), path)
    before = read_image("P001", path)[1]["sha256"]
    raw = tmp_path / "img.raw"
    data = bytearray(raw.read_bytes())
    data[100] ^= 1
    raw.write_bytes(bytes(data))
    assert read_image("P001", path)[1]["sha256"] != before


def test_missing_and_unreadable_files_name_case_file_and_fix(tmp_path):
    with pytest.raises(InputError, match=r"case P007: image file .*nope.nii.gz does not exist\. Correct its path"):
        read_image("P007", str(tmp_path / "nope.nii.gz"))
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match=r"case P007: mask file .*bad.nii.gz cannot be read as an image .*Re-export"):
        read_image("P007", str(bad), role="mask")
    with pytest.raises(InputError, match=r"case P007: mask file .*nope.dcm does not exist"):
        read_mask("P007", str(tmp_path / "nope.dcm"), sitk.Image(4, 4, 4, sitk.sitkInt16))


# ------------------------------------------------------------------ DICOM series


def test_dicom_series_round_trip(study, ct):
    image, info = ct
    assert np.array_equal(as_array(image), hu(1))
    assert image.GetPixelID() == sitk.sitkInt16
    assert np.allclose(image.GetSpacing(), SPACING)
    assert np.allclose(image.GetOrigin(), ORIGIN)
    assert np.allclose(image.GetDirection(), np.eye(3).ravel())
    files = sorted(str(p) for p in study["single"].iterdir())
    assert info == {"file": "single", "series": "2", "sha256": sha256_of(files)}
    assert image.GetMetaData("0020|000e") == study["s"]
    assert set(image.GetMetaDataKeys()) == {"0020|000e", "0020|0052"}


def test_multiframe_dicom_file(study, ct, tmp_path):
    """An enhanced (multi-frame) CT file, alone or in a folder, is read by GDCM."""
    import highdicom as hd
    from dicom_factory import read_series

    frames = hd.legacy.LegacyConvertedEnhancedCTImage(
        legacy_datasets=read_series(study["single"]),
        series_instance_uid="1.2.826.0.1.3680043.8.498.1",
        series_number=5,
        sop_instance_uid="1.2.826.0.1.3680043.8.498.2",
        instance_number=1,
    )
    (tmp_path / "mf").mkdir()
    path = tmp_path / "mf" / "enhanced.dcm"
    frames.save_as(str(path))
    for source in (path, tmp_path / "mf"):
        image, info = read_image("P001", str(source))
        # Frames run top-down in this file: same voxels in space, possibly another index order.
        on_grid = sitk.Resample(image, ct[0], sitk.Transform(), sitk.sitkNearestNeighbor, -5000)
        assert np.array_equal(as_array(on_grid), hu(1))
        assert image.GetMetaData("0020|000e") == "1.2.826.0.1.3680043.8.498.1"
        assert set(image.GetMetaDataKeys()) == {"0020|000e", "0020|0052"}


def test_metadata_of_converted_files_is_dropped_but_uids_kept(study, ct, tmp_path):
    """Converters copy every DICOM tag, PatientName included, into NRRD headers."""
    image = sitk.Image(ct[0])
    first_file = next(p for p in study["single"].iterdir() if p.name.endswith("_IM0001.dcm"))
    one_slice = sitk.ReadImage(str(first_file))
    for key in one_slice.GetMetaDataKeys():
        image.SetMetaData(key, one_slice.GetMetaData(key))
    path = tmp_path / "converted.nrrd"
    sitk.WriteImage(image, str(path))
    assert b"PID-4711" in path.read_bytes()
    read, info = read_image("P001", str(path))
    assert set(read.GetMetaDataKeys()) == {"0020|000e", "0020|0052"}
    assert read.GetMetaData("0020|000e") == study["s"] and info["series"] == ""
    with pytest.raises(InputError, match=r"was drawn on series"):
        read_mask("P001", str(study["root"] / "rs_b.dcm"), read, roi="GTV_primary")


def test_two_series_in_one_folder_need_a_selector(study):
    folder = str(study["both"])
    with pytest.raises(InputError) as err:
        read_image("P002", folder)
    message = str(err.value)
    assert message.startswith(f"case P002: image folder {folder} holds 2 DICOM series")
    expected = [study["a"], study["b"], "CT thorax 1.0 B30f", "CT thorax 1.0 B70f lung", "series_uid", "series_description"]
    for text in expected:
        assert text in message
    # The RTSTRUCT in the folder is not taken for a series.
    assert "3 DICOM series" not in message


def test_series_chosen_by_uid_or_description(study):
    folder = str(study["both"])
    by_uid, info = read_image("P002", folder, series_uid=study["b"])
    assert by_uid.GetMetaData("0020|000e") == study["b"] and np.array_equal(as_array(by_uid), hu(2))
    by_regex, info = read_image("P002", folder, series_description=r"B30f$")
    assert by_regex.GetMetaData("0020|000e") == study["a"] and np.array_equal(as_array(by_regex), hu(1))
    hashes = {read_image("P002", folder, series_uid=u)[1]["sha256"] for u in (study["a"], study["b"])}
    assert len(hashes) == 2


@pytest.mark.parametrize(
    "selector, expected",
    [
        ({"series_description": "thorax"}, "matches 2 series"),
        ({"series_description": "abdomen"}, "matches no series"),
        ({"series_description": "B30f("}, "not a valid regular expression"),
        ({"series_uid": "1.2.3.4"}, "has no series with SeriesInstanceUID 1.2.3.4"),
    ],
)
def test_selector_matching_none_or_several_is_an_error(study, selector, expected):
    with pytest.raises(InputError, match=r"case P002: ") as err:
        read_image("P002", str(study["both"]), **selector)
    assert expected in str(err.value)


def test_series_problems_are_explained(study, tmp_path):
    gap = tmp_path / "gap"
    shutil.copytree(study["single"], gap)
    slices = sorted(p for p in gap.iterdir() if p.name.endswith("_IM0010.dcm"))
    slices[0].unlink()
    with pytest.raises(InputError, match=r"case P003: .*unevenly spaced slices \(gap of 2 mm between files "
                       r"\w+_IM0011.dcm and \w+_IM0009.dcm, after slice 10 of 19, typical 1 mm\): a slice is probably missing"):
        read_image("P003", str(gap))
    tilted = tmp_path / "tilted"
    shutil.copytree(study["single"], tilted)
    for path in tilted.iterdir():
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient[1] = ds.ImagePositionPatient[1] + 0.2 * (ds.ImagePositionPatient[2] - ORIGIN[2])
        ds.save_as(path)
    with pytest.raises(InputError, match=r"case P003: .*tilted gantry"):
        read_image("P003", str(tilted))
    one_file = next(p for p in study["single"].iterdir() if p.name.endswith("_IM0001.dcm"))
    with pytest.raises(InputError, match=r"single DICOM slice\. Put the folder"):
        read_image("P003", str(one_file))
    with pytest.raises(InputError, match=r"is a DICOM RTSTRUCT object, not an image"):
        read_image("P003", str(study["root"] / "rs.dcm"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match=r"holds no DICOM image series \(found 1 non-DICOM files\)"):
        read_image("P003", str(empty))


def test_damaged_dicom_files_are_named(study, tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(study["single"], folder)
    victim = next(p for p in folder.iterdir() if p.name.endswith("_IM0007.dcm"))
    victim.write_bytes(victim.read_bytes()[:-100])  # an interrupted copy
    expected = rf"case P004: image series file {re.escape(str(victim))} is a damaged DICOM file .*cut off"
    with pytest.raises(InputError, match=expected):
        read_image("P004", str(folder))
    image = read_image("P004", str(study["single"]))[0]
    for name in ("rs.dcm", "seg.dcm"):
        cut = tmp_path / name
        data = (study["root"] / name).read_bytes()
        cut.write_bytes(data[: len(data) - 50])
        expected = rf"case P004: mask file {re.escape(str(cut))} is a damaged DICOM file .*Export it"
        with pytest.raises(InputError, match=expected):
            read_mask("P004", str(cut), image, roi="GTV_primary" if name == "rs.dcm" else None, segment=1)


def test_damaged_file_of_another_series_is_skipped(study, tmp_path):
    folder = tmp_path / "both"
    shutil.copytree(study["both"], folder)
    prefix = hashlib.sha256(study["b"].encode()).hexdigest()[:8]
    victim = folder / f"{prefix}_IM0003.dcm"
    victim.write_bytes(victim.read_bytes()[:-100])
    image, info = read_image("P004", str(folder), series_uid=study["a"])
    assert image.GetMetaData("0020|000e") == study["a"] and np.array_equal(as_array(image), hu(1))
    with pytest.raises(InputError, match=rf"{re.escape(str(victim))} is a damaged DICOM file"):
        read_image("P004", str(folder), series_uid=study["b"])


# ------------------------------------------------------------------ RTSTRUCT


def test_rtstruct_round_trip(study, ct):
    image = ct[0]
    mask, info = read_mask("P001", str(study["root"] / "rs.dcm"), image, label=2, roi="GTV_primary")
    values = as_array(mask)
    assert mask.GetSize() == image.GetSize()
    assert mask.GetSpacing() == image.GetSpacing() and mask.GetOrigin() == image.GetOrigin()
    assert mask.GetDirection() == image.GetDirection()
    assert set(np.unique(values)) == {0, 2}
    assert dice(values == 2, ball()) >= 0.95
    expected = {"file": "rs.dcm", "sha256": sha256_of([study["root"] / "rs.dcm"]), "roi": "GTV_primary"}
    assert info == {**expected, "threshold": None}


def test_rtstruct_roi_by_regex_and_holes(study, ct):
    mask, info = read_mask("P001", str(study["root"] / "rs.dcm"), ct[0], roi="regex:(?i)^lung")
    assert info["roi"] == "Lung_L" and dice(as_array(mask) > 0, ball((10, 30, 12), 5.0)) >= 0.95
    # Inner contours on the same slice are holes (even-odd).
    mask, _ = read_mask("P001", str(study["root"] / "rs.dcm"), ct[0], roi="Ring")
    assert np.array_equal(as_array(mask) > 0, ring())


def test_rtstruct_analytic_polygons(study, ct):
    """Contours that do not follow the voxel lattice: circles of a 6 mm ball, and two
    squares with corners on voxel centres (outer and hole)."""
    image = ct[0]
    centre = np.array(ORIGIN) + np.array([33, 30, 10]) * np.array(SPACING)
    circles = []
    for k in range(SHAPE[0]):
        z = ORIGIN[2] + k * SPACING[2]
        r2 = 6.0**2 - (z - centre[2]) ** 2
        if r2 > 0:
            angle = np.linspace(0, 2 * np.pi, 73)[:-1]
            circle = np.column_stack(
                [centre[0] + np.sqrt(r2) * np.cos(angle), centre[1] + np.sqrt(r2) * np.sin(angle), np.full(72, z)]
            )
            circles.append(circle)

    def square(i0, i1, k):
        corners = [(i0, i0), (i1, i0), (i1, i1), (i0, i1)]
        return np.array([np.array(ORIGIN) + np.array([i, j, k]) * np.array(SPACING) for i, j in corners])

    path = study["root"] / "analytic.dcm"
    write_rtstruct_contours(path, study["single"], {"circles": circles, "frame": [square(2, 12, 4), square(5, 9, 4)]})
    mask, _ = read_mask("P001", str(path), image, roi="circles")
    assert dice(as_array(mask) > 0, ball((10, 30, 33), 6.0)) >= 0.95
    mask, _ = read_mask("P001", str(path), image, roi="frame")
    expected = np.zeros(SHAPE, bool)
    # Half-open rule: rows 2..11 and columns 3..12 of the outer square, minus the hole.
    expected[4, 2:12, 3:13] = True
    expected[4, 5:9, 6:10] = False
    assert np.array_equal(as_array(mask) > 0, expected)
    assert expected.sum() == 10 * 10 - 4 * 4  # each square covers as many voxels as its area


def test_fill_polygons_even_odd_and_clipping():
    square = np.array([[-5.0, -5.0], [3.5, -5.0], [3.5, 2.5], [-5.0, 2.5]])
    expected = np.zeros((6, 6), bool)
    expected[0:3, 0:4] = True  # rows -5 <= v < 2.5, columns -5 < u <= 3.5, clipped to the grid
    assert np.array_equal(fill_polygons([square], (6, 6)), expected)
    # The same polygon twice cancels out.
    assert not fill_polygons([square, square[::-1]], (6, 6)).any()


def test_contour_mapping_matches_simpleitk():
    from radsnake.io.dicom_masks import to_continuous_index

    image = sitk.Image(8, 9, 10, sitk.sitkUInt8)
    image.SetSpacing((0.7, 1.3, 2.5))
    image.SetOrigin((10.0, -4.0, 33.0))
    rotation = sitk.VersorTransform((0.3, -0.5, 0.8), 0.6).GetMatrix()
    image.SetDirection(rotation)
    points = np.random.default_rng(5).normal(0, 20, (7, 3))
    expected = [image.TransformPhysicalPointToContinuousIndex(p.tolist()) for p in points]
    assert np.allclose(to_continuous_index(image, points), expected, atol=1e-9)


def test_rtstruct_on_converted_and_reoriented_images(study, ct, tmp_path):
    """Without DICOM UIDs (a NIfTI copy) the contours are placed by position; on an
    image whose axes are permuted they are found along another index axis."""
    image = ct[0]
    reference = as_array(read_mask("P001", str(study["root"] / "rs.dcm"), image, roi="Ring")[0])
    nifti = str(tmp_path / "ct.nii.gz")
    sitk.WriteImage(image, nifti)
    converted = read_image("P001", nifti)[0]
    mask, _ = read_mask("P001", str(study["root"] / "rs.dcm"), converted, roi="Ring")
    assert np.array_equal(as_array(mask), reference)
    permuted = sitk.PermuteAxes(image, [2, 0, 1])
    mask, _ = read_mask("P001", str(study["root"] / "rs.dcm"), permuted, roi="Ring")
    expected = sitk.PermuteAxes(sitk.GetImageFromArray(reference), [2, 0, 1])
    assert np.array_equal(as_array(mask), as_array(expected))
    assert mask.GetOrigin() == permuted.GetOrigin() and mask.GetDirection() == permuted.GetDirection()


def test_rtstruct_off_grid_is_an_error(study, ct):
    shifted = sitk.Image(ct[0])
    shifted.CopyInformation(ct[0])
    for key in shifted.GetMetaDataKeys():
        shifted.EraseMetaData(key)
    shifted.SetOrigin((ORIGIN[0], ORIGIN[1], ORIGIN[2] + 0.5 * SPACING[2]))
    with pytest.raises(InputError, match=r"case P001: .* lie between the image's slices"):
        read_mask("P001", str(study["root"] / "rs.dcm"), shifted, roi="GTV_primary")
    shifted.SetOrigin((ORIGIN[0], ORIGIN[1], ORIGIN[2] + 12 * SPACING[2]))
    with pytest.raises(InputError, match=r"case P001: .* lie outside the image"):
        read_mask("P001", str(study["root"] / "rs.dcm"), shifted, roi="GTV_primary")


def test_rtstruct_roi_errors_list_the_rois(study, ct):
    path = str(study["root"] / "rs.dcm")
    with pytest.raises(InputError) as err:
        read_mask("P005", path, ct[0], roi="GTV")
    message = str(err.value)
    assert message.startswith(f"case P005: mask {path} has no ROI 'GTV'; available: 'GTV_primary', 'Lung_L', 'Ring'.")
    assert "Set roi for this case in the cohort sheet" in message
    with pytest.raises(InputError, match=r"holds 3 ROIs \('GTV_primary', 'Lung_L', 'Ring'\) and none is chosen"):
        read_mask("P005", path, ct[0])
    with pytest.raises(InputError, match=r"roi 'regex:i' matches 2 ROIs in mask .* \('GTV_primary', 'Ring'\)"):
        read_mask("P005", path, ct[0], roi="regex:i")
    with pytest.raises(InputError, match=r"is an RTSTRUCT; choose its ROI with the roi column"):
        read_mask("P005", path, ct[0], segment=1)


def test_rtstruct_of_another_series_is_refused(study):
    image_a = read_image("P006", str(study["both"]), series_uid=study["a"])[0]
    mask, _ = read_mask("P006", str(study["both"] / "rs_a.dcm"), image_a, roi="GTV_primary")
    assert dice(as_array(mask) > 0, ball()) >= 0.95
    with pytest.raises(InputError) as err:
        read_mask("P006", str(study["root"] / "rs_b.dcm"), image_a, roi="GTV_primary")
    message = str(err.value)
    assert f"was drawn on series {study['b']}, but the image is series {study['a']}" in message
    assert message.startswith("case P006: RTSTRUCT ") and "rs_b.dcm" in message


# ------------------------------------------------------------------ DICOM-SEG


@pytest.mark.parametrize("segment, label", [(1, "tumour"), ("2", "node"), ("tumour", "tumour"), ("regex:^no", "node")])
def test_seg_round_trip(study, ct, segment, label):
    image = ct[0]
    mask, info = read_mask("P001", str(study["root"] / "seg.dcm"), image, label=3, segment=segment)
    source = ball() if label == "tumour" else ball((10, 30, 12), 5.0)
    assert np.array_equal(as_array(mask), source.astype(np.uint8) * 3)
    assert mask.GetSpacing() == image.GetSpacing() and mask.GetOrigin() == image.GetOrigin()
    assert info == {"file": "seg.dcm", "sha256": sha256_of([study["root"] / "seg.dcm"]), "roi": label, "threshold": None}


def test_seg_is_placed_by_position_on_other_grids(study, ct):
    """A cropped image: the SEG lands by its frame positions, not its frame indices."""
    cropped = sitk.RegionOfInterest(ct[0], (40, 48, 12), (10, 4, 3))
    mask, _ = read_mask("P001", str(study["root"] / "seg.dcm"), cropped, segment="tumour")
    assert np.array_equal(as_array(mask) > 0, ball()[3:15, 4:52, 10:50])


def test_seg_missing_segment_lists_segments(study, ct):
    path = str(study["root"] / "seg.dcm")
    with pytest.raises(InputError) as err:
        read_mask("P008", path, ct[0], segment="liver")
    message = str(err.value)
    assert message.startswith(f"case P008: mask {path} has no segment 'liver'; available: 1: 'tumour', 2: 'node'.")
    with pytest.raises(InputError, match=r"has no segment number 7; available: 1: 'tumour', 2: 'node'"):
        read_mask("P008", path, ct[0], segment=7)
    with pytest.raises(InputError, match=r"holds 2 segments .* and none is chosen"):
        read_mask("P008", path, ct[0])
    with pytest.raises(InputError, match=r"is a DICOM-SEG; choose its segment with the segment column"):
        read_mask("P008", path, ct[0], roi="tumour")


def test_seg_of_another_series_is_refused(study):
    image_a = read_image("P009", str(study["both"]), series_uid=study["a"])[0]
    with pytest.raises(InputError, match=rf"case P009: DICOM-SEG .*seg_b.dcm was drawn on series {study['b']}"):
        read_mask("P009", str(study["root"] / "seg_b.dcm"), image_a)


def test_sheet_cells_as_pandas_gives_them(study, ct):
    """Empty cells arrive as NaN and whole numbers as floats from a pandas column."""
    path = str(study["root"] / "seg.dcm")
    mask, info = read_mask("P001", path, ct[0], label=2.0, segment=2.0, roi=float("nan"))
    assert info["roi"] == "node" and set(np.unique(as_array(mask))) == {0, 2}
    assert read_mask("P001", path, ct[0], label="3", segment=" tumour ")[1]["roi"] == "tumour"
    with pytest.raises(InputError, match=r"holds 3 ROIs .* none is chosen"):
        read_mask("P001", str(study["root"] / "rs.dcm"), ct[0], roi=float("nan"))
    for label in (0, 1.5, "one", True):
        with pytest.raises(InputError, match=r"case P001: mask label .* must be a whole number >= 1"):
            read_mask("P001", path, ct[0], label=label, segment=1)
    image, _ = read_image("P001", str(study["both"]), series_uid=float("nan"), series_description="B70f")
    assert image.GetMetaData("0020|000e") == study["b"]


# ------------------------------------------------------------------ other masks, privacy


def test_label_image_mask_is_returned_as_read(tmp_path, ct):
    path = str(tmp_path / "mask.nrrd")
    written = sitk.GetImageFromArray(ball().astype(np.uint8) * 4)
    sitk.WriteImage(written, path)
    mask, info = read_mask("P001", path, ct[0], label=4)
    assert np.array_equal(as_array(mask), as_array(written))
    assert info == {"file": "mask.nrrd", "sha256": sha256_of([path]), "roi": "", "threshold": None}


def test_image_dicom_given_as_mask_is_refused(study, ct):
    one_file = next(p for p in study["single"].iterdir() if p.name.endswith("_IM0001.dcm"))
    with pytest.raises(InputError, match=r"case P001: mask file .* is a DICOM CT file, not a mask"):
        read_mask("P001", str(one_file), ct[0])


def test_nothing_identifying_leaves_the_dicom_files(study, ct, tmp_path):
    image, image_info = ct
    infos = [
        image_info,
        read_image("P010", str(study["both"]), series_description="B70f")[1],
        read_mask("P010", str(study["root"] / "rs.dcm"), image, roi="GTV_primary")[1],
        read_mask("P010", str(study["root"] / "seg.dcm"), image, segment=1)[1],
    ]
    with pytest.raises(InputError) as err:
        read_image("P010", str(study["both"]))
    texts = [repr(info) for info in infos] + [str(err.value)]
    texts += [f"{k}={image.GetMetaData(k)}" for k in image.GetMetaDataKeys()]
    # Writing the image out must not carry PHI either (NRRD keeps metadata in its header).
    out = tmp_path / "copy.nrrd"
    sitk.WriteImage(image, str(out))
    texts.append(out.read_bytes()[:4000].decode("latin-1"))
    assert any("PID-4711" in p.read_bytes().decode("latin-1") for p in study["single"].iterdir())  # the PHI is there
    for text in texts:
        for phi in PHI:
            assert phi not in text, (phi, text)


def test_truncated_gzip_image_is_refused_not_read_as_zeros(tmp_path):
    """ITK reads a truncated .nii.gz without an error, the missing voxels 0: refuse it."""
    path = str(tmp_path / "ct.nii.gz")
    sitk.WriteImage(sitk.GetImageFromArray(hu(1)), path, True)
    read, _ = read_image("P1", path)
    assert np.array_equal(sitk.GetArrayFromImage(read), hu(1))
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.nii.gz")
    with open(cut, "wb") as handle:
        handle.write(data[: len(data) * 2 // 3])
    truncated = sitk.GetArrayFromImage(sitk.ReadImage(cut))  # what ITK alone makes of it
    assert truncated.shape == SHAPE and not np.array_equal(truncated, hu(1))
    with pytest.raises(InputError, match=rf"case P1: image file {re.escape(cut)} is incomplete or damaged"):
        read_image("P1", cut)
    with pytest.raises(InputError, match="case P1: mask file .* is incomplete or damaged"):
        read_mask("P1", cut, read)


# ------------------------------------------------------------------ issue 13/19: whole images, label maps


def test_shareable_messages_name_series_by_number_and_file_count(study):
    """What goes under results/ has no UID and no description (descriptions carry IDs)."""
    with pytest.raises(InputError) as err:
        read_image("P002", str(study["both"]))
    shareable = err.value.shareable
    assert shareable == (
        f"case P002: image folder {study['both']} holds 2 DICOM series: series 2 (20 files); series 2 (20 files). "
        "Put the SeriesInstanceUID of the image series in the series_uid column of the cohort sheet, or a regular "
        "expression matching its description in series_description (the console and logs/ list their UIDs and "
        "descriptions)."
    )
    with pytest.raises(InputError) as err:
        read_image("P002", str(study["both"]), series_uid="1.2.3.4")
    assert "1.2.3.4" in str(err.value) and "1.2.3.4" not in err.value.shareable
    image_a = read_image("P006", str(study["both"]), series_uid=study["a"])[0]
    with pytest.raises(InputError) as err:
        read_mask("P006", str(study["root"] / "rs_b.dcm"), image_a, roi="GTV_primary")
    assert study["b"] in str(err.value)
    assert "was drawn on another series than the image" in err.value.shareable
    for text in (study["a"], study["b"], "thorax"):
        assert text not in err.value.shareable


def test_pixel_data_of_another_size_than_declared_is_damaged(study, tmp_path):
    folder = tmp_path / "short"
    shutil.copytree(study["single"], folder)
    victim = next(p for p in folder.iterdir() if p.name.endswith("_IM0007.dcm"))
    ds = pydicom.dcmread(victim)
    ds.PixelData = ds.PixelData[:-640]  # 10 rows fewer
    ds.save_as(victim)
    expected = (
        rf"case P004: image series file {re.escape(str(victim))} is a damaged DICOM file \(its pixel data holds "
        r"7552 bytes, but its header declares 64 x 64 pixels x 1 frame\(s\) at 16 bits, 8192 bytes\)\. Export it"
    )
    with pytest.raises(InputError, match=expected):
        read_image("P004", str(folder))


def test_duplicated_slices_are_named(study, tmp_path):
    folder = tmp_path / "dup"
    shutil.copytree(study["single"], folder)
    original = next(p for p in folder.iterdir() if p.name.endswith("_IM0004.dcm"))
    shutil.copy(original, folder / "zz_copy.dcm")
    with pytest.raises(InputError, match=rf"case P005: the image series 2 \(21 files\) in folder {re.escape(str(folder))} "
                       rf"holds the same slice twice: files ({original.name} and zz_copy.dcm|zz_copy.dcm and "
                       rf"{original.name}) are copies of one image"):
        read_image("P005", str(folder))
    # Another image at the same position (a second phase) is named as such.
    ds = pydicom.dcmread(folder / "zz_copy.dcm")
    ds.SOPInstanceUID = ds.SOPInstanceUID[:-1] + ("2" if ds.SOPInstanceUID.endswith("1") else "1")
    ds.save_as(folder / "zz_copy.dcm")
    with pytest.raises(InputError, match=r"has several images at the same slice position \(files .*zz_copy.dcm"):
        read_image("P005", str(folder))


def test_masks_must_be_label_maps(tmp_path, ct):
    """Issue 19: a fractional mask is refused (only voxels equal to the label would count),
    or binarised at a threshold on purpose; an image given as the mask is refused."""
    image = ct[0]
    soft = sitk.GetImageFromArray(np.round(sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(
        sitk.GetImageFromArray(ball().astype(np.float32)), 1.0)) * 4) / 4)
    soft.CopyInformation(image)
    path = str(tmp_path / "soft.nii.gz")
    sitk.WriteImage(sitk.Cast(soft, sitk.sitkFloat32), path)
    with pytest.raises(InputError, match=rf"case P1: mask file {re.escape(path)} is not a label map: it holds "
                       r"non-integer values \(0.25, 0.5, 0.75\), .*set qc.mask_threshold \(e.g. 0.5\)"):
        read_mask("P1", path, image)
    mask, info = read_mask("P1", path, image, label=3, threshold=0.5)
    values = sitk.GetArrayFromImage(soft)
    assert info["threshold"] == 0.5
    assert np.array_equal(as_array(mask), np.where(values >= 0.5, 3, 0))
    # Whole numbers in a float file are a label map: returned unchanged, no threshold applied.
    whole = str(tmp_path / "whole.nii.gz")
    sitk.WriteImage(sitk.Cast(sitk.GetImageFromArray(ball().astype(np.float32) * 2), sitk.sitkFloat32), whole)
    mask, info = read_mask("P1", whole, image, label=2, threshold=0.5)
    assert info["threshold"] is None and set(np.unique(as_array(mask))) == {0.0, 2.0}
    as_mask = str(tmp_path / "image.nii.gz")
    sitk.WriteImage(sitk.GetImageFromArray(hu(1)), as_mask)
    with pytest.raises(InputError, match=r"case P1: mask file .*image.nii.gz does not look like a label map: it "
                       r"holds \d+ distinct non-zero values from -1000 to 1499 .*Is it an image given as the mask"):
        read_mask("P1", as_mask, image)
