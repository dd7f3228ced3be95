"""Forest plots of the negative control (real vs permuted-label AUC) and of the model x
selection comparison, in the house style of :mod:`radsnake.figures.style` (deterministic files)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from radsnake.stats.comparison import MAIN_SELECTION, comparison_set_names
from radsnake.figures.style import (
    DOUBLE_COLUMN_IN,
    PALETTE,
    SINGLE_COLUMN_IN,
    format_number,
    message_figure,
    new_figure,
    save_snapped,
    title_of_set,
    styled,
    save_figure,
)

_CHANCE_KW = dict(color="#999999", lw=0.8, ls=(0, (4, 3)), zorder=1)
_BRANCHES = {
    "real": dict(color=PALETTE[0], marker="o", label="real labels"),
    "permuted": dict(color=PALETTE[1], marker="s", label="permuted labels (negative control)"),
}
_MAX_PANELS_PER_ROW = 3


def _auc_axis(ax, show_labels: bool) -> None:
    ax.axvline(0.5, **_CHANCE_KW)
    ax.set_xlim(0.0, 1.0)
    ticks = np.linspace(0.0, 1.0, 5)
    ax.set_xticks(ticks, [format_number(t, 2) for t in ticks])
    ax.grid(True, axis="x")
    ax.tick_params(axis="y", length=0, labelleft=show_labels)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _interval(ax, y, estimate, low, high, **style) -> None:
    """A point with its interval; a missing estimate draws nothing, a missing interval just the point."""
    if not math.isfinite(estimate):
        return
    if math.isfinite(low) and math.isfinite(high):
        ax.plot([max(low, 0.0), min(high, 1.0)], [y, y], color=style["color"], lw=1.1, solid_capstyle="butt", zorder=3,
                clip_on=False)
    # An AUC of 1.0 sits on the axis edge: unclipped, its marker stays whole.
    ax.plot([estimate], [y], ls="none", zorder=4, markersize=4, markeredgewidth=0.8, clip_on=False, **style)


def _panel_grid(fig, n_panels: int):
    ncols = min(n_panels, _MAX_PANELS_PER_ROW)
    nrows = math.ceil(n_panels / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return list(axes.flat[:n_panels]), ncols


def _values(row) -> tuple[float, float, float]:
    return tuple(float(row[c]) if pd.notna(row[c]) else math.nan for c in ("auc", "auc_ci_low", "auc_ci_high"))


@styled
def negative_control_figure(table: pd.DataFrame, png_path, pdf_path, *, level: float = 0.95) -> None:
    """Per held-out set, each model's AUC with its DeLong CI, trained on the real labels
    and on the permuted control labels (columns as :func:`radsnake.stats.comparison.negative_control_table`)."""
    need = {"model", "set", "branch", "auc", "auc_ci_low", "auc_ci_high"}
    if table is None or table.empty or not need <= set(table.columns):
        save_figure(message_figure("no held-out set: nothing to compare", title="Negative control"), png_path, pdf_path)
        return
    sets = list(dict.fromkeys(table["set"].astype(str)))
    models = list(dict.fromkeys(table["model"].astype(str)))
    ncols = min(len(sets), _MAX_PANELS_PER_ROW)
    nrows = math.ceil(len(sets) / ncols)
    width = float(np.clip(1.3 + 2.0 * ncols, SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN))
    fig = new_figure(width, nrows * (0.75 + 0.32 * len(models)) + 0.45)
    axes, ncols = _panel_grid(fig, len(sets))
    offsets = {"real": -0.17, "permuted": 0.17}
    for i, (ax, set_name) in enumerate(zip(axes, sets)):
        part = table[table["set"].astype(str) == set_name]
        for _, row in part.iterrows():
            branch = str(row["branch"])
            if branch not in _BRANCHES:
                continue
            y = models.index(str(row["model"])) + offsets[branch]
            style = {k: v for k, v in _BRANCHES[branch].items() if k != "label"}
            _interval(ax, y, *_values(row), **style)
        _auc_axis(ax, show_labels=i % ncols == 0)
        ax.set_yticks(range(len(models)), models)
        ax.set_ylim(len(models) - 0.5, -0.5)
        ax.set_title(title_of_set(set_name) + _n_text(part.get("n")), fontsize=7.5)
        ax.set_xlabel(f"AUC ({round(level * 100)}% CI)")
    handles = [
        Line2D([], [], color=s["color"], marker=s["marker"], markersize=4, lw=1.1, label=s["label"])
        for s in _BRANCHES.values()
    ]
    handles.append(Line2D([], [], label="chance (AUC 0.5)", **_CHANCE_KW))
    fig.legend(handles=handles, loc="outside lower center", ncols=3, handlelength=1.8)
    save_snapped(fig, png_path, pdf_path)


def _n_text(counts) -> str:
    values = [] if counts is None else counts.dropna().unique()
    return f" (n = {int(values[0])})" if len(values) == 1 else ""


@styled
def model_comparison_figure(table: pd.DataFrame, png_path, pdf_path, *, level: float = 0.95) -> None:
    """Every model x selection combination: CV AUC on the training set (mean +/- SD over
    folds) and AUC with DeLong CI on each held-out set. The configured (main) selection
    has filled markers and a bold label."""
    need = {"model", "selection", "main", "cv_auc", "cv_auc_sd"}
    if table is None or table.empty or not need <= set(table.columns):
        save_figure(message_figure("no fitted model", title="Model comparison"), png_path, pdf_path)
        return
    sets = comparison_set_names(table)
    selections = list(dict.fromkeys(table["selection"].astype(str)))
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(selections)}
    empty = table["no_signature"].fillna("").astype(str).ne("") if "no_signature" in table else [False] * len(table)
    labels = [f"{m} · {s}" + (" (no signature)" if e else "")
              for m, s, e in zip(table["model"].astype(str), table["selection"].astype(str), empty)]
    main = table["main"].astype(str).str.lower().eq("true").to_numpy()
    n_panels = 1 + len(sets)
    ncols = min(n_panels, _MAX_PANELS_PER_ROW)
    nrows = math.ceil(n_panels / ncols)
    width = float(np.clip(1.6 + 1.9 * ncols, SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN))
    fig = new_figure(width, nrows * (0.7 + 0.16 * len(table)) + 0.45)
    axes, ncols = _panel_grid(fig, n_panels)
    # Lines between classifiers: each block holds one classifier's selections.
    models = table["model"].astype(str).to_numpy()
    breaks = [i - 0.5 for i in range(1, len(models)) if models[i] != models[i - 1]]
    panels = [("cv", "Training CV (mean ± SD)", "CV AUC")] + [
        (name, title_of_set(name) + _n_text(table.get(f"n_{name}")), f"AUC ({round(level * 100)}% CI)")
        for name in sets
    ]
    for k, (ax, (key, title, xlabel)) in enumerate(zip(axes, panels)):
        for y, (_, row) in enumerate(table.iterrows()):
            selection = str(row["selection"])
            style = dict(color=colours[selection], marker="o" if main[y] else "D",
                         markerfacecolor=colours[selection] if main[y] else "white")
            if key == "cv":
                mean, sd = float(row["cv_auc"]), float(row["cv_auc_sd"])
                _interval(ax, y, mean, mean - sd, mean + sd, **style)
            else:
                _interval(ax, y, *(float(row[c]) if pd.notna(row[c]) else math.nan
                                   for c in (f"auc_{key}", f"auc_{key}_ci_low", f"auc_{key}_ci_high")), **style)
        for b in breaks:
            ax.axhline(b, color="#CCCCCC", lw=0.5, zorder=0)
        _auc_axis(ax, show_labels=k % ncols == 0)
        ax.set_yticks(range(len(table)), labels, fontsize=6.5)
        for tick, is_main in zip(ax.get_yticklabels(), main):
            tick.set_fontweight("bold" if is_main else "normal")
        ax.set_ylim(len(table) - 0.5, -0.5)
        ax.set_title(title, fontsize=7.5)
        ax.set_xlabel(xlabel)
    handles = [
        Line2D([], [], color=colours[name], marker="o" if name == MAIN_SELECTION else "D", lw=1.1, markersize=4,
               markerfacecolor=colours[name] if name == MAIN_SELECTION else "white",
               label=f"{name} (configured)" if name == MAIN_SELECTION else name)
        for name in selections
    ]
    handles.append(Line2D([], [], label="chance (AUC 0.5)", **_CHANCE_KW))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)),
               title="Selection", handlelength=1.8)
    save_snapped(fig, png_path, pdf_path)
