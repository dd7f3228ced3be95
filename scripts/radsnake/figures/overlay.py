"""Overlay montages for human review: the ROI's outline over the axial slices through
the ROI, so that a clinician can check a segmentation without opening a viewer; and
the deterministic PNG writer the QC cards share. docs/qc.md describes them for users.
"""

from __future__ import annotations

import math
import os

from functools import cache

import matplotlib
import numpy as np
import SimpleITK as sitk
from PIL import Image, ImageDraw, ImageFont

from radsnake.core.errors import InputError
from radsnake.io.imagefiles import same_grid
from radsnake.core.tables import partial_path

#: Named display windows as (width, level).
WINDOWS = {"ct": (400.0, 40.0), "ct-lung": (1500.0, -600.0)}
_WINDOW_CHOICES = ("auto", "ct", "ct-lung", "mr")
_CONTOUR = (0xF0, 0xE4, 0x42)  # Okabe–Ito yellow #F0E442: the most visible colour on grey levels
_DPI = 200
# zlib level 1: a montage's PNG is written in 0.6x the time of level 6, at 1.2x its size.
_PNG_COMPRESSION = 1
_PANEL_IN = 1.75
_COLUMNS = 4


def choose_window(image: sitk.Image) -> str:
    """"ct" when the image looks like Hounsfield units (integer voxels, minimum <= -500
    HU, i.e. air or lung in view), otherwise "mr" (percentile window)."""
    pixels = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(pixels.dtype, np.integer) and pixels.size and int(pixels.min()) <= -500:
        return "ct"
    return "mr"


def _around_roi(image: sitk.Image, in_roi: np.ndarray) -> tuple[sitk.Image, sitk.Image]:
    """The image and the ROI (uint8) cut to the ROI's bounding box plus, on every axis,
    max(10 mm, 30 % of the ROI's largest extent): at least the margin the montage's crop
    takes in-plane, so the montage is the same as from the whole volume. Physical
    coordinates are kept (the cut's origin moves with it)."""
    spacing = image.GetSpacing()  # x, y, z; the array's axes are z, y, x
    bounds = [np.flatnonzero(in_roi.any(axis=tuple(a for a in range(3) if a != axis))) for axis in (2, 1, 0)]
    extent_mm = max((b[-1] - b[0] + 1) * d for b, d in zip(bounds, spacing))
    margin_mm = max(10.0, 0.3 * extent_mm)
    lo = [max(0, int(b[0]) - math.ceil(margin_mm / d)) for b, d in zip(bounds, spacing)]
    hi = [min(n, int(b[-1]) + 1 + math.ceil(margin_mm / d)) for b, n, d in zip(bounds, image.GetSize(), spacing)]
    cut = image[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    roi = sitk.GetImageFromArray(in_roi[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]].astype(np.uint8))
    roi.CopyInformation(cut)
    return cut, roi


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
    in_roi = sitk.GetArrayViewFromImage(mask) == label
    if not in_roi.any():
        raise InputError(
            f"case {case_id}: the mask has no voxel with label {label}"
            + (" on the image's grid" if resampled else "")
            + ": nothing to overlay. Check the case's QC row."
        )
    if window == "auto":
        window = choose_window(image)
    full_image = image

    # Only the ROI's box plus the widest margin used below is reoriented and drawn from:
    # reorienting a whole CT volume cost more than drawing the montage.
    image, roi_image = _around_roi(image, in_roi)
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
    direction = np.asarray(full_image.GetDirection()).reshape(3, 3)
    slice_axis = int(np.argmax(np.abs(direction[2])))
    centre = ((c0 + c1) / 2.0, (r0 + r1) / 2.0)
    points = [shown_image.TransformContinuousIndexToPhysicalPoint((centre[0], centre[1], float(k))) for k in chosen]
    z_mm = [float(p[2]) for p in points]
    original = [int(round(full_image.TransformPhysicalPointToContinuousIndex(p)[slice_axis])) for p in points]

    n = len(chosen)
    ncols = min(_COLUMNS, n)
    nrows = math.ceil(n / ncols)
    width_mm, height_mm = (c1 - c0 + 1) * sx, (r1 - r0 + 1) * sy
    panel_w = _px(_PANEL_IN)
    panel_h = _px(_PANEL_IN * min(2.5, max(0.4, height_mm / width_mm)))
    gap, bottom = _px(0.04), _px(0.04)
    top = _px(0.68 if resampled else 0.52)
    grid_w = ncols * panel_w + (ncols + 1) * gap
    fig_w = max(grid_w, _px(6.0))  # room for the title lines above one or two panels
    x_shift = (fig_w - grid_w) // 2
    fig_h = top + nrows * panel_h + (nrows - 1) * gap + bottom

    # Each panel: the crop scaled to fit its box at true aspect ratio, centred in it.
    scale = min(panel_w / width_mm, panel_h / height_mm)  # pixels per mm
    shown_w, shown_h = max(1, round(width_mm * scale)), max(1, round(height_mm * scale))
    rows_of = ((np.arange(shown_h) + 0.5) * crop.shape[1] / shown_h).astype(int)
    cols_of = ((np.arange(shown_w) + 0.5) * crop.shape[2] / shown_w).astype(int)
    grey = np.clip((crop - low) / (high - low), 0.0, 1.0)
    grey = np.minimum(np.nan_to_num(grey) * 256, 255).astype(np.uint8)
    canvas = np.zeros((fig_h, fig_w, 3), np.uint8)
    panels = []
    for i, k in enumerate(chosen):
        r, c = divmod(i, ncols)
        x0 = x_shift + gap + c * (panel_w + gap) + (panel_w - shown_w) // 2
        y0 = top + r * (panel_h + gap) + (panel_h - shown_h) // 2
        box = canvas[y0 : y0 + shown_h, x0 : x0 + shown_w]
        box[:] = grey[i][np.ix_(rows_of, cols_of)][..., None]
        outline = _outline(roi[k, r0 : r1 + 1, c0 : c1 + 1][np.ix_(rows_of, cols_of)] != 0)
        box[outline] = _CONTOUR
        panels.append((x0, y0))
    if n:
        _first_panel_marks(canvas, panels[0], shown_w, shown_h, scale)
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    for i, (x0, y0) in enumerate(panels):
        _label(draw, picture, (x0 + round(0.03 * shown_w), y0 + shown_h - round(0.03 * shown_h)),
               f"z {z_mm[i]:.1f} mm · slice {original[i]}", _font(6), "ld")
    if n:
        _first_panel_letters(draw, picture, panels[0], shown_w, shown_h, scale)
    centre_x = fig_w // 2
    draw.text((centre_x, _px(0.06)),
              f"{case_id} · ROI label {label} · {volume_ml:.3g} ml · {n} of {len(roi_slices)} slices with ROI shown",
              fill="white", font=_font(8.5, bold=True), anchor="mt")
    draw.text((centre_x, _px(0.29)), f"axial, radiological view (R = patient right) · {window_text}",
              fill="#DDDDDD", font=_font(6.5), anchor="mt")
    if resampled:
        draw.text((centre_x, _px(0.45)),
                  "the mask is on another grid than the image: resampled onto it (see the QC row)",
                  fill="#E69F00", font=_font(6.5), anchor="mt")
    save_png(picture, output_png)
    return {
        "window": window,
        "low": float(low),
        "high": float(high),
        "slices": original,
        "z_mm": z_mm,
        "mask_resampled": resampled,
    }


def _px(inches: float) -> int:
    return round(inches * _DPI)


@cache
def _font(points: float, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib) at ``points`` on the 200-dpi canvas; basic
    layout, so the bytes do not depend on whether libraqm is installed."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)
    return ImageFont.truetype(path, round(points * _DPI / 72), layout_engine=ImageFont.Layout.BASIC)


def _outline(roi: np.ndarray) -> np.ndarray:
    """Pixels on either side of every edge between ROI and background (the voxel edges,
    about 2 px wide once the voxels are scaled up); the panel's border counts as background."""
    padded = np.pad(roi, 1)
    across_x = padded[:, 1:] != padded[:, :-1]
    across_y = padded[1:, :] != padded[:-1, :]
    marked = np.zeros(padded.shape, bool)
    marked[:, 1:] |= across_x
    marked[:, :-1] |= across_x
    marked[1:, :] |= across_y
    marked[:-1, :] |= across_y
    return marked[1:-1, 1:-1]


def _label(draw, picture, xy, text, font, anchor) -> None:
    """White text on a black backing at 60 % opacity (the picture darkened to 40 % there)."""
    box = _padded(draw.textbbox(xy, text, font=font, anchor=anchor), 3, picture.size)
    picture.paste(Image.fromarray((np.asarray(picture.crop(box)) * 0.4).astype(np.uint8)), box[:2])
    draw.text(xy, text, fill="white", font=font, anchor=anchor)


def _padded(box, pad, size):
    x0, y0, x1, y1 = box
    return (max(0, x0 - pad), max(0, y0 - pad), min(size[0], x1 + pad), min(size[1], y1 + pad))


def _first_panel_marks(canvas: np.ndarray, origin, shown_w: int, shown_h: int, scale: float) -> None:
    """The 10-mm scale bar (top right) of the first panel, when the panel spans over 14 mm."""
    if shown_w / scale <= 14.0:
        return
    x0, y0 = origin
    x1 = x0 + round(0.95 * shown_w)
    y = y0 + round(0.06 * shown_h)
    canvas[y - 1 : y + 2, x1 - round(10.0 * scale) : x1] = 255


def _first_panel_letters(draw, picture, origin, shown_w: int, shown_h: int, scale: float) -> None:
    """"10 mm" under the scale bar, and R (patient right) and A (anterior) on the first panel."""
    x0, y0 = origin
    if shown_w / scale > 14.0:
        x1 = x0 + round(0.95 * shown_w)
        draw.text((x1 - round(5.0 * scale), y0 + round(0.08 * shown_h)), "10 mm", fill="white",
                  font=_font(5.5), anchor="mt")
    bold = _font(6, bold=True)
    _label(draw, picture, (x0 + round(0.02 * shown_w), y0 + shown_h // 2), "R", bold, "lm")
    _label(draw, picture, (x0 + shown_w // 2, y0 + round(0.03 * shown_h)), "A", bold, "mt")


def text_card(lines: list[str], path: str, width_in: float = 7.2) -> None:
    """A PNG of white text lines on black (the QC failure card)."""
    font = _font(7)
    step = round(7 * 1.2 * _DPI / 72)
    picture = Image.new("RGB", (_px(width_in), _px(0.3) + step * len(lines)), "black")
    draw = ImageDraw.Draw(picture)
    for i, line in enumerate(lines):
        if line:
            draw.text((_px(0.02 * width_in), _px(0.1) + i * step), line, fill="white", font=font, anchor="la")
    save_png(picture, path)


def save_png(picture: Image.Image, path: str) -> None:
    """Deterministic PNG (no metadata chunk), written atomically."""
    tmp = partial_path(path)
    try:
        picture.save(tmp, format="PNG", compress_level=_PNG_COMPRESSION)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
