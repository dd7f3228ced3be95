"""Draft segmentation from a seed or a box, on a CT-like phantom with a known lesion."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from radsnake.core.errors import InputError
from radsnake.imaging.segment import draft_mask
from radsnake.jobs.inputs import write_draft

SPACING = (0.7, 0.7, 2.0)
ORIGIN = (-25.2, -25.2, -36.0)


def phantom(seed: int, bright: bool):
    """Organ with a lobulated lesion (140 HU in 50 HU, or 40 HU in 100 HU), a vessel, a
    fat layer and air on one side, partial-volume blur and 15-HU noise; int16 HU."""
    rng = np.random.default_rng(seed)
    shape = (36, 72, 72)  # z, y, x
    z, y, x = np.meshgrid(
        *[(np.arange(n) - n / 2 + 0.5) * s for n, s in zip(shape, SPACING[::-1])], indexing="ij"
    )
    hu = np.full(shape, 50.0 if bright else 100.0)
    hu = np.where(np.hypot(x - 10, y + 14) < 2.0, 180.0, hu)  # vessel along z
    hu = np.where(x < -19, -100.0, hu)  # fat
    hu = np.where(x < -23, -1000.0, hu)  # air
    lobes = 1 + 0.12 * np.cos(3 * np.arctan2(y - 1, x - 2))
    lesion = np.sqrt((x - 2) ** 2 + (y - 1) ** 2 + z**2) <= 9.0 * lobes
    hu = np.where(lesion, 140.0 if bright else 40.0, hu)
    hu = ndimage.gaussian_filter(hu, (0.5, 0.8, 0.8)) + 15.0 * rng.standard_normal(shape)
    image = sitk.GetImageFromArray(np.rint(hu).astype(np.int16))
    truth = sitk.GetImageFromArray(lesion.astype(np.uint8))
    for img in (image, truth):
        img.SetSpacing(SPACING)
        img.SetOrigin(ORIGIN)
    return image, truth


def dice(a: sitk.Image, b: sitk.Image) -> float:
    x, y = sitk.GetArrayViewFromImage(a) > 0, sitk.GetArrayViewFromImage(b) > 0
    return 2.0 * np.count_nonzero(x & y) / (np.count_nonzero(x) + np.count_nonzero(y))


def lesion_box(image, truth, margin_mm=4.0):
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(truth)
    bb = stats.GetBoundingBox(1)
    lo = image.TransformIndexToPhysicalPoint(bb[:3])
    hi = image.TransformIndexToPhysicalPoint([a + n - 1 for a, n in zip(bb[:3], bb[3:])])
    return tuple(v - margin_mm for v in lo), tuple(v + margin_mm for v in hi)


# A point inside the lesion, off its centre (as a reader would click), in LPS mm.
SEED_MM = (4.0, -1.0, 2.0)


@pytest.mark.parametrize("bright", [True, False])
def test_region_growing_from_seed(bright):
    image, truth = phantom(1, bright)
    mask = draft_mask(image, seed=SEED_MM)
    assert mask.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(sitk.GetArrayViewFromImage(mask)).tolist()) == {0, 1}
    assert mask.GetSize() == image.GetSize() and mask.GetOrigin() == image.GetOrigin()
    assert mask.GetSpacing() == image.GetSpacing() and mask.GetDirection() == image.GetDirection()
    assert dice(mask, truth) >= 0.8


def test_seed_in_ras_or_as_voxel_index_gives_the_same_draft():
    image, _ = phantom(2, True)
    reference = sitk.GetArrayFromImage(draft_mask(image, seed=SEED_MM))
    ras = (-SEED_MM[0], -SEED_MM[1], SEED_MM[2])
    by_ras = draft_mask(image, seed=ras, params={"coordinates": "RAS"})
    assert np.array_equal(sitk.GetArrayFromImage(by_ras), reference)
    index = image.TransformPhysicalPointToIndex(SEED_MM)
    by_index = draft_mask(image, seed=index, params={"units": "index"})
    assert np.array_equal(sitk.GetArrayFromImage(by_index), reference)


def test_region_growing_confined_to_bbox_and_fixed_bounds():
    image, truth = phantom(3, True)
    (x0, y0, z0), (x1, y1, z1) = lesion_box(image, truth)
    half = ((x0, y0, z0), (x1, y1, 2.0))  # box cut at z = 2 mm
    mask = draft_mask(image, seed=SEED_MM, bbox=half)
    z_of = [mask.TransformIndexToPhysicalPoint((0, 0, k))[2] for k in range(mask.GetSize()[2])]
    roi_z = [z for z, s in zip(z_of, sitk.GetArrayViewFromImage(mask).any(axis=(1, 2))) if s]
    assert max(roi_z) <= 2.0 and dice(mask, truth) > 0.5
    fixed = draft_mask(image, seed=SEED_MM, params={"lower": 95, "upper": 400})
    assert dice(fixed, truth) >= 0.8
    # Bounds that take the whole organ in: the leak stays within search_mm of the seed.
    leak = draft_mask(image, seed=SEED_MM, params={"lower": -50, "upper": 400, "search_mm": 10.0})
    k, j, i = np.nonzero(sitk.GetArrayViewFromImage(leak))
    seed_index = image.TransformPhysicalPointToIndex(SEED_MM)
    for axis, spacing in zip((i, j, k), SPACING):
        reach = np.ceil(10.0 / spacing)
        assert axis.max() - axis.min() == 2 * reach  # filled the whole search window
    corner = tuple(int(c - np.ceil(10.0 / s)) for c, s in zip(seed_index, SPACING))
    assert (i.min(), j.min(), k.min()) == corner


@pytest.mark.parametrize("bright", [True, False])
def test_bbox_otsu(bright):
    image, truth = phantom(4, bright)
    for margin in (4.0, 16.0):
        mask = draft_mask(image, bbox=lesion_box(image, truth, margin), method="threshold")
        assert dice(mask, truth) >= 0.8, margin
    # The wide box holds fat too: one Otsu split only separates fat from the rest, so the
    # split is repeated inside the lesion's class.
    wide = lesion_box(image, truth, 16.0)
    once = draft_mask(image, bbox=wide, method="threshold", params={"max_splits": 1})
    assert dice(once, truth) < 0.5


def test_seed_outside_image_is_a_helpful_error():
    image, _ = phantom(5, True)
    with pytest.raises(InputError) as err:
        draft_mask(image, seed=(4.0, -1.0, 80.0))
    text = str(err.value)
    assert "seed (4.0, -1.0, 80.0) (mm) is outside the image" in text
    assert "x -25.6 to 24.8, y -25.6 to 24.8, z -37.0 to 35.0 mm (LPS)" in text  # voxel edges
    assert "coordinates: RAS" in text and "units: index" in text
    with pytest.raises(InputError, match=r"outside the image, which spans i 0–71, j 0–71, k 0–35"):
        draft_mask(image, seed=(72, 3, 3), params={"units": "index"})


def test_other_input_errors():
    image, truth = phantom(6, True)
    with pytest.raises(InputError, match="contains no voxel of the image"):
        draft_mask(image, bbox=((100, 100, 0), (120, 120, 10)), method="threshold")
    with pytest.raises(InputError, match="draft segmentation is empty"):
        draft_mask(image, seed=SEED_MM, params={"lower": -2000, "upper": -1500})
    with pytest.raises(InputError, match="threshold needs a bbox"):
        draft_mask(image, seed=SEED_MM, method="threshold")
    with pytest.raises(InputError, match="seed .* is outside the bbox"):
        draft_mask(image, seed=(-20.0, 0.0, 0.0), bbox=lesion_box(image, truth), method="threshold")
    with pytest.raises(InputError, match=r"unknown parameter\(s\) \['multiplyer'\]"):
        draft_mask(image, seed=SEED_MM, params={"multiplyer": 3})


def test_box_on_one_slice_keeps_that_slice():
    image, truth = phantom(7, True)
    (x0, y0, _), (x1, y1, _) = lesion_box(image, truth)
    mask = draft_mask(image, bbox=((x0, y0, 0.3), (x1, y1, 0.3)), method="threshold")
    slices = np.flatnonzero(sitk.GetArrayViewFromImage(mask).any(axis=(1, 2))).tolist()
    assert slices == [image.TransformPhysicalPointToIndex((0.0, 0.0, 0.3))[2]]


def test_write_draft_writes_mask_and_overlay(tmp_path):
    image, truth = phantom(8, True)
    image_path = str(tmp_path / "P7_image.nii.gz")
    sitk.WriteImage(image, image_path)
    mask_path, png = tmp_path / "drafts" / "P7_mask.nii.gz", tmp_path / "drafts" / "P7.png"
    entry = {"path": image_path, "column": "image"}
    seed_text = ",".join(str(v) for v in SEED_MM)
    info = write_draft("P7", entry, seed_text, None, "region_growing", None, str(mask_path), str(png))
    written, stored = sitk.ReadImage(str(mask_path)), sitk.ReadImage(image_path)  # NIfTI: float32 geometry
    assert written.GetOrigin() == stored.GetOrigin() and written.GetSpacing() == stored.GetSpacing()
    assert dice(written, truth) >= 0.8
    assert info["voxels"] == int(sitk.GetArrayViewFromImage(written).sum())
    assert info["window"] == "ct" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in mask_path.parent.iterdir()) == ["P7.png", "P7_mask.nii.gz"]  # no temp files

    with pytest.raises(InputError, match=rf"case P7: draft on image {image_path}: the seed .* is outside the image"):
        write_draft("P7", entry, "0,0,500", None, "region_growing", None, str(mask_path), str(png))
    with pytest.raises(InputError, match="case P7: .*no.nii.gz"):
        write_draft("P7", {"path": str(tmp_path / "no.nii.gz"), "column": "image"}, seed_text, None, "region_growing",
                    None, str(mask_path), str(png))
