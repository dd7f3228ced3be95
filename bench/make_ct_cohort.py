"""A realistic-size CT-like cohort for the extraction benchmark, deterministic from a seed.

Each case is a 512 x 512 axial stack (int16 HU, 0.65-0.80 mm pixels, 2 / 2.5 / 3 mm
slices) of a chest-like section: air, a body ellipse of fat with a muscle wall, two
lungs with vessel-like texture, a mediastinum and a vertebra; one lobulated tumour sits
in a lung or in the mediastinum. Tumour ROIs span 10^3 to 10^5 voxels, spread evenly on
a log scale over the cohort (in a shuffled order, so no batch gets all the big ones).
The stack has as many slices as the tumour needs plus at least 15 mm above and below.

Case i depends only on (seed, i, n_cases), so reruns write identical files.

    python bench/make_ct_cohort.py --cases 200 --seed 7 --out /tmp/radsnake-bench/ct
"""

from __future__ import annotations

import argparse
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

MATRIX = 512
MIN_ROI, MAX_ROI = 1e3, 1e5
MARGIN_MM = 15.0


def case_id(index: int) -> str:
    return f"CT{index + 1:05d}"


def roi_targets(n_cases: int, seed: int) -> np.ndarray:
    """Log-uniform strata over [1e3, 1e5] voxels, one per case, in a seeded random order."""
    rng = np.random.default_rng([seed, 0])
    strata = (np.arange(n_cases) + rng.uniform(size=n_cases)) / n_cases
    sizes = 10 ** (math.log10(MIN_ROI) + strata * (math.log10(MAX_ROI) - math.log10(MIN_ROI)))
    return sizes[rng.permutation(n_cases)]


def _lesion_shape(rng: np.random.Generator):
    """Radius modulation and axis scales of one lobulated lesion."""
    directions = rng.normal(size=(rng.integers(3, 6), 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    amplitudes = rng.uniform(0.03, 0.14, size=len(directions))
    frequencies = rng.integers(2, 5, size=len(directions))
    axes = rng.uniform(0.75, 1.3, size=3)
    return directions, amplitudes, frequencies, axes


def _lesion_mask(offsets_mm: np.ndarray, radius: float, shape) -> np.ndarray:
    """Voxels inside the lobulated surface; offsets_mm are (..., 3) in (x, y, z) mm."""
    directions, amplitudes, frequencies, axes = shape
    scaled = offsets_mm / axes
    distance = np.linalg.norm(scaled, axis=-1)
    unit = scaled / np.maximum(distance, 1e-9)[..., None]
    modulation = 1.0 + sum(a * np.cos(np.pi * f * (unit @ d)) for d, a, f in zip(directions, amplitudes, frequencies))
    return distance <= radius * modulation


def _grid_offsets(shape_zyx, spacing_xyz, centre_xyz) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape_zyx), indexing="ij")
    return np.stack([x * spacing_xyz[0] - centre_xyz[0], y * spacing_xyz[1] - centre_xyz[1],
                     z * spacing_xyz[2] - centre_xyz[2]], axis=-1)


def _fit_radius(target_voxels: float, spacing, shape) -> tuple[float, int]:
    """Radius (mm) whose lesion covers target_voxels on this grid, by a few Newton-like steps."""
    voxel_mm3 = spacing[0] * spacing[1] * spacing[2]
    radius = (3 * target_voxels * voxel_mm3 / (4 * math.pi * np.prod(shape[3]))) ** (1 / 3)
    count = 0
    for _ in range(6):
        half = radius * max(shape[3]) * 1.5
        box = [int(math.ceil(half / s)) * 2 + 1 for s in spacing]  # (x, y, z) voxels
        centre = [(b // 2) * s for b, s in zip(box, spacing)]
        offsets = _grid_offsets((box[2], box[1], box[0]), spacing, centre)
        count = int(_lesion_mask(offsets, radius, shape).sum())
        if abs(count - target_voxels) / target_voxels < 0.02:
            break
        radius *= (target_voxels / max(count, 1)) ** (1 / 3)
    return radius, count


def make_case(index: int, n_cases: int, seed: int, out_dir: str) -> dict:
    rng = np.random.default_rng([seed, 1, index])
    target = float(roi_targets(n_cases, seed)[index])
    pixel = float(rng.uniform(0.65, 0.80))
    slice_mm = float(rng.choice([2.0, 2.5, 3.0]))
    spacing = (pixel, pixel, slice_mm)
    shape = _lesion_shape(rng)
    radius, _ = _fit_radius(target, spacing, shape)
    extent_mm = 2 * radius * max(shape[3]) * 1.15
    n_slices = int(math.ceil((extent_mm + 2 * MARGIN_MM) / slice_mm))

    # Anatomy of an axial chest section, in mm from the image centre.
    field_mm = MATRIX * pixel
    y, x = np.meshgrid((np.arange(MATRIX) + 0.5) * pixel - field_mm / 2,
                       (np.arange(MATRIX) + 0.5) * pixel - field_mm / 2, indexing="ij")
    body_a, body_b = rng.uniform(150, 175), rng.uniform(105, 125)
    body = (x / body_a) ** 2 + (y / body_b) ** 2 <= 1
    inner = (x / (body_a - 15)) ** 2 + (y / (body_b - 12)) ** 2 <= 1
    lung_a, lung_b, lung_x = rng.uniform(45, 60), rng.uniform(65, 85), rng.uniform(70, 85)
    lungs = [((x - side * lung_x) / lung_a) ** 2 + ((y + 5) / lung_b) ** 2 <= 1 for side in (-1, 1)]
    lung = lungs[0] | lungs[1]
    spine = (x ** 2 + (y - body_b + 35) ** 2) <= 16 ** 2
    section = np.full((MATRIX, MATRIX), -1000.0, dtype=np.float32)
    section[body] = -100.0       # subcutaneous fat
    section[body & ~inner] = 45.0  # muscle wall
    section[inner & ~lung] = 35.0  # mediastinum / soft tissue
    section[lung] = -850.0
    section[spine] = 650.0

    image = np.repeat(section[None], n_slices, axis=0)
    # Lung vessels and parenchyma: smoothed noise, brighter in spots; soft-tissue mottling.
    texture = ndimage.gaussian_filter(rng.normal(size=image.shape).astype(np.float32), (0.7, 2.0, 2.0))
    texture /= texture.std()
    image += np.where(lung[None], 60.0 * np.maximum(texture, 0) ** 2, 8.0 * texture)

    # Tumour: in a lung (three cases in five) or in the mediastinum, fully inside the body.
    in_lung = rng.uniform() < 0.6
    if in_lung:
        side = rng.choice([-1, 1])
        cx, cy = side * lung_x + rng.uniform(-0.3, 0.3) * lung_a, -5 + rng.uniform(-0.4, 0.4) * lung_b
    else:
        cx, cy = rng.uniform(-20, 20), rng.uniform(-30, 20)
    centre = (cx + field_mm / 2, cy + field_mm / 2, n_slices * slice_mm / 2)
    half_box = extent_mm / 2 + 3
    lo = [max(0, int((c - half_box) / s)) for c, s in zip(centre, spacing)]
    hi = [min(n, int((c + half_box) / s) + 2) for c, s, n in zip(centre, spacing, (MATRIX, MATRIX, n_slices))]
    sub = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    local_centre = [c - low * s for c, low, s in zip(centre, lo, spacing)]
    offsets = _grid_offsets(image[sub].shape, spacing, local_centre)
    lesion = _lesion_mask(offsets, radius, shape)
    mask = np.zeros(image.shape, dtype=np.uint8)
    mask[sub] = lesion

    # Tumour HU: enhancing rim, heterogeneous inside, a necrotic core in larger ones; partial volume at the edge.
    tumour_hu = rng.uniform(25, 60)
    hetero = ndimage.gaussian_filter(rng.normal(size=lesion.shape).astype(np.float32), 1.2)
    hetero *= rng.uniform(10, 35) / max(float(hetero.std()), 1e-6)
    depth = ndimage.distance_transform_edt(lesion, sampling=(slice_mm, pixel, pixel))
    core = np.clip(1 - depth / max(float(depth.max()), 1e-6) * 2.5, 0, 1)  # 1 at the centre
    necrosis = rng.uniform(0, 35) if target > 2e4 else 0.0
    values = tumour_hu + hetero - necrosis * core
    weight = ndimage.gaussian_filter(lesion.astype(np.float32), (0.5, 0.7, 0.7))
    image[sub] = image[sub] * (1 - weight) + values * weight

    # Scanner noise: correlated in-plane, as from a reconstruction kernel.
    noise = ndimage.gaussian_filter(rng.normal(size=image.shape).astype(np.float32), (0, 0.8, 0.8))
    image += noise * (rng.uniform(10, 25) / max(float(noise.std()), 1e-6))
    hu = np.clip(np.rint(image), -1024, 3071).astype(np.int16)

    cid = case_id(index)
    origin = (-field_mm / 2, -field_mm / 2, -n_slices * slice_mm / 2)
    paths = {}
    for role, array in (("image", hu), ("mask", mask)):
        itk = sitk.GetImageFromArray(array)
        itk.SetSpacing(spacing)
        itk.SetOrigin(origin)
        path = os.path.join(out_dir, f"{cid}_{role}.nii.gz")
        sitk.WriteImage(itk, path, useCompression=True)
        paths[role] = path
    return {
        "case_id": cid,
        "image": paths["image"],
        "mask": paths["mask"],
        "label": int(rng.uniform() < 0.4),
        "roi_voxels": int(mask.sum()),
        "slices": n_slices,
        "pixel_mm": pixel,
        "slice_mm": slice_mm,
        "site": "lung" if in_lung else "mediastinum",
    }


def make_cohort(out_dir: str | Path, n_cases: int, seed: int, jobs: int = 1) -> pd.DataFrame:
    """Write the cases (reusing an identical earlier cohort) and return the manifest.

    Each cohort gets its own folder, ``<out_dir>/<n_cases>-<seed>/``: case i depends on
    the cohort's size too, so cohorts of two sizes written into one folder under the same
    file names would replace each other's images (the 20-case manifest then named the
    100-case cohort's files)."""
    out_dir = Path(out_dir) / f"{n_cases}-{seed}"
    manifest_path = out_dir / "manifest.csv"
    if manifest_path.exists():
        manifest = pd.read_csv(manifest_path, dtype={"case_id": str})
        if all(os.path.exists(p) for p in [*manifest["image"], *manifest["mask"]]):
            return manifest
    out_dir.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(make_case, range(n_cases), [n_cases] * n_cases, [seed] * n_cases,
                             [str(out_dir)] * n_cases))
    manifest = pd.DataFrame(rows)
    manifest.to_csv(manifest_path, index=False)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    manifest = make_cohort(args.out, args.cases, args.seed, args.jobs)
    sizes = manifest["roi_voxels"]
    print(f"{len(manifest)} cases in {args.out}: ROI {sizes.min()}-{sizes.max()} voxels "
          f"(median {int(sizes.median())}), {manifest['slices'].min()}-{manifest['slices'].max()} slices")


if __name__ == "__main__":
    main()
