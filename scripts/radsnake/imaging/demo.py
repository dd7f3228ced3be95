"""Synthetic, deterministic demo cohort so the workflow runs out of the box.

Each case is a small CT-like crop (int16 HU) around one lesion plus a uint8 mask
(1 = lesion). The label changes the lesion in a documented way (docs/demo-cohort.md):

* shape: malignant lesions are lobulated and have a rough margin
  (lower ``original_shape_Sphericity``, higher ``original_shape_SurfaceVolumeRatio``);
* texture: malignant lesions are internally heterogeneous
  (higher ``original_firstorder_Entropy``, GLCM / GLSZM heterogeneity);
* size: malignant lesions are slightly larger on average.

Every label-driven parameter is drawn from overlapping distributions, so the task is
learnable but not trivial. Centre-specific scanner effects (intensity gain / offset and
noise level) are independent of the label, as in a real multi-centre study.

All randomness comes from ``numpy`` generators seeded by a SHA-256 of the inputs, never
Python's ``hash()`` (salted per process), so a case is a pure function of
``(seed, case_id, label, center)``. Cohort sheet rows are drawn per case too: growing
``n_cases`` appends cases without changing existing ones, so Snakemake only builds the
new images.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

# Image grid as (x, y, z); numpy arrays below are indexed (z, y, x) as in SimpleITK.
GRID_SIZE = (64, 64, 32)
SPACING_MM = (0.8, 0.8, 2.5)

# Per-centre scanner model: HU gain and offset (calibration / protocol differences) and
# noise standard deviation in HU (dose / reconstruction kernel).
SCANNERS = {
    "A": {"gain": 1.00, "offset_hu": 0.0, "noise_hu": 10.0},
    "B": {"gain": 1.08, "offset_hu": 18.0, "noise_hu": 16.0},
    "C": {"gain": 0.92, "offset_hu": -12.0, "noise_hu": 22.0},
    "D": {"gain": 0.96, "offset_hu": 6.0, "noise_hu": 13.0},
}

# The shipped demo study (config/demo/cohort.csv): A and B train and test; C and D are the two
# external cohorts (config/demo/config.yaml), each with enough cases of both labels for an AUC CI.
DEMO_N_CASES = 160
DEMO_CENTERS = ("A", "B", "C", "D")
DEMO_IMAGE_DIR = "../../results/demo"

SHEET_COLUMNS = ["case_id", "image", "mask", "label", "center", "age", "sex"]


def seeded_rng(*parts) -> np.random.Generator:
    """Generator seeded by a stable hash of ``parts`` (same on every run and platform)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def scanner_for(center: str) -> dict:
    """Scanner parameters of a centre; centres outside ``SCANNERS`` get stable random ones."""
    if center in SCANNERS:
        return dict(SCANNERS[center])
    rng = seeded_rng("scanner", center)
    return {
        "gain": float(rng.uniform(0.9, 1.1)),
        "offset_hu": float(rng.uniform(-20, 20)),
        "noise_hu": float(rng.uniform(8, 24)),
    }


def _smooth_noise(rng: np.random.Generator, shape, sigma_mm: float) -> np.ndarray:
    """Gaussian random field with unit standard deviation and correlation length ~sigma_mm."""
    sigma_vox = [sigma_mm / s for s in SPACING_MM[::-1]]
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_vox, mode="wrap")
    return field / field.std()


def _lesion_parameters(rng: np.random.Generator, label: int) -> dict:
    """Ground-truth lesion parameters; only these distributions depend on the label."""
    malignant = label == 1
    return {
        "radius_mm": float(np.clip(rng.normal(11.0 if malignant else 10.5, 1.5), 8.0, 14.5)),
        # Amplitude of low-frequency lobulation, relative to the radius.
        "lobulation": float(rng.gamma(5.0, 0.028 if malignant else 0.017)),
        # Amplitude of the fine margin roughness, in mm.
        "roughness_mm": float(rng.gamma(5.0, 0.18 if malignant else 0.10)),
        # Standard deviation of the internal texture, in HU.
        "heterogeneity_hu": float(rng.gamma(6.0, 3.6 if malignant else 1.8)),
        "lesion_hu": float(rng.normal(35.0, 8.0)),
    }


def _lesion_mask(rng, params, coords, center_mm) -> np.ndarray:
    """Lobulated, rough ball: radius varies with direction and along the margin."""
    offset = [c - m for c, m in zip(coords, center_mm)]
    distance = np.sqrt(sum(o**2 for o in offset))
    direction = [o / np.maximum(distance, 1e-6) for o in offset]
    # Lobes: a few random plane waves over the unit sphere of directions.
    lobes = np.zeros_like(distance)
    n_waves = 6
    for _ in range(n_waves):
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        cosine = sum(a * d for a, d in zip(axis, direction))
        lobes += np.cos(rng.uniform(2.5, 5.0) * cosine + rng.uniform(0, 2 * np.pi))
    lobes /= np.sqrt(n_waves / 2)  # unit variance
    margin = _smooth_noise(rng, distance.shape, sigma_mm=1.2)
    radius = params["radius_mm"] * (1 + params["lobulation"] * lobes)
    radius += params["roughness_mm"] * margin
    return distance <= radius


def _background(rng, coords) -> np.ndarray:
    """Parenchyma with slow variations and vessels, cut by a fat/air body wall on one side."""
    x, y, z = coords
    hu = 60.0 + 8.0 * _smooth_noise(rng, x.shape, sigma_mm=8.0)
    for _ in range(rng.integers(1, 4)):
        point = rng.uniform([0, 0, 0], [g * s for g, s in zip(GRID_SIZE, SPACING_MM)])
        axis = rng.standard_normal(3)
        axis /= np.linalg.norm(axis)
        rel = [c - p for c, p in zip(coords, point)]
        along = sum(r * a for r, a in zip(rel, axis))
        dist2 = sum(r**2 for r in rel) - along**2
        hu = np.where(dist2 <= rng.uniform(1.0, 2.5) ** 2, 150.0, hu)
    # Body wall: a large cylinder along z whose edge crosses the crop on a random side.
    half = [g * s / 2 for g, s in zip(GRID_SIZE, SPACING_MM)]
    wall_angle = rng.uniform(0, 2 * np.pi)
    wall_radius = 120.0
    wall_depth = rng.uniform(22.0, 28.0)  # distance from the crop centre to the skin
    cx = half[0] - (wall_radius - wall_depth) * np.cos(wall_angle)
    cy = half[1] - (wall_radius - wall_depth) * np.sin(wall_angle)
    r = np.hypot(x - cx, y - cy)
    hu = np.where(r > wall_radius - 4.0, -100.0, hu)  # subcutaneous fat
    return np.where(r > wall_radius, -1000.0, hu)


def make_case(
    case_id: str, label: int, center: str, seed: int, image_path: str, mask_path: str
) -> dict:
    """Write one case's image and mask (NIfTI) and return its generation parameters.

    The files are a pure function of the arguments (gzip headers carry no timestamp),
    so rerunning gives byte-identical outputs.
    """
    label = int(label)
    rng = seeded_rng(seed, case_id)
    shape = GRID_SIZE[::-1]
    z, y, x = np.meshgrid(
        *[(np.arange(n) + 0.5) * s for n, s in zip(shape, SPACING_MM[::-1])], indexing="ij"
    )
    coords = (x, y, z)
    params = _lesion_parameters(rng, label)
    center_mm = [g * s / 2 + rng.uniform(-3.0, 3.0) for g, s in zip(GRID_SIZE, SPACING_MM)]
    mask = _lesion_mask(rng, params, coords, center_mm)
    texture = params["heterogeneity_hu"] * _smooth_noise(rng, mask.shape, sigma_mm=1.5)

    hu = np.where(mask, params["lesion_hu"] + texture, _background(rng, coords))
    # Finite scanner resolution blurs the lesion edge into the background (partial volume).
    hu = ndimage.gaussian_filter(hu, [0.6, 0.8, 0.8])
    scanner = scanner_for(center)
    hu = scanner["gain"] * hu + scanner["offset_hu"]
    hu += scanner["noise_hu"] * rng.standard_normal(hu.shape)

    image = sitk.GetImageFromArray(np.clip(np.rint(hu), -1024, 3071).astype(np.int16))
    mask_image = sitk.GetImageFromArray(mask.astype(np.uint8))
    origin = tuple(-g * s / 2 for g, s in zip(GRID_SIZE, SPACING_MM))
    for img in (image, mask_image):
        img.SetSpacing(SPACING_MM)
        img.SetOrigin(origin)
    for path in (image_path, mask_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sitk.WriteImage(image, image_path, useCompression=True)
    sitk.WriteImage(mask_image, mask_path, useCompression=True)
    return {
        "case_id": case_id,
        "label": label,
        "center": center,
        **params,
        "lesion_voxels": int(mask.sum()),
        **{f"scanner_{k}": v for k, v in scanner.items()},
    }


def case_paths(image_dir: str, case_id: str) -> tuple[str, str]:
    """Image and mask paths of a case inside ``image_dir``."""
    return (
        os.path.join(image_dir, f"{case_id}_image.nii.gz"),
        os.path.join(image_dir, f"{case_id}_mask.nii.gz"),
    )


def cohort_sheet(
    n_cases: int = 120,
    centers=("A", "B", "C"),
    seed: int = 42,
    prevalence: float = 0.5,
    image_dir: str = "demo",
) -> pd.DataFrame:
    """Cohort sheet rows (no images written): one row per case, drawn per case.

    Labels are Bernoulli(prevalence) per case, so the realised proportion varies
    around ``prevalence``. ``age`` is weakly associated with the label (+5 years in
    label 1); ``sex`` is independent of everything. Paths are ``image_dir``-prefixed,
    i.e. relative to wherever the sheet is written.
    """
    rows = []
    for i in range(1, n_cases + 1):
        case_id = f"case{i:03d}"
        rng = seeded_rng(seed, case_id, "sheet")
        label = int(rng.random() < prevalence)
        image, mask = case_paths(image_dir, case_id)
        rows.append(
            {
                "case_id": case_id,
                "image": image,
                "mask": mask,
                "label": label,
                "center": str(centers[rng.integers(len(centers))]),
                "age": int(np.clip(np.rint(rng.normal(57.0 + 5.0 * label, 11.0)), 25, 90)),
                "sex": "F" if rng.random() < 0.5 else "M",
            }
        )
    return pd.DataFrame(rows, columns=SHEET_COLUMNS)


def demo_sheet() -> pd.DataFrame:
    """The shipped demo's sheet, config/demo/cohort.csv (written with ``to_csv(index=False)``)."""
    return cohort_sheet(DEMO_N_CASES, DEMO_CENTERS, image_dir=DEMO_IMAGE_DIR)


def make_cohort(
    out_dir: str,
    n_cases: int = 120,
    centers=("A", "B", "C"),
    seed: int = 42,
    prevalence: float = 0.5,
    image_dir_relative: str | None = None,
) -> pd.DataFrame:
    """Write every case of ``cohort_sheet`` under ``out_dir`` and return the sheet.

    ``image_dir_relative`` is how ``out_dir`` is spelled in the sheet's paths (relative
    to where the sheet will be written); it defaults to ``out_dir`` itself.
    """
    sheet_dir = out_dir if image_dir_relative is None else image_dir_relative
    sheet = cohort_sheet(n_cases, centers, seed, prevalence, image_dir=sheet_dir)
    for row in sheet.itertuples():
        image_path, mask_path = case_paths(out_dir, row.case_id)
        make_case(row.case_id, row.label, row.center, seed, image_path, mask_path)
    return sheet
