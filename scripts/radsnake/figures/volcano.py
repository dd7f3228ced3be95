"""The volcano plot of the per-feature statistics (radsnake.stats.feature_stats)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from radsnake.figures import style as rf


def volcano_figure(
    table: pd.DataFrame,
    png_path,
    pdf_path,
    fdr_threshold: float = 0.05,
    *,
    top_n: int = 8,
    effect_label: str | None = None,
    title: str | None = None,
) -> None:
    """Volcano plot of a :func:`feature_table`: effect size on x, −log10(p) on y.

    Features with ``p_fdr < fdr_threshold`` are coloured by direction (vermillion: higher
    in label 1, blue: lower), the rest grey; a dashed line marks the largest p still
    significant after FDR. The ``top_n`` smallest-p features are labelled with
    :func:`radsnake.figures.style.short_feature_name`, placed greedily so labels neither overlap
    each other nor leave the axes. The x label says rank-biserial r when the effect sizes
    are ``2 * auc - 1`` (Mann–Whitney), otherwise Cohen's d (override: ``effect_label``).
    """
    import matplotlib


    with matplotlib.rc_context(rf.STYLE):
        _draw_volcano(table, png_path, pdf_path, fdr_threshold, top_n, effect_label, title, rf)


def _draw_volcano(table, png_path, pdf_path, thr, top_n, effect_label, title, rf):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.lines import Line2D

    t = table.copy()
    t = t.loc[np.isfinite(t["p_value"].astype(float)) & np.isfinite(t["effect_size"].astype(float))]
    n_dropped = len(table) - len(t)
    if effect_label is None:
        rb = "auc" in table and np.allclose(table["effect_size"], 2 * table["auc"] - 1, equal_nan=True)
        effect_label = ("Rank-biserial correlation (2·AUC − 1)" if rb
                        else "Cohen's d (pooled SD)")
    if title is None:
        title = f"Univariate analysis of {len(table)} features (training set)"
    if t.empty:
        fig = rf.message_figure("no feature has a p-value", title=title)
        rf.save_figure(fig, png_path, pdf_path)
        return

    p = t["p_value"].to_numpy(dtype=float)
    tiny = np.finfo(float).tiny  # p = 0 (underflow): drawn at the smallest double
    yv = -np.log10(np.maximum(p, tiny))
    xv = t["effect_size"].to_numpy(dtype=float)
    sig = t["p_fdr"].to_numpy(dtype=float) < thr
    up, down = sig & (xv > 0), sig & (xv <= 0)

    fig = rf.new_figure(rf.DOUBLE_COLUMN_IN * 0.75, 3.9)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True)
    ms = 9 if len(t) < 300 else 5
    handles = []
    for mask, colour, label, z in (
        (~sig, "#A8A8A8", f"Not significant (n = {int((~sig).sum())})", 2),
        (down, rf.LABEL_COLOURS[0], f"FDR < {thr:g}, lower in label 1 (n = {int(down.sum())})", 3),
        (up, rf.LABEL_COLOURS[1], f"FDR < {thr:g}, higher in label 1 (n = {int(up.sum())})", 3),
    ):
        if mask.any():
            ax.scatter(xv[mask], yv[mask], s=ms, color=colour, linewidths=0, alpha=0.85, zorder=z)
            handles.append(Line2D([], [], ls="", marker="o", ms=4, color=colour, label=label))
    ax.axvline(0, color="#555555", lw=0.6, zorder=1)
    if sig.any():
        cut = -math.log10(max(float(p[sig].max()), tiny))
        ax.axhline(cut, color="#333333", lw=0.8, ls=(0, (4, 2)), zorder=1)
        handles.append(Line2D([], [], color="#333333", lw=0.8, ls=(0, (4, 2)),
                              label=f"Largest p with FDR < {thr:g}"))
    if n_dropped:
        handles.append(Line2D([], [], color="none", label=f"{n_dropped} constant feature(s) not shown"))

    # Room for labels: symmetric x range (0 in the middle), 25 % headroom on top.
    xlim = max(float(np.abs(xv).max()), 1e-3) * 1.12
    ax.set_xlim(-xlim, xlim)
    ax.set_ylim(0, max(float(yv.max()), 1.0) * 1.25)
    ax.set_xlabel(effect_label)
    ax.set_ylabel("−log$_{10}$(p)")
    ax.set_title(title)
    fig.legend(handles=handles, loc="outside lower center", ncol=2, handlelength=1.6,
               columnspacing=1.2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    order = np.lexsort((t["feature"].astype(str).to_numpy(), -np.abs(xv), p))[: max(0, top_n)]
    fig.draw_without_rendering()  # final layout first: labels are placed in pixels
    _place_labels(ax, fig, xv, yv, order, [rf.short_feature_name(f, max_len=34) for f in t["feature"]])
    rf.save_figure(fig, png_path, pdf_path)


def _place_labels(ax, fig, xv, yv, order, names) -> None:
    """Greedy placement: for each label (most significant first) try offsets at growing
    distance in 8 directions and keep the first whose box stays inside the axes and
    overlaps neither a placed label nor a labelled point, preferring spots that cover no
    other point either. Boxes are computed from the measured text size (no trial
    artists). Labels are kept out of the layout, so the saved figure keeps the geometry
    they were measured in; a label with no free spot is left out rather than overlap."""
    renderer = fig.canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    px = ax.transData.transform(np.column_stack([xv, yv]))
    labelled = px[order]
    scale = fig.dpi / 72.0
    pad = 1.5 * scale
    sizes = {}
    for idx in order:
        tmp = ax.text(0, 0, names[idx], fontsize=6)
        ext = tmp.get_window_extent(renderer)
        sizes[idx] = (ext.width, ext.height)
        tmp.remove()
    directions = [(1, 1), (-1, 1), (1, -1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0)]
    candidates = [(r, dx, dy) for r in (5, 12, 20, 30, 42, 56) for dx, dy in directions]
    placed: list[tuple[float, float, float, float]] = []

    def box_of(k, idx, r, dx, dy):
        w, h = sizes[idx]
        ax_, ay_ = labelled[k] + np.array([dx * r, dy * r * 0.8]) * scale
        x0 = ax_ if dx > 0 else ax_ - w if dx < 0 else ax_ - w / 2
        y0 = ay_ if dy > 0 else ay_ - h if dy < 0 else ay_ - h / 2
        return x0 - pad, y0 - pad, x0 + w + pad, y0 + h + pad

    def covers(b, pts):
        return bool(np.any((pts[:, 0] >= b[0]) & (pts[:, 0] <= b[2]) & (pts[:, 1] >= b[1]) & (pts[:, 1] <= b[3])))

    for k, idx in enumerate(order):
        choice = None
        for avoid_all in (True, False):  # second pass: other points may be covered
            for r, dx, dy in candidates:
                b = box_of(k, idx, r, dx, dy)
                if not (b[0] >= axbox.x0 and b[2] <= axbox.x1 and b[1] >= axbox.y0 and b[3] <= axbox.y1):
                    continue
                if any(b[0] < q[2] and q[0] < b[2] and b[1] < q[3] and q[1] < b[3] for q in placed):
                    continue
                if covers(b, px if avoid_all else labelled):
                    continue
                choice = (r, dx, dy, b)
                break
            if choice:
                break
        if choice is None:
            continue
        r, dx, dy, b = choice
        placed.append(b)
        ann = ax.annotate(
            names[idx], (xv[idx], yv[idx]), xytext=(dx * r, dy * r * 0.8), textcoords="offset points",
            fontsize=6, ha={1: "left", -1: "right", 0: "center"}[dx],
            va={1: "bottom", -1: "top", 0: "center"}[dy], annotation_clip=False, zorder=6,
            # a leader line from the label to its (ringed) point: no guessing which is which
            arrowprops=dict(arrowstyle="-", lw=0.4, color="#555555", shrinkA=0, shrinkB=2.5),
        )
        ann.set_in_layout(False)
    # ring the labelled points, so it is clear which point each label names
    ax.scatter(xv[order], yv[order], s=16, facecolors="none", edgecolors="#222222", linewidths=0.6, zorder=5)
