"""One case's inputs as the workflow uses them: read, checked (QC), drafted, extracted.

A case is described by a *spec* (built from its sheet row by
:func:`radsnake.io.cohort_sheet.case_spec`): its images, one per modality, each a file or a
DICOM folder with an optional series selector; its mask (label image, RTSTRUCT or
DICOM-SEG) drawn on the first image; the ROI label, ROI name or segment. The per-case
QC job (:func:`run_qc`) and the extraction job (:func:`extract_inputs`) read the case
the same way (:func:`load_case`), so what QC passed is what is extracted. docs/inputs.md
describes the policy for users.
"""

from __future__ import annotations

import logging
import math
import textwrap

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radsnake.io.cohort_sheet import EXCLUSION_COLUMNS, PROVENANCE_PREFIX
from radsnake.core.errors import InputError
from radsnake.io.imagefiles import same_grid
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)


def load_case(case_id: str, spec: dict, resample: bool = False):
    """Images (modality name -> image, reference first), mask on the reference grid, and
    provenance info per image column and for the mask. Raises InputError on any file
    that cannot be read as specified (missing, damaged, ambiguous series, absent ROI)."""
    from radsnake.io.imageio import read_image, read_mask

    log.info("case %s: reading %s and mask %s", case_id, ", ".join(e["path"] for e in spec["images"]), spec["mask"])
    images, infos, reference = {}, {}, None
    for entry in spec["images"]:
        image, info = read_image(
            case_id, entry["path"], entry["column"], entry.get("series_uid"), entry.get("series_description")
        )
        if reference is None:
            reference = image
        elif resample and image.GetDimension() == 3 == reference.GetDimension() and not same_grid(image, reference):
            # Other modalities onto the grid the mask was drawn on; linear keeps values in range.
            log.info("case %s: %s resampled onto the grid of %s", case_id, entry["column"], spec["images"][0]["column"])
            image = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        images[entry["name"]] = image
        infos[entry["column"]] = info
    mask, mask_info = read_mask(
        case_id, spec["mask"], reference, spec["label"], spec.get("roi"), spec.get("segment"), spec.get("mask_threshold")
    )
    return images, mask, infos, mask_info


def _without_case(message: str, case_id: str) -> str:
    prefix = f"case {case_id}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def qc_row(
    case_id: str, spec: dict, tolerance: dict | None = None, resample: bool = False, params_path: str | None = None
):
    """(QC row, loaded case or None). A file that cannot be read is a failing row whose
    reason is the reader's message (it names the file and the fix). With ``params_path``
    the case also passes PyRadiomics' own checks with those params (:func:`pyradiomics_checks`)."""
    from radsnake.imaging.qc import qc_case

    files = {entry["name"]: entry["path"] for entry in spec["images"]}
    try:
        loaded = load_case(case_id, spec, resample)
    except InputError as err:
        log.warning("%s", err)  # the full message (UIDs, descriptions): logs/ only
        # The row goes under results/: the message without DICOM free text or UIDs.
        reason = " ".join(_without_case(err.shareable, case_id).split())
        row = {
            "case_id": case_id,
            "modalities": ";".join(files),
            "mask_file": spec["mask"],
            "mask_label": int(spec["label"]),
            "qc_pass": False,
            "qc_reasons": reason.replace(";", ","),
            **{f"{name}_file": path for name, path in files.items()},
        }
        return row, None
    images, mask, mask_info = loaded[0], loaded[1], loaded[3]
    row = qc_case(case_id, images, mask, spec["label"], files, spec["mask"], tolerance)
    row["mask_threshold"] = mask_info.get("threshold")
    if params_path and row["qc_pass"]:
        reasons = pyradiomics_checks(case_id, images, mask, int(spec["label"]), params_path, row)
        if reasons:
            row["qc_pass"] = False
            row["qc_reasons"] = ";".join(r.replace(";", ",") for r in reasons)
    return row, loaded


def pyradiomics_checks(case_id: str, images: dict, mask: sitk.Image, label: int, params_path: str, row: dict) -> list:
    """PyRadiomics' own limits, before extraction: per image, the pixel type it is cast to
    for binning (recorded in ``<m>_cast_for_extraction``) and why PyRadiomics would refuse
    the ROI (reasons returned), run as :func:`extract_inputs` runs them."""
    from radsnake.imaging.extract import binnable, make_extractor, pyradiomics_refusal

    extractor = make_extractor(params_path)
    reasons = []
    for name, image in images.items():
        image, cast = binnable(image, extractor)
        row[f"{name}_cast_for_extraction"] = cast
        if cast:
            log.info("case %s: image %s cast to %s for PyRadiomics' binning", case_id, name, cast)
        refusal = pyradiomics_refusal(image, _snap(mask, image), label, extractor, params_path)
        if refusal:
            reasons.append(f"image {name}: {refusal}")
    return reasons


def stop_message(case_id: str, spec: dict, row: dict) -> str:
    files = ", ".join(entry["path"] for entry in spec["images"])
    return (
        f"case {case_id}: input QC failed for image {files} with mask {spec['mask']}: "
        f"{row['qc_reasons'].replace(';', '; ')}. Fix the file(s) or the case's row in the cohort "
        "sheet (mask_label, roi, segment, series selector), or set qc.on_fail: exclude in the "
        "config to leave failing cases out (they are then listed in results/qc/excluded.csv)."
    )


def run_qc(
    case_id: str,
    spec: dict,
    qc_csv: str,
    on_fail: str = "stop",
    tolerance: dict | None = None,
    resample: bool = False,
    params_path: str | None = None,
) -> dict:
    """The per-case QC job: one QC row (results/qc/cases/{case}.csv).

    With ``on_fail="stop"`` a failing case raises InputError (nothing is written; the
    other cases go on under --keep-going). With ``"exclude"`` the failing row is written.
    """
    from radsnake.imaging.qc import write_qc_table

    if on_fail not in ("stop", "exclude"):
        raise InputError(f"qc.on_fail must be stop or exclude, not {on_fail!r}. Correct the config.")
    row, loaded = qc_row(case_id, spec, tolerance, resample, params_path)
    if not row["qc_pass"]:
        log.warning("case %s: QC failed: %s", case_id, row["qc_reasons"])
        if on_fail == "stop":
            if loaded is None:  # the reader's own message says best what to do
                load_case(case_id, spec, resample)
            raise InputError(stop_message(case_id, spec, row))
    write_qc_table([row], qc_csv)
    return row


def draw_overlay(
    case_id: str, spec: dict, qc_csv: str, overlay_png: str, resample: bool = False, window: str = "auto"
) -> None:
    """The review PNG of a case that has a QC row: the ROI outline on the image slices,
    or, when no overlay can be drawn (e.g. unreadable mask), a card with the QC reasons.
    Its own job, so that the features do not wait for the figures."""
    from radsnake.figures.overlay import overlay_montage

    reasons = read_qc_row(qc_csv)["qc_reasons"]
    try:
        images, mask = load_case(case_id, spec, resample)[:2]
        overlay_montage(next(iter(images.values())), mask, spec["label"], overlay_png, case_id, window=window)
    except InputError as err:
        log.info("case %s: no overlay (%s)", case_id, err)
        failure_card(case_id, reasons or err.shareable, overlay_png)


def failure_card(case_id: str, reasons: str, output_png: str) -> None:
    """A PNG that says why a case has no overlay to review: its QC reasons."""
    from matplotlib.figure import Figure

    from radsnake.figures.overlay import save_png

    lines = [f"case {case_id}: input QC failed, no overlay can be drawn", ""]
    for reason in reasons.split(";"):
        lines += textwrap.wrap(reason.strip(), 90) + [""]
    fig = Figure(figsize=(7.2, 0.3 + 0.17 * len(lines)))
    fig.text(0.02, 0.98, "\n".join(lines), va="top", ha="left", color="white", fontsize=7, family="DejaVu Sans")
    save_png(fig, output_png)


def read_qc_row(qc_csv: str) -> dict:
    table = pd.read_csv(qc_csv, dtype=str, keep_default_na=False)
    return table.iloc[0].to_dict()


def _snap(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    """The mask on exactly the image's grid.

    QC passed, so sizes are equal and spacing/origin/direction differ by no more than
    the QC tolerance (rounding in another program's export); copying the image's
    geometry is then what nearest-neighbour resampling would give, and PyRadiomics'
    much stricter geometryTolerance no longer rejects the pair.
    """
    if same_grid(mask, image):
        return mask
    snapped = sitk.Image(mask)
    snapped.CopyInformation(image)
    return snapped


def provenance(spec: dict, infos: dict, mask_info: dict) -> dict:
    """source_<column>_file/_series/_sha256 per image column, source_mask_file/_sha256/_roi.
    A DICOM series is named by its SeriesNumber, not its UID (no identity under results/)."""
    out = {}
    for entry in spec["images"]:
        info = infos[entry["column"]]
        key = f"{PROVENANCE_PREFIX}{entry['column']}"
        out.update({f"{key}_file": info["file"], f"{key}_series": info["series"], f"{key}_sha256": info["sha256"]})
    out.update(
        {
            f"{PROVENANCE_PREFIX}mask_file": mask_info["file"],
            f"{PROVENANCE_PREFIX}mask_sha256": mask_info["sha256"],
            f"{PROVENANCE_PREFIX}mask_roi": mask_info["roi"],
        }
    )
    return out


def extract_inputs(
    case_id: str,
    spec: dict,
    qc_csv: str,
    params_path: str,
    features_csv: str,
    diagnostics_csv: str,
    resample: bool = False,
    perturbation: str = "",
) -> None:
    """The per-case extraction job: features of every modality with the case's provenance.

    A case that failed QC (only possible with qc.on_fail: exclude) gets an exclusion
    record (case_id, excluded_reason) in both outputs instead of features. Feature
    columns are prefixed ``<modality>_`` when the spec says so (config ``modalities``).
    ``perturbation`` (robustness jobs, radsnake.imaging.robustness) perturbs the ROI first; when
    that leaves no ROI PyRadiomics accepts, the skip is recorded as an exclusion record.
    """
    import radiomics

    from radsnake.imaging.extract import binnable, make_extractor, split_result
    from radsnake.io.provenance import case_stamp

    radiomics.setVerbosity(logging.ERROR)
    qc = read_qc_row(qc_csv)
    if qc.get("qc_pass") != "True":
        reason = f"input QC failed: {qc.get('qc_reasons', '')}"
        log.warning("case %s excluded: %s", case_id, reason)
        record = pd.DataFrame([{"case_id": case_id, "excluded_reason": reason}], columns=EXCLUSION_COLUMNS)
        write_csv(record, features_csv)
        write_csv(record, diagnostics_csv)
        return
    images, mask, infos, mask_info = load_case(case_id, spec, resample)
    if perturbation:
        from radsnake.imaging.robustness import PerturbationSkipped, perturb_mask

        try:
            mask = perturb_mask(mask, int(spec["label"]), perturbation, case_id)
        except PerturbationSkipped as skip:
            _write_skip(case_id, str(skip), features_csv, diagnostics_csv)
            return
    extractor = make_extractor(params_path)
    features, diagnostics = {}, {}
    for name, image in images.items():
        prefix = f"{name}_" if spec.get("prefix") else ""
        image, _ = binnable(image, extractor)  # as QC recorded it
        try:
            result = extractor.execute(image, _snap(mask, image), label=int(spec["label"]))
        except ValueError as err:
            if perturbation:  # e.g. an eroded ROI too thin for PyRadiomics' minimum ROI dimensions
                reason = f"perturbation {perturbation}: PyRadiomics rejected the ROI: {err}"
                _write_skip(case_id, reason, features_csv, diagnostics_csv)
                return
            raise InputError(
                f"case {case_id}: PyRadiomics rejected image {name} ({_entry(spec, name)['path']}) with mask "
                f"{spec['mask']}: {err}. Check that the mask was drawn on this image."
            ) from err
        found, diag = split_result(result)
        features.update({prefix + k: v for k, v in found.items()})
        diagnostics.update({(f"diagnostics_{name}_" + k[len("diagnostics_") :]) if prefix else k: v for k, v in diag.items()})
    bad = [k for k, v in features.items() if not math.isfinite(v)]
    if bad:
        log.warning("case %s: %d features are not finite, e.g. %s", case_id, len(bad), bad[:3])
    log.info("case %s: %d features from %d image(s)", case_id, len(features), len(images))
    # Which params file and radsnake made the row: aggregation refuses to mix params.
    stamp = case_stamp(params_path)
    write_csv(pd.DataFrame([{"case_id": case_id, **provenance(spec, infos, mask_info), **stamp, **features}]), features_csv)
    write_csv(pd.DataFrame([{"case_id": case_id, **diagnostics}]), diagnostics_csv)


def _write_skip(case_id: str, reason: str, features_csv: str, diagnostics_csv: str) -> None:
    log.warning("case %s skipped: %s", case_id, reason)
    record = pd.DataFrame([{"case_id": case_id, "excluded_reason": reason}], columns=EXCLUSION_COLUMNS)
    write_csv(record, features_csv)
    write_csv(record, diagnostics_csv)


def _entry(spec: dict, name: str) -> dict:
    return next(e for e in spec["images"] if e["name"] == name)


def write_draft(case_id: str, image_entry: dict, seed: str, bbox: str, method: str, params: dict, output_mask: str,
                output_png: str, window: str = "auto") -> dict:
    """The draft job: a draft mask for review from the sheet's draft_seed / draft_bbox text."""
    from radsnake.io.imageio import read_image
    from radsnake.figures.overlay import overlay_montage
    from radsnake.imaging.segment import draft_mask, write_image

    entry = image_entry
    image, _ = read_image(case_id, entry["path"], entry["column"], entry.get("series_uid"), entry.get("series_description"))
    seed_point = _numbers(seed, 3)
    box = _numbers(bbox, 6)
    box = (box[:3], box[3:]) if box else None
    if method == "auto":
        method = "region_growing" if seed_point else "threshold"
    try:
        mask = draft_mask(image, seed=seed_point, bbox=box, method=method, params=params)
    except InputError as err:
        raise InputError(
            f"case {case_id}: draft on image {entry['path']}: {err} Correct draft_seed/draft_bbox in the "
            "cohort sheet, or the drafts settings in the config."
        ) from None
    write_image(mask, output_mask)
    info = overlay_montage(image, mask, 1, output_png, case_id, window=window)
    voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))
    log.info("case %s: draft mask %s, %d voxels (%s); review %s", case_id, output_mask, voxels, method, output_png)
    return {**info, "voxels": voxels}


def _numbers(text: str | None, count: int):
    if text is None or not str(text).strip():
        return None
    values = [float(v) for v in str(text).split(",")]
    if len(values) != count:
        raise InputError(f"expected {count} comma-separated numbers, got {text!r}")
    return tuple(values)


def write_qc_summary(qc_files: list[str], pending: dict, qc_csv: str, excluded_csv: str) -> None:
    """results/qc/qc.csv (every QC row) and results/qc/excluded.csv: the cases left out of
    the features, why, and at which stage (input QC, or mask review for drafts)."""
    from radsnake.imaging.qc import write_qc_table

    frames = []
    for path in qc_files:
        frame = pd.read_csv(path)
        # A case id such as "NA" or "nan" must stay text, while empty numeric cells stay empty.
        frame["case_id"] = pd.read_csv(path, usecols=["case_id"], dtype=str, keep_default_na=False)["case_id"]
        frames.append(frame)
    if frames:
        table = write_qc_table(pd.concat(frames, ignore_index=True), qc_csv)
    else:
        table = pd.DataFrame(columns=["case_id", "qc_pass", "qc_reasons"])
        write_csv(table, qc_csv)
    failed = table[~table["qc_pass"].astype(bool)]
    rows = [{"case_id": c, "stage": "input QC", "reasons": r} for c, r in zip(failed["case_id"], failed["qc_reasons"])]
    rows += [{"case_id": c, "stage": "mask review", "reasons": r} for c, r in pending.items()]
    excluded = pd.DataFrame(rows, columns=["case_id", "stage", "reasons"]).sort_values("case_id", kind="stable")
    for row in excluded.itertuples():
        log.warning("case %s left out (%s): %s", row.case_id, row.stage, row.reasons)
    log.info("QC: %d case(s) checked, %d failed; %d awaiting mask review", len(table), len(failed), len(pending))
    write_csv(excluded, excluded_csv)
