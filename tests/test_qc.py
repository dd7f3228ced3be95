"""Per-case input QC rows, the QC table and the overlay montage, on real demo images."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from PIL import Image

from radsnake.imaging.demo import make_case
from radsnake.core.errors import InputError
from radsnake.figures.overlay import choose_window, overlay_montage
from radsnake.imaging.qc import CASE_COLUMNS, MODALITY_COLUMNS, qc_case, qc_files, write_qc_table

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qc")
    image_path, mask_path = str(folder / "p1_image.nii.gz"), str(folder / "p1_mask.nii.gz")
    make_case("p1", 1, "A", 5, image_path, mask_path)
    return image_path, mask_path


@pytest.fixture
def pair(demo):
    image_path, mask_path = demo
    return sitk.ReadImage(image_path), sitk.ReadImage(mask_path)


def run_qc(image, mask, label=1, tolerance=None, name="CT"):
    return qc_case("p1", {name: image}, mask, label, {name: "img.nii.gz"}, "msk.nii.gz", tolerance)


def reasons(row) -> list[str]:
    return row["qc_reasons"].split(";") if row["qc_reasons"] else []


def test_good_demo_cases_pass(demo, tmp_path):
    rows = []
    for case_id, label, center in [("g1", 0, "A"), ("g2", 1, "B"), ("g3", 1, "C")]:
        image_path, mask_path = str(tmp_path / f"{case_id}_i.nii.gz"), str(tmp_path / f"{case_id}_m.nii.gz")
        made = make_case(case_id, label, center, 11, image_path, mask_path)
        row = qc_files(case_id, {"CT": image_path}, mask_path, 1)
        assert row["qc_pass"] is True and row["qc_reasons"] == ""
        assert row["roi_voxels"] == made["lesion_voxels"]
        assert row["roi_volume_ml"] == pytest.approx(made["lesion_voxels"] * 0.8 * 0.8 * 2.5 / 1000, rel=1e-6)
        assert row["CT_size_x"] == 64 and row["CT_size_z"] == 32
        assert row["CT_spacing_z"] == row["CT_slice_thickness_mm"] == 2.5
        assert row["CT_spacing_x"] == pytest.approx(0.8)
        assert row["CT_spacing_max_diff_mm"] == row["CT_origin_max_diff_mm"] == row["CT_direction_max_diff"] == 0.0
        assert row["mask_labels_present"] == "1" and row["mask_label_present"] is True
        assert row["CT_nonfinite_voxels"] == 0 and row["CT_geometry_ok"] is True
        assert -1024 <= row["CT_min"] < row["CT_roi_mean"] < row["CT_max"]
        rows.append(row)


def test_size_mismatch_fails(pair):
    image, mask = pair
    row = run_qc(image, mask[:, :, :30])
    assert row["qc_pass"] is False and row["CT_size_matches_mask"] is False
    assert reasons(row) == ["mask size (64, 64, 30) differs from image CT size (64, 64, 32)"]


def test_spacing_mismatch_beyond_tolerance_fails_within_passes(pair):
    image, mask = pair
    shifted = sitk.Image(mask)
    shifted.SetSpacing((0.8, 0.8, 3.0))
    row = run_qc(image, shifted)
    assert row["qc_pass"] is False
    assert row["CT_spacing_max_diff_mm"] == pytest.approx(0.5)
    assert reasons(row) == ["mask spacing differs from image CT by 0.5 mm (tolerance 0.001)"]
    # ROI volume is the mask's own: 3.0-mm slices make it 20 % larger than on the image.
    assert row["roi_volume_ml"] == pytest.approx(run_qc(image, mask)["roi_volume_ml"] * 3.0 / 2.5)

    near = sitk.Image(mask)
    near.SetSpacing((0.8, 0.8, 2.5005))
    assert run_qc(image, near)["qc_pass"] is True
    assert run_qc(image, near, tolerance={"spacing_mm": 1e-4})["qc_pass"] is False


def test_origin_mismatch_fails(pair):
    image, mask = pair
    moved = sitk.Image(mask)
    moved.SetOrigin(np.add(mask.GetOrigin(), (0.0, 2.0, 0.0)).tolist())
    row = run_qc(image, moved)
    assert row["qc_pass"] is False and row["CT_origin_max_diff_mm"] == pytest.approx(2.0)
    assert reasons(row) == ["mask origin differs from image CT by 2 mm (tolerance 0.01)"]
    slightly = sitk.Image(mask)
    slightly.SetOrigin(np.add(mask.GetOrigin(), (0.005, 0.0, 0.0)).tolist())
    assert run_qc(image, slightly)["qc_pass"] is True


def test_direction_mismatch_fails(pair):
    image, mask = pair
    angle = 0.01  # rad: a mask exported from a slightly tilted (gantry) reconstruction
    c, s = math.cos(angle), math.sin(angle)
    tilted = sitk.Image(mask)
    tilted.SetDirection((1, 0, 0, 0, c, -s, 0, s, c))
    row = run_qc(image, tilted)
    assert row["qc_pass"] is False and row["CT_direction_max_diff"] == pytest.approx(s, rel=1e-6)
    assert len(reasons(row)) == 1 and reasons(row)[0].startswith("mask direction differs from image CT by 0.01")


def test_empty_mask_fails(pair):
    image, mask = pair
    row = run_qc(image, mask * 0)
    assert row["qc_pass"] is False and row["mask_nonempty"] is False and row["roi_voxels"] == 0
    assert row["roi_components"] == 0
    assert reasons(row) == ["mask is empty (no non-zero voxel)"]


def test_label_absent_fails_and_names_present_labels(pair):
    image, mask = pair
    row = run_qc(image, mask * 2)
    assert row["qc_pass"] is False and row["mask_nonempty"] is True and row["mask_label_present"] is False
    assert row["mask_labels_present"] == "2"
    assert reasons(row) == ["mask has no voxel with label 1 (labels present: 2), set mask_label for this case"]
    assert run_qc(image, mask * 2, label=2)["qc_pass"] is True


def test_2d_image_fails(pair):
    image, mask = pair
    row = run_qc(image[:, :, 16], mask[:, :, 16])
    assert row["qc_pass"] is False and row["CT_dimension"] == 2 and row["mask_dimension"] == 2
    assert row["roi_volume_ml"] is None and row["CT_slice_thickness_mm"] is None
    assert "mask is 2D, radsnake expects 3D volumes" in reasons(row)
    assert any(r.startswith("image CT is 2D") for r in reasons(row))


def test_nan_voxels_fail(pair):
    image, mask = pair
    values = sitk.GetArrayFromImage(image).astype(np.float32)
    values[3, 4, 5:8] = np.nan
    values[0, 0, 0] = np.inf
    floats = sitk.GetImageFromArray(values)
    floats.CopyInformation(image)
    row = run_qc(floats, mask)
    assert row["qc_pass"] is False and row["CT_nonfinite_voxels"] == 4
    assert reasons(row) == ["image CT has 4 NaN or infinite voxels"]
    assert math.isfinite(row["CT_min"]) and math.isfinite(row["CT_roi_mean"])


def cubes(offset_second: tuple[int, int, int], spacing=(0.5, 0.5, 2.0)):
    """A 10x10x4-voxel cube and a 3x3x3 one at ``offset_second`` (z, y, x)."""
    values = np.zeros((12, 40, 40), np.uint8)
    values[1:5, 2:12, 2:12] = 1
    z, y, x = offset_second
    values[z : z + 3, y : y + 3, x : x + 3] = 1
    image = sitk.GetImageFromArray(np.full(values.shape, 40, np.int16))
    mask = sitk.GetImageFromArray(values)
    for img in (image, mask):
        img.SetSpacing(spacing)
    return image, mask


def test_components_counted_with_26_connectivity():
    image, mask = cubes((6, 20, 20))
    row = run_qc(image, mask)
    assert row["roi_components"] == 2 and row["qc_pass"] is True  # informational by default
    row = run_qc(image, mask, tolerance={"max_components": 1})
    assert row["qc_pass"] is False
    assert reasons(row) == ["ROI has 2 connected components (max_components 1)"]
    # Touching the big cube only at its corner voxel: one component with 26-connectivity.
    image, mask = cubes((5, 12, 12))
    assert run_qc(image, mask)["roi_components"] == 1


def test_volume_of_known_cube():
    image, mask = cubes((0, 0, 0))
    values = sitk.GetArrayFromImage(mask) * 0
    values[1:5, 2:12, 2:12] = 1  # 400 voxels of 0.5 mm³
    cube = sitk.GetImageFromArray(values)
    cube.CopyInformation(mask)
    row = run_qc(image, cube)
    assert row["roi_voxels"] == 400 and row["roi_volume_ml"] == pytest.approx(0.2, rel=1e-12)
    row = run_qc(image, cube, tolerance={"min_volume_ml": 0.5})
    assert row["qc_pass"] is False and reasons(row) == ["ROI volume 0.2 ml is below min_volume_ml 0.5"]


def test_several_problems_listed_together_and_unknown_tolerance_key(pair):
    image, mask = pair
    bad = sitk.Image(mask * 3)
    bad.SetOrigin(np.add(mask.GetOrigin(), (1.0, 0.0, 0.0)).tolist())
    row = run_qc(image, bad)
    assert len(reasons(row)) == 2
    assert reasons(row)[0].startswith("mask has no voxel with label 1")
    assert reasons(row)[1].startswith("mask origin differs from image CT by 1 mm")
    with pytest.raises(InputError, match=r"unknown key\(s\) \['origin'\]"):
        run_qc(image, mask, tolerance={"origin": 1.0})


def test_unreadable_file_is_reported_not_raised(demo, tmp_path):
    image_path, mask_path = demo
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not an image")
    row = qc_files("p9", {"CT": image_path, "PET": str(tmp_path / "missing.nii.gz")}, str(broken), 1)
    assert row["qc_pass"] is False
    found = reasons(row)
    assert found[0] == f"image PET file {tmp_path / 'missing.nii.gz'} does not exist"
    assert found[1].startswith(f"mask file {broken} cannot be read as an image")
    # A .nii.gz cut short is not read as zeros (ITK alone would).
    cut = tmp_path / "cut.nii.gz"
    data = open(image_path, "rb").read()
    cut.write_bytes(data[: len(data) // 2])
    row = qc_files("p9", {"CT": str(cut)}, mask_path, 1)
    assert reasons(row) == [
        f"image CT file {cut} is incomplete or damaged (Compressed file ended before the end-of-stream marker was "
        "reached), read as it is, its missing voxels would be 0"
    ]


def test_qc_table_column_order_types_and_rows(demo, tmp_path, pair):
    image, mask = pair
    image_path, mask_path = demo
    rows = [
        qc_case("p2", {"T2": image, "ADC": image}, mask, 1, {"T2": "t2.nii", "ADC": "adc.nii"}, "m.nii"),
        qc_case("p1", {"T2": image[:, :, 16], "ADC": image}, mask, 1, {"T2": "t2.nii", "ADC": "adc.nii"}, "m.nii"),
        qc_files("p0", {"T2": str(tmp_path / "gone.nii.gz"), "ADC": image_path}, mask_path, 1),
    ]
    out = tmp_path / "qc" / "qc.csv"
    write_qc_table(rows, str(out))
    expected = CASE_COLUMNS + [f"{m}_{c}" for m in ("T2", "ADC") for c in MODALITY_COLUMNS]
    header = out.read_text().splitlines()[0].split(",")
    assert header == expected
    table = pd.read_csv(out)
    assert table["case_id"].tolist() == ["p0", "p1", "p2"]
    assert table["qc_pass"].tolist() == [False, False, True]
    assert table.loc[0, "qc_reasons"].startswith("image T2 file")
    # Sizes stay integers; a value that does not apply is an empty cell, not "nan".
    assert "64,64,32" in out.read_text()
    assert table["T2_size_z"].isna().tolist() == [True, True, False]
    assert ",2,16-bit signed integer,64,64,," in out.read_text()  # p1: 2D T2, no size_z
    before = out.read_bytes()
    write_qc_table(pd.read_csv(out), str(out))  # per-case tables read back and combined
    assert out.read_bytes() == before


def test_invalid_modality_name(pair):
    image, mask = pair
    with pytest.raises(InputError, match="modality name 'mask'"):
        qc_case("p1", {"mask": image}, mask, 1, {"mask": "x"}, "m")


# --------------------------------------------------------------------------------------
# overlay montage
# --------------------------------------------------------------------------------------


def contour_pixels(png: Path) -> int:
    """Pixels of the montage drawn in the contour colour (#F0E442)."""
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int(np.sum(np.abs(rgb - [0xF0, 0xE4, 0x42]).sum(axis=2) < 40))


def test_overlay_written_deterministic_and_ct_window(pair, tmp_path):
    image, mask = pair
    png = tmp_path / "o" / "p1.png"
    info = overlay_montage(image, mask, 1, str(png), "p1")
    assert info["window"] == "ct" and (info["low"], info["high"]) == (-160.0, 240.0)
    first = png.read_bytes()
    assert overlay_montage(image, mask, 1, str(png), "p1") == info
    assert png.read_bytes() == first
    with Image.open(png) as img:
        assert img.format == "PNG" and "Software" not in img.info
        assert 1000 <= img.width <= 2000 and 300 <= img.height <= 2500
    assert contour_pixels(png) > 2000
    # Every slice holding ROI voxels is shown (fewer than max_slices here), in order.
    roi_slices = np.flatnonzero(sitk.GetArrayViewFromImage(mask).any(axis=(1, 2))).tolist()
    assert info["slices"] == roi_slices
    assert info["z_mm"] == pytest.approx([mask.TransformIndexToPhysicalPoint((0, 0, k))[2] for k in roi_slices])
    assert info["mask_resampled"] is False


def test_overlay_same_bytes_in_another_process(pair, tmp_path):
    image, mask = pair
    here, there = tmp_path / "here.png", tmp_path / "there.png"
    sitk.WriteImage(image, str(tmp_path / "i.nrrd"))
    sitk.WriteImage(mask, str(tmp_path / "m.nrrd"))
    overlay_montage(image, mask, 1, str(here), "p1")
    code = (
        "import SimpleITK as s; from radsnake.figures.overlay import overlay_montage as o; "
        f"o(s.ReadImage(r'{tmp_path / 'i.nrrd'}'), s.ReadImage(r'{tmp_path / 'm.nrrd'}'), 1, r'{there}', 'p1')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120,
                   env={"PYTHONPATH": str(REPO / "scripts"), "PATH": "/usr/bin:/bin"})
    assert there.read_bytes() == here.read_bytes()


def test_overlay_mr_window_for_positive_float_image(pair, tmp_path):
    image, mask = pair
    values = sitk.GetArrayFromImage(image).astype(np.float32) + 1100.0  # MR-like: positive floats
    mr = sitk.GetImageFromArray(values)
    mr.CopyInformation(image)
    assert choose_window(mr) == "mr" and choose_window(image) == "ct"
    info = overlay_montage(mr, mask, 1, str(tmp_path / "mr.png"), "p1", max_slices=4)
    assert info["window"] == "mr" and 0 < info["low"] < info["high"]
    # Four slices evenly spread from the first to the last ROI slice.
    roi_slices = np.flatnonzero(sitk.GetArrayViewFromImage(mask).any(axis=(1, 2))).tolist()
    assert len(info["slices"]) == 4
    assert info["slices"][0] == roi_slices[0] and info["slices"][-1] == roi_slices[-1]
    assert overlay_montage(mr, mask, 1, str(tmp_path / "lung.png"), "p1", window="ct-lung")["low"] == -1350.0


def test_overlay_resamples_a_mask_on_another_grid(pair, tmp_path):
    image, mask = pair
    moved = sitk.Image(mask)
    moved.SetOrigin(np.add(mask.GetOrigin(), (0.0, 0.0, 5.0)).tolist())  # two slices up
    info = overlay_montage(image, moved, 1, str(tmp_path / "moved.png"), "p1")
    reference = overlay_montage(image, mask, 1, str(tmp_path / "ref.png"), "p1")
    assert info["mask_resampled"] is True
    assert info["slices"] == [k + 2 for k in reference["slices"] if k + 2 < 32]


def test_overlay_is_radiological_whatever_the_storage_order(tmp_path):
    """The same anatomy stored with flipped x and y axes gives the same picture."""
    values = np.full((10, 60, 60), 40, np.int16)
    roi = np.zeros(values.shape, np.uint8)
    roi[3:7, 25:35, 25:35] = 1
    values[roi == 1] = 100
    values[3:7, 28:32, 17:21] = 1000  # on the patient's right (low LPS x)
    image, mask = sitk.GetImageFromArray(values), sitk.GetImageFromArray(roi)
    flipped, flipped_mask = (sitk.GetImageFromArray(a[:, ::-1, ::-1].copy()) for a in (values, roi))
    for img in (image, mask, flipped, flipped_mask):
        img.SetSpacing((1.0, 1.0, 3.0))
    for img in (flipped, flipped_mask):
        img.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
        img.SetOrigin((59.0, 59.0, 0.0))
    a = overlay_montage(image, mask, 1, str(tmp_path / "a.png"), "o")
    b = overlay_montage(flipped, flipped_mask, 1, str(tmp_path / "b.png"), "o")
    assert a == b and (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    # Radiological view: the marker on the patient's right is left of the ROI in the picture.
    grey = np.asarray(Image.open(tmp_path / "a.png").convert("L")).astype(int)
    contour = np.asarray(Image.open(tmp_path / "a.png").convert("RGB")).astype(int)
    yellow = np.abs(contour - [0xF0, 0xE4, 0x42]).sum(axis=2) < 40
    white = (grey == 255) & ~yellow
    first_panel = slice(0, grey.shape[1] // 4)  # 4 ROI slices: the first of four columns
    cols_white = np.flatnonzero(white[:, first_panel].sum(axis=0) > 40)
    cols_roi = np.flatnonzero(yellow[:, first_panel].any(axis=0))
    assert cols_white.size and cols_white.max() < cols_roi.min()


def test_overlay_refuses_what_it_cannot_show(pair, tmp_path):
    image, mask = pair
    with pytest.raises(InputError, match="case p1: the mask has no voxel with label 1"):
        overlay_montage(image, mask * 0, 1, str(tmp_path / "x.png"), "p1")
    with pytest.raises(InputError, match="needs a 3D greyscale image"):
        overlay_montage(image[:, :, 3], mask[:, :, 3], 1, str(tmp_path / "x.png"), "p1")
    with pytest.raises(InputError, match="unknown overlay window 'bone'"):
        overlay_montage(image, mask, 1, str(tmp_path / "x.png"), "p1", window="bone")
    assert not (tmp_path / "x.png").exists()
