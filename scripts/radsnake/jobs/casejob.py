"""One job per patient: the case's images and mask are read once, then checked (its QC
row), extracted (PyRadiomics features and diagnostics) and drawn (its review overlay).

Reading a CT case costs about as much as QC and the overlay together, and three jobs
per case tripled Snakemake's planning (docs/design.md, "One job per patient"). The
outputs stay per case, so adding, editing or removing a case reruns that case alone.

PyRadiomics' own limits (minimumROIDimensions, minimumROISize, resampling that leaves
no ROI) are checked by the extraction itself: its refusal is a QC failure, with the
reasons :func:`radsnake.imaging.case_inputs.pyradiomics_checks` gives, so a passing case is loaded
and resampled by PyRadiomics once, not once for QC and once for its features.
"""

from __future__ import annotations

import logging
import math
import textwrap

import pandas as pd

from radsnake.io.cohort_sheet import EXCLUSION_COLUMNS
from radsnake.core.errors import InputError
from radsnake.imaging.case_inputs import (
    load_case,
    provenance,
    pyradiomics_checks,
    qc_row,
    snap_to_image,
    stop_message,
)
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)


class PyRadiomicsRefusal(Exception):
    """PyRadiomics refused an image of the case (its ValueError or RuntimeError)."""

    def __init__(self, name: str, error: Exception):
        super().__init__(f"{name}: {error}")
        self.name, self.error = name, error


def process_case(
    case_id: str,
    spec: dict,
    params_path: str,
    qc_csv: str,
    features_csv: str,
    diagnostics_csv: str,
    overlay_png: str | None = None,
    on_fail: str = "stop",
    tolerance: dict | None = None,
    resample: bool = False,
    window: str = "auto",
    perturbation: str = "",
) -> dict:
    """The per-case job: QC row, features and diagnostics, and (with ``overlay_png``) the
    review overlay, from one reading of the case. Returns the QC row.

    A case failing QC stops with one message (``on_fail="stop"``: nothing is written) or
    is kept out (``"exclude"``): its QC row says why, the feature and diagnostics files
    hold an exclusion record, the overlay shows the ROI or a card with the reasons.
    ``perturbation`` (robustness jobs, radsnake.imaging.robustness) perturbs the checked ROI
    before extraction; a perturbation that leaves no ROI PyRadiomics accepts is recorded
    as an exclusion record.
    """
    import radiomics

    from radsnake.imaging.extract import cached_extractor
    from radsnake.imaging.qc import write_qc_table

    if on_fail not in ("stop", "exclude"):
        raise InputError(f"qc.on_fail must be stop or exclude, not {on_fail!r}. Correct the config.")
    radiomics.setVerbosity(logging.ERROR)
    extractor = cached_extractor(params_path)
    row, loaded = qc_row(case_id, spec, tolerance, resample)
    result = None
    if row["qc_pass"]:
        images, mask = loaded[0], loaded[1]
        try:
            result = extract(case_id, spec, images, mask, extractor, perturbation, row)
        except PyRadiomicsRefusal as refused:
            result = refusal_outcome(case_id, spec, images, mask, extractor, params_path, perturbation, row, refused)
    if not row["qc_pass"]:
        log.warning("case %s: QC failed: %s", case_id, row["qc_reasons"])
        if on_fail == "stop":
            if loaded is None:  # the reader's own message says best what to do
                load_case(case_id, spec, resample)
            raise InputError(stop_message(case_id, spec, row))
        reason = f"input QC failed: {row['qc_reasons']}"
        log.warning("case %s excluded: %s", case_id, reason)
        result = exclusion(case_id, reason)
    write_qc_table([row], qc_csv)
    if isinstance(result, pd.DataFrame):  # an exclusion record, in both files
        write_csv(result, features_csv)
        write_csv(result, diagnostics_csv)
    else:
        features, diagnostics = result
        from radsnake.io.provenance import case_stamp

        # Which params file and radsnake made the row: aggregation refuses to mix params.
        infos, mask_info = loaded[2], loaded[3]
        stamp = case_stamp(params_path)
        write_csv(pd.DataFrame([{"case_id": case_id, **provenance(spec, infos, mask_info), **stamp, **features}]),
                  features_csv)
        write_csv(pd.DataFrame([{"case_id": case_id, **diagnostics}]), diagnostics_csv)
    if overlay_png:
        draw_overlay(case_id, spec, loaded, row["qc_reasons"], overlay_png, window)
    return row


def exclusion(case_id: str, reason: str) -> pd.DataFrame:
    """The record a case without features gets in its feature and diagnostics files."""
    return pd.DataFrame([{"case_id": case_id, "excluded_reason": reason}], columns=EXCLUSION_COLUMNS)


def extract(case_id: str, spec: dict, images: dict, mask, extractor, perturbation: str, row: dict):
    """(features, diagnostics) of every image of a case that passed QC, or an exclusion
    record when a perturbation leaves no ROI. Records each image's cast in the QC row.
    Raises PyRadiomicsRefusal when PyRadiomics refuses an image."""
    from radsnake.imaging.extract import binnable, split_result

    label = int(spec["label"])
    prepared = {}
    for name, image in images.items():
        prepared[name], cast = binnable(image, extractor)
        row[f"{name}_cast_for_extraction"] = cast
        if cast:
            log.info("case %s: image %s cast to %s for PyRadiomics' binning", case_id, name, cast)
    if perturbation:
        from radsnake.imaging.robustness import PerturbationSkipped, perturb_mask

        try:
            mask = perturb_mask(mask, label, perturbation, case_id)
        except PerturbationSkipped as skip:
            return skipped(case_id, str(skip))
    features, diagnostics = {}, {}
    for name, image in prepared.items():
        prefix = f"{name}_" if spec.get("prefix") else ""
        try:
            result = extractor.execute(image, snap_to_image(mask, image), label=label)
        except (ValueError, RuntimeError) as err:
            raise PyRadiomicsRefusal(name, err) from err
        found, diag = split_result(result)
        features.update({prefix + k: v for k, v in found.items()})
        diagnostics.update({(f"diagnostics_{name}_" + k[len("diagnostics_"):]) if prefix else k: v
                            for k, v in diag.items()})
    bad = [k for k, v in features.items() if not math.isfinite(v)]
    if bad:
        log.warning("case %s: %d features are not finite, e.g. %s", case_id, len(bad), bad[:3])
    log.info("case %s: %d features from %d image(s)", case_id, len(features), len(images))
    return features, diagnostics


def refusal_outcome(case_id, spec, images, mask, extractor, params_path, perturbation, row, refused):
    """What PyRadiomics' refusal means. If it refuses the checked ROI, the case fails QC
    with the reasons of :func:`radsnake.imaging.case_inputs.pyradiomics_checks` (the row is updated);
    if it refuses only the perturbed ROI, the perturbation is skipped; otherwise the
    error stops the job, naming the image and the mask."""
    reasons = pyradiomics_checks(case_id, images, mask, int(spec["label"]), extractor, params_path, row)
    if reasons:
        row["qc_pass"] = False
        row["qc_reasons"] = ";".join(r.replace(";", ",") for r in reasons)
        return None
    err = refused.error
    if perturbation and isinstance(err, ValueError):  # e.g. an eroded ROI too thin for minimumROIDimensions
        return skipped(case_id, f"perturbation {perturbation}: PyRadiomics rejected the ROI: {err}")
    if not isinstance(err, ValueError):
        raise err
    path = next(e for e in spec["images"] if e["name"] == refused.name)["path"]
    raise InputError(
        f"case {case_id}: PyRadiomics rejected image {refused.name} ({path}) with mask "
        f"{spec['mask']}: {err}. Check that the mask was drawn on this image."
    ) from err


def skipped(case_id: str, reason: str) -> pd.DataFrame:
    log.warning("case %s skipped: %s", case_id, reason)
    return exclusion(case_id, reason)


def draw_overlay(case_id: str, spec: dict, loaded, reasons: str, overlay_png: str, window: str) -> None:
    """The review PNG: the ROI outline on the image slices, or, when no overlay can be
    drawn (an unreadable file, no ROI voxel), a card with the QC reasons."""
    from radsnake.figures.overlay import overlay_montage

    if loaded is None:
        failure_card(case_id, reasons, overlay_png)
        return
    images, mask = loaded[0], loaded[1]
    try:
        overlay_montage(next(iter(images.values())), mask, spec["label"], overlay_png, case_id, window=window)
    except InputError as err:
        log.info("case %s: no overlay (%s)", case_id, err)
        failure_card(case_id, reasons or err.shareable, overlay_png)


def failure_card(case_id: str, reasons: str, output_png: str) -> None:
    """A PNG that says why a case has no overlay to review: its QC reasons."""
    from radsnake.figures.overlay import text_card

    lines = [f"case {case_id}: input QC failed, no overlay can be drawn", ""]
    for reason in reasons.split(";"):
        lines += textwrap.wrap(reason.strip(), 90) + [""]
    text_card(lines, output_png)
