"""Before/after figure of ComBat harmonisation, per centre (house style of radsnake.figures.style)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from radsnake.figures.style import DOUBLE_COLUMN_IN, PALETTE, new_figure, styled, save_figure

_TITLES = {"before": "a  Before ComBat", "after": "b  After ComBat"}


def _centres(pca: pd.DataFrame) -> list[str]:
    # Training centres first, then the unseen ones, each alphabetically: stable colours.
    first = pca.drop_duplicates("center").sort_values(["seen_in_training", "center"], ascending=[False, True])
    return first["center"].astype(str).tolist()


@styled
def harmonisation_figure(pca: pd.DataFrame, centre_effect: pd.DataFrame, png, pdf, unseen_batch: str = "unadjusted"):
    """PC1/PC2 of every case before and after ComBat (axes fitted on the training cases
    before harmonisation), coloured by centre; and, per feature, the share of training
    variance explained by the centre (eta squared) before and after."""
    pca = pca.assign(center=pca["center"].astype(str))
    centres = _centres(pca)
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(centres)}
    fig = new_figure(DOUBLE_COLUMN_IN, 2.7)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.9]})
    limits = pca[["PC1", "PC2"]].agg(["min", "max"])
    pad = 0.05 * (limits.loc["max"] - limits.loc["min"])
    for ax, stage in zip(axes[:2], ("before", "after")):
        part = pca[pca["stage"] == stage]
        for name in centres:
            rows = part[part["center"] == name]
            seen = bool(rows["seen_in_training"].iloc[0])
            train = rows["set"] == "train"
            ax.scatter(rows.loc[train, "PC1"], rows.loc[train, "PC2"], s=9, color=colour[name], alpha=0.8,
                       linewidths=0, marker="o")
            ax.scatter(rows.loc[~train, "PC1"], rows.loc[~train, "PC2"], s=12, facecolors="none",
                       edgecolors=colour[name], linewidths=0.7, marker="o" if seen else "^")
        ax.set_xlim(limits.loc["min", "PC1"] - pad["PC1"], limits.loc["max", "PC1"] + pad["PC1"])
        ax.set_ylim(limits.loc["min", "PC2"] - pad["PC2"], limits.loc["max", "PC2"] + pad["PC2"])
        ax.set_xlabel(f"PC1 ({100 * part['PC1_variance'].iloc[0]:.0f} % of training variance)")
        ax.set_ylabel(f"PC2 ({100 * part['PC2_variance'].iloc[0]:.0f} %)")
        ax.set_title(_TITLES[stage], loc="left")
        ax.grid(True)

    handles = []
    for name in centres:
        seen = bool(pca.loc[pca["center"] == name, "seen_in_training"].iloc[0])
        label = name if seen else f"{name} (not in training: {unseen_batch})"
        handles.append(Line2D([], [], color=colour[name], marker="o" if seen else "^", linestyle="none",
                              markersize=4, label=label))
    handles += [
        Line2D([], [], color="0.3", marker="o", linestyle="none", markersize=4, label="training case"),
        Line2D([], [], color="0.3", marker="o", markerfacecolor="none", linestyle="none", markersize=4,
               label="test / external case"),
    ]
    axes[0].legend(handles=handles, loc="best", fontsize=5.5, handletextpad=0.2, borderaxespad=0.3)

    ax = axes[2]
    effect = centre_effect.dropna(subset=["eta2_before", "eta2_after"])
    for stage, colour_, style in (("before", PALETTE[1], "--"), ("after", PALETTE[0], "-")):
        values = np.sort(effect[f"eta2_{stage}"].to_numpy())
        ax.step(values, np.arange(1, values.size + 1) / max(values.size, 1), where="post", color=colour_,
                linestyle=style,
                label=f"{stage}: median {np.median(values):.2f}" if values.size else stage)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("η² of centre (training cases)")
    ax.set_ylabel("share of features")
    ax.set_title("c  Centre effect per feature", loc="left")
    ax.legend(loc="lower right")
    ax.grid(True)
    save_figure(fig, png, pdf)
