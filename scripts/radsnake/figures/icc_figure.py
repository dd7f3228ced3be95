"""The ICC figure of the robustness analysis (radsnake.imaging.robustness computes the table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsnake.figures.style import PALETTE, SINGLE_COLUMN_IN, STYLE, new_figure, save_figure
from radsnake.imaging.dictionary import describe_feature

_FILTER_GROUPS = {"none": "original", "LoG": "LoG", "wavelet": "wavelet"}


def _describe(feature: str) -> tuple[str, str]:

    try:
        row = describe_feature(feature)
    except ValueError:
        return "other", "other"
    return row["family"], _FILTER_GROUPS.get(row["filter"], "other filters")


def icc_figure(table: pd.DataFrame, icc_type: str, threshold: float, png: str, pdf: str) -> None:
    """ICC of every feature, one row per feature class, coloured by filter, with the
    threshold line and the count kept per class."""
    import matplotlib


    described = [_describe(f) for f in table["feature"]]
    frame = pd.DataFrame(
        {
            "family": [d[0] for d in described],
            "filter": [d[1] for d in described],
            "icc": table[icc_type].to_numpy(dtype=float),
            "low": table[f"{icc_type}_ci_low"].to_numpy(dtype=float),
            "kept": table["kept"].astype(str) == "True",
        }
    )
    families = list(dict.fromkeys(frame["family"]))
    filters = [f for f in ("original", "LoG", "wavelet", "other filters", "other") if f in set(frame["filter"])]
    label = {"icc2_1": "ICC(2,1), absolute agreement", "icc3_1": "ICC(3,1), consistency"}[icc_type]
    with matplotlib.rc_context(STYLE):
        fig = new_figure(SINGLE_COLUMN_IN * 1.6, 0.9 + 0.32 * len(families))
        ax = fig.add_subplot()
        finite = frame["icc"][np.isfinite(frame["icc"])]
        left = min(0.0, float(finite.min()) - 0.05) if len(finite) else 0.0
        labelled: set[str] = set()
        # One sub-row per filter inside a feature class, spread by a golden-ratio sequence
        # (not random jitter): the figure is deterministic.
        lanes = np.linspace(-0.24, 0.24, len(filters)) if len(filters) > 1 else np.zeros(1)
        height = 0.36 / max(len(filters), 1)
        for row, family in enumerate(families):
            part = frame[frame["family"] == family]
            for lane, colour, name in zip(lanes, PALETTE, filters):
                points = part[(part["filter"] == name) & np.isfinite(part["icc"])]
                if points.empty:
                    continue
                spread = (np.arange(len(points)) * 0.6180339887498949) % 1.0 - 0.5
                ax.scatter(
                    points["icc"].to_numpy(),
                    row + lane + spread * height,
                    s=4,
                    color=colour,
                    alpha=0.75,
                    linewidths=0,
                    label=None if name in labelled else name,
                )
                labelled.add(name)
            undefined = int((~np.isfinite(part["icc"])).sum())
            text = f"{int(part['kept'].sum())}/{len(part)} kept" + (f", {undefined} undefined" if undefined else "")
            ax.text(1.03, row, text, va="center", ha="left", fontsize=6, transform=ax.get_yaxis_transform())
        ax.axvline(threshold, color="black", linestyle="--", linewidth=0.9)
        ax.set_yticks(range(len(families)), families)
        ax.set_ylim(len(families) - 0.5, -0.5)
        ax.set_xlim(left, 1.0)
        ax.set_xlabel(f"{label} (threshold {threshold:g})")
        ax.grid(axis="x")
        kept = int(frame["kept"].sum())
        ax.set_title(f"Feature robustness: {kept} of {len(frame)} features kept")
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(
                handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(handles), markerscale=2.5
            )
        save_figure(fig, png, pdf)
