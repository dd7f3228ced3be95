"""The nomogram figure of the clinical comparison (radsnake.stats.clinical computes its axes)."""

from __future__ import annotations

import numpy as np

from radsnake.figures import style as rf
from radsnake.stats.clinical import tick_text


def nomogram_figure(axes: dict, png_path, pdf_path, *, title: str | None = None) -> None:
    """Draw an rms-style nomogram (``plot(nomogram(...))``) from :func:`nomogram_axes`:
    a "Points" scale 0–100 on top, one horizontal scale per predictor, then "Total
    points" and "Predicted probability" (both drawn on the total-points scale, which
    is compressed to the width of the 0–100 axis as rms does)."""
    import matplotlib


    with matplotlib.rc_context(rf.STYLE):  # house style for drawing and saving
        _draw_nomogram(axes, png_path, pdf_path, title, rf)


def _draw_nomogram(axes, png_path, pdf_path, title, rf):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    maxscale = axes.get("maxscale", 100.0)
    total_top = max(axes["total_points"])
    rows = [dict(label="Points", x=axes["points_axis"], text=[tick_text(v) for v in axes["points_axis"]])]
    for r in axes["predictors"]:
        rows.append(dict(label=r["label"], x=r["points"], text=r["tick_labels"],
                         categorical=r["kind"] == "categorical"))
    f = maxscale / total_top  # total points are drawn on the 0..100 width
    rows.append(dict(label="Total points", x=[v * f for v in axes["total_points"]],
                     text=[tick_text(v) for v in axes["total_points"]]))
    # One outcome scale (logistic), or one per horizon (radsnake.stats.survival_clinical's "outcomes").
    for pr in axes.get("outcomes") or [dict(label="Predicted probability", **axes["probability"])]:
        rows.append(dict(label=pr["label"], x=[v * f for v in pr["points"]], text=[f"{v:g}" for v in pr["values"]]))

    fs = 6.5
    row_h = 0.36
    fig = rf.new_figure(rf.DOUBLE_COLUMN_IN, row_h * len(rows) + 0.35 + (0.2 if title else 0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-2, maxscale + 2)
    ax.set_ylim(len(rows) - 0.35, -0.75)
    # Row names sit in the left margin (text in axes-fraction x, data y).
    trans = ax.get_yaxis_transform()
    for i, row in enumerate(rows):
        ax.text(-0.01, i, row["label"], transform=trans, ha="right", va="center", fontsize=7)
    if title:
        ax.set_title(title)
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()  # settle the constrained layout before measuring text

    def width_data(text: str) -> float:
        t = ax.text(0, 0, text, fontsize=fs)
        w = t.get_window_extent(renderer).width
        t.remove()
        x0 = ax.transData.inverted().transform((0, 0))[0]
        x1 = ax.transData.inverted().transform((w, 0))[0]
        return abs(x1 - x0)

    for i, row in enumerate(rows):
        xs = np.asarray(row["x"], float)
        if xs.size == 0:
            continue
        order = np.argsort(xs, kind="mergesort")
        ax.plot([xs.min(), xs.max()], [i, i], color="#222222", lw=0.7, solid_capstyle="butt")
        for x in xs:
            ax.plot([x, x], [i, i - 0.12], color="#222222", lw=0.6)
        if i == 0:  # minor ticks on the Points axis, as rms draws them
            for x in np.arange(0, maxscale + 1e-9, maxscale / 50):
                ax.plot([x, x], [i, i - 0.06], color="#222222", lw=0.4)
        gap = width_data("0") * 0.6
        texts = [str(t) for t in row["text"]]
        spans = [(xs[j] - width_data(texts[j]) / 2, xs[j] + width_data(texts[j]) / 2) for j in order]
        if row.get("categorical"):
            # Every level is kept: a label that would overlap its left neighbour goes
            # below the line (rms staggers crowded levels the same way).
            last_end = {"above": -np.inf, "below": -np.inf}
            for j, (left, right) in zip(order, spans):
                side = "above" if left >= last_end["above"] + gap else "below"
                last_end[side] = right
                _tick_label(ax, xs[j], i, texts[j], side, fs)
        else:
            # Numeric scales: label every k-th tick, the smallest k without overlaps, so
            # the labelled values stay evenly spaced (0, 10, 20 rather than 0, 10, 25).
            for k in range(1, len(order) + 1):
                picked = list(range(0, len(order), k))
                if all(spans[b][0] >= spans[a][1] + gap for a, b in zip(picked, picked[1:])):
                    break
            for m in picked:
                _tick_label(ax, xs[order[m]], i, texts[order[m]], "above", fs)
    rf.save_figure(fig, png_path, pdf_path)


def _tick_label(ax, x: float, row: int, text: str, side: str, fs: float) -> None:
    if side == "above":
        ax.text(x, row - 0.16, text, ha="center", va="bottom", fontsize=fs)
    else:
        ax.text(x, row + 0.08, text, ha="center", va="top", fontsize=fs)
