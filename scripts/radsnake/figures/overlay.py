"""Overlay montages for human review: the ROI's outline over the axial slices through
the ROI, so that a clinician can check a segmentation without opening a viewer; and
the deterministic PNG writer the QC cards share. docs/qc.md describes them for users.
"""

from __future__ import annotations

import math
import os

import matplotlib
import numpy as np
import SimpleITK as sitk
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from radsnake.core.errors import InputError
from radsnake.io.imagefiles import same_grid
from radsnake.figures.style import STYLE
from radsnake.core.tables import partial_path

#: Named display windows as (width, level).
WINDOWS = {"ct": (400.0, 40.0), "ct-lung": (1500.0, -600.0)}
_WINDOW_CHOICES = ("auto", "ct", "ct-lung", "mr")
_CONTOUR = "#F0E442"  # Okabe–Ito yellow: the most visible colour on grey levels
_DPI = 200
_PANEL_IN = 1.75
_COLUMNS = 4


def choose_window(image: sitk.Image) -> str:
    """"ct" when the image looks like Hounsfield units (integer voxels, minimum <= -500
    HU, i.e. air or lung in view), otherwise "mr" (percentile window)."""
    pixels = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(pixels.dtype, np.integer) and pixels.size and int(pixels.min()) <= -500:
        return "ct"
    return "mr"


def _roi_edges(roi: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Voxel-edge outline of a 2D ROI as segments in mm (column -> x, row -> y): the
    exact voxels drawn, not a smoothed contour."""
    padded = np.pad(roi, 1)
    segments = []
    rows, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])  # vertical edges
    for r, c in zip(rows - 1, cols):  # edge between padded columns c and c+1
        x = (c - 0.5) * sx
        segments.append(((x, (r - 0.5) * sy), (x, (r + 0.5) * sy)))
    rows, cols = np.nonzero(padded[1:, :] != padded[:-1, :])  # horizontal edges
    for r, c in zip(rows, cols - 1):
        y = (r - 0.5) * sy
        segments.append((((c - 0.5) * sx, y), ((c + 0.5) * sx, y)))
    return np.asarray(segments, dtype=float).reshape(-1, 2, 2)


def _even_choice(values: list[int], count: int) -> list[int]:
    if len(values) <= count:
        return list(values)
    picks = np.unique(np.rint(np.linspace(0, len(values) - 1, count)).astype(int))
    return [values[i] for i in picks]


def overlay_montage(
    image: sitk.Image,
    mask: sitk.Image,
    label: int,
    output_png: str,
    case_id: str,
    window: str = "auto",
    max_slices: int = 12,
) -> dict:
    """PNG montage of the axial slices through the ROI with the ROI outline drawn on the image.

    All slices containing ROI voxels are shown, or ``max_slices`` of them evenly spread
    from the first to the last. Every panel is cropped to the ROI's in-plane bounding box
    plus a margin (10 mm or 30 % of the ROI's extent, whichever is larger), drawn in mm
    (true aspect ratio), in radiological view (patient right on the image's left,
    anterior up; the volume is reoriented to LPS first), and labelled with the physical
    z (mm) and the slice index in the original volume. The outline follows the voxel
    edges of the ROI. The title holds the case id only (no other identifier), the ROI
    label and the window; the first panel has a 10-mm scale bar.

    ``window``: "ct" (W400/L40 HU), "ct-lung" (W1500/L-600 HU), "mr" (1st–99th
    percentile of the cropped voxels shown) or "auto" (:func:`choose_window`). A mask on
    another grid is resampled onto the image's (nearest neighbour), and the title says
    so. The PNG bytes depend only on the inputs (no timestamp or software stamp).

    Raises InputError when the image or mask is not a 3D scalar volume or the mask has no
    voxel with ``label`` (nothing to review). Returns what was drawn: ``window``, ``low``
    and ``high`` (grey-level limits), ``slices`` (original slice indices), ``z_mm`` and
    ``mask_resampled``.
    """
    if window not in _WINDOW_CHOICES:
        raise InputError(f"case {case_id}: unknown overlay window {window!r}; use one of {list(_WINDOW_CHOICES)}.")
    for role, img in (("image", image), ("mask", mask)):
        if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
            raise InputError(
                f"case {case_id}: the overlay needs a 3D greyscale {role}, got a "
                f"{img.GetDimension()}D {img.GetPixelIDTypeAsString()} one. Check the case's QC row."
            )
    resampled = not same_grid(image, mask)
    if resampled:
        mask = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
    roi_image = sitk.Cast(sitk.BinaryThreshold(mask, label, label, 1, 0), sitk.sitkUInt8)
    if not np.any(sitk.GetArrayViewFromImage(roi_image)):
        raise InputError(
            f"case {case_id}: the mask has no voxel with label {label}"
            + (" on the image's grid" if resampled else "")
            + ": nothing to overlay. Check the case's QC row."
        )
    if window == "auto":
        window = choose_window(image)

    # Radiological display: in LPS, columns run to the patient's left and rows to posterior.
    shown_image = sitk.DICOMOrient(image, "LPS")
    shown_roi = sitk.DICOMOrient(roi_image, "LPS")
    pixels = sitk.GetArrayViewFromImage(shown_image)
    roi = sitk.GetArrayViewFromImage(shown_roi)
    sx, sy, sz = shown_image.GetSpacing()
    volume_ml = float(np.count_nonzero(roi)) * sx * sy * sz / 1000.0

    roi_slices = np.flatnonzero(roi.any(axis=(1, 2))).tolist()
    chosen = _even_choice(roi_slices, max(1, int(max_slices)))
    rows_any = np.flatnonzero(roi.any(axis=(0, 2)))
    cols_any = np.flatnonzero(roi.any(axis=(0, 1)))
    extent_mm = max((rows_any[-1] - rows_any[0] + 1) * sy, (cols_any[-1] - cols_any[0] + 1) * sx)
    margin_mm = max(10.0, 0.3 * extent_mm)
    r0 = max(0, rows_any[0] - int(math.ceil(margin_mm / sy)))
    r1 = min(roi.shape[1] - 1, rows_any[-1] + int(math.ceil(margin_mm / sy)))
    c0 = max(0, cols_any[0] - int(math.ceil(margin_mm / sx)))
    c1 = min(roi.shape[2] - 1, cols_any[-1] + int(math.ceil(margin_mm / sx)))
    crop = pixels[chosen, r0 : r1 + 1, c0 : c1 + 1].astype(np.float64)

    if window == "mr":
        finite = crop[np.isfinite(crop)]
        low, high = (np.percentile(finite, [1, 99]).tolist() if finite.size else [0.0, 1.0])
        if not high > low:
            high = low + 1.0
        window_text = f"MR window: 1st–99th percentile [{low:.4g}, {high:.4g}]"
    else:
        width, level = WINDOWS[window]
        low, high = level - width / 2, level + width / 2
        window_text = f"{window.upper()} window W{width:g}/L{level:g} HU"

    # Original slice index of each shown slice (reorientation may have flipped the order).
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    slice_axis = int(np.argmax(np.abs(direction[2])))
    centre = ((c0 + c1) / 2.0, (r0 + r1) / 2.0)
    points = [shown_image.TransformContinuousIndexToPhysicalPoint((centre[0], centre[1], float(k))) for k in chosen]
    z_mm = [float(p[2]) for p in points]
    original = [int(round(image.TransformPhysicalPointToContinuousIndex(p)[slice_axis])) for p in points]

    n = len(chosen)
    ncols = min(_COLUMNS, n)
    nrows = math.ceil(n / ncols)
    width_mm, height_mm = (c1 - c0 + 1) * sx, (r1 - r0 + 1) * sy
    panel_w = _PANEL_IN
    panel_h = panel_w * min(2.5, max(0.4, height_mm / width_mm))
    gap, bottom = 0.04, 0.04
    top = 0.68 if resampled else 0.52
    grid_w = ncols * panel_w + (ncols + 1) * gap
    fig_w = max(grid_w, 6.0)  # room for the title lines above one or two panels
    x_shift = (fig_w - grid_w) / 2
    fig_h = top + nrows * panel_h + (nrows - 1) * gap + bottom

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(fig_w, fig_h), facecolor="black")
        extent = (-0.5 * sx, (c1 - c0 + 0.5) * sx, (r1 - r0 + 0.5) * sy, -0.5 * sy)
        for i, k in enumerate(chosen):
            r, c = divmod(i, ncols)
            left = x_shift + gap + c * (panel_w + gap)
            bottom_in = fig_h - top - (r + 1) * panel_h - r * gap
            ax = fig.add_axes((left / fig_w, bottom_in / fig_h, panel_w / fig_w, panel_h / fig_h))
            ax.set_facecolor("black")
            ax.imshow(crop[i], cmap="gray", vmin=low, vmax=high, extent=extent, interpolation="nearest")
            edges = _roi_edges(roi[k, r0 : r1 + 1, c0 : c1 + 1] != 0, sx, sy)
            ax.add_collection(LineCollection(edges, colors=_CONTOUR, linewidths=0.7, capstyle="projecting"))
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            ax.set_aspect("equal")
            ax.set_axis_off()
            ax.text(
                0.03, 0.03, f"z {z_mm[i]:.1f} mm · slice {original[i]}", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=6, color="white",
                bbox=dict(boxstyle="square,pad=0.15", facecolor="black", edgecolor="none", alpha=0.6),
            )
            if i == 0:
                _orientation_marks(ax, extent)
        fig.text(
            0.5, 1 - 0.06 / fig_h,
            f"{case_id} · ROI label {label} · {volume_ml:.3g} ml · {n} of {len(roi_slices)} slices with ROI shown",
            ha="center", va="top", fontsize=8.5, color="white", fontweight="bold",
        )
        fig.text(
            0.5, 1 - 0.29 / fig_h, f"axial, radiological view (R = patient right) · {window_text}",
            ha="center", va="top", fontsize=6.5, color="#DDDDDD",
        )
        if resampled:
            fig.text(
                0.5, 1 - 0.45 / fig_h,
                "the mask is on another grid than the image: resampled onto it (see the QC row)",
                ha="center", va="top", fontsize=6.5, color="#E69F00",
            )
        save_png(fig, output_png)
    return {
        "window": window,
        "low": float(low),
        "high": float(high),
        "slices": original,
        "z_mm": z_mm,
        "mask_resampled": resampled,
    }


def _orientation_marks(ax, extent) -> None:
    """10-mm scale bar (top right) and R / A letters on the first panel."""
    x_min, x_max, y_max, y_min = extent
    span = x_max - x_min
    style = dict(color="white", fontsize=6, fontweight="bold",
                 bbox=dict(boxstyle="square,pad=0.1", facecolor="black", edgecolor="none", alpha=0.6))
    if span > 14.0:
        x1 = x_max - 0.05 * span
        y = y_min + 0.06 * (y_max - y_min)
        ax.plot([x1 - 10.0, x1], [y, y], color="white", lw=1.2, solid_capstyle="butt")
        ax.text(x1 - 5.0, y + 0.02 * (y_max - y_min), "10 mm", ha="center", va="top", fontsize=5.5, color="white")
    ax.text(0.02, 0.5, "R", transform=ax.transAxes, ha="left", va="center", **style)
    ax.text(0.5, 0.97, "A", transform=ax.transAxes, ha="center", va="top", **style)


def save_png(fig: Figure, path: str) -> None:
    """Deterministic PNG (no Software chunk), written atomically."""
    tmp = partial_path(path)
    try:
        fig.savefig(tmp, format="png", dpi=_DPI, facecolor="black", metadata={"Software": None})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    # No fig.clear(): it rebuilds every axis' ticks (a quarter of a montage's time), and a
    # Figure made without pyplot is freed with its last reference.
