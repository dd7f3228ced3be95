"""PyRadiomics for one case: the extractor from a params file, lossless casting of images it
cannot bin, its refusals said in words, and its result split into features and diagnostics
(radsnake.jobs.inputs.extract_inputs runs the extraction job)."""

from __future__ import annotations

import logging
import os

import numpy as np
import SimpleITK as sitk

from radsnake.core.errors import InputError

log = logging.getLogger(__name__)


def make_extractor(params_path: str):
    from radiomics import featureextractor

    try:
        return featureextractor.RadiomicsFeatureExtractor(params_path)
    except Exception as err:  # PyRadiomics' schema check raises pykwalify's own errors
        raise InputError(
            f"PyRadiomics params file {params_path} is invalid: {err}. Compare it with the "
            "presets in config/pyradiomics/."
        ) from err


# Extractors by params file (absolute path) and content: see cached_extractor.
_EXTRACTORS: dict[tuple[str, bytes], object] = {}


def cached_extractor(params_path: str):
    """make_extractor, once per params file content in a process and its forked children.

    PyRadiomics validates a params file with pykwalify (its schema parsed anew each
    time): about 0.02 s of CPU a job on the loaded 2-core machine. The warm worker builds the
    study's extractor once (warm_extractor) before it forks the jobs' children. The
    extractor is not changed by execute(); SimpleITK's global geometry tolerance, which
    PyRadiomics sets when it builds one, is set again here as it would have set it."""
    import SimpleITK as sitk

    with open(params_path, "rb") as handle:
        key = (os.path.abspath(params_path), handle.read())
    extractor = _EXTRACTORS.get(key)
    if extractor is None:
        extractor = _EXTRACTORS[key] = make_extractor(params_path)
    elif extractor.settings.get("geometryTolerance") is not None:
        sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(extractor.settings["geometryTolerance"])
        sitk.ProcessObject.SetGlobalDefaultDirectionTolerance(extractor.settings["geometryTolerance"])
    return extractor


def warm_extractor(params_path: str) -> None:
    """Build the extractor of ``params_path`` ahead of the jobs (the warm worker), leaving
    SimpleITK's global tolerances as they were: a job with another params file must
    not inherit them."""
    import SimpleITK as sitk

    process = sitk.ProcessObject
    tolerances = process.GetGlobalDefaultCoordinateTolerance(), process.GetGlobalDefaultDirectionTolerance()
    try:
        cached_extractor(params_path)
    finally:
        process.SetGlobalDefaultCoordinateTolerance(tolerances[0])
        process.SetGlobalDefaultDirectionTolerance(tolerances[1])


# PyRadiomics' own messages for the ROI limits, and what radsnake says to do about each.
_LIMIT_FIXES = (
    ("1 segmented voxel", "PyRadiomics extracts nothing from a single voxel: redraw the ROI or leave the case out"),
    ("too few dimensions", "raise the ROI's extent, or lower minimumROIDimensions in the params file"),
    ("too small", "redraw the ROI, or lower minimumROISize in the params file"),
    ("not present", "after PyRadiomics' resampling no voxel keeps the label: check resampledPixelSpacing in the "
                    "params file, or the ROI"),
    ("geometry mismatch", "re-export the mask on the image's grid, or raise geometryTolerance in the params file"),
)


def binnable(image: sitk.Image, extractor) -> tuple[sitk.Image, str]:
    """The image in a pixel type PyRadiomics can bin, and the type it was cast to ("" if none).

    PyRadiomics computes the bin edges (minimum - bin width, maximum + 2 bin widths) in
    the image's own integer type, so an int8/uint8 image (or a 16-bit one near its
    type's limits) overflows: wrong bins or an IndexError in GLCM. Such an image is
    cast, losslessly, to the narrowest of int16 and int32 that holds that range.
    """
    pixels = sitk.GetArrayViewFromImage(image)
    if pixels.dtype.kind not in "iu" or not pixels.size:
        return image, ""
    settings = [extractor.settings] + list(extractor.enabledImagetypes.values())
    width = max(float(s.get("binWidth") or 0) for s in settings) or 25.0
    low, high = float(pixels.min()) - width, float(pixels.max()) + 2 * width
    if np.iinfo(pixels.dtype).min <= low and high <= np.iinfo(pixels.dtype).max:
        return image, ""
    for pixel_id, dtype in ((sitk.sitkInt16, np.int16), (sitk.sitkInt32, np.int32)):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            cast = sitk.Cast(image, pixel_id)
            return cast, cast.GetPixelIDTypeAsString()
    cast = sitk.Cast(image, sitk.sitkFloat64)
    return cast, cast.GetPixelIDTypeAsString()


def pyradiomics_refusal(image: sitk.Image, mask: sitk.Image, label: int, extractor, params_path: str) -> str:
    """Why PyRadiomics would refuse this image and mask with these params ("" if it would
    not): its own preprocessing and mask checks (resampling, geometry, label present,
    minimumROIDimensions, minimumROISize, resegmentation) run as extraction runs them."""
    from radiomics import imageoperations

    settings = {**extractor.settings, "label": int(label)}
    try:
        image, mask = extractor.loadImage(image, mask, None, **settings)
        _, corrected = imageoperations.checkMask(image, mask, **settings)
        if settings.get("resegmentRange") is not None:
            mask = corrected if corrected is not None else mask
            imageoperations.checkMask(image, imageoperations.resegmentMask(image, mask, **settings), **settings)
    except (ValueError, RuntimeError) as err:
        text = " ".join(str(err).split()).rstrip(".")
        fix = next((f for key, f in _LIMIT_FIXES if key in text), "check the ROI and the params file")
        limits = ", ".join(f"{k} {settings.get(k)}" for k in ("minimumROIDimensions", "minimumROISize"))
        return f"PyRadiomics would refuse the ROI with params file {params_path} ({limits}): {text}; {fix}"
    return ""


def split_result(result: dict) -> tuple[dict, dict]:
    """PyRadiomics mixes diagnostics with features; keep them apart."""
    features, diagnostics = {}, {}
    for key, value in result.items():
        if key.startswith("diagnostics_"):
            diagnostics[key] = value if np.ndim(value) == 0 else str(tuple(np.asarray(value).tolist()))
        else:
            features[key] = float(value)
    return features, diagnostics
