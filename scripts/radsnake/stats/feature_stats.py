"""Univariate statistics of radiomics features between the two outcome groups (the
"Table 2" of a radiomics paper) and its volcano plot.

Everything is computed on the **training** cases only (the caller passes them), so the
table never leaks test-set information into feature selection.

* Mann–Whitney U test: two-sided normal approximation with tie and continuity
  correction, i.e. R ``wilcox.test(x1, x0, exact = FALSE, correct = TRUE)``. The exact
  test is not used: with hundreds of cases it equals the approximation, and R switches
  to it only without ties and n < 50.
* Welch t-test: R ``t.test(x1, x0)`` (unequal variances).
* FDR: Benjamini–Hochberg over the features with a p-value, R ``p.adjust(p, "BH")``.
* Effect size: for Mann–Whitney the rank-biserial correlation ``2 * AUC - 1``; for the
  t-test Cohen's d with the **pooled** SD, ``(mean_1 - mean_0) / sqrt(((n1 - 1) s1² +
  (n0 - 1) s0²) / (n1 + n0 - 2))``. Positive: higher in label 1.
* AUC: ``P(X1 > X0) + 0.5 P(X1 = X0)`` = U1 / (n1 n0), the feature used alone as a
  score, without flipping AUCs below 0.5.
* Constant features (within the training cases) get p = NaN, as R does (NaN for
  wilcox.test, an error for t.test); NaN p-values are left out of the FDR, as in
  ``p.adjust``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["bh_adjust", "feature_table", "volcano_figure"]

COLUMNS = ["feature", "p_value", "p_fdr", "effect_size", "auc", "median_0", "median_1", "mean_0", "mean_1"]


def bh_adjust(p) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values, R ``p.adjust(p, method = "BH")``: NaN stays
    NaN and does not count in the number of tests."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = q.size
    if n == 0:
        return out
    # R: i <- lp:1; o <- order(p, decreasing = TRUE); pmin(1, cummin(n / i * p[o]))[order(o)]
    o = np.argsort(-q, kind="mergesort")
    i = np.arange(n, 0, -1)
    adj = np.minimum(1.0, np.minimum.accumulate(n / i * q[o]))
    res = np.empty(n)
    res[o] = adj
    out[ok] = res
    return out


def _prepare(X_train: pd.DataFrame, y_train) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(X_train, pd.DataFrame):
        raise TypeError("X_train must be a DataFrame (one column per feature)")
    if isinstance(y_train, pd.Series) and not y_train.index.equals(X_train.index):
        if set(y_train.index) != set(X_train.index):
            raise ValueError("y_train's index does not match X_train's rows")
        y_train = y_train.reindex(X_train.index)
    y = np.asarray(y_train)
    if y.shape != (len(X_train),):
        raise ValueError(f"y_train has {y.size} values for {len(X_train)} rows of X_train")
    y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy()
    if np.isnan(y).any() or not np.isin(y, [0, 1]).all():
        raise ValueError("y_train must be coded 0/1 without missing values")
    if min((y == 0).sum(), (y == 1).sum()) < 2:
        raise ValueError("each class needs at least 2 training cases for the tests")
    bad = [c for c in X_train.columns if not pd.api.types.is_numeric_dtype(X_train[c])
           or pd.api.types.is_bool_dtype(X_train[c])]
    if bad:
        raise ValueError(f"{len(bad)} non-numeric feature column(s), e.g. {bad[:3]}")
    n_missing = X_train.isna().sum()
    if n_missing.any():
        cols = n_missing[n_missing > 0]
        raise ValueError(f"{len(cols)} feature(s) have missing values, e.g. "
                         + ", ".join(f"{c!r} ({k})" for c, k in cols.head(3).items())
                         + ": impute or drop them first")
    return X_train, y.astype(int)


def _tie_sums(A: np.ndarray) -> np.ndarray:
    """sum(t^3 - t) over the groups of tied values, per column (R: NTIES <- table(r))."""
    n, p = A.shape
    S = np.sort(A, axis=0)
    start = np.ones_like(S, dtype=bool)
    start[1:] = S[1:] != S[:-1]
    group = np.cumsum(start, axis=0) - 1 + np.arange(p) * n  # unique id per (column, group)
    counts = np.bincount(group.ravel(order="F"), minlength=n * p).astype(float)
    return np.bincount(np.arange(n * p) // n, weights=counts**3 - counts, minlength=p)


def feature_table(X_train: pd.DataFrame, y_train, test: str = "mannwhitney") -> pd.DataFrame:
    """Per-feature two-group statistics on the training cases, one row per feature in
    column order: ``feature, p_value, p_fdr, effect_size, auc, median_0, median_1,
    mean_0, mean_1``.

    ``test="mannwhitney"``: p from R ``wilcox.test(exact = FALSE, correct = TRUE)``,
    effect size = rank-biserial correlation ``2 * auc - 1``. ``test="ttest"``: p from R
    ``t.test`` (Welch), effect size = Cohen's d with the pooled SD. ``p_fdr`` is R
    ``p.adjust(p, "BH")``. Vectorised over features (1,500 x 500 in well under a second).
    """
    if test not in ("mannwhitney", "ttest"):
        raise ValueError(f"test must be 'mannwhitney' or 'ttest', got {test!r}")
    X, y = _prepare(X_train, y_train)
    A = X.to_numpy(dtype=float)
    is1 = y == 1
    x1, x0 = A[is1], A[~is1]
    n1, n0 = float(x1.shape[0]), float(x0.shape[0])
    n = n1 + n0

    ranks = sps.rankdata(A, axis=0)  # midranks, as R's rank()
    u1 = ranks[is1].sum(axis=0) - n1 * (n1 + 1) / 2
    auc = u1 / (n1 * n0)
    mean1, mean0 = x1.mean(axis=0), x0.mean(axis=0)
    var1, var0 = x1.var(axis=0, ddof=1), x0.var(axis=0, ddof=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        if test == "mannwhitney":
            z = u1 - n1 * n0 / 2
            sigma = np.sqrt(n1 * n0 / 12 * ((n + 1) - _tie_sums(A) / (n * (n - 1))))
            z = (z - np.sign(z) * 0.5) / sigma  # continuity correction towards 0
            p = 2 * sps.norm.sf(np.abs(z))
            p[~(sigma > 0)] = np.nan  # constant feature: R gives NaN
            effect = 2 * auc - 1
        else:
            se1, se0 = var1 / n1, var0 / n0
            stderr = np.sqrt(se1 + se0)
            df = stderr**4 / (se1**2 / (n1 - 1) + se0**2 / (n0 - 1))
            t = (mean1 - mean0) / stderr
            p = 2 * sps.t.sf(np.abs(t), df)
            # R stops with "data are essentially constant" below this; we give NaN
            constant = stderr < 10 * np.finfo(float).eps * np.maximum(np.abs(mean1), np.abs(mean0))
            p[constant | ~np.isfinite(t)] = np.nan
            pooled = np.sqrt(((n1 - 1) * var1 + (n0 - 1) * var0) / (n - 2))
            effect = np.where(pooled > 0, (mean1 - mean0) / pooled, np.nan)

    return pd.DataFrame({
        "feature": [str(c) for c in X.columns],
        "p_value": p,
        "p_fdr": bh_adjust(p),
        "effect_size": effect,
        "auc": auc,
        "median_0": np.median(x0, axis=0),
        "median_1": np.median(x1, axis=0),
        "mean_0": mean0,
        "mean_1": mean1,
    }, columns=COLUMNS)


# ---------------------------------------------------------------------------------------
# Volcano plot
# ---------------------------------------------------------------------------------------


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

    from radsnake.figures import style as rf

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
        fig = rf._message_figure("no feature has a p-value", title=title)
        rf.save_figure(fig, png_path, pdf_path)
        return

    p = t["p_value"].to_numpy(dtype=float)
    tiny = np.finfo(float).tiny  # p = 0 (underflow): drawn at the smallest double
    yv = -np.log10(np.maximum(p, tiny))
    xv = t["effect_size"].to_numpy(dtype=float)
    sig = t["p_fdr"].to_numpy(dtype=float) < thr
    up, down = sig & (xv > 0), sig & (xv <= 0)

    fig = rf._new_figure(rf.DOUBLE_COLUMN_IN * 0.75, 3.9)
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
