"""Figures of the evaluation: calibration, decision curves, confusion matrices and the
rad-score violin (house style of radsnake.figures.style)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from radsnake.figures.style import (
    DOUBLE_COLUMN_IN,
    LABEL_COLOURS,
    LINESTYLES,
    PALETTE,
    SINGLE_COLUMN_IN,
    format_number,
    label_name,
    message_figure,
    new_figure,
    save_figure,
    save_snapped,
    short_set,
    styled,
    title_of_set,
)
from radsnake.io.external import ordered_sets

_MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


_IDEAL_KW = dict(color="#999999", lw=0.8, ls=(0, (4, 3)))


def _ordered_sets(values) -> list[str]:
    """Distinct set names: train, test, each external cohort, pooled external, then the others."""
    return ordered_sets(values)


def _fmt_na(x, digits: int = 2) -> str:
    """:func:`format_number`, with ``"NA"`` for missing / non-finite values."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "NA"
    return format_number(x, digits) if math.isfinite(x) else "NA"


def p_text(p: float) -> str:
    if not math.isfinite(p):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _model_colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _usable(frame, columns) -> bool:
    return frame is not None and not frame.empty and all(c in frame.columns for c in columns)


_CAL_BIN_COLS = ("mean_predicted", "observed")


_CAL_SMOOTH_COLS = ("predicted", "observed")


def _calibration_stats_row(stats: pd.DataFrame | None, model: str, set_name: str) -> dict:
    if stats is None or stats.empty or "model" not in stats:
        return {}
    sel = stats["model"].astype(str) == str(model)
    if "set" in stats:
        sel &= stats["set"].astype(str) == str(set_name)
    row = stats.loc[sel]
    return {} if row.empty else row.iloc[0].to_dict()


def _draw_calibration(ax, ax_n, curve, smooth, colour, marker, dodge: float) -> tuple[bool, int]:
    """Smoothed curve + band, binned points + Wilson CI on ``ax``; cases per group on
    ``ax_n``. Returns (anything drawn, number of cases in the binned curve)."""
    drawn, n_total = False, 0
    if _usable(smooth, _CAL_SMOOTH_COLS):
        s = smooth.sort_values("predicted", kind="mergesort")
        x = s["predicted"].to_numpy(dtype=float)
        if {"ci_low", "ci_high"} <= set(s.columns):
            lo = s["ci_low"].to_numpy(dtype=float)
            hi = s["ci_high"].to_numpy(dtype=float)
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(x)
            if ok.any():
                ax.fill_between(x, lo, hi, where=ok, color=colour, alpha=0.15, lw=0, zorder=2)
        ax.plot(x, s["observed"].to_numpy(dtype=float), color=colour, lw=1.2, zorder=4)
        drawn = True
    if _usable(curve, _CAL_BIN_COLS):
        c = curve.dropna(subset=list(_CAL_BIN_COLS))
        x = c["mean_predicted"].to_numpy(dtype=float)
        y = c["observed"].to_numpy(dtype=float)
        if {"ci_low", "ci_high"} <= set(c.columns):
            lo = np.nan_to_num(y - c["ci_low"].to_numpy(dtype=float)).clip(0)
            hi = np.nan_to_num(c["ci_high"].to_numpy(dtype=float) - y).clip(0)
            yerr = np.vstack([lo, hi])
        else:
            yerr = None
        ax.errorbar(
            x, y, yerr=yerr, fmt=marker, ms=3.2, mfc=colour, mec="white", mew=0.4,
            ecolor=colour, elinewidth=0.7, capsize=1.5, capthick=0.6, zorder=5, clip_on=False,
        )
        if "n" in c.columns and len(c):
            n = c["n"].to_numpy(dtype=float)
            n_total = int(np.nansum(n))
            ax_n.vlines(x + dodge, 0, n, color=colour, lw=1.0, zorder=3)
        drawn = drawn or len(c) > 0
    return drawn, n_total


def _calibration_axes_style(ax, ax_n, *, left: bool, bottom: bool) -> None:
    ax.plot([0, 1], [0, 1], zorder=1, **_IDEAL_KW)
    ticks = np.linspace(0, 1, 6)
    for a in (ax, ax_n):
        a.set_xlim(0, 1)
        a.set_xticks(ticks, [format_number(t, 1) for t in ticks])
    ax.set_ylim(0, 1)
    ax.set_yticks(ticks, [format_number(t, 1) for t in ticks])
    ax.grid(True)
    ax.tick_params(labelbottom=False)
    if left:
        ax.set_ylabel("Observed proportion of events")
        ax_n.set_ylabel("Cases", fontsize=6.5)
    if bottom:
        ax_n.set_xlabel("Predicted probability")
    # The largest group's case count (the data, not the autoscaled limit with its margin).
    top = max(ax_n.dataLim.ymax if ax_n.has_data() else 1.0, 1.0)
    ax_n.set_ylim(0, top * 1.08)
    ax_n.set_yticks([0, int(math.floor(top))] if top >= 2 else [0, 1])
    ax_n.tick_params(axis="y", labelsize=6)
    sns.despine(ax=ax)
    sns.despine(ax=ax_n)


def _calibration_guides() -> list[tuple[object, str]]:
    grey = "#555555"
    return [
        (Line2D([], [], **_IDEAL_KW), "Ideal calibration"),
        (
            Line2D([], [], color=grey, marker="o", ms=3.2, ls="none", mec="white", mew=0.4),
            "Risk groups: observed proportion (95% Wilson CI)",
        ),
        ((Patch(color=grey, alpha=0.2, lw=0), Line2D([], [], color=grey, lw=1.2)),
         "Lowess curve (95% bootstrap band)"),
        (Line2D([], [], color=grey, lw=1.0, marker="|", ms=0, ls="-"), "Lower strip: cases per risk group"),
    ]


@styled
def calibration_figure(
    curves: Mapping[str, pd.DataFrame],
    smoothed: Mapping[str, pd.DataFrame],
    stats: pd.DataFrame | None,
    set_name: str,
    png_path,
    pdf_path,
    *,
    title: str | None = None,
) -> None:
    """Calibration plot of every model on one set.

    For each model: the binned calibration curve (``curves[model]``, columns ``bin, n,
    mean_predicted, observed, ci_low, ci_high`` as :func:`radsnake.stats.calibration.calibration_curve`)
    drawn as points with Wilson 95 % CI error bars, and the lowess curve
    (``smoothed[model]``, columns ``predicted, observed, ci_low, ci_high`` as
    :func:`radsnake.stats.calibration.smoothed_calibration`) with its shaded bootstrap band;
    the ideal diagonal; and, in a strip under the plot, the number of cases per risk
    group at its mean predicted probability (a coarse histogram of the predictions).
    Calibration intercept, slope and Brier score come from ``stats`` (rows with the
    same ``model`` and ``set``); missing or non-finite values read ``NA``.

    Up to three models share one panel (statistics in the legend); with more, one panel
    per model in a grid (statistics under each panel title).
    """
    models = list(dict.fromkeys([*map(str, curves or {}), *map(str, smoothed or {})]))
    curves = {str(k): v for k, v in (curves or {}).items()}
    smoothed = {str(k): v for k, v in (smoothed or {}).items()}
    if title is None:
        title = title_of_set(set_name)
    if not models:
        save_figure(message_figure("no models to show", title=title), png_path, pdf_path)
        return

    stat_rows = {m: _calibration_stats_row(stats, m, set_name) for m in models}
    any_na = False

    def stat_values(m):
        nonlocal any_na
        r = stat_rows[m]
        vals = (_fmt_na(r.get("intercept")), _fmt_na(r.get("slope")), _fmt_na(r.get("brier"), 3))
        any_na = any_na or "NA" in vals
        return vals

    guides = _calibration_guides()
    if len(models) <= 3:
        k = len(models)
        fig = new_figure(SINGLE_COLUMN_IN, 3.95 + 0.125 * (k + len(guides)))
        gs = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.8])
        ax = fig.add_subplot(gs[0])
        ax_n = fig.add_subplot(gs[1], sharex=ax)
        handles, labels, ns = [], [], set()
        for i, m in enumerate(models):
            colour, marker = _model_colour(i), _MARKERS[i % len(_MARKERS)]
            dodge = (i - (k - 1) / 2) * 0.009
            drawn, n = _draw_calibration(ax, ax_n, curves.get(m), smoothed.get(m), colour, marker, dodge)
            if n:
                ns.add(n)
            a, b, brier = stat_values(m)
            if drawn:
                handles.append(Line2D([], [], color=colour, marker=marker, ms=3.2, mec="white", mew=0.4, lw=1.2))
                labels.append(f"{m}: {a}, {b}, {brier}")
            else:
                handles.append(Line2D([], [], color="none"))
                labels.append(f"{m}: no calibration data")
        _calibration_axes_style(ax, ax_n, left=True, bottom=True)
        ax.set_title(title + (f" (n = {ns.pop()})" if len(ns) == 1 else ""))
        guide_items = guides + ([(Line2D([], [], color="none"), "NA: not estimable")] if any_na else [])
        spacer = [(Line2D([], [], color="none"), "")]
        items = list(zip(handles, labels)) + spacer + guide_items
        fig.set_size_inches(SINGLE_COLUMN_IN, 3.95 + 0.125 * len(items))
        fig.legend(
            [h for h, _ in items], [t for _, t in items], loc="outside lower center",
            title="Model: calibration intercept, slope, Brier score", alignment="left",
            handlelength=1.8, ncol=1, handler_map={tuple: HandlerTuple(ndivide=1)},
        )
        save_snapped(fig, png_path, pdf_path)
        return

    k = len(models)
    ncols = 2 if k <= 6 else 3
    nrows = math.ceil(k / ncols)
    panel_h = 2.55 if ncols == 2 else 2.15
    fig = new_figure(DOUBLE_COLUMN_IN, panel_h * nrows + 0.45 + (0.13 if ncols == 3 else 0.0))
    outer = fig.add_gridspec(nrows, ncols)
    for i, m in enumerate(models):
        r, c = divmod(i, ncols)
        inner = outer[r, c].subgridspec(2, 1, height_ratios=[4.2, 0.8], hspace=0.0)
        ax = fig.add_subplot(inner[0])
        ax_n = fig.add_subplot(inner[1], sharex=ax)
        colour, marker = _model_colour(i), _MARKERS[0]
        drawn, n = _draw_calibration(ax, ax_n, curves.get(m), smoothed.get(m), colour, marker, 0.0)
        last_in_column = i + ncols >= k
        _calibration_axes_style(ax, ax_n, left=c == 0, bottom=last_in_column)
        a, b, brier = stat_values(m)
        sep = "\n" if ncols == 3 else " · "
        head = f"{m}" + (f" (n = {n})" if n else "")
        ax.text(
            0.5, 1.0, f"Intercept {a} · Slope {b}{sep}Brier {brier}", transform=ax.transAxes,
            ha="center", va="bottom", fontsize=6.5, color="#333333",
        )
        ax.set_title(head, fontsize=8, pad=10 if ncols == 2 else 18)
        if not drawn:
            ax.text(0.5, 0.5, "no calibration data", ha="center", va="center", transform=ax.transAxes,
                    bbox=dict(facecolor="white", edgecolor="none", pad=1.5), zorder=6)
    fig.suptitle(title)
    guide_items = guides + ([(Line2D([], [], color="none"), "NA: not estimable")] if any_na else [])
    fig.legend(
        [h for h, _ in guide_items], [t for _, t in guide_items], loc="outside lower center",
        handlelength=1.8, ncol=3 if any_na else 2,
        handler_map={tuple: HandlerTuple(ndivide=1)},
    )
    save_snapped(fig, png_path, pdf_path)


_DCA_COLS = ("threshold", "net_benefit")


def _prevalence_from_dca(frame: pd.DataFrame) -> float:
    """Event rate implied by the "treat all" curve: nb_all = prev − (1 − prev)·odds."""
    if "net_benefit_all" not in frame:
        return math.nan
    pt = frame["threshold"].to_numpy(dtype=float)
    nb = frame["net_benefit_all"].to_numpy(dtype=float)
    ok = np.isfinite(pt) & np.isfinite(nb) & (pt > 0) & (pt < 1)
    if not ok.any():
        return math.nan
    odds = pt[ok] / (1.0 - pt[ok])
    return float(np.median((nb[ok] + odds) / (1.0 + odds)))


@styled
def decision_curve_figure(
    curves: Mapping[str, pd.DataFrame],
    set_name: str,
    png_path,
    pdf_path,
    *,
    title: str | None = None,
) -> None:
    """Decision curves (net benefit against threshold probability) of every model on
    one set, with the "Treat all" and "Treat none" reference strategies.

    ``curves[model]`` has columns ``threshold, net_benefit, net_benefit_all,
    net_benefit_none`` (:func:`radsnake.stats.calibration.decision_curve`). The y axis runs
    from slightly below zero (−0.05, less when the event rate is small) to the largest
    event rate / net benefit plus a margin, so the steeply falling "Treat all" curve is
    clipped instead of squashing the model curves. Models without a curve (e.g. a set
    with one class) get a legend entry saying so.
    """
    if title is None:
        title = title_of_set(set_name)
    fig = new_figure(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN)
    ax = fig.add_subplot()
    handles, labels = [], []
    reference = None
    prevs, tops, xs = [], [0.0], []
    for i, (model, frame) in enumerate((curves or {}).items()):
        if not _usable(frame, _DCA_COLS):
            handles.append(Line2D([], [], color="none"))
            labels.append(f"{model}: not estimable")
            continue
        f = frame.sort_values("threshold", kind="mergesort")
        x = f["threshold"].to_numpy(dtype=float)
        y = f["net_benefit"].to_numpy(dtype=float)
        xs.append(x[np.isfinite(x)])
        (ln,) = ax.plot(
            x, y, color=_model_colour(i), lw=1.3, zorder=4,
            ls=LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)] if i >= len(PALETTE) else "-",
        )
        handles.append(ln)
        labels.append(str(model))
        if np.isfinite(y).any():
            tops.append(float(np.nanmax(y)))
        prev = _prevalence_from_dca(f)
        if math.isfinite(prev):
            prevs.append(prev)
            if reference is None:
                reference = f
    ref_handles = []
    if reference is not None:
        x = reference["threshold"].to_numpy(dtype=float)
        (h_all,) = ax.plot(x, reference["net_benefit_all"].to_numpy(dtype=float), color="#8C8C8C",
                           lw=1.0, zorder=3, label="Treat all")
        ref_handles.append(h_all)
    if reference is not None or xs:
        h_none = ax.axhline(0.0, color="#000000", lw=0.9, ls=(0, (4, 2)), zorder=3, label="Treat none")
        ref_handles.append(h_none)
    if not xs and reference is None:
        ax.text(0.5, 0.5, "no decision curves\n(e.g. only one class in this set)", ha="center",
                va="center", transform=ax.transAxes)

    top = max([*prevs, *tops, 0.05])
    top = top + max(0.1 * top, 0.02)
    bottom = -min(0.05, 0.25 * top)
    ax.set_ylim(bottom, top)
    if xs:
        x_all = np.concatenate(xs)
        lo, hi = float(x_all.min()), float(x_all.max())
        ax.set_xlim(0.0 if lo <= 0.05 else lo, 1.0 if hi >= 0.95 else hi)
    else:
        ax.set_xlim(0, 1)
    ax.set_xlabel("Threshold probability")
    ax.set_ylabel("Net benefit")
    if len(prevs) and max(prevs) - min(prevs) < 1e-9:
        title += f" (event rate {format_number(prevs[0] * 100, 0)}%)"
    ax.set_title(title)
    ax.grid(True)
    all_h, all_l = handles + ref_handles, labels + [h.get_label() for h in ref_handles]
    if len(all_h) > 6:
        fig.set_size_inches(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN + 0.12 * math.ceil(len(all_h) / 2))
        fig.legend(all_h, all_l, loc="outside lower center", ncol=2, handlelength=2.0)
    elif all_h:
        leg = ax.legend(all_h, all_l, loc="upper right", handlelength=2.0, frameon=True, framealpha=0.85,
                        facecolor="white", edgecolor="none", borderaxespad=0.3)
        leg.set_zorder(10)
    sns.despine(ax=ax)
    save_snapped(fig, png_path, pdf_path)


def _count(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


@styled
def confusion_matrix_figure(
    matrices: pd.DataFrame,
    png_path,
    pdf_path,
    *,
    label_names: Sequence[str] | Mapping | None = None,
    title: str | None = None,
) -> None:
    """Grid of 2×2 confusion matrices: one row per model, one column per set.

    ``matrices`` has columns ``model, set, tp, fp, tn, fn`` (as
    :func:`radsnake.stats.discrimination.threshold_metrics`). Rows of each matrix are the true class,
    columns the predicted class (label 0 first). Each cell shows the count and the row
    percentage (so the diagonal cells are specificity and sensitivity); the shading is
    the row percentage on one shared 0–100 % scale. ``label_names`` names labels 0 / 1.
    A model × set combination that is absent or has no cases is marked as such.
    """
    need = ["model", "set", "tp", "fp", "tn", "fn"]
    if matrices is None or matrices.empty or not set(need) <= set(matrices.columns):
        save_figure(message_figure("no confusion matrices", title=title or "Confusion matrices"),
                    png_path, pdf_path)
        return
    models = list(dict.fromkeys(matrices["model"].astype(str)))
    sets = _ordered_sets(matrices["set"])
    nrows, ncols = len(models), len(sets)
    names = [label_name(label_names, 0), label_name(label_names, 1)]
    if label_names is None:
        names = ["Negative (0)", "Positive (1)"]
    names = [textwrap.fill(n, 12) for n in names]
    width = float(np.clip(1.65 * ncols + 1.0, SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN))
    fig = new_figure(width, 1.55 * nrows + 0.55 + (0.2 if title else 0.0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmap = matplotlib.colormaps["Blues"]
    norm = matplotlib.colors.Normalize(0.0, 100.0)
    im = None
    for r, model in enumerate(models):
        for c, set_name in enumerate(sets):
            ax = axes[r, c]
            rows = matrices.loc[(matrices["model"].astype(str) == model)
                                & (matrices["set"].astype(str) == set_name)]
            counts = None
            if not rows.empty:
                row = rows.iloc[0]
                counts = np.array([[_count(row["tn"]), _count(row["fp"])],
                                   [_count(row["fn"]), _count(row["tp"])]])
            complete = counts is not None and bool(np.isfinite(counts).all())
            total = float(counts.sum()) if complete else 0.0
            ax.set_title(f"{textwrap.shorten(model, 34, placeholder='…')}\n{short_set(set_name)}"
                         + (f" (n = {int(total)})" if total else ""), fontsize=7.5)
            if not complete or total == 0:
                ax.set_xticks([])
                ax.set_yticks([])
                for sp in ax.spines.values():
                    sp.set_color("#CCCCCC")
                msg = "not available" if not complete else "no cases"
                ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes, color="#666666")
                ax.set_aspect("equal")
                continue
            row_tot = counts.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                pct = np.where(row_tot > 0, 100.0 * counts / row_tot, np.nan)
            im = ax.imshow(np.nan_to_num(pct, nan=0.0), cmap=cmap, norm=norm, interpolation="nearest")
            for i in range(2):
                for j in range(2):
                    pc = pct[i, j]
                    txt = f"{int(counts[i, j])}\n" + (f"({format_number(pc, 1)}%)" if np.isfinite(pc) else "(–)")
                    ax.text(j, i, txt, ha="center", va="center", fontsize=7, linespacing=1.15,
                            color="white" if np.isfinite(pc) and pc > 60 else "#1A1A1A")
            ax.set_xticks([0, 1], names if r == nrows - 1 else ["", ""], fontsize=6.5)
            ax.set_yticks([0, 1], names if c == 0 else ["", ""], fontsize=6.5,
                          rotation=90, va="center")
            ax.tick_params(length=0, pad=2)
            for sp in ax.spines.values():
                sp.set_visible(False)
            if r == nrows - 1:
                ax.set_xlabel("Predicted class", fontsize=7)
            if c == 0:
                ax.set_ylabel("True class", fontsize=7)
    if im is None:
        im = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(im, ax=axes, location="right", shrink=min(1.0, 1.6 / (1.55 * nrows) + 0.3),
                      aspect=15, pad=0.06)
    cb.set_label("Row percentage (%)", fontsize=7)
    cb.set_ticks([0, 25, 50, 75, 100])
    cb.ax.tick_params(labelsize=6.5, length=2)
    cb.outline.set_linewidth(0.5)
    if title:
        fig.suptitle(title)
    save_snapped(fig, png_path, pdf_path)


def _violin_bracket(ax, x0, x1, y, h, text) -> None:
    ax.plot([x0, x0, x1, x1], [y, y + h, y + h, y], color="#333333", lw=0.7, clip_on=False)
    ax.text((x0 + x1) / 2, y + 1.3 * h, text, ha="center", va="bottom", fontsize=6.5)


@styled
def radscore_violin_figure(
    radscore: pd.DataFrame,
    png_path,
    pdf_path,
    label_names: Sequence[str] | Mapping | None = None,
    *,
    seed: int = 0, mark: str = "",
) -> None:
    """Rad-score distribution by true label, one panel per set (train, test, external,
    then any other set), on a shared y axis.

    Each label gets a violin (Gaussian KDE, Scott's bandwidth, cut at the data range;
    left out below 3 cases or for constant values), a narrow box plot (median, IQR,
    whiskers 1.5 IQR) and every case as a jittered point (jitter from
    ``numpy.random.default_rng(seed)``, cases ordered by ``case_id``, so the figure is
    reproducible). A bracket gives the two-sided Mann–Whitney U test p-value
    (``scipy.stats.mannwhitneyu``, ``method="asymptotic"``); a set with one class says
    that no test is possible. ``label_names`` maps 0/1 to names.
    """
    from scipy.stats import mannwhitneyu

    data = radscore.copy() if radscore is not None else pd.DataFrame()
    need = {"set", "label", "radscore"}
    if not data.empty and need <= set(data.columns):
        data["radscore"] = pd.to_numeric(data["radscore"], errors="coerce")
        data["label"] = pd.to_numeric(data["label"], errors="coerce")
        data = data.loc[np.isfinite(data["radscore"]) & data["label"].isin([0, 1])]
    if data.empty or not need <= set(data.columns):
        save_figure(message_figure("no rad-scores to show", title="Rad-score by class"), png_path, pdf_path)
        return
    data["label"] = data["label"].astype(int)
    sort_cols = ["case_id"] if "case_id" in data.columns else []
    if sort_cols:
        data["case_id"] = data["case_id"].astype(str)
        data = data.sort_values(sort_cols, kind="mergesort")
    sets = _ordered_sets(data["set"])
    k = len(sets)
    width = SINGLE_COLUMN_IN if k == 1 else float(min(DOUBLE_COLUMN_IN, 2.35 * k + 0.3))
    fig = new_figure(width, 2.9)
    axes = np.atleast_1d(fig.subplots(1, k, sharey=True, squeeze=False).ravel())

    vals = data["radscore"].to_numpy(dtype=float)
    span = float(vals.max() - vals.min()) or 1.0
    y_min = float(vals.min()) - 0.06 * span
    y_top = float(vals.max()) + 0.22 * span  # room for the bracket and p-value
    for ax, set_name in zip(axes, sets):
        sub = data.loc[data["set"].astype(str) == set_name]
        rng = np.random.default_rng(seed)
        groups = [sub.loc[sub["label"] == v, "radscore"].to_numpy(dtype=float) for v in (0, 1)]
        for v, g in enumerate(groups):
            colour = LABEL_COLOURS[v]
            if g.size >= 3 and np.ptp(g) > 0:
                parts = ax.violinplot([g], positions=[v], widths=0.75, showextrema=False, points=200)
                for body in parts["bodies"]:
                    body.set_facecolor(colour)
                    body.set_edgecolor(colour)
                    body.set_alpha(0.22)
                    body.set_linewidth(0.6)
            if g.size:
                ax.boxplot(
                    [g], positions=[v], widths=0.18, showfliers=False, patch_artist=True,
                    boxprops=dict(facecolor="white", edgecolor="#222222", lw=0.8),
                    medianprops=dict(color="#222222", lw=1.2),
                    whiskerprops=dict(color="#222222", lw=0.8), capprops=dict(color="#222222", lw=0.8),
                    zorder=3,
                )
                jitter = rng.uniform(-0.13, 0.13, g.size)
                ax.scatter(v + jitter, g, s=5, color=colour, alpha=0.75, lw=0, zorder=4)
        ticks = [f"{textwrap.fill(label_name(label_names, v), 14)}\n(n = {g.size})"
                 for v, g in enumerate(groups)]
        ax.set_xticks([0, 1], ticks)
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(f"{short_set(set_name)} (n = {len(sub)})")
        top = float(sub["radscore"].max())
        if groups[0].size and groups[1].size:
            p = float(mannwhitneyu(groups[0], groups[1], alternative="two-sided",
                                   method="asymptotic").pvalue)
            _violin_bracket(ax, 0, 1, top + 0.05 * span, 0.03 * span, f"Mann–Whitney U, {p_text(p)}")
        else:
            ax.text(0.5, top + 0.06 * span, "One class only:\nno test", ha="center", va="bottom",
                    fontsize=6.5, color="#444444", transform=ax.transData)
        ax.grid(True, axis="y")
        ax.tick_params(axis="x", length=0)
        sns.despine(ax=ax)
    axes[0].set_ylim(y_min, y_top)
    axes[0].set_ylabel(f"Rad-score{mark}")
    for ax in axes[1:]:
        ax.tick_params(axis="y", labelleft=False)
    save_snapped(fig, png_path, pdf_path)
