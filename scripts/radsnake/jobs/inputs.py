"""Jobs of the per-case input rules that do not extract: the draft masks for review
(rules/segmentation.smk) and the cohort's QC table (rules/qc.smk). The per-case
extraction job (QC, features, diagnostics, overlay) is radsnake.jobs.casejob.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import SimpleITK as sitk

from radsnake.core.errors import InputError
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)


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
