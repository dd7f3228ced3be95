"""Figures of the internal validation: AUC estimates per model and learning curves.

Same house style and deterministic output as radsnake.figures.style.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from radsnake.figures.style import (
    DOUBLE_COLUMN_IN,
    PALETTE,
    SINGLE_COLUMN_IN,
    new_figure,
    save_snapped,
    styled,
)
from radsnake.stats.intervals import no_signature_mark

# (column, label, colour, marker): the estimates from most to least optimistic.
_ESTIMATES = [
    ("apparent_auc", "apparent (refit on all training cases)", PALETTE[1], "o"),
    ("corrected_auc", "optimism-corrected (Harrell bootstrap)", PALETTE[0], "s"),
    ("cv_auc_mean", "repeated CV (mean ± SD)", PALETTE[2], "D"),
    ("nested_auc", "nested CV (mean ± SD)", PALETTE[3], "^"),
]
_CHANCE_KW = dict(color="#999999", lw=0.8, ls=(0, (4, 3)))


def _shown(model: str, row) -> str:
    """A model's name in a figure, "svm — no signature" when its table row has none."""
    return model.replace("_", " ") + no_signature_mark(row)


def _error(row: pd.Series, column: str) -> tuple[float, float] | None:
    """Half-widths below/above the point, or None."""
    if column == "corrected_auc":
        # The spread of the bootstrap optimism, carried over to the corrected AUC.
        low = row["apparent_auc"] - row["optimism_high"]
        high = row["apparent_auc"] - row["optimism_low"]
        return row[column] - low, high - row[column]
    sd = {"cv_auc_mean": "cv_auc_sd", "nested_auc": "nested_auc_sd"}.get(column)
    if sd is None or not math.isfinite(row[sd]):
        return None
    return row[sd], row[sd]


@styled
def validation_auc_figure(summary: pd.DataFrame, png_path, pdf_path) -> None:
    """Dot plot: per model, apparent vs optimism-corrected vs repeated-CV vs nested-CV AUC."""
    n = len(summary)
    fig = new_figure(SINGLE_COLUMN_IN, 1.2 + 0.45 * n)
    ax = fig.add_subplot()
    offsets = np.linspace(0.27, -0.27, len(_ESTIMATES))  # apparent on top
    for (column, label, colour, marker), offset in zip(_ESTIMATES, offsets):
        ys = np.arange(n)[::-1] + offset
        for y, (_, row) in zip(ys, summary.iterrows()):
            error = _error(row, column)
            if error is not None:
                ax.errorbar(row[column], y, xerr=[[error[0]], [error[1]]], fmt="none", ecolor=colour, elinewidth=0.9,
                            capsize=1.5)
        ax.scatter(summary[column], ys, color=colour, marker=marker, s=16, zorder=3, label=label)
    ax.axvline(0.5, **_CHANCE_KW)
    ax.set_yticks(np.arange(n)[::-1], [_shown(row["model"], row) for _, row in summary.iterrows()])
    ax.set_ylim(-0.6, n - 0.4)
    low = min(0.4, float(np.nanmin(summary[[c for c, *_ in _ESTIMATES]].to_numpy())) - 0.05)
    ax.set_xlim(max(0.0, low), 1.0)
    ax.set_xlabel("AUC on the training set")
    ax.grid(axis="x")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28 if n > 1 else -0.5), ncol=1, handletextpad=0.3)
    save_snapped(fig, png_path, pdf_path)


@styled
def learning_curves_figure(curves: dict[str, pd.DataFrame], png_path, pdf_path) -> None:
    """One panel per model: mean AUC ± SD against the number of training cases, for the
    validation folds (solid) and the training subsets themselves (dashed)."""
    names = list(curves)
    columns = 1 if len(names) == 1 else 2
    rows = math.ceil(len(names) / columns)
    width = SINGLE_COLUMN_IN if columns == 1 else DOUBLE_COLUMN_IN
    fig = new_figure(width, 0.4 + 2.0 * rows)
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    lowest = 0.3
    for ax, name in zip(axes.ravel(), names):
        by_size = curves[name].groupby("size", sort=True)
        n_train = by_size["n_train"].mean()
        for column, label, colour, style in (
            ("validation_auc", "validation folds", PALETTE[0], "-"),
            ("train_auc", "training cases (apparent)", PALETTE[1], "--"),
        ):
            mean, sd = by_size[column].mean(), by_size[column].std(ddof=1).fillna(0.0)
            ax.fill_between(n_train, mean - sd, np.minimum(mean + sd, 1.0), color=colour, alpha=0.18, lw=0)
            ax.plot(n_train, mean, color=colour, ls=style, marker="o", ms=3, label=label)
            lowest = min(lowest, float((mean - sd).min()) - 0.05)
        ax.axhline(0.5, **_CHANCE_KW)
        skipped = int((curves[name].get("skipped", pd.Series(dtype=str)).fillna("").astype(str) != "").sum())
        if skipped:
            # Points whose training subsets were too small to tune on (learning_curve.csv says why).
            ax.text(0.98, 0.03, f"{skipped} point(s) skipped: too few cases", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize="x-small")
        ax.set_title(_shown(name, curves[name].iloc[0] if len(curves[name]) else {}))
        ax.grid(True)
    axes[0, 0].set_ylim(max(0.0, lowest), 1.02)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for column in range(columns):
        # The lowest panel in use of each column carries the x axis labels.
        used = [axes[row, column] for row in range(rows) if row * columns + column < len(names)]
        used[-1].xaxis.set_tick_params(labelbottom=True)
        used[-1].set_xlabel("training cases")
    for ax in axes[:, 0]:
        ax.set_ylabel("AUC (mean ± SD)")
    axes[0, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].legend(loc="best")
    save_snapped(fig, png_path, pdf_path)
